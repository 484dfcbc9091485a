package io.crab.bench.instrument;

import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.bench.CrabBench;
import io.crab.bench.results.MachineInfo;
import io.crab.bench.traffic.EchoServer;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bench.traffic.TrafficClient;
import io.crab.bench.traffic.Workload;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code crab-bench instrument}: the Java client beside the native one the bench uses (what netperf would measure),
 * direct CRR and RR on one topology, interleaved round by round, so that the Java client's own overhead is visible.
 */
@Command(name = "instrument", mixinStandardHelpOptions = true,
    description = "Direct CRR and RR measured by the bench's Java client and by a native C client (crr_client), " +
        "interleaved over rounds on one topology: a client, a server, no crab. Writes README.md. Needs root.")
public final class InstrumentCommand implements Callable<Integer>
{
    /** The bench's own warm-up per run (BenchRunner), so both clients are measured as the bench runs them. */
    static final int WARMUP = 20;
    private static final int PORT = 80;

    @Spec
    CommandSpec spec;

    @Option(names = "--rounds", defaultValue = "5", description = "Interleaved rounds (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--duration", defaultValue = "3s", converter = CrabBench.DurationConverter.class,
        description = "Length of one run of one client (default ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--count", defaultValue = "0", description = "Transactions per run (0: --duration only).")
    long count;

    @Option(names = "--payload", defaultValue = "8", description = "Request and response bytes.")
    int payload;

    @Option(names = "--out", description = "Results directory (default bench/results/DATE-instrument).")
    Path out;

    @Override
    public Integer call() throws Exception
    {
        if (rounds < 1 || payload < 1 || count < 0 || duration.isZero() || duration.isNegative())
        {
            throw new ConfigException("--rounds and --payload must be at least 1, --count at least 0, --duration > 0");
        }
        final PrintWriter printer = spec.commandLine().getOut();
        final Instant started = Instant.now();
        final String command = "crab-bench " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        final Path dir = out != null ? out : CrabBench.resultsDir(started, "instrument");
        final List<InstrumentReport.Round> measured = new ArrayList<>();
        printer.println("crab-bench: building the topology (a client and a server in network namespaces)...");
        try (Topology topology = Topology.builder().clients(1).servers(1).build())
        {
            final Host client = topology.clients().get(0);
            final Host server = topology.servers().get(0);
            final InetSocketAddress target = new InetSocketAddress(server.ipAddress(), PORT);
            try (EchoServer echo = server.netns().call(() -> EchoServer.start(target)))
            {
                for (int round = 1; round <= rounds; round++)
                {
                    for (final Workload workload : Workload.values())
                    {
                        measured.add(round(printer, round, workload, LoadSpec.to(target).withPayloadBytes(payload)
                            .withMaxTransactions(count).withDuration(duration).withWarmup(WARMUP)
                            .withThreadFactory(client.netns().threadFactory("instrument"))));
                    }
                }
            }
        }
        final InstrumentReport report = new InstrumentReport(measured, MachineInfo.detect(), command, started);
        Files.createDirectories(dir);
        final Path readme = dir.resolve("README.md");
        Files.writeString(readme, report.markdown());
        printer.println();
        printer.print(report.markdown());
        printer.printf("%ncrab-bench: wrote %s%n", readme);
        printer.flush();
        return Cli.OK;
    }

    /** One round of one workload: both clients, the first one alternating so drift hits both alike. */
    private static InstrumentReport.Round round(final PrintWriter printer, final int round, final Workload workload,
        final LoadSpec spec)
    {
        LoadResult java = null;
        LoadResult c = null;
        for (int i = 0; i < 2; i++)
        {
            if ((i + round) % 2 == 0)
            {
                java = workload.run(spec.withLabel("java").withClient(TrafficClient.JAVA));
                printer.printf("  round %d %-3s %s%n", round, workload, java);
            }
            else
            {
                c = workload.run(spec.withLabel("c").withClient(TrafficClient.NATIVE));
                printer.printf("  round %d %-3s %s%n", round, workload, c);
            }
            printer.flush();
        }
        return new InstrumentReport.Round(round, workload, java, c);
    }
}
