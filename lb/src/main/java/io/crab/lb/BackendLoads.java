package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.HashMap;
import java.util.Map;

/**
 * The one writer of backend_loads: turns load reports into what jsq and p2c read. A report of {@code load} sets the
 * backend's base to {@code load - assigned}, {@code assigned} being the connections the XDP program has given it so
 * far, so the program's estimate ({@code base + assigned}) is the report plus what was given since.
 * <p>
 * A backend whose reports stop (its endpoint down, reports lost or refused) is rebased to 0 at each
 * {@link #STALE_AFTER_NS}: its estimate is then what the LB gave it in the last period, neither frozen at an old
 * report nor growing without end, which would starve it. A backend id that is new, or now names another target,
 * starts from 0 the same way, so it is not flooded as if it had never been given anything.
 * <p>
 * Used on one thread only; nothing allocates per report.
 */
final class BackendLoads
{
    /** 25 missed reports at the default 100 Hz, 2.5 at the slowest rate a server may report at (10 Hz). */
    static final long STALE_AFTER_NS = 250_000_000L;
    /** Reports above this are taken as this, so no report can overflow the program's arithmetic. */
    static final long MAX_LOAD = 1L << 24;

    private final BpfMap loads;
    private final BpfMap assigned;
    private final NanoClock clock;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[Abi.BackendLoad.SIZE]);
    private final UnsafeBuffer count = new UnsafeBuffer(new byte[8]);
    /** Per backend id: when its last report or rebase was written (CLOCK_MONOTONIC ns); 0 = not tracked. */
    private final long[] freshNs;
    private Map<HostPort, Integer> tracked = Map.of();

    BackendLoads(final BpfObject obj, final NanoClock clock)
    {
        this.loads = obj.map(Abi.Maps.BACKEND_LOADS);
        this.assigned = obj.map(Abi.Maps.BACKEND_ASSIGNED);
        this.clock = clock;
        this.freshNs = new long[loads.maxEntries()];
    }

    /** Follows a publication: ids new to it, or naming another target than before, start from load 0. */
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
                write(id, 0, 0);
                keep[id] = now;
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
            write(id, Math.min(Math.max(load, 0), MAX_LOAD), now);
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
                key.putInt(0, id);
                final long reportedNs = loads.lookup(key, value) ? value.getLong(Abi.BackendLoad.REPORTED_NS) : 0;
                write(id, 0, reportedNs);
                freshNs[id] = now;
                rebased++;
            }
        }
        return rebased;
    }

    private void write(final int id, final long load, final long reportedNs)
    {
        key.putInt(0, id);
        final long given = assigned.lookup(key, count) ? count.getLong(0) : 0;
        value.putLong(Abi.BackendLoad.BASE, load - given);
        value.putLong(Abi.BackendLoad.LOAD, load);
        value.putLong(Abi.BackendLoad.REPORTED_NS, reportedNs);
        loads.update(key, value, BpfMap.UPDATE_ANY);
    }
}
