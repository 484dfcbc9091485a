package io.crab.bench.traffic;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

import org.HdrHistogram.Histogram;

/** Drives one bounded run: starts the workers, enforces the count and time caps, merges what they measured. */
final class LoadRun
{
    /** How long transactions in flight at the deadline may take to finish before their sockets are closed. */
    private static final long GRACE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    /** How long aborted workers get to notice; a socket close unblocks them almost at once. */
    private static final long ABORT_WAIT_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** Bounds on how often the watchdog looks for overdue operations: a tenth of the shorter timeout, within these. */
    private static final long MIN_WATCH_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long MAX_WATCH_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final LoadSpec spec;
    private final long deadline;
    private final AtomicLong claimed = new AtomicLong();
    private final CountDownLatch warmedUp;
    private final CountDownLatch go = new CountDownLatch(1);

    private LoadRun(final LoadSpec spec, final long begin)
    {
        this.spec = spec;
        this.deadline = begin + spec.duration().toNanos();
        this.warmedUp = new CountDownLatch(spec.concurrency());
    }

    /** Runs spec.concurrency() workers made by newWorker to completion; traffic failures are counted, not thrown. */
    static LoadResult execute(final LoadSpec spec, final Workload kind, final Function<LoadRun, Worker> newWorker)
    {
        final LoadRun run = new LoadRun(spec, System.nanoTime());
        final List<Worker> workers = new ArrayList<>(spec.concurrency());
        final List<Thread> threads = new ArrayList<>(spec.concurrency());
        for (int i = 0; i < spec.concurrency(); i++)
        {
            final Worker worker = newWorker.apply(run);
            workers.add(worker);
            threads.add(spec.threadFactory().newThread(worker));
        }
        final Thread watchdog = new Thread(() -> watch(workers, watchPeriodNanos(spec)), "crab-load-watchdog");
        watchdog.setDaemon(true);
        long start = System.nanoTime();
        try
        {
            watchdog.start();
            threads.forEach(Thread::start);
            run.warmedUp.await(Math.max(0, run.deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            start = System.nanoTime();
            run.go.countDown();
            joinUntil(threads, run.deadline + GRACE_NANOS);
        }
        catch (InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        finally
        {
            // Releases workers still waiting to start so they see the abort and leave.
            run.go.countDown();
            stopStragglers(workers, threads);
            watchdog.interrupt();
        }
        return merge(spec, kind, workers, start);
    }

    /**
     * Keeps the connect and read timeouts for the workers, whose blocking channels have none of their own (see
     * {@link Worker}): wakes every period and closes the channel of any operation past its timeout, until interrupted.
     */
    private static void watch(final List<Worker> workers, final long periodNanos)
    {
        while (!Thread.currentThread().isInterrupted())
        {
            LockSupport.parkNanos(periodNanos);
            final long now = System.nanoTime();
            for (final Worker worker : workers)
            {
                worker.expireIfOverdue(now);
            }
        }
    }

    private static long watchPeriodNanos(final LoadSpec spec)
    {
        final long shorter = Math.min(spec.connectTimeout().toNanos(), spec.readTimeout().toNanos());
        return Math.max(MIN_WATCH_NANOS, Math.min(MAX_WATCH_NANOS, shorter / 10));
    }

    private static void stopStragglers(final List<Worker> workers, final List<Thread> threads)
    {
        for (int i = 0; i < threads.size(); i++)
        {
            if (threads.get(i).isAlive())
            {
                workers.get(i).abort();
            }
        }
        final boolean interrupted = Thread.interrupted();
        try
        {
            joinUntil(threads, System.nanoTime() + ABORT_WAIT_NANOS);
        }
        catch (InterruptedException e)
        {
            // Already giving up on the stragglers; the interrupt is restored below.
        }
        finally
        {
            if (interrupted)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void joinUntil(final List<Thread> threads, final long until) throws InterruptedException
    {
        for (final Thread thread : threads)
        {
            final long remaining = until - System.nanoTime();
            if (remaining > 0)
            {
                TimeUnit.NANOSECONDS.timedJoin(thread, remaining);
            }
        }
    }

    private static LoadResult merge(
        final LoadSpec spec, final Workload kind, final List<Worker> workers, final long start)
    {
        long transactions = 0;
        long end = start;
        final Map<FailureKind, Long> failures = new EnumMap<>(FailureKind.class);
        for (final Worker worker : workers)
        {
            transactions += worker.transactions();
            end = Math.max(end, worker.lastCountedAt());
            for (final FailureKind failureKind : FailureKind.values())
            {
                failures.merge(failureKind, worker.failures(failureKind), Long::sum);
            }
        }
        final List<Histogram> histograms = workers.stream().map(Worker::histogram).toList();
        return new LoadResult(spec.label(), kind, transactions, failures, end - start, Histograms.merge(histograms));
    }

    LoadSpec spec()
    {
        return spec;
    }

    boolean pastDeadline(final long now)
    {
        return now - deadline >= 0;
    }

    /** Takes one attempt from the shared count budget; always succeeds when the run is bounded by time only. */
    boolean claim()
    {
        return spec.maxTransactions() == 0 || claimed.getAndIncrement() < spec.maxTransactions();
    }

    void warmedUp()
    {
        warmedUp.countDown();
    }

    /** Waits until every worker has warmed up; false if the run ended first. */
    boolean awaitGo()
    {
        try
        {
            return go.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        }
        catch (InterruptedException e)
        {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
