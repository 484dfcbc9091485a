package io.crab.bench.policy;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How the policy experiment runs.
 *
 * @param policies        in the order of the first load point (later ones rotate it)
 * @param loads           load points, in percent of the backends' capacity
 * @param warmup          of every run, not measured
 * @param window          the measured part of every run
 * @param meanServiceTime of every backend
 * @param headroomLoads   rates of the headroom runs (backends answering at once), in percent of the capacity
 * @param seed            of the arrival schedules and service times
 */
public record PolicySettings(List<String> policies, List<Integer> loads, Duration warmup, Duration window,
    Duration meanServiceTime, List<Integer> headroomLoads, long seed)
{
    public PolicySettings
    {
        policies = List.copyOf(policies);
        loads = List.copyOf(loads);
        headroomLoads = List.copyOf(headroomLoads);
        Objects.requireNonNull(warmup, "warmup");
        Objects.requireNonNull(window, "window");
        Objects.requireNonNull(meanServiceTime, "meanServiceTime");
    }

    /** Requests per second that {@code backends} backends answer at full load: each one per mean service time. */
    public double capacity(final int backends)
    {
        return backends * 1e9 / meanServiceTime.toNanos();
    }

    /** Arrivals per second at a load in percent of the capacity of {@code backends} backends. */
    public double rate(final int loadPercent, final int backends)
    {
        return capacity(backends) * loadPercent / 100.0;
    }
}
