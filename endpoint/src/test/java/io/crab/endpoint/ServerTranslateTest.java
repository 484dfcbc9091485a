package io.crab.endpoint;

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

import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fixture tests of the server program's side of the translating fallback: a SYN carrying the translation option
 * records the VIP for its tuple, and the connection's packets leave from the VIP. The SYNs are run in a namespace
 * of the test's own, where real sockets on 127.0.0.1 stand for the connections the kernel already has on a tuple.
 */
@ExtendWith(KernelRequired.class)
class ServerTranslateTest
{
    private static final int NEXT = Abi.Consts.CRAB_TC_NEXT;
    private static final byte[] LOCAL = ip("127.0.0.1");
    private static final byte[] VIP = ip("198.19.0.1");
    private static final byte[] OTHER_VIP = ip("198.19.0.66");
    private static final int VIP_PORT = 30080;

    private ScratchNamespace ns;
    private BpfObject server;
    private BpfProgram ingress;
    private BpfProgram egress;
    private ServerSocketChannel listener;
    private int serverPort;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[16]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[64]);

    @BeforeEach
    void load() throws Exception
    {
        ns = ScratchNamespace.create();
        server = Bpf.load("server_tc");
        ingress = server.program("crab_server_ingress");
        egress = server.program("crab_server_egress");
        key.putInt(0, 0);
        value.setMemory(0, 64, (byte)0);
        value.putByte(Abi.OptCfg.KIND, (byte)42);
        server.map(Abi.Maps.OPT_CFG).update(key, value, BpfMap.UPDATE_ANY);
        listener = ns.listen(ScratchNamespace.Stack.IPV4);
        serverPort = ((InetSocketAddress)listener.getLocalAddress()).getPort();
    }

    @AfterEach
    void close() throws Exception
    {
        try
        {
            listener.close();
            server.close();
        }
        finally
        {
            ns.close();
        }
    }

    @Test
    void aTranslatedSynIsRecordedAndTheConnectionAnswersFromTheVipWithoutAnEcho()
    {
        assertEquals(NEXT, in(syn(40000, VIP)));
        assertEquals(1, counter(Abi.Consts.CRAB_SV_TRANSLATION_RECORDED));
        assertTranslation(40000, VIP);

        final Frames.Tcp synAck = reply(SYN | ACK, 40000);
        synAck.options = LINUX_SYN_OPTIONS.clone();
        final Frames.Tcp expected = reply(SYN | ACK, 40000);
        expected.options = LINUX_SYN_OPTIONS.clone();
        expected.srcIp = VIP;
        expected.srcPort = VIP_PORT;
        assertArrayEquals(expected.build(), out(synAck.build()), "from the VIP, checksums valid, no option");

        final Frames.Tcp data = reply(ACK | PSH, 40000);
        data.payload = "hello, client".getBytes(StandardCharsets.US_ASCII);
        final Frames.Tcp expectedData = reply(ACK | PSH, 40000);
        expectedData.payload = data.payload;
        expectedData.srcIp = VIP;
        expectedData.srcPort = VIP_PORT;
        assertArrayEquals(expectedData.build(), out(data.build()));
        assertEquals(2, counter(Abi.Consts.CRAB_SV_REPLY_TRANSLATED));
    }

    @Test
    void packetsOfOtherConnectionsAreLeftAlone()
    {
        in(syn(40000, VIP));
        final byte[] other = reply(ACK, 40001).build();
        assertArrayEquals(other, out(other));
        final Frames.Tcp fromAnotherPort = reply(ACK, 40000);
        fromAnotherPort.srcPort = serverPort + 1;
        final byte[] frame = fromAnotherPort.build();
        assertArrayEquals(frame, out(frame));
        assertEquals(0, counter(Abi.Consts.CRAB_SV_REPLY_TRANSLATED));
    }

    @Test
    void aSynCannotChangeTheReplyAddressOfAConnectionUnderWayOnlyOfOneThatIsOver() throws Exception
    {
        final int port = 45_123;
        assertEquals(NEXT, in(syn(port, VIP)));
        try (ScratchNamespace.Connection c = connectFrom(port))
        {
            // A forged SYN naming another VIP, and one without the option: the live connection keeps its VIP.
            in(syn(port, OTHER_VIP));
            in(plainSyn(port));
            assertTranslation(port, VIP);
            assertEquals(2, counter(Abi.Consts.CRAB_SV_TRANSLATION_KEPT));
            c.server().close(); // the server closes first: its side ends in TIME_WAIT, the connection is over
            c.client().close();
        }
        final long deadline = System.nanoTime() + 5_000_000_000L;
        while (counter(Abi.Consts.CRAB_SV_TRANSLATION_RECORDED) < 2 && System.nanoTime() < deadline)
        {
            in(syn(port, OTHER_VIP));
            Thread.sleep(20);
        }
        assertTranslation(port, OTHER_VIP);
    }

    @Test
    void aForgedSynCannotMakeAPlainConnectionAnswerAsAVip() throws Exception
    {
        final int port = 45_124;
        try (ScratchNamespace.Connection c = connectFrom(port))
        {
            in(syn(port, VIP));
            assertEquals(1, counter(Abi.Consts.CRAB_SV_TRANSLATION_KEPT));
            assertFalse(server.map(Abi.Maps.TRANSLATIONS).lookup(flowKey(port), value), "nothing recorded");
            final byte[] data = reply(ACK, port).build();
            assertArrayEquals(data, out(data), "still from its own address");
        }
    }

    @Test
    void aPlainSynOnAnOverTupleEndsItsTranslation()
    {
        in(syn(40000, VIP));
        in(plainSyn(40000));
        assertFalse(server.map(Abi.Maps.TRANSLATIONS).lookup(flowKey(40000), value));
        final byte[] synAck = reply(SYN | ACK, 40000).build();
        assertArrayEquals(synAck, out(synAck));
    }

    private ScratchNamespace.Connection connectFrom(final int port)
    {
        return ns.netns().call(() ->
        {
            final java.nio.channels.SocketChannel client = ScratchNamespace.Stack.IPV4.openClient();
            client.bind(new InetSocketAddress("127.0.0.1", port));
            client.connect(listener.getLocalAddress());
            return new ScratchNamespace.Connection(client, listener.accept());
        });
    }

    private int in(final byte[] frame)
    {
        return ns.netns().call(() -> ingress.testRun(frame, 1).verdict());
    }

    private byte[] out(final byte[] frame)
    {
        return ns.netns().call(() ->
        {
            final BpfProgram.TestRun run = egress.testRun(frame, 1);
            assertEquals(NEXT, run.verdict());
            return run.frameOut();
        });
    }

    /** A SYN from the client at 127.0.0.1:clientPort, as the LB's translating fallback sends it on. */
    private Frames.Tcp synFrom(final int clientPort)
    {
        final Frames.Tcp p = new Frames.Tcp();
        p.srcIp = LOCAL;
        p.dstIp = LOCAL;
        p.srcPort = clientPort;
        p.dstPort = serverPort;
        return p;
    }

    private byte[] syn(final int clientPort, final byte[] vip)
    {
        final Frames.Tcp p = synFrom(clientPort);
        p.options = concat(LINUX_SYN_OPTIONS, bytes(42, 2 + Abi.Consts.CRAB_TRANSLATE_BODY), vip,
            bytes(VIP_PORT >> 8, VIP_PORT & 0xff, Abi.Consts.CRAB_TRANSLATE_REPLY_AS_VIP, 1, 1, 1));
        return p.build();
    }

    private byte[] plainSyn(final int clientPort)
    {
        return synFrom(clientPort).build();
    }

    private Frames.Tcp reply(final int flags, final int clientPort)
    {
        final Frames.Tcp p = new Frames.Tcp();
        p.srcIp = LOCAL;
        p.dstIp = LOCAL;
        p.srcPort = serverPort;
        p.dstPort = clientPort;
        p.flags = flags;
        p.seq = 5000;
        p.ack = 1001;
        p.options = new byte[0];
        return p;
    }

    private void assertTranslation(final int clientPort, final byte[] vip)
    {
        assertTrue(server.map(Abi.Maps.TRANSLATIONS).lookup(flowKey(clientPort), value), "translation recorded");
        final byte[] addr = new byte[4];
        value.getBytes(Abi.Translation.VIP_ADDR, addr);
        assertArrayEquals(vip, addr);
        assertEquals(VIP_PORT, value.getShort(Abi.Translation.VIP_PORT, ByteOrder.BIG_ENDIAN) & 0xffff);
    }

    private UnsafeBuffer flowKey(final int clientPort)
    {
        key.setMemory(0, 16, (byte)0);
        key.putBytes(Abi.FlowKey.LOCAL_ADDR, LOCAL);
        key.putBytes(Abi.FlowKey.REMOTE_ADDR, LOCAL);
        key.putShort(Abi.FlowKey.LOCAL_PORT, (short)serverPort, ByteOrder.BIG_ENDIAN);
        key.putShort(Abi.FlowKey.REMOTE_PORT, (short)clientPort, ByteOrder.BIG_ENDIAN);
        return key;
    }

    private long counter(final int index)
    {
        return new Counters(server.map(Abi.Maps.SERVER_COUNTERS)).sum(index);
    }
}
