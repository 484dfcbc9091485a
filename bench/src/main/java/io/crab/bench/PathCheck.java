package io.crab.bench;

import io.crab.bench.traffic.Workload;

/**
 * Whether a mode's traffic took the path the mode claims, judged by what the LB's XDP program saw (it sees every
 * packet that reaches the LB host): the bench refuses to report a mode that fails this, or whose requests failed.
 */
public final class PathCheck
{
    public static final String OK = io.crab.bench.results.ModeResult.PATH_OK;

    private PathCheck()
    {
    }

    /**
     * @param lbPackets   packets the LB saw during the run
     * @param lbRedirects SYNs the LB redirected during the run
     * @return {@link #OK}, or why the run does not count
     */
    public static String check(final String mode, final Workload workload, final long transactions,
        final long failures, final long lbPackets, final long lbRedirects)
    {
        if (failures > 0)
        {
            return failures + " requests failed";
        }
        if (transactions <= 0)
        {
            return "no request completed";
        }
        final double perTransaction = (double)lbPackets / transactions;
        switch (mode)
        {
            case "direct":
                return perTransaction > 0.1 ? String.format("traffic reached the LB (%.2f packets per request)",
                    perTransaction) : OK;
            case "crab":
                if (workload == Workload.CRR && lbRedirects < transactions)
                {
                    return "only " + lbRedirects + " of " + transactions + " connections were redirected";
                }
                final double allowed = workload == Workload.CRR ? 1.5 : 0.1;
                return perTransaction > allowed ? String.format("the LB saw %.2f packets per request, more than " +
                    "the SYNs", perTransaction) : OK;
            case "crab-fallback":
                if (lbRedirects > 0)
                {
                    return lbRedirects + " SYNs were redirected: the client was not a plain one";
                }
                // The client's packets only: SYN, ACK, request, FIN, ACK per CRR connection; the request (and
                // some ACKs) per RR round trip. Replies through the LB would add as many again.
                final double low = workload == Workload.CRR ? 3.5 : 0.9;
                final double high = workload == Workload.CRR ? 7 : 1.8;
                return perTransaction < low || perTransaction >= high ? String.format("the LB saw %.2f packets per " +
                    "request: not every client packet and no reply", perTransaction) : OK;
            default:
                final double expected = workload == Workload.CRR ? 3 : 0.9;
                return perTransaction < expected ? String.format("only %.2f packets per request crossed the LB",
                    perTransaction) : OK;
        }
    }
}
