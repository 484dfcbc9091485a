package io.crab.lb;

import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.Counters;
import io.crab.bpf.frames.Frames;
import io.crab.bpf.testing.KernelRequired;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.ByteOrder;

import static io.crab.bpf.frames.Frames.ACK;
import static io.crab.bpf.frames.Frames.SYN;
import static io.crab.bpf.frames.Frames.ip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fixture tests of the LB's hashing fallback (TC ingress): one frame in, the verdict, the frame out (never
 * changed: it is only sent on to the backend's MAC) and the connection table. Each service's Maglev table here has
 * one entry, so the test decides which backend Maglev names.
 */
@ExtendWith(KernelRequired.class)
class LbFallbackTest
{
    private static final int TC_ACT_OK = 0;
    private static final int TC_ACT_REDIRECT = 7;
    private static final byte[] CLIENT = ip("198.18.0.11");
    private static final byte[] VIP = ip("198.19.0.1");
    private static final byte[] VIP_WITHOUT_BACKENDS = ip("198.19.0.2");
    private static final int CLIENT_PORT = 40000;
    private static final int SERVING = Abi.Consts.CRAB_BACKEND_UP | Abi.Consts.CRAB_BACKEND_SERVING;

    private BpfObject obj;
    private BpfProgram fallback;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[16]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[64]);

    @BeforeEach
    void load()
    {
        obj = Bpf.load("lb_tc");
        fallback = obj.program("crab_lb_fallback");
        backend(0, ip("198.18.0.101"), SERVING);
        backend(1, ip("198.18.0.102"), SERVING);
        vip(VIP, 0, 1);
        vip(VIP_WITHOUT_BACKENDS, 1, 0);
        maglevNames(0);
    }

    @AfterEach
    void close()
    {
        obj.close();
    }

    @Test
    void aSynIsPlacedByMaglevAndTheConnectionsPacketsFollowItUnchanged()
    {
        assertSentUnchanged(packet(SYN, 1000));
        assertEquals(0, connectionBackend());
        assertEquals(1, counter(Abi.Consts.CRAB_FB_NEW));
        assertEquals(1, new Counters(obj.map("backend_fallbacks")).sum(0), "placed on backend 0");

        maglevNames(1);
        assertSentUnchanged(packet(ACK, 1001));
        assertEquals(0, connectionBackend(), "the table, not Maglev, decides for a known connection");
        assertEquals(1, counter(Abi.Consts.CRAB_FB_FORWARDED));
    }

    @Test
    void aSynForTheTupleOfALiveConnectionDoesNotMoveIt()
    {
        assertSentUnchanged(packet(SYN, 1000));
        maglevNames(1);

        // Another ISN: a forged SYN with a guessed port, or the client reusing it; both stay where the tuple is.
        assertSentUnchanged(packet(SYN, 987_654_321));
        assertEquals(0, connectionBackend(), "a forged SYN cannot move a connection off a serving backend");
        assertSentUnchanged(packet(ACK, 1001));
        assertEquals(0, connectionBackend());
        assertEquals(1, counter(Abi.Consts.CRAB_FB_NEW));
        assertEquals(2, counter(Abi.Consts.CRAB_FB_FORWARDED));
    }

    @Test
    void aDrainingBackendThatServesKeepsItsConnectionsAgainstASyn()
    {
        assertSentUnchanged(packet(SYN, 1000));
        backend(0, ip("198.18.0.101"), Abi.Consts.CRAB_BACKEND_SERVING);
        maglevNames(1);

        assertSentUnchanged(packet(SYN, 2000));
        assertEquals(0, connectionBackend());
    }

    @Test
    void aSynPlacesAgainAConnectionWhoseBackendNoLongerServes()
    {
        assertSentUnchanged(packet(SYN, 1000));
        backend(0, ip("198.18.0.101"), 0);
        maglevNames(1);

        assertSentUnchanged(packet(ACK, 1001));
        assertEquals(0, connectionBackend(), "a data packet does not move a connection");
        assertSentUnchanged(packet(SYN, 5000));
        assertEquals(1, connectionBackend(), "a new connection on the tuple goes where Maglev says");
        assertEquals(2, counter(Abi.Consts.CRAB_FB_NEW));
    }

    @Test
    void aPacketOfAnUnknownConnectionIsAdoptedWhereMaglevSays()
    {
        maglevNames(1);
        assertSentUnchanged(packet(ACK, 1001));
        assertEquals(1, connectionBackend());
        assertEquals(1, counter(Abi.Consts.CRAB_FB_ADOPTED));
        assertEquals(0, new Counters(obj.map("backend_fallbacks")).sum(1), "adopted, not placed");
    }

    @Test
    void packetsForNoServiceOrAServiceWithoutBackendsGoToTheLbsOwnStack()
    {
        final Frames.Tcp other = packet(SYN, 1000);
        other.dstIp = ip("198.18.0.2");
        assertPassed(other.build(), Abi.Consts.CRAB_FB_PASS_NOT_VIP);

        final Frames.Tcp noBackend = packet(SYN, 1000);
        noBackend.dstIp = VIP_WITHOUT_BACKENDS;
        assertPassed(noBackend.build(), Abi.Consts.CRAB_FB_PASS_NO_BACKEND);

        final byte[] arp = packet(SYN, 1000).build();
        arp[12] = 0x08;
        arp[13] = 0x06;
        assertPassed(arp, Abi.Consts.CRAB_FB_PASS_OTHER);
        assertFalse(obj.map("conn_table").lookup(connKey(), value), "nothing remembered");
    }

    private void assertSentUnchanged(final Frames.Tcp packet)
    {
        final byte[] frame = packet.build();
        final BpfProgram.TestRun run = fallback.testRun(frame, 1);
        assertEquals(TC_ACT_REDIRECT, run.verdict(), "sent on through the neighbour table");
        assertArrayEquals(frame, run.frameOut(), "the packet is not changed");
    }

    private void assertPassed(final byte[] frame, final int counter)
    {
        final long before = counter(counter);
        final BpfProgram.TestRun run = fallback.testRun(frame, 1);
        assertEquals(TC_ACT_OK, run.verdict());
        assertArrayEquals(frame, run.frameOut());
        assertEquals(before + 1, counter(counter), "counter " + counter);
    }

    private static Frames.Tcp packet(final int flags, final long seq)
    {
        final Frames.Tcp p = new Frames.Tcp();
        p.srcIp = CLIENT;
        p.dstIp = VIP;
        p.srcPort = CLIENT_PORT;
        p.flags = flags;
        p.seq = seq;
        p.ack = (flags & ACK) != 0 ? 5001 : 0;
        if (flags != SYN)
        {
            p.options = new byte[0];
        }
        return p;
    }

    private int connectionBackend()
    {
        assertTrue(obj.map("conn_table").lookup(connKey(), value), "connection remembered");
        return value.getInt(Abi.Conn.BACKEND_ID);
    }

    private UnsafeBuffer connKey()
    {
        key.setMemory(0, 16, (byte)0);
        key.putBytes(Abi.SynKey.CLIENT_ADDR, CLIENT);
        key.putBytes(Abi.SynKey.VIP_ADDR, VIP);
        key.putShort(Abi.SynKey.CLIENT_PORT, (short)CLIENT_PORT, ByteOrder.BIG_ENDIAN);
        key.putShort(Abi.SynKey.VIP_PORT, (short)80, ByteOrder.BIG_ENDIAN);
        return key;
    }

    private long counter(final int index)
    {
        return new Counters(obj.map("fallback_counters")).sum(index);
    }

    /** The one entry of the Maglev table of service 0. */
    private void maglevNames(final int backendId)
    {
        key.putInt(0, 0);
        value.setMemory(0, 64, (byte)0);
        value.putInt(0, backendId);
        obj.map("maglev_tables").update(key, value, BpfMap.UPDATE_ANY);
    }

    private void backend(final int id, final byte[] addr, final int flags)
    {
        key.putInt(0, id);
        value.setMemory(0, 64, (byte)0);
        value.putBytes(Abi.Backend.ADDR, addr);
        value.putShort(Abi.Backend.FLAGS, (short)flags);
        obj.map("backends").update(key, value, BpfMap.UPDATE_ANY);
    }

    private void vip(final byte[] addr, final int vipId, final int maglevCount)
    {
        key.setMemory(0, 16, (byte)0);
        key.putBytes(Abi.VipKey.ADDR, addr);
        value.setMemory(0, 64, (byte)0);
        value.putInt(Abi.Vip.VIP_ID, vipId);
        value.putInt(Abi.Vip.MAGLEV_BASE, 0);
        value.putInt(Abi.Vip.MAGLEV_COUNT, maglevCount);
        obj.map("vips").update(key, value, BpfMap.UPDATE_ANY);
    }
}
