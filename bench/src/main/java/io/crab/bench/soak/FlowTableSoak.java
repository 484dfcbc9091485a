package io.crab.bench.soak;

import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.traffic.Crr;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.PinnedMap;
import io.crab.endpoint.EndpointAgent;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import org.agrona.concurrent.UnsafeBuffer;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sustained connect/request/response/close through three VIPs from one client, at the rate the machine reaches,
 * while the client's flow table is watched: the table must never be too full to mark a SYN. Each closed
 * connection leaves a TIME_WAIT socket for 60 s; a flow table that kept them would fill at about 1,100
 * connections per second.
 */
public final class FlowTableSoak
{
    static final int VIPS = 3;
    private static final int PORT = 80;
    private static final Pattern TIME_WAIT = Pattern.compile("timewait (\\d+)");

    private FlowTableSoak()
    {
    }

    /** One look at the client while the load runs. */
    record Sample(long elapsedMs, long flows, long ports, long timeWait, long marked, long unmarkedFull,
        long unmarkedPortBusy)
    {
    }

    /** What a soak saw. */
    record Outcome(List<Sample> samples, List<LoadResult> loads, int flowTableSize, Map<String, Long> counters,
        Map<String, Long> lbPackets)
    {
        long connections()
        {
            return loads.stream().mapToLong(LoadResult::transactions).sum();
        }

        long failures()
        {
            return loads.stream().mapToLong(LoadResult::failureCount).sum();
        }

        double rate(final Duration duration)
        {
            return connections() * 1000.0 / duration.toMillis();
        }

        long peakFlows()
        {
            return samples.stream().mapToLong(Sample::flows).max().orElse(0);
        }

        long peakTimeWait()
        {
            return samples.stream().mapToLong(Sample::timeWait).max().orElse(0);
        }

        /** What the soak is for: no SYN ever went out unmarked because the flow table had no room. */
        boolean passed()
        {
            return counters.get("syn_unmarked_full") == 0;
        }
    }

    static Outcome run(final Duration duration, final int concurrencyPerVip, final int flowTableSize,
        final Duration sampleEvery, final Path logDir, final Consumer<String> progress) throws Exception
    {
        try (Topology topology = Topology.builder().clients(1).servers(3).build())
        {
            final Host client = topology.clients().get(0);
            final List<String> vips = new ArrayList<>();
            for (int i = 1; i <= VIPS; i++)
            {
                vips.add(Topology.vip(i));
            }
            final List<String> clientArgs = new ArrayList<>(vips);
            try (CrabCluster cluster = CrabCluster.start(topology, logDir, List.of(PORT), Map.of(client, clientArgs),
                List.of("--flow-table-size", Integer.toString(flowTableSize))))
            {
                final List<String> lbArgs = new ArrayList<>();
                vips.forEach(v -> lbArgs.addAll(List.of("--vip", v)));
                cluster.startLb(topology.servers().stream().map(Host::ip).toList(), lbArgs.toArray(String[]::new));
                progress.accept(String.format("soak: %d VIPs, %d connections at a time each, %s, flow table %d",
                    VIPS, concurrencyPerVip, duration, flowTableSize));
                final List<CompletableFuture<LoadResult>> loads = new ArrayList<>();
                for (final String vip : vips)
                {
                    loads.add(CompletableFuture.supplyAsync(() -> Crr.run(LoadSpec.to(new InetSocketAddress(vip, PORT))
                        .withConcurrency(concurrencyPerVip).withDuration(duration)
                        .withThreadFactory(client.netns().threadFactory("soak-" + vip)))));
                }
                final List<Sample> samples = new ArrayList<>();
                final long start = System.nanoTime();
                while (!loads.stream().allMatch(CompletableFuture::isDone))
                {
                    Thread.sleep(sampleEvery.toMillis());
                    final Sample sample = sample(topology, client, (System.nanoTime() - start) / 1_000_000);
                    samples.add(sample);
                    progress.accept(String.format("soak: %4d s  flows %6d  TIME_WAIT sockets %6d  SYNs marked %8d  " +
                        "unmarked (table full) %d", sample.elapsedMs() / 1000, sample.flows(), sample.timeWait(),
                        sample.marked(), sample.unmarkedFull()));
                }
                final List<LoadResult> results = new ArrayList<>();
                for (final CompletableFuture<LoadResult> load : loads)
                {
                    results.add(load.get());
                }
                final Map<String, Long> lbPackets = new TreeMap<>();
                cluster.lbStatus().getGauges((name, metric) -> name.startsWith("crab.lb.packets.")).forEach(
                    (name, gauge) -> lbPackets.put(name.substring("crab.lb.packets.".length()),
                        ((Number)gauge.getValue()).longValue()));
                return new Outcome(samples, results, flowTableSize,
                    CrabCluster.endpointCounters(client, EndpointAgent.Role.CLIENT), lbPackets);
            }
        }
    }

    private static Sample sample(final Topology topology, final Host client, final long elapsedMs)
    {
        final Map<String, Long> counters = CrabCluster.endpointCounters(client, EndpointAgent.Role.CLIENT);
        final long[] entries = client.netns().call(() ->
        {
            final Path dir = EndpointAgent.pinDir(EndpointAgent.Role.CLIENT, client.iface());
            return new long[] {count(dir.resolve(Abi.Maps.FLOWS)), count(dir.resolve(Abi.Maps.PORTS))};
        });
        final Matcher tw = TIME_WAIT.matcher(topology.exec(client, "ss", "-s"));
        return new Sample(elapsedMs, entries[0], entries[1], tw.find() ? Long.parseLong(tw.group(1)) : -1,
            counters.get("syn_marked"), counters.get("syn_unmarked_full"), counters.get("syn_unmarked_port_busy"));
    }

    /** Entries of a pinned hash map, by walking its keys. */
    private static long count(final Path pin)
    {
        try (PinnedMap map = Bpf.openPinnedMap(pin.toString()))
        {
            final UnsafeBuffer key = new UnsafeBuffer(new byte[map.keySize()]);
            final UnsafeBuffer next = new UnsafeBuffer(new byte[map.keySize()]);
            long n = 0;
            boolean more = map.nextKey(null, next);
            while (more)
            {
                n++;
                key.putBytes(0, next, 0, map.keySize());
                more = map.nextKey(key, next);
            }
            return n;
        }
    }
}
