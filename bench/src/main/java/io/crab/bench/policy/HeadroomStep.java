package io.crab.bench.policy;

import java.util.Objects;

/**
 * A run of the rig itself: the backends answer at once, so only the client, crab and the machine limit the rate.
 *
 * @param loadPercent the offered rate, in percent of the experiment's capacity
 * @param result      what the client measured
 */
public record HeadroomStep(int loadPercent, OpenLoopResult result)
{
    /** Fewer than this fraction of connections may start late for a rate to count as kept up. */
    public static final double LATE_TOLERANCE = 0.01;
    /**
     * Responses within the window must be at least this fraction of the arrivals scheduled in it: of the arrivals
     * drawn, not of the nominal rate, from which a Poisson sample of a few thousand strays by a few percent.
     */
    public static final double RATE_TOLERANCE = 0.98;

    public HeadroomStep
    {
        Objects.requireNonNull(result, "result");
    }

    /** Whether the rig kept this rate: every connection answered, nearly all started on time, as fast as they came. */
    public boolean keptUp()
    {
        return result.failureCount() == 0 && result.answered() == result.scheduled() &&
            result.lateStarts() <= LATE_TOLERANCE * result.scheduled() &&
            result.answeredInWindow() >= RATE_TOLERANCE * result.scheduled();
    }
}
