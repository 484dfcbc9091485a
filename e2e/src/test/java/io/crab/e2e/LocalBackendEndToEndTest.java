package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
import io.crab.agent.HostPort;
import io.crab.agent.Log;
import io.crab.agent.Pins;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.traffic.EchoServer;
import io.crab.bpf.Netns;
import io.crab.bpf.testing.KernelRequired;
import io.crab.endpoint.EndpointAgent;
import io.crab.endpoint.EndpointAgent.Role;
import io.crab.endpoint.pods.PodEndpoints;
import io.crab.rig.Host;
import io.crab.rig.NetnsDir;
import io.crab.rig.Shell;
import io.crab.rig.Topology;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.SystemNanoClock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;

import static io.crab.bench.cluster.CrabCluster.gauge;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A backend on the LB's own host, as a Kubernetes pod of an LB node is: a namespace hanging off the LB's namespace
 * by a plain veth (no XDP program on it, so no NAPI there for an XDP redirect to use), beside a backend on the bridge.
 * <pre>
 *   bridge 198.18.0.0/24   lb 198.18.0.2 (crab-lb, native XDP on eth0), c1 198.18.0.11 (crab client),
 *                          s1 198.18.0.101 (backend on the bridge, crab-endpoint server)
 *   lb -- veth vlocal 198.18.30.1/32 -- pod eth0 198.18.30.2/32 (crab's client and server programs on it, as
 *                          crab-k8s's PodEndpoints puts them), its route 198.18.30.2/32 dev vlocal in the lb
 *   c1 routes 198.18.30.0/24 via the lb, the pod's node
 * </pre>
 * The LB namespace has strict reverse-path filtering on its uplink, loose on the pod's veth, and forwarding on the pod's veth (a Kubernetes
 * node forwards on every interface; crab-lb turns it on on its uplink, and accept_local on the pod's veth, for a
 * translating service's answers from the VIP).
 */
@ExtendWith(KernelRequired.class)
class LocalBackendEndToEndTest
{
    private static final String IFACE = "eth0";
    private static final String POD = "cni-local";
    private static final String POD_IP = "198.18.30.2";
    private static final String POD_GATEWAY = "198.18.30.1";
    private static final String POD_VETH = "vlocal";
    private static final int PORT = 80;
    private static final int TRANSLATED_PORT = 8080;
    private static final HostPort VIP = HostPort.parse(Topology.vip(1) + ":" + PORT);
    /** A translating service, which the client has no VIP for: its SYNs go unmarked, to the LB's TC fallback. */
    private static final HostPort NODE_PORT = HostPort.parse(Topology.vip(2) + ":30080");
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    static Path logs;

    private static RigCluster rig;
    private static CrabCluster cluster;
    private static Host lb;
    private static Host client;
    private static Host server;
    private static NetnsDir podDir;
    private static Netns pod;
    private static long podInode;
    private static Path stateDir;
    private static PodEndpoints podEndpoints;
    private static AgentRunner podRunner;
    private static final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private static final StringWriter podLog = new StringWriter();
    private static final List<EchoServer> podServers = new ArrayList<>();

    @BeforeAll
    static void startCluster() throws Exception
    {
        rig = RigCluster.start(Topology.builder().clients(1).servers(1), logs, List.of(PORT),
            t -> Map.of(t.clients().get(0), List.of(VIP.toString())));
        try
        {
            cluster = rig.cluster();
            lb = rig.topology().lb();
            client = rig.topology().clients().get(0);
            server = rig.topology().servers().get(0);
            buildPod();
            startPodEndpoints();
            awaitTrue(() -> Files.isDirectory(EndpointAgent.pinDir(Role.SERVER, podInode, IFACE)),
                "crab's server program on the pod");
            cluster.startLbWithServices(List.of(
                "service web", "  vip " + VIP, "  backend " + server.ip() + ":" + PORT, "  backend " + POD_IP + ":" + PORT,
                "service node-port", "  vip " + NODE_PORT, "  fallback translate",
                "  backend " + POD_IP + ":" + TRANSLATED_PORT));
            awaitTrue(() -> gauge(cluster.lbStatus(), "crab.service.web.backends") == 2 &&
                gauge(cluster.lbStatus(), "crab.service.node-port.backends") == 1,
                "both backends of web and the pod of node-port in the LB's tables");
        }
        catch (final Exception | Error ex)
        {
            try
            {
                stopCluster();
            }
            catch (final RuntimeException cleanup)
            {
                ex.addSuppressed(cleanup);
            }
            throw ex;
        }
    }

    @AfterAll
    static void stopCluster()
    {
        try
        {
            if (podRunner != null)
            {
                podRunner.close();
                podRunner = null;
            }
            podServers.forEach(EchoServer::close);
            podServers.clear();
            if (podInode != 0)
            {
                for (final Role role : Role.values())
                {
                    Pins.remove(EndpointAgent.pinDir(role, podInode, IFACE));
                }
            }
            if (stateDir != null)
            {
                Pins.remove(stateDir);
            }
        }
        finally
        {
            try
            {
                if (podDir != null)
                {
                    podDir.close();
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
    }

    @Test
    void aCrabClientsConnectionsReachTheLocalBackendThroughTheHostsStackAndTheBridgeOneByXdpTx() throws Exception
    {
        final int connections = 8;
        final int roundTrips = 20;
        final MetricRegistry before = cluster.lbStatus();
        final Map<String, Long> clientBefore = CrabCluster.endpointCounters(client, Role.CLIENT);
        final Map<String, Long> podBefore = podCounters();
        final long podAccepted = podServers.get(0).connectionsAccepted();
        final long serverAccepted = cluster.acceptedOnPort(PORT).get(server);
        for (int i = 0; i < connections; i++)
        {
            try (Socket s = Connections.connect(client, new InetSocketAddress(VIP.address(), PORT)))
            {
                for (int r = 0; r < roundTrips; r++)
                {
                    Connections.assertEchoes(s);
                }
            }
        }
        final MetricRegistry after = cluster.lbStatus();
        assertEquals(connections / 2, podServers.get(0).connectionsAccepted() - podAccepted,
            "round robin: half the connections on the pod behind the LB's veth");
        assertEquals(connections / 2, cluster.acceptedOnPort(PORT).get(server) - serverAccepted,
            "and half on the backend on the bridge");
        assertEquals(connections / 2, delta(before, after, "crab.lb.packets.tx_via_stack"),
            "the pod's SYNs handed to the LB host's stack");
        assertEquals(connections / 2, delta(before, after, "crab.lb.packets.tx_redirect"),
            "the bridge backend's sent back out by XDP_TX");
        assertEquals(0, delta(before, after, "crab.lb.packets.drop_no_route"));
        final Map<String, Long> clientAfter = CrabCluster.endpointCounters(client, Role.CLIENT);
        assertEquals(connections, clientAfter.get("redirect_accepted") - clientBefore.get("redirect_accepted"),
            "the client took every redirect: the pod's server program echoed the option");
        assertEquals(connections / 2, podCounters().get("synack_echoed") - podBefore.get("synack_echoed"));
        // After its SYN, every packet of a connection went from the client's program to the backend's own address:
        // to the pod through the LB host as through any pod's node (forwarded, not balanced), never through the
        // LB's fallback or another rewrite.
        final long rewritten = clientAfter.get("egress_rewritten") - clientBefore.get("egress_rewritten");
        assertTrue(rewritten >= (long)connections * roundTrips, "the client sent " + rewritten +
            " packets to the backends' own addresses");
        for (final String fallback : List.of("new", "adopted", "forwarded", "translated"))
        {
            assertEquals(0, delta(before, after, "crab.lb.fallback." + fallback), "fallback " + fallback);
        }
        assertEquals(connections, delta(before, after, "crab.lb.packets.tx_via_stack") +
            delta(before, after, "crab.lb.packets.tx_redirect") + delta(before, after, "crab.lb.packets.tx_retransmit") +
            delta(before, after, "crab.lb.packets.tx_rebalanced"), "the LB rewrote the SYNs and nothing else");
        assertEquals(List.of(), errors, podLog.toString());
        System.out.println("local backend: " + connections + " connections, via the stack " +
            delta(before, after, "crab.lb.packets.tx_via_stack") + ", by XDP_TX " +
            delta(before, after, "crab.lb.packets.tx_redirect") + "; client packets to the backends " + rewritten);
    }

    /** The TC fallback routes a translating service's packets by the FIB too: out of the pod's veth. */
    @Test
    void aPlainClientReachesTheLocalBackendThroughTheTranslatingFallbackWithItsOwnAddress() throws Exception
    {
        final MetricRegistry before = cluster.lbStatus();
        final long accepted = podServers.get(1).connectionsAccepted();
        for (int i = 0; i < 3; i++)
        {
            // The client's program has no VIP for node-port: its SYN goes unmarked, XDP passes it to the fallback.
            try (Socket s = Connections.connect(client, new InetSocketAddress(NODE_PORT.address(), NODE_PORT.port())))
            {
                Connections.assertEchoes(s);
                final String sockets = Shell.run("nsenter", "--net=" + pod.path(), "ss", "-Htn", "state",
                    "established", "( sport = :" + TRANSLATED_PORT + " )");
                assertTrue(sockets.replace("[::ffff:", "").replace("]", "")
                    .contains(client.ip() + ":" + s.getLocalPort()), "the pod's socket has the client's own address: " +
                    sockets);
                for (int r = 0; r < 10; r++)
                {
                    Connections.assertEchoes(s);
                }
            }
        }
        final MetricRegistry after = cluster.lbStatus();
        assertEquals(3, podServers.get(1).connectionsAccepted() - accepted);
        assertEquals(3, delta(before, after, "crab.lb.fallback.new"), "each SYN placed by the fallback");
        assertTrue(delta(before, after, "crab.lb.fallback.translated") >= 3 * 11,
            "every packet from the client rewritten to the pod and routed out of its veth");
        assertEquals(0, delta(before, after, "crab.lb.fallback.drop_no_route"));
        assertTrue(podCounters().get("reply_translated") > 0, "the pod answered as the VIP");
        // An address of the LB's host: its answers come in on the pod's veth, which crab-lb made accept them.
        assertTrue(cluster.lb().logText().contains("INFO crab-lb: turned on accept_local on " + POD_VETH + " (backend " +
            POD_IP + ":" + TRANSLATED_PORT + " of service node-port"), cluster.lb().logText());
    }

    // ---------------------------------------------------------------------------------------------------------

    /** The pod: a namespace bound in a runtime's directory, a veth to the LB's namespace, the routes both ways. */
    private static void buildPod() throws Exception
    {
        podDir = NetnsDir.create();
        pod = podDir.add(POD);
        podInode = podDir.inode(POD);
        stateDir = Pins.BPFFS.resolve("crab-localtest-" + Integer.toHexString(ThreadLocalRandom.current().nextInt()));
        final String net = "--net=" + pod.path();
        Shell.run("nsenter", net, "ip", "link", "add", IFACE, "type", "veth", "peer", "name", POD_VETH, "netns",
            lb.netns().name());
        Shell.run("nsenter", net, "ip", "addr", "add", POD_IP + "/32", "dev", IFACE);
        Shell.run("nsenter", net, "ip", "link", "set", IFACE, "up");
        Shell.run("nsenter", net, "ip", "route", "add", POD_GATEWAY, "dev", IFACE, "scope", "link");
        Shell.run("nsenter", net, "ip", "route", "add", "198.18.0.0/15", "via", POD_GATEWAY, "dev", IFACE);
        rig.topology().exec(lb, "ip", "addr", "add", POD_GATEWAY + "/32", "dev", POD_VETH);
        rig.topology().exec(lb, "ip", "link", "set", POD_VETH, "up");
        rig.topology().exec(lb, "ip", "route", "add", POD_IP + "/32", "dev", POD_VETH, "scope", "link");
        rig.topology().exec(client, "ip", "route", "add", "198.18.30.0/24", "via", lb.ip(), "dev", IFACE);
        lb.netns().run(() ->
        {
            // The pod's answers come in on its veth and are forwarded out of eth0.
            write("/proc/sys/net/ipv4/conf/" + POD_VETH + "/forwarding", "1");
            // Strict on the uplink: a client's SYN handed to the stack must pass it. Loose on the pod's veth, as
            // Debian and Ubuntu set every interface: strict there would drop answers from the VIP (an address of
            // this host routed to lo, not to the veth).
            write("/proc/sys/net/ipv4/conf/all/rp_filter", "0");
            write("/proc/sys/net/ipv4/conf/" + IFACE + "/rp_filter", "1");
            write("/proc/sys/net/ipv4/conf/" + POD_VETH + "/rp_filter", "2");
        });
        for (final int port : List.of(PORT, TRANSLATED_PORT))
        {
            podServers.add(pod.call(() -> EchoServer.start(new InetSocketAddress(InetAddress.getByName(POD_IP),
                port))));
        }
    }

    /** crab's client and server programs on the pod's eth0, as crab-k8s puts them on every pod. */
    private static void startPodEndpoints()
    {
        final PodEndpoints.Context ctx = PodEndpoints.Context.defaults().withNetnsDir(podDir.dir())
            .withStateDir(stateDir);
        final Log log = new Log("crab-pods", Log.Format.TEXT, false, new PrintWriter(podLog, true),
            SystemEpochClock.INSTANCE);
        podEndpoints = new PodEndpoints(ctx, new SystemNanoClock(), SystemEpochClock.INSTANCE, log, errors::add);
        podEndpoints.vips(Set.of(VIP));
        podRunner = new AgentRunner(new SleepingMillisIdleStrategy(10), errors::add, null, podEndpoints);
        AgentRunner.startOnThread(podRunner);
    }

    private static Map<String, Long> podCounters()
    {
        return CrabCluster.endpointCounters(EndpointAgent.pinDir(Role.SERVER, podInode, IFACE), Role.SERVER);
    }

    private static void write(final String file, final String value)
    {
        try
        {
            Files.writeString(Path.of(file), value);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("writing " + file, ex);
        }
    }

    private static long delta(final MetricRegistry before, final MetricRegistry after, final String name)
    {
        return gauge(after, name) - gauge(before, name);
    }

    private static void awaitTrue(final BooleanSupplier done, final String what) throws InterruptedException
    {
        final long end = System.nanoTime() + WAIT.toNanos();
        while (!done.getAsBoolean())
        {
            if (System.nanoTime() - end > 0)
            {
                fail("not within " + WAIT + ": " + what + "\n" + podLog + (cluster == null || cluster.lb() == null ?
                    "" : cluster.lb().logText()));
            }
            Thread.sleep(50);
        }
    }
}
