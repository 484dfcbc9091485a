package io.crab.bench.modes;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** CPU time from /proc: the machine's softirq time and one process's user+system time, in ns. */
final class SystemCpu
{
    /** USER_HZ: the unit of /proc/stat and /proc/PID/stat times on Linux. */
    private static final long NS_PER_TICK = 10_000_000L;

    private SystemCpu()
    {
    }

    static long softirqNs()
    {
        try
        {
            final List<String> lines = Files.readAllLines(Path.of("/proc/stat"));
            final String[] f = lines.get(0).trim().split("\\s+");
            return Long.parseLong(f[7]) * NS_PER_TICK;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("reading /proc/stat", ex);
        }
    }

    static long processNs(final long pid)
    {
        try
        {
            final String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            final String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * NS_PER_TICK;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("reading /proc/" + pid + "/stat", ex);
        }
    }
}
