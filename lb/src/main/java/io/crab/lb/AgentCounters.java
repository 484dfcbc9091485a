package io.crab.lb;

import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * crab-lb's own events (reloads applied and refused, changes, publications), counted in the pinned
 * lb_agent_counters map so that they outlive the agent and crab-lb status reads them. The agent is the map's one
 * writer: it continues from what an earlier run left.
 */
final class AgentCounters
{
    private final BpfMap map;
    private final long[] values = new long[Abi.Consts.CRAB_LBA_COUNTER_MAX];
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[8]);

    AgentCounters(final BpfMap map)
    {
        this.map = map;
        for (int i = 0; i < values.length; i++)
        {
            key.putInt(0, i);
            values[i] = map.lookup(key, value) ? value.getLong(0) : 0;
        }
    }

    /** Adds {@code n} to counter {@code index} (enum crab_lb_agent_counter) and returns the new total. */
    long add(final int index, final long n)
    {
        values[index] += n;
        key.putInt(0, index);
        value.putLong(0, values[index]);
        map.update(key, value, BpfMap.UPDATE_ANY);
        return values[index];
    }
}
