package io.crab.bench.traffic;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import org.HdrHistogram.Histogram;

/**
 * The outcome of one CRR or RR run: counts, elapsed time and the merged latency histogram in nanoseconds.
 *
 * @param mode         the label of the spec, e.g. "direct" or "crab"
 * @param kind         CRR or RR
 * @param transactions successful, recorded transactions
 * @param failures     failed attempts by kind, every kind present
 * @param elapsedNanos from the end of warmup to the last counted attempt
 * @param histogram    latency of every successful transaction; treat as read-only
 */
public record LoadResult(
    String mode,
    Workload kind,
    long transactions,
    Map<FailureKind, Long> failures,
    long elapsedNanos,
    Histogram histogram)
{
    private static final double NANOS_PER_MICRO = 1_000.0;

    public LoadResult
    {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(histogram, "histogram");
        final Map<FailureKind, Long> complete = new EnumMap<>(FailureKind.class);
        for (final FailureKind failureKind : FailureKind.values())
        {
            complete.put(failureKind, failures.getOrDefault(failureKind, 0L));
        }
        // EnumMap keeps the kinds in declaration order for printing.
        failures = Collections.unmodifiableMap(complete);
    }

    /** Failed attempts of all kinds. */
    public long failureCount()
    {
        return failures.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Failed attempts of one kind. */
    public long failures(final FailureKind failureKind)
    {
        return failures.get(failureKind);
    }

    /** Successful transactions per second over the measured window; 0 when nothing was measured. */
    public double throughput()
    {
        return elapsedNanos <= 0 ? 0.0 : transactions * (double) TimeUnit.SECONDS.toNanos(1) / elapsedNanos;
    }

    public double p50Us()
    {
        return percentileUs(50.0);
    }

    public double p90Us()
    {
        return percentileUs(90.0);
    }

    public double p99Us()
    {
        return percentileUs(99.0);
    }

    public double p999Us()
    {
        return percentileUs(99.9);
    }

    public double maxUs()
    {
        return histogram.getMaxValue() / NANOS_PER_MICRO;
    }

    /** Latency at a percentile (0..100) in microseconds; 0 for an empty histogram. */
    public double percentileUs(final double percentile)
    {
        return histogram.getValueAtPercentile(percentile) / NANOS_PER_MICRO;
    }

    /** One line for logs and the demo; the histogram itself is too big to print. */
    @Override
    public String toString()
    {
        return String.format(Locale.ROOT,
            "%s %s: %d tx, %d failures %s, %.1f tx/s, p50 %.1f us, p99 %.1f us, max %.1f us",
            mode, kind, transactions, failureCount(), failures, throughput(), p50Us(), p99Us(), maxUs());
    }
}
