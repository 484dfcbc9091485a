package io.crab.bpf;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;

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

    /**
     * Reads up to {@code max} entries in one call, continuing the walk {@code cursor} keeps: keys into
     * {@code keys} and values into {@code values}, {@code keySize()} and {@code valueSize()} bytes apart. Returns
     * how many it read; {@link BatchCursor#done()} tells when the map has been walked to its end. A hash map is read
     * bucket by bucket, so entries added or removed during a walk may or may not be seen.
     */
    int lookupBatch(BatchCursor cursor, MutableDirectBuffer keys, MutableDirectBuffer values, int max);

    /** Where a walk of {@link #lookupBatch} is; {@link #reset()} starts a new one. */
    final class BatchCursor
    {
        private final UnsafeBuffer token = new UnsafeBuffer(org.agrona.BufferUtil.allocateDirectAligned(16, 8));
        private boolean started;
        private boolean done;

        public void reset()
        {
            started = false;
            done = false;
        }

        public boolean done()
        {
            return done;
        }

        /** For the binding: the token's address, 0 before the first batch. */
        public long tokenAddress()
        {
            return started ? token.addressOffset() : 0;
        }

        public UnsafeBuffer token()
        {
            return token;
        }

        public void advanced(final boolean last)
        {
            started = true;
            done = last;
        }
    }

    /**
     * The map's memory, for array maps created with BPF_F_MMAPABLE; unmapped when the object closes. Element i starts
     * at byte {@code i * align(valueSize(), 8)}.
     */
    AtomicBuffer mmap();

    /** Pins the map at a path on a mounted bpffs, so other processes can open it. */
    void pin(String path);
}
