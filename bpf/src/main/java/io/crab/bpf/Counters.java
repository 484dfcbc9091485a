package io.crab.bpf;

import org.agrona.concurrent.UnsafeBuffer;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.TreeMap;

/** Reads per-CPU u64 counter arrays (summed over CPUs) and names their indexes after the C enumerators. */
public final class Counters
{
    private final BpfMap map;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
    private final UnsafeBuffer perCpu;

    public Counters(final BpfMap map)
    {
        this.map = map;
        this.perCpu = new UnsafeBuffer(new byte[map.valueBufferSize()]);
    }

    public long sum(final int index)
    {
        key.putInt(0, index);
        if (!map.lookup(key, perCpu))
        {
            return 0;
        }
        long total = 0;
        for (int at = 0; at + 8 <= perCpu.capacity(); at += 8)
        {
            total += perCpu.getLong(at, ByteOrder.nativeOrder());
        }
        return total;
    }

    /**
     * Index to name of the enumerators in {@link Abi.Consts} that start with {@code prefix}, e.g. "CRAB_LB_"
     * gives 12 to "tx_redirect"; the _MAX sentinel is left out.
     */
    public static Map<Integer, String> names(final String prefix)
    {
        final Map<Integer, String> names = new TreeMap<>();
        for (final Field f : Abi.Consts.class.getFields())
        {
            if (Modifier.isStatic(f.getModifiers()) && f.getName().startsWith(prefix) &&
                !f.getName().endsWith("_COUNTER_MAX"))
            {
                try
                {
                    names.put(f.getInt(null), f.getName().substring(prefix.length()).toLowerCase());
                }
                catch (final IllegalAccessException ex)
                {
                    throw new IllegalStateException(ex);
                }
            }
        }
        return names;
    }
}
