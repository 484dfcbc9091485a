package io.crab.bench.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/** Ratio arithmetic and the three renderings of a report. */
class LatencyReportTest
{
    private static final List<LoadResult> ROWS = List.of(
        result("direct", Workload.CRR, 100, 1_000),
        result("crab", Workload.CRR, 107, 1_000),
        result("direct", Workload.RR, 40, 1_000),
        result("crab", Workload.RR, 50, 1_000),
        result("broken", Workload.RR, 0, 0));

    @Test
    void ratioDividesByAPositiveBaseline()
    {
        assertEquals(1.07, LatencyReport.ratio(107, 100).getAsDouble(), 1e-12);
        assertEquals(0.5, LatencyReport.ratio(50, 100).getAsDouble(), 1e-12);
        assertEquals(0.0, LatencyReport.ratio(0, 100).getAsDouble(), 1e-12);
    }

    @Test
    void ratioIsEmptyWithoutAUsableBaseline()
    {
        assertTrue(LatencyReport.ratio(100, 0).isEmpty());
        assertTrue(LatencyReport.ratio(100, -1).isEmpty());
        assertTrue(LatencyReport.ratio(100, Double.NaN).isEmpty());
        assertTrue(LatencyReport.ratio(Double.NaN, 100).isEmpty());
        assertTrue(LatencyReport.ratio(100, Double.POSITIVE_INFINITY).isEmpty());
    }

    @Test
    void ratioIsFormattedWithTwoDecimals()
    {
        assertEquals("1.07x", LatencyReport.formatRatio(OptionalDouble.of(1.0712)));
        assertEquals("1.00x", LatencyReport.formatRatio(OptionalDouble.of(1.0)));
        assertEquals("-", LatencyReport.formatRatio(OptionalDouble.empty()));
    }

    @Test
    void p50RatioComparesWithTheBaselineOfTheSameKind()
    {
        final LatencyReport report = LatencyReport.of(ROWS).withBaseline("direct");

        assertEquals(1.07, report.p50Ratio(ROWS.get(1)).getAsDouble(), 0.01);
        assertEquals(1.25, report.p50Ratio(ROWS.get(3)).getAsDouble(), 0.01);
        assertEquals(1.0, report.p50Ratio(ROWS.get(0)).getAsDouble(), 1e-12);
        assertTrue(report.p50Ratio(ROWS.get(4)).isEmpty(), "no measurements, no ratio");
        assertTrue(LatencyReport.of(ROWS).p50Ratio(ROWS.get(1)).isEmpty(), "no baseline, no ratio");
        assertTrue(LatencyReport.of(ROWS).withBaseline("absent").p50Ratio(ROWS.get(1)).isEmpty());
    }

    @Test
    void textHasAHeaderAndEveryRowAligned()
    {
        final String text = LatencyReport.of(ROWS).withBaseline("direct").text();
        final List<String> lines = text.lines().toList();

        assertEquals(ROWS.size() + 2, lines.size(), text);
        for (final String column : List.of("mode", "kind", "transactions", "failures", "tx/s",
            "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "p50 vs direct"))
        {
            assertTrue(lines.get(0).contains(column), column);
        }
        assertTrue(lines.get(1).matches("[- ]+"), lines.get(1));
        assertTrue(lines.get(2).startsWith("direct  CRR"), lines.get(2));
        assertTrue(lines.get(3).startsWith("crab    CRR"), lines.get(3));
        assertTrue(lines.get(3).endsWith("1.07x"), lines.get(3));
        assertTrue(lines.get(5).endsWith("1.25x"), lines.get(5));
        assertTrue(lines.get(6).startsWith("broken"), lines.get(6));
        assertTrue(lines.get(6).endsWith("-"), lines.get(6));
        // Right-aligned numbers line up with the end of their header.
        final int end = lines.get(0).indexOf("p50 µs") + "p50 µs".length();
        assertEquals(' ', lines.get(2).charAt(end));
        assertTrue(Character.isDigit(lines.get(2).charAt(end - 1)), lines.get(2));
    }

    @Test
    void textWithoutBaselineHasNoRatioColumn()
    {
        final String text = LatencyReport.of(ROWS).text();

        assertTrue(text.lines().findFirst().orElseThrow().endsWith("p99.9 µs"), text);
        assertTrue(!text.contains("vs"), text);
    }

    @Test
    void markdownIsATable()
    {
        final String markdown = LatencyReport.of(ROWS).withBaseline("direct").markdown();
        final List<String> lines = markdown.lines().toList();

        assertEquals(ROWS.size() + 2, lines.size(), markdown);
        assertTrue(lines.get(0).startsWith("| mode | kind | transactions |"), lines.get(0));
        assertTrue(lines.get(0).endsWith("| p50 vs direct |"), lines.get(0));
        assertTrue(lines.get(1).startsWith("| --- | --- | ---: |"), lines.get(1));
        assertTrue(lines.get(3).startsWith("| crab | CRR | 1000 | 0 |"), lines.get(3));
        assertTrue(lines.get(3).endsWith("| 1.07x |"), lines.get(3));
        lines.forEach(line -> assertEquals(lines.get(0).chars().filter(c -> c == '|').count(),
            line.chars().filter(c -> c == '|').count(), line));
    }

    @Test
    void csvHasRawNumbersAndFailureKinds()
    {
        final String csv = LatencyReport.of(ROWS).withBaseline("direct").csv();
        final List<String> lines = csv.lines().toList();

        assertEquals("mode,kind,transactions,failures,connect_failures,timeout_failures,reset_failures,"
            + "mismatch_failures,other_failures,elapsed_ms,tx_per_s,p50_us,p90_us,p99_us,p999_us,max_us,"
            + "p50_vs_direct", lines.get(0));
        final String[] crab = lines.get(2).split(",", -1);
        assertEquals("crab,CRR,1000,0,0,0,0,0,0,1000,1000.0", String.join(",", List.of(crab).subList(0, 11)));
        assertEquals(107.0, Double.parseDouble(crab[11]), 0.1, "p50_us");
        assertEquals(1.07, Double.parseDouble(crab[16]), 0.01, "p50_vs_direct");
        assertTrue(lines.get(5).startsWith("broken,RR,0,2,2,0,0,0,0,"), lines.get(5));
        assertTrue(lines.get(5).endsWith(",,,,,,"), lines.get(5));
    }

    @Test
    void csvQuotesLabelsWithCommas()
    {
        final String csv = LatencyReport.of(List.of(result("a,\"b\"", Workload.RR, 10, 5))).csv();

        assertTrue(csv.lines().toList().get(1).startsWith("\"a,\"\"b\"\"\",RR,"), csv);
    }

    /** A row whose every latency is p50Us microseconds, with 2 CONNECT failures when nothing succeeded. */
    private static LoadResult result(final String mode, final Workload kind, final long p50Us, final long transactions)
    {
        final Histogram histogram = Histograms.create();
        for (long i = 0; i < transactions; i++)
        {
            Histograms.record(histogram, TimeUnit.MICROSECONDS.toNanos(p50Us));
        }
        final Map<FailureKind, Long> failures = transactions == 0 ? Map.of(FailureKind.CONNECT, 2L) : Map.of();
        return new LoadResult(mode, kind, transactions, failures, TimeUnit.SECONDS.toNanos(1), histogram);
    }
}
