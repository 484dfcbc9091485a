package io.crab.bpf;

import io.crab.bpf.internal.Libbpf;

/** Entry point of the binding: opens the BPF objects shipped as class-path resources under {@code bpf/}. */
public final class Bpf
{
    private Bpf()
    {
    }

    /**
     * Opens and loads {@code bpf/<name>.bpf.o} from the class path. If the kernel rejects a program the
     * {@link BpfException} carries the verifier log.
     */
    public static BpfObject load(final String name)
    {
        return Libbpf.load(name);
    }

    /** Opens a map another process pinned with {@link BpfMap#pin}. */
    public static BpfMap openPinnedMap(final String path)
    {
        return Libbpf.openPinnedMap(path);
    }

    /**
     * Run time and run count of the XDP program attached to the interface (calling thread's namespace); they
     * count only while {@link #enableRunTimeStats()} holds statistics on.
     */
    public static ProgramStats xdpProgramStats(final int ifindex)
    {
        return Libbpf.xdpProgramStats(ifindex);
    }

    /** Turns on the kernel's BPF run-time statistics until the returned handle closes. */
    public static AutoCloseable enableRunTimeStats()
    {
        return Libbpf.enableRunTimeStats();
    }

    /** Number of possible CPUs, which sizes per-CPU map values. */
    public static int possibleCpus()
    {
        return Libbpf.possibleCpus();
    }
}
