package io.crab.bpf;

/** A map created on its own, not by a {@link BpfObject} ({@link Bpf#createMap}): closing releases it. */
public interface StandaloneMap extends BpfMap, AutoCloseable
{
    @Override
    void close();
}
