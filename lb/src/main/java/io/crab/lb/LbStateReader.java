package io.crab.lb;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.Counters;
import io.crab.bpf.PinnedMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * crab-lb's services, backends and counters as its pinned maps hold them, read into a dropwizard registry: the one
 * source of {@code crab-lb status} (text and JSON) and of the {@code /metrics} endpoint. The gauges are named
 * {@code crab.lb.packets.VERDICT}, {@code crab.lb.fallback.EVENT}, {@code crab.lb.feedback.EVENT},
 * {@code crab.lb.agent.EVENT}, {@code crab.lb.affinity.hit} and {@code .new} (events the XDP program counts beside its
 * verdicts, in the same map); per backend {@code crab.lb.backend.IP[:PORT].syns}, {@code .fallbacks}, {@code .up},
 * {@code .compliant}, {@code .load}, {@code .estimate} and {@code .report_age_ms} (-1: never reported); per service
 * {@code crab.service.NAME.vip}, {@code .policy}, {@code .affinity_s} (ClientIP affinity's timeout, 0 for none),
 * {@code .backends}, {@code .syns} (those of the backends in its current table), {@code .weight.IP[:PORT]},
 * {@code .allow_from} (its allowed client prefixes in address order, comma-separated; empty when it admits every
 * client) and {@code .no_backend} ({@code pass} or {@code drop}).
 * <p>
 * Each {@link #read} takes every value from the maps at once, so a scrape sees one moment; the gauges return
 * what the last read found. Gauges come and go with the backends and services; an unchanged configuration is read
 * again without allocating. The map handles are this reader's own, opened from the pins (their buffers serve one
 * thread): it only reads, so every map keeps its one writer.
 * <p>
 * An id the tables no longer use keeps its backend's address until the id is given to another backend, so a
 * backend removed and added back can be under two ids for a while. Its entries are one backend here: SYNs and
 * fallback connections add up, it is up or echoes if either id says so, and its load is that of the latest report.
 */
public final class LbStateReader implements AutoCloseable
{
    /** The XDP program's counters that are events rather than verdicts, so they are not among the packets'. */
    private static final String AFFINITY_EVENTS = "CRAB_LB_AFFINITY_";

    private final List<PinnedMap> opened = new ArrayList<>();
    private final PinnedMap vips;
    private final PinnedMap members;
    private final PinnedMap backends;
    private final PinnedMap names;
    private final PinnedMap loads;
    private final PinnedMap assigned;
    private final PinnedMap sourceRanges;
    private final Counters synCounts;
    private final Counters fallbackCounts;
    private final MetricRegistry registry = new MetricRegistry();
    private final CounterGroup packets;
    private final CounterGroup fallback;
    private final CounterGroup feedback;
    private final CounterGroup agent;
    private final CounterGroup affinity;

    private final UnsafeBuffer idKey = new UnsafeBuffer(new byte[4]);
    private final UnsafeBuffer key;
    private final UnsafeBuffer next;
    private final UnsafeBuffer vip;
    private final UnsafeBuffer backend;
    private final UnsafeBuffer member;
    private final UnsafeBuffer load;
    private final UnsafeBuffer count;
    private final UnsafeBuffer nameBytes;
    private final UnsafeBuffer rangeKey = new UnsafeBuffer(new byte[Abi.CidrKey.SIZE]);
    private final UnsafeBuffer nextRangeKey = new UnsafeBuffer(new byte[Abi.CidrKey.SIZE]);
    /** Per service id: its reading while the service restricts its sources, else null; rebuilt by each read. */
    private final ServiceReading[] restricted;

    /** Per backend id: the address and port last seen there and its name, rebuilt only when they change. */
    private final long[] idTarget;
    private final String[] idName;
    private final long[] idSyns;
    /** Per service id: the name last read there, and its bytes, rebuilt only when they change. */
    private final Map<Integer, byte[]> serviceNameBytes = new HashMap<>();
    private final Map<Integer, String> serviceNames = new HashMap<>();
    /** VIP texts by VIP (address and port in one long). */
    private final Long2ObjectHashMap<String> vipTexts = new Long2ObjectHashMap<>();
    private final Map<String, BackendReading> backendReadings = new HashMap<>();
    private final Map<String, ServiceReading> serviceReadings = new HashMap<>();

    private LbStateReader(final Path dir)
    {
        try
        {
            vips = open(dir, Abi.Maps.VIPS);
            members = open(dir, Abi.Maps.VIP_MEMBERS);
            backends = open(dir, Abi.Maps.BACKENDS);
            names = open(dir, Abi.Maps.SERVICE_NAMES);
            loads = open(dir, Abi.Maps.BACKEND_LOADS);
            assigned = open(dir, Abi.Maps.BACKEND_ASSIGNED);
            sourceRanges = open(dir, Abi.Maps.SOURCE_RANGES);
            synCounts = new Counters(open(dir, Abi.Maps.BACKEND_SYNS));
            fallbackCounts = new Counters(open(dir, Abi.Maps.BACKEND_FALLBACKS));
            final PinnedMap lbCounters = open(dir, Abi.Maps.LB_COUNTERS);
            packets = new CounterGroup("crab.lb.packets.", "CRAB_LB_", AFFINITY_EVENTS, lbCounters);
            affinity = new CounterGroup("crab.lb.affinity.", AFFINITY_EVENTS, null, lbCounters);
            fallback = new CounterGroup("crab.lb.fallback.", "CRAB_FB_", null, open(dir, Abi.Maps.FALLBACK_COUNTERS));
            feedback = new CounterGroup("crab.lb.feedback.", "CRAB_FBK_", null,
                open(dir, Abi.Maps.FEEDBACK_COUNTERS));
            agent = new CounterGroup("crab.lb.agent.", "CRAB_LBA_", null, open(dir, Abi.Maps.LB_AGENT_COUNTERS));
        }
        catch (final RuntimeException ex)
        {
            close();
            throw ex;
        }
        key = new UnsafeBuffer(new byte[vips.keySize()]);
        next = new UnsafeBuffer(new byte[vips.keySize()]);
        vip = new UnsafeBuffer(new byte[vips.valueBufferSize()]);
        backend = new UnsafeBuffer(new byte[backends.valueBufferSize()]);
        member = new UnsafeBuffer(new byte[members.valueBufferSize()]);
        load = new UnsafeBuffer(new byte[loads.valueBufferSize()]);
        count = new UnsafeBuffer(new byte[assigned.valueBufferSize()]);
        nameBytes = new UnsafeBuffer(new byte[names.valueBufferSize()]);
        idTarget = new long[backends.maxEntries()];
        idName = new String[backends.maxEntries()];
        idSyns = new long[backends.maxEntries()];
        restricted = new ServiceReading[vips.maxEntries()];
    }

    /** Opens the maps crab-lb pinned in {@code dir} (see {@link LbAgent#pinDir}); nothing is read yet. */
    public static LbStateReader open(final Path dir)
    {
        if (!Files.isDirectory(dir))
        {
            throw new IllegalStateException("no crab-lb is running on this interface in this network namespace " +
                "(no " + dir + ")");
        }
        return new LbStateReader(dir);
    }

    private PinnedMap open(final Path dir, final String map)
    {
        final PinnedMap pinned = Bpf.openPinnedMap(dir.resolve(map).toString());
        opened.add(pinned);
        return pinned;
    }

    /** The gauges, as the last {@link #read} found them. */
    public MetricRegistry registry()
    {
        return registry;
    }

    /** Reads every map once and brings the gauges up to date. */
    public void read()
    {
        packets.read();
        fallback.read();
        feedback.read();
        agent.read();
        affinity.read();
        readBackends(System.nanoTime());
        readServices();
    }

    /**
     * Each backend's state and counters. Its load as the load-aware policies see it: the last reported load, the
     * estimate (that plus the connections given since) and how long ago the report was applied, against
     * {@code nowNs} (CLOCK_MONOTONIC, as the receiver stamps it).
     */
    private void readBackends(final long nowNs)
    {
        backendReadings.values().forEach(BackendReading::clear);
        for (int id = 0; id < idName.length; id++)
        {
            idKey.putInt(0, id);
            idSyns[id] = 0;
            if (!backends.lookup(idKey, backend) || backend.getInt(Abi.Backend.ADDR) == 0)
            {
                idName[id] = null;
                continue;
            }
            final int port = backend.getShort(Abi.Backend.PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
            final long target = (backend.getInt(Abi.Backend.ADDR, ByteOrder.BIG_ENDIAN) & 0xffffffffL) << 16 | port;
            if (idName[id] == null || idTarget[id] != target)
            {
                idTarget[id] = target;
                idName[id] = targetText(target);
            }
            BackendReading reading = backendReadings.get(idName[id]);
            if (reading == null)
            {
                reading = new BackendReading(registry, idName[id]);
                backendReadings.put(idName[id], reading);
            }
            idSyns[id] = synCounts.sum(id);
            final int flags = backend.getShort(Abi.Backend.FLAGS);
            final long given = assigned.lookup(idKey, count) ? count.getLong(0) : 0;
            if (!loads.lookup(idKey, load))
            {
                load.setMemory(0, load.capacity(), (byte)0);
            }
            reading.add(idSyns[id], fallbackCounts.sum(id), flags, load, given, nowNs);
        }
        final Iterator<BackendReading> gone = backendReadings.values().iterator();
        while (gone.hasNext())
        {
            final BackendReading reading = gone.next();
            if (!reading.seen)
            {
                reading.unregister(registry);
                gone.remove();
            }
        }
    }

    /** Each VIP's service and the backends of its current table, with their weights. */
    private void readServices()
    {
        serviceReadings.values().forEach(ServiceReading::clear);
        Arrays.fill(restricted, null);
        boolean anyRestricted = false;
        boolean more = vips.nextKey(null, next);
        while (more)
        {
            key.putBytes(0, next, 0, key.capacity());
            if (vips.lookup(key, vip))
            {
                final int port = key.getShort(Abi.VipKey.PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
                final long target = (key.getInt(Abi.VipKey.ADDR, ByteOrder.BIG_ENDIAN) & 0xffffffffL) << 16 | port;
                String vipText = vipTexts.get(target);
                if (vipText == null)
                {
                    vipText = targetText(target);
                    vipTexts.put(target, vipText);
                }
                final String service = serviceName(vip.getInt(Abi.Vip.VIP_ID), vipText);
                ServiceReading reading = serviceReadings.get(service);
                if (reading == null)
                {
                    reading = new ServiceReading(registry, service);
                    serviceReadings.put(service, reading);
                }
                reading.seen = true;
                reading.vip = vipText;
                reading.policy = Policy.ofCode(vip.getInt(Abi.Vip.POLICY)).word();
                reading.affinitySeconds = vip.getInt(Abi.Vip.AFFINITY_SEC);
                final int flags = vip.getInt(Abi.Vip.FLAGS);
                reading.noBackend = (flags & Abi.Consts.CRAB_VIP_DROP_NO_BACKEND) != 0 ? "drop" : "pass";
                final int serviceId = vip.getInt(Abi.Vip.VIP_ID);
                if ((flags & Abi.Consts.CRAB_VIP_SOURCES_RESTRICTED) != 0 && serviceId >= 0 &&
                    serviceId < restricted.length)
                {
                    restricted[serviceId] = reading;
                    anyRestricted = true;
                }
                final int base = vip.getInt(Abi.Vip.SLOT_BASE);
                final int memberCount = vip.getInt(Abi.Vip.MEMBER_COUNT);
                for (int i = 0; i < memberCount; i++)
                {
                    idKey.putInt(0, base + i);
                    if (members.lookup(idKey, member))
                    {
                        final int id = member.getInt(Abi.Member.BACKEND_ID);
                        final boolean known = id >= 0 && id < idName.length && idName[id] != null;
                        reading.member(registry, known ? idName[id] : "#" + id, member.getInt(Abi.Member.WEIGHT),
                            known ? idSyns[id] : 0);
                    }
                }
            }
            more = vips.nextKey(key, next);
        }
        if (anyRestricted)
        {
            readSourceRanges();
        }
        serviceReadings.values().forEach(ServiceReading::settlePrefixes);
        final Iterator<ServiceReading> gone = serviceReadings.values().iterator();
        while (gone.hasNext())
        {
            final ServiceReading reading = gone.next();
            reading.dropUnseen(registry);
            if (!reading.seen)
            {
                gone.remove();
            }
        }
    }

    /** The prefixes of source_ranges, each to the reading of its service when that service is restricted. */
    private void readSourceRanges()
    {
        boolean more = sourceRanges.nextKey(null, nextRangeKey);
        while (more)
        {
            rangeKey.putBytes(0, nextRangeKey, 0, Abi.CidrKey.SIZE);
            final int id = rangeKey.getInt(Abi.CidrKey.VIP_ID);
            if (id >= 0 && id < restricted.length && restricted[id] != null)
            {
                restricted[id].prefix((rangeKey.getInt(Abi.CidrKey.ADDR, ByteOrder.BIG_ENDIAN) & 0xffffffffL) << 8 |
                    (rangeKey.getInt(Abi.CidrKey.PREFIXLEN) - 32));
            }
            more = sourceRanges.nextKey(rangeKey, nextRangeKey);
        }
    }

    /** The service's name as its names entry says, else its VIP's text; read again only when its bytes change. */
    private String serviceName(final int serviceId, final String vipText)
    {
        idKey.putInt(0, serviceId);
        if (!names.lookup(idKey, nameBytes))
        {
            return vipText;
        }
        byte[] known = serviceNameBytes.get(serviceId);
        boolean same = known != null;
        for (int i = 0; same && i < known.length; i++)
        {
            same = known[i] == nameBytes.getByte(i);
        }
        if (!same)
        {
            known = new byte[nameBytes.capacity()];
            nameBytes.getBytes(0, known);
            serviceNameBytes.put(serviceId, known);
            serviceNames.put(serviceId, nameBytes.getStringWithoutLengthAscii(0, known.length).replace("\0", ""));
        }
        return serviceNames.get(serviceId);
    }

    /** {@code A.B.C.D} or {@code A.B.C.D:PORT} of an address (top 32 bits of 48) and port (low 16, 0 for any). */
    private static String targetText(final long target)
    {
        final long addr = target >>> 16;
        final int port = (int)(target & 0xffff);
        return (addr >>> 24) + "." + (addr >>> 16 & 0xff) + "." + (addr >>> 8 & 0xff) + "." + (addr & 0xff) +
            (port == 0 ? "" : ":" + port);
    }

    @Override
    public void close()
    {
        opened.forEach(PinnedMap::close);
        opened.clear();
    }

    /**
     * A counter map's enumerators named {@code enumPrefix...} (but not {@code excluded...}; null excludes none) as
     * gauges {@code prefix + name}, fixed for the life of the reader.
     */
    private final class CounterGroup
    {
        private final Counters counters;
        private final int[] indexes;
        private final long[] values;

        CounterGroup(final String prefix, final String enumPrefix, final String excluded, final PinnedMap map)
        {
            counters = new Counters(map);
            final Map<Integer, String> byIndex = Counters.names(enumPrefix);
            if (excluded != null)
            {
                byIndex.keySet().removeAll(Counters.names(excluded).keySet());
            }
            indexes = byIndex.keySet().stream().mapToInt(Integer::intValue).toArray();
            values = new long[indexes.length];
            int slot = 0;
            for (final String name : byIndex.values())
            {
                final int at = slot++;
                registry.register(prefix + name, (Gauge<Long>)() -> values[at]);
            }
        }

        void read()
        {
            for (int i = 0; i < indexes.length; i++)
            {
                values[i] = counters.sum(indexes[i]);
            }
        }
    }

    /** One backend (address and port) over the ids that carry it, and its gauges. */
    private static final class BackendReading
    {
        private final String[] gauges;
        private boolean seen;
        private long syns;
        private long fallbacks;
        private int up;
        private int compliant;
        private long reportedNs;
        private long load;
        private long estimate;
        private long ageMs;

        BackendReading(final MetricRegistry registry, final String name)
        {
            final String prefix = "crab.lb.backend." + name;
            gauges = new String[] {prefix + ".syns", prefix + ".up", prefix + ".compliant", prefix + ".fallbacks",
                prefix + ".load", prefix + ".estimate", prefix + ".report_age_ms"};
            registry.register(gauges[0], (Gauge<Long>)() -> syns);
            registry.register(gauges[1], (Gauge<Integer>)() -> up);
            registry.register(gauges[2], (Gauge<Integer>)() -> compliant);
            registry.register(gauges[3], (Gauge<Long>)() -> fallbacks);
            registry.register(gauges[4], (Gauge<Long>)() -> load);
            registry.register(gauges[5], (Gauge<Long>)() -> estimate);
            registry.register(gauges[6], (Gauge<Long>)() -> ageMs);
            clear();
        }

        void clear()
        {
            seen = false;
            syns = 0;
            fallbacks = 0;
            up = 0;
            compliant = 0;
            reportedNs = -1;
        }

        /** One id's entries: {@code backendLoad} as backend_loads holds it, {@code given} from backend_assigned. */
        void add(final long idSyns, final long idFallbacks, final int flags, final UnsafeBuffer backendLoad,
            final long given, final long nowNs)
        {
            seen = true;
            syns += idSyns;
            fallbacks += idFallbacks;
            up |= (flags & Abi.Consts.CRAB_BACKEND_UP) != 0 ? 1 : 0;
            compliant |= (flags & Abi.Consts.CRAB_BACKEND_COMPLIANT) != 0 ? 1 : 0;
            final long stamp = backendLoad.getLong(Abi.BackendLoad.REPORTED_NS);
            if (stamp > reportedNs)
            {
                reportedNs = stamp;
                load = backendLoad.getLong(Abi.BackendLoad.LOAD);
                estimate = Math.max(0, backendLoad.getLong(Abi.BackendLoad.BASE) + given);
                ageMs = stamp == 0 ? -1 : (nowNs - stamp) / 1_000_000L;
            }
        }

        void unregister(final MetricRegistry registry)
        {
            for (final String gauge : gauges)
            {
                registry.remove(gauge);
            }
        }
    }

    /** One service: its VIP, policy and the backends of its current table, and its gauges. */
    private static final class ServiceReading
    {
        private final String prefix;
        /** Per backend of the table: its weight, and 1 if the last read found it. */
        private final Map<String, int[]> weights = new HashMap<>();
        private boolean seen;
        private String vip;
        private String policy;
        private int affinitySeconds;
        private String noBackend;
        private int backends;
        private long syns;
        /** Allowed prefixes as address (top 32 bits of 40) and length (low 8): those of this read, and the last
         * ones made text, so the text is made again only when they change. */
        private long[] prefixes = new long[8];
        private int prefixCount;
        private long[] shown = new long[0];
        private String allowFrom = "";

        ServiceReading(final MetricRegistry registry, final String name)
        {
            prefix = "crab.service." + name;
            registry.register(prefix + ".vip", (Gauge<String>)() -> vip);
            registry.register(prefix + ".policy", (Gauge<String>)() -> policy);
            registry.register(prefix + ".affinity_s", (Gauge<Integer>)() -> affinitySeconds);
            registry.register(prefix + ".allow_from", (Gauge<String>)() -> allowFrom);
            registry.register(prefix + ".no_backend", (Gauge<String>)() -> noBackend);
            registry.register(prefix + ".syns", (Gauge<Long>)() -> syns);
            registry.register(prefix + ".backends", (Gauge<Integer>)() -> backends);
        }

        void clear()
        {
            seen = false;
            backends = 0;
            syns = 0;
            prefixCount = 0;
            for (final int[] weight : weights.values())
            {
                weight[1] = 0;
            }
        }

        /** A backend of the current table, with its weight and the SYNs redirected to it. */
        void member(final MetricRegistry registry, final String backend, final int weight, final long backendSyns)
        {
            int[] value = weights.get(backend);
            if (value == null)
            {
                final int[] created = new int[2];
                registry.register(prefix + ".weight." + backend, (Gauge<Integer>)() -> created[0]);
                weights.put(backend, created);
                value = created;
            }
            value[0] = weight;
            value[1] = 1;
            backends++;
            syns += backendSyns;
        }

        void prefix(final long addressAndLength)
        {
            if (prefixCount == prefixes.length)
            {
                prefixes = Arrays.copyOf(prefixes, prefixCount * 2);
            }
            prefixes[prefixCount++] = addressAndLength;
        }

        /** The allowed prefixes this read found, in address order, as text when they changed. */
        void settlePrefixes()
        {
            Arrays.sort(prefixes, 0, prefixCount);
            if (Arrays.equals(prefixes, 0, prefixCount, shown, 0, shown.length))
            {
                return;
            }
            shown = Arrays.copyOf(prefixes, prefixCount);
            final StringBuilder text = new StringBuilder();
            for (final long p : shown)
            {
                final long addr = p >>> 8;
                text.append(text.length() == 0 ? "" : ",").append(addr >>> 24).append('.').append(addr >>> 16 & 0xff)
                    .append('.').append(addr >>> 8 & 0xff).append('.').append(addr & 0xff).append('/').append(p & 0xff);
            }
            allowFrom = text.toString();
        }

        /** Removes the weights of backends that left the table, and all the gauges of a service that went. */
        void dropUnseen(final MetricRegistry registry)
        {
            final Iterator<Map.Entry<String, int[]>> members = weights.entrySet().iterator();
            while (members.hasNext())
            {
                final Map.Entry<String, int[]> entry = members.next();
                if (entry.getValue()[1] == 0 || !seen)
                {
                    registry.remove(prefix + ".weight." + entry.getKey());
                    members.remove();
                }
            }
            if (!seen)
            {
                registry.remove(prefix + ".vip");
                registry.remove(prefix + ".policy");
                registry.remove(prefix + ".affinity_s");
                registry.remove(prefix + ".syns");
                registry.remove(prefix + ".backends");
                registry.remove(prefix + ".allow_from");
                registry.remove(prefix + ".no_backend");
            }
        }
    }
}
