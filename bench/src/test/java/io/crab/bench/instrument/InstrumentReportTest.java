package io.crab.bench.instrument;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.crab.bench.results.MachineInfo;
import io.crab.bench.traffic.Histograms;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.Workload;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

class InstrumentReportTest
{
    @Test
    void medianOfOddAndEvenCounts()
    {
        assertEquals(2.0, InstrumentReport.median(new double[] {3, 1, 2}));
        assertEquals(2.5, InstrumentReport.median(new double[] {4, 1, 3, 2}));
    }

    @Test
    void tablesEveryRoundWithTheMedianRatio()
    {
        // Multiples of 64 ns, which the histogram keeps exactly at this magnitude (it reports value + 63).
        final InstrumentReport report = new InstrumentReport(List.of(
            new InstrumentReport.Round(1, Workload.CRR, result("java", 112_640), result("c", 102_400)),
            new InstrumentReport.Round(2, Workload.CRR, result("java", 122_880), result("c", 102_400)),
            new InstrumentReport.Round(3, Workload.CRR, result("java", 133_120), result("c", 102_400))),
            new MachineInfo("6.1", "cpu", 2, "1 GiB", "jdk", "os", "host"), "crab-bench instrument --rounds 3",
            Instant.EPOCH);

        final String md = report.markdown();
        assertTrue(md.contains("    ./crab bench instrument --rounds 3\n"), md);
        assertTrue(md.contains("Median over 3 rounds: java/c p50 **1.200**"), md);
        assertTrue(md.contains("| 2 | 122.9 | 102.5 | 1.200 |"), md);
        assertTrue(!md.contains("## RR"), md);
    }

    private static LoadResult result(final String mode, final long latencyNanos)
    {
        final Histogram histogram = Histograms.create();
        Histograms.record(histogram, latencyNanos);
        return new LoadResult(mode, Workload.CRR, 1, Map.of(), 1_000_000, histogram);
    }
}
