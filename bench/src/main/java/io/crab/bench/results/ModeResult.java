package io.crab.bench.results;

import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;

import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.Workload;

/**
 * What the bench measured for one mode (e.g. "direct", "crab", "l4-dnat", "haproxy"): both workloads and the LB cost.
 *
 * @param mode                       the mode's label, as in the tables and the chart
 * @param crr                        merged CRR result, or null if CRR was not run
 * @param rr                         merged RR result, or null if RR was not run
 * @param lbPacketsPerCrrTransaction packets the load balancer handled per CRR transaction; NaN when not measured
 * @param lbCpuNsPerConnection       load-balancer CPU time per CRR connection in nanoseconds, if measured
 * @param cpuSource                  what that CPU time covers, e.g. "kernel" or "kernel + haproxy"
 * @param bpfNsPerConnection         run time of crab's BPF programs on the LB per CRR connection in nanoseconds, in
 *                                   the latency rounds: the part of the LB's work that is crab's code; empty for a
 *                                   mode crab does not serve
 * @param bpfPrograms                which programs, e.g. "XDP"
 * @param pathCheck                  {@link #PATH_OK} if traffic took the path the mode claims, otherwise why not
 */
public record ModeResult(
    String mode,
    LoadResult crr,
    LoadResult rr,
    double lbPacketsPerCrrTransaction,
    OptionalDouble lbCpuNsPerConnection,
    String cpuSource,
    OptionalDouble bpfNsPerConnection,
    String bpfPrograms,
    String pathCheck)
{
    /** The path check's verdict for a mode whose figures may be reported. */
    public static final String PATH_OK = "ok";

    public ModeResult
    {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(lbCpuNsPerConnection, "lbCpuNsPerConnection");
        Objects.requireNonNull(cpuSource, "cpuSource");
        Objects.requireNonNull(bpfNsPerConnection, "bpfNsPerConnection");
        Objects.requireNonNull(bpfPrograms, "bpfPrograms");
        Objects.requireNonNull(pathCheck, "pathCheck");
        requireKind(crr, Workload.CRR);
        requireKind(rr, Workload.RR);
    }

    /** A mode the path check rejected: nothing about it will be reported but the reason. */
    public static ModeResult refused(final String mode, final String reason)
    {
        return new ModeResult(mode, null, null, Double.NaN, OptionalDouble.empty(), "", OptionalDouble.empty(), "",
            reason);
    }

    /** True when the path check failed, so the mode's figures must not be shown. */
    public boolean isRefused()
    {
        return !PATH_OK.equals(pathCheck);
    }

    /** The result of one workload; empty when it was not run. Refused modes still return what was measured. */
    public Optional<LoadResult> result(final Workload workload)
    {
        return Optional.ofNullable(workload == Workload.CRR ? crr : rr);
    }

    /** The result of one workload if it may be reported: run, and the mode not refused. */
    public Optional<LoadResult> reportable(final Workload workload)
    {
        return isRefused() ? Optional.empty() : result(workload);
    }

    private static void requireKind(final LoadResult result, final Workload expected)
    {
        if (result != null && result.kind() != expected)
        {
            throw new IllegalArgumentException(
                "expected a " + expected + " result, got " + result.kind() + " for " + result.mode());
        }
    }
}
