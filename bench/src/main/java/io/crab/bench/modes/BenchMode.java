package io.crab.bench.modes;

import java.net.InetSocketAddress;

/**
 * One way for the client to reach the backends, set up on the shared topology. Every mode reports the LB's CPU
 * time as a cumulative counter from its own source, so the bench takes deltas around each run.
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

    /** What {@link #lbCpuNs()} measures, for the results; empty when the mode has no LB. */
    String cpuSource();

    /** Cumulative LB CPU time in ns by {@link #cpuSource()}; 0 for a mode without an LB. */
    long lbCpuNs();

    /** Removes what the mode added to the topology. */
    @Override
    void close();
}
