package io.crab.bench.hostile;

import io.crab.bpf.frames.Frames;

import java.util.Arrays;
import java.util.Set;

/**
 * What a frame is, read the plain way as Ethernet, IPv4 and TCP or ICMP: the facts the checks compare between the
 * frame a program got and the frame it sent on. Checksums are verified as a receiver does, by summing everything
 * including the checksum field (RFC 1071), so 0x0000 and 0xffff are both accepted where they are equivalent.
 */
final class Packet
{
    static final int ETH_LEN = 14;
    static final int ETH_P_IP = 0x0800;
    static final int IPPROTO_ICMP = 1;
    static final int IPPROTO_TCP = 6;
    static final int IP_MF = 0x2000;
    static final int IP_OFFSET = 0x1fff;
    static final int TCPOPT_EOL = 0;
    static final int TCPOPT_NOP = 1;
    private static final int IPV4_MIN = 20;
    private static final int TCP_MIN = 20;
    private static final int ICMP_MIN = 8;
    /** Destination unreachable, source quench, redirect, time exceeded, parameter problem: types that quote. */
    private static final Set<Integer> ICMP_ERRORS = Set.of(3, 4, 5, 11, 12);

    final byte[] frame;
    final int length;
    /** IPv4 ethertype, version 4, ihl of 5 or more, and the whole IP header in the frame. */
    final boolean ipv4;
    final int ipHeaderLength;
    final int totalLength;
    final int protocol;
    /** More-fragments set or an offset: the frame holds part of a datagram, whose upper checksum it cannot show. */
    final boolean fragment;
    /** The total length covers the IP header and fits in the frame (what is left over is Ethernet padding). */
    final boolean datagramHeld;
    final boolean ipChecksumValid;
    /** A whole TCP segment: a held, unfragmented datagram whose data offset lies between 20 and its length. */
    final boolean tcp;
    final int tcpAt;
    final int tcpHeaderLength;
    final boolean tcpChecksumValid;
    /** The options walk to the data offset: EOL ends them, NOP is one byte, any other kind a length of 2 or more. */
    final boolean optionsParse;
    /** A whole ICMP message in a held, unfragmented datagram. */
    final boolean icmp;
    final boolean icmpChecksumValid;
    /** Offset of the IPv4 header an ICMP error quotes, when the quote holds all of it; -1 otherwise. */
    final int quotedAt;
    final boolean quotedIpChecksumValid;
    /** The quote holds its whole TCP segment (RFC 1812 quotes may), and that segment's checksum is valid. */
    final boolean quotedTcpChecksumValid;

    Packet(final byte[] frame, final int length)
    {
        this.frame = frame;
        this.length = length;
        ipv4 = length >= ETH_LEN + IPV4_MIN && u16(frame, 12) == ETH_P_IP && (frame[ETH_LEN] & 0xf0) == 0x40 &&
            (frame[ETH_LEN] & 0x0f) >= 5 && ETH_LEN + (frame[ETH_LEN] & 0x0f) * 4 <= length;
        ipHeaderLength = ipv4 ? (frame[ETH_LEN] & 0x0f) * 4 : 0;
        totalLength = ipv4 ? u16(frame, ETH_LEN + 2) : 0;
        protocol = ipv4 ? frame[ETH_LEN + 9] & 0xff : -1;
        fragment = ipv4 && (u16(frame, ETH_LEN + 6) & (IP_MF | IP_OFFSET)) != 0;
        datagramHeld = ipv4 && totalLength >= ipHeaderLength && ETH_LEN + totalLength <= length;
        ipChecksumValid = ipv4 && sum(frame, ETH_LEN, ipHeaderLength, 0) == 0xffff;

        final boolean whole = datagramHeld && !fragment;
        final int at = ETH_LEN + ipHeaderLength;
        final int upperLength = totalLength - ipHeaderLength;
        final int doff = whole && upperLength >= TCP_MIN ? ((frame[at + 12] & 0xff) >> 4) * 4 : 0;
        tcp = whole && protocol == IPPROTO_TCP && doff >= TCP_MIN && doff <= upperLength;
        tcpAt = tcp ? at : -1;
        tcpHeaderLength = tcp ? doff : 0;
        tcpChecksumValid = tcp && sum(frame, at, upperLength, pseudoHeaderSum(upperLength)) == 0xffff;
        optionsParse = tcp && optionsParse(frame, at + TCP_MIN, at + doff);
        icmp = whole && protocol == IPPROTO_ICMP && upperLength >= ICMP_MIN;
        icmpChecksumValid = icmp && sum(frame, at, upperLength, 0) == 0xffff;

        final int quote = at + ICMP_MIN;
        final int quoteEnd = at + upperLength;
        final int quotedIhl = icmp && ICMP_ERRORS.contains(frame[at] & 0xff) && quote + IPV4_MIN <= quoteEnd &&
            (frame[quote] & 0xf0) == 0x40 ? (frame[quote] & 0x0f) * 4 : 0;
        quotedAt = quotedIhl >= IPV4_MIN && quote + quotedIhl <= quoteEnd ? quote : -1;
        quotedIpChecksumValid = quotedAt >= 0 && sum(frame, quote, quotedIhl, 0) == 0xffff;
        final int quotedTotal = quotedAt >= 0 ? u16(frame, quote + 2) : 0;
        final int quotedSegment = quotedTotal - quotedIhl;
        quotedTcpChecksumValid = quotedAt >= 0 && frame[quote + 9] == IPPROTO_TCP &&
            (u16(frame, quote + 6) & (IP_MF | IP_OFFSET)) == 0 && quotedSegment >= TCP_MIN &&
            quote + quotedTotal <= quoteEnd &&
            sum(frame, quote + quotedIhl, quotedSegment, pseudoHeaderSum(frame, quote, IPPROTO_TCP, quotedSegment)) ==
                0xffff;
    }

    /** Walks TCP options in {@code frame[from, to)}; false when one overruns the header or has a length below 2. */
    static boolean optionsParse(final byte[] frame, final int from, final int to)
    {
        int at = from;
        while (at < to)
        {
            final int kind = frame[at] & 0xff;
            if (kind == TCPOPT_EOL)
            {
                return true;
            }
            if (kind == TCPOPT_NOP)
            {
                at++;
                continue;
            }
            if (at + 1 >= to)
            {
                return false;
            }
            final int optionLength = frame[at + 1] & 0xff;
            if (optionLength < 2 || at + optionLength > to)
            {
                return false;
            }
            at += optionLength;
        }
        return true;
    }

    /**
     * Offset of every option of the configured kind in a parsing option list, each followed by its length, as
     * {@code [offset0, length0, offset1, length1, ...]}.
     */
    int[] crabOptions(final OptionConfig config)
    {
        final int to = tcpAt + tcpHeaderLength;
        int[] found = new int[0];
        int at = tcpAt + TCP_MIN;
        while (at < to && (frame[at] & 0xff) != TCPOPT_EOL)
        {
            if ((frame[at] & 0xff) == TCPOPT_NOP)
            {
                at++;
                continue;
            }
            final int optionLength = frame[at + 1] & 0xff;
            if (config.isOurs(frame, at, optionLength))
            {
                found = Arrays.copyOf(found, found.length + 2);
                found[found.length - 2] = at;
                found[found.length - 1] = optionLength;
            }
            at += optionLength;
        }
        return found;
    }

    int u16At(final int at)
    {
        return u16(frame, at);
    }

    static int u16(final byte[] b, final int at)
    {
        return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
    }

    /** The one's-complement sum, folded to 16 bits, of {@code len} bytes from {@code from} added to {@code initial}. */
    static int sum(final byte[] data, final int from, final int len, final long initial)
    {
        return Frames.onesComplementSum(data, from, len, initial);
    }

    /** The checksum to write into a zeroed checksum field over the same bytes. */
    static int checksum(final byte[] data, final int from, final int len, final long initial)
    {
        return ~sum(data, from, len, initial) & 0xffff;
    }

    /** Sum of the IPv4 pseudo header of an upper-layer length, for TCP. */
    long pseudoHeaderSum(final int upperLength)
    {
        return pseudoHeaderSum(frame, ETH_LEN, IPPROTO_TCP, upperLength);
    }

    /** Sum of the pseudo header of the IPv4 header at {@code ipAt}, for a protocol and upper-layer length. */
    static long pseudoHeaderSum(final byte[] frame, final int ipAt, final int protocol, final int upperLength)
    {
        long sum = protocol + upperLength;
        for (int i = 0; i < 8; i += 2)
        {
            sum += u16(frame, ipAt + 12 + i);
        }
        return sum;
    }
}
