package io.crab.bench.policy;

/**
 * The arrival times of a Poisson process: exponential gaps of mean 1/rate, summed as doubles so that rounding does
 * not drift the rate over a long run. Seeded; not thread-safe.
 */
public final class PoissonSchedule
{
    private static final double NANOS_PER_SECOND = 1e9;

    private final Exponential gaps;
    private double at;

    public PoissonSchedule(final double ratePerSecond, final long seed)
    {
        if (!(ratePerSecond > 0) || Double.isInfinite(ratePerSecond))
        {
            throw new IllegalArgumentException("rate must be finite and above 0, got " + ratePerSecond);
        }
        this.gaps = new Exponential(NANOS_PER_SECOND / ratePerSecond, seed);
    }

    /** The next arrival, in nanoseconds after the schedule's start; strictly increasing in practice. */
    public long nextNanos()
    {
        at += gaps.nextNanos();
        return Math.round(at);
    }
}
