package io.crab.bench.modes;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * CPU time of threads and processes from /proc, in ns: the scheduler's run time of a task
 * ({@code /proc/TID/schedstat}, first field), which counts to the nanosecond where {@code /proc/PID/stat} counts
 * 10 ms ticks. On a kernel without IRQ time accounting (as this project's VM) it includes interrupts and softirqs
 * that ran while the task was on the CPU.
 */
public final class TaskCpu
{
    private static final Path PROC = Path.of("/proc");

    private TaskCpu()
    {
    }

    /** The run time in a {@code schedstat} line: "RUN_NS WAIT_NS TIMESLICES". */
    static long runTimeNs(final String schedstat)
    {
        final String[] fields = schedstat.trim().split("\\s+");
        if (fields.length != 3)
        {
            throw new IllegalArgumentException("not a schedstat line (3 numbers): '" + schedstat.trim() + "'");
        }
        final long ns = Long.parseLong(fields[0]);
        if (ns < 0)
        {
            throw new IllegalArgumentException("negative run time in schedstat: '" + schedstat.trim() + "'");
        }
        return ns;
    }

    /** One thread's run time, kernel threads included; fails if the thread is gone. */
    public static long threadNs(final long tid)
    {
        final Path file = PROC.resolve(Long.toString(tid)).resolve("schedstat");
        try
        {
            return runTimeNs(Files.readString(file));
        }
        catch (final NoSuchFileException ex)
        {
            throw new IllegalStateException("thread " + tid + " is gone", ex);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("reading " + file, ex);
        }
    }

    /** The run time of every live thread of a process; fails if the process is gone. */
    public static long processNs(final long pid)
    {
        final Path tasks = PROC.resolve(Long.toString(pid)).resolve("task");
        final List<Path> threads;
        try (Stream<Path> list = Files.list(tasks))
        {
            threads = list.toList();
        }
        catch (final NoSuchFileException ex)
        {
            throw new IllegalStateException("process " + pid + " is gone", ex);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("listing " + tasks, ex);
        }
        long sum = 0;
        for (final Path thread : threads)
        {
            try
            {
                sum += runTimeNs(Files.readString(thread.resolve("schedstat")));
            }
            catch (final NoSuchFileException exited)
            {
                // A thread that ended between the listing and the read; its time is lost either way.
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("reading " + thread.resolve("schedstat"), ex);
            }
        }
        return sum;
    }
}
