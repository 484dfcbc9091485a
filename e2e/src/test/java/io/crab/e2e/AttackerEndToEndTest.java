package io.crab.e2e;

import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.traffic.Crr;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.PinnedMap;
import io.crab.bpf.frames.Frames;
import io.crab.bpf.testing.KernelRequired;
import io.crab.endpoint.EndpointAgent;
import io.crab.rig.Host;
import io.crab.rig.PacketSocket;
import io.crab.rig.Topology;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static io.crab.bpf.frames.Frames.ACK;
import static io.crab.bpf.frames.Frames.RST;
import static io.crab.bpf.frames.Frames.SYN;
import static io.crab.bpf.frames.Frames.bytes;
import static io.crab.bpf.frames.Frames.concat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A third host on the bridge forges packets against redirected connections, as an off-path attacker (who guesses
 * sequence numbers) and as one who saw the client's SYN (and so knows its ISN) would. Every forged packet must
 * leave the connection working and its state where it was.
 */
@ExtendWith(KernelRequired.class)
class AttackerEndToEndTest
{
    private static final String VIP1 = Topology.vip(1);
    private static final String VIP2 = Topology.vip(2);
    private static final int PORT = 80;

    private static RigCluster rig;
    private static Topology topology;
    private static CrabCluster cluster;
    private static Host client;
    private static Host attacker;

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    @BeforeAll
    static void startCluster() throws Exception
    {
        rig = RigCluster.start(Topology.builder().clients(2).servers(3), logs, List.of(PORT),
            t -> Map.of(t.clients().get(0), List.of(VIP1, VIP2), t.clients().get(1), List.of()));
        topology = rig.topology();
        cluster = rig.cluster();
        client = topology.clients().get(0);
        attacker = topology.clients().get(1);
        cluster.serveVip(VIP1, List.of(PORT));
        cluster.serveVip(VIP2, List.of(PORT));
        cluster.startLb(topology.servers().stream().map(Host::ip).toList(), "--vip", VIP1, "--vip", VIP2);
    }

    @AfterAll
    static void stopCluster()
    {
        if (rig != null)
        {
            rig.close();
        }
    }

    @Test
    void outOfWindowRstsFromSpoofedBackendAddressesLeaveARedirectedConnectionWorking() throws Exception
    {
        try (Socket s = Connections.connect(client, new InetSocketAddress(VIP1, PORT));
            PacketSocket raw = PacketSocket.open(attacker))
        {
            Connections.assertEchoes(s);
            final Flow before = flowOf(s, VIP1);
            final long resetsBefore = clientCounter("flow_reset");
            final Random random = new Random(42);
            for (final Host server : topology.servers())
            {
                for (int i = 0; i < 200; i++)
                {
                    final Frames.Tcp rst = forged(server.ip(), s.getLocalPort());
                    rst.flags = RST;
                    rst.seq = random.nextInt() & 0xffffffffL;
                    raw.send(rst.build());
                }
            }
            Connections.assertEchoes(s);
            assertEquals(before, flowOf(s, VIP1), "the flow's state is where it was");
            assertEquals(resetsBefore, clientCounter("flow_reset"), "no RST from outside removed state");
        }
    }

    @Test
    void aForgedSynAckWithTheOptionAfterDataWasExchangedChangesNothing() throws Exception
    {
        assertSynAcksAfterTheHandshakeChangeNothing(List.of(attacker.ip()));
    }

    @Test
    void aLateSynAckFromASecondBackendChangesNothing() throws Exception
    {
        final List<String> backends = topology.servers().stream().map(Host::ip).toList();
        assertSynAcksAfterTheHandshakeChangeNothing(backends);
    }

    /** SYN-ACKs naming VIP1 that acknowledge the client's real ISN, as anyone who saw its SYN could send. */
    private static void assertSynAcksAfterTheHandshakeChangeNothing(final List<String> sources) throws Exception
    {
        try (Socket s = Connections.connect(client, new InetSocketAddress(VIP1, PORT));
            PacketSocket raw = PacketSocket.open(attacker))
        {
            Connections.assertEchoes(s);
            final Flow before = flowOf(s, VIP1);
            final long lateBefore = clientCounter("redirect_late");
            for (final String source : sources)
            {
                final Frames.Tcp synAck = forged(source, s.getLocalPort());
                synAck.flags = SYN | ACK;
                synAck.seq = 777_777;
                synAck.ack = (before.synSeq + 1) & 0xffffffffL;
                synAck.options = concat(bytes(2, 4, 0x05, 0xb4), bytes(42, 6), Frames.ip(VIP1), bytes(1, 1));
                raw.send(synAck.build());
            }
            Connections.assertEchoes(s);
            Thread.sleep(100);
            Connections.assertEchoes(s);
            assertEquals(before, flowOf(s, VIP1), "the redirected flow still points at its backend");
            assertEquals(lateBefore + sources.size(), clientCounter("redirect_late"),
                "each forged SYN-ACK reached the client and was judged late");
        }
    }

    @Test
    void twoVipsSharingABackendPortUnderLoadBreakNoConnection() throws Exception
    {
        final InetSocketAddress vip1 = new InetSocketAddress(VIP1, PORT);
        final InetSocketAddress vip2 = new InetSocketAddress(VIP2, PORT);
        final List<Socket> pinnedPorts = new ArrayList<>();
        try (Connections busy1 = Connections.open(client, vip1, 0, 5);
            Connections busy2 = Connections.open(client, vip2, 0, 5))
        {
            for (int i = 0; i < 10; i++)
            {
                pinnedPorts.add(bound(50_001 + i, vip1));
            }
            final long busyBefore = clientCounter("syn_unmarked_port_busy");
            final long fallbackBefore = CrabCluster.gauge(cluster.lbStatus(), "crab.lb.fallback.new");
            // The same local ports towards VIP2: the LB may pick the backends the VIP1 connections use, whose
            // tuples are live there. Such a connection is not redirected but served through the LB by the hashing
            // fallback (its wire tuple is client to VIP2, which nothing else uses), and touches nothing.
            for (int i = 0; i < 10; i++)
            {
                try (Socket sameport = bound(50_001 + i, vip2))
                {
                    Connections.assertEchoes(sameport);
                }
            }
            assertEquals(busyBefore + 10, clientCounter("syn_unmarked_port_busy"));
            assertEquals(fallbackBefore + 10, CrabCluster.gauge(cluster.lbStatus(), "crab.lb.fallback.new"));

            final CompletableFuture<LoadResult> crr1 = CompletableFuture.supplyAsync(() -> crr(vip1, "crr1"));
            final CompletableFuture<LoadResult> crr2 = CompletableFuture.supplyAsync(() -> crr(vip2, "crr2"));
            final LoadResult r1 = crr1.get();
            final LoadResult r2 = crr2.get();
            final long unmarkedForPorts = clientCounter("syn_unmarked_port_busy") - busyBefore - 10;
            assertTrue(r1.transactions() + r2.transactions() >= 1600, r1 + " / " + r2);
            assertEquals(0, r1.failureCount() + r2.failureCount(), "the fallback serves what the client would not " +
                "redirect: " + r1 + " / " + r2 + ", port-busy SYNs " + unmarkedForPorts + "; client counters " +
                CrabCluster.endpointCounters(client, EndpointAgent.Role.CLIENT) + "; LB packets " +
                cluster.lbStatus().getGauges((n, m) -> n.startsWith("crab.lb.packets.")).entrySet().stream()
                    .filter(e -> ((Number)e.getValue().getValue()).longValue() != 0)
                    .map(e -> e.getKey().substring("crab.lb.packets.".length()) + "=" + e.getValue().getValue())
                    .toList());

            busy1.assertAllAlive("after the load");
            busy2.assertAllAlive("after the load");
            for (final Socket s : pinnedPorts)
            {
                Connections.assertEchoes(s);
            }
            assertEquals(0, clientCounter("redirect_collision"), "no redirect ever landed on a live tuple");
        }
        finally
        {
            for (final Socket s : pinnedPorts)
            {
                s.close();
            }
        }
    }

    private static LoadResult crr(final InetSocketAddress target, final String name)
    {
        return Crr.run(LoadSpec.to(target).withConcurrency(2).withMaxTransactions(1000)
            .withDuration(Duration.ofSeconds(60)).withThreadFactory(client.netns().threadFactory(name)));
    }

    /** A connection from a chosen local port; SO_REUSEADDR lets two sockets to different VIPs share it. */
    private static Socket bound(final int localPort, final InetSocketAddress target)
    {
        return client.netns().call(() ->
        {
            final Socket s = new Socket();
            try
            {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(client.ipAddress(), localPort));
                s.connect(target, 3000);
                s.setSoTimeout(5000);
                return s;
            }
            catch (final Exception ex)
            {
                s.close();
                throw ex;
            }
        });
    }

    /** A segment from {@code source}:80 to the client's port, sent from the attacker's own MAC. */
    private static Frames.Tcp forged(final String source, final int clientPort)
    {
        final Frames.Tcp tcp = new Frames.Tcp();
        tcp.srcMac = Frames.mac(attacker.mac());
        tcp.dstMac = Frames.mac(client.mac());
        tcp.srcIp = Frames.ip(source);
        tcp.dstIp = Frames.ip(client.ip());
        tcp.srcPort = PORT;
        tcp.dstPort = clientPort;
        tcp.ack = 0;
        tcp.options = new byte[0];
        return tcp;
    }

    private static long clientCounter(final String name)
    {
        return CrabCluster.endpointCounters(client, EndpointAgent.Role.CLIENT).get(name);
    }

    /** What the client's flow table says of a connection. */
    private record Flow(int state, String peer, int peerPort, long synSeq)
    {
    }

    private static Flow flowOf(final Socket s, final String vip)
    {
        return client.netns().call(() ->
        {
            final Path pin = EndpointAgent.pinDir(EndpointAgent.Role.CLIENT, client.iface()).resolve(Abi.Maps.FLOWS);
            try (PinnedMap flows = Bpf.openPinnedMap(pin.toString()))
            {
                final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
                final UnsafeBuffer value = new UnsafeBuffer(new byte[Abi.Flow.SIZE]);
                key.putBytes(Abi.FlowKey.LOCAL_ADDR, Frames.ip(client.ip()));
                key.putBytes(Abi.FlowKey.REMOTE_ADDR, Frames.ip(vip));
                key.putShort(Abi.FlowKey.LOCAL_PORT, (short)s.getLocalPort(), ByteOrder.BIG_ENDIAN);
                key.putShort(Abi.FlowKey.REMOTE_PORT, (short)PORT, ByteOrder.BIG_ENDIAN);
                assertTrue(flows.lookup(key, value), "the client has a flow for its connection");
                final byte[] peer = new byte[4];
                value.getBytes(Abi.Flow.PEER_ADDR, peer);
                return new Flow(value.getByte(Abi.Flow.STATE), (peer[0] & 0xff) + "." + (peer[1] & 0xff) + "." +
                    (peer[2] & 0xff) + "." + (peer[3] & 0xff), value.getShort(Abi.Flow.PEER_PORT, ByteOrder.BIG_ENDIAN),
                    value.getInt(Abi.Flow.SYN_SEQ) & 0xffffffffL);
            }
        });
    }
}
