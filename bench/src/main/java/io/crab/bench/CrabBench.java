package io.crab.bench;

import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.agent.Parse;
import io.crab.bench.BenchRunner.Attribution;
import io.crab.bench.BenchRunner.Measured;
import io.crab.bench.BenchRunner.Outcome;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.hostile.HostileCommand;
import io.crab.bench.instrument.InstrumentCommand;
import io.crab.bench.maglev.MaglevCommand;
import io.crab.bench.modes.BenchMode;
import io.crab.bench.modes.CrabFallbackMode;
import io.crab.bench.modes.CrabMode;
import io.crab.bench.modes.DirectMode;
import io.crab.bench.modes.HaproxyMode;
import io.crab.bench.modes.L4DnatMode;
import io.crab.bench.policy.PolicyCommand;
import io.crab.bench.results.BenchResults;
import io.crab.bench.results.MachineInfo;
import io.crab.bench.results.ModeResult;
import io.crab.bench.results.ResultFiles;
import io.crab.bench.results.ResultsWriter;
import io.crab.bench.results.RunParameters;
import io.crab.bench.soak.SoakCommand;
import io.crab.bench.syncost.ClientCostCommand;
import io.crab.bench.syncost.SynCostCommand;
import io.crab.bench.traffic.EchoServerMain;
import io.crab.bench.traffic.Workload;
import io.crab.bpf.Bpf;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code crab-bench}: netperf-style CRR and RR through crab and the load balancers users would otherwise run. */
@Command(name = "crab-bench", mixinStandardHelpOptions = true, version = "crab-bench 0.1.0",
    description = "Benchmarks crab against direct, l4-dnat (kube-proxy style) and haproxy, side by side.",
    subcommands = {CrabBench.Crr.class, CrabBench.Rr.class, CrabBench.Run.class, SynCostCommand.class,
        ClientCostCommand.class, SoakCommand.class, HostileCommand.class, MaglevCommand.class, PolicyCommand.class,
        InstrumentCommand.class,
        CrabBench.Echo.class})
public final class CrabBench implements Callable<Integer>
{
    static final List<String> ALL_MODES = List.of("direct", "crab", "crab-fallback", "l4-dnat", "haproxy");
    private static final int PORT = 80;

    /** Without a command there is nothing to run: one line, as for any other usage error. */
    @Override
    public Integer call()
    {
        throw new ConfigException("expected a command (--help lists them)");
    }

    public static void main(final String... args)
    {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    public static int run(final PrintWriter out, final PrintWriter err, final String... args)
    {
        return Cli.run(new CrabBench(), out, err, args);
    }

    /** Options of the traffic commands. */
    static final class TrafficOptions
    {
        @Option(names = "--modes", split = ",", defaultValue = "direct,crab,crab-fallback,l4-dnat,haproxy",
            description = "Modes to compare: direct, crab, crab-fallback, l4-dnat, haproxy.")
        List<String> modes;

        @Option(names = "--payload", defaultValue = "8", description = "Request and response bytes.")
        int payload;

        @Option(names = "--concurrency", defaultValue = "1", description = "Closed-loop workers.")
        int concurrency;

        @Option(names = "--duration", defaultValue = "5s", description = "Length of one run (e.g. 5s, 500ms).",
            converter = DurationConverter.class)
        Duration duration;

        @Option(names = "--count", defaultValue = "0", description = "Transactions per run (0: --duration only).")
        long count;

        @Option(names = "--rounds", defaultValue = "3", description = "Interleaved rounds of every mode.")
        int rounds;

        @Option(names = "--out", description = "Results directory (default bench/results/DATE-COMMAND).")
        Path out;
    }

    static int traffic(final CommandSpec spec, final TrafficOptions options, final List<Workload> workloads)
        throws Exception
    {
        final PrintWriter out = spec.commandLine().getOut();
        for (final String mode : options.modes)
        {
            if (!ALL_MODES.contains(mode))
            {
                throw new ConfigException("--modes: unknown mode '" + mode + "' (known: " + ALL_MODES + ")");
            }
        }
        final Instant started = Instant.now();
        final String command = "crab-bench " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        final Path dir = options.out != null ? options.out : resultsDir(started, spec.name());
        Files.createDirectories(dir);
        final Path work = Files.createTempDirectory("crab-bench-");
        try
        {
            return traffic(out, options, workloads, command, started, dir, work);
        }
        finally
        {
            deleteTree(work);
        }
    }

    private static int traffic(final PrintWriter out, final TrafficOptions options, final List<Workload> workloads,
        final String command, final Instant started, final Path dir, final Path work) throws Exception
    {
        out.printf("crab-bench: building the topology (crab client, plain client, LB, 3 servers in network " +
            "namespaces)...%n");
        try (Topology topology = Topology.builder().clients(2).servers(3).build())
        {
            final Host client = topology.clients().get(0);
            final Host plainClient = topology.clients().get(1);
            final String crabVip = Topology.vip(1);
            out.printf("crab-bench: starting echo servers, crab-endpoint and crab-lb (logs in %s)...%n", work);
            try (CrabCluster cluster = CrabCluster.start(topology, work, List.of(PORT),
                Map.of(client, List.of(crabVip + ":" + PORT), plainClient, List.of()));
                AutoCloseable stats = Bpf.enableRunTimeStats())
            {
                // The servers take the fallback's connections too: the VIP on their loopback, an echo server on it.
                cluster.serveVip(crabVip, List.of(PORT));
                cluster.startLb(topology.servers().stream().map(Host::ip).toList(), "--vip", crabVip + ":" + PORT,
                    "--health-interval-ms", "60000");
                final List<BenchMode> modes = new ArrayList<>();
                try
                {
                    for (final String name : options.modes)
                    {
                        out.printf("crab-bench: setting up %s%n", name);
                        modes.add(mode(name, topology, crabVip, work));
                    }
                    out.printf("crab-bench: %d rounds of %s x %s, %s per run%n", options.rounds, workloads,
                        options.modes, options.count > 0 ? options.count + " transactions" : options.duration);
                    final Measured measured = new BenchRunner(cluster, client, plainClient, out).run(modes,
                        new BenchRunner.Plan(workloads, options.rounds, options.payload, options.concurrency,
                            options.count, options.duration));
                    final Map<String, Map<Workload, List<Double>>> rounds = new LinkedHashMap<>();
                    measured.outcomes().forEach((mode, byWorkload) -> byWorkload.forEach((w, o) -> rounds
                        .computeIfAbsent(mode, m -> new LinkedHashMap<>()).put(w, o.roundP50Us())));
                    final BenchResults results = new BenchResults(toResults(measured, modes), MachineInfo.detect(),
                        command, started, new RunParameters(options.payload, options.concurrency, options.rounds,
                            options.duration, options.count), rounds, lbAgentCpuShare(measured));
                    final ResultFiles files = ResultsWriter.write(results, dir);
                    out.println();
                    out.print(Files.readString(files.markdown()));
                    out.printf("%ncrab-bench: wrote %s%n", files.all());
                }
                finally
                {
                    for (final BenchMode mode : modes)
                    {
                        mode.close();
                    }
                }
            }
        }
        return Cli.OK;
    }

    /** {@code bench/results/<UTC date and time>-<command>}. */
    public static Path resultsDir(final Instant started, final String command)
    {
        return Path.of("bench", "results",
            DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(started) + "-" + command);
    }

    /** Removes a directory this run made (daemon logs and the like), also when the run failed. */
    public static void deleteTree(final Path dir) throws IOException
    {
        if (!Files.exists(dir))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir))
        {
            for (final Path p : paths.sorted(Comparator.reverseOrder()).toList())
            {
                Files.deleteIfExists(p);
            }
        }
    }

    private static BenchMode mode(final String name, final Topology topology, final String crabVip, final Path work)
    {
        return switch (name)
        {
            case "direct" -> new DirectMode(topology.servers().get(0), PORT);
            case "crab" -> new CrabMode(topology.lb(), crabVip, PORT);
            case "crab-fallback" -> new CrabFallbackMode(topology.lb(), crabVip, PORT);
            case "l4-dnat" -> new L4DnatMode(topology, Topology.vip(11), PORT);
            case "haproxy" -> new HaproxyMode(topology, Topology.vip(12), PORT, work);
            default -> throw new ConfigException("--modes: unknown mode '" + name + "'");
        };
    }

    static List<ModeResult> toResults(final Measured measured, final List<BenchMode> modes)
    {
        final Map<String, BenchMode> byName = new LinkedHashMap<>();
        modes.forEach(m -> byName.put(m.name(), m));
        final List<ModeResult> results = new ArrayList<>();
        measured.outcomes().forEach((mode, byWorkload) ->
        {
            final Outcome crr = byWorkload.get(Workload.CRR);
            final Outcome rr = byWorkload.get(Workload.RR);
            final Map<String, String> problems = new LinkedHashMap<>();
            byWorkload.forEach((w, o) ->
            {
                if (!PathCheck.OK.equals(o.pathCheck()))
                {
                    problems.put(w.name(), o.pathCheck());
                }
            });
            final Attribution attribution = measured.attributions().get(mode);
            if (attribution != null && !PathCheck.OK.equals(attribution.pathCheck()))
            {
                problems.put("LB CPU run", attribution.pathCheck());
            }
            final String check = problems.isEmpty() ? PathCheck.OK : problems.toString();
            final BenchMode benchMode = byName.get(mode);
            final OptionalDouble cpu = attribution == null || attribution.result().transactions() == 0 ?
                OptionalDouble.empty() : OptionalDouble.of(attribution.lbCpuNsPerConnection());
            final String cpuSource = benchMode.lbProcess().isEmpty() ? "kernel" : "kernel + " + benchMode.lbProcess();
            final OptionalDouble bpf = crr == null || crr.result().transactions() == 0 ||
                benchMode.bpfPrograms().isEmpty() ? OptionalDouble.empty() :
                OptionalDouble.of((double)crr.bpfRunTimeNs() / crr.result().transactions());
            results.add(new ModeResult(mode, crr == null ? null : crr.result(), rr == null ? null : rr.result(),
                crr == null ? Double.NaN : crr.lbPacketsPerTransaction(), cpu, cpuSource, bpf,
                benchMode.bpfPrograms(), check));
        });
        return results;
    }

    /** crab-lb's CPU over the LB CPU runs' wall time; empty if there were none. */
    static OptionalDouble lbAgentCpuShare(final Measured measured)
    {
        final long wallNs = measured.attributions().values().stream().mapToLong(Attribution::wallNs).sum();
        final long agentNs = measured.attributions().values().stream().mapToLong(Attribution::lbAgentNs).sum();
        return wallNs == 0 ? OptionalDouble.empty() : OptionalDouble.of((double)agentNs / wallNs);
    }

    @Command(name = "crr", mixinStandardHelpOptions = true, description = "netperf TCP_CRR side by side.")
    static final class Crr implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        TrafficOptions options = new TrafficOptions();

        @Override
        public Integer call() throws Exception
        {
            return traffic(spec, options, List.of(Workload.CRR));
        }
    }

    @Command(name = "rr", mixinStandardHelpOptions = true, description = "netperf TCP_RR side by side.")
    static final class Rr implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        TrafficOptions options = new TrafficOptions();

        @Override
        public Integer call() throws Exception
        {
            return traffic(spec, options, List.of(Workload.RR));
        }
    }

    @Command(name = "run", mixinStandardHelpOptions = true, description = "CRR and RR side by side: the full run.")
    static final class Run implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        TrafficOptions options = new TrafficOptions();

        @Override
        public Integer call() throws Exception
        {
            return traffic(spec, options, List.of(Workload.CRR, Workload.RR));
        }
    }

    @Command(name = "echo", mixinStandardHelpOptions = true,
        description = "The bench's echo server, alone: crab-bench echo --listen IP:PORT.")
    static final class Echo implements Callable<Integer>
    {
        /** Everything is the echo server's to parse, its options included. */
        @picocli.CommandLine.Unmatched
        List<String> args = new ArrayList<>();

        @Spec
        CommandSpec spec;

        @Override
        public Integer call()
        {
            return EchoServerMain.run(spec.commandLine().getOut(), spec.commandLine().getErr(),
                args.toArray(String[]::new));
        }
    }

    /** Durations on the bench's command lines: digits and a unit, as {@link Parse#duration} reads them. */
    public static final class DurationConverter implements picocli.CommandLine.ITypeConverter<Duration>
    {
        @Override
        public Duration convert(final String value)
        {
            try
            {
                return Parse.duration(value);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new picocli.CommandLine.TypeConversionException(ex.getMessage());
            }
        }
    }
}
