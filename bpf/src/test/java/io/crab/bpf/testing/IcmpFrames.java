package io.crab.bpf.testing;

import io.crab.bpf.frames.Frames;

import java.util.Arrays;

/** ICMP error frames that quote a packet, built and checked with sums computed here (RFC 792, RFC 1071). */
public final class IcmpFrames
{
    private static final int IP_LEN = 20;
    private static final int ICMP_LEN = 8;

    private IcmpFrames()
    {
    }

    /**
     * An ICMP error from {@code src} to {@code dst} quoting the IP packet of {@code quotedFrame} (an Ethernet frame;
     * its IP header on), with {@code mtu} as the next-hop MTU (fragmentation needed) and every checksum right.
     */
    public static byte[] error(final byte[] src, final byte[] dst, final int type, final int code, final int mtu,
        final byte[] quotedFrame)
    {
        final byte[] quote = Arrays.copyOfRange(quotedFrame, Frames.ETH_LEN, quotedFrame.length);
        final byte[] frame = new byte[Frames.ETH_LEN + IP_LEN + ICMP_LEN + quote.length];
        System.arraycopy(Frames.mac("02:00:00:00:00:11"), 0, frame, 0, 6);
        System.arraycopy(Frames.mac("02:00:00:00:00:03"), 0, frame, 6, 6);
        frame[12] = 0x08;
        final int ip = Frames.ETH_LEN;
        frame[ip] = 0x45;
        frame[ip + 1] = (byte)0xc0;
        Frames.put16(frame, ip + 2, IP_LEN + ICMP_LEN + quote.length);
        frame[ip + 8] = 64;
        frame[ip + 9] = 1;
        System.arraycopy(src, 0, frame, ip + 12, 4);
        System.arraycopy(dst, 0, frame, ip + 16, 4);
        Frames.put16(frame, ip + 10, sum(frame, ip, IP_LEN));
        final int icmp = ip + IP_LEN;
        frame[icmp] = (byte)type;
        frame[icmp + 1] = (byte)code;
        Frames.put16(frame, icmp + 6, mtu);
        System.arraycopy(quote, 0, frame, icmp + ICMP_LEN, quote.length);
        Frames.put16(frame, icmp + 2, sum(frame, icmp, frame.length - icmp));
        return frame;
    }

    /** Outer IP and ICMP checksums, the quoted IP header's, and the quoted TCP segment's when it is whole. */
    public static boolean checksumsValid(final byte[] frame)
    {
        final int ip = Frames.ETH_LEN;
        final int icmp = ip + (frame[ip] & 0x0f) * 4;
        final int inner = icmp + ICMP_LEN;
        final byte[] quoted = new byte[Frames.ETH_LEN + frame.length - inner];
        quoted[12] = 0x08;
        System.arraycopy(frame, inner, quoted, Frames.ETH_LEN, frame.length - inner);
        final boolean whole = Frames.u16(quoted, Frames.ETH_LEN + 2) == quoted.length - Frames.ETH_LEN;
        return sum(frame, ip, (frame[ip] & 0x0f) * 4) == 0 && sum(frame, icmp, frame.length - icmp) == 0 &&
            Frames.ipChecksumValid(quoted) && (!whole || Frames.tcpChecksumValid(quoted));
    }

    private static int sum(final byte[] data, final int from, final int len)
    {
        return ~Frames.onesComplementSum(data, from, len, 0) & 0xffff;
    }
}
