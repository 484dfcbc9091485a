package io.crab.endpoint;

import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;

import static io.crab.endpoint.SocketDiag.MSG_DPORT;
import static io.crab.endpoint.SocketDiag.MSG_DST;
import static io.crab.endpoint.SocketDiag.MSG_FAMILY;
import static io.crab.endpoint.SocketDiag.MSG_SIZE;
import static io.crab.endpoint.SocketDiag.MSG_SPORT;
import static io.crab.endpoint.SocketDiag.MSG_SRC;
import static io.crab.endpoint.SocketDiag.NLMSG_DONE;
import static io.crab.endpoint.SocketDiag.NLMSG_ERROR;
import static io.crab.endpoint.SocketDiag.NLMSG_HDRLEN;
import static io.crab.endpoint.SocketDiag.NLMSG_LEN;
import static io.crab.endpoint.SocketDiag.NLMSG_SEQ;
import static io.crab.endpoint.SocketDiag.NLMSG_TYPE;
import static io.crab.endpoint.SocketDiag.SOCK_DIAG_BY_FAMILY;
import static io.crab.endpoint.SocketDiag.forEachSocket;
import static io.crab.endpoint.SocketDiag.key;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How a sock_diag reply datagram becomes socket keys, on hand-made datagrams (the kernel's are in SocketDiagTest). */
class SocketDiagParseTest
{
    private static final int SEQUENCE = 7;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    /** 198.18.0.11:40000 to 198.19.0.1:80, as a client's redirected connection would be before its redirect. */
    private static final int LOCAL = 0xC612000B;
    private static final int REMOTE = 0xC6130001;
    private static final long KEY = key(LOCAL, 40000, REMOTE, 80);
    /** Attributes (here 6 bytes of padding) may follow a socket; the next message starts 4-byte aligned. */
    private static final int ATTRIBUTE_BYTES = 6;

    private final UnsafeBuffer datagram = new UnsafeBuffer(new byte[4096]);
    private final LongHashSet keys = new LongHashSet();
    private final SocketDiag.KeyCollector collector = new SocketDiag.KeyCollector(keys);
    private int length;

    @Test
    void socketKeysTellTuplesApart()
    {
        assertEquals(KEY, key(LOCAL, 40000, REMOTE, 80));
        assertTrue(KEY != key(LOCAL, 40001, REMOTE, 80));
        assertTrue(KEY != key(LOCAL, 40000, REMOTE, 81));
        assertTrue(KEY != key(LOCAL + 1, 40000, REMOTE, 80));
        assertTrue(KEY != key(LOCAL, 40000, REMOTE + 1, 80));
        assertTrue(KEY != key(REMOTE, 80, LOCAL, 40000), "the peer's socket is another one");
    }

    @Test
    void ipv4AndIpv4MappedSocketsHaveTheSameKeyAndIpv6OnesNone()
    {
        addSocket(SEQUENCE, AF_INET, ipv4(LOCAL), 40000, ipv4(REMOTE), 80);
        addSocket(SEQUENCE, AF_INET6, ipv4Mapped(LOCAL), 40001, ipv4Mapped(REMOTE), 80);
        addSocket(SEQUENCE, AF_INET6, ipv6(1), 40002, ipv6(2), 80);
        addSocket(SEQUENCE, AF_INET6, ipv4Mapped(LOCAL), 40003, ipv6(2), 80);
        addStatus(SEQUENCE, NLMSG_DONE, 0);

        assertTrue(forEachSocket(datagram, length, SEQUENCE, collector), "the datagram ends the dump");
        assertTrue(keys.contains(KEY), "AF_INET");
        assertTrue(keys.contains(key(LOCAL, 40001, REMOTE, 80)), "IPv4-mapped AF_INET6: how Java's sockets appear");
        assertEquals(2, keys.size(), "a real IPv6 socket, or half of one, is none of crab's business: " + keys);
    }

    @Test
    void aDatagramWithoutTheEndOfTheDumpAsksForMore()
    {
        addSocket(SEQUENCE, AF_INET, ipv4(LOCAL), 40000, ipv4(REMOTE), 80);

        assertFalse(forEachSocket(datagram, length, SEQUENCE, collector));
        assertTrue(keys.contains(KEY));
    }

    @Test
    void messagesOfAnotherRequestAreSkipped()
    {
        addSocket(SEQUENCE - 1, AF_INET, ipv4(LOCAL), 40000, ipv4(REMOTE), 80);
        addStatus(SEQUENCE - 1, NLMSG_DONE, 0);
        addStatus(SEQUENCE - 1, NLMSG_ERROR, -22);

        assertFalse(forEachSocket(datagram, length, SEQUENCE, collector));
        assertTrue(keys.isEmpty());
    }

    @Test
    void anErrorReplyThrowsItsErrno()
    {
        addStatus(SEQUENCE, NLMSG_ERROR, -22);

        final SocketDiagException ex =
            assertThrows(SocketDiagException.class, () -> forEachSocket(datagram, length, SEQUENCE, collector));
        assertEquals(22, ex.errno(), ex.getMessage());
    }

    @Test
    void aDumpThatFailedHalfWayThrowsItsErrno()
    {
        addSocket(SEQUENCE, AF_INET, ipv4(LOCAL), 40000, ipv4(REMOTE), 80);
        addStatus(SEQUENCE, NLMSG_DONE, -16);

        final SocketDiagException ex =
            assertThrows(SocketDiagException.class, () -> forEachSocket(datagram, length, SEQUENCE, collector));
        assertEquals(16, ex.errno(), ex.getMessage());
    }

    @Test
    void aMessageLongerThanItsDatagramIsRefused()
    {
        addSocket(SEQUENCE, AF_INET, ipv4(LOCAL), 40000, ipv4(REMOTE), 80);

        assertThrows(SocketDiagException.class, () -> forEachSocket(datagram, length - 4, SEQUENCE, collector));
    }

    private void addSocket(
        final int sequence, final int family, final byte[] src, final int sport, final byte[] dst, final int dport)
    {
        final int messageLength = NLMSG_HDRLEN + MSG_SIZE + ATTRIBUTE_BYTES;
        putHeader(sequence, SOCK_DIAG_BY_FAMILY, messageLength);
        final int socket = length + NLMSG_HDRLEN;
        datagram.putByte(socket + MSG_FAMILY, (byte)family);
        datagram.putShort(socket + MSG_SPORT, (short)sport, ByteOrder.BIG_ENDIAN);
        datagram.putShort(socket + MSG_DPORT, (short)dport, ByteOrder.BIG_ENDIAN);
        datagram.putBytes(socket + MSG_SRC, src);
        datagram.putBytes(socket + MSG_DST, dst);
        length += (messageLength + 3) & ~3;
    }

    private void addStatus(final int sequence, final int type, final int negativeErrno)
    {
        putHeader(sequence, type, NLMSG_HDRLEN + Integer.BYTES);
        datagram.putInt(length + NLMSG_HDRLEN, negativeErrno);
        length += NLMSG_HDRLEN + Integer.BYTES;
    }

    private void putHeader(final int sequence, final int type, final int messageLength)
    {
        datagram.putInt(length + NLMSG_LEN, messageLength);
        datagram.putShort(length + NLMSG_TYPE, (short)type);
        datagram.putInt(length + NLMSG_SEQ, sequence);
    }

    /** An address field of inet_diag_sockid (16 bytes) holding an AF_INET address. */
    private static byte[] ipv4(final int address)
    {
        final byte[] field = new byte[16];
        new UnsafeBuffer(field).putInt(0, address, ByteOrder.BIG_ENDIAN);
        return field;
    }

    private static byte[] ipv4Mapped(final int address)
    {
        final byte[] field = new byte[16];
        final UnsafeBuffer buffer = new UnsafeBuffer(field);
        buffer.putShort(10, (short)0xffff);
        buffer.putInt(12, address, ByteOrder.BIG_ENDIAN);
        return field;
    }

    /** 2001:db8::{@code last}, a documentation address. */
    private static byte[] ipv6(final int last)
    {
        final byte[] field = new byte[16];
        final UnsafeBuffer buffer = new UnsafeBuffer(field);
        buffer.putInt(0, 0x20010db8, ByteOrder.BIG_ENDIAN);
        buffer.putInt(12, last, ByteOrder.BIG_ENDIAN);
        return field;
    }
}
