package io.crab.agent;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NoOpIdleStrategy;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
        final DutyCycleErrors errors = new DutyCycleErrors("test-agent", new PrintWriter(log), () -> now[0]);
        main.run(failing, NoOpIdleStrategy.INSTANCE, errors, "ready", new PrintWriter(new StringWriter()));

        assertEquals(100, cycles.get(), "the cycle went on after the errors, until stopped");
        assertEquals(3, errors.count());
        assertTrue(closed[0]);
        assertEquals(1, log.toString().lines().count(), "the same error is logged once per interval:\n" + log);
        assertTrue(log.toString().contains("no route to 198.18.0.101"), log.toString());
    }

    @Test
    void aRepeatedErrorIsLoggedAgainAfterTheIntervalWithItsRepeats()
    {
        final StringWriter log = new StringWriter();
        final long[] now = {0};
        final DutyCycleErrors errors = new DutyCycleErrors("test-agent", new PrintWriter(log), () -> now[0]);
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
}
