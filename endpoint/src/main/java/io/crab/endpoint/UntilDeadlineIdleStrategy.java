package io.crab.endpoint;

import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;

import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Parks an idle agent until its next deadline (at most {@code maxParkNs}), so an agent that works on a schedule
 * wakes when work is due instead of polling: a server reporting 100 times a second wakes about 100 times, where a
 * 1 ms sleeping strategy would wake 1,000 times.
 */
final class UntilDeadlineIdleStrategy implements IdleStrategy
{
    private final NanoClock clock;
    private final LongSupplier deadlineNs;
    private final long maxParkNs;

    UntilDeadlineIdleStrategy(final NanoClock clock, final LongSupplier deadlineNs, final long maxParkNs)
    {
        this.clock = clock;
        this.deadlineNs = deadlineNs;
        this.maxParkNs = maxParkNs;
    }

    /** How long an idle cycle parks now: until the deadline, none once it has passed, at most the bound. */
    long parkNs()
    {
        return Math.max(0, Math.min(maxParkNs, deadlineNs.getAsLong() - clock.nanoTime()));
    }

    @Override
    public void idle(final int workCount)
    {
        if (workCount <= 0)
        {
            idle();
        }
    }

    @Override
    public void idle()
    {
        final long park = parkNs();
        if (park > 0)
        {
            LockSupport.parkNanos(park);
        }
    }

    @Override
    public void reset()
    {
    }
}
