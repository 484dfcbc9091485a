package io.crab.bpf;

import io.crab.bpf.internal.Libbpf;

import java.nio.file.Path;

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
        return Libbpf.load(name, LoadOptions.DEFAULT);
    }

    /**
     * {@link #load(String)} with map sizes set and pinned maps reused. A pinned map whose type, key, value or size
     * differs from what the object needs is refused with a {@link BpfException} naming both.
     */
    public static BpfObject load(final String name, final LoadOptions options)
    {
        return Libbpf.load(name, options);
    }

    /** The type and sizes of a pinned map, read without keeping it open. */
    public static MapInfo pinnedMapInfo(final Path path)
    {
        return Libbpf.pinnedMapInfo(path);
    }

    /** Opens a link another process pinned with {@link BpfLink#pin}. */
    public static BpfLink openPinnedLink(final Path path)
    {
        return Libbpf.openPinnedLink(path);
    }

    /** Opens a map another process pinned with {@link BpfMap#pin}. */
    public static PinnedMap openPinnedMap(final String path)
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

    /** Run time and run count of the program behind a pinned link; they count only while statistics are on. */
    public static ProgramStats linkProgramStats(final Path pinnedLink)
    {
        return Libbpf.linkProgramStats(pinnedLink);
    }

    /** Turns on the kernel's BPF run-time statistics until the returned handle closes. */
    public static AutoCloseable enableRunTimeStats()
    {
        return Libbpf.enableRunTimeStats();
    }

    /**
     * Loads an XDP program from raw instructions (struct bpf_insn, 8 bytes each, little-endian), for programs
     * too small to deserve a C file; map references are fds of {@link #createMap} maps. If the kernel rejects it,
     * the {@link BpfException} carries the verifier log.
     */
    public static StandaloneProgram loadXdp(final String name, final byte[] instructions)
    {
        return Libbpf.loadXdp(name, instructions);
    }

    /** Creates a map of {@code type} (enum bpf_map_type) that belongs to no object. */
    public static StandaloneMap createMap(final int type, final String name, final int keySize,
        final int valueSize, final int maxEntries)
    {
        return Libbpf.createMap(type, name, keySize, valueSize, maxEntries);
    }

    /** Number of possible CPUs, which sizes per-CPU map values. */
    public static int possibleCpus()
    {
        return Libbpf.possibleCpus();
    }
}
