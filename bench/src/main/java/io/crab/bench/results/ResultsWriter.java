package io.crab.bench.results;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;

import io.crab.bench.traffic.FailureKind;
import io.crab.bench.traffic.LatencyReport;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.Tables;
import io.crab.bench.traffic.Workload;

/** Writes a bench run's results as results.md, results.csv and latency.png. */
public final class ResultsWriter
{
    public static final String MARKDOWN_FILE = "results.md";
    public static final String CSV_FILE = "results.csv";
    public static final String CHART_FILE = "latency.png";

    /** The start time as shown to people: UTC, to the second, so runs on different machines line up. */
    static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'", Locale.ROOT)
        .withZone(ZoneOffset.UTC);

    private static final String NO_VALUE = "-";
    /** The CSV's last columns: the LB's packets, CPU, BPF time and their sources, which belong to the mode. */
    private static final int LB_CSV_COLUMNS = 5;
    private static final String REFUSED = "refused: ";
    private static final double NANOS_PER_MICRO = 1_000.0;

    private ResultsWriter()
    {
    }

    /**
     * Writes the three files into {@code dir}, creating it if needed and replacing files of the same names.
     * The chart comes last, so the tables are on disk even if drawing fails.
     */
    public static ResultFiles write(final BenchResults results, final Path dir) throws IOException
    {
        Files.createDirectories(dir);
        final ResultFiles files = new ResultFiles(
            dir.resolve(MARKDOWN_FILE), dir.resolve(CSV_FILE), dir.resolve(CHART_FILE));
        Files.writeString(files.markdown(), markdown(results), StandardCharsets.UTF_8);
        Files.writeString(files.csv(), csv(results), StandardCharsets.UTF_8);
        LatencyChart.write(results, files.chart());
        return files;
    }

    /** The report for people: context, the comparison table, how to read it, and every percentile. */
    public static String markdown(final BenchResults results)
    {
        final MachineInfo machine = results.machine();
        final StringBuilder out = new StringBuilder();
        out.append("# crab benchmark results\n\n");
        out.append("Started ").append(DATE.format(results.started())).append(".\n\n");
        out.append("Command:\n\n```sh\n").append(results.command()).append("\n```\n\n");

        out.append(machine.markdown());

        final RunParameters parameters = results.parameters();
        out.append("## Parameters\n\n");
        out.append("- Payload: ").append(parameters.payloadBytes()).append(" bytes\n");
        out.append("- Workers: ").append(parameters.concurrency()).append('\n');
        out.append("- Rounds: ").append(parameters.rounds()).append('\n');
        out.append("- Each run: ").append(parameters.runBound()).append("\n\n");

        out.append("## Results\n\n");
        appendSummaryTable(out, results);
        out.append('\n').append("![Latency percentiles per mode](").append(CHART_FILE).append(")\n\n");
        appendHowToRead(out, results.baselineMode());
        appendLbAgent(out, results.lbAgentCpuShare());

        out.append("\n## All percentiles\n\n");
        appendPercentileTable(out, results);
        appendRounds(out, results);
        return out.toString();
    }

    /**
     * Each round's p50, and per mode the median over rounds of its p50 divided by the baseline's in the same round.
     * Latency on a small machine is often bimodal (whether the client and server threads share a core), and a
     * round that ran in the fast mode completes far more transactions, so it dominates the merged percentiles;
     * the per-round ratio compares modes only within the same conditions.
     */
    private static void appendRounds(final StringBuilder out, final BenchResults results)
    {
        if (results.rounds().isEmpty())
        {
            return;
        }
        out.append("\n## Round by round\n\n| mode | workload | p50 µs per round | median of p50 / ")
            .append(results.baselineMode()).append(" per round |\n| --- | --- | --- | ---: |\n");
        for (final ModeResult mode : results.modes())
        {
            final Map<Workload, List<Double>> byWorkload = results.rounds().get(mode.mode());
            if (byWorkload == null)
            {
                continue;
            }
            for (final Map.Entry<Workload, List<Double>> e : byWorkload.entrySet())
            {
                final List<Double> base = results.rounds().getOrDefault(results.baselineMode(), Map.of())
                    .get(e.getKey());
                out.append("| ").append(mode.mode()).append(" | ").append(e.getKey()).append(" | ")
                    .append(e.getValue().stream().map(v -> String.format(Locale.ROOT, "%.1f", v))
                        .collect(Collectors.joining(", ")))
                    .append(" | ").append(ratioText(medianRatio(e.getValue(), base))).append(" |\n");
            }
        }
    }

    private static String ratioText(final double ratio)
    {
        return Double.isNaN(ratio) ? "-" : String.format(Locale.ROOT, "%.2fx", ratio);
    }

    /** The median over rounds of value / baseline in the same round; NaN without a full baseline. */
    static double medianRatio(final List<Double> values, final List<Double> baseline)
    {
        if (baseline == null || baseline.size() != values.size() || values.isEmpty())
        {
            return Double.NaN;
        }
        final double[] ratios = new double[values.size()];
        for (int i = 0; i < ratios.length; i++)
        {
            ratios[i] = values.get(i) / baseline.get(i);
        }
        Arrays.sort(ratios);
        final int mid = ratios.length / 2;
        return ratios.length % 2 == 1 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2;
    }

    /**
     * Every figure, one line per mode and workload (every mode gets one for each workload). path_check is "ok" or why
     * the mode was refused; figures are empty where the workload was not run or the mode was refused. The LB's
     * packets and CPU are per CRR connection, so they are on the CRR line only.
     */
    public static String csv(final BenchResults results)
    {
        final String baseline = results.baselineMode();
        final List<String> header = new ArrayList<>(
            List.of("mode", "workload", "path_check", "transactions", "failures"));
        for (final FailureKind kind : FailureKind.values())
        {
            header.add(kind.name().toLowerCase(Locale.ROOT) + "_failures");
        }
        header.addAll(List.of("elapsed_ms", "tx_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
            "p50_vs_" + baseline, "p99_vs_" + baseline,
            "lb_packets_per_connection", "lb_cpu_ns_per_connection", "cpu_source", "lb_bpf_ns_per_connection",
            "bpf_programs"));

        final StringBuilder out = new StringBuilder();
        Tables.csvRow(out, header);
        for (final ModeResult mode : results.modes())
        {
            for (final Workload workload : Workload.values())
            {
                final List<String> cells = new ArrayList<>(List.of(mode.mode(), workload.name(), mode.pathCheck()));
                final Optional<LoadResult> reportable = mode.reportable(workload);
                if (reportable.isPresent())
                {
                    appendCsvFigures(cells, reportable.get(), results.baseline(workload));
                }
                else
                {
                    cells.addAll(Collections.nCopies(header.size() - cells.size() - LB_CSV_COLUMNS, ""));
                }
                final boolean lbFigures = workload == Workload.CRR && !mode.isRefused();
                cells.add(lbFigures && Double.isFinite(mode.lbPacketsPerCrrTransaction())
                    ? decimal(mode.lbPacketsPerCrrTransaction(), 3) : "");
                cells.add(lbFigures && mode.lbCpuNsPerConnection().isPresent()
                    ? decimal(mode.lbCpuNsPerConnection().getAsDouble(), 1) : "");
                cells.add(lbFigures && mode.lbCpuNsPerConnection().isPresent() ? mode.cpuSource() : "");
                cells.add(lbFigures && mode.bpfNsPerConnection().isPresent()
                    ? decimal(mode.bpfNsPerConnection().getAsDouble(), 1) : "");
                cells.add(lbFigures && mode.bpfNsPerConnection().isPresent() ? mode.bpfPrograms() : "");
                Tables.csvRow(out, cells);
            }
        }
        return out.toString();
    }

    private static void appendCsvFigures(
        final List<String> cells, final LoadResult result, final Optional<LoadResult> baseline)
    {
        final boolean measured = result.transactions() > 0;
        cells.add(Long.toString(result.transactions()));
        cells.add(Long.toString(result.failureCount()));
        for (final FailureKind kind : FailureKind.values())
        {
            cells.add(Long.toString(result.failures(kind)));
        }
        cells.add(Long.toString(TimeUnit.NANOSECONDS.toMillis(result.elapsedNanos())));
        cells.add(decimal(result.throughput(), 1));
        for (final ToDoubleFunction<LoadResult> latency : List.<ToDoubleFunction<LoadResult>>of(
            LoadResult::p50Us, LoadResult::p90Us, LoadResult::p99Us, LoadResult::p999Us, LoadResult::maxUs))
        {
            cells.add(measured ? decimal(latency.applyAsDouble(result), 3) : "");
        }
        for (final ToDoubleFunction<LoadResult> latency : List.<ToDoubleFunction<LoadResult>>of(
            LoadResult::p50Us, LoadResult::p99Us))
        {
            final OptionalDouble ratio = ratio(result, baseline, latency);
            cells.add(ratio.isPresent() ? decimal(ratio.getAsDouble(), 4) : "");
        }
    }

    private static void appendSummaryTable(final StringBuilder out, final BenchResults results)
    {
        final String versus = " vs " + results.baselineMode();
        final List<String> header = List.of("mode",
            "CRR p50 µs", "CRR p99 µs", "CRR p50" + versus, "CRR p99" + versus,
            "RR p50 µs", "RR p99 µs", "RR p50" + versus, "RR p99" + versus,
            "CRR conn/s", "LB packets per connection", "LB CPU per connection", "of which BPF", "path check");
        Tables.markdownRow(out, header);
        final StringJoiner rule = new StringJoiner(" |", "|", " |\n");
        rule.add(" ---");
        for (int column = 1; column < header.size() - 1; column++)
        {
            rule.add(" ---:");
        }
        rule.add(" ---");
        out.append(rule);

        for (final ModeResult mode : results.modes())
        {
            final List<String> cells = new ArrayList<>(List.of(mode.mode()));
            if (mode.isRefused())
            {
                // The bench does not vouch for figures measured on the wrong path, so none are shown.
                cells.addAll(Collections.nCopies(header.size() - 2, NO_VALUE));
                cells.add(REFUSED + mode.pathCheck());
                Tables.markdownRow(out, cells);
                continue;
            }
            for (final Workload workload : Workload.values())
            {
                final Optional<LoadResult> result = mode.reportable(workload).filter(r -> r.transactions() > 0);
                final Optional<LoadResult> baseline = results.baseline(workload);
                cells.add(result.map(r -> decimal(r.p50Us(), 1)).orElse(NO_VALUE));
                cells.add(result.map(r -> decimal(r.p99Us(), 1)).orElse(NO_VALUE));
                cells.add(result.map(r -> LatencyReport.formatRatio(ratio(r, baseline, LoadResult::p50Us)))
                    .orElse(NO_VALUE));
                cells.add(result.map(r -> LatencyReport.formatRatio(ratio(r, baseline, LoadResult::p99Us)))
                    .orElse(NO_VALUE));
            }
            cells.add(mode.reportable(Workload.CRR).map(r -> decimal(r.throughput(), 0)).orElse(NO_VALUE));
            cells.add(Double.isFinite(mode.lbPacketsPerCrrTransaction())
                ? decimal(mode.lbPacketsPerCrrTransaction(), 1) : NO_VALUE);
            cells.add(micros(mode.lbCpuNsPerConnection(), mode.cpuSource()));
            cells.add(micros(mode.bpfNsPerConnection(), mode.bpfPrograms()));
            cells.add(mode.pathCheck());
            Tables.markdownRow(out, cells);
        }
    }

    private static void appendLbAgent(final StringBuilder out, final OptionalDouble share)
    {
        if (share.isPresent())
        {
            out.append("\ncrab-lb itself (the control plane, which runs in every mode and handles no packet of a ")
                .append("connection) used ").append(decimal(share.getAsDouble() * 100, 1))
                .append(" % of a core during the LB CPU runs; it is not in the LB CPU column.\n");
        }
    }

    private static void appendHowToRead(final StringBuilder out, final String baseline)
    {
        out.append("How to read this: CRR opens a new TCP connection for every transaction (connect, request, ")
            .append("response, close), so it shows what a mode adds to connection setup; RR sends its requests ")
            .append("over connections kept open, so it shows the data path. p50 and p99 are the median and the ")
            .append("99th-percentile transaction latency in microseconds, over all rounds merged. \"vs ")
            .append(baseline).append("\" divides a mode's latency by ").append(baseline)
            .append("'s at the same percentile and workload: 1.10x is 10 % slower. CRR conn/s counts the ")
            .append("connections all workers completed per second; the workers are a closed loop, so it follows ")
            .append("latency. LB packets per connection is what the load balancer handled per CRR transaction: a ")
            .append("connection-redirect balancer such as crab handles only the SYN, a NAT or a proxy every packet. ")
            .append("LB CPU per connection is the balancer's CPU time per CRR connection, measured alike for ")
            .append("every mode, by BPF programs on the kernel's tracepoints, in a CRR run of its own after the ")
            .append("latency rounds: \"kernel\" is the time of the NAPI polls of the LB's interface, in which the ")
            .append("kernel does all its work on the packets the LB receives (crab's XDP program, the IP stack, ")
            .append("netfilter, forwarding, TCP) and no other host's; \"+ haproxy\" adds the proxy process's own ")
            .append("time, less the softirqs that ran in it (other devices' work, or the polls counted already). ")
            .append(baseline).append(" bypasses the LB: its figure, 0 or nearly, shows that other hosts' ")
            .append("traffic does not count. \"of which BPF\" is the run time of crab's programs per CRR ")
            .append("connection in the latency rounds (the kernel's BPF statistics): the part of the LB's work that ")
            .append("is crab's code. A mode whose path check failed (its traffic did not take the path the mode ")
            .append("claims) is marked refused, with the reason, and none of its figures are reported.\n");
    }

    private static void appendPercentileTable(final StringBuilder out, final BenchResults results)
    {
        Tables.markdownRow(out, List.of("mode", "workload", "transactions", "failures", "tx/s",
            "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs"));
        out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (final Workload workload : Workload.values())
        {
            for (final ModeResult mode : results.modes())
            {
                final Optional<LoadResult> reportable = mode.reportable(workload);
                if (reportable.isEmpty())
                {
                    continue;
                }
                final LoadResult result = reportable.get();
                final List<String> cells = new ArrayList<>(List.of(mode.mode(), workload.name(),
                    Long.toString(result.transactions()), failures(result), decimal(result.throughput(), 0)));
                for (final ToDoubleFunction<LoadResult> latency : List.<ToDoubleFunction<LoadResult>>of(
                    LoadResult::p50Us, LoadResult::p90Us, LoadResult::p99Us, LoadResult::p999Us, LoadResult::maxUs))
                {
                    cells.add(result.transactions() > 0 ? decimal(latency.applyAsDouble(result), 1) : NO_VALUE);
                }
                Tables.markdownRow(out, cells);
            }
        }
    }

    /** The latency over the baseline's at the same percentile; empty without a baseline or a measurement. */
    private static OptionalDouble ratio(
        final LoadResult result, final Optional<LoadResult> baseline, final ToDoubleFunction<LoadResult> latency)
    {
        if (result.transactions() == 0 || baseline.isEmpty())
        {
            return OptionalDouble.empty();
        }
        return LatencyReport.ratio(latency.applyAsDouble(result), latency.applyAsDouble(baseline.get()));
    }

    /** "1.23 µs (kernel)", or {@link #NO_VALUE} when not measured. */
    private static String micros(final OptionalDouble nanos, final String source)
    {
        if (nanos.isEmpty())
        {
            return NO_VALUE;
        }
        final String micros = decimal(nanos.getAsDouble() / NANOS_PER_MICRO, 2) + " µs";
        return source.isEmpty() ? micros : micros + " (" + source + ")";
    }

    /** "3 (connect 2, timeout 1)", naming only the kinds that occurred. */
    private static String failures(final LoadResult result)
    {
        if (result.failureCount() == 0)
        {
            return "0";
        }
        final StringJoiner kinds = new StringJoiner(", ", " (", ")");
        for (final FailureKind kind : FailureKind.values())
        {
            if (result.failures(kind) > 0)
            {
                kinds.add(kind.name().toLowerCase(Locale.ROOT) + " " + result.failures(kind));
            }
        }
        return result.failureCount() + kinds.toString();
    }



    /** Locale.ROOT so a German desktop does not turn decimal points into commas. */
    private static String decimal(final double value, final int places)
    {
        return String.format(Locale.ROOT, "%." + places + "f", value);
    }
}
