package io.crab.bench.policy;

import io.crab.bench.traffic.FailureKind;
import org.HdrHistogram.Histogram;

import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What one open-loop run measured over its window (the warm-up left out).
 *
 * @param offeredRate      arrivals per second the schedule asked for
 * @param window           the measured part of the run
 * @param scheduled        arrivals scheduled in the window
 * @param answered         of those, the ones answered correctly
 * @param answeredInWindow responses that arrived within the window, whenever their connection was scheduled: the
 *                         rate the rig achieved
 * @param failures         of the scheduled ones, those that failed, by kind ({@code TIMEOUT}: still unanswered
 *                         when the run stopped waiting)
 * @param latency          nanoseconds from each answered arrival's scheduled time to its response
 * @param startLag         nanoseconds from each scheduled time to the client's connect: the client's own lateness
 * @param lateStarts       arrivals whose connect came more than {@link OpenLoopClient#LATE_NANOS} late
 * @param answeredBy       answered arrivals by the id of the backend that answered
 */
public record OpenLoopResult(double offeredRate, Duration window, long scheduled, long answered,
    long answeredInWindow, Map<FailureKind, Long> failures, Histogram latency, Histogram startLag, long lateStarts,
    SortedMap<Integer, Long> answeredBy)
{
    private static final double NANOS_PER_MS = 1e6;

    public OpenLoopResult
    {
        Objects.requireNonNull(window, "window");
        failures = Map.copyOf(failures);
        Objects.requireNonNull(latency, "latency");
        Objects.requireNonNull(startLag, "startLag");
        answeredBy = Collections.unmodifiableSortedMap(new TreeMap<>(answeredBy));
    }

    public long failureCount()
    {
        return failures.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Responses per second within the window. */
    public double achievedRate()
    {
        return answeredInWindow / (window.toNanos() / 1e9);
    }

    /** The latency at a percentile (0..100), in milliseconds; NaN when nothing was answered. */
    public double latencyMs(final double percentile)
    {
        return latency.getTotalCount() == 0 ? Double.NaN : latency.getValueAtPercentile(percentile) / NANOS_PER_MS;
    }

    public double p50Ms()
    {
        return latencyMs(50);
    }

    public double p99Ms()
    {
        return latencyMs(99);
    }

    public double p999Ms()
    {
        return latencyMs(99.9);
    }

    /** The client's worst lateness in starting a connection, in milliseconds. */
    public double maxStartLagMs()
    {
        return startLag.getTotalCount() == 0 ? 0 : startLag.getMaxValue() / NANOS_PER_MS;
    }

    public double p99StartLagMs()
    {
        return startLag.getTotalCount() == 0 ? 0 : startLag.getValueAtPercentile(99) / NANOS_PER_MS;
    }

    /** Whether the client kept to its schedule (see {@link OpenLoopClient#ON_SCHEDULE_P99_LAG_NANOS}). */
    public boolean onSchedule()
    {
        return startLag.getTotalCount() == 0 ||
            startLag.getValueAtPercentile(99) <= OpenLoopClient.ON_SCHEDULE_P99_LAG_NANOS;
    }

    /** The fraction of answered arrivals that this backend answered; 0 when nothing was answered. */
    public double share(final int backend)
    {
        return answered == 0 ? 0 : answeredBy.getOrDefault(backend, 0L) / (double)answered;
    }
}
