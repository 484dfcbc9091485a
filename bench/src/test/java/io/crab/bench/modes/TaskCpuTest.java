package io.crab.bench.modes;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CPU time read from /proc: the schedstat format, and real threads and processes. */
class TaskCpuTest
{
    @Test
    void runTimeIsTheFirstOfTheThreeSchedstatNumbers()
    {
        assertEquals(153589093L, TaskCpu.runTimeNs("153589093 36629648 23459\n"));
        assertEquals(0L, TaskCpu.runTimeNs("0 0 0"));
    }

    @Test
    void aLineThatIsNotSchedstatIsRefusedWithItsText()
    {
        final IllegalArgumentException two = assertThrows(IllegalArgumentException.class,
            () -> TaskCpu.runTimeNs("153589093 36629648"));
        assertEquals("not a schedstat line (3 numbers): '153589093 36629648'", two.getMessage());
        assertThrows(NumberFormatException.class, () -> TaskCpu.runTimeNs("a b c"));
        assertThrows(IllegalArgumentException.class, () -> TaskCpu.runTimeNs("-5 0 0"));
    }

    @Test
    void aBusyProcessGainsAboutTheTimeItSpins() throws Exception
    {
        final long pid = ProcessHandle.current().pid();
        final long before = TaskCpu.processNs(pid);
        final long mainBefore = TaskCpu.threadNs(pid);
        final long spun = spin(TimeUnit.MILLISECONDS.toNanos(200));
        final long gained = TaskCpu.processNs(pid) - before;

        assertTrue(gained >= spun / 2, "spun " + spun + " ns on a CPU, the process gained " + gained);
        assertTrue(TaskCpu.processNs(pid) >= TaskCpu.threadNs(pid), "all threads hold at least the main one");
        assertTrue(TaskCpu.threadNs(pid) >= mainBefore, "a thread's run time never falls");
    }

    @Test
    void aProcessThatEndedIsReportedGone() throws Exception
    {
        final Process exited = new ProcessBuilder("true").start();
        assertEquals(0, exited.waitFor());

        final IllegalStateException gone = assertThrows(IllegalStateException.class,
            () -> TaskCpu.processNs(exited.pid()));
        assertEquals("process " + exited.pid() + " is gone", gone.getMessage());
        assertThrows(IllegalStateException.class, () -> TaskCpu.threadNs(exited.pid()));
    }

    /** Busy for about {@code ns} of this thread's CPU time; returns the CPU time it took, by the JVM's clock. */
    private static long spin(final long ns)
    {
        final java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        final long start = threads.getCurrentThreadCpuTime();
        long sink = 0;
        while (threads.getCurrentThreadCpuTime() - start < ns)
        {
            sink += System.nanoTime() & 1;
        }
        assertTrue(sink >= 0);
        return threads.getCurrentThreadCpuTime() - start;
    }
}
