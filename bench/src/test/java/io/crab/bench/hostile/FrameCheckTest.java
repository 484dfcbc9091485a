package io.crab.bench.hostile;

import io.crab.bpf.Abi;
import io.crab.bpf.frames.Frames;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.crab.bpf.frames.Frames.ACK;
import static io.crab.bpf.frames.Frames.LINUX_SYN_OPTIONS;
import static io.crab.bpf.frames.Frames.PSH;
import static io.crab.bpf.frames.Frames.bytes;
import static io.crab.bpf.frames.Frames.concat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checks themselves, without a kernel: outcomes made by hand that keep every promise pass, and each broken
 * promise (a bad checksum, an option list that does not parse, a counter path missed...) is reported.
 */
class FrameCheckTest
{
    private static final int XDP_ABORTED = 0;
    private static final int TC_ACT_PIPE = 3;
    private static final OptionConfig CONFIG = OptionConfig.KIND_42;

    @Test
    void aRedirectedSynAsTheLbShouldTransmitItBreaksNoCheck()
    {
        assertEquals(List.of(), lb(markedSyn().build(), Hook.XDP_TX, redirected().build(),
            Abi.Consts.CRAB_LB_TX_REDIRECT));
    }

    @Test
    void aTransmittedFrameWithABrokenIpv4ChecksumIsAViolation()
    {
        final byte[] out = redirected().build();
        out[Frames.ETH_LEN + 10] ^= 0x01;
        assertReported("lost a valid IPv4 header checksum", lb(markedSyn().build(), Hook.XDP_TX, out,
            Abi.Consts.CRAB_LB_TX_REDIRECT));
    }

    @Test
    void aTransmittedFrameWithABrokenTcpChecksumIsAViolation()
    {
        final byte[] out = redirected().build();
        out[Frames.ETH_LEN + 20 + 16] ^= 0x40;
        assertReported("lost a valid TCP checksum", lb(markedSyn().build(), Hook.XDP_TX, out,
            Abi.Consts.CRAB_LB_TX_REDIRECT));
    }

    @Test
    void aTransmittedFrameWhoseOptionsDoNotParseIsAViolation()
    {
        for (final byte[] broken : new byte[][] {bytes(8, 1, 1, 1), bytes(1, 1, 8, 10)})
        {
            final Frames.Tcp out = redirected();
            out.options = concat(CONFIG.redirect(Pool.VIP_ALL_PORTS, -1), LINUX_SYN_OPTIONS, broken);
            assertReported("options that do not parse", lb(markedSyn().build(), Hook.XDP_TX, out.build(),
                Abi.Consts.CRAB_LB_TX_REDIRECT));
        }
    }

    @Test
    void aTransmittedFrameThatStillCarriesTheMarkerIsAViolation()
    {
        final Frames.Tcp out = redirected();
        out.options = concat(CONFIG.redirect(Pool.VIP_ALL_PORTS, -1), LINUX_SYN_OPTIONS, CONFIG.marker());
        assertReported("2 options of kind 42", lb(markedSyn().build(), Hook.XDP_TX, out.build(),
            Abi.Consts.CRAB_LB_TX_REDIRECT));
    }

    @Test
    void aTransmittedFrameNamingAnotherVipOrSentElsewhereIsAViolation()
    {
        final Frames.Tcp otherVip = redirected();
        otherVip.options = concat(CONFIG.redirect(Pool.VIP_PORT_80, -1), LINUX_SYN_OPTIONS, bytes(1, 1, 1, 1));
        assertReported("does not name the VIP", lb(markedSyn().build(), Hook.XDP_TX, otherVip.build(),
            Abi.Consts.CRAB_LB_TX_REDIRECT));

        final Frames.Tcp elsewhere = redirected();
        elsewhere.dstIp = Pool.NOT_A_VIP;
        assertReported("no backend", lb(markedSyn().build(), Hook.XDP_TX, elsewhere.build(),
            Abi.Consts.CRAB_LB_TX_REDIRECT));

        final Frames.Tcp otherMac = redirected();
        otherMac.dstMac = Pool.DIP2_MAC;
        assertReported("not to its MAC", lb(markedSyn().build(), Hook.XDP_TX, otherMac.build(),
            Abi.Consts.CRAB_LB_TX_REDIRECT));
        assertEquals(List.of(), lb(markedSyn().build(), Hook.XDP_REDIRECT, otherMac.build(),
            Abi.Consts.CRAB_LB_TX_REDIRECT), "after a FIB lookup the next hop's MAC is the kernel's choice");
    }

    @Test
    void theLbCountsEveryFrameExactlyOnceAndByItsVerdict()
    {
        final byte[] syn = markedSyn().build();
        assertReported("expected exactly one counter", lb(syn, Hook.XDP_PASS, syn));
        assertReported("expected exactly one counter", lb(syn, Hook.XDP_PASS, syn,
            Abi.Consts.CRAB_LB_PASS_UNMARKED, Abi.Consts.CRAB_LB_PASS_NOT_VIP));
        assertReported("tx_redirect rose with verdict XDP_PASS", lb(syn, Hook.XDP_PASS, syn,
            Abi.Consts.CRAB_LB_TX_REDIRECT));
        assertReported("pass_unmarked rose with verdict XDP_TX", lb(syn, Hook.XDP_TX, redirected().build(),
            Abi.Consts.CRAB_LB_PASS_UNMARKED));
        assertEquals(List.of(), lb(syn, Hook.XDP_PASS, syn, Abi.Consts.CRAB_LB_PASS_UNMARKED));
    }

    @Test
    void theLbMustNotTurnACorruptSynIntoAValidOne()
    {
        final byte[] badIp = markedSyn().build();
        badIp[Frames.ETH_LEN + 8] ^= 0x01;
        assertReported("made a wrong IPv4 header checksum right", lb(badIp, Hook.XDP_TX, redirected().build(),
            Abi.Consts.CRAB_LB_TX_REDIRECT));

        final byte[] badTcp = markedSyn().build();
        badTcp[Frames.ETH_LEN + 20 + 4] ^= 0x01;
        assertReported("neither right nor the partial form", lb(badTcp, Hook.XDP_TX, redirected().build(),
            Abi.Consts.CRAB_LB_TX_REDIRECT));
        final byte[] badTcpChecksum = markedSyn().build();
        badTcpChecksum[Frames.ETH_LEN + 20 + 16] ^= 0x01;
        final byte[] keptWrong = redirected().build();
        keptWrong[Frames.ETH_LEN + 20 + 16] ^= 0x01;
        assertEquals(List.of(), lb(badTcpChecksum, Hook.XDP_TX, keptWrong, Abi.Consts.CRAB_LB_TX_REDIRECT),
            "a wrong checksum sent on wrong");

        final byte[] partial = markedSyn().build();
        final int tcpLength = partial.length - Frames.ETH_LEN - 20;
        Frames.put16(partial, Frames.ETH_LEN + 20 + 16,
            Packet.sum(partial, 0, 0, Packet.pseudoHeaderSum(partial, Frames.ETH_LEN, 6, tcpLength)));
        assertEquals(List.of(), lb(partial, Hook.XDP_TX, redirected().build(), Abi.Consts.CRAB_LB_TX_REDIRECT),
            "the partial checksum a sender leaves for offload");
    }

    @Test
    void theLbDropsOnlyWhereItsCountersSaySo()
    {
        final byte[] syn = markedSyn().build();
        assertEquals(List.of(), lb(syn, Hook.XDP_DROP, syn, Abi.Consts.CRAB_LB_DROP_NO_ROUTE));
        assertReported("drop_no_route rose with verdict XDP_PASS", lb(syn, Hook.XDP_PASS, syn,
            Abi.Consts.CRAB_LB_DROP_NO_ROUTE));
        assertReported("pass_no_room rose with verdict XDP_DROP", lb(syn, Hook.XDP_DROP, syn,
            Abi.Consts.CRAB_LB_PASS_NO_ROOM));
    }

    @Test
    void aFrameTheLbPassesMustBeUntouched()
    {
        final byte[] syn = markedSyn().build();
        final byte[] touched = syn.clone();
        touched[touched.length - 1] ^= 0x01;
        assertReported("changed a frame it passed", lb(syn, Hook.XDP_PASS, touched,
            Abi.Consts.CRAB_LB_PASS_UNMARKED));
    }

    @Test
    void verdictsOutsideTheHooksSetAreViolations()
    {
        final byte[] syn = markedSyn().build();
        assertReported("XDP_ABORTED is not one", lb(syn, XDP_ABORTED, syn, Abi.Consts.CRAB_LB_PASS_MALFORMED));
        assertReported("TC_ACT_PIPE is not one", tc(ProgramRules.serverIngress(), syn, TC_ACT_PIPE, syn));
        assertEquals(List.of(), tc(ProgramRules.serverIngress(), syn, Hook.TC_ACT_OK, syn));
    }

    @Test
    void aTcProgramMustKeepTheChecksumsItsInputHadButNeedNotRepairThem()
    {
        final byte[] in = data().build();
        final Frames.Tcp rewritten = data();
        rewritten.dstIp = Pool.DIP1;
        final byte[] out = rewritten.build();
        assertEquals(List.of(), egress(in, Hook.TC_ACT_OK, out, Abi.Consts.CRAB_CL_EGRESS_REWRITTEN));

        final byte[] badOut = out.clone();
        badOut[badOut.length - 1] ^= 0x01;
        assertReported("lost a valid TCP checksum", egress(in, Hook.TC_ACT_OK, badOut,
            Abi.Consts.CRAB_CL_EGRESS_REWRITTEN));

        final byte[] badIn = in.clone();
        badIn[badIn.length - 1] ^= 0x01;
        assertEquals(List.of(), egress(badIn, Hook.TC_ACT_OK, badOut, Abi.Consts.CRAB_CL_EGRESS_REWRITTEN),
            "a checksum that was wrong may stay wrong");

        final byte[] badIp = out.clone();
        badIp[Frames.ETH_LEN + 8] ^= 0x01;
        assertReported("lost a valid IPv4 header checksum", egress(in, Hook.TC_ACT_OK, badIp,
            Abi.Consts.CRAB_CL_EGRESS_REWRITTEN));
    }

    @Test
    void aTcProgramMustKeepAnOptionListThatParsed()
    {
        final byte[] in = data().build();
        final Frames.Tcp broken = data();
        broken.dstIp = Pool.DIP1;
        broken.options = bytes(1, 1, 8, 12, 0, 0, 0, 10, 0, 0, 0, 9);
        assertReported("lost TCP options that parse", egress(in, Hook.TC_ACT_OK, broken.build(),
            Abi.Consts.CRAB_CL_EGRESS_REWRITTEN));
    }

    @Test
    void aTcProgramThatGrowsAFirstFragmentIsAViolation()
    {
        final Frames.Tcp syn = clientSyn();
        syn.fragOff = Packet.IP_MF;
        final Frames.Tcp marked = clientSyn();
        marked.fragOff = Packet.IP_MF;
        marked.options = concat(LINUX_SYN_OPTIONS, CONFIG.marker());
        assertReported("changed a fragment's total length from 60 to 64", egress(syn.build(), Hook.TC_ACT_OK,
            marked.build(), Abi.Consts.CRAB_CL_SYN_MARKED));
    }

    @Test
    void aTcProgramMayOnlyChangeIpv4Frames()
    {
        final byte[] in = data().build();
        final byte[] out = in.clone();
        out[12] = 0x08;
        out[13] = 0x06;
        assertReported("not IPv4", egress(in, Hook.TC_ACT_OK, out, Abi.Consts.CRAB_CL_EGRESS_REWRITTEN));
    }

    @Test
    void theClientEgressCountersMustAccountForChangesAndDrops()
    {
        final byte[] in = data().build();
        final Frames.Tcp rewritten = data();
        rewritten.dstIp = Pool.DIP1;
        final byte[] out = rewritten.build();
        assertReported("0 of syn_marked, egress_rewritten rose", egress(in, Hook.TC_ACT_OK, out));
        assertReported("2 of syn_marked, egress_rewritten rose", egress(in, Hook.TC_ACT_OK, out,
            Abi.Consts.CRAB_CL_EGRESS_REWRITTEN, Abi.Consts.CRAB_CL_SYN_MARKED));
        assertReported("dropped the frame, and 0 of syn_collision_dropped rose",
            egress(in, Hook.TC_ACT_SHOT, in));
        assertReported("syn_collision_dropped rose for a frame not dropped", egress(in, Hook.TC_ACT_OK, in,
            Abi.Consts.CRAB_CL_SYN_COLLISION_DROPPED));
        assertReported("ingress_rewritten rose by 1: no rule of this program names it", egress(in, Hook.TC_ACT_OK,
            in, Abi.Consts.CRAB_CL_INGRESS_REWRITTEN));
        assertReported("flow_reset rose without egress_rewritten", egress(in, Hook.TC_ACT_OK, in,
            Abi.Consts.CRAB_CL_FLOW_RESET));
        assertEquals(List.of(), egress(in, Hook.TC_ACT_SHOT, in, Abi.Consts.CRAB_CL_SYN_COLLISION_DROPPED));
    }

    @Test
    void theClientIngressCountsAnAcceptedRedirectOnlyWithTheRewriteOfItsSynAck()
    {
        final byte[] in = data().build();
        assertReported("redirect_accepted rose without ingress_rewritten", tc(ProgramRules.clientIngress(), in,
            Hook.TC_ACT_OK, in, Abi.Consts.CRAB_CL_REDIRECT_ACCEPTED));
        assertReported("dropped a frame", tc(ProgramRules.clientIngress(), in, Hook.TC_ACT_SHOT, in));
    }

    @Test
    void aTranslatedIcmpErrorKeepsItsChecksumsAndQuotesAVip()
    {
        final byte[] in = icmpError(Pool.DIP1);
        final byte[] out = icmpError(Pool.VIP_ALL_PORTS);
        assertEquals(List.of(), ingress(in, out, Abi.Consts.CRAB_CL_ICMP_TRANSLATED));

        final byte[] badIcmp = out.clone();
        badIcmp[Frames.ETH_LEN + 22] ^= 0x01;
        assertReported("lost a valid ICMP checksum", ingress(in, badIcmp, Abi.Consts.CRAB_CL_ICMP_TRANSLATED));

        final byte[] badQuotedIp = out.clone();
        badQuotedIp[Frames.ETH_LEN + 28 + 10] ^= 0x01;
        assertReported("lost a valid checksum in the quoted IPv4 header", ingress(in, badQuotedIp,
            Abi.Consts.CRAB_CL_ICMP_TRANSLATED));

        final byte[] badQuotedTcp = out.clone();
        badQuotedTcp[Frames.ETH_LEN + 28 + 20 + 16] ^= 0x01;
        assertReported("lost a valid TCP checksum in the quoted segment", ingress(in, badQuotedTcp,
            Abi.Consts.CRAB_CL_ICMP_TRANSLATED));

        assertReported("quotes no VIP", ingress(in, icmpError(Pool.DIP2), Abi.Consts.CRAB_CL_ICMP_TRANSLATED));
        assertReported("0 of ingress_rewritten, icmp_translated rose", ingress(in, out));
    }

    @Test
    void theServerIngressNeverChangesAFrame()
    {
        final byte[] in = data().build();
        final Frames.Tcp changed = data();
        changed.window = 1;
        assertReported("changed a frame it sent on", tc(ProgramRules.serverIngress(), in, Hook.TC_ACT_OK,
            changed.build()));
    }

    @Test
    void onlyFramesTooShortForTheirHeadersMayBeRefused()
    {
        final byte[] syn = markedSyn().build();
        assertReported("refused to run a frame of " + syn.length + " bytes", refused(Hook.XDP, syn));
        assertEquals(List.of(), refused(Hook.XDP, Arrays.copyOf(syn, Frames.ETH_LEN - 1)));
        assertEquals(List.of(), refused(Hook.TC, Arrays.copyOf(syn, Frames.ETH_LEN + 19)));
        assertReported("refused to run a frame of 33 bytes", refused(Hook.XDP, Arrays.copyOf(syn, 33)));
    }

    private static List<String> lb(final byte[] in, final int verdict, final byte[] out, final int... raised)
    {
        return judge(Hook.XDP, ProgramRules.lb(), Abi.Consts.CRAB_LB_COUNTER_MAX, in, verdict, out, raised);
    }

    private static List<String> egress(final byte[] in, final int verdict, final byte[] out, final int... raised)
    {
        return tc(ProgramRules.clientEgress(), in, verdict, out, raised);
    }

    private static List<String> tc(final ProgramRules rules, final byte[] in, final int verdict, final byte[] out,
        final int... raised)
    {
        return judge(Hook.TC, rules, Abi.Consts.CRAB_CL_COUNTER_MAX, in, verdict, out, raised);
    }

    private static List<String> ingress(final byte[] in, final byte[] out, final int... raised)
    {
        return tc(ProgramRules.clientIngress(), in, Hook.TC_ACT_OK, out, raised);
    }

    private static List<String> judge(final Hook hook, final ProgramRules rules, final int counters, final byte[] in,
        final int verdict, final byte[] out, final int... raised)
    {
        final Outcome outcome = new Outcome(hook, rules, counters, FrameGenerator.MAX_FRAME_LENGTH);
        outcome.reset(CONFIG, in);
        outcome.verdict = verdict;
        System.arraycopy(out, 0, outcome.output, 0, out.length);
        outcome.outputLength = out.length;
        for (final int counter : raised)
        {
            outcome.raised[counter]++;
        }
        final List<String> failures = new ArrayList<>();
        FrameCheck.check(outcome, failures);
        return failures;
    }

    private static List<String> refused(final Hook hook, final byte[] in)
    {
        final Outcome outcome = new Outcome(hook, ProgramRules.serverIngress(), Abi.Consts.CRAB_SV_COUNTER_MAX,
            FrameGenerator.MAX_FRAME_LENGTH);
        outcome.reset(CONFIG, in);
        outcome.runResult = -22;
        final List<String> failures = new ArrayList<>();
        FrameCheck.check(outcome, failures);
        return failures;
    }

    private static void assertReported(final String expected, final List<String> failures)
    {
        assertTrue(failures.stream().anyMatch(f -> f.contains(expected)),
            "expected a failure containing '" + expected + "', got " + failures);
    }

    private static Frames.Tcp clientSyn()
    {
        final Frames.Tcp syn = new Frames.Tcp();
        syn.srcIp = Pool.CLIENT;
        syn.dstIp = Pool.VIP_ALL_PORTS;
        syn.srcPort = Pool.PENDING.clientPort();
        return syn;
    }

    private static Frames.Tcp markedSyn()
    {
        final Frames.Tcp syn = clientSyn();
        syn.dstMac = Pool.LB_MAC;
        syn.srcMac = Pool.CLIENT_MAC;
        syn.options = concat(LINUX_SYN_OPTIONS, CONFIG.marker());
        return syn;
    }

    /** markedSyn as the LB transmits it: to DIP1, the redirect option first, the marker blanked to NOPs. */
    private static Frames.Tcp redirected()
    {
        final Frames.Tcp syn = markedSyn();
        syn.dstMac = Pool.DIP1_MAC;
        syn.srcMac = Pool.LB_MAC;
        syn.dstIp = Pool.DIP1;
        syn.options = concat(CONFIG.redirect(Pool.VIP_ALL_PORTS, -1), LINUX_SYN_OPTIONS, bytes(1, 1, 1, 1));
        return syn;
    }

    /**
     * A router's "fragmentation needed" to the client about its data segment to {@code quotedDst}, quoted whole,
     * every checksum right: what the client gets from the path to DIP1, and after translation names the VIP.
     */
    private static byte[] icmpError(final byte[] quotedDst)
    {
        final Frames.Tcp quotedSegment = data();
        quotedSegment.dstIp = quotedDst;
        final byte[] quoted = quotedSegment.build();
        final byte[] frame = new byte[Frames.ETH_LEN + 20 + 8 + quoted.length - Frames.ETH_LEN];
        System.arraycopy(quoted, 0, frame, 0, Frames.ETH_LEN);
        frame[Frames.ETH_LEN] = 0x45;
        Frames.put16(frame, Frames.ETH_LEN + 2, frame.length - Frames.ETH_LEN);
        frame[Frames.ETH_LEN + 8] = 64;
        frame[Frames.ETH_LEN + 9] = 1;
        System.arraycopy(Pool.ROUTER, 0, frame, Frames.ETH_LEN + 12, 4);
        System.arraycopy(Pool.CLIENT, 0, frame, Frames.ETH_LEN + 16, 4);
        frame[Frames.ETH_LEN + 20] = 3;
        frame[Frames.ETH_LEN + 21] = 4;
        Frames.put16(frame, Frames.ETH_LEN + 26, 1400);
        System.arraycopy(quoted, Frames.ETH_LEN, frame, Frames.ETH_LEN + 28, quoted.length - Frames.ETH_LEN);
        Frames.put16(frame, Frames.ETH_LEN + 22, Packet.checksum(frame, Frames.ETH_LEN + 20,
            frame.length - Frames.ETH_LEN - 20, 0));
        Frames.put16(frame, Frames.ETH_LEN + 10, Packet.checksum(frame, Frames.ETH_LEN, 20, 0));
        return frame;
    }

    private static Frames.Tcp data()
    {
        final Frames.Tcp data = clientSyn();
        data.flags = ACK | PSH;
        data.options = BaseFrames.DATA_OPTIONS.clone();
        data.payload = bytes('h', 'i');
        return data;
    }
}
