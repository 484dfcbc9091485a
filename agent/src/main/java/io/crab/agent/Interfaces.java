package io.crab.agent;

import jnr.ffi.LibraryLoader;

/**
 * Interfaces of the calling thread's network namespace, by if_nametoindex(3), which asks the kernel through a
 * socket the calling thread opens. Not java.net.NetworkInterface: it takes the IPv6 interfaces from /proc/net,
 * which shows the namespace of the process's main thread, so on a thread entered into another namespace it finds
 * the names of one namespace and asks their index in the other, and it misses an interface without an address.
 */
public final class Interfaces
{
    private Interfaces()
    {
    }

    /** The interface's index, or a {@link ConfigException} naming {@code --iface} when there is none. */
    public static int ifindex(final String iface)
    {
        final int ifindex = indexOf(iface);
        if (ifindex == 0)
        {
            throw new ConfigException("--iface " + iface + ": no such interface in this network namespace");
        }
        return ifindex;
    }

    public static boolean exists(final String iface)
    {
        return indexOf(iface) != 0;
    }

    /** 0 when there is no such interface, as if_nametoindex says. */
    private static int indexOf(final String iface)
    {
        return LibCHolder.LIBC.if_nametoindex(iface);
    }

    /** Loads libc on first use, so classes that only name Interfaces never touch native code. */
    private static final class LibCHolder
    {
        static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");

        /** Public because jnr-ffi implements it in a class loader of its own, which cannot see a private type. */
        public interface LibC
        {
            int if_nametoindex(String name);
        }
    }
}
