package io.crab.endpoint;

import org.junit.jupiter.api.Test;

import static io.crab.endpoint.EndpointAgent.PENDING_TIMEOUT_NS;
import static io.crab.endpoint.EndpointAgent.shouldRemove;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When the client agent removes a flow: never a live one on a single missed sighting of its socket. */
class FlowSweepTest
{
    private static final long AGE = 10_000_000_000L;

    @Test
    void aRedirectedFlowGoesOnlyAfterTwoSweepsInARowMissItsSocket()
    {
        assertFalse(shouldRemove(false, AGE, false, false), "socket seen");
        assertFalse(shouldRemove(false, AGE, true, false), "missed once: a dump may have skipped it");
        assertTrue(shouldRemove(false, AGE, true, true), "missed twice in a row");
        assertFalse(shouldRemove(false, AGE, false, true), "seen again after a miss");
    }

    @Test
    void aPendingFlowGoesLikeARedirectedOneWhenItsSocketIsGone()
    {
        assertFalse(shouldRemove(true, AGE, false, false), "socket seen");
        assertFalse(shouldRemove(true, AGE, true, false), "missed once");
        assertTrue(shouldRemove(true, AGE, true, true), "missed twice in a row, long before the 75 s backstop");
    }

    @Test
    void aPendingFlowGoesWhenItsSynRetriesAreOverWhateverItsSocket()
    {
        assertFalse(shouldRemove(true, PENDING_TIMEOUT_NS - 1, false, false));
        assertTrue(shouldRemove(true, PENDING_TIMEOUT_NS + 1, false, false));
        assertFalse(shouldRemove(false, PENDING_TIMEOUT_NS + 1, false, false), "a redirected flow has no age limit");
    }
}
