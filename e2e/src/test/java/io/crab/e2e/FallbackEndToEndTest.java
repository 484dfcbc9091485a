package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.traffic.Crr;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bpf.frames.Frames;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.Host;
import io.crab.rig.PacketSocket;
import io.crab.rig.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Clients that do not speak crab, served through the LB by hashing: their packets reach the backends through the
 * LB, the backends answer them directly (they have the VIP on their loopback), and a connection keeps its backend
 * while the backend set changes.
 */
@ExtendWith(KernelRequired.class)
class FallbackEndToEndTest
{
    private static final String VIP = Topology.vip(1);
    private static final int PORT = 80;
    private static final InetSocketAddress TARGET = new InetSocketAddress(VIP, PORT);

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    private static RigCluster rig;
    private static Topology topology;
    private static CrabCluster cluster;
    private static Host crabClient;
    private static Host plainClient;

    @BeforeAll
    static void startCluster()
    {
        rig = RigCluster.start(Topology.builder().clients(2).servers(4), logs, List.of(PORT),
            t -> Map.of(t.clients().get(0), List.of(VIP), t.clients().get(1), List.of()));
        topology = rig.topology();
        cluster = rig.cluster();
        crabClient = topology.clients().get(0);
        plainClient = topology.clients().get(1);
        cluster.serveVip(VIP, List.of(PORT));
    }

    @AfterAll
    static void stopCluster()
    {
        if (rig != null)
        {
            rig.close();
        }
    }

    @AfterEach
    void removeLb()
    {
        cluster.detachLb();
    }

    @Test
    void plainClientsAreServedByHashThroughTheLbAndAnsweredDirectly()
    {
        cluster.startLbWithServices(service(List.of(0, 1, 2), List.of()), "--health-interval-ms", "60000");
        final Map<Host, Long> before = cluster.acceptedOnPort(PORT);
        final long lbPacketsBefore = CrabCluster.lbPackets(cluster.lbStatus());
        final LoadResult crr = crr(plainClient, 600);
        assertEquals(600, crr.transactions(), crr.toString());
        assertEquals(0, crr.failureCount(), crr.toString());

        final Map<Host, Long> after = cluster.acceptedOnPort(PORT);
        for (int i = 0; i < 3; i++)
        {
            final long got = after.get(topology.servers().get(i)) - before.get(topology.servers().get(i));
            assertTrue(got > 120 && got < 280, "hashing spreads 600 connections over 3 backends: " + i + " got " + got);
        }
        final MetricRegistry status = cluster.lbStatus();
        assertEquals(600, CrabCluster.gauge(status, "crab.lb.fallback.new"), "each SYN placed by Maglev");
        final long lbPackets = CrabCluster.lbPackets(status) - lbPacketsBefore;
        // Client to server: SYN, ACK, request, FIN, ACK (at least 5); the replies (SYN-ACK, response, FIN, ACK)
        // never reach the LB. A proxy or a NAT sees both directions, 9 or more.
        assertTrue(lbPackets >= 600 * 5 && lbPackets < 600 * 7, "only the client's packets cross the LB: " +
            lbPackets + " for 600 connections");
    }

    @Test
    void crabAndPlainClientsAtOnceAreEachServedTheirWay() throws Exception
    {
        cluster.startLbWithServices(service(List.of(0, 1, 2), List.of()), "--health-interval-ms", "60000");
        final MetricRegistry before = cluster.lbStatus();
        final CompletableFuture<LoadResult> crab = CompletableFuture.supplyAsync(() -> crr(crabClient, 400));
        final CompletableFuture<LoadResult> plain = CompletableFuture.supplyAsync(() -> crr(plainClient, 400));
        assertEquals(400, crab.get().transactions(), crab.get().toString());
        assertEquals(400, plain.get().transactions(), plain.get().toString());
        final MetricRegistry after = cluster.lbStatus();
        assertEquals(400, CrabCluster.gauge(after, "crab.lb.packets.tx_redirect") -
            CrabCluster.gauge(before, "crab.lb.packets.tx_redirect"), "the crab client's SYNs were redirected");
        assertEquals(400, CrabCluster.gauge(after, "crab.lb.fallback.new") -
            CrabCluster.gauge(before, "crab.lb.fallback.new"), "the plain client's went by the fallback");
    }

    @Test
    void longLivedFallbackConnectionsSurviveABackendAddedAndAnotherDrained() throws Exception
    {
        cluster.startLbWithServices(service(List.of(0, 1, 2), List.of()), "--health-interval-ms", "60000");
        try (Connections open = Connections.open(plainClient, TARGET, 190, 10))
        {
            open.assertAllAlive("before the change");
            cluster.writeServices(service(List.of(0, 1, 2, 3), List.of(0)));
            awaitLog("backend " + topology.servers().get(3).ip() + " added");
            awaitLog("active -> draining");
            awaitInTable(topology.servers().get(3).ip());
            open.assertAllAlive("after s4 was added and s1 drained");

            final Map<Host, Long> before = cluster.acceptedOnPort(PORT);
            assertEquals(300, crr(plainClient, 300).transactions());
            final Map<Host, Long> after = cluster.acceptedOnPort(PORT);
            assertEquals(0, after.get(topology.servers().get(0)) - before.get(topology.servers().get(0)),
                "the drained backend gets no new connection");
            assertTrue(after.get(topology.servers().get(3)) - before.get(topology.servers().get(3)) > 40,
                "the added one does");
            open.assertAllAlive("after new connections were spread over the new set");
        }
    }

    @Test
    void aBackendThatDoesNotEchoTheOptionGetsOnlyFallbackConnections() throws Exception
    {
        cluster.startLbWithServices(service(List.of(0, 1, 2), List.of()), "--health-interval-ms", "100");
        final Host silent = topology.servers().get(2);
        cluster.detachEndpoint(silent);
        try
        {
            awaitLog("backend " + silent.ip() + " does not echo the option");
            final String prefix = "crab.lb.backend." + silent.ip();
            final MetricRegistry before = cluster.lbStatus();
            assertEquals(0, CrabCluster.gauge(before, prefix + ".compliant"), "status shows it");
            assertEquals(300, crr(crabClient, 300).transactions());
            assertEquals(300, crr(plainClient, 300).transactions());
            final MetricRegistry after = cluster.lbStatus();
            assertEquals(0, CrabCluster.gauge(after, prefix + ".syns") - CrabCluster.gauge(before, prefix + ".syns"),
                "no redirected connection for a backend that would not echo");
            assertTrue(CrabCluster.gauge(after, prefix + ".fallbacks") -
                CrabCluster.gauge(before, prefix + ".fallbacks") > 50, "but its share of the fallback's");
        }
        finally
        {
            cluster.restartEndpoint(silent);
        }
        awaitLog("backend " + silent.ip() + " echoes the option again");
    }

    /**
     * An off-path attacker on a third host (s4, outside the service) sprays SYNs for the tuples of live fallback connections (guessing their
     * ports is cheap), with the client's address and random ISNs, while their backend drains and Maglev would place
     * a new connection elsewhere. Were a SYN to place its tuple again, the connection's next packets would reach
     * another backend and be reset.
     */
    @Test
    void forgedSynsForTheTuplesOfLiveConnectionsMoveNoneOfThem() throws Exception
    {
        cluster.startLbWithServices(service(List.of(0, 1, 2), List.of()), "--health-interval-ms", "60000");
        final Host attacker = topology.servers().get(3);
        final List<Socket> live = new ArrayList<>();
        try (PacketSocket raw = PacketSocket.open(attacker))
        {
            for (int i = 0; i < 30; i++)
            {
                live.add(Connections.connect(plainClient, TARGET));
                Connections.assertEchoes(live.get(i));
            }
            cluster.writeServices(service(List.of(0, 1, 2), List.of(0)));
            awaitLog("active -> draining");
            final long placedBefore = CrabCluster.gauge(cluster.lbStatus(), "crab.lb.fallback.new");
            final Random random = new Random(7);
            for (final Socket s : live)
            {
                for (int i = 0; i < 20; i++)
                {
                    final Frames.Tcp syn = new Frames.Tcp();
                    syn.srcMac = Frames.mac(attacker.mac());
                    syn.dstMac = Frames.mac(topology.lb().mac());
                    syn.srcIp = Frames.ip(plainClient.ip());
                    syn.dstIp = Frames.ip(VIP);
                    syn.srcPort = s.getLocalPort();
                    syn.seq = random.nextInt() & 0xffffffffL;
                    raw.send(syn.build());
                }
            }
            for (final Socket s : live)
            {
                Connections.assertEchoes(s);
            }
            assertEquals(placedBefore, CrabCluster.gauge(cluster.lbStatus(), "crab.lb.fallback.new"),
                "no forged SYN placed a tuple again");
        }
        finally
        {
            live.forEach(Connections::closeQuietly);
        }
    }

    /** Service web on the VIP over the servers at {@code indexes}, those at {@code draining} draining. */
    private static List<String> service(final List<Integer> indexes, final List<Integer> draining)
    {
        final List<String> lines = new java.util.ArrayList<>(List.of("service web", "  vip " + VIP + ":" + PORT));
        for (final int i : indexes)
        {
            lines.add("  backend " + topology.servers().get(i).ip() + (draining.contains(i) ? " draining" : ""));
        }
        return lines;
    }

    private static LoadResult crr(final Host client, final int connections)
    {
        return Crr.run(LoadSpec.to(TARGET).withMaxTransactions(connections).withDuration(Duration.ofSeconds(60))
            .withThreadFactory(client.netns().threadFactory("crr-" + client.name())));
    }

    /** Waits until the service's published table includes the backend (its next hop resolved), at most a second. */
    private static void awaitInTable(final String backend) throws InterruptedException
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(1).toNanos();
        while (!cluster.lbStatus().getGauges().containsKey("crab.service.web.weight." + backend))
        {
            assertTrue(System.nanoTime() < deadline, backend + " was not in the table within a second");
            Thread.sleep(20);
        }
    }

    private static void awaitLog(final String text) throws InterruptedException
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (!cluster.lb().logText().contains(text))
        {
            assertTrue(System.nanoTime() < deadline, "crab-lb never logged '" + text + "':\n" + cluster.lb().logText());
            Thread.sleep(20);
        }
    }
}
