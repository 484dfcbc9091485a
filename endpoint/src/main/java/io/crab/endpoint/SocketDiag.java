package io.crab.endpoint;

import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import org.agrona.BitUtil;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * The TCP sockets of one network namespace that are in chosen states, from the kernel's sock_diag netlink
 * interface (what {@code ss} uses): the flow sweep's IPv4 tuples, and the load reporter's ports. The kernel tests
 * each socket's state as it walks its tables and sends only the matching ones, in binary. The tens of thousands
 * of TIME_WAIT sockets of a busy client are thus skipped in the kernel, at about a tenth of the cost of
 * /proc/net/tcp, which formats every one of them as text to be parsed.
 * <p>
 * The netlink socket belongs to the network namespace of the thread that opens it, for its whole life, whichever
 * thread dumps later: open it in the namespace to observe. It is meant to be opened once and reused; a dump
 * allocates nothing once the key set and the receive buffer have grown to fit the namespace. Not thread-safe.
 */
final class SocketDiag implements AutoCloseable
{
    /** TCP states as the kernel numbers them (include/net/tcp_states.h); a state mask has bit 1 << state. */
    static final int TCP_ESTABLISHED = 1;
    static final int TCP_SYN_SENT = 2;
    static final int TCP_SYN_RECV = 3;
    static final int TCP_FIN_WAIT1 = 4;
    static final int TCP_FIN_WAIT2 = 5;
    static final int TCP_TIME_WAIT = 6;
    static final int TCP_CLOSE_WAIT = 8;
    static final int TCP_LAST_ACK = 9;
    static final int TCP_LISTEN = 10;
    static final int TCP_CLOSING = 11;

    /**
     * A connection whose socket may still send or receive a segment of its own: every state but TIME_WAIT (the
     * socket has said its last word and only lingers to absorb strays), CLOSE (7) and LISTEN (no connection).
     */
    static final int LIVE_CONNECTION_STATES = stateMask(TCP_ESTABLISHED) | stateMask(TCP_SYN_SENT) |
        stateMask(TCP_SYN_RECV) | stateMask(TCP_FIN_WAIT1) | stateMask(TCP_FIN_WAIT2) | stateMask(TCP_CLOSE_WAIT) |
        stateMask(TCP_LAST_ACK) | stateMask(TCP_CLOSING);

    /**
     * The kernel fills a dump datagram up to the size the reader asks for, capped at 32 KiB less overhead, so
     * this holds any of them; a larger one (a future kernel) makes the buffer grow rather than lose sockets.
     */
    private static final int DEFAULT_RECEIVE_BUFFER_BYTES = 64 * 1024;

    private static final int AF_NETLINK = 16;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int NETLINK_SOCK_DIAG = 4;
    private static final int IPPROTO_TCP = 6;
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_TRUNC = 0x20;
    private static final int EINTR = 4;

    /** struct nlmsghdr (linux/netlink.h), in host byte order. */
    static final int NLMSG_LEN = 0;
    static final int NLMSG_TYPE = 4;
    private static final int NLMSG_FLAGS = 6;
    static final int NLMSG_SEQ = 8;
    static final int NLMSG_HDRLEN = 16;
    private static final int NLMSG_ALIGNTO = 4;
    static final int NLMSG_ERROR = 2;
    static final int NLMSG_DONE = 3;
    private static final int NLM_F_REQUEST = 0x1;
    private static final int NLM_F_DUMP = 0x300;
    /** The message type of both the request and each socket of the reply (linux/sock_diag.h). */
    static final int SOCK_DIAG_BY_FAMILY = 20;

    /** struct inet_diag_req_v2 after the header; its socket id (a filter on one socket) stays zero. */
    private static final int REQ_FAMILY = NLMSG_HDRLEN;
    private static final int REQ_PROTOCOL = NLMSG_HDRLEN + 1;
    private static final int REQ_STATES = NLMSG_HDRLEN + 4;
    private static final int REQUEST_SIZE = NLMSG_HDRLEN + 56;

    /** struct inet_diag_msg, from the start of a reply message's payload; ports and addresses in network order. */
    static final int MSG_FAMILY = 0;
    static final int MSG_STATE = 1;
    static final int MSG_SPORT = 4;
    static final int MSG_DPORT = 6;
    static final int MSG_SRC = 8;
    static final int MSG_DST = 24;
    /** idiag_rqueue, in host order: for a listener, its accept queue's length. */
    static final int MSG_RQUEUE = 56;
    static final int MSG_SIZE = 72;
    /** Where an IPv4-mapped IPv6 address (::ffff:a.b.c.d) holds the IPv4 address. */
    private static final int V4_MAPPED_ADDR = 12;

    private final UnsafeBuffer request = new UnsafeBuffer(BufferUtil.allocateDirectAligned(REQUEST_SIZE, 8));
    private final KeyCollector keyCollector = new KeyCollector(null);
    private UnsafeBuffer reply;
    private int fd;
    private int sequence;

    private SocketDiag(final int fd, final int receiveBufferBytes)
    {
        this.fd = fd;
        reply = new UnsafeBuffer(BufferUtil.allocateDirectAligned(receiveBufferBytes, 8));
        request.putInt(NLMSG_LEN, REQUEST_SIZE);
        request.putShort(NLMSG_TYPE, (short)SOCK_DIAG_BY_FAMILY);
        request.putShort(NLMSG_FLAGS, (short)(NLM_F_REQUEST | NLM_F_DUMP));
        request.putByte(REQ_PROTOCOL, (byte)IPPROTO_TCP);
    }

    /** Opens a sock_diag socket in the calling thread's network namespace. */
    static SocketDiag open()
    {
        return open(DEFAULT_RECEIVE_BUFFER_BYTES);
    }

    /** {@link #open()} with a receive buffer of another initial size. */
    static SocketDiag open(final int receiveBufferBytes)
    {
        if (receiveBufferBytes < NLMSG_HDRLEN)
        {
            throw new IllegalArgumentException("receive buffer of " + receiveBufferBytes + " bytes");
        }
        final int fd = LibCHolder.LIBC.socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
        {
            throw lastError("socket(AF_NETLINK, NETLINK_SOCK_DIAG)");
        }
        return new SocketDiag(fd, receiveBufferBytes);
    }

    /** The mask of one state for {@link #dump}; masks of several states are or'ed. */
    static int stateMask(final int tcpState)
    {
        return 1 << tcpState;
    }

    /**
     * Replaces the content of {@code keys} with the {@link #key} of every IPv4 TCP socket, local end first, whose
     * state is in {@code states}. IPv4 sockets are the AF_INET ones and the AF_INET6 ones whose addresses are
     * IPv4-mapped (Java's sockets are dual-stack); a real IPv6 socket is left out.
     * <p>
     * A dump is not a snapshot: the kernel walks its hash table a datagram at a time, and a socket that leaves the
     * table meanwhile (closing, or turning into a TIME_WAIT socket) can make a live neighbour of it be skipped.
     * <p>
     * A failed dump closes this: a netlink socket runs one dump at a time, and one abandoned half-way would
     * refuse the next request. Opening a new one is the caller's call, in the namespace it means.
     */
    void dump(final int states, final LongHashSet keys)
    {
        keys.clear();
        keyCollector.keys = keys;
        dump(states, keyCollector);
    }

    /**
     * Hands {@code sink} every TCP socket, IPv4 and IPv6, whose state is in {@code states}, as {@link #dump(int,
     * LongHashSet)} walks them; failures close this the same way.
     */
    void dump(final int states, final SocketSink sink)
    {
        if (fd < 0)
        {
            throw new IllegalStateException("sock_diag socket is closed");
        }
        try
        {
            dumpFamily(AF_INET, states, sink);
            dumpFamily(AF_INET6, states, sink);
        }
        catch (final RuntimeException ex)
        {
            close();
            throw ex;
        }
    }

    /** The TCP state of the socket whose inet_diag_msg starts at {@code socket}. */
    static int state(final DirectBuffer datagram, final int socket)
    {
        return datagram.getByte(socket + MSG_STATE) & 0xff;
    }

    /** The local port, in host order, of the socket whose inet_diag_msg starts at {@code socket}. */
    static int localPort(final DirectBuffer datagram, final int socket)
    {
        return datagram.getShort(socket + MSG_SPORT, ByteOrder.BIG_ENDIAN) & 0xffff;
    }

    /**
     * A 64-bit digest of a 4-tuple (addresses as big-endian ints, ports in host order). A collision can only make
     * a dead flow look alive, so it is kept until a later pass: it never removes a live one.
     */
    static long key(final int localAddr, final int localPort, final int remoteAddr, final int remotePort)
    {
        long h = (localAddr & 0xffffffffL) << 32 | (remoteAddr & 0xffffffffL);
        h ^= ((long)localPort << 16 | remotePort) * 0x9E3779B97F4A7C15L;
        return h;
    }

    @Override
    public void close()
    {
        if (fd >= 0)
        {
            LibCHolder.LIBC.close(fd);
            fd = -1;
        }
    }

    private void dumpFamily(final int family, final int states, final SocketSink sink)
    {
        // The reply's messages carry the request's sequence number: anything else read here is not part of it.
        final int requestSequence = ++sequence;
        request.putInt(NLMSG_SEQ, requestSequence);
        request.putByte(REQ_FAMILY, (byte)family);
        request.putInt(REQ_STATES, states);
        send();
        boolean done = false;
        while (!done)
        {
            // In two steps: receiving may replace the buffer.
            final int length = receive();
            done = forEachSocket(reply, length, requestSequence, sink);
        }
    }

    private void send()
    {
        while (LibCHolder.LIBC.send(fd, request.addressOffset(), REQUEST_SIZE, 0) < 0)
        {
            final int errno = LastError.getLastError(LibCHolder.RUNTIME);
            if (errno != EINTR)
            {
                throw error("sending a sock_diag request", errno);
            }
        }
    }

    /**
     * Reads the next datagram of the reply whole and returns its length. The kernel drops what does not fit a read
     * of a datagram, and the end-of-dump message is at its tail, so its size is peeked first and a datagram too
     * large for the buffer makes the buffer grow.
     */
    private int receive()
    {
        final int length = recv(0, MSG_PEEK | MSG_TRUNC);
        if (length > reply.capacity())
        {
            reply = new UnsafeBuffer(
                BufferUtil.allocateDirectAligned(BitUtil.findNextPositivePowerOfTwo(length), 8));
        }
        return recv(reply.capacity(), 0);
    }

    private int recv(final int capacity, final int flags)
    {
        while (true)
        {
            final long length = LibCHolder.LIBC.recv(fd, reply.addressOffset(), capacity, flags);
            if (length >= 0)
            {
                return (int)length;
            }
            final int errno = LastError.getLastError(LibCHolder.RUNTIME);
            if (errno != EINTR)
            {
                throw error("receiving a sock_diag reply", errno);
            }
        }
    }

    /**
     * Hands {@code sink} each socket of one reply datagram, skipping the messages of other requests than
     * {@code requestSequence}. Returns whether the datagram ends the dump.
     */
    static boolean forEachSocket(
        final DirectBuffer datagram, final int length, final int requestSequence, final SocketSink sink)
    {
        int offset = 0;
        while (offset + NLMSG_HDRLEN <= length)
        {
            final int messageLength = datagram.getInt(offset + NLMSG_LEN);
            if (messageLength < NLMSG_HDRLEN || messageLength > length - offset)
            {
                throw new SocketDiagException("malformed sock_diag reply: a message of " + messageLength +
                    " bytes at offset " + offset + " of a " + length + "-byte datagram", 0);
            }
            if (datagram.getInt(offset + NLMSG_SEQ) == requestSequence)
            {
                final int type = datagram.getShort(offset + NLMSG_TYPE) & 0xffff;
                final int payload = offset + NLMSG_HDRLEN;
                final int payloadLength = messageLength - NLMSG_HDRLEN;
                if (type == NLMSG_DONE)
                {
                    // A dump that failed half-way ends with a negative errno here.
                    final int status = payloadLength >= Integer.BYTES ? datagram.getInt(payload) : 0;
                    if (status < 0)
                    {
                        throw error("sock_diag dump", -status);
                    }
                    return true;
                }
                if (type == NLMSG_ERROR)
                {
                    final int status = payloadLength >= Integer.BYTES ? datagram.getInt(payload) : 0;
                    throw error("sock_diag request", -status);
                }
                if (type == SOCK_DIAG_BY_FAMILY && payloadLength >= MSG_SIZE)
                {
                    sink.onSocket(datagram, payload);
                }
            }
            offset += BitUtil.align(messageLength, NLMSG_ALIGNTO);
        }
        return false;
    }

    /** Receives the sockets of a dump, each as the offset of its inet_diag_msg in a reply datagram. */
    interface SocketSink
    {
        void onSocket(DirectBuffer datagram, int socket);
    }

    /** Adds the {@link #key} of each IPv4 socket it is handed to {@link #keys}; IPv6 ones are left out. */
    static final class KeyCollector implements SocketSink
    {
        LongHashSet keys;

        KeyCollector(final LongHashSet keys)
        {
            this.keys = keys;
        }

        @Override
        public void onSocket(final DirectBuffer datagram, final int socket)
        {
            final int family = datagram.getByte(socket + MSG_FAMILY);
            final int localAddr;
            final int remoteAddr;
            if (family == AF_INET)
            {
                localAddr = datagram.getInt(socket + MSG_SRC, ByteOrder.BIG_ENDIAN);
                remoteAddr = datagram.getInt(socket + MSG_DST, ByteOrder.BIG_ENDIAN);
            }
            else if (family == AF_INET6 &&
                isIpv4Mapped(datagram, socket + MSG_SRC) && isIpv4Mapped(datagram, socket + MSG_DST))
            {
                localAddr = datagram.getInt(socket + MSG_SRC + V4_MAPPED_ADDR, ByteOrder.BIG_ENDIAN);
                remoteAddr = datagram.getInt(socket + MSG_DST + V4_MAPPED_ADDR, ByteOrder.BIG_ENDIAN);
            }
            else
            {
                return;
            }
            keys.add(key(localAddr, localPort(datagram, socket), remoteAddr,
                datagram.getShort(socket + MSG_DPORT, ByteOrder.BIG_ENDIAN) & 0xffff));
        }
    }

    /** ::ffff:a.b.c.d is 80 zero bits, 16 one bits, then the IPv4 address. */
    private static boolean isIpv4Mapped(final DirectBuffer datagram, final int address)
    {
        return datagram.getLong(address) == 0 && datagram.getInt(address + 8, ByteOrder.BIG_ENDIAN) == 0xffff;
    }

    private static SocketDiagException lastError(final String call)
    {
        return error(call, LastError.getLastError(LibCHolder.RUNTIME));
    }

    private static SocketDiagException error(final String what, final int errno)
    {
        return new SocketDiagException(
            what + " failed: " + LibCHolder.LIBC.strerror(errno) + " (errno " + errno + ")", errno);
    }

    /** Loads libc on first use. */
    private static final class LibCHolder
    {
        static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
        static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

        /**
         * The libc calls of a netlink exchange. Buffers are passed as addresses of memory SocketDiag owns, so a call
         * allocates nothing. Public because jnr-ffi implements it in a class loader of its own, which cannot see a
         * private type; the private holder still hides it outside SocketDiag.
         */
        public interface LibC
        {
            int socket(int domain, int type, int protocol);

            long send(int fd, long buf, long len, int flags);

            long recv(int fd, long buf, long len, int flags);

            int close(int fd);

            String strerror(int errnum);
        }
    }
}
