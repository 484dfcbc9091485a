package io.crab.bench.policy;

import java.util.SplittableRandom;

/**
 * Exponentially distributed durations in nanoseconds, by inversion: the service times of {@link QueueServer} and
 * the gaps between the arrivals of a {@link PoissonSchedule}. Seeded, so a run can be repeated; not thread-safe.
 */
public final class Exponential
{
    private final double meanNanos;
    private final SplittableRandom random;

    public Exponential(final double meanNanos, final long seed)
    {
        if (!(meanNanos >= 0) || Double.isInfinite(meanNanos))
        {
            throw new IllegalArgumentException("mean must be finite and at least 0, got " + meanNanos);
        }
        this.meanNanos = meanNanos;
        this.random = new SplittableRandom(seed);
    }

    /** The next sample; always 0 for a mean of 0. */
    public double nextNanos()
    {
        // 1 - U is in (0, 1], so the logarithm is finite.
        return -meanNanos * Math.log(1.0 - random.nextDouble());
    }
}
