package io.crab.lb;

import io.crab.agent.HostPort;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Next-hop MACs from the kernel: the route table picks the next hop (the backend itself when on-link, else its
 * gateway) and the neighbour table gives its MAC. Reads /proc/net of the calling thread's network namespace.
 */
public final class Neighbours
{
    private static final Path ROUTES = Path.of("/proc/net/route");
    private static final Path ARP = Path.of("/proc/net/arp");
    private static final int ATF_COM = 0x2;
    /** The discard port: a datagram there makes the kernel resolve the neighbour and is otherwise ignored. */
    private static final int DISCARD_PORT = 9;

    private final String iface;

    public Neighbours(final String iface)
    {
        this.iface = iface;
    }

    /**
     * The MAC of the next hop towards {@code target} if the neighbour table has it complete; empty too when there is
     * no route to it on this interface.
     */
    public Optional<byte[]> lookup(final Inet4Address target)
    {
        final Optional<Inet4Address> hop = nextHop(target);
        if (hop.isEmpty())
        {
            return Optional.empty();
        }
        for (final String line : rows(ARP))
        {
            final String[] f = line.trim().split("\\s+");
            if (f.length >= 6 && f[0].equals(hop.get().getHostAddress()) && f[5].equals(iface) &&
                (Integer.decode(f[2]) & ATF_COM) != 0)
            {
                return Optional.of(parseMac(f[3]));
            }
        }
        return Optional.empty();
    }

    /** Whether the main routing table has a route to {@code target} out of this interface. */
    public boolean routed(final Inet4Address target)
    {
        return nextHop(target).isPresent();
    }

    /** Asks the kernel to resolve the next hop towards {@code target}, without waiting for it. */
    public void solicit(final Inet4Address target)
    {
        try (DatagramSocket socket = new DatagramSocket())
        {
            socket.send(new DatagramPacket(new byte[1], 1, new InetSocketAddress(target, DISCARD_PORT)));
        }
        catch (final IOException unreachable)
        {
            // no route: lookup() keeps reporting the backend unresolved, which is what the status shows
        }
    }

    /** The next hop towards {@code target} by the longest prefix routed out of this interface: it or a gateway. */
    Optional<Inet4Address> nextHop(final Inet4Address target)
    {
        final int dst = Integer.reverseBytes(HostPort.ipv4Bits(target));
        long bestMask = -1;
        int gateway = 0;
        for (final String line : rows(ROUTES))
        {
            final String[] f = line.trim().split("\\s+");
            if (f.length < 8 || !f[0].equals(iface))
            {
                continue;
            }
            final int net = (int)Long.parseLong(f[1], 16);
            final int gw = (int)Long.parseLong(f[2], 16);
            final int mask = (int)Long.parseLong(f[7], 16);
            final long maskBits = Integer.bitCount(mask);
            if ((dst & mask) == net && maskBits > bestMask)
            {
                bestMask = maskBits;
                gateway = gw;
            }
        }
        if (bestMask < 0)
        {
            return Optional.empty();
        }
        return Optional.of(gateway == 0 ? target : fromInt(Integer.reverseBytes(gateway)));
    }

    /** A /proc/net table's rows, without its header; a namespace without routes has an empty file, header and all. */
    private static List<String> rows(final Path table)
    {
        try
        {
            final List<String> lines = Files.readAllLines(table);
            return lines.isEmpty() ? lines : lines.subList(1, lines.size());
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("reading " + table + ": " + ex.getMessage(), ex);
        }
    }

    private static Inet4Address fromInt(final int v)
    {
        try
        {
            return (Inet4Address)Inet4Address.getByAddress(new byte[] {(byte)(v >> 24), (byte)(v >> 16),
                (byte)(v >> 8), (byte)v});
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    static byte[] parseMac(final String text)
    {
        final String[] parts = text.split(":");
        final byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++)
        {
            mac[i] = (byte)Integer.parseInt(parts[i], 16);
        }
        return mac;
    }
}
