package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.traffic.Crr;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bpf.testing.KernelRequired;
import io.crab.lb.LbAgent;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static io.crab.bench.cluster.CrabCluster.gauge;
import static io.crab.bench.cluster.CrabCluster.lbPackets;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * crab for real: clients, LB and servers in network namespaces, the daemons as processes, real sockets through
 * the VIP. One topology for the class; each test starts its own crab-lb.
 */
@ExtendWith(KernelRequired.class)
class RedirectEndToEndTest
{
    private static final String VIP_ALL_PORTS = Topology.vip(1);
    private static final String VIP_PORT_REDIRECT = Topology.vip(2);
    private static final int PORT = 80;
    private static final int BACKEND_PORT = 8080;

    private static RigCluster rig;
    private static Topology topology;
    private static CrabCluster cluster;
    private static Host client;
    private static Host plainClient;

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    @BeforeAll
    static void startCluster() throws Exception
    {
        rig = RigCluster.start(Topology.builder().clients(2).servers(3), logs, List.of(PORT, BACKEND_PORT),
            t -> Map.of(t.clients().get(0), List.of(VIP_ALL_PORTS, VIP_PORT_REDIRECT + ":" + PORT),
                t.clients().get(1), List.of()));
        topology = rig.topology();
        cluster = rig.cluster();
        client = topology.clients().get(0);
        plainClient = topology.clients().get(1);
        cluster.serveVip(VIP_ALL_PORTS, List.of(PORT));
    }

    @AfterAll
    static void stopCluster()
    {
        if (rig != null)
        {
            rig.close();
        }
    }

    /** Each test starts from an LB host without crab: stopping crab-lb alone would leave its program and state. */
    @AfterEach
    void removeLb()
    {
        cluster.detachLb();
    }

    @Test
    void connectionsThroughTheVipAreRedirectedAndTheLbSeesOnlyTheirSyns() throws Exception
    {
        cluster.startLb(backendLines(""), "--vip", VIP_ALL_PORTS, "--health-interval-ms", "60000");
        final Map<Host, Long> acceptedBefore = cluster.acceptedOnPort(PORT);
        final long packetsBefore = lbPackets(cluster.lbStatus());

        final int connections = 600;
        final LoadResult crr = Crr.run(LoadSpec.to(new InetSocketAddress(VIP_ALL_PORTS, PORT))
            .withPayloadBytes(64).withConcurrency(4).withMaxTransactions(connections)
            .withDuration(Duration.ofSeconds(60)).withThreadFactory(client.netns().threadFactory("crr")));
        assertEquals(connections, crr.transactions(), "every connection echoed its data: " + crr);
        assertEquals(0, crr.failureCount(), crr.toString());

        final int bulkConnections = 4;
        final int bulkBytes = 1 << 20;
        for (int i = 0; i < bulkConnections; i++)
        {
            assertBulkEcho(bulkBytes);
        }

        final MetricRegistry status = cluster.lbStatus();
        final long syns = gauge(status, "crab.lb.packets.tx_redirect");
        assertEquals(connections + bulkConnections, syns, "one redirected SYN per connection");
        final long lbSaw = lbPackets(status) - packetsBefore;
        assertTrue(lbSaw <= (connections + bulkConnections) * 1.05 + 20,
            "the LB saw about one packet per connection while " + bulkConnections * bulkBytes * 2 +
                " bytes flowed, but saw " + lbSaw);

        final Map<Host, Long> accepted = cluster.acceptedOnPort(PORT);
        for (final Host server : topology.servers())
        {
            final long got = accepted.get(server) - acceptedBefore.get(server);
            assertTrue(Math.abs(got - (connections + bulkConnections) / 3.0) <= 2,
                "round-robin gives each of 3 backends a third: " + server + " got " + got);
            assertEquals(got, gauge(status, "crab.lb.backend." + server.ip() + ".syns"), server.toString());
        }
    }

    @Test
    void aBackendOnAnotherPortThanTheVipWorksAndWeightsSplitTheConnections()
    {
        cluster.startLb(List.of(
            topology.servers().get(0).ip() + ":" + BACKEND_PORT + " weight=2",
            topology.servers().get(1).ip() + ":" + BACKEND_PORT,
            topology.servers().get(2).ip() + ":" + BACKEND_PORT),
            "--vip", VIP_PORT_REDIRECT + ":" + PORT, "--health-interval-ms", "60000");
        final Map<Host, Long> before = cluster.acceptedOnPort(BACKEND_PORT);

        final LoadResult crr = Crr.run(LoadSpec.to(new InetSocketAddress(VIP_PORT_REDIRECT, PORT))
            .withConcurrency(2).withMaxTransactions(400).withDuration(Duration.ofSeconds(60))
            .withThreadFactory(client.netns().threadFactory("crr")));
        assertEquals(400, crr.transactions(), crr.toString());

        final MetricRegistry status = cluster.lbStatus();
        final long[] redirected = topology.servers().stream()
            .mapToLong(s -> gauge(status, "crab.lb.backend." + s.ip() + ":" + BACKEND_PORT + ".syns")).toArray();
        assertArrayEquals(new long[] {200, 100, 100}, redirected, "weights 2:1:1, got " + Arrays.toString(redirected));
        final Map<Host, Long> after = cluster.acceptedOnPort(BACKEND_PORT);
        for (int i = 0; i < redirected.length; i++)
        {
            final Host server = topology.servers().get(i);
            assertTrue(after.get(server) - before.get(server) >= redirected[i],
                server + " accepted every connection redirected to it on port " + BACKEND_PORT);
        }
    }

    @Test
    void aBackendThatDiesGetsNoNewConnectionsAndComesBackWhenItRecovers() throws Exception
    {
        cluster.startLb(backendLines(""), "--vip", VIP_PORT_REDIRECT + ":" + PORT, "--health-interval-ms", "100");
        final Host dying = topology.servers().get(2);
        cluster.stopEcho(dying, PORT);
        try
        {
            awaitLog("backend " + dying.ip() + " is down");
            final LoadResult crr = Crr.run(LoadSpec.to(new InetSocketAddress(VIP_PORT_REDIRECT, PORT))
                .withMaxTransactions(100).withDuration(Duration.ofSeconds(30))
                .withThreadFactory(client.netns().threadFactory("crr")));
            assertEquals(100, crr.transactions(), "the living backends take every connection: " + crr);
            assertEquals(0, gauge(cluster.lbStatus(), "crab.lb.backend." + dying.ip() + ".syns"));
        }
        finally
        {
            cluster.startEcho(dying, PORT);
        }
        awaitLog("backend " + dying.ip() + " is up");
        final LoadResult again = Crr.run(LoadSpec.to(new InetSocketAddress(VIP_PORT_REDIRECT, PORT))
            .withMaxTransactions(30).withDuration(Duration.ofSeconds(30))
            .withThreadFactory(client.netns().threadFactory("crr")));
        assertEquals(30, again.transactions(), again.toString());
        assertTrue(gauge(cluster.lbStatus(), "crab.lb.backend." + dying.ip() + ".syns") > 0, "back in rotation");
    }

    /**
     * The LB's own pin directory, the one for its namespace and interface: bpffs is shared by every namespace, so
     * another crab-lb on the machine (another test run, an operator's) must not count.
     */
    private static boolean lbPinsExist()
    {
        return topology.lb().netns().call(() -> Files.isDirectory(LbAgent.pinDir(topology.lb().iface())));
    }

    private static void awaitLog(final String text) throws InterruptedException
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!cluster.lb().logText().contains(text))
        {
            assertTrue(System.nanoTime() < deadline, "crab-lb never logged '" + text + "':\n" + cluster.lb().logText());
            Thread.sleep(50);
        }
    }

    @Test
    void aLongLivedConnectionOutlivesTheClientAgentsFlowSweeps() throws Exception
    {
        cluster.startLb(backendLines(""), "--vip", VIP_ALL_PORTS);
        try (Socket s = client.netns().call(() ->
        {
            final Socket socket = new Socket();
            socket.connect(new InetSocketAddress(VIP_ALL_PORTS, PORT), 2000);
            socket.setSoTimeout(2000);
            return socket;
        }))
        {
            // The agent checks flows older than 2 s against the socket table every second: six seconds is
            // several sweeps. Java's sockets are dual-stack (AF_INET6, IPv4-mapped), which the sweep must see.
            for (int second = 0; second < 6; second++)
            {
                assertEcho(s, 16);
                Thread.sleep(1000);
            }
            assertEcho(s, 16);
        }
    }

    @Test
    void establishedConnectionsOutliveTheLbStoppedAndRemoved() throws Exception
    {
        cluster.startLb(backendLines(""), "--vip", VIP_ALL_PORTS);
        final List<Socket> sockets = new ArrayList<>();
        try
        {
            for (int i = 0; i < 12; i++)
            {
                sockets.add(client.netns().call(() ->
                {
                    final Socket s = new Socket();
                    s.connect(new InetSocketAddress(VIP_ALL_PORTS, PORT), 2000);
                    s.setSoTimeout(2000);
                    return s;
                }));
            }
            for (final Socket s : sockets)
            {
                assertEcho(s, 32);
            }
            assertEquals(0, cluster.lb().stop(), "crab-lb exits cleanly on SIGTERM:\n" + cluster.lb().logText());
            assertTrue(topology.exec(topology.lb(), "ip", "link", "show", "dev", "eth0").contains("xdp"),
                "stopping crab-lb leaves its program attached");
            assertTrue(lbPinsExist(), "and its state pinned");
            for (final Socket s : sockets)
            {
                assertEcho(s, 64);
            }
            cluster.detachLb();
            final String link = topology.exec(topology.lb(), "ip", "link", "show", "dev", "eth0");
            assertFalse(link.contains("xdp"), "crab-lb --detach removes the XDP program: " + link);
            assertFalse(lbPinsExist(), "and its pins");
            for (int round = 0; round < 20; round++)
            {
                for (final Socket s : sockets)
                {
                    assertEcho(s, 512);
                }
            }
        }
        finally
        {
            for (final Socket s : sockets)
            {
                s.close();
            }
        }
    }

    @Test
    void aClientWithoutCrabIsServedByTheHashingFallbackThroughTheLb()
    {
        cluster.startLb(backendLines(""), "--vip", VIP_ALL_PORTS);
        final LoadResult crr = Crr.run(LoadSpec.to(new InetSocketAddress(VIP_ALL_PORTS, PORT))
            .withMaxTransactions(30).withDuration(Duration.ofSeconds(20))
            .withThreadFactory(plainClient.netns().threadFactory("plain")));
        assertEquals(30, crr.transactions(), crr.toString());
        final MetricRegistry status = cluster.lbStatus();
        assertEquals(30, gauge(status, "crab.lb.packets.pass_unmarked"), "none of its SYNs carried the marker");
        assertEquals(30, gauge(status, "crab.lb.fallback.new"), "each was placed by the service's Maglev table");
        assertEquals(0, gauge(status, "crab.lb.packets.tx_redirect"));
    }

    private static List<String> backendLines(final String portSuffix)
    {
        return topology.servers().stream().map(s -> s.ip() + portSuffix).toList();
    }

    private static void assertBulkEcho(final int bytes) throws Exception
    {
        try (Socket s = client.netns().call(() ->
        {
            final Socket socket = new Socket();
            socket.connect(new InetSocketAddress(VIP_ALL_PORTS, PORT), 2000);
            socket.setSoTimeout(5000);
            return socket;
        }))
        {
            final byte[] data = new byte[bytes];
            for (int i = 0; i < bytes; i++)
            {
                data[i] = (byte)(i * 31 + 7);
            }
            final Thread writer = new Thread(() ->
            {
                try
                {
                    s.getOutputStream().write(data);
                }
                catch (final Exception ignored)
                {
                    // the reader below fails on a short echo
                }
            });
            writer.start();
            final byte[] echoed = s.getInputStream().readNBytes(bytes);
            writer.join();
            assertArrayEquals(data, echoed);
        }
    }

    private static void assertEcho(final Socket s, final int size) throws Exception
    {
        final byte[] data = new byte[size];
        Arrays.fill(data, (byte)size);
        final OutputStream out = s.getOutputStream();
        final InputStream in = s.getInputStream();
        out.write(data);
        assertArrayEquals(data, in.readNBytes(size));
    }
}
