package io.crab.bench.hostile;

import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.bench.results.MachineInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code crab-bench hostile}: malformed and adversarial frames through every crab program; zero violations. */
@Command(name = "hostile", mixinStandardHelpOptions = true,
    description = "Runs seeded hostile frames (truncations, option and length lies, fragments, VLAN, other"
        + " ethertypes and protocols, every TCP flag, crab's option everywhere, bad checksums, random bytes) through"
        + " every crab program with BPF_PROG_TEST_RUN, checks each outcome, and writes results.md and results.csv."
        + " Exits 1 if any frame broke a check. Needs root.")
public final class HostileCommand implements Callable<Integer>
{
    static final String MARKDOWN_FILE = "results.md";
    static final String CSV_FILE = "results.csv";

    @Spec
    CommandSpec spec;

    @Option(names = "--frames-per-program", defaultValue = "1000000", paramLabel = "N",
        description = "Frames each program runs (default: ${DEFAULT-VALUE}).")
    long framesPerProgram;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "S",
        description = "Seed every frame is made from (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--program", paramLabel = "NAME", split = ",",
        description = "Only these programs: crab_lb, crab_lb_fallback, crab_client_egress, crab_client_ingress,"
            + " crab_server_ingress, crab_server_egress (default: all).")
    List<String> programs = new ArrayList<>();

    @Option(names = "--index", paramLabel = "I",
        description = "Run only frame I of each program, on a fresh fixture, and print it; writes no files.")
    Long index;

    @Option(names = "--out", paramLabel = "DIR",
        description = "Results directory (default: bench/results/DATE-hostile).")
    Path out;

    private static Target target(final String program)
    {
        try
        {
            return Target.of(program);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new ConfigException("--program " + ex.getMessage());
        }
    }

    @Override
    public Integer call() throws IOException
    {
        final PrintWriter printer = spec.commandLine().getOut();
        if (framesPerProgram < 1)
        {
            throw new ConfigException("--frames-per-program must be at least 1, got " + framesPerProgram);
        }
        final List<Target> targets = programs.isEmpty() ? Arrays.asList(Target.values()) :
            programs.stream().map(HostileCommand::target).toList();
        if (index != null)
        {
            long violations = 0;
            for (final Target target : targets)
            {
                violations += Campaign.run(target, seed, index, 1, true, printer::println).violationCount();
            }
            printer.flush();
            return violations == 0 ? Cli.OK : Cli.FAILED;
        }

        final Instant started = Instant.now();
        final String command = "crab-bench " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        final Path dir = out != null ? out : Path.of("bench", "results",
            DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(started) + "-hostile");
        final List<ProgramResult> results = new ArrayList<>();
        final long begin = System.nanoTime();
        for (final Target target : targets)
        {
            printer.printf("crab-bench hostile: %s, %d frames, seed %d%n", target.program, framesPerProgram, seed);
            printer.flush();
            results.add(Campaign.run(target, seed, 0, framesPerProgram, false, line ->
            {
                printer.println(line);
                printer.flush();
            }));
        }
        final CampaignResult result = new CampaignResult(command, started, System.nanoTime() - begin, seed,
            framesPerProgram, MachineInfo.detect(), uname(), results);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(MARKDOWN_FILE), HostileReport.markdown(result));
        Files.writeString(dir.resolve(CSV_FILE), HostileReport.csv(result));
        results.forEach(p -> p.violations().forEach(v -> printer.print(v.report())));
        printer.printf("crab-bench hostile: %d frames, %d violations, %.1f s; wrote %s and %s%n", result.frames(),
            result.violations(), result.elapsedNs() / 1e9, dir.resolve(MARKDOWN_FILE), dir.resolve(CSV_FILE));
        printer.flush();
        return result.violations() == 0 ? Cli.OK : Cli.FAILED;
    }

    /** {@code uname -a}, or "unknown": a description of the machine must not cost the results. */
    static String uname()
    {
        try
        {
            final Process process = new ProcessBuilder("uname", "-a").redirectErrorStream(true).start();
            final String text = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            return process.waitFor() == 0 && !text.isEmpty() ? text : MachineInfo.UNKNOWN;
        }
        catch (final IOException ex)
        {
            return MachineInfo.UNKNOWN;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return MachineInfo.UNKNOWN;
        }
    }
}
