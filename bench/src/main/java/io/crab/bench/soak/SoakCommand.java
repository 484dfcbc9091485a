package io.crab.bench.soak;

import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.bench.CrabBench;
import io.crab.bench.results.MachineInfo;
import io.crab.bench.traffic.LoadResult;
import io.crab.bpf.Abi;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code crab-bench soak}: the client flow table under sustained CRR through several VIPs. */
@Command(name = "soak", mixinStandardHelpOptions = true,
    description = "Sustained CRR through " + FlowTableSoak.VIPS + " VIPs from one client; fails if a SYN ever " +
        "goes out unmarked for lack of room in the flow table. Writes soak.md and soak.csv. Needs root.")
public final class SoakCommand implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    @Option(names = "--duration", defaultValue = "180s", description = "How long (default 180s).",
        converter = CrabBench.DurationConverter.class)
    Duration duration;

    @Option(names = "--concurrency", defaultValue = "2", description = "Closed-loop workers per VIP (default 2).")
    int concurrency;

    @Option(names = "--flow-table-size", defaultValue = "" + Abi.Consts.CRAB_FLOW_TABLE_SIZE,
        description = "The client's flow table (default ${DEFAULT-VALUE}).")
    int flowTableSize;

    @Option(names = "--sample-every", defaultValue = "5s", description = "How often the table is looked at.",
        converter = CrabBench.DurationConverter.class)
    Duration sampleEvery;

    @Option(names = "--out", description = "Results directory (default bench/results/DATE-soak).")
    Path out;

    @Override
    public Integer call() throws Exception
    {
        if (concurrency < 1 || concurrency > 64)
        {
            throw new ConfigException("--concurrency " + concurrency + ": must be 1..64");
        }
        final PrintWriter printer = spec.commandLine().getOut();
        final Instant started = Instant.now();
        final String command = "crab-bench " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        final Path dir = out != null ? out : CrabBench.resultsDir(started, "soak");
        Files.createDirectories(dir);
        final Path logs = Files.createTempDirectory("crab-soak-");
        final FlowTableSoak.Outcome outcome;
        try
        {
            outcome = FlowTableSoak.run(duration, concurrency, flowTableSize, sampleEvery, logs, line ->
            {
                printer.println(line);
                printer.flush();
            });
        }
        finally
        {
            CrabBench.deleteTree(logs);
        }
        final String report = markdown(outcome, command, started);
        Files.writeString(dir.resolve("soak.md"), report);
        Files.writeString(dir.resolve("soak.csv"), csv(outcome));
        printer.println();
        printer.print(report);
        printer.printf("%nwrote %s and %s%n", dir.resolve("soak.md"), dir.resolve("soak.csv"));
        printer.flush();
        return outcome.passed() ? Cli.OK : Cli.FAILED;
    }

    private String markdown(final FlowTableSoak.Outcome o, final String command, final Instant started)
    {
        final StringBuilder md = new StringBuilder();
        md.append("# Client flow table soak\n\n");
        md.append("- Command: `").append(command).append("`\n");
        md.append("- Started: ").append(started).append('\n');
        md.append("- Machine: ").append(MachineInfo.detect().summary()).append('\n');
        md.append(String.format(Locale.ROOT, "- Load: CRR (connect, 8-byte request and response, close) through %d " +
            "VIPs from one client, %d workers per VIP, %s%n", FlowTableSoak.VIPS, concurrency, duration));
        md.append(String.format(Locale.ROOT, "- Flow table: %d entries%n%n", o.flowTableSize()));
        md.append("| connections | per second | failed | SYNs unmarked, table full | SYNs unmarked, port busy | " +
            "peak flows | peak TIME_WAIT sockets | verdict |\n|---|---|---|---|---|---|---|---|\n");
        md.append(String.format(Locale.ROOT, "| %d | %.0f | %d | %d | %d | %d | %d | %s |%n%n", o.connections(),
            o.rate(duration), o.failures(), o.counters().get("syn_unmarked_full"),
            o.counters().get("syn_unmarked_port_busy"), o.peakFlows(), o.peakTimeWait(),
            o.passed() ? "pass" : "FAIL"));
        md.append("The verdict is whether any SYN went out unmarked because the table was full. A flow leaves the " +
            "table when its socket enters TIME_WAIT or closes; the TIME_WAIT column is what a table that kept flows " +
            "for the life of their socket would have had to hold. Failed connections by kind are below: CONNECT " +
            "failures match the SYNs sent unmarked because another VIP's live connection held the local port (the " +
            "LB host refuses them), TIMEOUTs are echoes that took over 2 s on a saturated machine.\n\n");
        md.append("Per VIP:\n\n| load | connections | failed, by kind | p50 µs | p99 µs |\n|---|---|---|---|---|\n");
        int i = 1;
        for (final LoadResult r : o.loads())
        {
            md.append(String.format(Locale.ROOT, "| VIP %d | %d | %d %s | %.1f | %.1f |%n", i++, r.transactions(),
                r.failureCount(), r.failures(), r.p50Us(), r.p99Us()));
        }
        md.append("\nClient counters at the end: ").append(nonZero(o.counters())).append("\n\n");
        md.append("LB packets by verdict: ").append(nonZero(o.lbPackets())).append('\n');
        return md.toString();
    }

    private static String nonZero(final Map<String, Long> counters)
    {
        final StringBuilder out = new StringBuilder();
        counters.forEach((name, n) ->
        {
            if (n != 0)
            {
                out.append(out.length() == 0 ? "" : ", ").append(name).append(' ').append(n);
            }
        });
        return out.toString();
    }

    private static String csv(final FlowTableSoak.Outcome o)
    {
        final StringBuilder csv = new StringBuilder("elapsed_ms,flows,ports,time_wait_sockets,syn_marked," +
            "syn_unmarked_full,syn_unmarked_port_busy\n");
        for (final FlowTableSoak.Sample s : o.samples())
        {
            csv.append(s.elapsedMs()).append(',').append(s.flows()).append(',').append(s.ports()).append(',')
                .append(s.timeWait()).append(',').append(s.marked()).append(',').append(s.unmarkedFull()).append(',')
                .append(s.unmarkedPortBusy()).append('\n');
        }
        return csv.toString();
    }
}
