package io.crab.rig;

import io.crab.bpf.Netns;
import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;

/**
 * Transmit checksum offload of an interface, switched as {@code ethtool -K IFACE tx on|off} does it (the SIOCETHTOOL
 * ioctl, ETHTOOL_STXCSUM), without needing the ethtool program. The kernel turns the offloads that depend on it
 * (TSO) off with it. With it off, the kernel completes a partial checksum (CHECKSUM_PARTIAL) in software before the
 * interface sends the packet.
 */
final class TxChecksumOffload
{
    private static final int AF_INET = 2;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final long SIOCETHTOOL = 0x8946;
    private static final int ETHTOOL_GTXCSUM = 0x16;
    private static final int ETHTOOL_STXCSUM = 0x17;
    /** struct ifreq: the name, then (for SIOCETHTOOL) a pointer to the ethtool command. */
    private static final int IFREQ_SIZE = 40;
    private static final int IFNAMSIZ = 16;
    private static final int IFREQ_DATA = 16;
    /** struct ethtool_value: cmd, data. */
    private static final int ETHTOOL_VALUE_SIZE = 8;

    private TxChecksumOffload()
    {
    }

    /** Switches it on or off for {@code iface} of {@code netns}, and checks that the device took it. */
    static void set(final Netns netns, final String iface, final boolean on)
    {
        final byte[] name = iface.getBytes(StandardCharsets.US_ASCII);
        if (name.length >= IFNAMSIZ)
        {
            throw new IllegalArgumentException("interface name too long: " + iface);
        }
        netns.run(() ->
        {
            final UnsafeBuffer value = new UnsafeBuffer(BufferUtil.allocateDirectAligned(ETHTOOL_VALUE_SIZE, 8));
            value.putInt(0, ETHTOOL_STXCSUM);
            value.putInt(4, on ? 1 : 0);
            final UnsafeBuffer ifreq = new UnsafeBuffer(BufferUtil.allocateDirectAligned(IFREQ_SIZE, 8));
            ifreq.setMemory(0, IFREQ_SIZE, (byte)0);
            ifreq.putBytes(0, name);
            ifreq.putLong(IFREQ_DATA, value.addressOffset());
            final LibC libc = LibCHolder.LIBC;
            final int fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fd < 0)
            {
                throw failure("socket(AF_INET, SOCK_DGRAM)", iface, netns);
            }
            try
            {
                if (libc.ioctl(fd, SIOCETHTOOL, ifreq.addressOffset()) < 0)
                {
                    throw failure("ETHTOOL_STXCSUM " + (on ? "on" : "off"), iface, netns);
                }
                value.putInt(0, ETHTOOL_GTXCSUM);
                if (libc.ioctl(fd, SIOCETHTOOL, ifreq.addressOffset()) < 0)
                {
                    throw failure("ETHTOOL_GTXCSUM", iface, netns);
                }
                if ((value.getInt(4) != 0) != on)
                {
                    throw new IllegalStateException(iface + " in " + netns.name() + " kept transmit checksum " +
                        "offload " + (on ? "off" : "on"));
                }
            }
            finally
            {
                libc.close(fd);
            }
        });
    }

    private static IllegalStateException failure(final String what, final String iface, final Netns netns)
    {
        final int errno = LastError.getLastError(LibCHolder.RUNTIME);
        return new IllegalStateException(what + " of " + iface + " in " + netns.name() + " failed: " +
            LibCHolder.LIBC.strerror(errno) + " (errno " + errno + ")");
    }

    /**
     * The libc calls of one ioctl. Public because jnr-ffi implements it in a class loader of its own, which cannot
     * see a private type.
     */
    public interface LibC
    {
        int socket(int domain, int type, int protocol);

        int ioctl(int fd, long request, long argp);

        int close(int fd);

        String strerror(int errnum);
    }

    /** Loads libc on first use. */
    private static final class LibCHolder
    {
        static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
        static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
    }
}
