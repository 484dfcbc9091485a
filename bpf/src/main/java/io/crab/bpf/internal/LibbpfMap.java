package io.crab.bpf.internal;

import io.crab.bpf.PinnedMap;
import io.crab.bpf.StandaloneMap;
import org.agrona.BitUtil;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import static io.crab.bpf.internal.Libbpf.LIB;

/**
 * One BPF map reached by its fd. Keys and values go through native scratch buffers owned by this handle, so a
 * handle is for one thread: the map's single writer, or a reader.
 */
final class LibbpfMap implements PinnedMap, StandaloneMap
{
    private static final int BPF_MAP_TYPE_PERCPU_HASH = 5;
    private static final int BPF_MAP_TYPE_PERCPU_ARRAY = 6;
    private static final int BPF_MAP_TYPE_LRU_PERCPU_HASH = 10;
    private static final int ENOENT = 2;
    private static final int PROT_READ_WRITE = 3;
    private static final int MAP_SHARED = 1;
    private static final int PAGE_SIZE = 4096;
    /** A hash map's batch position is a bucket index (u32); room for any map type's. */
    private static final int BATCH_TOKEN_SIZE = 16;

    private final String name;
    private final int fd;
    private final int keySize;
    private final int valueSize;
    private final int maxEntries;
    private final int type;
    private final int flags;
    private final boolean perCpu;
    private final boolean ownsFd;
    private final int valueBufferSize;
    private final UnsafeBuffer key;
    private final UnsafeBuffer nextKey;
    private final UnsafeBuffer value;
    private UnsafeBuffer mapped;
    /** Native memory of lookupBatch, grown to the largest batch asked for. */
    private UnsafeBuffer batchKeys;
    private UnsafeBuffer batchValues;
    private final UnsafeBuffer batchToken = scratch(BATCH_TOKEN_SIZE);
    private final UnsafeBuffer batchCount = scratch(4);

    LibbpfMap(final String name, final int fd, final int type, final int keySize,
        final int valueSize, final int maxEntries, final int flags, final boolean ownsFd)
    {
        this.ownsFd = ownsFd;
        this.name = name;
        this.fd = fd;
        this.type = type;
        this.flags = flags;
        this.keySize = keySize;
        this.valueSize = valueSize;
        this.maxEntries = maxEntries;
        this.perCpu = type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
            type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
        this.valueBufferSize = perCpu ? BitUtil.align(valueSize, 8) * Libbpf.possibleCpus() : valueSize;
        this.key = scratch(keySize);
        this.nextKey = scratch(keySize);
        this.value = scratch(valueBufferSize);
    }

    private static UnsafeBuffer scratch(final int size)
    {
        return new UnsafeBuffer(BufferUtil.allocateDirectAligned(BitUtil.align(Math.max(size, 8), 8), 8));
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public int fd()
    {
        return fd;
    }

    @Override
    public int keySize()
    {
        return keySize;
    }

    @Override
    public int valueSize()
    {
        return valueSize;
    }

    @Override
    public int maxEntries()
    {
        return maxEntries;
    }

    int type()
    {
        return type;
    }

    int flags()
    {
        return flags;
    }

    /** Closes a descriptor this handle owns (one opened from a pin); an object's maps close with the object. */
    @Override
    public void close()
    {
        if (ownsFd)
        {
            LIB.close(fd);
        }
    }

    @Override
    public boolean isPerCpu()
    {
        return perCpu;
    }

    @Override
    public int valueBufferSize()
    {
        return valueBufferSize;
    }

    @Override
    public boolean lookup(final DirectBuffer k, final MutableDirectBuffer v)
    {
        key.putBytes(0, k, 0, keySize);
        final int rc = LIB.bpf_map_lookup_elem(fd, key.addressOffset(), value.addressOffset());
        if (rc == -ENOENT)
        {
            return false;
        }
        check("lookup in", rc);
        v.putBytes(0, value, 0, valueBufferSize);
        return true;
    }

    @Override
    public void update(final DirectBuffer k, final DirectBuffer v, final long flags)
    {
        key.putBytes(0, k, 0, keySize);
        value.putBytes(0, v, 0, valueBufferSize);
        check("update of", LIB.bpf_map_update_elem(fd, key.addressOffset(), value.addressOffset(), flags));
    }

    @Override
    public boolean delete(final DirectBuffer k)
    {
        key.putBytes(0, k, 0, keySize);
        final int rc = LIB.bpf_map_delete_elem(fd, key.addressOffset());
        if (rc == -ENOENT)
        {
            return false;
        }
        check("delete from", rc);
        return true;
    }

    @Override
    public boolean nextKey(final DirectBuffer k, final MutableDirectBuffer next)
    {
        final long keyAddress;
        if (k == null)
        {
            keyAddress = 0;
        }
        else
        {
            key.putBytes(0, k, 0, keySize);
            keyAddress = key.addressOffset();
        }
        final int rc = LIB.bpf_map_get_next_key(fd, keyAddress, nextKey.addressOffset());
        if (rc == -ENOENT)
        {
            return false;
        }
        check("next key of", rc);
        next.putBytes(0, nextKey, 0, keySize);
        return true;
    }

    @Override
    public int lookupBatch(final BatchCursor cursor, final MutableDirectBuffer keys, final MutableDirectBuffer values,
        final int max)
    {
        if (cursor.done())
        {
            return 0;
        }
        if (batchKeys == null || batchKeys.capacity() < max * keySize)
        {
            batchKeys = scratch(max * keySize);
            batchValues = scratch(max * valueBufferSize);
        }
        batchCount.putInt(0, max);
        final int rc = LIB.bpf_map_lookup_batch(fd, cursor.tokenAddress(), batchToken.addressOffset(),
            batchKeys.addressOffset(), batchValues.addressOffset(), batchCount.addressOffset(), 0);
        if (rc < 0 && rc != -ENOENT)
        {
            check("batch lookup in", rc);
        }
        final int n = batchCount.getInt(0);
        keys.putBytes(0, batchKeys, 0, n * keySize);
        values.putBytes(0, batchValues, 0, n * valueBufferSize);
        cursor.token().putBytes(0, batchToken, 0, BATCH_TOKEN_SIZE);
        cursor.advanced(rc == -ENOENT);
        return n;
    }

    @Override
    public synchronized AtomicBuffer mmap()
    {
        if (mapped == null)
        {
            // An array's elements are 8-byte aligned: element i starts at i * align(valueSize, 8).
            final long length = BitUtil.align((long)BitUtil.align(valueSize, 8) * maxEntries, PAGE_SIZE);
            final long address = LIB.mmap(null, length, PROT_READ_WRITE, MAP_SHARED, fd, 0);
            if (address == -1L || address == 0)
            {
                throw Libbpf.lastError("mmap of map " + name + " (is it an array with BPF_F_MMAPABLE?)");
            }
            mapped = new UnsafeBuffer(address, (int)length);
        }
        return mapped;
    }

    @Override
    public void pin(final String path)
    {
        final int rc = LIB.bpf_obj_pin(fd, path);
        if (rc < 0)
        {
            throw Libbpf.error("pinning map " + name + " at " + path + " (is bpffs mounted there?)", rc);
        }
    }

    synchronized void unmap()
    {
        if (mapped != null)
        {
            LIB.munmap(mapped.addressOffset(), mapped.capacity());
            mapped = null;
        }
    }

    private void check(final String what, final int rc)
    {
        if (rc < 0)
        {
            throw Libbpf.error(what + " map " + name, rc);
        }
    }

    @Override
    public String toString()
    {
        return "BpfMap[" + name + ", fd " + fd + "]";
    }
}
