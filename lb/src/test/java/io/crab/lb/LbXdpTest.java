package io.crab.lb;

import io.crab.agent.OptionKind;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.Counters;
import io.crab.bpf.frames.Frames;
import io.crab.bpf.testing.FrameAssertions;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.XdpTestNet;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.ByteOrder;
import java.util.Arrays;

import static io.crab.bpf.frames.Frames.ACK;
import static io.crab.bpf.frames.Frames.LINUX_SYN_OPTIONS;
import static io.crab.bpf.frames.Frames.SYN;
import static io.crab.bpf.frames.Frames.bytes;
import static io.crab.bpf.frames.Frames.concat;
import static io.crab.bpf.frames.Frames.ip;
import static io.crab.bpf.frames.Frames.mac;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fixture tests of the XDP load balancer: one frame in, the verdict and the exact frame out. Frames arrive on a
 * real device of a test namespace, so the program's FIB lookups find the backends' neighbours there.
 */
@ExtendWith(KernelRequired.class)
class LbXdpTest
{
    private static final int XDP_DROP = 1;
    private static final int XDP_PASS = 2;
    private static final int XDP_TX = 3;
    private static final byte[] LB_MAC = mac("02:00:00:00:00:02");
    private static final String[] BACKEND_MAC_TEXTS = {"02:00:00:00:01:01", "02:00:00:00:01:02"};
    private static final byte[] CLIENT_MAC = mac("02:00:00:00:00:11");
    private static final byte[][] BACKEND_MACS = {mac(BACKEND_MAC_TEXTS[0]), mac(BACKEND_MAC_TEXTS[1])};
    private static final String[] BACKEND_IP_TEXTS = {"198.18.0.101", "198.18.0.102"};
    private static final byte[][] BACKEND_IPS = {ip(BACKEND_IP_TEXTS[0]), ip(BACKEND_IP_TEXTS[1])};
    private static final byte[] VIP = ip("198.19.0.1");
    private static final byte[] VIP_PORT_REDIRECT = ip("198.19.0.2");
    private static final byte[] VIP_UNMARKED = ip("198.19.0.3");
    private static final byte[] MARKER = bytes(42, 2, 1, 1);

    private static XdpTestNet net;
    private static byte[] lbMac;
    private BpfObject obj;
    private BpfProgram lb;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[16]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[64]);

    @BeforeAll
    static void network()
    {
        net = XdpTestNet.create();
        lbMac = net.mac();
        for (int i = 0; i < BACKEND_IPS.length; i++)
        {
            net.neighbour(BACKEND_IP_TEXTS[i], BACKEND_MAC_TEXTS[i]);
        }
    }

    @AfterAll
    static void removeNetwork()
    {
        if (net != null)
        {
            net.close();
        }
    }

    @BeforeEach
    void load()
    {
        obj = Bpf.load("lb_xdp");
        lb = obj.program("crab_lb");
        setOption(42, 0);
        backend(0, BACKEND_IPS[0], 0);
        backend(1, BACKEND_IPS[1], 0);
        backend(2, BACKEND_IPS[0], 8080);
        vip(VIP, 0, 0, 0, Abi.Consts.CRAB_POLICY_RR, 0, 1);
        vip(VIP_PORT_REDIRECT, 80, 1, 0, Abi.Consts.CRAB_POLICY_RR, 2);
        vip(VIP_UNMARKED, 0, 2, Abi.Consts.CRAB_VIP_REDIRECT_UNMARKED, Abi.Consts.CRAB_POLICY_RR, 1);
    }

    @AfterEach
    void close()
    {
        obj.close();
    }

    @Test
    void markedSynIsRedirectedWithTheOptionAfterTheFixedHeaderAndTheMarkerBlanked() throws Exception
    {
        final Frames.Tcp syn = markedSyn(40000);
        final BpfProgram.TestRun run = run(syn.build(), 1);

        assertEquals(XDP_TX, run.verdict());
        final Frames.Tcp expected = markedSyn(40000);
        expected.dstMac = BACKEND_MACS[0];
        expected.srcMac = lbMac;
        expected.dstIp = BACKEND_IPS[0];
        expected.options = concat(bytes(42, 6), VIP, bytes(1, 1), LINUX_SYN_OPTIONS, bytes(1, 1, 1, 1));
        assertArrayEquals(expected.build(), run.frameOut());
        FrameAssertions.assertChecksumsValid(run.frameOut());
        assertEquals(1, counter(Abi.Consts.CRAB_LB_TX_REDIRECT));
    }

    @Test
    void roundRobinIsGlobalAndARetransmittedSynKeepsItsBackend()
    {
        assertEquals(0, backendOf(run(markedSyn(40001).build(), 1)));
        assertEquals(1, backendOf(run(markedSyn(40002).build(), 1)));
        assertEquals(0, backendOf(run(markedSyn(40003).build(), 1)));
        assertEquals(0, backendOf(run(markedSyn(40001).build(), 1)), "retransmission of 40001");

        final Frames.Tcp newConnectionSameTuple = markedSyn(40001);
        newConnectionSameTuple.seq = 999_999;
        assertEquals(1, backendOf(run(newConnectionSameTuple.build(), 1)), "new ISN is a new connection");
        assertEquals(1, counter(Abi.Consts.CRAB_LB_TX_RETRANSMIT));
        assertEquals(4, counter(Abi.Consts.CRAB_LB_TX_REDIRECT));
    }

    @Test
    void theGlobalRoundRobinCursorIsReadableThroughTheMappedMap()
    {
        final AtomicBuffer cursors = obj.map("rr_cursors").mmap();
        assertEquals(0, cursors.getLongVolatile(0), "VIP 0's cursor before any SYN");
        run(markedSyn(40001).build(), 1);
        run(markedSyn(40002).build(), 1);
        assertEquals(2, cursors.getLongVolatile(0), "each new connection advances the cursor the program shares");
        assertEquals(0, cursors.getLongVolatile(Long.BYTES), "another VIP's cursor is untouched");
    }

    @Test
    void portRedirectionRewritesThePortAndCarriesTheVipPort() throws Exception
    {
        final Frames.Tcp syn = markedSyn(40000);
        syn.dstIp = VIP_PORT_REDIRECT;
        final BpfProgram.TestRun run = run(syn.build(), 1);

        assertEquals(XDP_TX, run.verdict());
        final Frames.Tcp expected = markedSyn(40000);
        expected.dstMac = BACKEND_MACS[0];
        expected.srcMac = lbMac;
        expected.dstIp = BACKEND_IPS[0];
        expected.dstPort = 8080;
        expected.options = concat(bytes(42, 8), VIP_PORT_REDIRECT, bytes(0, 80), LINUX_SYN_OPTIONS,
            bytes(1, 1, 1, 1));
        assertArrayEquals(expected.build(), run.frameOut());
        FrameAssertions.assertChecksumsValid(run.frameOut());
    }

    @Test
    void experimentalKindWithExidIsUsedForMarkerAndOption() throws Exception
    {
        setOption(253, 0xC4AB);
        final Frames.Tcp syn = markedSyn(40000);
        syn.options = concat(LINUX_SYN_OPTIONS, bytes(253, 4, 0xC4, 0xAB));
        final BpfProgram.TestRun run = run(syn.build(), 1);

        assertEquals(XDP_TX, run.verdict());
        final Frames.Tcp expected = markedSyn(40000);
        expected.dstMac = BACKEND_MACS[0];
        expected.srcMac = lbMac;
        expected.dstIp = BACKEND_IPS[0];
        expected.options = concat(bytes(253, 8, 0xC4, 0xAB), VIP, LINUX_SYN_OPTIONS, bytes(1, 1, 1, 1));
        assertArrayEquals(expected.build(), run.frameOut());

        final Frames.Tcp plain = markedSyn(40001);
        assertPassedUnchanged(plain.build(), Abi.Consts.CRAB_LB_PASS_UNMARKED);
    }

    @Test
    void partialChecksumFromAnOffloadingClientIsReplacedByAFullOne() throws Exception
    {
        final byte[] frame = markedSyn(40000).build();
        Frames.put16(frame, Frames.ETH_LEN + 20 + 16, partialChecksum(frame));
        final BpfProgram.TestRun run = run(frame, 1);
        assertEquals(XDP_TX, run.verdict());
        FrameAssertions.assertChecksumsValid(run.frameOut());
    }

    /**
     * Generic XDP keeps the socket buffer and its note that the checksum is partial (the kernel or a device fills
     * it in from where the TCP header starts): the redirected SYN keeps the partial form, for the new header, and is
     * otherwise the frame native mode sends. A complete checksum stays complete.
     */
    @Test
    void inGenericModeAPartialChecksumStaysPartialForTheNewHeaderAndACompleteOneComplete() throws Exception
    {
        final int tcpCheck = Frames.ETH_LEN + 20 + 16;
        final byte[] frame = markedSyn(40000).build();
        Frames.put16(frame, tcpCheck, partialChecksum(frame));
        xdpMode(Abi.Consts.CRAB_XDP_GENERIC);
        final BpfProgram.TestRun generic = run(frame, 1);
        xdpMode(Abi.Consts.CRAB_XDP_NATIVE);
        final BpfProgram.TestRun nativeRun = run(frame, 1);

        assertEquals(XDP_TX, generic.verdict());
        assertEquals(XDP_TX, nativeRun.verdict());
        final byte[] out = generic.frameOut();
        assertEquals(partialChecksum(out), Frames.u16(out, tcpCheck), "the pseudo-header sum of the new header");
        assertTrue(Frames.ipChecksumValid(out));
        FrameAssertions.assertChecksumsValid(nativeRun.frameOut());
        Frames.put16(out, tcpCheck, Frames.tcpChecksum(out));
        assertArrayEquals(nativeRun.frameOut(), out, "completed, it is the frame native mode sends");

        xdpMode(Abi.Consts.CRAB_XDP_GENERIC);
        final BpfProgram.TestRun complete = run(markedSyn(40001).build(), 1);
        assertEquals(XDP_TX, complete.verdict());
        FrameAssertions.assertChecksumsValid(complete.frameOut());
    }

    @Test
    void aWrongChecksumStaysWrongForTheBackendsKernelToDropNeverRewrittenIntoARightOne() throws Exception
    {
        final byte[] badIp = markedSyn(40000).build();
        badIp[Frames.ETH_LEN + 10] ^= 0x40;
        final byte[] outIp = redirectedAndStillTheSameElsewhere(badIp, markedSyn(40000).build());
        assertFalse(Frames.ipChecksumValid(outIp), "the IPv4 header checksum is still wrong");
        assertTrue(Frames.tcpChecksumValid(outIp), "the TCP checksum, right before, is still right");

        final byte[] badTcp = markedSyn(40001).build();
        badTcp[Frames.ETH_LEN + 20 + 16] ^= 0x40;
        final byte[] outTcp = redirectedAndStillTheSameElsewhere(badTcp, markedSyn(40001).build());
        assertFalse(Frames.tcpChecksumValid(outTcp), "the TCP checksum is still wrong");
        assertTrue(Frames.ipChecksumValid(outTcp));

        // One off the partial form an offloading sender leaves is neither form: updated, so still wrong.
        final byte[] offByOne = markedSyn(40002).build();
        Frames.put16(offByOne, Frames.ETH_LEN + 20 + 16, partialChecksum(offByOne) + 1);
        assertFalse(Frames.tcpChecksumValid(run(offByOne, 1).frameOut()));
        assertEquals(3, counter(Abi.Consts.CRAB_LB_TX_REDIRECT));

        // A SYN the LB does not rewrite is not checked: passed as it is, the kernel checks it.
        final Frames.Tcp unmarked = markedSyn(40003);
        unmarked.options = LINUX_SYN_OPTIONS.clone();
        final byte[] badUnmarked = unmarked.build();
        badUnmarked[Frames.ETH_LEN + 20 + 4] ^= 0x40;
        assertPassedUnchanged(badUnmarked, Abi.Consts.CRAB_LB_PASS_UNMARKED);
    }

    /** Redirects the frame and returns what was sent: but for the checksum fields, what the right frame gives. */
    private byte[] redirectedAndStillTheSameElsewhere(final byte[] wrong, final byte[] right)
    {
        final byte[] sent = run(wrong, 1).frameOut();
        final byte[] out = sent.clone();
        final byte[] expected = run(right, 1).frameOut();
        assertEquals(expected.length, out.length);
        for (final int field : new int[] {Frames.ETH_LEN + 10, Frames.ETH_LEN + 20 + 16})
        {
            out[field] = expected[field];
            out[field + 1] = expected[field + 1];
        }
        assertArrayEquals(expected, out, "the same frame but for the checksums");
        return sent;
    }

    @Test
    void aRetransmittedSynWhoseBackendWentDownIsBalancedAgain()
    {
        assertEquals(0, backendOf(run(markedSyn(40001).build(), 1)));
        backend(0, BACKEND_IPS[0], 0, 0);
        vip(VIP, 0, 0, 0, Abi.Consts.CRAB_POLICY_RR, 1);
        assertEquals(1, backendOf(run(markedSyn(40001).build(), 1)), "retransmission after backend 0 went down");
        assertEquals(1, counter(Abi.Consts.CRAB_LB_TX_REBALANCED));
        assertEquals(1, backendOf(run(markedSyn(40001).build(), 1)), "and it stays on its new backend");
        assertEquals(1, counter(Abi.Consts.CRAB_LB_TX_RETRANSMIT));
    }

    @Test
    void theNextHopComesFromTheKernelSoANeighbourChangeIsFollowedAtOnce() throws Exception
    {
        vip(VIP, 0, 0, 0, Abi.Consts.CRAB_POLICY_RR, 0);
        try
        {
            net.neighbour(BACKEND_IP_TEXTS[0], "02:00:00:00:0a:0a");
            final BpfProgram.TestRun moved = run(markedSyn(40000).build(), 1);
            assertEquals(XDP_TX, moved.verdict());
            assertArrayEquals(mac("02:00:00:00:0a:0a"), Arrays.copyOfRange(moved.frameOut(), 0, 6));

            net.removeNeighbour(BACKEND_IP_TEXTS[0]);
            final BpfProgram.TestRun unresolved = run(markedSyn(40001).build(), 1);
            assertEquals(XDP_DROP, unresolved.verdict(), "no neighbour: dropped, the client's SYN retry comes back");
            assertEquals(1, counter(Abi.Consts.CRAB_LB_DROP_NO_ROUTE));
        }
        finally
        {
            net.neighbour(BACKEND_IP_TEXTS[0], BACKEND_MAC_TEXTS[0]);
        }
    }

    @Test
    void aBackendOnAnotherSubnetIsSentToItsGateway() throws Exception
    {
        net.neighbour("198.18.0.3", "02:00:00:00:00:03");
        net.route("198.18.1.0/24", "198.18.0.3");
        backend(0, ip("198.18.1.7"), 0);
        final BpfProgram.TestRun run = run(markedSyn(40000).build(), 1);
        assertEquals(XDP_TX, run.verdict());
        assertArrayEquals(mac("02:00:00:00:00:03"), Arrays.copyOfRange(run.frameOut(), 0, 6), "the gateway's MAC");
        assertArrayEquals(ip("198.18.1.7"), Arrays.copyOfRange(run.frameOut(), Frames.ETH_LEN + 16,
            Frames.ETH_LEN + 20), "addressed to the backend itself");
        FrameAssertions.assertChecksumsValid(run.frameOut());
    }

    /**
     * A backend routed out of another device than the SYN came in on (a pod behind its veth on the LB's own host):
     * the SYN is rewritten as for XDP_TX and handed to the host's stack, which forwards it and resolves the next hop
     * itself (there is no neighbour entry here). It keeps the MACs it came with, this host's as destination, or the
     * stack would not take it.
     */
    @Test
    void aBackendRoutedOutOfAnotherDeviceGetsTheRewrittenSynThroughTheHostsStack() throws Exception
    {
        net.routeOutOfOtherDevice("198.18.20.0/24");
        backend(0, ip("198.18.20.7"), 0);
        final BpfProgram.TestRun run = run(markedSyn(40000).build(), 1);

        assertEquals(XDP_PASS, run.verdict());
        final Frames.Tcp expected = markedSyn(40000);
        expected.dstIp = ip("198.18.20.7");
        expected.options = concat(bytes(42, 6), VIP, bytes(1, 1), LINUX_SYN_OPTIONS, bytes(1, 1, 1, 1));
        assertArrayEquals(expected.build(), run.frameOut(), "the redirected SYN, with the MACs it came with");
        FrameAssertions.assertChecksumsValid(run.frameOut());
        assertEquals(1, counter(Abi.Consts.CRAB_LB_TX_VIA_STACK));
        assertEquals(0, counter(Abi.Consts.CRAB_LB_TX_REDIRECT), "one verdict counter per frame");
        assertEquals(1, backendSyns(0), "counted for its backend as any redirected SYN");

        // Its retransmission keeps its backend, and goes the same way.
        assertEquals(XDP_PASS, run(markedSyn(40000).build(), 1).verdict());
        assertEquals(2, counter(Abi.Consts.CRAB_LB_TX_VIA_STACK));
        assertEquals(0, counter(Abi.Consts.CRAB_LB_TX_RETRANSMIT));
    }

    /**
     * The stack goes on with the socket buffer a frame came in, if there was one (generic XDP, and native XDP on a
     * veth), and its note that the checksum is partial with it: a SYN handed to the stack keeps a partial checksum
     * partial, for the new header, with the TCP header where the note says, in either mode.
     */
    @Test
    void aPartialChecksumHandedToTheStackStaysPartialForTheNewHeaderInEitherMode() throws Exception
    {
        net.routeOutOfOtherDevice("198.18.20.0/24");
        backend(0, ip("198.18.20.7"), 0);
        final int tcpCheck = Frames.ETH_LEN + 20 + 16;
        final byte[] frame = markedSyn(40000).build();
        Frames.put16(frame, tcpCheck, partialChecksum(frame));
        final BpfProgram.TestRun nativeRun = run(frame, 1);
        xdpMode(Abi.Consts.CRAB_XDP_GENERIC);
        final BpfProgram.TestRun generic = run(frame, 1);

        assertEquals(XDP_PASS, nativeRun.verdict());
        assertArrayEquals(nativeRun.frameOut(), generic.frameOut());
        final byte[] out = nativeRun.frameOut();
        assertEquals(partialChecksum(out), Frames.u16(out, tcpCheck), "the pseudo-header sum of the new header");
        assertTrue(Frames.ipChecksumValid(out));
        final Frames.Tcp expected = markedSyn(40000);
        expected.dstIp = ip("198.18.20.7");
        expected.options = concat(bytes(42, 6), VIP, bytes(1, 1), LINUX_SYN_OPTIONS, bytes(1, 1, 1, 1));
        Frames.put16(out, tcpCheck, Frames.tcpChecksum(out));
        assertArrayEquals(expected.build(), out, "completed, it is the redirected SYN");
        assertEquals(2, counter(Abi.Consts.CRAB_LB_TX_VIA_STACK));
    }

    /** What a sender with checksum offload leaves in the TCP checksum: the pseudo-header sum, not inverted. */
    private static int partialChecksum(final byte[] frame)
    {
        final byte[] copy = frame.clone();
        final int tcpAt = Frames.ETH_LEN + 20;
        Arrays.fill(copy, tcpAt, copy.length, (byte)0);
        return ~Frames.tcpChecksum(copy) & 0xffff;
    }

    @Test
    void unmarkedSynPassesUnlessTheVipRedirectsUnmarked() throws Exception
    {
        final Frames.Tcp syn = new Frames.Tcp();
        assertPassedUnchanged(syn.build(), Abi.Consts.CRAB_LB_PASS_UNMARKED);

        syn.dstIp = VIP_UNMARKED;
        syn.dstMac = LB_MAC;
        final BpfProgram.TestRun run = run(syn.build(), 1);
        assertEquals(XDP_TX, run.verdict());
        final Frames.Tcp expected = new Frames.Tcp();
        expected.dstMac = BACKEND_MACS[1];
        expected.srcMac = lbMac;
        expected.dstIp = BACKEND_IPS[1];
        expected.options = concat(bytes(42, 6), VIP_UNMARKED, bytes(1, 1), LINUX_SYN_OPTIONS);
        assertArrayEquals(expected.build(), run.frameOut());
    }

    @Test
    void packetsOtherThanAClientSynToAVipPass()
    {
        final Frames.Tcp ack = markedSyn(40000);
        ack.flags = ACK;
        assertPassedUnchanged(ack.build(), Abi.Consts.CRAB_LB_PASS_NOT_SYN);

        final Frames.Tcp synAck = markedSyn(40000);
        synAck.flags = SYN | ACK;
        assertPassedUnchanged(synAck.build(), Abi.Consts.CRAB_LB_PASS_NOT_SYN);

        final Frames.Tcp notVip = markedSyn(40000);
        notVip.dstIp = ip("198.19.0.99");
        assertPassedUnchanged(notVip.build(), Abi.Consts.CRAB_LB_PASS_NOT_VIP);

        final byte[] udp = markedSyn(40000).build();
        udp[Frames.ETH_LEN + 9] = 17;
        assertPassedUnchanged(udp, Abi.Consts.CRAB_LB_PASS_NOT_TCP);

        final byte[] arp = markedSyn(40000).build();
        arp[12] = 0x08;
        arp[13] = 0x06;
        assertPassedUnchanged(arp, Abi.Consts.CRAB_LB_PASS_NOT_IPV4);
    }

    @Test
    void oddSynsAreNeverCorrupted()
    {
        final Frames.Tcp noRoom = markedSyn(40000);
        noRoom.options = concat(LINUX_SYN_OPTIONS, bytes(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), MARKER);
        assertPassedUnchanged(noRoom.build(), Abi.Consts.CRAB_LB_PASS_NO_ROOM);

        final Frames.Tcp fastOpen = markedSyn(40000);
        fastOpen.payload = bytes(1, 2, 3, 4);
        assertPassedUnchanged(fastOpen.build(), Abi.Consts.CRAB_LB_PASS_SYN_DATA);

        final Frames.Tcp ipOptions = markedSyn(40000);
        ipOptions.ipOptions = bytes(1, 1, 1, 0);
        assertPassedUnchanged(ipOptions.build(), Abi.Consts.CRAB_LB_PASS_IP_OPTIONS);

        final Frames.Tcp fragment = markedSyn(40000);
        fragment.fragOff = 0x2000;
        assertPassedUnchanged(fragment.build(), Abi.Consts.CRAB_LB_PASS_FRAGMENT);

        final Frames.Tcp wrongLength = markedSyn(40000);
        wrongLength.options = concat(LINUX_SYN_OPTIONS, bytes(42, 3, 0, 1));
        assertPassedUnchanged(wrongLength.build(), Abi.Consts.CRAB_LB_PASS_BAD_OPTION);

        final Frames.Tcp overrun = markedSyn(40000);
        overrun.options = concat(LINUX_SYN_OPTIONS, bytes(1, 1, 8, 40));
        assertPassedUnchanged(overrun.build(), Abi.Consts.CRAB_LB_PASS_BAD_OPTION);

        final Frames.Tcp alreadyRedirected = markedSyn(40000);
        alreadyRedirected.options = concat(LINUX_SYN_OPTIONS, MARKER, bytes(42, 6), VIP, bytes(1, 1));
        assertPassedUnchanged(alreadyRedirected.build(), Abi.Consts.CRAB_LB_PASS_BAD_OPTION);

        final byte[] whole = markedSyn(40000).build();
        assertPassedUnchanged(Arrays.copyOf(whole, 14 + 20 + 10), Abi.Consts.CRAB_LB_PASS_MALFORMED);
        assertPassedUnchanged(Arrays.copyOf(whole, whole.length - 4), Abi.Consts.CRAB_LB_PASS_MALFORMED);
    }

    @Test
    void optionsEndingInEolAreKeptBehindTheInsertedOption() throws Exception
    {
        final Frames.Tcp syn = markedSyn(40000);
        syn.options = concat(MARKER, bytes(2, 4, 0x05, (byte)0xb4 & 0xff, 0, 0, 0, 0));
        final BpfProgram.TestRun run = run(syn.build(), 1);

        assertEquals(XDP_TX, run.verdict());
        assertArrayEquals(concat(bytes(42, 6), VIP, bytes(1, 1, 1, 1, 1, 1, 2, 4, 0x05, 0xb4, 0, 0, 0, 0)),
            Frames.tcpOptions(run.frameOut()));
        FrameAssertions.assertChecksumsValid(run.frameOut());
    }

    @Test
    void aVipIsLookedUpOnlyUnderTheKindsOfKeyTheAgentSaysTheMapHolds()
    {
        // VIP is a VIP of every port: a map said to hold only VIPs with a port does not find it...
        vipKinds(Abi.Consts.CRAB_VIPS_WITH_PORT);
        assertPassedUnchanged(markedSyn(40000).build(), Abi.Consts.CRAB_LB_PASS_NOT_VIP);
        // ...one said to hold VIPs of every port does, with one lookup, and so does one never written (0: both).
        vipKinds(Abi.Consts.CRAB_VIPS_ANY_PORT);
        assertEquals(0, backendOf(run(markedSyn(40001).build(), 1)));
        vipKinds(0);
        assertEquals(1, backendOf(run(markedSyn(40002).build(), 1)));

        // VIP_PORT_REDIRECT has a VIP with port 80.
        final Frames.Tcp toPort = markedSyn(40003);
        toPort.dstIp = VIP_PORT_REDIRECT;
        vipKinds(Abi.Consts.CRAB_VIPS_ANY_PORT);
        assertPassedUnchanged(toPort.build(), Abi.Consts.CRAB_LB_PASS_NOT_VIP);
        vipKinds(Abi.Consts.CRAB_VIPS_WITH_PORT);
        assertEquals(XDP_TX, run(toPort.build(), 1).verdict());
    }

    private void vipKinds(final int kinds)
    {
        key.putInt(0, 0);
        value.putInt(0, kinds);
        obj.map(Abi.Maps.VIP_KINDS).update(key, value, BpfMap.UPDATE_ANY);
    }

    @Test
    void vipWithoutBackendsPasses()
    {
        vip(ip("198.19.0.4"), 0, 3, 0, Abi.Consts.CRAB_POLICY_RR);
        final Frames.Tcp syn = markedSyn(40000);
        syn.dstIp = ip("198.19.0.4");
        assertPassedUnchanged(syn.build(), Abi.Consts.CRAB_LB_PASS_NO_BACKEND);
    }

    @Test
    void frameRunnerRunsLikeTestRunXdpAndReturnsTheKernelsRefusal()
    {
        final byte[] expected = run(markedSyn(40000).build(), 1).frameOut();
        final byte[] ack = markedSyn(40001).build();
        ack[Frames.ETH_LEN + 20 + 13] = ACK;
        final int einval = 22;
        net.call(() ->
        {
            final BpfProgram.FrameRunner runner = lb.xdpFrameRunner(256, net.ifindex());
            final byte[] syn = markedSyn(40000).build();
            runner.frame().putBytes(0, syn);
            assertEquals(0, runner.run(syn.length));
            assertEquals(XDP_TX, runner.verdict());
            final byte[] out = new byte[runner.outputLength()];
            runner.output().getBytes(0, out);
            assertArrayEquals(expected, out, "the frame testRunXdp gave (a retransmission: same backend)");

            runner.frame().putBytes(0, ack);
            assertEquals(0, runner.run(ack.length));
            assertEquals(XDP_PASS, runner.verdict());
            assertEquals(ack.length, runner.outputLength(), "the output of the last run, not of the longer one");

            assertEquals(-einval, runner.run(Frames.ETH_LEN - 1), "shorter than an Ethernet header");
            return null;
        });
    }

    private static Frames.Tcp markedSyn(final int srcPort)
    {
        final Frames.Tcp syn = new Frames.Tcp();
        syn.dstMac = LB_MAC;
        syn.srcMac = CLIENT_MAC;
        syn.dstIp = VIP;
        syn.srcPort = srcPort;
        syn.options = concat(LINUX_SYN_OPTIONS, MARKER);
        return syn;
    }

    private int backendOf(final BpfProgram.TestRun run)
    {
        assertEquals(XDP_TX, run.verdict());
        final byte[] dst = Arrays.copyOfRange(run.frameOut(), Frames.ETH_LEN + 16, Frames.ETH_LEN + 20);
        for (int i = 0; i < BACKEND_IPS.length; i++)
        {
            if (Arrays.equals(dst, BACKEND_IPS[i]))
            {
                return i;
            }
        }
        throw new AssertionError("redirected to an unknown address");
    }

    private void assertPassedUnchanged(final byte[] frame, final int counter)
    {
        final long before = counter(counter);
        final BpfProgram.TestRun run = run(frame, 1);
        assertEquals(XDP_PASS, run.verdict(), "verdict");
        assertArrayEquals(frame, run.frameOut(), "a passed frame is untouched");
        assertEquals(before + 1, counter(counter), "counter " + counter);
    }

    private long backendSyns(final int id)
    {
        return new Counters(obj.map(Abi.Maps.BACKEND_SYNS)).sum(id);
    }

    private long counter(final int index)
    {
        return new Counters(obj.map("lb_counters")).sum(index);
    }

    private void setOption(final int kind, final int exid)
    {
        new OptionKind(kind, exid).writeTo(obj.map(Abi.Maps.OPT_CFG));
    }

    /** Tells the program the mode it runs in, as crab-lb does before attaching it (enum crab_xdp_mode). */
    private void xdpMode(final int mode)
    {
        key.putInt(0, 0);
        value.putInt(0, mode);
        obj.map(Abi.Maps.LB_XDP_MODE).update(key, value, BpfMap.UPDATE_ANY);
    }

    private void backend(final int id, final byte[] addr, final int port)
    {
        backend(id, addr, port, Abi.Consts.CRAB_BACKEND_UP);
    }

    private void backend(final int id, final byte[] addr, final int port, final int flags)
    {
        key.putInt(0, id);
        value.setMemory(0, 64, (byte)0);
        value.putBytes(Abi.Backend.ADDR, addr);
        value.putShort(Abi.Backend.PORT, (short)port, ByteOrder.BIG_ENDIAN);
        value.putShort(Abi.Backend.FLAGS, (short)flags);
        obj.map("backends").update(key, value, BpfMap.UPDATE_ANY);
    }

    private BpfProgram.TestRun run(final byte[] frame, final int repeat)
    {
        return net.runXdp(lb, frame, repeat);
    }

    private void vip(final byte[] addr, final int port, final int vipId, final int flags, final int policy,
        final int... backendIds)
    {
        for (int slot = 0; slot < backendIds.length; slot++)
        {
            key.putInt(0, vipId * Abi.Consts.CRAB_MAX_SLOTS + slot);
            value.putInt(0, backendIds[slot]);
            obj.map("vip_slots").update(key, value, BpfMap.UPDATE_ANY);
        }
        key.setMemory(0, 16, (byte)0);
        key.putBytes(Abi.VipKey.ADDR, addr);
        key.putShort(Abi.VipKey.PORT, (short)port, ByteOrder.BIG_ENDIAN);
        value.setMemory(0, 64, (byte)0);
        value.putInt(Abi.Vip.VIP_ID, vipId);
        value.putInt(Abi.Vip.FLAGS, flags);
        value.putInt(Abi.Vip.POLICY, policy);
        value.putInt(Abi.Vip.SLOT_BASE, vipId * Abi.Consts.CRAB_MAX_SLOTS);
        value.putInt(Abi.Vip.SLOT_COUNT, backendIds.length);
        obj.map("vips").update(key, value, BpfMap.UPDATE_ANY);
    }
}
