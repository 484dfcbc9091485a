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
 * gateway) and the neighbour table gives its MAC. A backend whose route leaves by another interface than the LB's
 * needs none: its SYNs go to the host's stack, which resolves the next hop itself (lb_xdp.bpf.c). Reads /proc/net
 * of the calling thread's network namespace; the main table only, as the FIB answers it without policy rules.
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
     * The MAC of the next hop towards {@code target} if the neighbour table has it complete; empty too when its route
     * does not leave by this interface.
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

    /** Whether the main routing table has a route to {@code target}, out of any interface. */
    public boolean routed(final Inet4Address target)
    {
        return route(target).isPresent();
    }

    /**
     * Whether the route to {@code target} leaves by another interface than this one (a pod's veth on this host, a
     * tunnel): the XDP program hands its SYNs to the host's stack, so no neighbour entry of ours is needed.
     */
    public boolean viaStack(final Inet4Address target)
    {
        return otherInterface(target).isPresent();
    }

    /** The interface the route to {@code target} leaves by, when it is another one than this. */
    public Optional<String> otherInterface(final Inet4Address target)
    {
        return route(target).map(Route::iface).filter(i -> !i.equals(iface));
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

    /** The next hop towards {@code target} when its route leaves by this interface: it, or a gateway. */
    Optional<Inet4Address> nextHop(final Inet4Address target)
    {
        return route(target).filter(r -> r.iface().equals(iface))
            .map(r -> r.gateway() == 0 ? target : fromInt(Integer.reverseBytes(r.gateway())));
    }

    /**
     * The route to {@code target} as the FIB picks it from the main table: the longest prefix, of those the lowest
     * metric. A route of no interface (unreachable, prohibit, blackhole: {@code *}) is none.
     */
    private static Optional<Route> route(final Inet4Address target)
    {
        final int dst = Integer.reverseBytes(HostPort.ipv4Bits(target));
        Route best = null;
        int bestBits = -1;
        long bestMetric = Long.MAX_VALUE;
        for (final String line : rows(ROUTES))
        {
            final String[] f = line.trim().split("\\s+");
            if (f.length < 8)
            {
                continue;
            }
            final int net = (int)Long.parseLong(f[1], 16);
            final int mask = (int)Long.parseLong(f[7], 16);
            final int bits = Integer.bitCount(mask);
            final long metric = Long.parseLong(f[6]);
            if ((dst & mask) == net && (bits > bestBits || bits == bestBits && metric < bestMetric))
            {
                bestBits = bits;
                bestMetric = metric;
                best = new Route(f[0], (int)Long.parseLong(f[2], 16));
            }
        }
        return best == null || best.iface().equals("*") ? Optional.empty() : Optional.of(best);
    }

    /** A route of the main table: the interface it leaves by, its gateway as /proc/net/route has it (0: on-link). */
    private record Route(String iface, int gateway)
    {
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
