package io.crab.bench.traffic;

import java.util.Collection;
import java.util.concurrent.TimeUnit;

import org.HdrHistogram.Histogram;

/** Creates, fills and merges the latency histograms (nanoseconds) used by the traffic generators. */
public final class Histograms
{
    /** Highest latency kept exactly; anything slower is recorded as this value rather than dropped. */
    public static final long HIGHEST_TRACKABLE_NANOS = TimeUnit.SECONDS.toNanos(60);

    private static final int SIGNIFICANT_DIGITS = 3;

    private Histograms()
    {
    }

    /** An empty latency histogram: 1 ns to 60 s, 3 significant digits. */
    public static Histogram create()
    {
        return new Histogram(HIGHEST_TRACKABLE_NANOS, SIGNIFICANT_DIGITS);
    }

    /** Records one latency, clamped so an extreme outlier cannot throw out of a hot loop. */
    public static void record(final Histogram histogram, final long nanos)
    {
        histogram.recordValue(Math.max(0, Math.min(nanos, HIGHEST_TRACKABLE_NANOS)));
    }

    /** A new histogram holding every value of the given ones; the inputs are not modified. */
    public static Histogram merge(final Collection<? extends Histogram> parts)
    {
        final Histogram merged = create();
        for (final Histogram part : parts)
        {
            merged.add(part);
        }
        return merged;
    }
}
