package io.crab.agent;

import java.net.NetworkInterface;
import java.net.SocketException;

/** Interfaces of the calling thread's network namespace (netlink, not /sys, which may show another one). */
public final class Interfaces
{
    private Interfaces()
    {
    }

    public static int ifindex(final String iface)
    {
        try
        {
            final NetworkInterface nif = NetworkInterface.getByName(iface);
            if (nif == null)
            {
                throw new ConfigException("--iface " + iface + ": no such interface in this network namespace");
            }
            return nif.getIndex();
        }
        catch (final SocketException ex)
        {
            throw new IllegalStateException("looking up " + iface, ex);
        }
    }
}
