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
        assertFalse(shouldRemove(false, AGE, true, false), "missed once: /proc/net/tcp may have skipped it");
        assertTrue(shouldRemove(false, AGE, true, true), "missed twice in a row");
        assertFalse(shouldRemove(false, AGE, false, true), "seen again after a miss");
    }

    @Test
    void aPendingFlowGoesWhenItsSynRetriesAreOver()
    {
        assertFalse(shouldRemove(true, PENDING_TIMEOUT_NS - 1, true, true));
        assertTrue(shouldRemove(true, PENDING_TIMEOUT_NS + 1, false, false));
    }

    @Test
    void ipv4AndIpv4MappedSocketsHaveTheSameKeyAndIpv6OnesNone()
    {
        final java.util.Set<Long> keys = new java.util.HashSet<>();
        SocketTable.parseLine("  0: 0B0012C6:9C40 010013C6:0050 01 00000000:00000000 00:00000000 00000000     0" +
            "        0 12345 1 0000000000000000 20 4 30 10 -1", keys);
        final long expected = SocketDiag.key(0xC612000B, 40000, 0xC6130001, 80);
        assertTrue(keys.contains(expected), "IPv4 line");

        final java.util.Set<Long> mapped = new java.util.HashSet<>();
        SocketTable.parseLine("  0: 0000000000000000FFFF00000B0012C6:9C40 0000000000000000FFFF0000010013C6:0050 01 " +
            "00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 20 4 30 10 -1", mapped);
        assertTrue(mapped.contains(expected), "IPv4-mapped line of /proc/net/tcp6 (how Java's sockets appear)");

        final java.util.Set<Long> v6 = new java.util.HashSet<>();
        SocketTable.parseLine("  0: 000080FE00000000FF00000000000001:9C40 000080FE00000000FF00000000000002:0050 01 " +
            "00000000:00000000 00:00000000 00000000     0        0 12347 1 0000000000000000 20 4 30 10 -1", v6);
        assertTrue(v6.isEmpty(), "a real IPv6 socket is none of crab's business");
    }
}
