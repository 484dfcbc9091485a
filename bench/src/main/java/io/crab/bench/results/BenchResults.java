package io.crab.bench.results;

import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;

import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.Workload;

/**
 * Everything one crab-bench invocation reports: the modes side by side, how they were run, and where.
 *
 * @param modes        one entry per mode, in the order to show them; labels are unique
 * @param baselineMode the mode the others' latencies are divided by, usually {@link #DEFAULT_BASELINE}
 * @param machine      the machine the bench ran on
 * @param command      the exact command line, so a reader can run it again
 * @param started      when the bench started
 * @param parameters   how each run was driven
 * @param rounds       per mode and workload, the p50 of each round in µs, in order; empty when not kept
 * @param lbAgentCpuShare crab-lb's CPU time over the wall time of the LB CPU runs (0.01 is 1 % of a core), if
 *                        measured: it runs in every mode and does no per-connection work, so it is shown apart
 */
public record BenchResults(
    List<ModeResult> modes,
    String baselineMode,
    MachineInfo machine,
    String command,
    Instant started,
    RunParameters parameters,
    Map<String, Map<Workload, List<Double>>> rounds,
    OptionalDouble lbAgentCpuShare)
{
    public static final String DEFAULT_BASELINE = "direct";

    public BenchResults
    {
        modes = List.copyOf(modes);
        rounds = Map.copyOf(rounds);
        Objects.requireNonNull(baselineMode, "baselineMode");
        Objects.requireNonNull(machine, "machine");
        Objects.requireNonNull(command, "command");
        Objects.requireNonNull(started, "started");
        Objects.requireNonNull(parameters, "parameters");
        Objects.requireNonNull(lbAgentCpuShare, "lbAgentCpuShare");
        final Set<String> labels = new HashSet<>();
        for (final ModeResult mode : modes)
        {
            if (!labels.add(mode.mode()))
            {
                throw new IllegalArgumentException("mode " + mode.mode() + " appears twice");
            }
        }
    }

    /** Results compared with {@link #DEFAULT_BASELINE}. */
    public BenchResults(
        final List<ModeResult> modes,
        final MachineInfo machine,
        final String command,
        final Instant started,
        final RunParameters parameters)
    {
        this(modes, DEFAULT_BASELINE, machine, command, started, parameters, Map.of(), OptionalDouble.empty());
    }

    /** Results compared with {@link #DEFAULT_BASELINE}, with each round's p50 and crab-lb's CPU share. */
    public BenchResults(
        final List<ModeResult> modes,
        final MachineInfo machine,
        final String command,
        final Instant started,
        final RunParameters parameters,
        final Map<String, Map<Workload, List<Double>>> rounds,
        final OptionalDouble lbAgentCpuShare)
    {
        this(modes, DEFAULT_BASELINE, machine, command, started, parameters, rounds, lbAgentCpuShare);
    }

    /**
     * The baseline's result for a workload, if it can serve as one: the baseline mode exists, passed its path check,
     * ran the workload and measured something.
     */
    public Optional<LoadResult> baseline(final Workload workload)
    {
        return modes.stream()
            .filter(mode -> mode.mode().equals(baselineMode))
            .findFirst()
            .flatMap(mode -> mode.reportable(workload))
            .filter(result -> result.transactions() > 0);
    }
}
