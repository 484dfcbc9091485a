package io.crab.bench;

import com.codahale.metrics.MetricRegistry;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.modes.BenchMode;
import io.crab.bench.traffic.FailureKind;
import io.crab.bench.traffic.Histograms;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bench.traffic.Workload;
import io.crab.rig.Host;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs every mode for every workload, round by round, with the mode order rotated each round so that drift on a
 * shared machine hits all modes alike; around each run it takes the LB's packet, redirect and CPU counters.
 */
final class BenchRunner
{
    /** What one mode did for one workload, all rounds together. */
    record Outcome(LoadResult result, long lbPackets, long lbRedirects, long lbCpuNs, String pathCheck,
        List<Double> roundP50Us)
    {
        double lbPacketsPerTransaction()
        {
            return result.transactions() == 0 ? 0 : (double)lbPackets / result.transactions();
        }
    }

    /** Parameters of every run. */
    record Plan(List<Workload> workloads, int rounds, int payload, int concurrency, long count, Duration duration)
    {
    }

    private final CrabCluster cluster;
    private final Host crabClient;
    private final Host plainClient;
    private final PrintWriter out;

    BenchRunner(final CrabCluster cluster, final Host crabClient, final Host plainClient, final PrintWriter out)
    {
        this.cluster = cluster;
        this.crabClient = crabClient;
        this.plainClient = plainClient;
        this.out = out;
    }

    Map<String, Map<Workload, Outcome>> run(final List<BenchMode> modes, final Plan plan)
    {
        final Map<String, Map<Workload, List<LoadResult>>> results = new LinkedHashMap<>();
        final Map<String, Map<Workload, long[]>> counters = new LinkedHashMap<>();
        for (int round = 0; round < plan.rounds(); round++)
        {
            for (final Workload workload : plan.workloads())
            {
                for (int i = 0; i < modes.size(); i++)
                {
                    final BenchMode mode = modes.get((i + round) % modes.size());
                    final Host client = mode.fromPlainClient() ? plainClient : crabClient;
                    final long[] before = snapshot(mode);
                    final LoadResult result = workload.run(LoadSpec.to(mode.target()).withLabel(mode.name())
                        .withPayloadBytes(plan.payload()).withConcurrency(plan.concurrency())
                        .withMaxTransactions(plan.count()).withDuration(plan.duration()).withWarmup(20)
                        .withThreadFactory(client.netns().threadFactory("bench-" + mode.name())));
                    final long[] after = snapshot(mode);
                    final long[] sum = counters.computeIfAbsent(mode.name(), m -> new EnumMap<>(Workload.class))
                        .computeIfAbsent(workload, w -> new long[3]);
                    for (int c = 0; c < sum.length; c++)
                    {
                        sum[c] += after[c] - before[c];
                    }
                    results.computeIfAbsent(mode.name(), m -> new EnumMap<>(Workload.class))
                        .computeIfAbsent(workload, w -> new ArrayList<>()).add(result);
                    out.printf("  round %d/%d %-3s %-8s %s%n", round + 1, plan.rounds(), workload, mode.name(), result);
                    out.flush();
                }
            }
        }
        final Map<String, Map<Workload, Outcome>> outcomes = new LinkedHashMap<>();
        results.forEach((mode, byWorkload) -> byWorkload.forEach((workload, parts) ->
        {
            final LoadResult merged = merge(mode, workload, parts);
            final long[] c = counters.get(mode).get(workload);
            outcomes.computeIfAbsent(mode, m -> new EnumMap<>(Workload.class)).put(workload, new Outcome(merged,
                c[0], c[1], c[2], PathCheck.check(mode, workload, merged.transactions(), merged.failureCount(),
                    c[0], c[1]), parts.stream().map(LoadResult::p50Us).toList()));
        }));
        return outcomes;
    }

    /** LB packets, LB redirects and LB CPU ns, cumulative. */
    private long[] snapshot(final BenchMode mode)
    {
        final MetricRegistry lb = cluster.lbStatus();
        return new long[] {CrabCluster.lbPackets(lb), CrabCluster.gauge(lb, "crab.lb.packets.tx_redirect"),
            mode.lbCpuNs()};
    }

    static LoadResult merge(final String mode, final Workload workload, final List<LoadResult> parts)
    {
        final Map<FailureKind, Long> failures = new EnumMap<>(FailureKind.class);
        parts.forEach(p -> p.failures().forEach((k, v) -> failures.merge(k, v, Long::sum)));
        return new LoadResult(mode, workload, parts.stream().mapToLong(LoadResult::transactions).sum(), failures,
            parts.stream().mapToLong(LoadResult::elapsedNanos).sum(),
            Histograms.merge(parts.stream().map(LoadResult::histogram).toList()));
    }
}
