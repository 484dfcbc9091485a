package io.crab.lb;

import io.crab.agent.OptionKind;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.Counters;
import io.crab.bpf.frames.Frames;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.XdpTestNet;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import static io.crab.bpf.frames.Frames.ACK;
import static io.crab.bpf.frames.Frames.LINUX_SYN_OPTIONS;
import static io.crab.bpf.frames.Frames.PSH;
import static io.crab.bpf.frames.Frames.SYN;
import static io.crab.bpf.frames.Frames.bytes;
import static io.crab.bpf.frames.Frames.concat;
import static io.crab.bpf.frames.Frames.ip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fixture tests of the LB's translating fallback (crab_lb_fallback for a service with {@code fallback translate}):
 * one frame in, run as if it arrived on a device of a namespace where the backends' prefix is routed through a
 * gateway; the verdict, the frame out and the counters. Each service's Maglev table has one entry.
 */
@ExtendWith(KernelRequired.class)
class LbTranslateTest
{
    private static final int TC_ACT_SHOT = 2;
    private static final int TC_ACT_REDIRECT = 7;
    private static final byte[] CLIENT = ip("198.18.0.11");
    private static final byte[] VIP = ip("198.19.0.1");
    private static final byte[] DSR_VIP = ip("198.19.0.2");
    /** Behind the gateway 198.18.0.1, on another subnet: routed, not on the LB's link. */
    private static final byte[] BACKEND = ip("198.18.1.101");
    private static final byte[] UNROUTED_BACKEND = ip("198.18.9.101");
    private static final int BACKEND_PORT = 8080;
    private static final int SERVING = Abi.Consts.CRAB_BACKEND_UP | Abi.Consts.CRAB_BACKEND_SERVING;

    private static XdpTestNet net;
    private BpfObject obj;
    private BpfProgram fallback;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[16]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[64]);

    @BeforeAll
    static void network()
    {
        net = XdpTestNet.create();
        net.neighbour("198.18.0.1", "02:00:00:00:00:01");
        net.route("198.18.1.0/24", "198.18.0.1");
    }

    @AfterAll
    static void removeNetwork()
    {
        if (net != null)
        {
            net.close();
        }
    }

    @BeforeEach
    void load()
    {
        obj = Bpf.load("lb_tc");
        fallback = obj.program("crab_lb_fallback");
        optionKind(42, 0);
        backend(0, BACKEND, BACKEND_PORT);
        backend(1, UNROUTED_BACKEND, BACKEND_PORT);
        vip(VIP, 0, 0, Abi.Consts.CRAB_VIP_FALLBACK_TRANSLATE);
        vip(DSR_VIP, 1, 0, 0);
        maglevNames(0);
    }

    @AfterEach
    void close()
    {
        obj.close();
    }

    @Test
    void aSynGoesToTheBackendsAddressAndPortWithTheTranslationOptionAndValidChecksums()
    {
        final Frames.Tcp in = packet(SYN, 1000);
        final BpfProgram.TestRun run = run(in.build());
        assertEquals(TC_ACT_REDIRECT, run.verdict(), "routed on through the neighbour table");

        // The same segment as the backend should get it, every checksum computed from scratch by build().
        final Frames.Tcp expected = packet(SYN, 1000);
        expected.dstIp = BACKEND;
        expected.dstPort = BACKEND_PORT;
        expected.options = concat(LINUX_SYN_OPTIONS, bytes(42, 9), VIP, bytes(0, 80, 1, 1, 1, 1));
        assertArrayEquals(expected.build(), run.frameOut());
        assertEquals(1, counter(Abi.Consts.CRAB_FB_NEW));
        assertEquals(1, counter(Abi.Consts.CRAB_FB_TRANSLATED));
        assertEquals(0, connectionBackend());
    }

    @Test
    void withAnExperimentalKindTheOptionCarriesItsExid()
    {
        optionKind(253, 0xC4AB);
        final BpfProgram.TestRun run = run(packet(SYN, 1000).build());
        assertEquals(TC_ACT_REDIRECT, run.verdict());
        final byte[] options = Frames.tcpOptions(run.frameOut());
        assertArrayEquals(concat(LINUX_SYN_OPTIONS, bytes(253, 11, 0xC4, 0xAB), VIP, bytes(0, 80, 1, 1)), options);
        assertTrue(Frames.tcpChecksumValid(run.frameOut()));
        assertTrue(Frames.ipChecksumValid(run.frameOut()));
    }

    @Test
    void laterPacketsAreRewrittenButGetNoOption()
    {
        run(packet(SYN, 1000).build());
        final Frames.Tcp data = packet(ACK | PSH, 1001);
        data.payload = "hello, backend".getBytes(StandardCharsets.US_ASCII);
        final BpfProgram.TestRun run = run(data.build());
        assertEquals(TC_ACT_REDIRECT, run.verdict());

        final Frames.Tcp expected = packet(ACK | PSH, 1001);
        expected.payload = data.payload;
        expected.dstIp = BACKEND;
        expected.dstPort = BACKEND_PORT;
        assertArrayEquals(expected.build(), run.frameOut());
        assertEquals(1, counter(Abi.Consts.CRAB_FB_FORWARDED));
        assertEquals(2, counter(Abi.Consts.CRAB_FB_TRANSLATED));
    }

    @Test
    void aWrongChecksumStaysWrongByTheSameAmount()
    {
        for (final int flags : new int[] {SYN, ACK})
        {
            final byte[] frame = packet(flags, 1000).build();
            final int tcpCsumAt = Frames.ETH_LEN + 20 + 16;
            Frames.put16(frame, tcpCsumAt, Frames.u16(frame, tcpCsumAt) ^ 0x0100);
            Frames.put16(frame, Frames.ETH_LEN + 10, Frames.u16(frame, Frames.ETH_LEN + 10) ^ 0x0001);
            final byte[] out = run(frame).frameOut();
            assertFalse(Frames.tcpChecksumValid(out), "a corrupt segment stays corrupt");
            assertFalse(Frames.ipChecksumValid(out), "a corrupt IP header stays corrupt");
            assertNotEquals(Frames.tcpChecksum(out), Frames.u16(out, tcpCsumAt));
        }
    }

    @Test
    void aSynThatCannotCarryTheOptionIsDroppedNotSentWithoutIt()
    {
        final Frames.Tcp eol = packet(SYN, 1000);
        eol.options = bytes(2, 4, 0x05, 0xb4, 0, 0, 0, 0);
        final Frames.Tcp full = packet(SYN, 1000);
        full.options = concat(LINUX_SYN_OPTIONS, new byte[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
            1});
        final Frames.Tcp withData = packet(SYN, 1000);
        withData.payload = bytes(1, 2, 3, 4);
        final Frames.Tcp forged = packet(SYN, 1000);
        forged.options = concat(LINUX_SYN_OPTIONS, bytes(42, 9), ip("198.19.0.99"), bytes(0, 80, 1, 1, 1, 1));
        for (final Frames.Tcp odd : new Frames.Tcp[] {eol, full, withData, forged})
        {
            assertEquals(TC_ACT_SHOT, run(odd.build()).verdict());
        }
        assertEquals(4, counter(Abi.Consts.CRAB_FB_DROP_ODD_SYN));
        assertFalse(obj.map("conn_table").lookup(connKey(VIP), value), "nothing placed");
    }

    @Test
    void aBackendWithoutARouteGetsNothing()
    {
        maglevNames(1);
        assertEquals(TC_ACT_SHOT, run(packet(SYN, 1000).build()).verdict());
        assertEquals(1, counter(Abi.Consts.CRAB_FB_DROP_NO_ROUTE));
    }

    @Test
    void aDirectServerReturnServiceBesideItStillGoesUnchanged()
    {
        final Frames.Tcp dsr = packet(SYN, 1000);
        dsr.dstIp = DSR_VIP;
        final byte[] frame = dsr.build();
        final BpfProgram.TestRun run = run(frame);
        assertEquals(TC_ACT_REDIRECT, run.verdict());
        assertArrayEquals(frame, run.frameOut());
        assertEquals(0, counter(Abi.Consts.CRAB_FB_TRANSLATED));
    }

    private BpfProgram.TestRun run(final byte[] frame)
    {
        return net.call(() -> fallback.testRunTc(frame, 1, net.ifindex()));
    }

    private static Frames.Tcp packet(final int flags, final long seq)
    {
        final Frames.Tcp p = new Frames.Tcp();
        p.srcIp = CLIENT;
        p.dstIp = VIP;
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
        assertTrue(obj.map("conn_table").lookup(connKey(VIP), value), "connection remembered");
        return value.getInt(Abi.Conn.BACKEND_ID);
    }

    private UnsafeBuffer connKey(final byte[] vip)
    {
        key.setMemory(0, 16, (byte)0);
        key.putBytes(Abi.SynKey.CLIENT_ADDR, CLIENT);
        key.putBytes(Abi.SynKey.VIP_ADDR, vip);
        key.putShort(Abi.SynKey.CLIENT_PORT, (short)40000, ByteOrder.BIG_ENDIAN);
        key.putShort(Abi.SynKey.VIP_PORT, (short)80, ByteOrder.BIG_ENDIAN);
        return key;
    }

    private long counter(final int index)
    {
        return new Counters(obj.map("fallback_counters")).sum(index);
    }

    private void optionKind(final int kind, final int exid)
    {
        new OptionKind(kind, exid).writeTo(obj.map(Abi.Maps.OPT_CFG));
    }

    /** The one entry of the Maglev table of service 0. */
    private void maglevNames(final int backendId)
    {
        key.putInt(0, 0);
        value.setMemory(0, 64, (byte)0);
        value.putInt(0, backendId);
        obj.map("maglev_tables").update(key, value, BpfMap.UPDATE_ANY);
    }

    private void backend(final int id, final byte[] addr, final int port)
    {
        key.putInt(0, id);
        value.setMemory(0, 64, (byte)0);
        value.putBytes(Abi.Backend.ADDR, addr);
        value.putShort(Abi.Backend.PORT, (short)port, ByteOrder.BIG_ENDIAN);
        value.putShort(Abi.Backend.FLAGS, (short)SERVING);
        obj.map("backends").update(key, value, BpfMap.UPDATE_ANY);
    }

    private void vip(final byte[] addr, final int vipId, final int maglevBase, final int flags)
    {
        key.setMemory(0, 16, (byte)0);
        key.putBytes(Abi.VipKey.ADDR, addr);
        value.setMemory(0, 64, (byte)0);
        value.putInt(Abi.Vip.VIP_ID, vipId);
        value.putInt(Abi.Vip.FLAGS, flags);
        value.putInt(Abi.Vip.MAGLEV_BASE, maglevBase);
        value.putInt(Abi.Vip.MAGLEV_COUNT, 1);
        obj.map("vips").update(key, value, BpfMap.UPDATE_ANY);
    }
}
