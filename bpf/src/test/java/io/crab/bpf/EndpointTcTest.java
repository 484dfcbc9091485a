package io.crab.bpf;

import io.crab.bpf.frames.Frames;
import io.crab.bpf.testing.FrameAssertions;
import io.crab.bpf.testing.IcmpFrames;
import io.crab.bpf.testing.KernelRequired;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.ByteOrder;
import java.util.Arrays;

import static io.crab.bpf.frames.Frames.ACK;
import static io.crab.bpf.frames.Frames.FIN;
import static io.crab.bpf.frames.Frames.LINUX_SYN_OPTIONS;
import static io.crab.bpf.frames.Frames.PSH;
import static io.crab.bpf.frames.Frames.RST;
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
 * Fixture tests of the endpoint TC programs through BPF_PROG_TEST_RUN: the client's marking, redirect acceptance and
 * rewriting, and the server's echo of the option; one frame in, the verdict, the exact frame out and the map state.
 */
@ExtendWith(KernelRequired.class)
class EndpointTcTest
{
    /** What an endpoint program returns for a packet it sends on: the next program on the hook sees it too. */
    private static final int NEXT = Abi.Consts.CRAB_TC_NEXT;
    private static final int TC_ACT_SHOT = 2;
    /** bpf_redirect_neigh: the kernel resolves the backend's next hop when the packet leaves. */
    private static final int TC_ACT_REDIRECT = 7;
    private static final byte[] CLIENT_MAC = mac("02:00:00:00:00:11");
    private static final byte[] GATEWAY_MAC = mac("02:00:00:00:00:02");
    private static final byte[] DIP_MAC = mac("02:00:00:00:01:01");
    private static final byte[] CLIENT = ip("198.18.0.11");
    private static final byte[] DIP = ip("198.18.0.101");
    private static final byte[] DIP2 = ip("198.18.0.102");
    private static final byte[] ROUTER = ip("198.18.0.3");
    private static final byte[] ATTACKER = ip("198.18.0.66");
    private static final byte[] VIP = ip("198.19.0.1");
    private static final byte[] VIP2 = ip("198.19.0.2");
    private static final byte[] NOT_A_VIP = ip("198.19.0.9");
    private static final int CLIENT_PORT = 40000;
    private static final long CLIENT_ISN = 1000;
    private static final long SERVER_ISN = 5_000_000;
    private static final byte[] MARKER = bytes(42, 2, 1, 1);
    /** What Linux puts in a SYN-ACK: MSS 1460, SACK permitted, timestamps (echoing the SYN's), NOP, wscale 7. */
    private static final byte[] LINUX_SYNACK_OPTIONS = {
        2, 4, 0x05, (byte)0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 1, 1, 3, 3, 7,
    };
    private static final byte[] TWENTY_NOPS = bytes(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    private static final byte[] PAYLOAD = bytes('h', 'e', 'l', 'l', 'o', '\n');

    private final UnsafeBuffer key = new UnsafeBuffer(new byte[16]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[64]);

    private BpfObject client;
    private BpfProgram clientEgress;
    private BpfProgram clientIngress;
    private BpfObject server;
    private BpfProgram serverEgress;
    private BpfProgram serverIngress;

    /** client_tc with VIP 198.19.0.1 (all ports) and 198.19.0.2 (port 80 only); server_tc on the backend DIP. */
    @BeforeEach
    void load()
    {
        client = Bpf.load("client_tc");
        clientEgress = client.program("crab_client_egress");
        clientIngress = client.program("crab_client_ingress");
        setOption(client, 42, 0);
        clientVip(VIP, 0, 0);
        clientVip(VIP2, 80, 1);
        allowBackends(0, ip("0.0.0.0"), 0);
        allowBackends(1, ip("0.0.0.0"), 0);
        server = Bpf.load("server_tc");
        serverEgress = server.program("crab_server_egress");
        serverIngress = server.program("crab_server_ingress");
        setOption(server, 42, 0);
    }

    @AfterEach
    void close()
    {
        client.close();
        server.close();
    }

    @Test
    void clientSynToAVipIsMarkedAtTheEndOfItsOptionsAndStartsAPendingFlow() throws Exception
    {
        final BpfProgram.TestRun run = clientEgress.testRun(syn(CLIENT_PORT).build(), 1);

        assertEquals(NEXT, run.verdict());
        final Frames.Tcp expected = syn(CLIENT_PORT);
        expected.options = concat(LINUX_SYN_OPTIONS, MARKER);
        assertArrayEquals(expected.build(), run.frameOut());
        FrameAssertions.assertChecksumsValid(run.frameOut());

        flowKey(CLIENT, VIP, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value), "flow entry");
        assertEquals(Abi.Consts.CRAB_FLOW_PENDING, value.getByte(Abi.Flow.STATE));
        assertEquals((int)CLIENT_ISN, value.getInt(Abi.Flow.SYN_SEQ, ByteOrder.LITTLE_ENDIAN));
        assertTrue(value.getLong(Abi.Flow.CREATED_NS, ByteOrder.LITTLE_ENDIAN) > 0, "created_ns");
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_SYN_MARKED));
        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_SYN_UNMARKED_ODD));
    }

    @Test
    void frameRunnerGivesWhatTestRunGivesAndGrowsItsOutputWithTheFrame()
    {
        final BpfProgram.FrameRunner runner = clientEgress.frameRunner(256);
        final byte[] syn = syn(CLIENT_PORT).build();
        runner.frame().putBytes(0, syn);
        assertEquals(0, runner.run(syn.length));
        assertEquals(NEXT, runner.verdict());
        final byte[] out = new byte[runner.outputLength()];
        runner.output().getBytes(0, out);
        final Frames.Tcp expected = syn(CLIENT_PORT);
        expected.options = concat(LINUX_SYN_OPTIONS, MARKER);
        assertArrayEquals(expected.build(), out, "marked, 4 bytes longer than the input");
        assertArrayEquals(clientEgress.testRun(syn, 1).frameOut(), out, "as testRun marks it");
    }

    @Test
    void clientSynToAnAddressOrPortThatIsNoVipIsUntouched()
    {
        final Frames.Tcp notVip = syn(CLIENT_PORT);
        notVip.dstIp = ip("198.19.0.99");
        assertUnchanged(clientEgress, notVip.build());
        assertNoFlow(ip("198.19.0.99"), CLIENT_PORT, 80);

        final Frames.Tcp otherPort = syn(CLIENT_PORT);
        otherPort.dstIp = VIP2;
        otherPort.dstPort = 81;
        assertUnchanged(clientEgress, otherPort.build());
        assertNoFlow(VIP2, CLIENT_PORT, 81);

        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_SYN_MARKED));
        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_SYN_UNMARKED_ODD));
    }

    @Test
    void clientOddSynsAreLeftUnmarkedAndUnchanged()
    {
        final Frames.Tcp fastOpen = syn(CLIENT_PORT);
        fastOpen.payload = bytes(1, 2, 3, 4);
        assertUnchanged(clientEgress, fastOpen.build());
        assertNoFlow(VIP, CLIENT_PORT, 80);
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_SYN_UNMARKED_ODD));

        final Frames.Tcp noRoom = syn(CLIENT_PORT + 1);
        noRoom.options = concat(LINUX_SYN_OPTIONS, TWENTY_NOPS);
        assertUnchanged(clientEgress, noRoom.build());
        assertNoFlow(VIP, CLIENT_PORT + 1, 80);
        assertEquals(2, clientCounter(Abi.Consts.CRAB_CL_SYN_UNMARKED_ODD));

        final Frames.Tcp eol = syn(CLIENT_PORT + 2);
        eol.options = bytes(2, 4, 0x05, 0xb4, 0, 0, 0, 0);
        assertUnchanged(clientEgress, eol.build());
        assertNoFlow(VIP, CLIENT_PORT + 2, 80);
        assertEquals(3, clientCounter(Abi.Consts.CRAB_CL_SYN_UNMARKED_ODD));

        final Frames.Tcp alreadyMarked = syn(CLIENT_PORT + 3);
        alreadyMarked.options = concat(LINUX_SYN_OPTIONS, MARKER);
        assertUnchanged(clientEgress, alreadyMarked.build());
        assertNoFlow(VIP, CLIENT_PORT + 3, 80);
        assertEquals(4, clientCounter(Abi.Consts.CRAB_CL_SYN_UNMARKED_ODD));

        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_SYN_MARKED));
    }

    @Test
    void clientSynThatIsAFirstFragmentIsLeftUnmarked()
    {
        // Growing the first fragment would shift the data of the fragments after it (found by crab-bench hostile).
        final Frames.Tcp fragment = syn(CLIENT_PORT);
        fragment.fragOff = 0x2000;
        assertUnchanged(clientEgress, fragment.build());
        assertNoFlow(VIP, CLIENT_PORT, 80);
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_SYN_UNMARKED_ODD));
        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_SYN_MARKED));
    }

    @Test
    void clientAcceptedRedirectRewritesTheFlowBothWays() throws Exception
    {
        clientEgress.testRun(syn(CLIENT_PORT).build(), 1);

        final BpfProgram.TestRun synAck = clientIngress.testRun(synAck(DIP, 80, VIP, 6).build(), 1);
        assertEquals(NEXT, synAck.verdict());
        final Frames.Tcp expectedSynAck = synAck(DIP, 80, VIP, 6);
        expectedSynAck.srcIp = VIP;
        assertArrayEquals(expectedSynAck.build(), synAck.frameOut());
        FrameAssertions.assertChecksumsValid(synAck.frameOut());

        flowKey(CLIENT, VIP, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value), "flow entry");
        assertEquals(Abi.Consts.CRAB_FLOW_REDIRECTED, value.getByte(Abi.Flow.STATE));
        assertArrayEquals(DIP, bytesAt(value, Abi.Flow.PEER_ADDR, 4));
        assertEquals(80, value.getShort(Abi.Flow.PEER_PORT, ByteOrder.BIG_ENDIAN) & 0xffff);
        assertRflow(DIP, 80, VIP, 80);
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_ACCEPTED));
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_INGRESS_REWRITTEN));

        final BpfProgram.TestRun out = clientEgress.testRun(data(VIP, 80).build(), 1);
        assertEquals(TC_ACT_REDIRECT, out.verdict(), "sent on through the kernel's neighbour table");
        final Frames.Tcp expectedOut = data(VIP, 80);
        expectedOut.dstIp = DIP;
        assertArrayEquals(expectedOut.build(), out.frameOut());
        FrameAssertions.assertChecksumsValid(out.frameOut());
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_EGRESS_REWRITTEN));

        final BpfProgram.TestRun in = clientIngress.testRun(reply(DIP, 80).build(), 1);
        assertEquals(NEXT, in.verdict());
        final Frames.Tcp expectedIn = reply(DIP, 80);
        expectedIn.srcIp = VIP;
        assertArrayEquals(expectedIn.build(), in.frameOut());
        FrameAssertions.assertChecksumsValid(in.frameOut());
        assertEquals(2, clientCounter(Abi.Consts.CRAB_CL_INGRESS_REWRITTEN));

        final BpfProgram.TestRun retransmitted = clientIngress.testRun(synAck(DIP, 80, VIP, 6).build(), 1);
        assertArrayEquals(expectedSynAck.build(), retransmitted.frameOut(), "retransmitted SYN-ACK");
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_ACCEPTED));
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_LATE));
    }

    @Test
    void clientPortRedirectionRewritesAddressAndPort() throws Exception
    {
        final Frames.Tcp syn = syn(CLIENT_PORT);
        syn.dstIp = VIP2;
        final BpfProgram.TestRun marked = clientEgress.testRun(syn.build(), 1);
        assertEquals(LINUX_SYN_OPTIONS.length + 4, Frames.tcpOptions(marked.frameOut()).length, "marked");

        final BpfProgram.TestRun synAck = clientIngress.testRun(synAck(DIP, 8080, VIP2, 80).build(), 1);
        final Frames.Tcp expectedSynAck = synAck(DIP, 8080, VIP2, 80);
        expectedSynAck.srcIp = VIP2;
        expectedSynAck.srcPort = 80;
        assertArrayEquals(expectedSynAck.build(), synAck.frameOut());
        FrameAssertions.assertChecksumsValid(synAck.frameOut());
        assertRflow(DIP, 8080, VIP2, 80);

        final BpfProgram.TestRun out = clientEgress.testRun(data(VIP2, 80).build(), 1);
        final Frames.Tcp expectedOut = data(VIP2, 80);
        expectedOut.dstIp = DIP;
        expectedOut.dstPort = 8080;
        assertArrayEquals(expectedOut.build(), out.frameOut());
        FrameAssertions.assertChecksumsValid(out.frameOut());

        final BpfProgram.TestRun in = clientIngress.testRun(reply(DIP, 8080).build(), 1);
        final Frames.Tcp expectedIn = reply(DIP, 8080);
        expectedIn.srcIp = VIP2;
        expectedIn.srcPort = 80;
        assertArrayEquals(expectedIn.build(), in.frameOut());
        FrameAssertions.assertChecksumsValid(in.frameOut());
    }

    @Test
    void clientRedirectForAVipNotConfiguredIsRefused()
    {
        pendingFlow(NOT_A_VIP, CLIENT_PORT, 80, CLIENT_ISN);
        assertRefused(synAck(DIP, 80, NOT_A_VIP, 6).build());
        flowKey(CLIENT, NOT_A_VIP, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value));
        assertEquals(Abi.Consts.CRAB_FLOW_PENDING, value.getByte(Abi.Flow.STATE));
    }

    @Test
    void clientRedirectNotAcknowledgingOurSynIsRefused()
    {
        clientEgress.testRun(syn(CLIENT_PORT).build(), 1);
        final Frames.Tcp wrongAck = synAck(DIP, 80, VIP, 6);
        wrongAck.ack = CLIENT_ISN + 2;
        assertRefused(wrongAck.build());
        wrongAck.ack = CLIENT_ISN;
        assertRefused(wrongAck.build());

        flowKey(CLIENT, VIP, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value));
        assertEquals(Abi.Consts.CRAB_FLOW_PENDING, value.getByte(Abi.Flow.STATE), "still pending");
    }

    @Test
    void clientRedirectWithoutASynOfOursIsRefused()
    {
        assertRefused(synAck(DIP, 80, VIP, 6).build());
        assertNoFlow(VIP, CLIENT_PORT, 80);
    }

    @Test
    void clientSynAckWithoutTheOptionIsNeitherAcceptedNorRefused()
    {
        clientEgress.testRun(syn(CLIENT_PORT).build(), 1);
        final Frames.Tcp plain = synAck(DIP, 80, VIP, 6);
        plain.srcIp = VIP;
        plain.options = LINUX_SYNACK_OPTIONS.clone();
        assertUnchanged(clientIngress, plain.build());
        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_REFUSED));
        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_ACCEPTED));
        flowKey(CLIENT, VIP, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value));
        assertEquals(Abi.Consts.CRAB_FLOW_PENDING, value.getByte(Abi.Flow.STATE));
    }

    @Test
    void clientEgressRstOnARedirectedFlowRemovesItsEntries() throws Exception
    {
        redirect();

        final Frames.Tcp rst = data(VIP, 80);
        rst.flags = RST | ACK;
        rst.payload = new byte[0];
        final BpfProgram.TestRun run = clientEgress.testRun(rst.build(), 1);
        assertEquals(TC_ACT_REDIRECT, run.verdict());
        final Frames.Tcp expected = data(VIP, 80);
        expected.flags = RST | ACK;
        expected.payload = new byte[0];
        expected.dstIp = DIP;
        assertArrayEquals(expected.build(), run.frameOut(), "the RST itself still goes to the backend");
        FrameAssertions.assertChecksumsValid(run.frameOut());

        assertNoFlow(VIP, CLIENT_PORT, 80);
        assertNoRflow(DIP, 80);
        assertNoPortClaim(CLIENT_PORT);
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_FLOW_RESET));
        assertUnchanged(clientIngress, reply(DIP, 80).build());
        assertUnchanged(clientEgress, data(VIP, 80).build());
    }

    @Test
    void anIncomingRstChangesNoStateTheKernelJudgesItAgainstItsWindow() throws Exception
    {
        redirect();

        final Frames.Tcp rst = reply(DIP, 80);
        rst.flags = RST | ACK;
        rst.payload = new byte[0];
        final BpfProgram.TestRun run = clientIngress.testRun(rst.build(), 1);
        final Frames.Tcp expected = reply(DIP, 80);
        expected.flags = RST | ACK;
        expected.payload = new byte[0];
        expected.srcIp = VIP;
        assertArrayEquals(expected.build(), run.frameOut(), "the RST reaches the socket as from the VIP");
        FrameAssertions.assertChecksumsValid(run.frameOut());

        flowKey(CLIENT, VIP, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value), "a forged RST cannot remove the flow");
        assertEquals(Abi.Consts.CRAB_FLOW_REDIRECTED, value.getByte(Abi.Flow.STATE));
        assertRflow(DIP, 80, VIP, 80);
        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_FLOW_RESET));
    }

    @Test
    void aSynAckWithTheOptionAfterTheHandshakeMovesNothingWhoeverSendsIt() throws Exception
    {
        redirect();
        for (final byte[] source : new byte[][] {DIP2, ATTACKER})
        {
            final Frames.Tcp late = synAck(source, 80, VIP, 6);
            assertUnchanged(clientIngress, late.build());
            assertNoRflow(source, 80);
        }
        flowKey(CLIENT, VIP, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value));
        assertArrayEquals(DIP, bytesAt(value, Abi.Flow.PEER_ADDR, 4), "the peer never changes");
        assertEquals(2, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_LATE));
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_ACCEPTED));

        final BpfProgram.TestRun out = clientEgress.testRun(data(VIP, 80).build(), 1);
        assertArrayEquals(DIP, Arrays.copyOfRange(out.frameOut(), Frames.ETH_LEN + 16, Frames.ETH_LEN + 20),
            "data still goes to the first backend");
    }

    @Test
    void aRedirectFromOutsideTheVipsAllowedPrefixesIsForbidden() throws Exception
    {
        clearAllowedBackends(0);
        allowBackends(0, ip("198.18.0.128"), 25);
        clientEgress.testRun(syn(CLIENT_PORT).build(), 1);
        assertUnchanged(clientIngress, synAck(DIP, 80, VIP, 6).build());
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_FORBIDDEN));
        flowKey(CLIENT, VIP, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value));
        assertEquals(Abi.Consts.CRAB_FLOW_PENDING, value.getByte(Abi.Flow.STATE), "still pending");

        final byte[] inside = ip("198.18.0.201");
        final BpfProgram.TestRun accepted = clientIngress.testRun(synAck(inside, 80, VIP, 6).build(), 1);
        assertArrayEquals(VIP, Arrays.copyOfRange(accepted.frameOut(), Frames.ETH_LEN + 12, Frames.ETH_LEN + 16));
        assertRflow(inside, 80, VIP, 80);
    }

    @Test
    void aSynFromALocalPortThatALiveFlowToAnotherVipHoldsGoesOutUnmarked() throws Exception
    {
        redirect();
        final Frames.Tcp otherVip = syn(CLIENT_PORT);
        otherVip.dstIp = VIP2;
        assertUnchanged(clientEgress, otherVip.build());
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_SYN_UNMARKED_PORT_BUSY));
        assertNoFlow(VIP2, CLIENT_PORT, 80);

        finBothWays();
        final BpfProgram.TestRun marked = clientEgress.testRun(otherVip.build(), 1);
        assertEquals(LINUX_SYN_OPTIONS.length + 4, Frames.tcpOptions(marked.frameOut()).length,
            "marked once FINs went both ways: the backend's tuple is free again");
        assertEquals(2, clientCounter(Abi.Consts.CRAB_CL_SYN_MARKED));
    }

    @Test
    void aRedirectOntoTheWireTupleOfALiveFlowOfAnotherVipIsRefused()
    {
        redirect();
        pendingFlow(VIP2, CLIENT_PORT, 80, CLIENT_ISN);
        final BpfProgram.TestRun run = clientIngress.testRun(synAck(DIP, 80, VIP2, 80).build(), 1);
        assertArrayEquals(VIP, Arrays.copyOfRange(run.frameOut(), Frames.ETH_LEN + 12, Frames.ETH_LEN + 16),
            "the wire tuple is the live flow's: its socket gets the segment and judges it");
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_COLLISION));
        assertRflow(DIP, 80, VIP, 80);
        flowKey(CLIENT, VIP2, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value));
        assertEquals(Abi.Consts.CRAB_FLOW_PENDING, value.getByte(Abi.Flow.STATE), "the newcomer stays pending");
    }

    @Test
    void aRstFromTheVipEndsAPendingFlowOnlyIfItAcknowledgesOurSyn()
    {
        clientEgress.testRun(syn(CLIENT_PORT).build(), 1);
        final Frames.Tcp rst = reply(VIP, 80);
        rst.flags = RST | ACK;
        rst.payload = new byte[0];
        rst.seq = 0;
        rst.ack = CLIENT_ISN + 7;
        assertUnchanged(clientIngress, rst.build());
        flowKey(CLIENT, VIP, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value), "a blind RST leaves the pending flow");

        rst.ack = CLIENT_ISN + 1;
        assertUnchanged(clientIngress, rst.build());
        assertNoFlow(VIP, CLIENT_PORT, 80);
        assertNoPortClaim(CLIENT_PORT);
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_FLOW_RESET));
    }

    @Test
    void anIcmpErrorAboutARedirectedFlowIsMadeToNameTheVip() throws Exception
    {
        redirect();
        final byte[] sent = data(DIP, 80).build();
        final byte[] fromRouter = IcmpFrames.error(ROUTER, CLIENT, 3, 4, 1200, sent);
        final BpfProgram.TestRun run = clientIngress.testRun(fromRouter, 1);
        assertEquals(NEXT, run.verdict());
        final byte[] expectedQuote = data(VIP, 80).build();
        assertArrayEquals(IcmpFrames.error(ROUTER, CLIENT, 3, 4, 1200, expectedQuote), run.frameOut(),
            "the quoted packet names VIP:80, every checksum patched");
        assertTrue(IcmpFrames.checksumsValid(run.frameOut()));
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_ICMP_TRANSLATED));

        final byte[] fromBackend = IcmpFrames.error(DIP, CLIENT, 3, 3, 0, sent);
        final BpfProgram.TestRun unreachable = clientIngress.testRun(fromBackend, 1);
        assertArrayEquals(IcmpFrames.error(VIP, CLIENT, 3, 3, 0, expectedQuote), unreachable.frameOut(),
            "an error from the backend itself comes from the VIP");

        final byte[] shortQuote = Arrays.copyOf(sent, Frames.ETH_LEN + 20 + 8);
        final BpfProgram.TestRun eightBytes = clientIngress.testRun(
            IcmpFrames.error(ROUTER, CLIENT, 3, 4, 1200, shortQuote), 1);
        assertArrayEquals(IcmpFrames.error(ROUTER, CLIENT, 3, 4, 1200,
            Arrays.copyOf(expectedQuote, Frames.ETH_LEN + 20 + 8)), eightBytes.frameOut(),
            "the 8 bytes RFC 792 guarantees carry the ports: enough");

        assertUnchanged(clientIngress, IcmpFrames.error(ROUTER, CLIENT, 3, 4, 1200, data(DIP, 81).build()));
        assertEquals(3, clientCounter(Abi.Consts.CRAB_CL_ICMP_TRANSLATED));
    }

    @Test
    void clientNewSynOnTheSameTupleRestartsTheFlow() throws Exception
    {
        redirect();

        final Frames.Tcp again = syn(CLIENT_PORT);
        again.seq = 7_000_000;
        final BpfProgram.TestRun run = clientEgress.testRun(again.build(), 1);
        final Frames.Tcp expected = syn(CLIENT_PORT);
        expected.seq = 7_000_000;
        expected.options = concat(LINUX_SYN_OPTIONS, MARKER);
        assertArrayEquals(expected.build(), run.frameOut());
        FrameAssertions.assertChecksumsValid(run.frameOut());

        flowKey(CLIENT, VIP, CLIENT_PORT, 80);
        assertTrue(client.map("flows").lookup(key, value));
        assertEquals(Abi.Consts.CRAB_FLOW_PENDING, value.getByte(Abi.Flow.STATE));
        assertEquals(7_000_000, value.getInt(Abi.Flow.SYN_SEQ, ByteOrder.LITTLE_ENDIAN));
        assertNoRflow(DIP, 80);
        assertUnchanged(clientIngress, reply(DIP, 80).build());
        assertEquals(2, clientCounter(Abi.Consts.CRAB_CL_SYN_MARKED));
    }

    @Test
    void clientFullFlowTableLeavesTheSynUnmarkedAndKeepsExistingFlows()
    {
        final BpfMap flows = client.map("flows");
        assertEquals(Abi.Consts.CRAB_FLOW_TABLE_SIZE, flows.maxEntries());
        for (int i = 0; i < flows.maxEntries(); i++)
        {
            dummyFlow(i);
            flows.update(key, value, BpfMap.UPDATE_NOEXIST);
        }

        final Frames.Tcp syn = syn(CLIENT_PORT);
        assertUnchanged(clientEgress, syn.build());
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_SYN_UNMARKED_FULL));
        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_SYN_MARKED));
        assertNoFlow(VIP, CLIENT_PORT, 80);

        final UnsafeBuffer expected = new UnsafeBuffer(new byte[64]);
        final UnsafeBuffer actual = new UnsafeBuffer(new byte[64]);
        for (final int i : new int[] {0, 1, 12345, flows.maxEntries() - 1})
        {
            dummyFlow(i);
            expected.putBytes(0, value, 0, Abi.Flow.SIZE);
            assertTrue(flows.lookup(key, actual), "dummy flow " + i);
            assertArrayEquals(bytesAt(expected, 0, Abi.Flow.SIZE), bytesAt(actual, 0, Abi.Flow.SIZE));
        }
    }

    @Test
    void clientExperimentalKindWithExidIsUsedForTheMarkerAndTheRedirect() throws Exception
    {
        setOption(client, 253, 0xC4AB);
        final BpfProgram.TestRun run = clientEgress.testRun(syn(CLIENT_PORT).build(), 1);
        final Frames.Tcp expected = syn(CLIENT_PORT);
        expected.options = concat(LINUX_SYN_OPTIONS, bytes(253, 4, 0xC4, 0xAB));
        assertArrayEquals(expected.build(), run.frameOut());
        FrameAssertions.assertChecksumsValid(run.frameOut());

        final Frames.Tcp synAck = synAck(DIP, 80, VIP, 6);
        synAck.options = concat(LINUX_SYNACK_OPTIONS, bytes(253, 8, 0xC4, 0xAB), VIP);
        final BpfProgram.TestRun accepted = clientIngress.testRun(synAck.build(), 1);
        synAck.srcIp = VIP;
        assertArrayEquals(synAck.build(), accepted.frameOut());
        assertRflow(DIP, 80, VIP, 80);
    }

    @Test
    void clientSynWithIpOptionsIsMarkedBehindThem() throws Exception
    {
        final Frames.Tcp syn = syn(CLIENT_PORT);
        syn.ipOptions = bytes(1, 1, 1, 0);
        final BpfProgram.TestRun run = clientEgress.testRun(syn.build(), 1);
        final Frames.Tcp expected = syn(CLIENT_PORT);
        expected.ipOptions = bytes(1, 1, 1, 0);
        expected.options = concat(LINUX_SYN_OPTIONS, MARKER);
        assertArrayEquals(expected.build(), run.frameOut());
        FrameAssertions.assertChecksumsValid(run.frameOut());
    }

    @Test
    void clientRedirectAcknowledgingAnIsnThatWrapsIsAccepted() throws Exception
    {
        final Frames.Tcp syn = syn(CLIENT_PORT);
        syn.seq = 0xFFFFFFFFL;
        clientEgress.testRun(syn.build(), 1);
        final Frames.Tcp synAck = synAck(DIP, 80, VIP, 6);
        synAck.ack = 0;
        final BpfProgram.TestRun run = clientIngress.testRun(synAck.build(), 1);
        synAck.srcIp = VIP;
        assertArrayEquals(synAck.build(), run.frameOut());
        FrameAssertions.assertChecksumsValid(run.frameOut());
        assertRflow(DIP, 80, VIP, 80);
    }

    @Test
    void clientNonIpv4AndTruncatedFramesPassUnchanged()
    {
        for (final BpfProgram program : new BpfProgram[] {clientEgress, clientIngress})
        {
            final byte[] arp = syn(CLIENT_PORT).build();
            arp[12] = 0x08;
            arp[13] = 0x06;
            assertUnchanged(program, arp);

            final byte[] ipv6 = syn(CLIENT_PORT).build();
            ipv6[12] = (byte)0x86;
            ipv6[13] = (byte)0xdd;
            assertUnchanged(program, ipv6);

            final byte[] udp = syn(CLIENT_PORT).build();
            udp[Frames.ETH_LEN + 9] = 17;
            assertUnchanged(program, udp);

            final byte[] whole = syn(CLIENT_PORT).build();
            // a runt: BPF_PROG_TEST_RUN refuses an IPv4 frame shorter than an IP header (EINVAL), so ARP here
            assertUnchanged(program, Arrays.copyOf(arp, Frames.ETH_LEN + 1));
            assertUnchanged(program, Arrays.copyOf(whole, Frames.ETH_LEN + 20));
            assertUnchanged(program, Arrays.copyOf(whole, Frames.ETH_LEN + 20 + 10));
            assertUnchanged(program, Arrays.copyOf(whole, whole.length - 4));

            final byte[] wholeSynAck = synAck(DIP, 80, VIP, 6).build();
            assertUnchanged(program, Arrays.copyOf(wholeSynAck, Frames.ETH_LEN + 20 + 20 + 8));
        }
        assertNoFlow(VIP, CLIENT_PORT, 80);
        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_SYN_MARKED));
        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_ACCEPTED));
    }

    @Test
    void aDirectSynOnTheWireTupleOfARedirectedFlowIsDroppedSoTheEstablishedFlowLives()
    {
        redirect();
        final Frames.Tcp direct = syn(CLIENT_PORT);
        direct.dstIp = DIP;
        final BpfProgram.TestRun run = clientEgress.testRun(direct.build(), 1);
        assertEquals(TC_ACT_SHOT, run.verdict(), "dropped: the backend would reset the redirected connection");
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_SYN_COLLISION_DROPPED));
        assertRflow(DIP, 80, VIP, 80);

        final Frames.Tcp otherPort = syn(CLIENT_PORT + 1);
        otherPort.dstIp = DIP;
        assertUnchanged(clientEgress, otherPort.build());
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_SYN_COLLISION_DROPPED));
    }

    @Test
    void aDirectSynMayReuseTheWireTupleOfARedirectedFlowOnceFinsWentBothWays()
    {
        redirect();
        final Frames.Tcp direct = syn(CLIENT_PORT);
        direct.dstIp = DIP;
        final Frames.Tcp fin = data(VIP, 80);
        fin.flags = ACK | FIN;
        fin.payload = new byte[0];
        clientEgress.testRun(fin.build(), 1);
        assertEquals(TC_ACT_SHOT, clientEgress.testRun(direct.build(), 1).verdict(), "half-closed is still live");

        final Frames.Tcp finIn = reply(DIP, 80);
        finIn.flags = ACK | FIN;
        finIn.payload = new byte[0];
        clientIngress.testRun(finIn.build(), 1);
        flowKey(CLIENT, DIP, CLIENT_PORT, 80);
        assertTrue(client.map("rflows").lookup(key, value));
        assertEquals(Abi.Consts.CRAB_FIN_OUT | Abi.Consts.CRAB_FIN_IN, value.getByte(Abi.Rflow.CLOSING));
        assertUnchanged(clientEgress, direct.build());
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_SYN_COLLISION_DROPPED));
        assertEquals(1, clientCounter(Abi.Consts.CRAB_CL_TUPLE_HANDED_OVER));

        assertNoRflow(DIP, 80);
        assertNoFlow(VIP, CLIENT_PORT, 80);
        assertNoPortClaim(CLIENT_PORT);
        final Frames.Tcp directSynAck = synAck(DIP, 80, VIP, 6);
        directSynAck.options = LINUX_SYNACK_OPTIONS.clone();
        assertUnchanged(clientIngress, directSynAck.build());
    }

    private void finBothWays()
    {
        final Frames.Tcp fin = data(VIP, 80);
        fin.flags = ACK | FIN;
        fin.payload = new byte[0];
        clientEgress.testRun(fin.build(), 1);
        final Frames.Tcp finIn = reply(DIP, 80);
        finIn.flags = ACK | FIN;
        finIn.payload = new byte[0];
        clientIngress.testRun(finIn.build(), 1);
    }

    private void assertNoPortClaim(final int localPort)
    {
        key.setMemory(0, 16, (byte)0);
        key.putBytes(Abi.PortKey.LOCAL_ADDR, CLIENT);
        key.putShort(Abi.PortKey.LOCAL_PORT, (short)localPort, ByteOrder.BIG_ENDIAN);
        assertFalse(client.map("ports").lookup(key, value), "no claim on local port " + localPort);
    }

    /** Egress SYN then accepted SYN-ACK from DIP:80 for VIP:80. */
    private void redirect()
    {
        clientEgress.testRun(syn(CLIENT_PORT).build(), 1);
        clientIngress.testRun(synAck(DIP, 80, VIP, 6).build(), 1);
        assertRflow(DIP, 80, VIP, 80);
    }

    private void assertRefused(final byte[] synAck)
    {
        final long before = clientCounter(Abi.Consts.CRAB_CL_REDIRECT_REFUSED);
        assertUnchanged(clientIngress, synAck);
        assertEquals(before + 1, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_REFUSED), "refused");
        assertEquals(0, clientCounter(Abi.Consts.CRAB_CL_REDIRECT_ACCEPTED));
        assertNoRflow(DIP, 80);
    }

    private void assertNoFlow(final byte[] remote, final int localPort, final int remotePort)
    {
        flowKey(CLIENT, remote, localPort, remotePort);
        assertFalse(client.map("flows").lookup(key, value), "no flow entry");
    }

    private void assertNoRflow(final byte[] backend, final int backendPort)
    {
        flowKey(CLIENT, backend, CLIENT_PORT, backendPort);
        assertFalse(client.map("rflows").lookup(key, value), "no rflow entry");
    }

    private void assertRflow(final byte[] backend, final int backendPort, final byte[] vip, final int vipPort)
    {
        flowKey(CLIENT, backend, CLIENT_PORT, backendPort);
        assertTrue(client.map("rflows").lookup(key, value), "rflow entry");
        assertArrayEquals(vip, bytesAt(value, Abi.Rflow.VIP_ADDR, 4));
        assertEquals(vipPort, value.getShort(Abi.Rflow.VIP_PORT, ByteOrder.BIG_ENDIAN) & 0xffff);
    }

    private void pendingFlow(final byte[] remote, final int localPort, final int remotePort, final long seq)
    {
        flowKey(CLIENT, remote, localPort, remotePort);
        value.setMemory(0, 64, (byte)0);
        value.putLong(Abi.Flow.CREATED_NS, 1, ByteOrder.LITTLE_ENDIAN);
        value.putInt(Abi.Flow.SYN_SEQ, (int)seq, ByteOrder.LITTLE_ENDIAN);
        value.putByte(Abi.Flow.STATE, (byte)Abi.Consts.CRAB_FLOW_PENDING);
        client.map("flows").update(key, value, BpfMap.UPDATE_NOEXIST);
    }

    private void dummyFlow(final int i)
    {
        flowKey(bytes(10, 0, i >> 8, i & 0xff), ip("10.1.0.1"), 1024 + (i & 0x3ff), 443);
        value.setMemory(0, 64, (byte)0);
        value.putLong(Abi.Flow.CREATED_NS, 1_000_000L + i, ByteOrder.LITTLE_ENDIAN);
        value.putInt(Abi.Flow.SYN_SEQ, i * 7, ByteOrder.LITTLE_ENDIAN);
        value.putByte(Abi.Flow.STATE, (byte)Abi.Consts.CRAB_FLOW_PENDING);
    }

    private void clientVip(final byte[] addr, final int port, final int vipId)
    {
        key.setMemory(0, 16, (byte)0);
        key.putBytes(Abi.VipKey.ADDR, addr);
        key.putShort(Abi.VipKey.PORT, (short)port, ByteOrder.BIG_ENDIAN);
        value.setMemory(0, 64, (byte)0);
        value.putInt(Abi.ClientVip.VIP_ID, vipId);
        client.map("client_vips").update(key, value, BpfMap.UPDATE_ANY);
    }

    private void allowBackends(final int vipId, final byte[] prefix, final int length)
    {
        cidrKey(vipId, prefix, length);
        value.setMemory(0, 64, (byte)0);
        client.map("backend_cidrs").update(key, value, BpfMap.UPDATE_ANY);
    }

    private void clearAllowedBackends(final int vipId)
    {
        cidrKey(vipId, ip("0.0.0.0"), 0);
        assertTrue(client.map("backend_cidrs").delete(key));
    }

    private void cidrKey(final int vipId, final byte[] prefix, final int length)
    {
        key.setMemory(0, 16, (byte)0);
        key.putInt(Abi.CidrKey.PREFIXLEN, 32 + length);
        key.putInt(Abi.CidrKey.VIP_ID, vipId);
        key.putBytes(Abi.CidrKey.ADDR, prefix);
    }

    private long clientCounter(final int index)
    {
        return perCpuSum(client.map("client_counters"), index);
    }

    @Test
    void serverOptionOfARedirectedSynIsEchoedAtTheEndOfTheSynAck() throws Exception
    {
        final byte[] syn = redirectedSyn(80, concat(bytes(42, 6), VIP, bytes(1, 1))).build();
        assertUnchanged(serverIngress, syn);
        assertEcho(80, VIP, 0, 0);
        assertEquals(1, serverCounter(Abi.Consts.CRAB_SV_SYN_OPTION_SEEN));

        final BpfProgram.TestRun run = serverEgress.testRun(serverSynAck(80).build(), 1);
        assertEquals(NEXT, run.verdict());
        final Frames.Tcp expected = serverSynAck(80);
        expected.options = concat(LINUX_SYNACK_OPTIONS, bytes(42, 6), VIP, bytes(1, 1));
        assertArrayEquals(expected.build(), run.frameOut());
        FrameAssertions.assertChecksumsValid(run.frameOut());
        assertEquals(1, serverCounter(Abi.Consts.CRAB_SV_SYNACK_ECHOED));

        final BpfProgram.TestRun again = serverEgress.testRun(serverSynAck(80).build(), 1);
        assertArrayEquals(expected.build(), again.frameOut(), "a retransmitted SYN-ACK is echoed too");
        assertEquals(2, serverCounter(Abi.Consts.CRAB_SV_SYNACK_ECHOED));
        assertEquals(0, serverCounter(Abi.Consts.CRAB_SV_SYNACK_NOT_ECHOED));
    }

    @Test
    void serverOptionWithAVipPortIsEchoedWithIt() throws Exception
    {
        final byte[] syn = redirectedSyn(8080, concat(bytes(42, 8), VIP2, bytes(0, 80))).build();
        assertUnchanged(serverIngress, syn);
        assertEcho(8080, VIP2, 80, 1);

        final BpfProgram.TestRun run = serverEgress.testRun(serverSynAck(8080).build(), 1);
        final Frames.Tcp expected = serverSynAck(8080);
        expected.options = concat(LINUX_SYNACK_OPTIONS, bytes(42, 8), VIP2, bytes(0, 80));
        assertArrayEquals(expected.build(), run.frameOut());
        FrameAssertions.assertChecksumsValid(run.frameOut());
    }

    @Test
    void serverExperimentalKindWithExidIsEchoed() throws Exception
    {
        setOption(server, 253, 0xC4AB);
        assertUnchanged(serverIngress, redirectedSyn(80, concat(bytes(253, 8, 0xC4, 0xAB), VIP)).build());
        assertEcho(80, VIP, 0, 0);

        final BpfProgram.TestRun run = serverEgress.testRun(serverSynAck(80).build(), 1);
        final Frames.Tcp expected = serverSynAck(80);
        expected.options = concat(LINUX_SYNACK_OPTIONS, bytes(253, 8, 0xC4, 0xAB), VIP);
        assertArrayEquals(expected.build(), run.frameOut());
        FrameAssertions.assertChecksumsValid(run.frameOut());
    }

    @Test
    void serverSynAckWithoutRoomIsSentUnchanged()
    {
        assertUnchanged(serverIngress, redirectedSyn(80, concat(bytes(42, 6), VIP, bytes(1, 1))).build());
        final Frames.Tcp full = serverSynAck(80);
        full.options = concat(LINUX_SYNACK_OPTIONS, TWENTY_NOPS);
        assertUnchanged(serverEgress, full.build());
        assertEquals(1, serverCounter(Abi.Consts.CRAB_SV_SYNACK_NOT_ECHOED));
        assertEquals(0, serverCounter(Abi.Consts.CRAB_SV_SYNACK_ECHOED));
    }

    @Test
    void serverSynAckThatIsAFirstFragmentIsSentUnchanged()
    {
        assertUnchanged(serverIngress, redirectedSyn(80, concat(bytes(42, 6), VIP, bytes(1, 1))).build());
        final Frames.Tcp fragment = serverSynAck(80);
        fragment.fragOff = 0x2000;
        assertUnchanged(serverEgress, fragment.build());
        assertEquals(1, serverCounter(Abi.Consts.CRAB_SV_SYNACK_NOT_ECHOED));
        assertEquals(0, serverCounter(Abi.Consts.CRAB_SV_SYNACK_ECHOED));
    }

    @Test
    void serverForgetsTheEchoWhenTheTupleIsReusedByAConnectionWithoutTheOption()
    {
        assertUnchanged(serverIngress, redirectedSyn(80, concat(bytes(42, 6), VIP, bytes(1, 1))).build());
        assertEcho(80, VIP, 0, 0);

        final byte[] directSyn = redirectedSyn(80, new byte[0]).build();
        assertUnchanged(serverIngress, directSyn);
        assertFalse(findEcho(80), "a SYN without the option removes the old echo");
        assertUnchanged(serverEgress, serverSynAck(80).build());
        assertEquals(0, serverCounter(Abi.Consts.CRAB_SV_SYNACK_ECHOED));
    }

    @Test
    void serverSynAckForATupleNeverSeenIsSentUnchanged()
    {
        assertUnchanged(serverIngress, redirectedSyn(80, concat(bytes(42, 6), VIP, bytes(1, 1))).build());
        final Frames.Tcp other = serverSynAck(80);
        other.dstPort = CLIENT_PORT + 1;
        assertUnchanged(serverEgress, other.build());
        assertEquals(0, serverCounter(Abi.Consts.CRAB_SV_SYNACK_ECHOED));
        assertEquals(0, serverCounter(Abi.Consts.CRAB_SV_SYNACK_NOT_ECHOED));
    }

    @Test
    void serverSynWithoutTheOptionRecordsNothing()
    {
        final Frames.Tcp plain = redirectedSyn(80, new byte[0]);
        plain.options = LINUX_SYN_OPTIONS.clone();
        assertUnchanged(serverIngress, plain.build());
        assertFalse(findEcho(80), "no echo entry");
        assertEquals(0, serverCounter(Abi.Consts.CRAB_SV_SYN_OPTION_SEEN));
        assertUnchanged(serverEgress, serverSynAck(80).build());
    }

    @Test
    void serverNonIpv4AndTruncatedFramesPassUnchanged()
    {
        for (final BpfProgram program : new BpfProgram[] {serverEgress, serverIngress})
        {
            final byte[] arp = serverSynAck(80).build();
            arp[12] = 0x08;
            arp[13] = 0x06;
            assertUnchanged(program, arp);
            final byte[] whole = redirectedSyn(80, concat(bytes(42, 6), VIP, bytes(1, 1))).build();
            // a runt: BPF_PROG_TEST_RUN refuses an IPv4 frame shorter than an IP header (EINVAL), so ARP here
            assertUnchanged(program, Arrays.copyOf(arp, Frames.ETH_LEN + 1));
            assertUnchanged(program, Arrays.copyOf(whole, Frames.ETH_LEN + 20));
            assertUnchanged(program, Arrays.copyOf(whole, Frames.ETH_LEN + 20 + 10));
        }
        assertEquals(0, serverCounter(Abi.Consts.CRAB_SV_SYN_OPTION_SEEN));
    }

    /** A SYN as the LB forwards it to the backend: the option right after the fixed header, marker blanked. */
    private Frames.Tcp redirectedSyn(final int port, final byte[] option)
    {
        final Frames.Tcp syn = new Frames.Tcp();
        syn.dstMac = DIP_MAC;
        syn.srcMac = GATEWAY_MAC;
        syn.srcIp = CLIENT;
        syn.dstIp = DIP;
        syn.srcPort = CLIENT_PORT;
        syn.dstPort = port;
        syn.seq = CLIENT_ISN;
        syn.options = concat(option, LINUX_SYN_OPTIONS, bytes(1, 1, 1, 1));
        return syn;
    }

    private Frames.Tcp serverSynAck(final int port)
    {
        final Frames.Tcp synAck = new Frames.Tcp();
        synAck.dstMac = GATEWAY_MAC;
        synAck.srcMac = DIP_MAC;
        synAck.srcIp = DIP;
        synAck.dstIp = CLIENT;
        synAck.srcPort = port;
        synAck.dstPort = CLIENT_PORT;
        synAck.seq = SERVER_ISN;
        synAck.ack = CLIENT_ISN + 1;
        synAck.flags = SYN | ACK;
        synAck.window = 65160;
        synAck.options = LINUX_SYNACK_OPTIONS.clone();
        return synAck;
    }

    private void assertEcho(final int port, final byte[] vip, final int vipPort, final int hasPort)
    {
        assertTrue(findEcho(port), "echo entry");
        assertArrayEquals(vip, bytesAt(value, Abi.Echo.VIP_ADDR, 4));
        assertEquals(hasPort, value.getByte(Abi.Echo.HAS_PORT));
        if (hasPort != 0)
        {
            assertEquals(vipPort, value.getShort(Abi.Echo.VIP_PORT, ByteOrder.BIG_ENDIAN) & 0xffff);
        }
        assertTrue(value.getLong(Abi.Echo.SEEN_NS, ByteOrder.LITTLE_ENDIAN) > 0, "seen_ns");
    }

    /**
     * Whether some slot of the echo memory holds the echo of (DIP:port, CLIENT:CLIENT_PORT), read into value: every
     * slot is looked at, so the test does not depend on where the program's hash puts a tuple.
     */
    private boolean findEcho(final int port)
    {
        final UnsafeBuffer tuple = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
        tuple.putBytes(Abi.FlowKey.LOCAL_ADDR, DIP);
        tuple.putBytes(Abi.FlowKey.REMOTE_ADDR, CLIENT);
        tuple.putShort(Abi.FlowKey.LOCAL_PORT, (short)port, ByteOrder.BIG_ENDIAN);
        tuple.putShort(Abi.FlowKey.REMOTE_PORT, (short)CLIENT_PORT, ByteOrder.BIG_ENDIAN);
        final BpfMap echoes = server.map(Abi.Maps.ECHOES);
        for (int slot = 0; slot < Abi.Consts.CRAB_ECHO_SLOTS; slot++)
        {
            key.putInt(0, slot, ByteOrder.nativeOrder());
            if (echoes.lookup(key, value) &&
                Arrays.equals(bytesAt(value, Abi.Echo.KEY, Abi.FlowKey.SIZE), bytesAt(tuple, 0, Abi.FlowKey.SIZE)))
            {
                return true;
            }
        }
        return false;
    }

    private long serverCounter(final int index)
    {
        return perCpuSum(server.map("server_counters"), index);
    }
    /** The client's SYN to VIP:80 from CLIENT_PORT, with Linux's options. */
    private static Frames.Tcp syn(final int srcPort)
    {
        final Frames.Tcp syn = new Frames.Tcp();
        syn.dstMac = GATEWAY_MAC;
        syn.srcMac = CLIENT_MAC;
        syn.srcIp = CLIENT;
        syn.dstIp = VIP;
        syn.srcPort = srcPort;
        syn.dstPort = 80;
        syn.seq = CLIENT_ISN;
        syn.options = LINUX_SYN_OPTIONS.clone();
        return syn;
    }

    /**
     * The backend's SYN-ACK as it reaches the client: from DIP:port, acknowledging the client's SYN, with the option
     * naming the VIP after Linux's options: {@code 42 6 VIP NOP NOP} when vipPortOrLength is 6, else
     * {@code 42 8 VIP port} with vipPortOrLength as the VIP port.
     */
    private static Frames.Tcp synAck(final byte[] dip, final int port, final byte[] vip, final int vipPortOrLength)
    {
        final Frames.Tcp synAck = new Frames.Tcp();
        synAck.dstMac = CLIENT_MAC;
        synAck.srcMac = DIP_MAC;
        synAck.srcIp = dip;
        synAck.dstIp = CLIENT;
        synAck.srcPort = port;
        synAck.dstPort = CLIENT_PORT;
        synAck.seq = SERVER_ISN;
        synAck.ack = CLIENT_ISN + 1;
        synAck.flags = SYN | ACK;
        synAck.window = 65160;
        synAck.options = vipPortOrLength == 6
            ? concat(LINUX_SYNACK_OPTIONS, bytes(42, 6), vip, bytes(1, 1))
            : concat(LINUX_SYNACK_OPTIONS, bytes(42, 8), vip, bytes(vipPortOrLength >> 8, vipPortOrLength & 0xff));
        return synAck;
    }

    /** A data segment from the client to dst:port. */
    private static Frames.Tcp data(final byte[] dst, final int port)
    {
        final Frames.Tcp data = new Frames.Tcp();
        data.dstMac = GATEWAY_MAC;
        data.srcMac = CLIENT_MAC;
        data.srcIp = CLIENT;
        data.dstIp = dst;
        data.srcPort = CLIENT_PORT;
        data.dstPort = port;
        data.seq = CLIENT_ISN + 1;
        data.ack = SERVER_ISN + 1;
        data.flags = ACK | PSH;
        data.window = 502;
        data.options = bytes(1, 1, 8, 10, 0, 0, 0, 10, 0, 0, 0, 9);
        data.payload = PAYLOAD;
        return data;
    }

    /** A data segment from src:port to the client. */
    private static Frames.Tcp reply(final byte[] src, final int port)
    {
        final Frames.Tcp data = new Frames.Tcp();
        data.dstMac = CLIENT_MAC;
        data.srcMac = DIP_MAC;
        data.srcIp = src;
        data.dstIp = CLIENT;
        data.srcPort = port;
        data.dstPort = CLIENT_PORT;
        data.seq = SERVER_ISN + 1;
        data.ack = CLIENT_ISN + 1 + PAYLOAD.length;
        data.flags = ACK | PSH;
        data.window = 509;
        data.options = bytes(1, 1, 8, 10, 0, 0, 0, 11, 0, 0, 0, 10);
        data.payload = bytes('w', 'o', 'r', 'l', 'd', '!', '\n');
        return data;
    }

    private static void assertUnchanged(final BpfProgram program, final byte[] frame)
    {
        final BpfProgram.TestRun run = program.testRun(frame, 1);
        assertEquals(NEXT, run.verdict(), "verdict");
        assertArrayEquals(frame, run.frameOut(), "frame untouched");
    }

    private static byte[] bytesAt(final UnsafeBuffer buffer, final int at, final int length)
    {
        final byte[] out = new byte[length];
        buffer.getBytes(at, out);
        return out;
    }

    private void flowKey(final byte[] local, final byte[] remote, final int localPort, final int remotePort)
    {
        key.setMemory(0, 16, (byte)0);
        key.putBytes(Abi.FlowKey.LOCAL_ADDR, local);
        key.putBytes(Abi.FlowKey.REMOTE_ADDR, remote);
        key.putShort(Abi.FlowKey.LOCAL_PORT, (short)localPort, ByteOrder.BIG_ENDIAN);
        key.putShort(Abi.FlowKey.REMOTE_PORT, (short)remotePort, ByteOrder.BIG_ENDIAN);
    }

    private void setOption(final BpfObject obj, final int kind, final int exid)
    {
        key.putInt(0, 0);
        value.setMemory(0, 64, (byte)0);
        value.putByte(Abi.OptCfg.KIND, (byte)kind);
        value.putShort(Abi.OptCfg.EXID, (short)exid, ByteOrder.BIG_ENDIAN);
        obj.map("opt_cfg").update(key, value, BpfMap.UPDATE_ANY);
    }

    private static long perCpuSum(final BpfMap counters, final int index)
    {
        return new Counters(counters).sum(index);
    }
}
