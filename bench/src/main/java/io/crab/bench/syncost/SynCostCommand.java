package io.crab.bench.syncost;

import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.bpf.Abi;
import io.crab.lb.Policy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code crab-bench syn-cost}: prints, and optionally writes, what crab_lb costs per packet beside a no-op floor. */
@Command(name = "syn-cost", mixinStandardHelpOptions = true,
    description = "Measures the XDP load balancer's ns per packet (marked SYN per policy, unmarked SYN, data packet)"
        + " through BPF_PROG_TEST_RUN, and its packets per second on one CPU as live frames, beside a no-op XDP"
        + " program on the same frames. Needs root.")
public final class SynCostCommand implements Callable<Integer>
{
    static final String MARKDOWN_FILE = "syn-cost.md";
    static final String CSV_FILE = "syn-cost.csv";

    @Spec
    CommandSpec spec;

    @Option(names = "--samples", defaultValue = "" + SynCost.DEFAULT_SAMPLES,
        description = "Packets per frame kind and program, one per call (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--repeat", defaultValue = "" + SynCost.DEFAULT_REPEAT,
        description = "Packets in the one-call measurements: of the frames crab passes unmodified, and of live frames"
            + " of every kind (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--policies", defaultValue = "rr", split = ",", paramLabel = "POLICY[,POLICY...]",
        description = "Policies a marked SYN is measured under: rr, random, hash, jsq, p2c (default ${DEFAULT-VALUE}).")
    List<String> policies;

    @Option(names = "--backends", defaultValue = "" + SynCost.DEFAULT_BACKENDS,
        description = "Backends of the VIP, 1.." + Abi.Consts.CRAB_MAX_SLOTS + "; jsq compares up to " +
            Abi.Consts.CRAB_LOAD_SCAN + " of them per SYN (default ${DEFAULT-VALUE}).")
    int backends;

    @Option(names = "--out", paramLabel = "DIR",
        description = "Also write " + MARKDOWN_FILE + " and " + CSV_FILE + " into this directory.")
    Path out;

    @Override
    public Integer call() throws Exception
    {
        final PrintWriter printer = spec.commandLine().getOut();
        final List<Policy> chosen = new ArrayList<>();
        for (final String name : policies)
        {
            chosen.add(Policy.ofWord(name.toLowerCase(Locale.ROOT)).orElseThrow(() ->
                new ConfigException("--policies " + name + ": expected rr, random, hash, jsq or p2c")));
        }
        if (samples < 1 || repeat < 1)
        {
            throw new ConfigException("--samples and --repeat must be at least 1, got " + samples + " and " + repeat);
        }
        if (backends < 1 || backends > Abi.Consts.CRAB_MAX_SLOTS)
        {
            throw new ConfigException("--backends " + backends + ": must be 1.." + Abi.Consts.CRAB_MAX_SLOTS);
        }
        final SynCostReport report = SynCost.measure(samples, repeat, chosen, backends, line ->
        {
            printer.println(line);
            printer.flush();
        });
        printer.println();
        printer.print(report.text());
        if (out != null)
        {
            Files.createDirectories(out);
            Files.writeString(out.resolve(MARKDOWN_FILE), report.markdown());
            Files.writeString(out.resolve(CSV_FILE), report.csv());
            printer.printf("%nwrote %s and %s%n", out.resolve(MARKDOWN_FILE), out.resolve(CSV_FILE));
        }
        printer.flush();
        return Cli.OK;
    }
}
