package io.crab.lb.xdp;

import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import org.agrona.BitUtil;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Asks rtnetlink about one interface at a time (RTM_GETLINK, what {@code ip -d link show} does), from the calling
 * thread's network namespace. /sys/class/net is no help here: a daemon started with {@code nsenter --net} sees the
 * /sys of another namespace, and a veth's peer may live in a namespace this one cannot enter by name. rtnetlink
 * answers for such a peer too, addressed by the id this namespace knows its namespace by (the kernel gives one with
 * the veth's own description) as IFLA_TARGET_NETNSID, which needs CAP_NET_ADMIN over that namespace.
 * <p>
 * Each query opens and closes its own netlink socket: crab-lb asks a few times when it starts, and status once.
 */
public final class RtLinks
{
    private static final int AF_NETLINK = 16;
    private static final int AF_UNSPEC = 0;
    private static final int SOCK_RAW = 3;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int NETLINK_ROUTE = 0;
    private static final int MSG_TRUNC = 0x20;
    private static final int EINTR = 4;

    /** struct nlmsghdr (linux/netlink.h). */
    private static final int NLMSG_LEN = 0;
    private static final int NLMSG_TYPE = 4;
    private static final int NLMSG_FLAGS = 6;
    private static final int NLMSG_SEQ = 8;
    private static final int NLMSG_HDRLEN = 16;
    private static final int NLMSG_ERROR = 2;
    private static final int NLM_F_REQUEST = 0x1;
    /** linux/rtnetlink.h. */
    private static final int RTM_NEWLINK = 16;
    private static final int RTM_GETLINK = 18;
    /** struct ifinfomsg after the header: family, type, index, flags, change. */
    private static final int IFI_INDEX = 4;
    private static final int IFINFOMSG_SIZE = 16;
    /** struct rtattr: length (header included), type; payloads aligned to 4 bytes. */
    private static final int RTA_HDRLEN = 4;
    private static final int RTA_ALIGNTO = 4;
    private static final int NLA_TYPE_MASK = 0x3fff;
    /** enum in linux/if_link.h. */
    private static final int IFLA_IFNAME = 3;
    private static final int IFLA_LINK = 5;
    private static final int IFLA_LINKINFO = 18;
    private static final int IFLA_EXT_MASK = 29;
    private static final int IFLA_LINK_NETNSID = 37;
    private static final int IFLA_XDP = 43;
    private static final int IFLA_TARGET_NETNSID = 46;
    private static final int IFLA_INFO_KIND = 1;
    private static final int IFLA_XDP_DRV_PROG_ID = 5;
    private static final int IFLA_XDP_SKB_PROG_ID = 6;
    /** The interface's counters are not wanted, which keeps the reply to a few hundred bytes. */
    private static final int RTEXT_FILTER_SKIP_STATS = 1 << 3;
    private static final int REQUEST_SIZE = NLMSG_HDRLEN + IFINFOMSG_SIZE + 2 * (RTA_HDRLEN + 4);
    private static final int REPLY_CAPACITY = 32 * 1024;
    private static final int SEQUENCE = 1;

    private RtLinks()
    {
    }

    /** The interface {@code ifindex} of the calling thread's namespace. */
    public static LinkInfo link(final int ifindex)
    {
        return query(ifindex, LinkInfo.SAME_NAMESPACE);
    }

    /**
     * The interface {@code ifindex} of the namespace the calling thread's namespace knows as {@code netnsId}
     * ({@link LinkInfo#linkNetnsId}), or of its own for {@link LinkInfo#SAME_NAMESPACE}; a veth's peer with
     * {@code link(info.linkIfindex(), info.linkNetnsId())}.
     */
    public static LinkInfo link(final int ifindex, final int netnsId)
    {
        return query(ifindex, netnsId);
    }

    private static LinkInfo query(final int ifindex, final int netnsId)
    {
        final UnsafeBuffer request = new UnsafeBuffer(BufferUtil.allocateDirectAligned(REQUEST_SIZE, 8));
        request.setMemory(0, REQUEST_SIZE, (byte)0);
        request.putShort(NLMSG_TYPE, (short)RTM_GETLINK);
        request.putShort(NLMSG_FLAGS, (short)NLM_F_REQUEST);
        request.putInt(NLMSG_SEQ, SEQUENCE);
        request.putByte(NLMSG_HDRLEN, (byte)AF_UNSPEC);
        request.putInt(NLMSG_HDRLEN + IFI_INDEX, ifindex);
        int length = NLMSG_HDRLEN + IFINFOMSG_SIZE;
        length = putU32(request, length, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        if (netnsId != LinkInfo.SAME_NAMESPACE)
        {
            length = putU32(request, length, IFLA_TARGET_NETNSID, netnsId);
        }
        request.putInt(NLMSG_LEN, length);

        final UnsafeBuffer reply = new UnsafeBuffer(BufferUtil.allocateDirectAligned(REPLY_CAPACITY, 8));
        final String what = "RTM_GETLINK of ifindex " + ifindex +
            (netnsId == LinkInfo.SAME_NAMESPACE ? "" : " in the namespace with id " + netnsId);
        final LibC libc = LibCHolder.LIBC;
        final int fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
        {
            throw error("socket(AF_NETLINK, NETLINK_ROUTE)", LastError.getLastError(LibCHolder.RUNTIME));
        }
        try
        {
            while (libc.send(fd, request.addressOffset(), length, 0) < 0)
            {
                retryOnlyOnEintr(what);
            }
            long received;
            while ((received = libc.recv(fd, reply.addressOffset(), REPLY_CAPACITY, MSG_TRUNC)) < 0)
            {
                retryOnlyOnEintr(what);
            }
            if (received > REPLY_CAPACITY)
            {
                throw new IllegalStateException(what + ": a reply of " + received + " bytes, more than " +
                    REPLY_CAPACITY);
            }
            return parse(reply, (int)received, what);
        }
        finally
        {
            libc.close(fd);
        }
    }

    private static int putU32(final UnsafeBuffer buffer, final int offset, final int type, final int value)
    {
        buffer.putShort(offset, (short)(RTA_HDRLEN + 4));
        buffer.putShort(offset + 2, (short)type);
        buffer.putInt(offset + RTA_HDRLEN, value);
        return offset + RTA_HDRLEN + 4;
    }

    private static void retryOnlyOnEintr(final String what)
    {
        final int errno = LastError.getLastError(LibCHolder.RUNTIME);
        if (errno != EINTR)
        {
            throw error(what, errno);
        }
    }

    private static LinkInfo parse(final DirectBuffer reply, final int length, final String what)
    {
        if (length < NLMSG_HDRLEN || reply.getInt(NLMSG_LEN) < NLMSG_HDRLEN || reply.getInt(NLMSG_LEN) > length ||
            reply.getInt(NLMSG_SEQ) != SEQUENCE)
        {
            throw new IllegalStateException(what + ": malformed reply of " + length + " bytes");
        }
        final int type = reply.getShort(NLMSG_TYPE) & 0xffff;
        final int end = reply.getInt(NLMSG_LEN);
        if (type == NLMSG_ERROR)
        {
            final int status = end >= NLMSG_HDRLEN + 4 ? reply.getInt(NLMSG_HDRLEN) : 0;
            throw error(what, -status);
        }
        if (type != RTM_NEWLINK || end < NLMSG_HDRLEN + IFINFOMSG_SIZE)
        {
            throw new IllegalStateException(what + ": unexpected reply of type " + type);
        }
        final int ifindex = reply.getInt(NLMSG_HDRLEN + IFI_INDEX);
        String name = "";
        String kind = "";
        int linkIfindex = 0;
        int linkNetnsId = LinkInfo.SAME_NAMESPACE;
        int nativeProgram = 0;
        int genericProgram = 0;
        for (int at = NLMSG_HDRLEN + IFINFOMSG_SIZE; at + RTA_HDRLEN <= end; at = next(reply, at))
        {
            final int attrLength = reply.getShort(at) & 0xffff;
            if (attrLength < RTA_HDRLEN || at + attrLength > end)
            {
                throw new IllegalStateException(what + ": malformed attribute at offset " + at);
            }
            final int payload = at + RTA_HDRLEN;
            final int payloadLength = attrLength - RTA_HDRLEN;
            switch (reply.getShort(at + 2) & NLA_TYPE_MASK)
            {
                case IFLA_IFNAME -> name = string(reply, payload, payloadLength);
                case IFLA_LINK -> linkIfindex = reply.getInt(payload);
                case IFLA_LINK_NETNSID -> linkNetnsId = reply.getInt(payload);
                case IFLA_LINKINFO ->
                {
                    final int kindAt = find(reply, payload, payload + payloadLength, IFLA_INFO_KIND);
                    if (kindAt >= 0)
                    {
                        kind = string(reply, kindAt + RTA_HDRLEN, (reply.getShort(kindAt) & 0xffff) - RTA_HDRLEN);
                    }
                }
                case IFLA_XDP ->
                {
                    final int drv = find(reply, payload, payload + payloadLength, IFLA_XDP_DRV_PROG_ID);
                    final int skb = find(reply, payload, payload + payloadLength, IFLA_XDP_SKB_PROG_ID);
                    nativeProgram = drv < 0 ? 0 : reply.getInt(drv + RTA_HDRLEN);
                    genericProgram = skb < 0 ? 0 : reply.getInt(skb + RTA_HDRLEN);
                }
                default ->
                {
                    // not needed
                }
            }
        }
        return new LinkInfo(ifindex, name, kind, linkIfindex, linkNetnsId, nativeProgram, genericProgram);
    }

    private static int next(final DirectBuffer buffer, final int at)
    {
        return at + BitUtil.align(buffer.getShort(at) & 0xffff, RTA_ALIGNTO);
    }

    /** The offset of the first attribute of {@code type} in [from, to), -1 if there is none. */
    private static int find(final DirectBuffer buffer, final int from, final int to, final int type)
    {
        for (int at = from; at + RTA_HDRLEN <= to; at = next(buffer, at))
        {
            final int attrLength = buffer.getShort(at) & 0xffff;
            if (attrLength < RTA_HDRLEN || at + attrLength > to)
            {
                return -1;
            }
            if ((buffer.getShort(at + 2) & NLA_TYPE_MASK) == type)
            {
                return at;
            }
        }
        return -1;
    }

    /** A NUL-terminated string attribute. */
    private static String string(final DirectBuffer buffer, final int offset, final int length)
    {
        final String text = buffer.getStringWithoutLengthAscii(offset, length);
        final int nul = text.indexOf('\0');
        return nul < 0 ? text : text.substring(0, nul);
    }

    private static RtLinkException error(final String what, final int errno)
    {
        return new RtLinkException(what + " failed: " + LibCHolder.LIBC.strerror(errno) + " (errno " + errno + ")",
            errno);
    }

    /** A netlink query the kernel refused, with its errno. */
    public static final class RtLinkException extends RuntimeException
    {
        private final int errno;

        RtLinkException(final String message, final int errno)
        {
            super(message);
            this.errno = errno;
        }

        public int errno()
        {
            return errno;
        }
    }

    /**
     * The libc calls of a netlink exchange. Public because jnr-ffi implements it in a class loader of its own, which
     * cannot see a private type.
     */
    public interface LibC
    {
        int socket(int domain, int type, int protocol);

        long send(int fd, long buf, long len, int flags);

        long recv(int fd, long buf, long len, int flags);

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
