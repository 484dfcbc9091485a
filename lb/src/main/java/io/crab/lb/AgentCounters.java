package io.crab.lb;

import io.crab.bpf.BpfMap;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * crab-lb's own events, counted in a pinned map so that they outlive the agent and crab-lb status reads them:
 * the agent's (reloads applied and refused, changes, publications) in lb_agent_counters, the feedback receiver's
 * in feedback_counters. Each map has one writer, which continues from what an earlier run left.
 */
final class AgentCounters
{
    private final BpfMap map;
    private final long[] values;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[8]);

    /** {@code count}: the counters of the map's enum, its _COUNTER_MAX. */
    AgentCounters(final BpfMap map, final int count)
    {
        this.map = map;
        this.values = new long[count];
        for (int i = 0; i < values.length; i++)
        {
            key.putInt(0, i);
            values[i] = map.lookup(key, value) ? value.getLong(0) : 0;
        }
    }

    /** Adds {@code n} to counter {@code index} (of the map's enum) and returns the new total. */
    long add(final int index, final long n)
    {
        values[index] += n;
        key.putInt(0, index);
        value.putLong(0, values[index]);
        map.update(key, value, BpfMap.UPDATE_ANY);
        return values[index];
    }
}
