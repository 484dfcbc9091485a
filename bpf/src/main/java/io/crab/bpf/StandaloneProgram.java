package io.crab.bpf;

/** A program loaded on its own, not from a {@link BpfObject} ({@link Bpf#loadXdp}): closing unloads it. */
public interface StandaloneProgram extends BpfProgram, AutoCloseable
{
    @Override
    void close();
}
