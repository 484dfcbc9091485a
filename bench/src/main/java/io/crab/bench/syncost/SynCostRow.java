package io.crab.bench.syncost;

/**
 * One line of the syn-cost report: ns per packet of crab_lb and of the no-op floor for one frame kind and method.
 *
 * @param frame   the frame kind, e.g. "marked SYN"
 * @param method  how the figures were taken, e.g. "repeat=1, median"
 * @param crabNs  crab_lb's ns per packet
 * @param floorNs xdp_pass's ns per packet, measured the same way on the same frames
 * @param ratio   crabNs / floorNs, NaN when the floor is not positive
 * @param samples runs of each program the figures summarise
 */
public record SynCostRow(String frame, String method, double crabNs, double floorNs, double ratio, long samples)
{
    static SynCostRow of(final String frame, final String method, final double crabNs, final double floorNs,
        final long samples)
    {
        return new SynCostRow(frame, method, crabNs, floorNs, SynCost.ratio(crabNs, floorNs), samples);
    }

    /** What crab_lb costs beyond the floor: the per-call overhead both pay (timer, dispatch) cancels out here. */
    public double overFloorNs()
    {
        return crabNs - floorNs;
    }
}
