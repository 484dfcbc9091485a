package io.crab.bench;

import com.codahale.metrics.MetricRegistry;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.modes.BenchMode;
import io.crab.bench.modes.LbCpuMeter;
import io.crab.bench.modes.TaskCpu;
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
 * shared machine hits all modes alike; around each run it takes the LB's packet, redirect and BPF run time counters.
 * Then it measures the LB's CPU per connection, in a CRR run per mode of its own: see {@link #attribute}.
 */
final class BenchRunner
{
    /** What one mode did for one workload, all rounds together. */
    record Outcome(LoadResult result, long lbPackets, long lbRedirects, long bpfRunTimeNs, String pathCheck,
        List<Double> roundP50Us)
    {
        double lbPacketsPerTransaction()
        {
            return result.transactions() == 0 ? 0 : (double)lbPackets / result.transactions();
        }
    }

    /**
     * One mode's CRR run with the LB's CPU measured.
     *
     * @param lbCpu     what {@link LbCpuMeter} counted during the run
     * @param pathCheck as for the latency rounds, from the LB's counters around this run
     * @param lbAgentNs the CPU time of crab-lb (which runs in every mode) in the same run
     * @param wallNs    how long the run took, warm-up included, as the CPU counters were read around all of it
     */
    record Attribution(LoadResult result, LbCpuMeter.Reading lbCpu, String pathCheck, long lbAgentNs, long wallNs)
    {
        /** The LB's CPU per completed connection, not crab-lb's. */
        double lbCpuNsPerConnection()
        {
            return result.transactions() == 0 ? Double.NaN : (double)lbCpu.lbCpuNs() / result.transactions();
        }
    }

    /** The latency rounds' outcomes and the attribution runs', by mode. */
    record Measured(Map<String, Map<Workload, Outcome>> outcomes, Map<String, Attribution> attributions)
    {
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

    Measured run(final List<BenchMode> modes, final Plan plan)
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
                    final LoadResult result = workload.run(spec(mode, plan, client));
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
        return new Measured(outcomes, attribute(modes, plan));
    }

    /**
     * The LB's CPU per connection, every mode measured alike by {@link LbCpuMeter}: one CRR run per mode, as long as
     * a round's. The meter's programs run at every softirq, NAPI poll and context switch of the machine, which
     * would add to every mode's latency, so these runs come after the latency rounds and are not part of them.
     */
    private Map<String, Attribution> attribute(final List<BenchMode> modes, final Plan plan)
    {
        final long lbAgentPid = cluster.lb().pid();
        final Map<String, Attribution> attributions = new LinkedHashMap<>();
        try (LbCpuMeter meter = LbCpuMeter.attach(cluster.topology().lb()))
        {
            for (final BenchMode mode : modes)
            {
                final Host client = mode.fromPlainClient() ? plainClient : crabClient;
                meter.watchProcess(mode.lbProcessPid().orElse(0));
                final long[] before = snapshot(mode);
                final LbCpuMeter.Reading cpuBefore = meter.read();
                final long agentBefore = TaskCpu.processNs(lbAgentPid);
                final long start = System.nanoTime();
                final LoadResult result = Workload.CRR.run(spec(mode, plan, client));
                final long wallNs = System.nanoTime() - start;
                final LbCpuMeter.Reading cpu = meter.read().minus(cpuBefore);
                final long agentNs = TaskCpu.processNs(lbAgentPid) - agentBefore;
                final long[] after = snapshot(mode);
                final Attribution attribution = new Attribution(result, cpu,
                    PathCheck.check(mode.name(), Workload.CRR, result.transactions(), result.failureCount(),
                        after[0] - before[0], after[1] - before[1]), agentNs, wallNs);
                attributions.put(mode.name(), attribution);
                out.printf("  LB CPU  %-13s %d connections, %.2f µs each (LB polls %.1f per connection, %.2f µs " +
                    "each%s)%n", mode.name(), result.transactions(), attribution.lbCpuNsPerConnection() / 1_000,
                    result.transactions() == 0 ? 0.0 : (double)cpu.polls() / result.transactions(),
                    cpu.polls() == 0 ? 0.0 : cpu.pollNs() / 1_000.0 / cpu.polls(),
                    mode.lbProcess().isEmpty() ? "" : String.format("; %s %.2f ms, softirqs in it %.2f ms",
                        mode.lbProcess(), cpu.processNs() / 1e6, cpu.processSoftirqNs() / 1e6));
                out.flush();
            }
        }
        return attributions;
    }

    private static LoadSpec spec(final BenchMode mode, final Plan plan, final Host client)
    {
        return LoadSpec.to(mode.target()).withLabel(mode.name())
            .withPayloadBytes(plan.payload()).withConcurrency(plan.concurrency())
            .withMaxTransactions(plan.count()).withDuration(plan.duration()).withWarmup(20)
            .withThreadFactory(client.netns().threadFactory("bench-" + mode.name()));
    }

    /** LB packets, LB redirects and the run time of the mode's BPF programs in ns (0 if none), cumulative. */
    private long[] snapshot(final BenchMode mode)
    {
        final MetricRegistry lb = cluster.lbStatus();
        return new long[] {CrabCluster.lbPackets(lb), CrabCluster.gauge(lb, "crab.lb.packets.tx_redirect"),
            mode.bpfRunTimeNs()};
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
