package io.crab.rig;

import io.crab.bpf.Netns;
import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;

/**
 * Sends hand-made Ethernet frames out of one interface of a namespace (an AF_PACKET socket): how a test plays a
 * host that forges packets. The socket belongs to the namespace it was opened in, whichever thread sends.
 */
public final class PacketSocket implements AutoCloseable
{
    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    /** ETH_P_ALL in network order, as socket(2) wants the protocol; nothing is received on it anyway. */
    private static final int ETH_P_ALL_BE = 0x0300;
    private static final int SOCKADDR_LL_SIZE = 20;

    private final int fd;
    private final byte[] address = new byte[SOCKADDR_LL_SIZE];

    private PacketSocket(final int fd, final int ifindex)
    {
        this.fd = fd;
        address[0] = (byte)AF_PACKET;
        address[2] = 0x08;
        address[4] = (byte)ifindex;
        address[5] = (byte)(ifindex >> 8);
        address[6] = (byte)(ifindex >> 16);
        address[7] = (byte)(ifindex >> 24);
    }

    /** A socket on {@code host}'s eth0, opened inside its namespace. */
    public static PacketSocket open(final Host host)
    {
        return open(host.netns(), host.ifindex());
    }

    public static PacketSocket open(final Netns netns, final int ifindex)
    {
        return netns.call(() ->
        {
            final int fd = LibC.INSTANCE.socket(AF_PACKET, SOCK_RAW, ETH_P_ALL_BE);
            if (fd < 0)
            {
                throw new IllegalStateException("socket(AF_PACKET) failed, errno " + LastError.getLastError(LibC.RUNTIME));
            }
            return new PacketSocket(fd, ifindex);
        });
    }

    /** Sends one frame as it is (Ethernet header included). */
    public void send(final byte[] frame)
    {
        final long sent = LibC.INSTANCE.sendto(fd, frame, frame.length, 0, address, SOCKADDR_LL_SIZE);
        if (sent != frame.length)
        {
            throw new IllegalStateException("sendto on a packet socket sent " + sent + " of " + frame.length +
                " bytes, errno " + LastError.getLastError(LibC.RUNTIME));
        }
    }

    @Override
    public void close()
    {
        LibC.INSTANCE.close(fd);
    }

    /** The libc calls of a packet socket. Public because jnr-ffi implements it in a class loader of its own. */
    public interface LibC
    {
        LibC INSTANCE = LibraryLoader.create(LibC.class).load("c");
        Runtime RUNTIME = Runtime.getRuntime(INSTANCE);

        int socket(int domain, int type, int protocol);

        long sendto(int fd, @In byte[] buf, long len, int flags, @In byte[] addr, int addrlen);

        int close(int fd);
    }
}
