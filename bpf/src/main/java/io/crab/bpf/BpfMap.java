package io.crab.bpf;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.AtomicBuffer;

/**
 * One map of a loaded {@link BpfObject}. Keys and values are read from and written to agrona buffers at offset 0,
 * so callers reuse buffers and nothing allocates per call. Per-CPU maps take and return
 * {@code valueSize() * possibleCpus()} bytes, each CPU's value at an 8-byte aligned stride.
 */
public interface BpfMap
{
    /** BPF_ANY: create or replace. */
    long UPDATE_ANY = 0;
    /** BPF_NOEXIST: create only. */
    long UPDATE_NOEXIST = 1;
    /** BPF_EXIST: replace only. */
    long UPDATE_EXIST = 2;

    String name();

    int fd();

    int keySize();

    int valueSize();

    int maxEntries();

    boolean isPerCpu();

    /** Bytes a value buffer must hold: the value size, or the per-CPU stride times the CPU count for per-CPU maps. */
    int valueBufferSize();

    /** Copies the value of {@code key} into {@code value}; false if there is no such key. */
    boolean lookup(DirectBuffer key, MutableDirectBuffer value);

    /** Writes {@code value} under {@code key}; throws with the errno (e.g. E2BIG when full, EEXIST for NOEXIST). */
    void update(DirectBuffer key, DirectBuffer value, long flags);

    /** Deletes {@code key}; false if it was not there. */
    boolean delete(DirectBuffer key);

    /** Writes the key after {@code key} (or the first key if {@code key} is null) into {@code next}; false at the end. */
    boolean nextKey(DirectBuffer key, MutableDirectBuffer next);

    /** The map's memory, for array maps created with BPF_F_MMAPABLE; unmapped when the object closes. */
    AtomicBuffer mmap();

    /** Pins the map at a path on a mounted bpffs, so other processes can open it. */
    void pin(String path);
}
