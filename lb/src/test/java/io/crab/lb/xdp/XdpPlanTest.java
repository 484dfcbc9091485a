package io.crab.lb.xdp;

import io.crab.agent.ConfigException;
import io.crab.agent.Log;
import io.crab.bpf.XdpMode;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static io.crab.bpf.XdpMode.GENERIC;
import static io.crab.bpf.XdpMode.NATIVE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The whole rule of {@link XdpPlan#decide}, case by case: no kernel needed. */
class XdpPlanTest
{
    private static final String PEER = "veth-lb, ifindex 7, in another namespace";
    private static final XdpPlan.Peer NO_PROGRAM = new XdpPlan.Peer(XdpPlan.PeerState.NO_NATIVE_PROGRAM, PEER);
    private static final XdpPlan.Peer WITH_PROGRAM = new XdpPlan.Peer(XdpPlan.PeerState.NATIVE_PROGRAM, PEER);
    private static final XdpPlan.Peer UNKNOWN = new XdpPlan.Peer(XdpPlan.PeerState.UNKNOWN,
        "ifindex 7, in another namespace: RTM_GETLINK failed: Operation not permitted (errno 1)");

    @Test
    void autoTriesNativeThenGenericWhereNativeXdpTxWorks()
    {
        for (final XdpPlan.Peer peer : List.of(XdpPlan.Peer.NOT_A_VETH, WITH_PROGRAM))
        {
            final XdpPlan plan = decide(XdpModeOption.AUTO, Optional.empty(), peer);
            assertEquals(List.of(NATIVE, GENERIC), plan.modes(), peer.toString());
            assertEquals(Optional.empty(), plan.replaces());
            assertEquals(List.of(), plan.notes());
        }
    }

    @Test
    void autoTakesGenericOnAVethWhosePeerHasNoNativeProgramAndSaysHowToGetNative()
    {
        final XdpPlan plan = decide(XdpModeOption.AUTO, Optional.empty(), NO_PROGRAM);
        assertEquals(List.of(GENERIC), plan.modes());
        assertEquals(Optional.empty(), plan.replaces());
        assertEquals(List.of(info("XDP in generic mode: eth0 is a veth whose peer (" + PEER + ") has no native " +
            "XDP program, and in native mode the veth would drop every SYN crab-lb sends back out without one; for " +
            "native mode, attach an XDP program to the peer in native mode and start crab-lb with --xdp-mode " +
            "native")), plan.notes());
    }

    @Test
    void autoTakesGenericWhenThePeerCannotBeAsked()
    {
        final XdpPlan plan = decide(XdpModeOption.AUTO, Optional.empty(), UNKNOWN);
        assertEquals(List.of(GENERIC), plan.modes());
        assertEquals(Log.Level.INFO, plan.notes().get(0).level());
        assertTrue(plan.notes().get(0).message().startsWith("XDP in generic mode: eth0 is a veth whose peer (" +
            UNKNOWN.description() + ") cannot be asked whether it has a native XDP program"), plan.notes().toString());
    }

    @Test
    void autoKeepsTheRunningModeUnlessItIsNativeOnAVethWhosePeerHasNoProgram()
    {
        for (final XdpPlan.Peer peer : List.of(XdpPlan.Peer.NOT_A_VETH, WITH_PROGRAM, NO_PROGRAM, UNKNOWN))
        {
            final XdpPlan generic = decide(XdpModeOption.AUTO, Optional.of(GENERIC), peer);
            assertEquals(new XdpPlan(List.of(GENERIC), Optional.empty(), List.of()), generic, peer.toString());
        }
        for (final XdpPlan.Peer peer : List.of(XdpPlan.Peer.NOT_A_VETH, WITH_PROGRAM, UNKNOWN))
        {
            final XdpPlan kept = decide(XdpModeOption.AUTO, Optional.of(NATIVE), peer);
            assertEquals(new XdpPlan(List.of(NATIVE), Optional.empty(), List.of()), kept, peer.toString());
        }

        final XdpPlan moved = decide(XdpModeOption.AUTO, Optional.of(NATIVE), NO_PROGRAM);
        assertEquals(List.of(GENERIC), moved.modes());
        assertEquals(Optional.of(NATIVE), moved.replaces());
        assertEquals(List.of(info("moving XDP on eth0 from native to generic mode: eth0 is a veth whose peer (" +
            PEER + ") has no native XDP program, so the veth dropped every SYN crab-lb sent back out; the kernel " +
            "cannot change a running attachment's mode, so it is detached and attached again, and SYNs arriving in " +
            "between are served by the hashing fallback")), moved.notes());
    }

    @Test
    void nativeOnAVethWhosePeerHasNoNativeProgramIsRefusedWithTheFixWhateverRuns()
    {
        for (final Optional<XdpMode> running : List.of(Optional.<XdpMode>empty(), Optional.of(NATIVE),
            Optional.of(GENERIC)))
        {
            final ConfigException refused = assertThrows(ConfigException.class,
                () -> decide(XdpModeOption.NATIVE, running, NO_PROGRAM));
            assertEquals("--xdp-mode native: eth0 is a veth whose peer (" + PEER + ") has no native XDP program, " +
                "so the veth would drop every SYN crab-lb sends back out; attach an XDP program to the peer in " +
                "native mode (one that passes every frame will do), or use --xdp-mode generic or auto",
                refused.getMessage());
        }
    }

    @Test
    void nativeElsewhereAttachesNativeAndWarnsWhenThePeerCannotBeAsked()
    {
        assertEquals(new XdpPlan(List.of(NATIVE), Optional.empty(), List.of()),
            decide(XdpModeOption.NATIVE, Optional.empty(), XdpPlan.Peer.NOT_A_VETH));
        assertEquals(new XdpPlan(List.of(NATIVE), Optional.empty(), List.of()),
            decide(XdpModeOption.NATIVE, Optional.of(NATIVE), WITH_PROGRAM));
        final XdpPlan unknown = decide(XdpModeOption.NATIVE, Optional.empty(), UNKNOWN);
        assertEquals(List.of(NATIVE), unknown.modes());
        assertEquals(List.of(new XdpPlan.Note(Log.Level.WARN, "eth0 is a veth whose peer (" + UNKNOWN.description() +
            ") cannot be asked whether it has a native XDP program; without one, the veth drops every SYN crab-lb " +
            "sends back out")), unknown.notes());
    }

    @Test
    void anAskedModeReplacesARunningAttachmentOfTheOtherMode()
    {
        final XdpPlan toNative = decide(XdpModeOption.NATIVE, Optional.of(GENERIC), WITH_PROGRAM);
        assertEquals(List.of(NATIVE), toNative.modes());
        assertEquals(Optional.of(GENERIC), toNative.replaces());
        assertEquals(List.of(info("moving XDP on eth0 from generic to native mode, as --xdp-mode asks: the " +
            "kernel cannot change a running attachment's mode, so it is detached and attached again, and SYNs " +
            "arriving in between are served by the hashing fallback")), toNative.notes());

        final XdpPlan toGeneric = decide(XdpModeOption.GENERIC, Optional.of(NATIVE), XdpPlan.Peer.NOT_A_VETH);
        assertEquals(List.of(GENERIC), toGeneric.modes());
        assertEquals(Optional.of(NATIVE), toGeneric.replaces());

        final XdpPlan unknownToNative = decide(XdpModeOption.NATIVE, Optional.of(GENERIC), UNKNOWN);
        assertEquals(Optional.of(GENERIC), unknownToNative.replaces());
        assertEquals(2, unknownToNative.notes().size(), "the warning, then the move: " + unknownToNative.notes());
    }

    @Test
    void genericIsTakenAsAskedEvenWhereNativeWouldWork()
    {
        for (final XdpPlan.Peer peer : List.of(XdpPlan.Peer.NOT_A_VETH, WITH_PROGRAM, NO_PROGRAM, UNKNOWN))
        {
            assertEquals(new XdpPlan(List.of(GENERIC), Optional.empty(), List.of()),
                decide(XdpModeOption.GENERIC, Optional.empty(), peer), peer.toString());
            assertEquals(new XdpPlan(List.of(GENERIC), Optional.empty(), List.of()),
                decide(XdpModeOption.GENERIC, Optional.of(GENERIC), peer), peer.toString());
        }
    }

    private static XdpPlan.Note info(final String message)
    {
        return new XdpPlan.Note(Log.Level.INFO, message);
    }

    private static XdpPlan decide(final XdpModeOption asked, final Optional<XdpMode> running, final XdpPlan.Peer peer)
    {
        return XdpPlan.decide(asked, "eth0", new XdpPlan.Facts(running, peer));
    }
}
