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
            result.onSchedule() &&
            result.answeredInWindow() >= RATE_TOLERANCE * result.scheduled();
    }
}
