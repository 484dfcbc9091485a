package io.crab.bench.policy;

import io.crab.bench.cluster.CrabCluster;
import io.crab.lb.Policy;
import io.crab.rig.Host;
import io.crab.rig.Topology;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * The experiment of the CRAB paper's Figs. 11 and 12, scaled to one machine: tail latency against load for each
 * policy, on one client, crab-lb and 16 {@link QueueServer} backends (4 servers x 4 ports) behind one VIP. The
 * policy changes between runs by a live reload of the services file, so every policy runs on the same LB, and at
 * each load point every policy runs once before the next load point, so drift hits them all alike.
 */
public final class PolicyExperiment
{
    /** What the services file accepts, the load-aware ones last; --policies picks from these. */
    public static final List<String> POLICIES = List.of("random", "hash", "rr", "jsq", "p2c");
    /** Where crab-lb listens for the servers' load reports by default (crab-lb --feedback-port). */

    static final String SERVICE = "policy-bench";
    static final String VIP = Topology.vip(1);
    static final int VIP_PORT = 80;
    private static final int SERVERS = 4;
    private static final List<Integer> BACKEND_PORTS = List.of(8001, 8002, 8003, 8004);
    private static final Duration RELOAD_TIMEOUT = Duration.ofSeconds(10);
    /** After the last arrival, how long unanswered connections are waited for before they count as timeouts. */
    private static final Duration DRAIN = Duration.ofSeconds(10);
    private static final Duration HEADROOM_WINDOW = Duration.ofSeconds(2);
    private static final Duration HEADROOM_WARMUP = Duration.ofMillis(500);

    private final PolicySettings settings;
    private final Consumer<String> progress;

    private PolicyExperiment(final PolicySettings settings, final Consumer<String> progress)
    {
        this.settings = settings;
        this.progress = progress;
    }

    /** Builds the rig, runs the headroom steps and every policy at every load, and removes the rig again. */
    public static Measured run(final PolicySettings settings, final Path logs, final Consumer<String> progress)
    {
        return new PolicyExperiment(settings, progress).run(logs);
    }

    /** What {@link #run} measured, and the backends it measured on, by id. */
    public record Measured(List<PolicyRun> runs, List<HeadroomStep> headroom, List<String> backends)
    {
    }

    private Measured run(final Path logs)
    {
        progress.accept("building the topology (1 client, the LB, " + SERVERS + " servers in network namespaces)");
        try (Topology topology = Topology.builder().clients(1).servers(SERVERS).build())
        {
            final Host client = topology.clients().get(0);
            final boolean reports = settings.policies().stream()
                .anyMatch(p -> Policy.ofWord(p).map(Policy::loadAware).orElse(false));
            final List<String> serverArgs = reports ? CrabCluster.reportingToTheLb(topology) : List.of();
            progress.accept("starting crab-endpoint" + (reports ? " (servers reporting load to the LB)" : "") +
                ", " + SERVERS * BACKEND_PORTS.size() + " queue servers and crab-lb (logs in " + logs + ")");
            try (CrabCluster cluster = CrabCluster.start(topology, logs, List.of(),
                Map.of(client, List.of(VIP + ":" + VIP_PORT)), List.of(), serverArgs);
                QueueBackends backends = QueueBackends.start(topology.servers(), BACKEND_PORTS,
                    settings.meanServiceTime(), id -> 1.0, settings.seed()))
            {
                // Probes connect to the backends and so take a place in their queues: one a minute is noise.
                cluster.startLbWithServices(services(backends, settings.policies().get(0)), "--no-watch",
                    "--health-interval-ms", "60000");
                for (final String policy : settings.policies())
                {
                    // Every policy is tried before any is measured: one crab-lb refuses must not waste the others.
                    cluster.reloadServices(services(backends, policy), RELOAD_TIMEOUT);
                }
                final List<HeadroomStep> headroom = headroom(cluster, backends, client);
                final List<PolicyRun> runs = policies(cluster, backends, client);
                return new Measured(runs, headroom, backends.addresses());
            }
        }
    }

    /** The rig's own limit: rr to backends that answer at once, at each headroom rate. */
    private List<HeadroomStep> headroom(final CrabCluster cluster, final QueueBackends backends, final Host client)
    {
        final List<HeadroomStep> steps = new ArrayList<>();
        if (settings.headroomLoads().isEmpty())
        {
            return steps;
        }
        cluster.reloadServices(services(backends, "rr"), RELOAD_TIMEOUT);
        backends.meanServiceTime(Duration.ZERO);
        try
        {
            final Duration window = settings.window().compareTo(HEADROOM_WINDOW) < 0 ? settings.window() :
                HEADROOM_WINDOW;
            for (final int load : settings.headroomLoads())
            {
                final OpenLoopResult result = open(client, settings.rate(load, backends.size()), HEADROOM_WARMUP,
                    window, settings.seed() + load);
                final HeadroomStep step = new HeadroomStep(load, result);
                steps.add(step);
                progress.accept(String.format(Locale.ROOT, "headroom %d%% (%.0f/s, backends answering at once): " +
                    "%s -> %s", load, result.offeredRate(), describe(result), step.keptUp() ? "kept up" : "FELL BEHIND"));
            }
        }
        finally
        {
            backends.meanServiceTime(settings.meanServiceTime());
        }
        return steps;
    }

    /** Every policy at every load; at load point i the policies start from the i-th, so none always goes first. */
    private List<PolicyRun> policies(final CrabCluster cluster, final QueueBackends backends, final Host client)
    {
        final List<String> policies = settings.policies();
        final List<PolicyRun> runs = new ArrayList<>();
        for (int i = 0; i < settings.loads().size(); i++)
        {
            final int load = settings.loads().get(i);
            final int round = i;
            for (final String policy : IntStream.range(0, policies.size())
                .mapToObj(p -> policies.get((p + round) % policies.size())).toList())
            {
                cluster.reloadServices(services(backends, policy), RELOAD_TIMEOUT);
                // The same arrival schedule for every policy at a load point: they differ in the policy alone.
                final OpenLoopResult result = open(client, settings.rate(load, backends.size()), settings.warmup(),
                    settings.window(), settings.seed() + load);
                runs.add(new PolicyRun(policy, load, result));
                progress.accept(String.format(Locale.ROOT, "load %3d%% %-6s %s", load, policy, describe(result)));
            }
        }
        return runs;
    }

    private static List<String> services(final QueueBackends backends, final String policy)
    {
        return backends.service(SERVICE, VIP + ":" + VIP_PORT, policy);
    }

    private static OpenLoopResult open(final Host client, final double rate, final Duration warmup,
        final Duration window, final long seed)
    {
        try
        {
            return OpenLoopClient.run(new OpenLoopClient.Plan(new InetSocketAddress(VIP, VIP_PORT), rate, warmup,
                window, DRAIN, seed), client.netns().threadFactory("policy-bench"));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /** One line of figures for the progress output. */
    static String describe(final OpenLoopResult r)
    {
        return String.format(Locale.ROOT, "offered %.0f/s achieved %.0f/s, p50 %.2f ms p99 %.2f ms p99.9 %.2f ms, " +
            "%d failed of %d, %d late (max %.1f ms)", r.offeredRate(), r.achievedRate(), r.p50Ms(), r.p99Ms(),
            r.p999Ms(), r.failureCount(), r.scheduled(), r.lateStarts(), r.maxStartLagMs());
    }
}
