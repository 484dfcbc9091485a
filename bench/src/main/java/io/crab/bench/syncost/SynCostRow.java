package io.crab.bench.syncost;

/**
 * One line of the syn-cost report: ns per packet of crab_lb and of the no-op floor for one frame kind and method.
 * For live frames, which run back to back on one CPU as a device would receive them, also packets per second.
 *
 * @param frame   the frame kind, e.g. "marked SYN"
 * @param method  how the figures were taken, e.g. "repeat=1, median"
 * @param crabNs  crab_lb's ns per packet
 * @param floorNs xdp_pass's ns per packet, measured the same way on the same frames
 * @param ratio   crabNs / floorNs, NaN when the floor is not positive
 * @param samples runs of each program the figures summarise
 * @param live    the runs were live frames in one call, so 1/ns is a rate one CPU sustains
 */
public record SynCostRow(String frame, String method, double crabNs, double floorNs, double ratio, long samples,
    boolean live)
{
    static SynCostRow of(final String frame, final String method, final double crabNs, final double floorNs,
        final long samples)
    {
        return new SynCostRow(frame, method, crabNs, floorNs, SynCost.ratio(crabNs, floorNs), samples, false);
    }

    static SynCostRow live(final String frame, final String method, final double crabNs, final double floorNs,
        final long samples)
    {
        return new SynCostRow(frame, method, crabNs, floorNs, SynCost.ratio(crabNs, floorNs), samples, true);
    }

    /** Millions of packets per second crab_lb runs on one CPU; NaN unless live (or a zero duration). */
    public double crabMpps()
    {
        return mpps(crabNs);
    }

    public double floorMpps()
    {
        return mpps(floorNs);
    }

    private double mpps(final double ns)
    {
        return live && ns > 0 ? 1_000.0 / ns : Double.NaN;
    }

    /** What crab_lb costs beyond the floor: the per-call overhead both pay (timer, dispatch) cancels out here. */
    public double overFloorNs()
    {
        return crabNs - floorNs;
    }
}
