package io.crab.bench.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/** Histogram creation, clamping and the per-worker merge. */
class HistogramsTest
{
    @Test
    void mergeHoldsEveryWorkersValues()
    {
        final Histogram fast = Histograms.create();
        final Histogram slow = Histograms.create();
        for (int i = 1; i <= 100; i++)
        {
            Histograms.record(fast, TimeUnit.MICROSECONDS.toNanos(i));
            Histograms.record(slow, TimeUnit.MICROSECONDS.toNanos(1_000 + i));
        }

        final Histogram merged = Histograms.merge(List.of(fast, slow));

        assertEquals(200, merged.getTotalCount());
        assertEquals(1_000, merged.getMinValue(), 1);
        assertTrue(merged.highestEquivalentValue(merged.getMaxValue()) >= TimeUnit.MICROSECONDS.toNanos(1_100));
        // Half the values are at most 100 µs, half at least 1001 µs.
        assertTrue(merged.getValueAtPercentile(50) <= TimeUnit.MICROSECONDS.toNanos(101));
        assertTrue(merged.getValueAtPercentile(51) >= TimeUnit.MICROSECONDS.toNanos(1_000));
        assertEquals(100, fast.getTotalCount(), "inputs are left alone");
        assertEquals(100, slow.getTotalCount(), "inputs are left alone");
    }

    @Test
    void mergeOfNothingIsEmpty()
    {
        assertEquals(0, Histograms.merge(List.of()).getTotalCount());
    }

    @Test
    void outOfRangeValuesAreClampedNotThrown()
    {
        final Histogram histogram = Histograms.create();
        Histograms.record(histogram, TimeUnit.HOURS.toNanos(1));
        Histograms.record(histogram, -5);

        assertEquals(2, histogram.getTotalCount());
        assertTrue(histogram.valuesAreEquivalent(Histograms.HIGHEST_TRACKABLE_NANOS, histogram.getMaxValue()));
        assertEquals(0, histogram.getMinValue());
    }

    @Test
    void resultReportsPercentilesInMicroseconds()
    {
        final Histogram histogram = Histograms.create();
        for (int i = 1; i <= 1_000; i++)
        {
            Histograms.record(histogram, TimeUnit.MICROSECONDS.toNanos(i));
        }
        final LoadResult result = new LoadResult("m", Workload.RR, 1_000, Map.of(FailureKind.TIMEOUT, 3L),
            TimeUnit.SECONDS.toNanos(2), histogram);

        assertEquals(500, result.p50Us(), 1);
        assertEquals(900, result.p90Us(), 1);
        assertEquals(990, result.p99Us(), 1);
        assertEquals(999, result.p999Us(), 1);
        assertEquals(1_000, result.maxUs(), 1);
        assertEquals(500.0, result.throughput(), 1e-9);
        assertEquals(3, result.failureCount());
        assertEquals(0, result.failures(FailureKind.CONNECT));
        assertEquals(FailureKind.values().length, result.failures().size());
    }
}
