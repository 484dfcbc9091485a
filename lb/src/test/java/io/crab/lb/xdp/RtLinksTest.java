package io.crab.lb.xdp;

import io.crab.bpf.Bpf;
import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfObject;
import io.crab.bpf.Netns;
import io.crab.bpf.XdpMode;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.Shell;
import io.crab.rig.Topology;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.security.SecureRandom;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * rtnetlink's view of a veth pair whose ends are in two namespaces, as crab-lb gets it to choose its XDP mode: the
 * kind, the peer across the namespaces, and the XDP programs on each end by mode.
 */
@ExtendWith(KernelRequired.class)
class RtLinksTest
{
    private Netns lbSide;
    private Netns peerSide;
    private BpfObject xdpPass;

    @BeforeEach
    void vethAcrossTwoNamespaces()
    {
        final byte[] id = new byte[3];
        new SecureRandom().nextBytes(id);
        final String suffix = HexFormat.of().formatHex(id);
        lbSide = Netns.named("crab-rl-" + suffix + "-a");
        peerSide = Netns.named("crab-rl-" + suffix + "-b");
        Shell.run("ip", "netns", "add", lbSide.name());
        Shell.run("ip", "netns", "add", peerSide.name());
        Shell.run("ip", "-n", lbSide.name(), "link", "add", "eth0", "type", "veth", "peer", "name", "lb0", "netns",
            peerSide.name());
        Shell.run("ip", "-n", lbSide.name(), "link", "set", "eth0", "up");
        Shell.run("ip", "-n", peerSide.name(), "link", "set", "lb0", "up");
        xdpPass = Bpf.load(Topology.XDP_PASS);
    }

    @AfterEach
    void removeNamespaces()
    {
        if (xdpPass != null)
        {
            xdpPass.close();
        }
        for (final Netns netns : new Netns[] {lbSide, peerSide})
        {
            if (netns != null && netns.exists())
            {
                Shell.run("ip", "netns", "del", netns.name());
            }
        }
    }

    @Test
    void aVethKnowsItsPeerInAnotherNamespaceAndWhatXdpEachEndRuns()
    {
        final int lbIfindex = ifindex(lbSide, "eth0");
        final int peerIfindex = ifindex(peerSide, "lb0");
        final LinkInfo lb = lbSide.call(() -> RtLinks.link(lbIfindex));
        assertEquals("eth0", lb.name());
        assertEquals("veth", lb.kind());
        assertEquals(peerIfindex, lb.linkIfindex());
        assertNotEquals(LinkInfo.SAME_NAMESPACE, lb.linkNetnsId(), "the peer is in another namespace");
        assertEquals(0, lb.nativeXdpProgramId());
        assertEquals(0, lb.genericXdpProgramId());

        final LinkInfo peer = lbSide.call(() -> RtLinks.link(lb.linkIfindex(), lb.linkNetnsId()));
        assertEquals("lb0", peer.name());
        assertEquals(peerIfindex, peer.ifindex());
        assertEquals(XdpPlan.PeerState.NO_NATIVE_PROGRAM, lbSide.call(() -> XdpAttachment.peer(lb)).state());

        try (BpfLink generic = peerSide.call(() -> xdpPass.program(Topology.XDP_PASS).attachXdp(peerIfindex,
            XdpMode.GENERIC)))
        {
            final LinkInfo withGeneric = lbSide.call(() -> RtLinks.link(lb.linkIfindex(), lb.linkNetnsId()));
            assertEquals(generic.programId(), withGeneric.genericXdpProgramId());
            assertEquals(0, withGeneric.nativeXdpProgramId());
            assertEquals(XdpPlan.PeerState.NO_NATIVE_PROGRAM, lbSide.call(() -> XdpAttachment.peer(lb)).state(),
                "a generic program on the peer does not make native XDP_TX reach it");
        }
        try (BpfLink nativeLink = peerSide.call(() -> xdpPass.program(Topology.XDP_PASS).attachXdp(peerIfindex,
            XdpMode.NATIVE)))
        {
            final LinkInfo withNative = lbSide.call(() -> RtLinks.link(lb.linkIfindex(), lb.linkNetnsId()));
            assertEquals(nativeLink.programId(), withNative.nativeXdpProgramId());
            final XdpPlan.Peer seen = lbSide.call(() -> XdpAttachment.peer(lb));
            assertEquals(XdpPlan.PeerState.NATIVE_PROGRAM, seen.state());
            assertEquals("lb0, ifindex " + peerIfindex + ", in another namespace", seen.description());
        }
    }

    @Test
    void aVethPairInOneNamespaceAndADeviceThatIsNoVeth()
    {
        Shell.run("ip", "-n", lbSide.name(), "link", "add", "v0", "type", "veth", "peer", "name", "v1");
        final int v0 = ifindex(lbSide, "v0");
        final int v1 = ifindex(lbSide, "v1");
        final LinkInfo pair = lbSide.call(() -> RtLinks.link(v0));
        assertEquals(v1, pair.linkIfindex());
        assertEquals(LinkInfo.SAME_NAMESPACE, pair.linkNetnsId());
        assertEquals("v1, ifindex " + v1 + ", in this namespace", lbSide.call(() -> XdpAttachment.peer(pair))
            .description());

        final LinkInfo loopback = lbSide.call(() -> RtLinks.link(ifindex(lbSide, "lo")));
        assertEquals("", loopback.kind());
        assertEquals(XdpPlan.Peer.NOT_A_VETH, XdpAttachment.peer(loopback));
    }

    @Test
    void anIfindexTheNamespaceDoesNotHaveIsRefusedWithEnodev()
    {
        final RtLinks.RtLinkException ex = assertThrows(RtLinks.RtLinkException.class,
            () -> lbSide.call(() -> RtLinks.link(99_999)));
        assertEquals(19, ex.errno(), "ENODEV: " + ex.getMessage());
    }

    private static int ifindex(final Netns netns, final String name)
    {
        final String line = Shell.run("ip", "-n", netns.name(), "-o", "link", "show", "dev", name);
        return Integer.parseInt(line.substring(0, line.indexOf(':')));
    }
}
