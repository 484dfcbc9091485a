package io.crab.bench;

import io.crab.bench.traffic.Workload;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The bench's refusal rules for modes whose traffic did not take their path. */
class PathCheckTest
{
    @Test
    void failedRequestsAreRefusedWhateverThePath()
    {
        assertEquals("3 requests failed", PathCheck.check("crab", Workload.CRR, 1000, 3, 1000, 1000));
        assertEquals("no request completed", PathCheck.check("direct", Workload.RR, 0, 0, 0, 0));
    }

    @Test
    void crabFallbackMustCarryEveryClientPacketAndNoReply()
    {
        assertEquals(PathCheck.OK, PathCheck.check("crab-fallback", Workload.CRR, 1000, 0, 5000, 0));
        assertEquals("the LB saw 9.00 packets per request: not every client packet and no reply",
            PathCheck.check("crab-fallback", Workload.CRR, 1000, 0, 9000, 0), "replies crossed the LB too");
        assertEquals("the LB saw 1.00 packets per request: not every client packet and no reply",
            PathCheck.check("crab-fallback", Workload.CRR, 1000, 0, 1000, 0), "only SYNs: redirected, not fallback");
        assertEquals("1000 SYNs were redirected: the client was not a plain one",
            PathCheck.check("crab-fallback", Workload.CRR, 1000, 0, 5000, 1000));
        assertEquals(PathCheck.OK, PathCheck.check("crab-fallback", Workload.RR, 100000, 0, 110000, 0));
        assertEquals("the LB saw 2.00 packets per request: not every client packet and no reply",
            PathCheck.check("crab-fallback", Workload.RR, 1000, 0, 2000, 0));
    }

    @Test
    void directMustNotReachTheLb()
    {
        assertEquals(PathCheck.OK, PathCheck.check("direct", Workload.CRR, 1000, 0, 5, 0));
        assertEquals("traffic reached the LB (6.00 packets per request)",
            PathCheck.check("direct", Workload.CRR, 1000, 0, 6000, 0));
    }

    @Test
    void crabMustRedirectEveryConnectionAndSeeOnlyItsSyn()
    {
        assertEquals(PathCheck.OK, PathCheck.check("crab", Workload.CRR, 1000, 0, 1010, 1000));
        assertEquals("only 900 of 1000 connections were redirected",
            PathCheck.check("crab", Workload.CRR, 1000, 0, 1010, 900));
        assertEquals("the LB saw 6.00 packets per request, more than the SYNs",
            PathCheck.check("crab", Workload.CRR, 1000, 0, 6000, 1000));
        assertEquals(PathCheck.OK, PathCheck.check("crab", Workload.RR, 100000, 0, 10, 1));
        assertEquals("the LB saw 2.00 packets per request, more than the SYNs",
            PathCheck.check("crab", Workload.RR, 1000, 0, 2000, 1));
    }

    @Test
    void proxiesAndDnatMustCarryEveryPacket()
    {
        assertEquals(PathCheck.OK, PathCheck.check("l4-dnat", Workload.CRR, 1000, 0, 9000, 0));
        assertEquals("only 1.00 packets per request crossed the LB",
            PathCheck.check("haproxy", Workload.CRR, 1000, 0, 1000, 0));
        assertEquals(PathCheck.OK, PathCheck.check("haproxy", Workload.RR, 1000, 0, 2000, 0));
        assertEquals("only 0.00 packets per request crossed the LB",
            PathCheck.check("l4-dnat", Workload.RR, 1000, 0, 0, 0));
    }
}
