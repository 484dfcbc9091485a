package io.crab.endpoint;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class UntilDeadlineIdleStrategyTest
{
    private long nowNs = 1_000_000_000L;
    private long deadlineNs;

    @Test
    void parksUntilTheDeadlineAndNoLongerThanItsBound()
    {
        final UntilDeadlineIdleStrategy idle =
            new UntilDeadlineIdleStrategy(() -> nowNs, () -> deadlineNs, 50_000_000L);

        deadlineNs = nowNs + 7_000_000L;
        assertEquals(7_000_000L, idle.parkNs(), "a report due in 7 ms");
        deadlineNs = nowNs + 900_000_000L;
        assertEquals(50_000_000L, idle.parkNs(), "bounded");
        deadlineNs = nowNs - 1;
        assertEquals(0, idle.parkNs(), "overdue: straight back to work");
    }
}
