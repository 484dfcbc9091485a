package io.crab.lb;

import io.crab.agent.Cidr;
import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.FallbackMode;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.NoBackendAction;
import io.crab.lb.config.ServiceConfig;
import io.crab.lb.policy.MaglevTable;
import org.agrona.BitUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;

/**
 * The LB's service maps as its one writer keeps them: an id per service and per backend, and two rows per service,
 * each a slot table and, in the same row of vip_members, each backend once with its weight for the load-aware
 * policies and ClientIP affinity (in ascending backend id). A new table is written into the service's idle row and
 * then published by one update of the service's VIP entry (its slot_base and counts, and its affinity timeout), so
 * a SYN reads the old table or the new one, never a mix. Ids a
 * published table or a remembered SYN may still name are not handed to another service or backend in the same
 * publication: a freed id waits one publication before it is used again.
 * <p>
 * Started on maps an earlier run left (after a restart), it keeps that run's ids for the same VIPs and backends and
 * writes into the rows those VIPs do not read, so taking over changes nothing a SYN in flight relies on.
 * <p>
 * A service's allowed client prefixes (source_ranges, by service id) count only while its VIP entry has the flag
 * CRAB_VIP_SOURCES_RESTRICTED. So the prefixes a new configuration adds are written before the VIP entry and the
 * ones it drops are deleted after it: a restriction is in place whole before the flag turns on, stays whole until
 * the flag is off, and while one set of prefixes replaces another the service admits both, for the few system calls
 * in between; it is never open to every client while restricted, nor closed to a client both sets admit. A removed
 * service's prefixes go after its VIP entry, before its id can be used again.
 */
final class ServiceTables
{
    private final BpfMap vips;
    private final BpfMap vipKinds;
    private final BpfMap slots;
    private final BpfMap members;
    private final BpfMap backends;
    private final BpfMap names;
    private final BpfMap sourceRanges;
    /** maglev_tables, mapped: ids as native-order ints, one per element (an array's elements are 8-byte aligned). */
    private final AtomicBuffer maglev;
    private final int maglevStride;
    private final int maglevSize;
    private final int maxServices;
    private final int maxBackends;
    private final int maxSlots;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.VipKey.SIZE]);
    private final UnsafeBuffer next = new UnsafeBuffer(new byte[Abi.VipKey.SIZE]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[64]);
    private final UnsafeBuffer slotKey = new UnsafeBuffer(new byte[4]);
    private final UnsafeBuffer slotValue = new UnsafeBuffer(new byte[8]);
    private final UnsafeBuffer memberValue = new UnsafeBuffer(new byte[Abi.Member.SIZE]);
    private final UnsafeBuffer rangeKey = new UnsafeBuffer(new byte[Abi.CidrKey.SIZE]);
    private final UnsafeBuffer nextRangeKey = new UnsafeBuffer(new byte[Abi.CidrKey.SIZE]);
    /** Published services: VIP to (service id, slot base in use). */
    private final Map<HostPort, int[]> published = new HashMap<>();
    private final Map<HostPort, Integer> backendIds = new HashMap<>();
    /** The allowed client prefixes source_ranges holds, by service id. */
    private final Map<Integer, Set<Cidr>> publishedRanges = new HashMap<>();
    private final BitSet usedServiceIds = new BitSet();
    private final BitSet usedBackendIds = new BitSet();
    /** Ids freed by the last publication: still marked used, released by the next one. */
    private BitSet resting = new BitSet();
    private BitSet restingBackends = new BitSet();

    ServiceTables(final BpfObject obj, final int maxServices, final int maxBackends, final int maxSlots,
        final int maglevSize)
    {
        this.vips = obj.map(Abi.Maps.VIPS);
        this.vipKinds = obj.map(Abi.Maps.VIP_KINDS);
        final BpfMap maglevMap = obj.map(Abi.Maps.MAGLEV_TABLES);
        this.maglev = maglevMap.mmap();
        this.maglevStride = BitUtil.align(maglevMap.valueSize(), 8);
        this.maglevSize = maglevSize;
        this.slots = obj.map(Abi.Maps.VIP_SLOTS);
        this.members = obj.map(Abi.Maps.VIP_MEMBERS);
        this.backends = obj.map(Abi.Maps.BACKENDS);
        this.names = obj.map(Abi.Maps.SERVICE_NAMES);
        this.sourceRanges = obj.map(Abi.Maps.SOURCE_RANGES);
        this.maxServices = maxServices;
        this.maxBackends = maxBackends;
        this.maxSlots = maxSlots;
        adoptPublished();
        adoptBackends();
        adoptSourceRanges();
    }

    /** What an earlier run published stays readable until this run replaces or removes it. */
    private void adoptPublished()
    {
        boolean more = vips.nextKey(null, next);
        while (more)
        {
            key.putBytes(0, next, 0, Abi.VipKey.SIZE);
            if (vips.lookup(key, value))
            {
                final int id = value.getInt(Abi.Vip.VIP_ID);
                published.put(vipOf(key), new int[] {id, value.getInt(Abi.Vip.SLOT_BASE)});
                usedServiceIds.set(id);
            }
            more = vips.nextKey(key, next);
        }
    }

    /**
     * The prefixes an earlier run wrote, by service id, so that this run's first publication adds and removes only
     * the difference. Those of an id no VIP has (a run stopped between a service's removal and its prefixes') are
     * read by nothing and go now.
     */
    private void adoptSourceRanges()
    {
        final List<Integer> orphans = new ArrayList<>();
        final List<Cidr> orphanPrefixes = new ArrayList<>();
        boolean more = sourceRanges.nextKey(null, nextRangeKey);
        while (more)
        {
            rangeKey.putBytes(0, nextRangeKey, 0, Abi.CidrKey.SIZE);
            final int id = rangeKey.getInt(Abi.CidrKey.VIP_ID);
            final byte[] addr = new byte[4];
            rangeKey.getBytes(Abi.CidrKey.ADDR, addr);
            final Cidr prefix = Cidr.parse(ipText(addr) + "/" + (rangeKey.getInt(Abi.CidrKey.PREFIXLEN) - 32));
            if (usedServiceIds.get(id))
            {
                publishedRanges.computeIfAbsent(id, i -> new LinkedHashSet<>()).add(prefix);
            }
            else
            {
                orphans.add(id);
                orphanPrefixes.add(prefix);
            }
            more = sourceRanges.nextKey(rangeKey, nextRangeKey);
        }
        for (int i = 0; i < orphans.size(); i++)
        {
            sourceRanges.delete(rangeKey(orphans.get(i), orphanPrefixes.get(i)));
        }
    }

    private void adoptBackends()
    {
        final UnsafeBuffer idKey = new UnsafeBuffer(new byte[4]);
        for (int id = 0; id < maxBackends; id++)
        {
            idKey.putInt(0, id);
            if (backends.lookup(idKey, value) && value.getInt(Abi.Backend.ADDR) != 0)
            {
                final byte[] addr = new byte[4];
                value.getBytes(Abi.Backend.ADDR, addr);
                final int port = value.getShort(Abi.Backend.PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
                backendIds.put(new HostPort(HostPort.parseIpv4(ipText(addr), "pinned backend"), port), id);
                usedBackendIds.set(id);
            }
        }
    }

    /** Backend ids by target as last published, for the feedback receiver; a copy. */
    Map<HostPort, Integer> backendIds()
    {
        return Map.copyOf(backendIds);
    }

    /**
     * Makes the maps say what {@code config} says. The fallback's Maglev tables hold the backends {@code usable}
     * accepts (healthy, next hop resolved, not draining); the redirect slot tables only those of them that are also
     * {@code compliant} (they echo the option). A draining or failed backend keeps its entry, without the up flag,
     * so nothing new goes to it. One that is {@code serving} (answers its health probes, draining or not) keeps
     * its fallback connections even against a SYN for their tuple.
     */
    void publish(final LbConfig config, final Predicate<BackendConfig> usable, final Predicate<HostPort> compliant,
        final Predicate<HostPort> serving)
    {
        final Predicate<BackendConfig> redirectable = b -> usable.test(b) && compliant.test(b.target());
        final BitSet freedServices = new BitSet();
        final BitSet freedBackends = new BitSet();
        final Set<HostPort> targets = new LinkedHashSet<>();
        config.services().forEach(s -> s.backends().forEach(b -> targets.add(b.target())));
        for (final HostPort target : targets)
        {
            backendIds.computeIfAbsent(target, t -> allocate(usedBackendIds, maxBackends, "backends"));
        }
        for (final HostPort target : targets)
        {
            final boolean up = config.services().stream().flatMap(s -> s.backends().stream())
                .anyMatch(b -> b.target().equals(target) && redirectable.test(b));
            writeBackend(backendIds.get(target), target, up, compliant.test(target), serving.test(target));
        }
        final int kinds = kindsOf(config.services().stream().map(ServiceConfig::vip).toList());
        // Widened before the new keys go in, narrowed after the old ones are gone: a SYN always looks up every kind
        // of key the map may hold.
        writeVipKinds(kinds | kindsOf(published.keySet()));
        final Set<HostPort> configured = new LinkedHashSet<>();
        for (final ServiceConfig service : config.services())
        {
            configured.add(service.vip());
            writeService(service, usable, redirectable);
        }
        for (final HostPort vip : new ArrayList<>(published.keySet()))
        {
            if (!configured.contains(vip))
            {
                vipKey(vip);
                vips.delete(key);
                final int id = published.remove(vip)[0];
                deleteRanges(id, publishedRanges.getOrDefault(id, Set.of()));
                publishedRanges.remove(id);
                freedServices.set(id);
            }
        }
        writeVipKinds(kinds);
        for (final Map.Entry<HostPort, Integer> e : new ArrayList<>(backendIds.entrySet()))
        {
            if (!targets.contains(e.getKey()))
            {
                writeBackend(e.getValue(), e.getKey(), false, false, false);
                backendIds.remove(e.getKey());
                freedBackends.set(e.getValue());
            }
        }
        // Freed ids stay marked used through this publication and the next: a SYN may still read them meanwhile.
        usedServiceIds.andNot(resting);
        usedBackendIds.andNot(restingBackends);
        resting = freedServices;
        restingBackends = freedBackends;
    }

    /** The enum crab_vip_kinds bits of these VIPs: with a port, and of every port (port 0). */
    private static int kindsOf(final Collection<HostPort> vips)
    {
        int kinds = 0;
        for (final HostPort vip : vips)
        {
            kinds |= vip.port() == 0 ? Abi.Consts.CRAB_VIPS_ANY_PORT : Abi.Consts.CRAB_VIPS_WITH_PORT;
        }
        return kinds;
    }

    private void writeVipKinds(final int kinds)
    {
        slotKey.putInt(0, 0);
        slotValue.putInt(0, kinds);
        vipKinds.update(slotKey, slotValue, BpfMap.UPDATE_ANY);
    }

    private void writeService(final ServiceConfig service, final Predicate<BackendConfig> usable,
        final Predicate<BackendConfig> redirectable)
    {
        final int[] current = published.get(service.vip());
        final int id = current != null ? current[0] : allocate(usedServiceIds, maxServices, "services");
        final int rowA = id * 2 * maxSlots;
        final boolean second = current != null && current[1] == rowA;
        final int base = second ? rowA + maxSlots : rowA;
        final int maglevBase = (id * 2 + (second ? 1 : 0)) * maglevSize;
        final int maglevCount = writeMaglev(service, usable, maglevBase);
        final List<Integer> table = slotTable(service.backends(), redirectable, t -> backendIds.get(t));
        for (int slot = 0; slot < table.size(); slot++)
        {
            slotKey.putInt(0, base + slot);
            slotValue.putInt(0, table.get(slot));
            slots.update(slotKey, slotValue, BpfMap.UPDATE_ANY);
        }
        // In ascending backend id: ClientIP affinity finds a remembered backend among them by binary search.
        final List<BackendConfig> memberList = service.backends().stream().filter(redirectable)
            .sorted(Comparator.comparingInt(b -> backendIds.get(b.target()))).toList();
        int weightEnd = 0;
        for (int i = 0; i < memberList.size(); i++)
        {
            weightEnd += memberList.get(i).weight();
            slotKey.putInt(0, base + i);
            memberValue.putInt(Abi.Member.BACKEND_ID, backendIds.get(memberList.get(i).target()));
            memberValue.putInt(Abi.Member.WEIGHT, memberList.get(i).weight());
            memberValue.putInt(Abi.Member.WEIGHT_END, weightEnd);
            members.update(slotKey, memberValue, BpfMap.UPDATE_ANY);
        }
        // p2c draws a number below slot_count and finds its member by weight_end: the two must be the same sum.
        assert weightEnd == table.size() : weightEnd + " != " + table.size();
        writeName(id, service.name());
        final Set<Cidr> oldRanges = publishedRanges.getOrDefault(id, Set.of());
        final Set<Cidr> newRanges = new LinkedHashSet<>(service.allowFrom());
        for (final Cidr prefix : newRanges)
        {
            if (!oldRanges.contains(prefix))
            {
                slotValue.putInt(0, 0);
                sourceRanges.update(rangeKey(id, prefix), slotValue, BpfMap.UPDATE_ANY);
            }
        }
        vipKey(service.vip());
        value.setMemory(0, value.capacity(), (byte)0);
        value.putInt(Abi.Vip.VIP_ID, id);
        value.putInt(Abi.Vip.FLAGS, (service.redirectUnmarked() ? Abi.Consts.CRAB_VIP_REDIRECT_UNMARKED : 0) |
            (service.fallback() == FallbackMode.TRANSLATE ? Abi.Consts.CRAB_VIP_FALLBACK_TRANSLATE : 0) |
            (newRanges.isEmpty() ? 0 : Abi.Consts.CRAB_VIP_SOURCES_RESTRICTED) |
            (service.noBackend() == NoBackendAction.DROP ? Abi.Consts.CRAB_VIP_DROP_NO_BACKEND : 0));
        value.putInt(Abi.Vip.POLICY, service.policy().code());
        value.putInt(Abi.Vip.SLOT_BASE, base);
        value.putInt(Abi.Vip.SLOT_COUNT, table.size());
        value.putInt(Abi.Vip.MAGLEV_BASE, maglevBase);
        value.putInt(Abi.Vip.MAGLEV_COUNT, maglevCount);
        value.putInt(Abi.Vip.MEMBER_COUNT, memberList.size());
        value.putInt(Abi.Vip.AFFINITY_SEC, service.affinitySeconds());
        vips.update(key, value, BpfMap.UPDATE_ANY);
        published.put(service.vip(), new int[] {id, base});
        final Set<Cidr> dropped = new LinkedHashSet<>(oldRanges);
        dropped.removeAll(newRanges);
        deleteRanges(id, dropped);
        if (newRanges.isEmpty())
        {
            publishedRanges.remove(id);
        }
        else
        {
            publishedRanges.put(id, newRanges);
        }
    }

    private void deleteRanges(final int id, final Set<Cidr> prefixes)
    {
        for (final Cidr prefix : prefixes)
        {
            sourceRanges.delete(rangeKey(id, prefix));
        }
    }

    /** The LPM key of a service's prefix: the whole service id (32 bits), then the prefix. */
    private UnsafeBuffer rangeKey(final int id, final Cidr prefix)
    {
        rangeKey.setMemory(0, Abi.CidrKey.SIZE, (byte)0);
        rangeKey.putInt(Abi.CidrKey.PREFIXLEN, 32 + prefix.length());
        rangeKey.putInt(Abi.CidrKey.VIP_ID, id);
        rangeKey.putBytes(Abi.CidrKey.ADDR, prefix.address().getAddress());
        return rangeKey;
    }

    /**
     * Builds the service's Maglev table from its backends that take fallback connections (usable, and, unless the
     * service's fallback translates, on the VIP's own port, since direct server return leaves the packet as the
     * client sent it) into the row at {@code base}; returns
     * its size, or 0 when none does. Tables are published only when a service's configuration or usable backends
     * change, so the build (milliseconds for a few backends) is not on any packet's path.
     */
    private int writeMaglev(final ServiceConfig service, final Predicate<BackendConfig> usable, final int base)
    {
        final List<BackendConfig> takers = service.backends().stream()
            .filter(b -> usable.test(b) && (service.fallback() == FallbackMode.TRANSLATE || b.target().anyPort() ||
                b.target().port() == service.vip().port()))
            .toList();
        if (takers.isEmpty())
        {
            return 0;
        }
        final List<MaglevTable.Member> members = takers.stream()
            .map(b -> new MaglevTable.Member(b.target().toString(), b.weight())).toList();
        final int[] owners = MaglevTable.build(members, maglevSize);
        for (int slot = 0; slot < owners.length; slot++)
        {
            maglev.putInt((base + slot) * maglevStride, backendIds.get(takers.get(owners[slot]).target()));
        }
        return maglevSize;
    }

    /**
     * Backend ids of the usable backends, each repeated by its weight and interleaved round by round, so
     * round-robin spreads a heavy backend's turns instead of sending it bursts.
     */
    static List<Integer> slotTable(final List<BackendConfig> backends, final Predicate<BackendConfig> usable,
        final ToIntFunction<HostPort> idOf)
    {
        final List<Integer> table = new ArrayList<>();
        final int maxWeight = backends.stream().mapToInt(BackendConfig::weight).max().orElse(0);
        for (int round = 0; round < maxWeight; round++)
        {
            for (final BackendConfig b : backends)
            {
                if (usable.test(b) && b.weight() > round)
                {
                    table.add(idOf.applyAsInt(b.target()));
                }
            }
        }
        return table;
    }

    private void writeBackend(final int id, final HostPort target, final boolean up, final boolean compliant,
        final boolean serving)
    {
        slotKey.putInt(0, id);
        value.setMemory(0, value.capacity(), (byte)0);
        value.putBytes(Abi.Backend.ADDR, target.address().getAddress());
        value.putShort(Abi.Backend.PORT, (short)target.port(), ByteOrder.BIG_ENDIAN);
        value.putShort(Abi.Backend.FLAGS, (short)((up ? Abi.Consts.CRAB_BACKEND_UP : 0) |
            (compliant ? Abi.Consts.CRAB_BACKEND_COMPLIANT : 0) | (serving ? Abi.Consts.CRAB_BACKEND_SERVING : 0)));
        backends.update(slotKey, value, BpfMap.UPDATE_ANY);
    }

    private void writeName(final int id, final String name)
    {
        slotKey.putInt(0, id);
        value.setMemory(0, value.capacity(), (byte)0);
        final byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        value.putBytes(Abi.ServiceName.NAME, bytes, 0, Math.min(bytes.length, Abi.ServiceName.SIZE - 1));
        names.update(slotKey, value, BpfMap.UPDATE_ANY);
    }

    private static int allocate(final BitSet used, final int max, final String what)
    {
        final int id = used.nextClearBit(0);
        if (id >= max)
        {
            throw new IllegalStateException("no free id among " + max + " " + what + " (raise --max-" + what + ")");
        }
        used.set(id);
        return id;
    }

    private void vipKey(final HostPort vip)
    {
        key.setMemory(0, Abi.VipKey.SIZE, (byte)0);
        key.putBytes(Abi.VipKey.ADDR, vip.address().getAddress());
        key.putShort(Abi.VipKey.PORT, (short)vip.port(), ByteOrder.BIG_ENDIAN);
    }

    private static HostPort vipOf(final UnsafeBuffer vipKey)
    {
        final byte[] addr = new byte[4];
        vipKey.getBytes(Abi.VipKey.ADDR, addr);
        return new HostPort(HostPort.parseIpv4(ipText(addr), "pinned VIP"),
            vipKey.getShort(Abi.VipKey.PORT, ByteOrder.BIG_ENDIAN) & 0xffff);
    }

    private static String ipText(final byte[] a)
    {
        return (a[0] & 0xff) + "." + (a[1] & 0xff) + "." + (a[2] & 0xff) + "." + (a[3] & 0xff);
    }
}
