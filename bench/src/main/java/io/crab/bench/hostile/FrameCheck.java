package io.crab.bench.hostile;

import java.util.List;

/**
 * The checks every program's every frame gets, then its program's {@link ProgramRules}. Every program patches
 * frames in place, checksums incrementally, so a wrong one stays wrong: a frame it sends on changed must keep every
 * property its input had. An XDP program transmits only a whole, unfragmented IPv4 datagram whose options parse.
 */
final class FrameCheck
{
    static final List<String> GENERIC = List.of(
        "the verdict is one the hook allows: XDP_PASS, XDP_TX, XDP_DROP, XDP_REDIRECT; TCX_NEXT, TC_ACT_OK," +
            " TC_ACT_SHOT, TC_ACT_REDIRECT (never XDP_ABORTED, TC_ACT_PIPE...)",
        "XDP: a frame it transmits (XDP_TX, XDP_REDIRECT) is an unfragmented IPv4 datagram held whole in the frame," +
            " carrying a whole TCP segment with an option list that parses, or a whole ICMP message with a valid" +
            " checksum; an IPv4 or TCP checksum that was valid still is",
        "TC: a frame it sends on (TCX_NEXT, TC_ACT_OK, TC_ACT_REDIRECT) changed is IPv4 with its whole header, and keeps" +
            " what its input had: the datagram held whole, a valid IP header checksum, a whole TCP segment, a valid" +
            " TCP checksum, an option list that parses, a valid ICMP checksum, and in an ICMP error's quote a valid" +
            " IPv4 header checksum and TCP checksum; and a fragment keeps its length",
        "the kernel refuses to run only frames shorter than an Ethernet header, and (TC) IPv4 or IPv6 frames" +
            " shorter than their fixed IP header; a refused frame raises no counter",
        "option lists parse when they walk to the data offset: EOL ends them, NOP is one byte, any other kind" +
            " has a length of at least 2 that stays within the header");

    private static final int ETH_P_IPV6 = 0x86dd;
    private static final int IPV6_HEADER = 40;
    private static final int IPV4_HEADER = 20;

    private FrameCheck()
    {
    }

    /** Adds a sentence to {@code failures} for every check the outcome breaks. */
    static void check(final Outcome o, final List<String> failures)
    {
        if (o.runResult < 0)
        {
            if (!kernelMayRefuse(o.hook, o.input))
            {
                failures.add("the kernel refused to run a frame of " + o.input.length + " bytes (errno " +
                    -o.runResult + ")");
            }
            for (int i = 0; i < o.raised.length; i++)
            {
                if (o.raised[i] != 0)
                {
                    failures.add(o.counterName(i) + " rose by " + o.raised[i] + " for a frame that did not run");
                }
            }
            return;
        }
        if (!o.hook.allowed.contains(o.verdict))
        {
            failures.add("verdict " + o.hook.verdictName(o.verdict) + " is not one a crab program may return");
        }
        if (o.sentOnChanged())
        {
            if (o.hook == Hook.XDP)
            {
                transmittedWhole(o.in(), o.out(), failures);
            }
            else
            {
                keptWhatTheInputHad(o.in(), o.out(), failures);
            }
        }
        o.rules.check(o, failures);
    }

    /** What BPF_PROG_TEST_RUN refuses with EINVAL (seen on 6.18): a frame too short for its headers. */
    static boolean kernelMayRefuse(final Hook hook, final byte[] frame)
    {
        if (frame.length < Packet.ETH_LEN)
        {
            return true;
        }
        final int type = Packet.u16(frame, 12);
        return hook == Hook.TC && (type == Packet.ETH_P_IP && frame.length < Packet.ETH_LEN + IPV4_HEADER ||
            type == ETH_P_IPV6 && frame.length < Packet.ETH_LEN + IPV6_HEADER);
    }

    private static void transmittedWhole(final Packet in, final Packet out, final List<String> failures)
    {
        if (!out.ipv4)
        {
            failures.add("transmitted a frame that is not IPv4 with its whole header");
            return;
        }
        lost(in.ipChecksumValid, out.ipChecksumValid, "a valid IPv4 header checksum", failures);
        if (!out.datagramHeld)
        {
            failures.add("transmitted a total length of " + out.totalLength + " in a frame of " + out.length);
            return;
        }
        if (out.fragment)
        {
            failures.add("transmitted a fragment");
            return;
        }
        if (out.protocol == Packet.IPPROTO_ICMP)
        {
            if (!out.icmpChecksumValid)
            {
                failures.add(out.icmp ? "transmitted a bad ICMP checksum" : "transmitted a truncated ICMP message");
            }
            return;
        }
        if (!out.tcp)
        {
            failures.add(out.protocol == Packet.IPPROTO_TCP ? "transmitted a TCP data offset outside the segment" :
                "transmitted protocol " + out.protocol + ", neither TCP nor ICMP");
            return;
        }
        lost(in.tcpChecksumValid, out.tcpChecksumValid, "a valid TCP checksum", failures);
        if (!out.optionsParse)
        {
            failures.add("transmitted TCP options that do not parse");
        }
    }

    private static void keptWhatTheInputHad(final Packet in, final Packet out, final List<String> failures)
    {
        if (!out.ipv4)
        {
            failures.add("changed a frame into one that is not IPv4 with its whole header" +
                (in.ipv4 ? "" : " (nor was the input)"));
            return;
        }
        lost(in.datagramHeld, out.datagramHeld, "the datagram held whole in the frame", failures);
        lost(in.ipChecksumValid, out.ipChecksumValid, "a valid IPv4 header checksum", failures);
        lost(in.tcp, out.tcp, "a whole TCP segment", failures);
        lost(in.tcpChecksumValid, out.tcpChecksumValid, "a valid TCP checksum", failures);
        lost(in.optionsParse, out.optionsParse, "TCP options that parse", failures);
        lost(in.icmpChecksumValid, out.icmpChecksumValid, "a valid ICMP checksum", failures);
        lost(in.quotedIpChecksumValid, out.quotedIpChecksumValid, "a valid checksum in the quoted IPv4 header",
            failures);
        lost(in.quotedTcpChecksumValid, out.quotedTcpChecksumValid, "a valid TCP checksum in the quoted segment",
            failures);
        if (in.ipv4 && in.fragment && out.totalLength != in.totalLength)
        {
            failures.add("changed a fragment's total length from " + in.totalLength + " to " + out.totalLength +
                ": the fragments after it no longer fit");
        }
    }

    private static void lost(final boolean had, final boolean has, final String what, final List<String> failures)
    {
        if (had && !has)
        {
            failures.add("lost " + what);
        }
    }
}
