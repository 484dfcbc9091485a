package io.crab.lb;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.crab.bpf.Counters;
import io.crab.agent.Pins;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.PinnedMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.PrintWriter;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * {@code crab-lb status}: the services and counters of crab-lb on an interface, read from the maps it pinned, as
 * dropwizard gauges (crab.lb.packets.VERDICT; crab.lb.backend.IP[:PORT].syns and .up; crab.service.NAME.vip,
 * .policy, .backends, .syns and .weight.IP[:PORT]; crab.lb.backend.IP[:PORT].fallbacks and .compliant; crab.lb.fallback.EVENT;
 * crab.lb.agent.EVENT; crab.lb.backend.IP[:PORT].load, .estimate and .report_age_ms; crab.lb.feedback.EVENT) printed
 * as tables.
 */
public final class LbStatus
{
    private LbStatus()
    {
    }

    public static MetricRegistry read(final String iface)
    {
        final Path dir = LbAgent.pinDir(iface);
        if (!Files.isDirectory(dir))
        {
            throw new IllegalStateException("no crab-lb is running on " + iface + " in this network namespace (no " +
                dir + ")");
        }
        try (PinnedMap vips = Bpf.openPinnedMap(dir.resolve(Abi.Maps.VIPS).toString());
            PinnedMap slots = Bpf.openPinnedMap(dir.resolve(Abi.Maps.VIP_SLOTS).toString());
            PinnedMap backends = Bpf.openPinnedMap(dir.resolve(Abi.Maps.BACKENDS).toString());
            PinnedMap packetMap = Bpf.openPinnedMap(dir.resolve(Abi.Maps.LB_COUNTERS).toString());
            PinnedMap synMap = Bpf.openPinnedMap(dir.resolve(Abi.Maps.BACKEND_SYNS).toString());
            PinnedMap names = Bpf.openPinnedMap(dir.resolve(Abi.Maps.SERVICE_NAMES).toString());
            PinnedMap agent = Bpf.openPinnedMap(dir.resolve(Abi.Maps.LB_AGENT_COUNTERS).toString());
            PinnedMap fallbackMap = Bpf.openPinnedMap(dir.resolve(Abi.Maps.FALLBACK_COUNTERS).toString());
            PinnedMap placedMap = Bpf.openPinnedMap(dir.resolve(Abi.Maps.BACKEND_FALLBACKS).toString());
            PinnedMap loads = Bpf.openPinnedMap(dir.resolve(Abi.Maps.BACKEND_LOADS).toString());
            PinnedMap assigned = Bpf.openPinnedMap(dir.resolve(Abi.Maps.BACKEND_ASSIGNED).toString());
            PinnedMap feedbackMap = Bpf.openPinnedMap(dir.resolve(Abi.Maps.FEEDBACK_COUNTERS).toString()))
        {
            final MetricRegistry registry = read(vips, slots, backends, names, new Counters(packetMap),
                new Counters(synMap), new Counters(placedMap));
            readLoads(registry, backends, loads, assigned, System.nanoTime());
            final Counters feedback = new Counters(feedbackMap);
            Counters.names("CRAB_FBK_").forEach((index, name) ->
            {
                final long n = feedback.sum(index);
                registry.register("crab.lb.feedback." + name, (Gauge<Long>)() -> n);
            });
            final Counters fallback = new Counters(fallbackMap);
            Counters.names("CRAB_FB_").forEach((index, name) ->
            {
                final long n = fallback.sum(index);
                registry.register("crab.lb.fallback." + name, (Gauge<Long>)() -> n);
            });
            final Counters agentCounters = new Counters(agent);
            Counters.names("CRAB_LBA_").forEach((index, name) ->
            {
                final long n = agentCounters.sum(index);
                registry.register("crab.lb.agent." + name, (Gauge<Long>)() -> n);
            });
            return registry;
        }
    }

    private static MetricRegistry read(final BpfMap vips, final BpfMap slots, final BpfMap backends,
        final BpfMap names, final Counters packets, final Counters syns, final Counters placed)
    {

        final MetricRegistry registry = new MetricRegistry();
        for (final Map.Entry<Integer, String> c : Counters.names("CRAB_LB_").entrySet())
        {
            final long n = packets.sum(c.getKey());
            registry.register("crab.lb.packets." + c.getValue(), (Gauge<Long>)() -> n);
        }
        final UnsafeBuffer key = new UnsafeBuffer(new byte[16]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[64]);
        final Map<Integer, String> backendNames = new TreeMap<>();
        for (int id = 0; id < backends.maxEntries(); id++)
        {
            key.putInt(0, id);
            if (backends.lookup(key, value) && value.getInt(Abi.Backend.ADDR) != 0)
            {
                final int port = value.getShort(Abi.Backend.PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
                final String name = address(value, Abi.Backend.ADDR) + (port == 0 ? "" : ":" + port);
                backendNames.put(id, name);
                final long n = syns.sum(id);
                final int up = value.getShort(Abi.Backend.FLAGS) & Abi.Consts.CRAB_BACKEND_UP;
                registry.register("crab.lb.backend." + name + ".syns", (Gauge<Long>)() -> n);
                registry.register("crab.lb.backend." + name + ".up", (Gauge<Integer>)() -> up);
                final int compliant = (value.getShort(Abi.Backend.FLAGS) & Abi.Consts.CRAB_BACKEND_COMPLIANT) != 0 ? 1 : 0;
                registry.register("crab.lb.backend." + name + ".compliant", (Gauge<Integer>)() -> compliant);
                final long fallbacks = placed.sum(id);
                registry.register("crab.lb.backend." + name + ".fallbacks", (Gauge<Long>)() -> fallbacks);
            }
        }
        final UnsafeBuffer next = new UnsafeBuffer(new byte[16]);
        final UnsafeBuffer slot = new UnsafeBuffer(new byte[8]);
        final UnsafeBuffer nameValue = new UnsafeBuffer(new byte[Abi.ServiceName.SIZE]);
        final UnsafeBuffer slotKey = new UnsafeBuffer(new byte[4]);
        boolean more = vips.nextKey(null, next);
        while (more)
        {
            key.putBytes(0, next, 0, Abi.VipKey.SIZE);
            if (vips.lookup(key, value))
            {
                final int port = key.getShort(Abi.VipKey.PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
                final String vip = address(key, Abi.VipKey.ADDR) + (port == 0 ? "" : ":" + port);
                final int serviceId = value.getInt(Abi.Vip.VIP_ID);
                slotKey.putInt(0, serviceId);
                final String service = names.lookup(slotKey, nameValue) ?
                    nameValue.getStringWithoutLengthAscii(0, Abi.ServiceName.SIZE).replace("\0", "") : vip;
                final int base = value.getInt(Abi.Vip.SLOT_BASE);
                final int slotCount = value.getInt(Abi.Vip.SLOT_COUNT);
                final Map<Integer, Integer> weights = new TreeMap<>();
                for (int s = 0; s < slotCount; s++)
                {
                    slotKey.putInt(0, base + s);
                    if (slots.lookup(slotKey, slot))
                    {
                        weights.merge(slot.getInt(0), 1, Integer::sum);
                    }
                }
                final long total = weights.keySet().stream().mapToLong(syns::sum).sum();
                final String policy = Policy.ofCode(value.getInt(Abi.Vip.POLICY)).word();
                final String prefix = "crab.service." + service;
                registry.register(prefix + ".vip", (Gauge<String>)() -> vip);
                registry.register(prefix + ".policy", (Gauge<String>)() -> policy);
                registry.register(prefix + ".syns", (Gauge<Long>)() -> total);
                registry.register(prefix + ".backends", (Gauge<Integer>)weights::size);
                weights.forEach((id, weight) -> registry.register(prefix + ".weight." +
                    backendNames.getOrDefault(id, "#" + id), (Gauge<Integer>)() -> weight));
            }
            more = vips.nextKey(key, next);
        }
        return registry;
    }

    /**
     * Each backend's load as the load-aware policies see it: the last reported load, the estimate (that plus the
     * connections given since) and how long ago the report was applied, against {@code nowNs} (CLOCK_MONOTONIC, as
     * the receiver stamps it); -1 when no report ever came.
     */
    private static void readLoads(final MetricRegistry registry, final BpfMap backends, final BpfMap loads,
        final BpfMap assigned, final long nowNs)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
        final UnsafeBuffer backend = new UnsafeBuffer(new byte[Abi.Backend.SIZE]);
        final UnsafeBuffer load = new UnsafeBuffer(new byte[Abi.BackendLoad.SIZE]);
        final UnsafeBuffer count = new UnsafeBuffer(new byte[8]);
        for (int id = 0; id < backends.maxEntries(); id++)
        {
            key.putInt(0, id);
            if (!backends.lookup(key, backend) || backend.getInt(Abi.Backend.ADDR) == 0 || !loads.lookup(key, load))
            {
                continue;
            }
            final int port = backend.getShort(Abi.Backend.PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
            final String name = "crab.lb.backend." + address(backend, Abi.Backend.ADDR) + (port == 0 ? "" : ":" + port);
            final long given = assigned.lookup(key, count) ? count.getLong(0) : 0;
            final long reported = load.getLong(Abi.BackendLoad.LOAD);
            final long estimate = Math.max(0, load.getLong(Abi.BackendLoad.BASE) + given);
            final long reportedNs = load.getLong(Abi.BackendLoad.REPORTED_NS);
            final long ageMs = reportedNs == 0 ? -1 : (nowNs - reportedNs) / 1_000_000L;
            registry.register(name + ".load", (Gauge<Long>)() -> reported);
            registry.register(name + ".estimate", (Gauge<Long>)() -> estimate);
            registry.register(name + ".report_age_ms", (Gauge<Long>)() -> ageMs);
        }
    }

    public static void print(final MetricRegistry registry, final String iface, final PrintWriter out)
    {
        out.printf("crab-lb on %s%n%nServices%n  %-16s %-22s %-7s %-9s %-15s %s%n", iface, "service", "vip", "policy",
            "backends", "syns redirected", "weights in the current table");
        registry.getGauges((name, metric) -> name.startsWith("crab.service.") && name.endsWith(".policy"))
            .forEach((name, gauge) ->
            {
                final String service = name.substring("crab.service.".length(), name.length() - ".policy".length());
                final String prefix = "crab.service." + service;
                final String weights = registry.getGauges((n, m) -> n.startsWith(prefix + ".weight.")).entrySet()
                    .stream().map(e -> e.getKey().substring((prefix + ".weight.").length()) + "=" +
                        e.getValue().getValue()).collect(Collectors.joining(" "));
                out.printf("  %-16s %-22s %-7s %-9s %-15s %s%n", service,
                    registry.getGauges().get(prefix + ".vip").getValue(), gauge.getValue(),
                    registry.getGauges().get(prefix + ".backends").getValue(),
                    registry.getGauges().get(prefix + ".syns").getValue(), weights);
            });
        out.printf("%nBackends%n  %-22s %-6s %-8s %-15s %-20s %-13s %-8s %s%n", "backend", "state", "echoes",
            "syns redirected", "fallback connections", "load reported", "estimate", "report age");
        registry.getGauges((name, metric) -> name.startsWith("crab.lb.backend.") && name.endsWith(".syns"))
            .forEach((name, gauge) ->
            {
                final String backend = name.substring("crab.lb.backend.".length(), name.length() - ".syns".length());
                final Object up = registry.getGauges().get("crab.lb.backend." + backend + ".up").getValue();
                final Object echoes = registry.getGauges().get("crab.lb.backend." + backend + ".compliant").getValue();
                final Gauge<?> age = registry.getGauges().get("crab.lb.backend." + backend + ".report_age_ms");
                final long ageMs = age == null ? -1 : ((Number)age.getValue()).longValue();
                out.printf("  %-22s %-6s %-8s %-15s %-20s %-13s %-8s %s%n", backend,
                    Integer.valueOf(1).equals(up) ? "up" : "down", Integer.valueOf(1).equals(echoes) ? "yes" : "no",
                    gauge.getValue(), registry.getGauges().get("crab.lb.backend." + backend + ".fallbacks").getValue(),
                    ageMs < 0 ? "-" : registry.getGauges().get("crab.lb.backend." + backend + ".load").getValue(),
                    age == null ? "-" : registry.getGauges().get("crab.lb.backend." + backend + ".estimate").getValue(),
                    ageMs < 0 ? "never" : ageMs + " ms");
            });
        out.printf("%nFallback (clients without crab), packets by what the TC program did%n");
        registry.getGauges((name, metric) -> name.startsWith("crab.lb.fallback.")).forEach((name, gauge) ->
            out.printf("  %-22s %s%n", name.substring("crab.lb.fallback.".length()), gauge.getValue()));
        out.printf("%nLoad reports from the servers, by what the feedback receiver made of them%n");
        registry.getGauges((name, metric) -> name.startsWith("crab.lb.feedback.")).forEach((name, gauge) ->
            out.printf("  %-22s %s%n", name.substring("crab.lb.feedback.".length()), gauge.getValue()));
        out.printf("%ncrab-lb's agent%n");
        registry.getGauges((name, metric) -> name.startsWith("crab.lb.agent.")).forEach((name, gauge) ->
            out.printf("  %-22s %s%n", name.substring("crab.lb.agent.".length()), gauge.getValue()));
        out.printf("%nPackets seen by the XDP program, by verdict%n");
        registry.getGauges((name, metric) -> name.startsWith("crab.lb.packets.")).forEach((name, gauge) ->
            out.printf("  %-22s %s%n", name.substring("crab.lb.packets.".length()), gauge.getValue()));
        out.flush();
    }

    private static String address(final UnsafeBuffer buffer, final int offset)
    {
        final byte[] b = new byte[4];
        buffer.getBytes(offset, b);
        try
        {
            return ((Inet4Address)InetAddress.getByAddress(b)).getHostAddress();
        }
        catch (final UnknownHostException ex)
        {
            throw new IllegalStateException(ex);
        }
    }
}
