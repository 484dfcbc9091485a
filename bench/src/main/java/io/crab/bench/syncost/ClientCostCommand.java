package io.crab.bench.syncost;

import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code crab-bench client-cost}: prints, and optionally writes, what the client's TC programs cost per packet. */
@Command(name = "client-cost", mixinStandardHelpOptions = true,
    description = "Measures the client TC programs' ns per data packet (redirected flow each way, no flow) through"
        + " BPF_PROG_TEST_RUN, beside a no-op TC program on the same frames. Needs root.")
public final class ClientCostCommand implements Callable<Integer>
{
    static final String MARKDOWN_FILE = "client-cost.md";

    @Spec
    CommandSpec spec;

    @Option(names = "--samples", defaultValue = "" + ClientCost.DEFAULT_SAMPLES,
        description = "Packets per kind and program, one per call (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--out", paramLabel = "DIR", description = "Also write " + MARKDOWN_FILE + " into this directory.")
    Path out;

    @Override
    public Integer call() throws Exception
    {
        final PrintWriter printer = spec.commandLine().getOut();
        if (samples < 1)
        {
            throw new ConfigException("--samples must be at least 1, got " + samples);
        }
        final String report = ClientCost.measure(samples, line ->
        {
            printer.println(line);
            printer.flush();
        });
        printer.println();
        printer.print(report);
        if (out != null)
        {
            Files.createDirectories(out);
            Files.writeString(out.resolve(MARKDOWN_FILE), report);
            printer.printf("%nwrote %s%n", out.resolve(MARKDOWN_FILE));
        }
        printer.flush();
        return Cli.OK;
    }
}
