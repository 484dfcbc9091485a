package io.crab.bench.policy;

import java.util.Objects;

/**
 * One open-loop run of the experiment.
 *
 * @param policy      the service's policy, as the services file names it
 * @param loadPercent the offered load, in percent of the backends' capacity
 * @param result      what the client measured
 */
public record PolicyRun(String policy, int loadPercent, OpenLoopResult result)
{
    public PolicyRun
    {
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(result, "result");
    }
}
