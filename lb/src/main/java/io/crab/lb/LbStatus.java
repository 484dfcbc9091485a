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

/**
 * {@code crab-lb status}: the counters of a running crab-lb, read from the maps it pinned, as dropwizard gauges
 * (crab.lb.packets.VERDICT, crab.lb.backend.IP[:PORT].syns and .up, crab.vip.IP[:PORT].syns) printed as tables.
 */
public final class LbStatus
{
    private LbStatus()
    {
    }

    public static MetricRegistry read(final String iface)
    {
        final Path dir = Pins.dir("lb", iface);
        if (!Files.isDirectory(dir))
        {
            throw new IllegalStateException("no crab-lb is running on " + iface + " in this network namespace (no " +
                dir + ")");
        }
        try (PinnedMap vips = Bpf.openPinnedMap(dir.resolve(Abi.Maps.VIPS).toString());
            PinnedMap slots = Bpf.openPinnedMap(dir.resolve(Abi.Maps.VIP_SLOTS).toString());
            PinnedMap backends = Bpf.openPinnedMap(dir.resolve(Abi.Maps.BACKENDS).toString());
            PinnedMap packetMap = Bpf.openPinnedMap(dir.resolve(Abi.Maps.LB_COUNTERS).toString());
            PinnedMap synMap = Bpf.openPinnedMap(dir.resolve(Abi.Maps.BACKEND_SYNS).toString()))
        {
            return read(vips, slots, backends, new Counters(packetMap), new Counters(synMap));
        }
    }

    private static MetricRegistry read(final BpfMap vips, final BpfMap slots, final BpfMap backends,
        final Counters packets, final Counters syns)
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
            }
        }
        final UnsafeBuffer next = new UnsafeBuffer(new byte[16]);
        final UnsafeBuffer slot = new UnsafeBuffer(new byte[8]);
        boolean more = vips.nextKey(null, next);
        while (more)
        {
            key.putBytes(0, next, 0, Abi.VipKey.SIZE);
            if (vips.lookup(key, value))
            {
                final int port = key.getShort(Abi.VipKey.PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
                final String name = address(key, Abi.VipKey.ADDR) + (port == 0 ? "" : ":" + port);
                final int vipId = value.getInt(Abi.Vip.VIP_ID);
                final int slotCount = value.getInt(Abi.Vip.SLOT_COUNT);
                final Map<Integer, Boolean> ids = new TreeMap<>();
                final UnsafeBuffer slotKey = new UnsafeBuffer(new byte[4]);
                for (int s = 0; s < slotCount; s++)
                {
                    slotKey.putInt(0, vipId * Abi.Consts.CRAB_MAX_SLOTS + s);
                    if (slots.lookup(slotKey, slot))
                    {
                        ids.put(slot.getInt(0), true);
                    }
                }
                final long total = ids.keySet().stream().mapToLong(syns::sum).sum();
                final String policy = Policy.ofCode(value.getInt(Abi.Vip.POLICY)).name().toLowerCase();
                registry.register("crab.vip." + name + ".syns", (Gauge<Long>)() -> total);
                registry.register("crab.vip." + name + ".backends", (Gauge<Integer>)ids::size);
                registry.register("crab.vip." + name + ".policy", (Gauge<String>)() -> policy);
            }
            more = vips.nextKey(key, next);
        }
        return registry;
    }

    public static void print(final MetricRegistry registry, final String iface, final PrintWriter out)
    {
        out.printf("crab-lb on %s%n%nVIPs%n  %-22s %-7s %-9s %s%n", iface, "vip", "policy", "backends",
            "syns redirected");
        registry.getGauges((name, metric) -> name.startsWith("crab.vip.") && name.endsWith(".policy"))
            .forEach((name, gauge) ->
            {
                final String vip = name.substring("crab.vip.".length(), name.length() - ".policy".length());
                out.printf("  %-22s %-7s %-9s %s%n", vip, gauge.getValue(),
                    registry.getGauges().get("crab.vip." + vip + ".backends").getValue(),
                    registry.getGauges().get("crab.vip." + vip + ".syns").getValue());
            });
        out.printf("%nBackends%n  %-22s %-6s %s%n", "backend", "state", "syns");
        registry.getGauges((name, metric) -> name.startsWith("crab.lb.backend.") && name.endsWith(".syns"))
            .forEach((name, gauge) ->
            {
                final String backend = name.substring("crab.lb.backend.".length(), name.length() - ".syns".length());
                final Object up = registry.getGauges().get("crab.lb.backend." + backend + ".up").getValue();
                out.printf("  %-22s %-6s %s%n", backend, Integer.valueOf(1).equals(up) ? "up" : "down",
                    gauge.getValue());
            });
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
