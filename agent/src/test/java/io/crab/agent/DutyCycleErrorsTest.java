package io.crab.agent;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NoOpIdleStrategy;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An exception in a duty cycle is counted, logged without flooding, and the cycle goes on. */
class DutyCycleErrorsTest
{
    @Test
    void theDutyCycleGoesOnAfterErrorsAndTheAgentClosesOnlyWhenStopped() throws Exception
    {
        final AgentMain main = new AgentMain();
        final AtomicLong cycles = new AtomicLong();
        final boolean[] closed = new boolean[1];
        final Agent failing = new Agent()
        {
            @Override
            public int doWork()
            {
                if (cycles.incrementAndGet() <= 3)
                {
                    throw new IllegalStateException("no route to 198.18.0.101 on eth0");
                }
                if (cycles.get() == 100)
                {
                    main.stop();
                }
                return 1;
            }

            @Override
            public void onClose()
            {
                closed[0] = true;
            }

            @Override
            public String roleName()
            {
                return "failing";
            }
        };
        final StringWriter log = new StringWriter();
        final long[] now = {0};
        final DutyCycleErrors errors = new DutyCycleErrors(log(log, false), () -> now[0]);
        main.run(failing, NoOpIdleStrategy.INSTANCE, errors, "ready", log(new StringWriter(), false));

        assertEquals(100, cycles.get(), "the cycle went on after the errors, until stopped");
        assertEquals(3, errors.count());
        assertTrue(closed[0]);
        assertEquals(1, log.toString().lines().count(), "the same error is logged once per interval:\n" + log);
        assertTrue(log.toString().contains("ERROR test-agent: error in the duty cycle, retried (1 errors so far): " +
            "no route to 198.18.0.101 on eth0"), log.toString());
        assertFalse(log.toString().contains("IllegalStateException"), "no exception class without --verbose");
    }

    @Test
    void aRepeatedErrorIsLoggedAgainAfterTheIntervalWithItsRepeats()
    {
        final StringWriter log = new StringWriter();
        final long[] now = {0};
        final DutyCycleErrors errors = new DutyCycleErrors(log(log, false), () -> now[0]);
        final IllegalStateException same = new IllegalStateException("neighbour table unreadable");
        errors.onError(same);
        errors.onError(same);
        errors.onError(new IllegalArgumentException("another one"));
        now[0] = DutyCycleErrors.REPEAT_INTERVAL_NS + 1;
        errors.onError(same);

        final String[] lines = log.toString().split("\n");
        assertEquals(3, lines.length, log.toString());
        assertTrue(lines[2].contains("4 errors so far") && lines[2].contains("1 more times"), lines[2]);
    }

    @Test
    void verboseLogsTheStackTraceWithTheFirstLine()
    {
        final StringWriter log = new StringWriter();
        new DutyCycleErrors(log(log, true), () -> 0).onError(new IllegalStateException("neighbour table unreadable"));
        final String[] lines = log.toString().split("\n");
        assertTrue(lines[0].endsWith("neighbour table unreadable"), lines[0]);
        assertEquals("java.lang.IllegalStateException: neighbour table unreadable", lines[1]);
        assertTrue(lines[2].strip().startsWith("at io.crab.agent.DutyCycleErrorsTest."), lines[2]);
    }

    private static Log log(final StringWriter sink, final boolean verbose)
    {
        return new Log("test-agent", Log.Format.TEXT, verbose, new PrintWriter(sink), () -> 0);
    }
}
