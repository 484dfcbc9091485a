package io.crab.bench.policy;

import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A run of the rig itself: the backends answer at once, so only the client, crab and the machine limit the rate.
 *
 * @param loadPercent the offered rate, in percent of the experiment's capacity
 * @param result      what the client measured
 */
public record HeadroomStep(int loadPercent, OpenLoopResult result)
{
    /**
     * The 99th percentile of the client's start lag may be at most this for a rate to count as kept up. A client
     * that falls behind lags more and more through the run; one on a busy machine is a few ms late now and then,
     * at any rate (on this project's 2-core VM, 1 to 4 % of the arrivals, by up to 5 to 8 ms).
     */
    public static final long MAX_P99_LAG_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
    /**
     * Responses within the window must be at least this fraction of the arrivals scheduled in it: of the arrivals
     * drawn, not of the nominal rate, from which a Poisson sample of a few thousand strays by a few percent.
     */
    public static final double RATE_TOLERANCE = 0.98;

    public HeadroomStep
    {
        Objects.requireNonNull(result, "result");
    }

    /** Whether the rig kept this rate: every connection answered, as fast as they came, with a bounded lag. */
    public boolean keptUp()
    {
        return result.failureCount() == 0 && result.answered() == result.scheduled() &&
            result.p99StartLagMs() * 1e6 <= MAX_P99_LAG_NANOS &&
            result.answeredInWindow() >= RATE_TOLERANCE * result.scheduled();
    }
}
