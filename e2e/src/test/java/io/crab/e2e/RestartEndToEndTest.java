package io.crab.e2e;

import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.cluster.Daemon;
import io.crab.bench.traffic.Crr;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bpf.testing.KernelRequired;
import io.crab.endpoint.EndpointAgent;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static io.crab.bench.cluster.CrabCluster.gauge;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Restarts are routine: 100 idle and 10 busy redirected connections live through every daemon being stopped
 * (SIGTERM) or killed (SIGKILL) and started again, new connections work after each restart, and the restarted
 * daemon takes over the state its predecessor left pinned.
 */
@ExtendWith(KernelRequired.class)
class RestartEndToEndTest
{
    private static final String VIP = Topology.vip(1);
    private static final int PORT = 80;
    private static final InetSocketAddress TARGET = new InetSocketAddress(VIP, PORT);

    private static RigCluster rig;
    private static Topology topology;
    private static CrabCluster cluster;
    private static Host client;

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    @BeforeAll
    static void startCluster() throws Exception
    {
        rig = RigCluster.start(Topology.builder().clients(1).servers(3), logs, List.of(PORT),
            t -> Map.of(t.clients().get(0), List.of(VIP)));
        topology = rig.topology();
        cluster = rig.cluster();
        client = topology.clients().get(0);
        cluster.startLb(topology.servers().stream().map(Host::ip).toList(), "--vip", VIP);
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
    void redirectedConnectionsLiveThroughEveryDaemonStoppedOrKilledAndStartedAgain() throws Exception
    {
        try (Connections connections = Connections.open(client, TARGET, 100, 10))
        {
            connections.assertAllAlive("before any restart");
            final long redirectedBefore = gauge(cluster.lbStatus(), "crab.lb.packets.tx_redirect");
            assertTrue(redirectedBefore >= 110, "every connection was redirected: " + redirectedBefore);

            restart("crab-endpoint client, SIGTERM", cluster.endpoint(client), Daemon::stop,
                () -> cluster.restartEndpoint(client), connections);
            restart("crab-endpoint client, SIGKILL", cluster.endpoint(client), Daemon::kill,
                () -> cluster.restartEndpoint(client), connections);
            final Host server = topology.servers().get(0);
            restart("crab-endpoint server, SIGTERM", cluster.endpoint(server), Daemon::stop,
                () -> cluster.restartEndpoint(server), connections);
            restart("crab-endpoint server, SIGKILL", cluster.endpoint(server), Daemon::kill,
                () -> cluster.restartEndpoint(server), connections);
            restart("crab-lb, SIGKILL", cluster.lb(), Daemon::kill, cluster::restartLb, connections);

            final long redirectedAfter = gauge(cluster.lbStatus(), "crab.lb.packets.tx_redirect");
            assertTrue(redirectedAfter >= redirectedBefore + 5 * 40,
                "crab-lb status sees the state the killed crab-lb left, counters included: " + redirectedBefore +
                    " then " + redirectedAfter);
            assertEquals(0, CrabCluster.endpointCounters(client, EndpointAgent.Role.CLIENT).get("syn_unmarked_full"));
            assertTrue(connections.busyRounds() > 100, "the busy connections kept talking: " +
                connections.busyRounds());
        }
    }

    /** Stops a daemon one way, checks the connections while it is down, starts it again and checks once more. */
    private static void restart(final String what, final Daemon daemon, final Consumer<Daemon> stop,
        final Runnable start, final Connections connections)
    {
        stop.accept(daemon);
        connections.assertAllAlive("while " + what + " is down");
        assertNewConnectionsWork("while " + what + " is down");
        start.run();
        final Daemon again = what.startsWith("crab-lb") ? cluster.lb() : daemonOf(what);
        assertTrue(again.logText().contains("took over"), what + ": the new daemon adopts the pinned data path:\n" +
            again.logText());
        connections.assertAllAlive("after " + what);
        assertNewConnectionsWork("after " + what);
    }

    private static Daemon daemonOf(final String what)
    {
        return cluster.endpoint(what.contains("client") ? client : topology.servers().get(0));
    }

    private static void assertNewConnectionsWork(final String when)
    {
        final LoadResult crr = Crr.run(LoadSpec.to(TARGET).withMaxTransactions(20)
            .withDuration(Duration.ofSeconds(20)).withThreadFactory(client.netns().threadFactory("crr")));
        assertEquals(20, crr.transactions(), "new connections " + when + ": " + crr);
        assertEquals(0, crr.failureCount(), "new connections " + when + ": " + crr);
    }
}
