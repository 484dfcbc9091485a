package io.crab.bpf;

/** A map opened from its pin ({@link Bpf#openPinnedMap}): closing releases this handle, the map lives on. */
public interface PinnedMap extends BpfMap, AutoCloseable
{
    @Override
    void close();
}
