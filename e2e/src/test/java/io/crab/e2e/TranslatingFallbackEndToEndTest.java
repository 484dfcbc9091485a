package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
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

import static io.crab.bpf.frames.Frames.LINUX_SYN_OPTIONS;
import static io.crab.bpf.frames.Frames.bytes;
import static io.crab.bpf.frames.Frames.concat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The translating fallback as a NodePort needs it: a client without crab connects to VIP:30080, and the LB sends its
 * packets to a backend at 198.18.1.101:8080, behind a router on another subnet, which has no VIP on any interface
 * and listens only on its own address. The backend's crab-endpoint server answers as the VIP, straight to the
 * client (never through the LB), and its application sees the client's own address.
 */
@ExtendWith(KernelRequired.class)
class TranslatingFallbackEndToEndTest
{
    private static final String VIP = Topology.vip(1);
    private static final int VIP_PORT = 30080;
    private static final int BACKEND_PORT = 8080;
    private static final InetSocketAddress TARGET = new InetSocketAddress(VIP, VIP_PORT);

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    private static RigCluster rig;
    private static Topology topology;
    private static CrabCluster cluster;
    private static Host client;
    private static Host attacker;
    private static Host backend;

    @BeforeAll
    static void startCluster() throws InterruptedException
    {
        rig = RigCluster.start(Topology.builder().clients(2).servers(1).routedServers(1), logs,
            List.of(BACKEND_PORT), t -> Map.of());
        topology = rig.topology();
        cluster = rig.cluster();
        client = topology.clients().get(0);
        attacker = topology.clients().get(1);
        backend = topology.servers().get(0);
        assertTrue(backend.routed(), "the backend sits behind the router");
        cluster.startLbWithServices(List.of("service node-port", "  vip " + VIP + ":" + VIP_PORT,
            "  fallback translate", "  backend " + backend.ip() + ":" + BACKEND_PORT), "--health-interval-ms", "60000");
        awaitInTable();
    }

    /** Waits until the service's published table has the backend (its next hop, the router, resolved). */
    private static void awaitInTable() throws InterruptedException
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (cluster.lbStatus().getGauges((name, m) -> name.startsWith("crab.service.node-port.weight.")).isEmpty())
        {
            assertTrue(System.nanoTime() < deadline, "the backend never entered the table:\n" +
                cluster.lb().logText());
            Thread.sleep(20);
        }
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
    void aPlainClientReachesARoutedBackendOnAnotherPortAndHearsFromTheVip() throws Exception
    {
        assertFalse(topology.exec(backend, "ip", "-o", "addr").contains(VIP), "the backend does not hold the VIP");
        final MetricRegistry before = cluster.lbStatus();
        try (Socket s = Connections.connect(client, TARGET))
        {
            // Established at all means the SYN-ACK came from VIP:30080: the client's kernel resets any other.
            Connections.assertEchoes(s);
            final String sockets = topology.exec(backend, "ss", "-Htn", "state", "established", "( sport = :" +
                BACKEND_PORT + " )");
            // ss writes a dual-stack socket's addresses IPv4-mapped, [::ffff:A.B.C.D]:PORT.
            assertTrue(sockets.replace("[::ffff:", "").replace("]", "").contains(client.ip() + ":" + s.getLocalPort()),
                "the backend's socket has the client's own address: " + sockets);
        }
        final LoadResult crr = Crr.run(LoadSpec.to(TARGET).withMaxTransactions(200).withDuration(Duration.ofSeconds(60))
            .withThreadFactory(client.netns().threadFactory("crr-" + client.name())));
        assertEquals(200, crr.transactions(), crr.toString());
        assertEquals(0, crr.failureCount(), crr.toString());

        final MetricRegistry after = cluster.lbStatus();
        assertEquals(201, CrabCluster.gauge(after, "crab.lb.fallback.new") -
            CrabCluster.gauge(before, "crab.lb.fallback.new"), "each SYN placed by the fallback");
        final long translated = CrabCluster.gauge(after, "crab.lb.fallback.translated") -
            CrabCluster.gauge(before, "crab.lb.fallback.translated");
        assertTrue(translated >= 201 * 4, "the client's packets were translated: " + translated);
        final Map<String, Long> server = CrabCluster.endpointCounters(backend, EndpointAgent.Role.SERVER);
        assertTrue(server.get("translation_recorded") >= 201, server.toString());
        assertTrue(server.get("reply_translated") >= 201 * 3, server.toString());
        assertEquals(server.get("syn_option_seen"), server.get("synack_echoed"),
            "the only echoes answer the LB's compliance probes, never a translated connection: " + server);
    }

    /** The handshake record can go (here all of them at once, as a flood of forged SYNs would evict them). */
    @Test
    void anEstablishedConnectionAnswersAsTheVipWithoutItsHandshakeRecord() throws Exception
    {
        try (Socket s = Connections.connect(client, TARGET))
        {
            Connections.assertEchoes(s);
            final int removed = backend.netns().call(() ->
            {
                try (PinnedMap map = Bpf.openPinnedMap(pin(Abi.Maps.TRANSLATIONS)))
                {
                    final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
                    int n = 0;
                    while (map.nextKey(null, key))
                    {
                        map.delete(key);
                        n++;
                    }
                    return n;
                }
            });
            assertTrue(removed > 0, "there were records to remove");
            for (int i = 0; i < 20; i++)
            {
                Connections.assertEchoes(s);
            }
        }
    }

    /**
     * The records and the LB's connection table are pinned: a translated connection outlives the server endpoint
     * killed and started again, and crab-lb killed and started again, and new connections work after each.
     */
    @Test
    void aTranslatedConnectionOutlivesRestartsOfTheServerEndpointAndTheLb() throws Exception
    {
        try (Socket s = Connections.connect(client, TARGET))
        {
            Connections.assertEchoes(s);
            cluster.endpoint(backend).kill();
            Connections.assertEchoes(s);
            cluster.restartEndpoint(backend);
            assertTrue(cluster.endpoint(backend).logText().contains("took over"), cluster.endpoint(backend).logText());
            Connections.assertEchoes(s);
            try (Socket fresh = Connections.connect(client, TARGET))
            {
                Connections.assertEchoes(fresh);
            }
            cluster.lb().kill();
            Connections.assertEchoes(s);
            cluster.restartLb();
            assertTrue(cluster.lb().logText().contains("took over"), cluster.lb().logText());
            Connections.assertEchoes(s);
            try (Socket fresh = Connections.connect(client, TARGET))
            {
                Connections.assertEchoes(fresh);
            }
        }
    }

    /**
     * An attacker on a third host sends SYNs straight to the backend, with the client's address and the ports of its
     * live connections: with the translation option naming another VIP, and without it. The kernel answers each as
     * RFC 5961 says (a challenge ACK, from the VIP), and no connection's reply address changes.
     */
    @Test
    void forgedSynsStraightToTheBackendChangeNoLiveConnectionsReplies() throws Exception
    {
        final List<Socket> live = new ArrayList<>();
        final long keptBefore = CrabCluster.endpointCounters(backend, EndpointAgent.Role.SERVER)
            .get("translation_kept");
        try (PacketSocket raw = PacketSocket.open(attacker))
        {
            for (int i = 0; i < 10; i++)
            {
                live.add(Connections.connect(client, TARGET));
                Connections.assertEchoes(live.get(i));
            }
            final Random random = new Random(11);
            for (final Socket s : live)
            {
                for (final byte[] options : new byte[][] {LINUX_SYN_OPTIONS, concat(LINUX_SYN_OPTIONS,
                    bytes(42, 2 + Abi.Consts.CRAB_TRANSLATE_BODY), Frames.ip("198.19.0.66"),
                    bytes(0, 80, Abi.Consts.CRAB_TRANSLATE_REPLY_AS_VIP, 1, 1, 1))})
                {
                    final Frames.Tcp syn = new Frames.Tcp();
                    syn.srcMac = Frames.mac(attacker.mac());
                    syn.dstMac = Frames.mac(topology.router().mac());
                    syn.srcIp = Frames.ip(client.ip());
                    syn.dstIp = Frames.ip(backend.ip());
                    syn.srcPort = s.getLocalPort();
                    syn.dstPort = BACKEND_PORT;
                    syn.seq = random.nextInt() & 0xffffffffL;
                    syn.options = options;
                    raw.send(syn.build());
                }
            }
            final long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (CrabCluster.endpointCounters(backend, EndpointAgent.Role.SERVER).get("translation_kept") <
                keptBefore + 20)
            {
                assertTrue(System.nanoTime() < deadline, "the backend saw the forged SYNs");
                Thread.sleep(20);
            }
            for (final Socket s : live)
            {
                Connections.assertEchoes(s);
                assertArrayEquals(Frames.ip(VIP), recordedVip(s.getLocalPort()), "still answers as the VIP");
            }
        }
        finally
        {
            live.forEach(Connections::closeQuietly);
        }
    }

    /** The VIP the backend's record for the client's port names. */
    private static byte[] recordedVip(final int clientPort)
    {
        return backend.netns().call(() ->
        {
            try (PinnedMap map = Bpf.openPinnedMap(pin(Abi.Maps.TRANSLATIONS)))
            {
                final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
                final UnsafeBuffer value = new UnsafeBuffer(new byte[Abi.Translation.SIZE]);
                key.putBytes(Abi.FlowKey.LOCAL_ADDR, Frames.ip(backend.ip()));
                key.putBytes(Abi.FlowKey.REMOTE_ADDR, Frames.ip(client.ip()));
                key.putShort(Abi.FlowKey.LOCAL_PORT, (short)BACKEND_PORT, ByteOrder.BIG_ENDIAN);
                key.putShort(Abi.FlowKey.REMOTE_PORT, (short)clientPort, ByteOrder.BIG_ENDIAN);
                assertTrue(map.lookup(key, value), "record of client port " + clientPort);
                final byte[] vip = new byte[4];
                value.getBytes(Abi.Translation.VIP_ADDR, vip);
                return vip;
            }
        });
    }

    private static String pin(final String map)
    {
        return EndpointAgent.pinDir(EndpointAgent.Role.SERVER, backend.iface()).resolve(map).toString();
    }
}
