package io.crab.bench.policy;

import io.crab.bench.results.MachineInfo;
import io.crab.bench.traffic.Tables;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalDouble;

/** Writes the policy experiment's results: README.md, results.csv, shares.csv, headroom.csv and p99.png. */
public final class PolicyReport
{
    public static final String MARKDOWN_FILE = "README.md";
    public static final String CSV_FILE = "results.csv";
    public static final String SHARES_FILE = "shares.csv";
    public static final String HEADROOM_FILE = "headroom.csv";
    public static final String CHART_FILE = "p99.png";
    /** The policy every other is compared with: what a load balancer that knows nothing does. */
    public static final String BASELINE = "random";
    /** The load point of the ratio to the baseline, where the paper's policies differ clearly. */
    public static final int RATIO_LOAD = 80;

    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'",
        Locale.ROOT).withZone(ZoneOffset.UTC);
    private static final String NO_VALUE = "-";

    private PolicyReport()
    {
    }

    /** Writes every file into {@code dir}, creating it; the chart last, so the tables are there if it fails. */
    public static List<Path> write(final PolicyResults results, final Path dir) throws IOException
    {
        Files.createDirectories(dir);
        final List<Path> files = List.of(dir.resolve(MARKDOWN_FILE), dir.resolve(CSV_FILE), dir.resolve(SHARES_FILE),
            dir.resolve(HEADROOM_FILE), dir.resolve(CHART_FILE));
        Files.writeString(files.get(0), markdown(results), StandardCharsets.UTF_8);
        Files.writeString(files.get(1), csv(results), StandardCharsets.UTF_8);
        Files.writeString(files.get(2), sharesCsv(results), StandardCharsets.UTF_8);
        Files.writeString(files.get(3), headroomCsv(results), StandardCharsets.UTF_8);
        PolicyChart.write(results, files.get(4));
        return files;
    }

    /** One line per run: the figures of the paper's plot first, then what says whether the run can be trusted. */
    public static String csv(final PolicyResults results)
    {
        final StringBuilder out = new StringBuilder();
        Tables.csvRow(out, List.of("policy", "load_percent", "offered_per_s", "achieved_per_s", "p50_ms", "p99_ms",
            "p999_ms", "failures", "scheduled", "answered", "late_starts", "p99_start_lag_ms", "max_start_lag_ms",
            "min_share", "max_share"));
        for (final PolicyRun run : results.runs())
        {
            final OpenLoopResult r = run.result();
            Tables.csvRow(out, List.of(run.policy(), Integer.toString(run.loadPercent()), decimal(r.offeredRate(), 1),
                decimal(r.achievedRate(), 1), decimal(r.p50Ms(), 3), decimal(r.p99Ms(), 3), decimal(r.p999Ms(), 3),
                Long.toString(r.failureCount()), Long.toString(r.scheduled()), Long.toString(r.answered()),
                Long.toString(r.lateStarts()), decimal(r.p99StartLagMs(), 3), decimal(r.maxStartLagMs(), 3),
                decimal(minShare(r, results.backends().size()), 4), decimal(maxShare(r, results.backends().size()), 4)));
        }
        return out.toString();
    }

    /** One line per run and backend: how many of the run's answered connections each backend answered. */
    public static String sharesCsv(final PolicyResults results)
    {
        final StringBuilder out = new StringBuilder();
        Tables.csvRow(out, List.of("policy", "load_percent", "backend", "address", "answered", "share"));
        for (final PolicyRun run : results.runs())
        {
            for (int id = 0; id < results.backends().size(); id++)
            {
                Tables.csvRow(out, List.of(run.policy(), Integer.toString(run.loadPercent()), Integer.toString(id),
                    results.backends().get(id), Long.toString(run.result().answeredBy().getOrDefault(id, 0L)),
                    decimal(run.result().share(id), 4)));
            }
        }
        return out.toString();
    }

    /** One line per headroom step. */
    public static String headroomCsv(final PolicyResults results)
    {
        final StringBuilder out = new StringBuilder();
        Tables.csvRow(out, List.of("load_percent", "offered_per_s", "achieved_per_s", "p50_ms", "p99_ms", "failures",
            "scheduled", "late_starts", "p99_start_lag_ms", "max_start_lag_ms", "kept_up"));
        for (final HeadroomStep step : results.headroom())
        {
            final OpenLoopResult r = step.result();
            Tables.csvRow(out, List.of(Integer.toString(step.loadPercent()), decimal(r.offeredRate(), 1),
                decimal(r.achievedRate(), 1), decimal(r.p50Ms(), 3), decimal(r.p99Ms(), 3),
                Long.toString(r.failureCount()), Long.toString(r.scheduled()), Long.toString(r.lateStarts()),
                decimal(r.p99StartLagMs(), 3), decimal(r.maxStartLagMs(), 3), Boolean.toString(step.keptUp())));
        }
        return out.toString();
    }

    /** The report for people: setup, the p99 by load and policy, the ratio to random, the headroom, every run. */
    public static String markdown(final PolicyResults results)
    {
        final PolicySettings settings = results.settings();
        final MachineInfo machine = results.machine();
        final int backends = results.backends().size();
        final StringBuilder out = new StringBuilder();
        out.append("# Tail latency by load-balancing policy\n\n");
        out.append("Started ").append(DATE.format(results.started())).append(".\n\n");
        out.append("Command:\n\n```sh\n").append(results.command()).append("\n```\n\n");

        out.append(machine.markdown());

        out.append("## Setup\n\n");
        out.append(String.format(Locale.ROOT, "- %d backends (%s), each serving one request at a time with an " +
            "exponential service time of mean %s; the others wait in its accept queue. Capacity at 100 %% load: " +
            "%.0f connections/s.%n", backends, backendsText(results.backends()), millis(settings.meanServiceTime()),
            results.capacity()));
        out.append("- One service, one VIP, port redirection to the backends' ports; crab-lb changes policy by a live " +
            "reload of its services file (SIGHUP), never a restart.\n");
        out.append("- One client host, open loop: Poisson arrivals at the offered rate, one new connection per " +
            "request, an 8-byte request and an 8-byte response. Latency runs from each arrival's scheduled time to " +
            "its response, so the client's own lateness is in it too (see late starts).\n");
        out.append(String.format(Locale.ROOT, "- Each run: %s of warm-up, then %s measured. At each load point every " +
            "policy runs once, over the same arrival schedule, before the next load point; the order rotates.%n%n",
            millis(settings.warmup()), millis(settings.window())));

        out.append("## p99 latency, ms\n\n");
        out.append(Tables.markdown(p99Table(results), 1)).append('\n');
        out.append("![p99 latency against load, one line per policy](").append(CHART_FILE).append(")\n\n");
        out.append(ratioText(results)).append("\n\n");
        final List<String> behind = results.runs().stream().filter(r -> !r.result().onSchedule())
            .map(r -> r.policy() + " at " + r.loadPercent() + " %").toList();
        if (!behind.isEmpty())
        {
            out.append(String.format(Locale.ROOT, "**The client fell behind its schedule** (over 1 %% of its " +
                "connections started more than %d ms late) in: %s. Their tails include the client's own lateness: " +
                "compare them with care, or run again on a quieter machine.%n%n",
                OpenLoopClient.ON_SCHEDULE_P99_LAG_NANOS / 1_000_000, String.join(", ", behind)));
        }

        out.append("## Headroom of the rig\n\n");
        out.append(headroomText(results)).append('\n');

        out.append("## Every run\n\n");
        out.append(Tables.markdown(runsTable(results), 2)).append('\n');
        out.append(String.format(Locale.ROOT, "A late start is a connection the client began more than %d ms after " +
            "its scheduled time. Shares are of the run's answered connections; an even split gives each backend " +
            "%.2f %%. Per backend in %s.%n", OpenLoopClient.LATE_NANOS / 1_000_000, 100.0 / backends, SHARES_FILE));
        return out.toString();
    }

    /** Rows the load points, columns the policies, cells the p99 in ms. */
    private static List<List<String>> p99Table(final PolicyResults results)
    {
        final List<List<String>> rows = new ArrayList<>();
        final List<String> header = new ArrayList<>(List.of("load"));
        header.addAll(results.settings().policies());
        rows.add(header);
        for (final int load : results.settings().loads())
        {
            final List<String> row = new ArrayList<>(List.of(load + " %"));
            for (final String policy : results.settings().policies())
            {
                row.add(find(results, policy, load).map(r -> figure(r.result().p99Ms(), 2)).orElse(NO_VALUE));
            }
            rows.add(row);
        }
        return rows;
    }

    private static String ratioText(final PolicyResults results)
    {
        final Optional<PolicyRun> baseline = find(results, BASELINE, RATIO_LOAD);
        if (baseline.isEmpty())
        {
            return "No ratio to " + BASELINE + ": it did not run at " + RATIO_LOAD + " % load.";
        }
        final List<String> ratios = new ArrayList<>();
        for (final String policy : results.settings().policies())
        {
            final OptionalDouble ratio = p99Ratio(results, policy, RATIO_LOAD);
            if (!policy.equals(BASELINE) && ratio.isPresent())
            {
                ratios.add(String.format(Locale.ROOT, "%s %.2fx", policy, ratio.getAsDouble()));
            }
        }
        return String.format(Locale.ROOT, "p99 at %d %% load relative to %s's (%.2f ms): %s.", RATIO_LOAD, BASELINE,
            baseline.get().result().p99Ms(), ratios.isEmpty() ? "no other policy ran" : String.join(", ", ratios));
    }

    /** A policy's p99 divided by the baseline's at the same load; empty if either did not run or answered nothing. */
    public static OptionalDouble p99Ratio(final PolicyResults results, final String policy, final int load)
    {
        final Optional<PolicyRun> run = find(results, policy, load);
        final Optional<PolicyRun> baseline = find(results, BASELINE, load);
        if (run.isEmpty() || baseline.isEmpty())
        {
            return OptionalDouble.empty();
        }
        final double ratio = run.get().result().p99Ms() / baseline.get().result().p99Ms();
        return Double.isFinite(ratio) ? OptionalDouble.of(ratio) : OptionalDouble.empty();
    }

    private static String headroomText(final PolicyResults results)
    {
        final StringBuilder out = new StringBuilder();
        final double needed = results.settings().loads().stream().mapToInt(Integer::intValue).max()
            .orElse(0) * results.capacity() / 100;
        if (results.headroom().isEmpty())
        {
            return "Not measured (no --headroom-loads).\n";
        }
        out.append("The same rig with every backend answering at once (rr), so that only the client, crab and the " +
            "machine limit the rate:\n\n");
        final List<List<String>> rows = new ArrayList<>();
        rows.add(List.of("offered", "connections/s offered", "achieved", "p50 ms", "p99 ms", "failed", "late starts",
            "p99 start lag ms", "max start lag ms", "kept up"));
        for (final HeadroomStep step : results.headroom())
        {
            final OpenLoopResult r = step.result();
            rows.add(List.of(step.loadPercent() + " %", figure(r.offeredRate(), 0), figure(r.achievedRate(), 0),
                figure(r.p50Ms(), 2), figure(r.p99Ms(), 2), Long.toString(r.failureCount()),
                r.lateStarts() + " of " + r.scheduled(), figure(r.p99StartLagMs(), 1), figure(r.maxStartLagMs(), 1),
                step.keptUp() ? "yes" : "no"));
        }
        out.append(Tables.markdown(rows, 1)).append('\n');
        final OptionalDouble kept = results.headroom().stream().filter(HeadroomStep::keptUp)
            .mapToDouble(s -> s.result().offeredRate()).max();
        out.append(String.format(Locale.ROOT, "The experiment offers at most %.0f connections/s. ", needed));
        out.append(kept.isPresent() ? String.format(Locale.ROOT, "The rig kept up with %.0f/s (%.1fx that).",
            kept.getAsDouble(), kept.getAsDouble() / needed) : "The rig kept up with none of the rates tried.");
        out.append(String.format(Locale.ROOT, " Kept up: nothing failed, responses came within the window at " +
            "least %.0f %% as fast as the arrivals scheduled in it, and 99 %% of the connections started at most %d ms " +
            "late.%n", HeadroomStep.RATE_TOLERANCE * 100, OpenLoopClient.ON_SCHEDULE_P99_LAG_NANOS / 1_000_000));
        return out.toString();
    }

    private static List<List<String>> runsTable(final PolicyResults results)
    {
        final int backends = results.backends().size();
        final List<List<String>> rows = new ArrayList<>();
        rows.add(List.of("policy", "load", "offered /s", "achieved /s", "p50 ms", "p99 ms", "p99.9 ms", "failed",
            "late starts", "max start lag ms", "share min–max %"));
        for (final PolicyRun run : results.runs())
        {
            final OpenLoopResult r = run.result();
            rows.add(List.of(run.policy(), run.loadPercent() + " %", figure(r.offeredRate(), 0),
                figure(r.achievedRate(), 0), figure(r.p50Ms(), 2), figure(r.p99Ms(), 2), figure(r.p999Ms(), 2),
                r.failureCount() + " of " + r.scheduled(), Long.toString(r.lateStarts()),
                figure(r.maxStartLagMs(), 1), figure(100 * minShare(r, backends), 2) + "–" +
                    figure(100 * maxShare(r, backends), 2)));
        }
        return rows;
    }

    private static Optional<PolicyRun> find(final PolicyResults results, final String policy, final int load)
    {
        return results.runs().stream().filter(r -> r.policy().equals(policy) && r.loadPercent() == load).findFirst();
    }

    private static double minShare(final OpenLoopResult r, final int backends)
    {
        double min = 1;
        for (int id = 0; id < backends; id++)
        {
            min = Math.min(min, r.share(id));
        }
        return min;
    }

    private static double maxShare(final OpenLoopResult r, final int backends)
    {
        double max = 0;
        for (int id = 0; id < backends; id++)
        {
            max = Math.max(max, r.share(id));
        }
        return max;
    }

    /** "4 servers x 4 ports" when the backends are a grid of servers and ports, else their number. */
    private static String backendsText(final List<String> backends)
    {
        final long hosts = backends.stream().map(b -> b.substring(0, b.indexOf(':'))).distinct().count();
        final long ports = backends.stream().map(b -> b.substring(b.indexOf(':') + 1)).distinct().count();
        return hosts * ports == backends.size() ? hosts + " servers x " + ports + " ports" :
            backends.size() + " addresses";
    }

    private static String millis(final Duration duration)
    {
        final double ms = duration.toNanos() / 1e6;
        return ms == Math.rint(ms) ? String.format(Locale.ROOT, "%d ms", (long)ms) :
            String.format(Locale.ROOT, "%s ms", ms);
    }

    /** A figure for a markdown table: {@link #NO_VALUE} where there is none (nothing answered). */
    private static String figure(final double value, final int places)
    {
        return Double.isFinite(value) ? decimal(value, places) : NO_VALUE;
    }

    /** A figure for a CSV: empty where there is none. */
    private static String decimal(final double value, final int places)
    {
        return Double.isFinite(value) ? String.format(Locale.ROOT, "%." + places + "f", value) : "";
    }
}
