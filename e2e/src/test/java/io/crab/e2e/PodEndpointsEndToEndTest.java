package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
import io.crab.agent.HostPort;
import io.crab.agent.Log;
import io.crab.agent.PinnedDatapath;
import io.crab.agent.Pins;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.traffic.EchoServer;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.PinnedMap;
import io.crab.bpf.testing.KernelRequired;
import io.crab.endpoint.EndpointAgent;
import io.crab.endpoint.EndpointAgent.Role;
import io.crab.endpoint.pods.PodEndpoints;
import io.crab.rig.Host;
import io.crab.rig.NetnsDir;
import io.crab.rig.Topology;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;

import static io.crab.bench.cluster.CrabCluster.gauge;
import static io.crab.bench.cluster.CrabCluster.lbPackets;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Two "pods" of one node, the rig's two clients, whose namespaces are bound in a directory as a container runtime
 * binds its pods' ({@code cni-<uuid>}); crab-lb on the rig's LB with two Service VIPs whose backend is pod B's
 * echo server; the pods manager, on its own thread as crab-k8s runs it, attaching crab-endpoint's client and
 * server in both pods. Pod A's connections to the VIPs are redirected to pod B, whose server program echoes the
 * option while its client program sits on the same hooks: the LB sees only their SYNs. A VIP given to the
 * manager while it runs is redirected from then on, a restart of the manager breaks no established connection,
 * and a pod whose file goes loses its programs and pins.
 */
@ExtendWith(KernelRequired.class)
class PodEndpointsEndToEndTest
{
    private static final String IFACE = "eth0";
    private static final int PORT = 80;
    private static final int BACKEND_PORT = 8080;
    private static final HostPort VIP_1 = HostPort.parse(Topology.vip(1) + ":" + PORT);
    private static final HostPort VIP_2 = HostPort.parse(Topology.vip(2) + ":" + PORT);
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String POD_A = "cni-2f7c1a44-0b5e-4f8e-9d0c-a1";
    private static final String POD_B = "cni-9e41d0b7-6c2a-4d13-8f5e-b2";

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    private static RigCluster rig;
    private static CrabCluster cluster;
    private static Host podA;
    private static Host podB;
    private static EchoServer backend;

    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private final StringWriter logText = new StringWriter();
    private NetnsDir netnsDir;
    private Path stateDir;
    private PodEndpoints manager;
    private AgentRunner runner;

    @BeforeAll
    static void startCluster() throws Exception
    {
        rig = RigCluster.start(Topology.builder().clients(2).servers(1), logs, List.of(), t -> Map.of());
        cluster = rig.cluster();
        podA = rig.topology().clients().get(0);
        podB = rig.topology().clients().get(1);
        backend = podB.netns().call(() -> EchoServer.start(new InetSocketAddress(podB.ipAddress(), BACKEND_PORT)));
        final String pod = podB.ip() + ":" + BACKEND_PORT;
        cluster.startLbWithServices(List.of(
            "service one", "  vip " + VIP_1, "  backend " + pod,
            "service two", "  vip " + VIP_2, "  backend " + pod), "--health-interval-ms", "60000");
    }

    @AfterAll
    static void stopCluster()
    {
        try
        {
            if (backend != null)
            {
                backend.close();
            }
        }
        finally
        {
            if (rig != null)
            {
                rig.close();
            }
        }
    }

    @BeforeEach
    void bindPods()
    {
        netnsDir = NetnsDir.create();
        netnsDir.bind(podA.netns(), POD_A);
        netnsDir.bind(podB.netns(), POD_B);
        stateDir = Pins.BPFFS.resolve("crab-podtest-" + Integer.toHexString(ThreadLocalRandom.current().nextInt()));
    }

    /** Stops the manager and takes both roles off both pods, so that each test starts from pods without crab. */
    @AfterEach
    void removeCrabFromThePods()
    {
        try
        {
            stopManager();
            for (final Host pod : List.of(podA, podB))
            {
                for (final Role role : Role.values())
                {
                    pod.netns().run(() -> PinnedDatapath.detach(EndpointAgent.pinDir(role, IFACE)));
                }
            }
            Pins.remove(stateDir);
        }
        finally
        {
            netnsDir.close();
        }
    }

    @Test
    void aPodsConnectionsToVipsAreRedirectedToTheBackendPodAndAVipGivenLiveIsToo() throws Exception
    {
        startManager();
        manager.vips(Set.of(VIP_1));
        awaitAttached(Set.of(POD_A, POD_B));

        final MetricRegistry before = cluster.lbStatus();
        final Map<String, Long> clientBefore = CrabCluster.endpointCounters(podA, Role.CLIENT);
        final Map<String, Long> serverBefore = CrabCluster.endpointCounters(podB, Role.SERVER);
        final long acceptedBefore = backend.connectionsAccepted();
        try (Socket first = Connections.connect(podA, target(VIP_1)))
        {
            for (int i = 0; i < 20; i++)
            {
                Connections.assertEchoes(first);
            }
            // Given while a connection to the first VIP is open: the new VIP set must leave it alone.
            manager.vips(Set.of(VIP_1, VIP_2));
            awaitTrue(() -> podVipsInclude(VIP_2), "pod A's client given the second VIP");
            try (Socket second = Connections.connect(podA, target(VIP_2)))
            {
                for (int i = 0; i < 20; i++)
                {
                    Connections.assertEchoes(second);
                    Connections.assertEchoes(first);
                }
            }
        }

        final MetricRegistry after = cluster.lbStatus();
        assertEquals(2, backend.connectionsAccepted() - acceptedBefore, "both connections reached pod B");
        assertEquals(2, gauge(after, "crab.lb.packets.tx_redirect") - gauge(before, "crab.lb.packets.tx_redirect"),
            "the LB redirected one SYN per connection");
        final long lbSaw = lbPackets(after) - lbPackets(before);
        assertTrue(lbSaw <= 4, "the LB saw the two SYNs (and at most a retransmission each) while 80 " +
            "round trips went between the pods, but saw " + lbSaw);
        assertEquals(2, delta(clientBefore, CrabCluster.endpointCounters(podA, Role.CLIENT), "redirect_accepted"),
            "pod A's client took both redirects");
        assertEquals(2, delta(serverBefore, CrabCluster.endpointCounters(podB, Role.SERVER), "synack_echoed"),
            "pod B's server, behind its client on the same hooks, echoed both");
        assertEquals(List.of(), errors);
    }

    @Test
    void aRestartOfTheManagerBreaksNoEstablishedConnectionAndTakesThePodsOver() throws Exception
    {
        startManager();
        manager.vips(Set.of(VIP_1));
        awaitAttached(Set.of(POD_A, POD_B));
        final long redirectedBefore = gauge(cluster.lbStatus(), "crab.lb.packets.tx_redirect");
        try (Connections open = Connections.open(podA, target(VIP_1), 20, 4))
        {
            open.assertAllAlive("before the restart");
            stopManager();
            open.assertAllAlive("while the manager is stopped");

            startManager();
            manager.vips(Set.of(VIP_1));
            awaitAttached(Set.of(POD_A, POD_B));
            final long rounds = open.busyRounds();
            awaitTrue(() -> open.busyRounds() > rounds + 100, "the busy connections echo on");
            open.assertAllAlive("after the restart");
            assertTrue(logText.toString().contains("took over the programs and state pinned in " +
                EndpointAgent.pinDir(Role.CLIENT, netnsDir.inode(POD_A), IFACE)), logText::toString);

            try (Socket fresh = Connections.connect(podA, target(VIP_1)))
            {
                Connections.assertEchoes(fresh);
            }
        }
        assertEquals(25, gauge(cluster.lbStatus(), "crab.lb.packets.tx_redirect") - redirectedBefore,
            "every connection, before and after the restart, redirected");
        assertEquals(List.of(), errors);
    }

    @Test
    void aPodWhoseNamespaceFileGoesLosesItsProgramsAndPins() throws Exception
    {
        startManager();
        manager.vips(Set.of(VIP_1));
        awaitAttached(Set.of(POD_A, POD_B));
        final long inodeA = netnsDir.inode(POD_A);
        final Path marker = stateDir.resolve(inodeA + "-" + POD_A);
        assertTrue(Files.isDirectory(marker), "pod A marked as this manager's");

        netnsDir.hide(POD_A);
        awaitAttached(Set.of(POD_B));
        awaitTrue(() -> !Files.exists(EndpointAgent.pinDir(Role.CLIENT, inodeA, IFACE)) &&
            !Files.exists(EndpointAgent.pinDir(Role.SERVER, inodeA, IFACE)) && !Files.exists(marker),
            "pod A's pins and marker removed");
        assertTrue(Files.isDirectory(EndpointAgent.pinDir(Role.SERVER, netnsDir.inode(POD_B), IFACE)),
            "pod B's stay");

        // The namespace itself lives on here (the rig holds it), without crab: its SYNs to a VIP go unmarked, and
        // the LB has no fallback for this VIP (pod B does not own it), so the connection is refused or times out.
        final MetricRegistry before = cluster.lbStatus();
        try (Socket unmarked = podA.netns().call(() ->
        {
            final Socket s = new Socket();
            try
            {
                s.connect(target(VIP_1), 1000);
            }
            catch (final IOException expected)
            {
                // not served: what is measured is what the LB saw
            }
            return s;
        }))
        {
            awaitTrue(() -> gauge(cluster.lbStatus(), "crab.lb.packets.pass_unmarked") >
                gauge(before, "crab.lb.packets.pass_unmarked"), "the LB saw pod A's SYN unmarked");
        }
        assertEquals(gauge(before, "crab.lb.packets.tx_redirect"),
            gauge(cluster.lbStatus(), "crab.lb.packets.tx_redirect"), "nothing of pod A's redirected");
        assertFalse(manager.attached().contains(POD_A));
        assertEquals(List.of(), errors);
    }

    private void startManager()
    {
        final PodEndpoints.Context ctx = PodEndpoints.Context.defaults().withNetnsDir(netnsDir.dir())
            .withStateDir(stateDir);
        final Log log = new Log("crab-pods", Log.Format.TEXT, false, new PrintWriter(logText, true),
            SystemEpochClock.INSTANCE);
        manager = new PodEndpoints(ctx, new SystemNanoClock(), SystemEpochClock.INSTANCE, log, errors::add);
        runner = new AgentRunner(new SleepingMillisIdleStrategy(10), errors::add, null, manager);
        AgentRunner.startOnThread(runner);
    }

    private void stopManager()
    {
        if (runner != null)
        {
            runner.close();
            runner = null;
        }
    }

    private void awaitAttached(final Set<String> pods)
    {
        awaitTrue(() -> manager.attached().equals(pods), "attached to exactly " + pods);
    }

    private void awaitTrue(final BooleanSupplier done, final String what)
    {
        final long end = System.nanoTime() + WAIT.toNanos();
        while (!done.getAsBoolean())
        {
            if (System.nanoTime() - end > 0)
            {
                fail("not within " + WAIT + ": " + what + "; attached " + manager.attached() + ", errors " + errors +
                    ", log:\n" + logText);
            }
            try
            {
                Thread.sleep(20);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(ex);
            }
        }
    }

    /** Whether pod A's client has the VIP, so that a SYN to it is marked: read from its pinned map. */
    private static boolean podVipsInclude(final HostPort vip)
    {
        return podA.netns().call(() ->
        {
            final Path pin = EndpointAgent.pinDir(Role.CLIENT, IFACE).resolve(Abi.Maps.CLIENT_VIPS);
            try (PinnedMap map = Bpf.openPinnedMap(pin.toString()))
            {
                final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.VipKey.SIZE]);
                key.putBytes(Abi.VipKey.ADDR, vip.address().getAddress());
                key.putShort(Abi.VipKey.PORT, (short)vip.port(), ByteOrder.BIG_ENDIAN);
                return map.lookup(key, new UnsafeBuffer(new byte[map.valueBufferSize()]));
            }
        });
    }

    private static InetSocketAddress target(final HostPort vip)
    {
        return new InetSocketAddress(vip.address(), vip.port());
    }

    private static long delta(final Map<String, Long> before, final Map<String, Long> after, final String counter)
    {
        return after.get(counter) - before.get(counter);
    }
}
