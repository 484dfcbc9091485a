package io.crab.bench.maglev;

import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.bench.CrabBench;
import io.crab.bench.results.MachineInfo;
import io.crab.lb.policy.MaglevMeasures;
import io.crab.lb.policy.MaglevTable;
import io.crab.lb.policy.MaglevTable.Member;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code crab-bench maglev}: how long a Maglev lookup table takes to build, and what it gives and moves. */
@Command(name = "maglev", mixinStandardHelpOptions = true,
    description = "Times Maglev lookup-table builds (equal weights, and weights 1..5 cycling) and measures each " +
        "table's largest share deviation and the slots that removing one backend moves. Writes maglev.md and " +
        "maglev.csv. Needs no root.")
public final class MaglevCommand implements Callable<Integer>
{
    /** Backends removed one at a time to measure disruption, spread over the key order. */
    private static final int REMOVALS = 20;

    @Spec
    CommandSpec spec;

    @Option(names = "--backends", defaultValue = "1000", description = "Backends in the table (default 1000).")
    int backends;

    @Option(names = "--size", defaultValue = "" + MaglevTable.DEFAULT_SIZE,
        description = "Table size, a prime (default ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--iterations", defaultValue = "200",
        description = "Timed builds per weighting, after as many untimed ones (default 200).")
    int iterations;

    @Option(names = "--out", description = "Results directory (default bench/results/DATE-maglev).")
    Path out;

    /**
     * One weighting's figures.
     *
     * @param weights       how the backends are weighted
     * @param buildMs       the timed builds' durations, sorted
     * @param maxDeviation  largest |share - weight share| over the backends, in share points
     * @param removedMean   mean over the removals of the slots moved among the backends that stayed, as a share
     * @param removedMax    the largest of those
     * @param removals      how many backends were removed, one at a time
     */
    record Row(String weights, double[] buildMs, double maxDeviation, double removedMean, double removedMax,
        int removals)
    {
        double minMs()
        {
            return buildMs[0];
        }

        double maxMs()
        {
            return buildMs[buildMs.length - 1];
        }

        double medianMs()
        {
            final int middle = buildMs.length / 2;
            return buildMs.length % 2 == 1 ? buildMs[middle] : (buildMs[middle - 1] + buildMs[middle]) / 2;
        }

        double meanMs()
        {
            return Arrays.stream(buildMs).average().orElse(Double.NaN);
        }

        double buildsPerSecond()
        {
            return 1000.0 / meanMs();
        }
    }

    @Override
    public Integer call() throws Exception
    {
        if (backends < 1)
        {
            throw new ConfigException("--backends " + backends + ": must be 1 or more");
        }
        if (iterations < 1)
        {
            throw new ConfigException("--iterations " + iterations + ": must be 1 or more");
        }
        final PrintWriter printer = spec.commandLine().getOut();
        final Instant started = Instant.now();
        final String command = "crab-bench " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        final Path dir = out != null ? out : CrabBench.resultsDir(started, "maglev");

        final List<Row> rows = new ArrayList<>();
        for (final boolean mixed : new boolean[]{false, true})
        {
            final List<Member> members = members(backends, mixed);
            try
            {
                MaglevTable.build(members, size);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new ConfigException("--size " + size + ", --backends " + backends + ": " + ex.getMessage());
            }
            printer.printf("crab-bench maglev: %s, %d backends, %d slots: %d warm-up and %d timed builds...%n",
                mixed ? "weights 1..5" : "equal weights", backends, size, iterations, iterations);
            printer.flush();
            rows.add(measure(members, mixed ? "1..5 cycling" : "equal"));
        }

        Files.createDirectories(dir);
        final String report = markdown(rows, command, started);
        Files.writeString(dir.resolve("maglev.md"), report);
        Files.writeString(dir.resolve("maglev.csv"), csv(rows));
        printer.println();
        printer.print(report);
        printer.printf("%nwrote %s and %s%n", dir.resolve("maglev.md"), dir.resolve("maglev.csv"));
        printer.flush();
        return Cli.OK;
    }

    private Row measure(final List<Member> members, final String weights)
    {
        final int[] reference = MaglevTable.build(members, size);
        for (int i = 0; i < iterations; i++)
        {
            requireSame(reference, MaglevTable.build(members, size));
        }
        final double[] buildMs = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            final long start = System.nanoTime();
            final int[] table = MaglevTable.build(members, size);
            buildMs[i] = (System.nanoTime() - start) / 1e6;
            // Outside the timed span; it also keeps the JIT from discarding a build nobody reads.
            requireSame(reference, table);
        }
        Arrays.sort(buildMs);

        final int removals = Math.min(REMOVALS, members.size() - 1);
        double movedSum = 0;
        double movedMax = 0;
        for (int r = 0; r < removals; r++)
        {
            final List<Member> rest = new ArrayList<>(members);
            rest.remove((int)((long)r * (members.size() - 1) / Math.max(1, removals - 1)));
            final double moved = MaglevMeasures.movedAmongStaying(members, reference, rest,
                MaglevTable.build(rest, size));
            movedSum += moved;
            movedMax = Math.max(movedMax, moved);
        }
        return new Row(weights, buildMs, MaglevMeasures.maxShareDeviation(members, reference),
            removals == 0 ? 0 : movedSum / removals, movedMax, removals);
    }

    private static void requireSame(final int[] reference, final int[] table)
    {
        if (!Arrays.equals(reference, table))
        {
            throw new IllegalStateException("two builds of the same members gave different tables");
        }
    }

    /** Backends 10.x.y.z:8080, numbered from 10.0.0.0; weights equal or 1..5 cycling. */
    private static List<Member> members(final int count, final boolean mixedWeights)
    {
        final List<Member> members = new ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            members.add(new Member(String.format(Locale.ROOT, "10.%d.%d.%d:8080", (i >>> 16) & 0xFF,
                (i >>> 8) & 0xFF, i & 0xFF), mixedWeights ? 1 + i % 5 : 1));
        }
        return members;
    }

    private String markdown(final List<Row> rows, final String command, final Instant started)
    {
        final StringBuilder md = new StringBuilder();
        md.append("# Maglev lookup-table build\n\n");
        md.append("- Command: `").append(command).append("`\n");
        md.append("- Started: ").append(started).append('\n');
        md.append("- Machine: ").append(MachineInfo.detect().summary()).append('\n');
        md.append(String.format(Locale.ROOT, "- Table: %d backends, %d slots; %d untimed warm-up builds, then %d " +
            "timed builds (System.nanoTime around each), per weighting%n%n", backends, size, iterations, iterations));
        md.append("| weights | min ms | median ms | mean ms | max ms | builds/s | max share deviation, points | " +
            "removing one backend moves, mean | max | bound 1/N + 1% |\n|---|---|---|---|---|---|---|---|---|---|\n");
        final double bound = 1.0 / backends + 0.01;
        for (final Row r : rows)
        {
            md.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.2f | %.0f | %.4f | %.3f%% | %.3f%% " +
                "| %.3f%% |%n", r.weights(), r.minMs(), r.medianMs(), r.meanMs(), r.maxMs(), r.buildsPerSecond(),
                100 * r.maxDeviation(), 100 * r.removedMean(), 100 * r.removedMax(), 100 * bound));
        }
        md.append(String.format(Locale.ROOT, "%nThe share deviation is the largest difference, over the backends, " +
            "between a backend's share of the slots and its weight's share of the total weight, in percentage " +
            "points; the tests hold the builder to 1 point, and it aims at one slot. Disruption: %d backends, spread " +
            "over the key order, were each removed in turn from the full set and the table rebuilt; the figure is " +
            "the share of all slots that changed owner between two backends that both stayed (the removed " +
            "backend's own slots must move and are not counted).%n",
            rows.get(0).removals()));
        return md.toString();
    }

    private String csv(final List<Row> rows)
    {
        final StringBuilder csv = new StringBuilder("weights,backends,size,iterations,min_ms,median_ms,mean_ms," +
            "max_ms,builds_per_s,max_share_deviation,removal_moved_mean,removal_moved_max,removals\n");
        for (final Row r : rows)
        {
            csv.append(String.format(Locale.ROOT, "%s,%d,%d,%d,%.4f,%.4f,%.4f,%.4f,%.1f,%.6f,%.6f,%.6f,%d%n",
                r.weights(), backends, size, iterations, r.minMs(), r.medianMs(), r.meanMs(), r.maxMs(),
                r.buildsPerSecond(), r.maxDeviation(), r.removedMean(), r.removedMax(), r.removals()));
        }
        return csv.toString();
    }
}
