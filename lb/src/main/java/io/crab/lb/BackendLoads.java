package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import org.agrona.BitUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.NanoClock;

import java.util.HashMap;
import java.util.Map;

/**
 * The one writer of backend_loads: turns load reports into what jsq and p2c read. A report of {@code load} sets the
 * backend's base to {@code load - assigned}, {@code assigned} being the connections the XDP program has given it so
 * far, so the program's estimate ({@code base + assigned}) is the report plus what was given since. Both maps are
 * mapped into this process: the base is one aligned 8-byte store, which a SYN reads whole.
 * <p>
 * A backend whose reports stop (its endpoint down, reports lost or refused) is rebased to its last reported load at
 * each {@link #STALE_AFTER_NS}: its estimate is then that load plus what the LB gave it in the last period, neither
 * frozen (connections keep counting) nor growing without end, and never lighter than it last said it was, so jsq does
 * not pile connections onto a backend just because its reports stopped. A backend id that is new, or now names
 * another target, starts from 0; an id that leaves the tables is set to 0 at once, so it comes back neutral.
 * <p>
 * Used on one thread only; nothing allocates per report.
 */
final class BackendLoads
{
    /** 25 missed reports at the default 100 Hz, 2.5 at the slowest rate a server may report at (10 Hz). */
    static final long STALE_AFTER_NS = 250_000_000L;
    /** Reports above this are taken as this, so no report can overflow the program's arithmetic. */
    static final long MAX_LOAD = 1L << 24;

    private final AtomicBuffer loads;
    private final int loadStride;
    private final AtomicBuffer assigned;
    private final int assignedStride;
    private final NanoClock clock;
    /** Per backend id: when its last report or rebase was written (CLOCK_MONOTONIC ns); 0 = not tracked. */
    private final long[] freshNs;
    /** Per backend id: the load its server last reported, 0 before the first. */
    private final long[] lastLoad;
    private Map<HostPort, Integer> tracked = Map.of();

    BackendLoads(final BpfObject obj, final NanoClock clock)
    {
        final BpfMap loadsMap = obj.map(Abi.Maps.BACKEND_LOADS);
        final BpfMap assignedMap = obj.map(Abi.Maps.BACKEND_ASSIGNED);
        this.loads = loadsMap.mmap();
        this.loadStride = BitUtil.align(loadsMap.valueSize(), 8);
        this.assigned = assignedMap.mmap();
        this.assignedStride = BitUtil.align(assignedMap.valueSize(), 8);
        this.clock = clock;
        this.freshNs = new long[loadsMap.maxEntries()];
        this.lastLoad = new long[loadsMap.maxEntries()];
    }

    /**
     * Follows a publication: ids new to it, or naming another target than before, start from load 0; ids no longer in
     * it are set to 0, so whatever the receiver's timing, a reused id never carries its former backend's load.
     */
    void track(final Map<HostPort, Integer> ids)
    {
        final Map<Integer, HostPort> before = new HashMap<>();
        tracked.forEach((target, id) -> before.put(id, target));
        final long[] keep = new long[freshNs.length];
        ids.forEach((target, id) ->
        {
            if (target.equals(before.get(id)))
            {
                keep[id] = freshNs[id];
            }
            else
            {
                final long now = clock.nanoTime();
                lastLoad[id] = 0;
                write(id, 0, 0);
                keep[id] = now;
            }
        });
        before.keySet().forEach(id ->
        {
            if (!ids.containsValue(id))
            {
                lastLoad[id] = 0;
                write(id, 0, 0);
            }
        });
        System.arraycopy(keep, 0, freshNs, 0, freshNs.length);
        tracked = Map.copyOf(ids);
    }

    /** The backend's server says its load is {@code load}. */
    void report(final int id, final long load)
    {
        if (id >= 0 && id < freshNs.length && freshNs[id] != 0)
        {
            final long now = clock.nanoTime();
            lastLoad[id] = Math.min(Math.max(load, 0), MAX_LOAD);
            write(id, lastLoad[id], now);
            freshNs[id] = now;
        }
    }

    /** Rebases every tracked backend without a report for {@link #STALE_AFTER_NS}; returns how many. */
    int rebaseStale()
    {
        final long now = clock.nanoTime();
        int rebased = 0;
        for (int id = 0; id < freshNs.length; id++)
        {
            if (freshNs[id] != 0 && now - freshNs[id] >= STALE_AFTER_NS)
            {
                write(id, lastLoad[id], loads.getLong(id * loadStride + Abi.BackendLoad.REPORTED_NS));
                freshNs[id] = now;
                rebased++;
            }
        }
        return rebased;
    }

    /** The status fields first, the base the program reads last, in one ordered store. */
    private void write(final int id, final long load, final long reportedNs)
    {
        final int at = id * loadStride;
        final long given = assigned.getLongVolatile(id * assignedStride);
        loads.putLong(at + Abi.BackendLoad.LOAD, load);
        loads.putLong(at + Abi.BackendLoad.REPORTED_NS, reportedNs);
        loads.putLongOrdered(at + Abi.BackendLoad.BASE, load - given);
    }
}
