package io.crab.bpf.frames;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Builds Ethernet/IPv4/TCP frames byte by byte, for fixture tests and for running programs on test frames
 * (crab-bench syn-cost), with checksums computed here, independently of the BPF programs' arithmetic (RFC 1071,
 * written the plain way).
 */
public final class Frames
{
    public static final int ETH_LEN = 14;
    public static final int FIN = 0x01;
    public static final int SYN = 0x02;
    public static final int RST = 0x04;
    public static final int PSH = 0x08;
    public static final int ACK = 0x10;

    /** Linux's usual SYN options: MSS 1460, SACK permitted, timestamps, NOP, window scale 7 (20 bytes). */
    public static final byte[] LINUX_SYN_OPTIONS = {
        2, 4, 0x05, (byte)0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    };

    private Frames()
    {
    }

    /** A TCP segment description; build() turns it into a frame. */
    public static final class Tcp
    {
        public byte[] dstMac = mac("02:00:00:00:00:02");
        public byte[] srcMac = mac("02:00:00:00:00:11");
        public byte[] srcIp = ip("198.18.0.11");
        public byte[] dstIp = ip("198.19.0.1");
        public byte[] ipOptions = new byte[0];
        public int ipId = 0x1234;
        public int fragOff = 0x4000;
        public int ttl = 64;
        public int srcPort = 40000;
        public int dstPort = 80;
        public long seq = 1000;
        public long ack = 0;
        public int flags = SYN;
        public int window = 64240;
        public byte[] options = LINUX_SYN_OPTIONS.clone();
        public byte[] payload = new byte[0];

        public Tcp options(final byte[]... parts)
        {
            options = concat(parts);
            return this;
        }

        public byte[] build()
        {
            if (options.length % 4 != 0 || ipOptions.length % 4 != 0)
            {
                throw new IllegalArgumentException("options must be padded to 4 bytes");
            }
            final int ipHeaderLen = 20 + ipOptions.length;
            final int tcpLen = 20 + options.length;
            final int totLen = ipHeaderLen + tcpLen + payload.length;
            final ByteBuffer b = ByteBuffer.allocate(ETH_LEN + totLen).order(ByteOrder.BIG_ENDIAN);
            b.put(dstMac).put(srcMac).putShort((short)0x0800);
            b.put((byte)(0x40 | ipHeaderLen / 4)).put((byte)0).putShort((short)totLen).putShort((short)ipId)
                .putShort((short)fragOff).put((byte)ttl).put((byte)6).putShort((short)0).put(srcIp).put(dstIp)
                .put(ipOptions);
            b.putShort((short)srcPort).putShort((short)dstPort).putInt((int)seq).putInt((int)ack)
                .put((byte)((tcpLen / 4) << 4)).put((byte)flags).putShort((short)window).putShort((short)0)
                .putShort((short)0).put(options).put(payload);
            final byte[] frame = b.array();
            fixChecksums(frame);
            return frame;
        }
    }

    /** Recomputes the IPv4 header and TCP checksums of a frame in place. */
    public static void fixChecksums(final byte[] frame)
    {
        final int ihl = (frame[ETH_LEN] & 0x0f) * 4;
        put16(frame, ETH_LEN + 10, 0);
        put16(frame, ETH_LEN + 10, checksum(frame, ETH_LEN, ihl, 0));
        final int tcpAt = ETH_LEN + ihl;
        put16(frame, tcpAt + 16, 0);
        put16(frame, tcpAt + 16, tcpChecksum(frame));
    }

    /** The TCP checksum a frame should carry, computed over pseudo header and segment. */
    public static int tcpChecksum(final byte[] frame)
    {
        final byte[] copy = frame.clone();
        final int ihl = (copy[ETH_LEN] & 0x0f) * 4;
        final int tcpAt = ETH_LEN + ihl;
        final int tcpLen = u16(copy, ETH_LEN + 2) - ihl;
        put16(copy, tcpAt + 16, 0);
        long pseudo = 0;
        for (int i = 0; i < 8; i += 2)
        {
            pseudo += u16(copy, ETH_LEN + 12 + i);
        }
        pseudo += 6 + tcpLen;
        return checksum(copy, tcpAt, tcpLen, pseudo);
    }

    public static boolean ipChecksumValid(final byte[] frame)
    {
        final int ihl = (frame[ETH_LEN] & 0x0f) * 4;
        return checksum(frame, ETH_LEN, ihl, 0) == 0;
    }

    public static boolean tcpChecksumValid(final byte[] frame)
    {
        return tcpChecksum(frame) == u16(frame, ETH_LEN + (frame[ETH_LEN] & 0x0f) * 4 + 16);
    }

    private static int checksum(final byte[] data, final int from, final int len, final long initial)
    {
        return ~onesComplementSum(data, from, len, initial) & 0xffff;
    }

    /**
     * The one's-complement sum (RFC 1071), folded to 16 bits and not inverted, of {@code len} bytes from
     * {@code from} (an odd last byte padded with zero) added to {@code initial}.
     */
    public static int onesComplementSum(final byte[] data, final int from, final int len, final long initial)
    {
        long sum = initial;
        for (int i = 0; i < len; i += 2)
        {
            final int hi = data[from + i] & 0xff;
            final int lo = i + 1 < len ? data[from + i + 1] & 0xff : 0;
            sum += (hi << 8) | lo;
        }
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (int)sum;
    }

    public static int u16(final byte[] b, final int at)
    {
        return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
    }

    public static void put16(final byte[] b, final int at, final int v)
    {
        b[at] = (byte)(v >> 8);
        b[at + 1] = (byte)v;
    }

    public static byte[] mac(final String text)
    {
        final String[] parts = text.split(":");
        final byte[] out = new byte[6];
        for (int i = 0; i < 6; i++)
        {
            out[i] = (byte)Integer.parseInt(parts[i], 16);
        }
        return out;
    }

    public static byte[] ip(final String dotted)
    {
        final String[] parts = dotted.split("\\.");
        final byte[] out = new byte[4];
        for (int i = 0; i < 4; i++)
        {
            out[i] = (byte)Integer.parseInt(parts[i]);
        }
        return out;
    }

    public static byte[] bytes(final int... values)
    {
        final byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++)
        {
            out[i] = (byte)values[i];
        }
        return out;
    }

    public static byte[] concat(final byte[]... parts)
    {
        int len = 0;
        for (final byte[] p : parts)
        {
            len += p.length;
        }
        final byte[] out = new byte[len];
        int at = 0;
        for (final byte[] p : parts)
        {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** The TCP options of a frame (IPv4 header of any length). */
    public static byte[] tcpOptions(final byte[] frame)
    {
        final int tcpAt = ETH_LEN + (frame[ETH_LEN] & 0x0f) * 4;
        final int tcpLen = ((frame[tcpAt + 12] & 0xff) >> 4) * 4;
        return Arrays.copyOfRange(frame, tcpAt + 20, tcpAt + tcpLen);
    }
}
