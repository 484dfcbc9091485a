package io.crab.bench.traffic;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Renders load results as a text table, markdown or CSV, optionally comparing each row's p50 with a baseline mode.
 *
 * @param rows     results in the order to print them
 * @param baseline mode label whose rows the others are compared with, per kind
 */
public record LatencyReport(List<LoadResult> rows, Optional<String> baseline)
{
    private static final String NO_VALUE = "-";
    private static final List<String> HEADER = List.of(
        "mode", "kind", "transactions", "failures", "tx/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs");
    /** Leading columns holding labels, aligned left; the rest are numbers, aligned right. */
    private static final int LABEL_COLUMNS = 2;

    public LatencyReport
    {
        rows = List.copyOf(rows);
        Objects.requireNonNull(baseline, "baseline");
    }

    public static LatencyReport of(final List<LoadResult> rows)
    {
        return new LatencyReport(rows, Optional.empty());
    }

    public LatencyReport withBaseline(final String mode)
    {
        return new LatencyReport(rows, Optional.of(mode));
    }

    /** value / baseline; empty when the baseline is not a positive number or the value is not a number. */
    public static OptionalDouble ratio(final double value, final double baseline)
    {
        if (!(baseline > 0) || Double.isInfinite(baseline) || !Double.isFinite(value) || value < 0)
        {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of(value / baseline);
    }

    /** A ratio as shown in the tables, e.g. "1.07x", or "-" when there is none. */
    public static String formatRatio(final OptionalDouble ratio)
    {
        return ratio.isPresent() ? String.format(Locale.ROOT, "%.2fx", ratio.getAsDouble()) : NO_VALUE;
    }

    /** The row's p50 over the p50 of the first baseline row of the same kind; empty if either measured nothing. */
    public OptionalDouble p50Ratio(final LoadResult row)
    {
        if (baseline.isEmpty() || row.transactions() == 0)
        {
            return OptionalDouble.empty();
        }
        return rows.stream()
            .filter(candidate -> candidate.mode().equals(baseline.get()) && candidate.kind() == row.kind())
            .filter(candidate -> candidate.transactions() > 0)
            .findFirst()
            .map(base -> ratio(row.p50Us(), base.p50Us()))
            .orElse(OptionalDouble.empty());
    }

    /** Aligned columns for a terminal, with a rule under the header. */
    public String text()
    {
        return Tables.text(table(), LABEL_COLUMNS);
    }

    /** A GitHub-flavoured markdown table. */
    public String markdown()
    {
        return Tables.markdown(table(), LABEL_COLUMNS);
    }

    /** Machine-readable form: raw numbers, failures split by kind, empty cells where there is no value. */
    public String csv()
    {
        final List<String> header = new ArrayList<>(List.of("mode", "kind", "transactions", "failures"));
        for (final FailureKind kind : FailureKind.values())
        {
            header.add(kind.name().toLowerCase(Locale.ROOT) + "_failures");
        }
        header.addAll(List.of("elapsed_ms", "tx_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"));
        baseline.ifPresent(mode -> header.add("p50_vs_" + mode));

        final StringBuilder out = new StringBuilder();
        Tables.csvRow(out, header);
        for (final LoadResult row : rows)
        {
            final List<String> cells = new ArrayList<>(List.of(
                row.mode(), row.kind().name(), Long.toString(row.transactions()), Long.toString(row.failureCount())));
            for (final FailureKind kind : FailureKind.values())
            {
                cells.add(Long.toString(row.failures(kind)));
            }
            cells.add(Long.toString(TimeUnit.NANOSECONDS.toMillis(row.elapsedNanos())));
            cells.add(decimal(row.throughput(), 1));
            for (final ToDoubleFunction<LoadResult> latency : latencies(true))
            {
                cells.add(row.transactions() == 0 ? "" : decimal(latency.applyAsDouble(row), 3));
            }
            if (baseline.isPresent())
            {
                final OptionalDouble ratio = p50Ratio(row);
                cells.add(ratio.isPresent() ? decimal(ratio.getAsDouble(), 4) : "");
            }
            Tables.csvRow(out, cells);
        }
        return out.toString();
    }

    /** Header and cells shared by the text and markdown forms. */
    private List<List<String>> table()
    {
        final List<List<String>> table = new ArrayList<>();
        final List<String> header = new ArrayList<>(HEADER);
        baseline.ifPresent(mode -> header.add("p50 vs " + mode));
        table.add(header);
        for (final LoadResult row : rows)
        {
            final List<String> cells = new ArrayList<>(List.of(
                row.mode(),
                row.kind().name(),
                Long.toString(row.transactions()),
                Long.toString(row.failureCount()),
                decimal(row.throughput(), 1)));
            for (final ToDoubleFunction<LoadResult> latency : latencies(false))
            {
                cells.add(row.transactions() == 0 ? NO_VALUE : decimal(latency.applyAsDouble(row), 1));
            }
            if (baseline.isPresent())
            {
                cells.add(formatRatio(p50Ratio(row)));
            }
            table.add(cells);
        }
        return table;
    }

    /** Locale.ROOT so a German desktop does not turn the CSV's decimal points into commas. */
    private static String decimal(final double value, final int places)
    {
        return String.format(Locale.ROOT, "%." + places + "f", value);
    }

    private static List<ToDoubleFunction<LoadResult>> latencies(final boolean withMax)
    {
        final List<ToDoubleFunction<LoadResult>> latencies = new ArrayList<>(List.of(
            LoadResult::p50Us, LoadResult::p90Us, LoadResult::p99Us, LoadResult::p999Us));
        if (withMax)
        {
            latencies.add(LoadResult::maxUs);
        }
        return latencies;
    }


}
