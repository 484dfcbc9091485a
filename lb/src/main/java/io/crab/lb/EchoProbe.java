package io.crab.lb;

import io.crab.agent.OptionKind;
import io.crab.bpf.frames.Frames;
import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Whether a backend speaks crab: a SYN with the Connection Redirect option naming a VIP, sent from a raw socket,
 * must come back as a SYN-ACK that echoes the option (crab-endpoint server, or the paper's kernel patch). The LB's
 * own stack has no socket for the probe, so it answers the SYN-ACK with a RST, which ends the backend's half-open
 * connection. One probe at a time, from the prober's thread; the socket is opened in the LB's namespace.
 */
final class EchoProbe implements AutoCloseable
{
    private static final int AF_INET = 2;
    private static final int SOCK_RAW = 3;
    private static final int IPPROTO_TCP = 6;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;
    private static final int SYN = 0x02;
    private static final int ACK = 0x10;
    private static final int RECEIVE_SLICE_MS = 50;

    private final LibC libc = LibraryLoader.create(LibC.class).load("c");
    private final OptionKind option;
    private final int fd;
    private final byte[] received = new byte[1500];

    EchoProbe(final OptionKind option)
    {
        this.option = option;
        this.fd = libc.socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
        if (fd < 0)
        {
            throw new IllegalStateException("cannot open a raw TCP socket for the compliance probe (needs " +
                "CAP_NET_RAW)");
        }
        final byte[] timeout = new byte[16];
        timeout[8] = (byte)(RECEIVE_SLICE_MS * 1000);
        timeout[9] = (byte)((RECEIVE_SLICE_MS * 1000) >> 8);
        timeout[10] = (byte)((RECEIVE_SLICE_MS * 1000) >> 16);
        libc.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, timeout.length);
    }

    /** True when {@code backend} answered a SYN naming {@code vip} with a SYN-ACK that echoes it in time. */
    boolean echoes(final InetSocketAddress backend, final Inet4Address vip, final long timeoutMs)
    {
        final byte[] source = sourceTowards(backend);
        final int sport = 40_000 + ThreadLocalRandom.current().nextInt(20_000);
        final long isn = ThreadLocalRandom.current().nextInt() & 0xffffffffL;
        final byte[] syn = syn(source, backend, sport, isn, vip.getAddress());
        final byte[] to = sockaddr(backend);
        if (libc.sendto(fd, syn, syn.length, 0, to, to.length) != syn.length)
        {
            return false;
        }
        final long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (System.nanoTime() < deadline)
        {
            final int n = libc.recv(fd, received, received.length, 0);
            if (n > 0 && isAnswer(received, n, backend, sport, isn))
            {
                return hasEcho(received, n, vip.getAddress());
            }
        }
        return false;
    }

    /** The SYN, as the TCP segment a raw IPPROTO_TCP socket sends (the kernel writes the IP header). */
    private byte[] syn(final byte[] source, final InetSocketAddress backend, final int sport, final long isn,
        final byte[] vip)
    {
        final int headerLength = option.exid() == 0 ? 2 : 4;
        final byte[] redirect = new byte[(headerLength + 4 + 3) & ~3];
        Arrays.fill(redirect, (byte)1);
        redirect[0] = (byte)option.kind();
        redirect[1] = (byte)(headerLength + 4);
        if (option.exid() != 0)
        {
            redirect[2] = (byte)(option.exid() >> 8);
            redirect[3] = (byte)option.exid();
        }
        System.arraycopy(vip, 0, redirect, headerLength, 4);
        final byte[] tcp = new byte[20 + 4 + redirect.length];
        Frames.put16(tcp, 0, sport);
        Frames.put16(tcp, 2, backend.getPort());
        tcp[4] = (byte)(isn >> 24);
        tcp[5] = (byte)(isn >> 16);
        tcp[6] = (byte)(isn >> 8);
        tcp[7] = (byte)isn;
        tcp[12] = (byte)((tcp.length / 4) << 4);
        tcp[13] = SYN;
        Frames.put16(tcp, 14, 64240);
        tcp[20] = 2;
        tcp[21] = 4;
        Frames.put16(tcp, 22, 1460);
        System.arraycopy(redirect, 0, tcp, 24, redirect.length);
        final byte[] pseudo = new byte[12];
        System.arraycopy(source, 0, pseudo, 0, 4);
        System.arraycopy(backend.getAddress().getAddress(), 0, pseudo, 4, 4);
        pseudo[9] = IPPROTO_TCP;
        Frames.put16(pseudo, 10, tcp.length);
        final int sum = Frames.onesComplementSum(tcp, 0, tcp.length, Frames.onesComplementSum(pseudo, 0, 12, 0));
        Frames.put16(tcp, 16, ~sum & 0xffff);
        return tcp;
    }

    /** A datagram (IP header included, as raw sockets receive) that is the backend's SYN-ACK to our SYN. */
    private static boolean isAnswer(final byte[] p, final int n, final InetSocketAddress backend, final int sport,
        final long isn)
    {
        final int ihl = (p[0] & 0x0f) * 4;
        if (n < ihl + 20 || (p[0] >> 4) != 4)
        {
            return false;
        }
        final byte[] from = backend.getAddress().getAddress();
        for (int i = 0; i < 4; i++)
        {
            if (p[12 + i] != from[i])
            {
                return false;
            }
        }
        final long ack = (Frames.u16(p, ihl + 8) & 0xffffL) << 16 | Frames.u16(p, ihl + 10);
        return Frames.u16(p, ihl) == backend.getPort() && Frames.u16(p, ihl + 2) == sport &&
            (p[ihl + 13] & (SYN | ACK)) == (SYN | ACK) && ack == ((isn + 1) & 0xffffffffL);
    }

    /** Whether the SYN-ACK's options hold the configured option naming the VIP. */
    private boolean hasEcho(final byte[] p, final int n, final byte[] vip)
    {
        final int ihl = (p[0] & 0x0f) * 4;
        final int end = Math.min(n, ihl + ((p[ihl + 12] >> 4) & 0x0f) * 4);
        final int headerLength = option.exid() == 0 ? 2 : 4;
        int at = ihl + 20;
        while (at < end)
        {
            final int kind = p[at] & 0xff;
            if (kind == 0)
            {
                return false;
            }
            if (kind == 1)
            {
                at++;
                continue;
            }
            if (at + 1 >= end || (p[at + 1] & 0xff) < 2)
            {
                return false;
            }
            final int length = p[at + 1] & 0xff;
            final boolean ours = kind == option.kind() && (option.exid() == 0 ||
                Frames.u16(p, at + 2) == option.exid());
            if (ours && length >= headerLength + 4 && at + headerLength + 4 <= end &&
                java.util.Arrays.equals(java.util.Arrays.copyOfRange(p, at + headerLength, at + headerLength + 4), vip))
            {
                return true;
            }
            at += length;
        }
        return false;
    }

    /** The address the kernel would send from towards the backend (a connected UDP socket's, which sends nothing). */
    private static byte[] sourceTowards(final InetSocketAddress backend)
    {
        try (DatagramSocket s = new DatagramSocket())
        {
            s.connect(backend);
            return s.getLocalAddress().getAddress();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("no route to " + backend, ex);
        }
    }

    private static byte[] sockaddr(final InetSocketAddress to)
    {
        final byte[] a = new byte[16];
        a[0] = AF_INET;
        System.arraycopy(to.getAddress().getAddress(), 0, a, 4, 4);
        return a;
    }

    @Override
    public void close()
    {
        libc.close(fd);
    }

    /** The libc calls of a raw socket. Public because jnr-ffi implements it in a class loader of its own. */
    public interface LibC
    {
        int socket(int domain, int type, int protocol);

        int setsockopt(int fd, int level, int name, @In byte[] value, int length);

        long sendto(int fd, @In byte[] buf, long len, int flags, @In byte[] addr, int addrlen);

        int recv(int fd, @Out byte[] buf, long len, int flags);

        int close(int fd);
    }
}
