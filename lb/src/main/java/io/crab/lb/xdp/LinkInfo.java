package io.crab.lb.xdp;

/**
 * What rtnetlink says of a network interface that decides where XDP can run on it: its kind, the other end of its
 * link and the XDP programs attached to it.
 *
 * @param ifindex             the interface's index in its own namespace
 * @param name                its name there
 * @param kind                the driver's link kind ({@code veth}, {@code bridge}, ...); empty for a device that
 *                            is no virtual link (a NIC)
 * @param linkIfindex         the other end of its link (a veth's peer), in the namespace {@code linkNetnsId}
 *                            names; 0 when it has none
 * @param linkNetnsId         the id under which the asking namespace knows the namespace of the link's other end,
 *                            {@link #SAME_NAMESPACE} when it is the asker's own
 * @param nativeXdpProgramId  the id of the XDP program attached in native mode, 0 for none
 * @param genericXdpProgramId the id of the XDP program attached in generic mode, 0 for none
 */
public record LinkInfo(int ifindex, String name, String kind, int linkIfindex, int linkNetnsId,
    int nativeXdpProgramId, int genericXdpProgramId)
{
    public static final int SAME_NAMESPACE = -1;

    public boolean isVeth()
    {
        return "veth".equals(kind);
    }

    /** Whether a veth's peer, or any other link's other end, is in the namespace that asked. */
    public boolean linkInSameNamespace()
    {
        return linkNetnsId == SAME_NAMESPACE;
    }
}
