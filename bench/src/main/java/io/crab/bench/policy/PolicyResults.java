package io.crab.bench.policy;

import io.crab.bench.results.MachineInfo;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * Everything the policy experiment measured, with what is needed to read it.
 *
 * @param runs     every policy at every load point, in the order they ran
 * @param headroom the rig's own runs, backends answering at once
 * @param backends each backend as the services file names it, by id
 * @param settings how it ran
 * @param machine  where it ran
 * @param command  the command line, to run it again
 * @param started  when
 */
public record PolicyResults(List<PolicyRun> runs, List<HeadroomStep> headroom, List<String> backends,
    PolicySettings settings, MachineInfo machine, String command, Instant started)
{
    public PolicyResults
    {
        runs = List.copyOf(runs);
        headroom = List.copyOf(headroom);
        backends = List.copyOf(backends);
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(machine, "machine");
        Objects.requireNonNull(command, "command");
        Objects.requireNonNull(started, "started");
    }

    /** Requests per second the backends answer at 100 % load. */
    public double capacity()
    {
        return settings.capacity(backends.size());
    }
}
