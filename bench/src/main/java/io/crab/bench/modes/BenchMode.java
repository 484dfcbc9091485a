package io.crab.bench.modes;

import java.net.InetSocketAddress;
import java.util.OptionalLong;

/**
 * One way for the client to reach the backends, set up on the shared topology. The LB's CPU is measured alike for
 * every mode ({@link LbCpuMeter}); a mode names what only it has: a process on the LB that carries its traffic,
 * and crab's BPF programs, whose run time is a cumulative counter the bench takes deltas of around each run.
 */
public interface BenchMode extends AutoCloseable
{
    /** The name used in --modes and in the results. */
    String name();

    /** Where the client connects. */
    InetSocketAddress target();

    /** Whether the mode runs from the client without crab-endpoint (a plain host), not the crab client. */
    default boolean fromPlainClient()
    {
        return false;
    }

    /** The process on the LB host that carries the mode's traffic in user space, e.g. a proxy; empty if none. */
    default String lbProcess()
    {
        return "";
    }

    /** The id of {@link #lbProcess()}; empty when there is none. */
    default OptionalLong lbProcessPid()
    {
        return OptionalLong.empty();
    }

    /** Which of crab's BPF programs on the LB serve the mode's traffic, e.g. "XDP"; empty if crab does not. */
    default String bpfPrograms()
    {
        return "";
    }

    /** Cumulative run time in ns of {@link #bpfPrograms()} from the kernel's BPF statistics; 0 if there are none. */
    default long bpfRunTimeNs()
    {
        return 0;
    }

    /** Removes what the mode added to the topology. */
    @Override
    void close();
}
