package io.crab.rig;

import java.net.InetAddress;
import java.net.UnknownHostException;

import io.crab.bpf.Netns;

/**
 * One network namespace of a {@link Topology} with its {@code eth0} on the shared bridge, or for a routed server on
 * the router's bridge.
 */
public final class Host
{
    /** Every host's interface toward the bridge has this name, whatever its role. */
    public static final String IFACE = "eth0";

    private final Role role;
    private final String name;
    private final Netns netns;
    private final String ip;
    private final String mac;
    private final int ifindex;
    private final boolean routed;

    Host(final Role role, final String name, final Netns netns, final String ip, final String mac, final int ifindex,
        final boolean routed)
    {
        this.role = role;
        this.name = name;
        this.netns = netns;
        this.ip = ip;
        this.mac = mac;
        this.ifindex = ifindex;
        this.routed = routed;
    }

    public Role role()
    {
        return role;
    }

    /** Short name such as {@code lb}, {@code c1} or {@code s2}; also the name of the peer interface on the bridge. */
    public String name()
    {
        return name;
    }

    public Netns netns()
    {
        return netns;
    }

    /** The host's IPv4 address, dotted quad: on {@code 198.18.0.0/24}, or {@code 198.18.1.0/24} if routed. */
    public String ip()
    {
        return ip;
    }

    public InetAddress ipAddress()
    {
        try
        {
            // A literal never triggers a name lookup.
            return InetAddress.getByName(ip);
        }
        catch (final UnknownHostException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    /** MAC of {@code eth0} as the kernel chose it, lower-case colon-separated. */
    public String mac()
    {
        return mac;
    }

    public String iface()
    {
        return IFACE;
    }

    /** Index of {@code eth0} inside this host's namespace. */
    public int ifindex()
    {
        return ifindex;
    }

    /**
     * Name of the other end of {@code eth0}, which sits in the switch namespace enslaved to the bridge, or for a
     * routed server in the router's namespace enslaved to the router's bridge.
     */
    public String peer()
    {
        return name;
    }

    /** Whether the host is a server behind the router, so that every other host reaches it only through a hop. */
    public boolean routed()
    {
        return routed;
    }

    @Override
    public String toString()
    {
        return name + "(" + ip + " in " + netns.name() + ")";
    }

    /** What a host is for, which fixes its address range. */
    public enum Role
    {
        LB, ROUTER, CLIENT, SERVER
    }
}
