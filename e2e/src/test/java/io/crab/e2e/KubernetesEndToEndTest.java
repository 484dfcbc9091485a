package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
import io.crab.agent.Pins;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.cluster.Daemon;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.Netns;
import io.crab.bpf.PinnedMap;
import io.crab.bpf.testing.KernelRequired;
import io.crab.endpoint.EndpointAgent;
import io.crab.endpoint.EndpointAgent.Role;
import io.crab.k8s.CrabK8s;
import io.crab.k8s.DesiredServices;
import io.crab.lb.LbStatus;
import io.crab.rig.Host;
import io.crab.rig.NetnsDir;
import io.crab.rig.Shell;
import io.crab.rig.Topology;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.ToLongFunction;
import java.util.logging.Level;
import java.util.logging.Logger;

import static io.crab.bench.cluster.CrabCluster.gauge;
import static io.crab.bench.cluster.CrabCluster.lbPackets;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * crab in a Kubernetes cluster made of namespaces: nodes on one bridge, pods behind their node, fabric8's mock API
 * server (CRUD mode) holding the Nodes, Services and EndpointSlices, and crab-k8s run as each node's daemon,
 * programming real XDP and TC programs from what the API server says; real connections from a pod.
 * <pre>
 *   bridge 198.18.0.0/24 (the rig's switch)
 *   lb-node  198.18.0.2   crab-k8s --lb-iface eth0; the mock API server listens here; owns the ClusterIPs
 *                         (198.19.0.0/24), which every node routes to it; pods 198.18.10.0/24: web-lb 198.18.10.3
 *   node-a   198.18.0.11  crab-k8s; pods 198.18.11.0/24: client 198.18.11.2, web-a 198.18.11.3
 *   node-b   198.18.0.12  crab-k8s; pods 198.18.12.0/24: web-b 198.18.12.3, web-b2 198.18.12.4
 *   outside  198.18.0.101 no crab: a client outside the cluster
 * </pre>
 * Each pod is a namespace bound in its node's pod netns directory, as a container runtime binds them, with a veth
 * {@code eth0} whose other end is in the node (the node's end has the pod network's gateway address, as the ptp
 * CNI plugin does); nodes route the other nodes' pod networks via their node address. The backend pods run a
 * server on port 8080 (the Services' targetPort; their port is 80 or 81) that greets every connection with its
 * pod's name and then echoes, so the client knows where the LB sent it.
 * <p>
 * crab-lb sends redirected SYNs out of its uplink only, so the LB node's own pod web-lb, an endpoint of Service
 * local, is left out of the LB's tables (crab-lb would refuse the whole configuration over it).
 */
@ExtendWith(KernelRequired.class)
class KubernetesEndToEndTest
{
    private static final String IFACE = "eth0";
    private static final String NS = "default";
    private static final int TARGET_PORT = 8080;
    private static final Duration WAIT = Duration.ofSeconds(30);

    private static final String LB_NODE = "lb-node";
    private static final String NODE_A = "node-a";
    private static final String NODE_B = "node-b";

    private static final String CLIENT = "client";
    private static final String WEB_A = "web-a";
    private static final String WEB_B = "web-b";
    private static final String WEB_B2 = "web-b2";
    private static final String WEB_LB = "web-lb";
    /** Pod name to its address. */
    private static final Map<String, String> POD_IPS = Map.of(CLIENT, "198.18.11.2", WEB_A, "198.18.11.3",
        WEB_B, "198.18.12.3", WEB_B2, "198.18.12.4", WEB_LB, "198.18.10.3");
    /** Each node's pod network and the gateway address its veths have. */
    private static final String POD_NET_LB = "198.18.10.0/24";
    private static final String POD_NET_A = "198.18.11.0/24";
    private static final String POD_NET_B = "198.18.12.0/24";
    private static final String GATEWAY_LB = "198.18.10.1";
    private static final String GATEWAY_A = "198.18.11.1";
    private static final String GATEWAY_B = "198.18.12.1";

    /** Service web: ClusterIP over a pod on the client's node and one on another; a NodePort too (policy Cluster). */
    private static final String WEB_VIP = "198.19.0.10";
    private static final int WEB_NODE_PORT = 30080;
    /** Service scale: ClusterIP over three pods, one of which is scaled down. */
    private static final String SCALE_VIP = "198.19.0.20";
    /**
     * Service local: NodePort 30081 with externalTrafficPolicy Local, over web-a and web-b on the workers and
     * web-lb on the LB node, which crab-lb cannot reach.
     */
    private static final String LOCAL_VIP = "198.19.0.30";
    private static final int LOCAL_NODE_PORT = 30081;

    @TempDir
    static Path logs;

    private static Topology topology;
    private static Host lbNode;
    private static Host nodeA;
    private static Host nodeB;
    private static Host outside;
    private static final Map<Host, NetnsDir> podDirs = new LinkedHashMap<>();
    private static final Map<String, PodServer> servers = new LinkedHashMap<>();
    private static final Map<String, Path> stateDirs = new LinkedHashMap<>();
    private static final List<Daemon> daemons = new ArrayList<>();
    /** Pod name to its namespace, as bound in its node's directory. */
    private static final Map<String, Netns> pods = new LinkedHashMap<>();
    /** Pod name to its namespace's inode, the name of its pins. */
    private static final Map<String, Long> podInodes = new LinkedHashMap<>();
    private static ApiServer api;

    @BeforeAll
    static void startCluster() throws Exception
    {
        topology = Topology.builder().clients(2).servers(1).build();
        lbNode = topology.lb();
        nodeA = topology.clients().get(0);
        nodeB = topology.clients().get(1);
        outside = topology.servers().get(0);
        try
        {
            buildPodNetwork();
            api = ApiServer.start(lbNode);
            api.put(node(LB_NODE, lbNode.ip()));
            api.put(node(NODE_A, nodeA.ip()));
            api.put(node(NODE_B, nodeB.ip()));
            api.put(service("web", "NodePort", WEB_VIP, 80, WEB_NODE_PORT));
            api.put(slice("web", endpoint(WEB_A, NODE_A, true), endpoint(WEB_B, NODE_B, true)));
            api.put(service("scale", "ClusterIP", SCALE_VIP, 80, 0));
            api.put(slice("scale", endpoint(WEB_A, NODE_A, true), endpoint(WEB_B, NODE_B, true),
                endpoint(WEB_B2, NODE_B, true)));
            api.put(new ServiceBuilder(service("local", "NodePort", LOCAL_VIP, 81, LOCAL_NODE_PORT)).editSpec()
                .withExternalTrafficPolicy("Local").endSpec().build());
            api.put(slice("local", endpoint(WEB_A, NODE_A, true), endpoint(WEB_B, NODE_B, true),
                endpoint(WEB_LB, LB_NODE, true)));
            final Path kubeconfig = api.kubeconfig(logs);

            topology.enableXdpTxOn(lbNode);
            final long startNs = System.nanoTime();
            startCrabK8s(kubeconfig);
            final long readyNs = System.nanoTime();

            // Every pod attached (its client knows the VIPs), and every backend up and echoing the option to the LB.
            awaitTrue(() -> clientHasVip(CLIENT, WEB_VIP, 80) && clientHasVip(CLIENT, SCALE_VIP, 80) &&
                POD_IPS.keySet().stream().allMatch(p -> Files.isDirectory(EndpointAgent.pinDir(Role.SERVER,
                podInodes.get(p), IFACE))), "every pod attached, the client with the VIPs");
            awaitTrue(() ->
            {
                final MetricRegistry status = lbStatus();
                return List.of(WEB_A, WEB_B, WEB_B2).stream().allMatch(p ->
                {
                    final String backend = "crab.lb.backend." + POD_IPS.get(p) + ":" + TARGET_PORT;
                    return status.getGauges().containsKey(backend + ".up") &&
                        Integer.valueOf(1).equals(status.getGauges().get(backend + ".up").getValue()) &&
                        Integer.valueOf(1).equals(status.getGauges().get(backend + ".compliant").getValue());
                });
            }, "the LB with every backend pod up and echoing");
            System.out.printf("cluster: the three crab-k8s ready in %d ms, pods attached and backends up %d ms " +
                "later%n", (readyNs - startNs) / 1_000_000, (System.nanoTime() - readyNs) / 1_000_000);
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
        final List<RuntimeException> failures = new ArrayList<>();
        for (final Daemon daemon : daemons)
        {
            attempt(failures, daemon::close);
        }
        daemons.clear();
        if (api != null)
        {
            attempt(failures, api::close);
            api = null;
        }
        servers.values().forEach(s -> attempt(failures, s::close));
        servers.clear();
        // The pods' pins are named by their namespaces' inodes, which the topology does not know.
        for (final long inode : podInodes.values())
        {
            for (final Role role : Role.values())
            {
                attempt(failures, () -> Pins.remove(EndpointAgent.pinDir(role, inode, IFACE)));
            }
        }
        podInodes.clear();
        stateDirs.values().forEach(d -> attempt(failures, () -> Pins.remove(d)));
        stateDirs.clear();
        podDirs.values().forEach(d -> attempt(failures, d::close));
        podDirs.clear();
        pods.clear();
        if (topology != null)
        {
            attempt(failures, topology::close);
            topology = null;
        }
        if (!failures.isEmpty())
        {
            final IllegalStateException ex = new IllegalStateException("cleanup incomplete: " +
                failures.get(0).getMessage(), failures.get(0));
            failures.subList(1, failures.size()).forEach(ex::addSuppressed);
            throw ex;
        }
    }

    @Test
    void aPodsConnectionsToAClusterIpAreRedirectedAndTheLbSeesOnlyTheirSyns() throws Exception
    {
        final int connections = 6;
        final int roundTrips = 50;
        final MetricRegistry before = lbStatus();
        final Map<String, Long> clientBefore = counters(CLIENT, Role.CLIENT);
        final Map<String, Long> serverA = counters(WEB_A, Role.SERVER);
        final Map<String, Long> serverB = counters(WEB_B, Role.SERVER);
        final Map<String, Integer> landed = new HashMap<>();
        for (int i = 0; i < connections; i++)
        {
            try (Socket s = connect(CLIENT, WEB_VIP, 80))
            {
                landed.merge(greeting(s), 1, Integer::sum);
                for (int r = 0; r < roundTrips; r++)
                {
                    Connections.assertEchoes(s);
                }
            }
        }
        final MetricRegistry after = lbStatus();
        assertEquals(Map.of(WEB_A, connections / 2, WEB_B, connections / 2), landed,
            "round robin over the pod on the client's node and the one on the other node");
        assertEquals(connections, gauge(after, "crab.service.vip-198-19-0-10-80.syns") -
            gauge(before, "crab.service.vip-198-19-0-10-80.syns"), "the LB counted one SYN per connection");
        assertEquals(connections, gauge(after, "crab.lb.packets.tx_redirect") -
            gauge(before, "crab.lb.packets.tx_redirect"), "and redirected each");
        // Each connection is a SYN, a SYN-ACK, 50 round trips of data and their ACKs, and the close: over 100
        // packets from the client alone. Its program sent every one after the SYN to the backend pod's address,
        // which node-a routes to the pod itself or to node-b, not to the LB node; the LB node's XDP program saw the
        // SYNs, and otherwise only what it sees anyway: its own health probes' answers (3 backends, each probed
        // every second), the API server's traffic, ARP.
        final long rewritten = delta(clientBefore, counters(CLIENT, Role.CLIENT), "egress_rewritten");
        assertTrue(rewritten >= (long)connections * roundTrips, "the client pod's program sent " + rewritten +
            " packets to the backend pods' addresses");
        final long lbSaw = lbPackets(after) - lbPackets(before);
        assertTrue(lbSaw <= 10L * connections, "the LB node's XDP program saw " + lbSaw + " packets while " +
            connections + " connections made " + roundTrips + " round trips each");
        assertEquals(0, gauge(after, "crab.lb.packets.pass_unmarked") - gauge(before, "crab.lb.packets.pass_unmarked"),
            "no SYN went unmarked");
        assertEquals(connections, delta(clientBefore, counters(CLIENT, Role.CLIENT), "redirect_accepted"),
            "the client pod's program took every redirect");
        // The servers echo the LB's probes too (one a second), hence at least.
        assertTrue(delta(serverA, counters(WEB_A, Role.SERVER), "synack_echoed") >= connections / 2,
            "web-a (same node) echoed the option");
        assertTrue(delta(serverB, counters(WEB_B, Role.SERVER), "synack_echoed") >= connections / 2,
            "web-b (other node) echoed the option");
        System.out.println("redirect: " + connections + " connections x " + roundTrips + " round trips, landed " +
            landed + ", client packets rewritten to the pods " + rewritten +
            ", LB node's XDP saw " + lbSaw + " packets (" + (gauge(after, "crab.lb.packets.tx_redirect") -
            gauge(before, "crab.lb.packets.tx_redirect")) + " redirected SYNs)");
    }

    @Test
    void aPodScaledDownLeavesRotationWithinASecondAndItsEstablishedConnectionEchoesOn() throws Exception
    {
        // An established connection to the pod that is scaled down: rr gives it one connection in three, once the
        // LB has all three in its table (a backend whose probe failed on a loaded machine is out until the next).
        awaitTrue(() -> gauge(lbStatus(), "crab.service.vip-198-19-0-20-80.backends") == 3,
            "the three pods of service scale in the LB's table");
        Socket held = null;
        final List<Socket> others = new ArrayList<>();
        try
        {
            for (int i = 0; i < 6 && held == null; i++)
            {
                final Socket s = connect(CLIENT, SCALE_VIP, 80);
                if (greeting(s).equals(WEB_B2))
                {
                    held = s;
                }
                else
                {
                    others.add(s);
                }
            }
            assertTrue(held != null, "one of six connections reached web-b2");
            Connections.assertEchoes(held);

            // The pod terminates: the EndpointSlice says it is no longer ready, then it is gone from it. The update
            // is sent from the API server's thread while connections go on from here, from the moment it is sent.
            final long updated = System.nanoTime();
            final Future<?> update = api.submit(slice("scale", endpoint(WEB_A, NODE_A, true),
                endpoint(WEB_B, NODE_B, true), endpoint(WEB_B2, NODE_B, false)));
            final List<long[]> tries = new ArrayList<>();
            final List<String> where = new ArrayList<>();
            int lastOnIt = -1;
            // New connections, one every 10 ms, until 1.5 s after the update and 30 in a row have missed it.
            while (System.nanoTime() - updated < 1_500_000_000L || tries.size() - lastOnIt <= 30)
            {
                final long openedNs = System.nanoTime() - updated;
                try (Socket s = connect(CLIENT, SCALE_VIP, 80))
                {
                    final String pod = greeting(s);
                    Connections.assertEchoes(s);
                    tries.add(new long[] {openedNs});
                    where.add(pod);
                    if (pod.equals(WEB_B2))
                    {
                        lastOnIt = tries.size() - 1;
                    }
                }
                Connections.assertEchoes(held);
                assertTrue(System.nanoTime() - updated < 5_000_000_000L, "web-b2 still in rotation 5 s after " +
                    "the update: " + where);
                Thread.sleep(10);
            }
            update.get();
            final long leftMs = tries.get(lastOnIt + 1)[0] / 1_000_000;
            System.out.println("scale down: " + (lastOnIt + 1) + " connections reached web-b2 after the update " +
                "was sent; from " + leftMs + " ms on, " + (tries.size() - lastOnIt - 1) + " connections avoided it; " +
                tries.size() + " in all");
            assertTrue(leftMs < 1000, "out of rotation " + leftMs + " ms after the update");
            assertFalse(where.subList(lastOnIt + 1, where.size()).contains(WEB_B2));

            api.put(slice("scale", endpoint(WEB_A, NODE_A, true), endpoint(WEB_B, NODE_B, true)));
            awaitTrue(() -> gauge(lbStatus(), "crab.service.vip-198-19-0-20-80.backends") == 2,
                "the LB's table without web-b2");
            for (int i = 0; i < 6; i++)
            {
                try (Socket s = connect(CLIENT, SCALE_VIP, 80))
                {
                    final String pod = greeting(s);
                    assertTrue(Set.of(WEB_A, WEB_B).contains(pod), "a new connection on " + pod);
                }
            }
            for (int i = 0; i < 20; i++)
            {
                Connections.assertEchoes(held);
            }
            for (final Socket s : others)
            {
                Connections.assertEchoes(s);
            }
        }
        finally
        {
            if (held != null)
            {
                Connections.closeQuietly(held);
            }
            others.forEach(Connections::closeQuietly);
            api.put(slice("scale", endpoint(WEB_A, NODE_A, true), endpoint(WEB_B, NODE_B, true),
                endpoint(WEB_B2, NODE_B, true)));
        }
    }

    @Test
    void aClientOutsideTheClusterReachesPodsThroughTheLbNodesNodePortByTheTranslatingFallback() throws Exception
    {
        final int connections = 8;
        final String nodePortService = "crab.service.vip-198-18-0-2-" + WEB_NODE_PORT;
        final MetricRegistry before = lbStatus();
        final Map<String, Long> serverA = counters(WEB_A, Role.SERVER);
        final Map<String, Long> serverB = counters(WEB_B, Role.SERVER);
        final Map<String, Integer> landed = new HashMap<>();
        for (int i = 0; i < connections; i++)
        {
            final String pod = outside.netns().call(() ->
            {
                // A plain client: no crab program on it, so its SYN is unmarked and the LB's fallback places it.
                try (Socket s = new Socket())
                {
                    s.connect(new InetSocketAddress(lbNode.ipAddress(), WEB_NODE_PORT), 3000);
                    s.setSoTimeout(5000);
                    final String greeting = greeting(s);
                    for (int r = 0; r < 10; r++)
                    {
                        Connections.assertEchoes(s);
                    }
                    return greeting;
                }
            });
            landed.merge(pod, 1, Integer::sum);
        }
        final MetricRegistry after = lbStatus();
        assertEquals(Set.of(WEB_A, WEB_B), landed.keySet(),
            "the outside client's connections landed on both pods of the Service, on two nodes: " + landed);
        assertEquals(connections, landed.values().stream().mapToInt(Integer::intValue).sum());
        // The pods listen on targetPort 8080 at their own address, behind their nodes: the LB rewrote every packet
        // to a pod and the pod's server program answered as the NodePort, straight back (the client accepted it).
        final String client = outside.ipAddress().getHostAddress();
        assertTrue(servers.get(WEB_A).peers().contains(client) && servers.get(WEB_B).peers().contains(client),
            "the pods saw the outside client's own address " + client + ": web-a " + servers.get(WEB_A).peers() +
                ", web-b " + servers.get(WEB_B).peers());
        assertEquals(connections, gauge(after, "crab.lb.fallback.new") - gauge(before, "crab.lb.fallback.new"),
            "the LB's fallback placed one connection per SYN");
        assertEquals(gauge(before, nodePortService + ".syns"), gauge(after, nodePortService + ".syns"),
            "no SYN of a plain client is redirected");
        final long translated = delta(serverA, counters(WEB_A, Role.SERVER), "reply_translated") +
            delta(serverB, counters(WEB_B, Role.SERVER), "reply_translated");
        // Per connection at least its SYN-ACK and ten answers left the pods as the NodePort.
        assertTrue(translated >= 11L * connections, "the pods' server programs translated " + translated +
            " replies");
        System.out.println("nodeport: " + connections + " connections from outside through the fallback, landed " +
            landed + ", replies translated by the pods " + translated);
    }

    @Test
    void externalTrafficPolicyLocalWithoutLocalEndpointsServesNoConnectionOnTheLbNodesNodePort() throws Exception
    {
        // The LB node's one endpoint of the Service is its own pod, which crab-lb cannot reach: left out, and said.
        final Daemon lb = daemons.get(0);
        assertTrue(lb.logText().contains("WARN crab-k8s: left out endpoint " + POD_IPS.get(WEB_LB) + ":" +
            TARGET_PORT + " (service "), lb.logText());
        final String nodePortService = "crab.service.vip-198-18-0-2-" + LOCAL_NODE_PORT;
        awaitTrue(() -> lbStatus().getGauges().containsKey(nodePortService + ".backends"),
            "the NodePort on the LB node's address");
        final MetricRegistry before = lbStatus();
        assertEquals(0, gauge(before, nodePortService + ".backends"),
            "externalTrafficPolicy Local: the LB node has no endpoint of its own that it reaches, so none");
        assertEquals(2, gauge(before, "crab.service.vip-198-18-0-2-" + WEB_NODE_PORT + ".backends"),
            "where a NodePort's policy is Cluster, the LB node has every endpoint");
        assertEquals(2, gauge(before, "crab.service.vip-198-19-0-30-81.backends"),
            "the same Service's ClusterIP keeps both pods of the workers");
        final ToLongFunction<PodServer> fromTheClients = server -> server.acceptedFrom(POD_IPS.get(CLIENT)) +
            server.acceptedFrom(outside.ipAddress().getHostAddress());
        final long accepted = servers.values().stream().mapToLong(fromTheClients).sum();

        // From a pod and from outside the cluster: the SYN reaches the LB node, which has no backend for it and, as
        // kube-proxy, drops it (the Service has endpoints on other nodes): the connect times out, no reset comes.
        for (final Netns from : List.of(pods.get(CLIENT), outside.netns()))
        {
            final String outcome = from.call(() ->
            {
                try (Socket s = new Socket())
                {
                    s.connect(new InetSocketAddress(lbNode.ipAddress(), LOCAL_NODE_PORT), 1000);
                    return "served";
                }
                catch (final SocketTimeoutException dropped)
                {
                    return "timed out";
                }
                catch (final IOException refused)
                {
                    return refused.toString();
                }
            });
            assertEquals("timed out", outcome, "a connection from " + from + " to the LB node's NodePort");
        }
        assertEquals(accepted, servers.values().stream().mapToLong(fromTheClients).sum(),
            "no backend pod accepted a connection from the client pod or the outside client");
        final MetricRegistry after = lbStatus();
        assertEquals(gauge(before, nodePortService + ".syns"), gauge(after, nodePortService + ".syns"));
        assertTrue(gauge(after, "crab.lb.packets.drop_no_backend") >=
            gauge(before, "crab.lb.packets.drop_no_backend") + 2,
            "the LB dropped the client pod's marked SYN and the outside client's unmarked one");
        assertEquals("drop", after.getGauges().get(nodePortService + ".no_backend").getValue());

        // The ClusterIP of the same Service is not limited to the node's endpoints.
        final Set<String> landed = new TreeSet<>();
        for (int i = 0; i < 2; i++)
        {
            try (Socket s = connect(CLIENT, LOCAL_VIP, 81))
            {
                landed.add(greeting(s));
                Connections.assertEchoes(s);
            }
        }
        assertEquals(new TreeSet<>(Set.of(WEB_A, WEB_B)), landed);
    }

    // ---------------------------------------------------------------------------------------------------------
    // The cluster's network

    private static void buildPodNetwork()
    {
        for (final Host node : List.of(lbNode, nodeA, nodeB))
        {
            node.netns().run(() -> write("/proc/sys/net/ipv4/ip_forward", "1"));
            podDirs.put(node, NetnsDir.create());
            stateDirs.put(node.name(), Pins.BPFFS.resolve("crab-k8stest-" +
                Integer.toHexString(ThreadLocalRandom.current().nextInt()) + "-" + node.name()));
        }
        topology.exec(nodeA, "ip", "route", "add", POD_NET_B, "via", nodeB.ip(), "dev", IFACE);
        topology.exec(nodeB, "ip", "route", "add", POD_NET_A, "via", nodeA.ip(), "dev", IFACE);
        topology.exec(lbNode, "ip", "route", "add", POD_NET_A, "via", nodeA.ip(), "dev", IFACE);
        topology.exec(lbNode, "ip", "route", "add", POD_NET_B, "via", nodeB.ip(), "dev", IFACE);
        topology.exec(nodeA, "ip", "route", "add", POD_NET_LB, "via", lbNode.ip(), "dev", IFACE);
        topology.exec(nodeB, "ip", "route", "add", POD_NET_LB, "via", lbNode.ip(), "dev", IFACE);
        // node-b reaches the ClusterIPs through the LB node as node-a does (the rig routes its clients so).
        addPod(nodeA, CLIENT, GATEWAY_A, "vclient");
        addPod(nodeA, WEB_A, GATEWAY_A, "vweba");
        addPod(nodeB, WEB_B, GATEWAY_B, "vwebb");
        addPod(nodeB, WEB_B2, GATEWAY_B, "vwebb2");
        addPod(lbNode, WEB_LB, GATEWAY_LB, "vweblb");
        for (final String pod : List.of(WEB_A, WEB_B, WEB_B2, WEB_LB))
        {
            servers.put(pod, PodServer.start(pods.get(pod), pod, POD_IPS.get(pod)));
        }
    }

    /**
     * A pod as a CNI plugin of the ptp kind makes it: a namespace bound as {@code cni-<name>} in its node's
     * directory, {@code eth0} with the pod's /32, the node's end of the veth with the gateway address and a /32
     * route to the pod; the pod routes everything of the rig's range via the gateway.
     */
    private static void addPod(final Host node, final String name, final String gateway, final String hostVeth)
    {
        final NetnsDir dir = podDirs.get(node);
        final String file = "cni-" + name;
        final Netns pod = dir.add(file);
        final String ip = POD_IPS.get(name);
        final String net = "--net=" + pod.path();
        Shell.run("nsenter", net, "ip", "link", "add", IFACE, "type", "veth", "peer", "name", hostVeth, "netns",
            node.netns().name());
        Shell.run("nsenter", net, "ip", "addr", "add", ip + "/32", "dev", IFACE);
        Shell.run("nsenter", net, "ip", "link", "set", IFACE, "up");
        Shell.run("nsenter", net, "ip", "route", "add", gateway, "dev", IFACE, "scope", "link");
        Shell.run("nsenter", net, "ip", "route", "add", "198.18.0.0/15", "via", gateway, "dev", IFACE);
        topology.exec(node, "ip", "addr", "add", gateway + "/32", "dev", hostVeth);
        topology.exec(node, "ip", "link", "set", hostVeth, "up");
        topology.exec(node, "ip", "route", "add", ip + "/32", "dev", hostVeth, "scope", "link");
        pods.put(name, pod);
        podInodes.put(name, dir.inode(file));
    }

    /**
     * crab-k8s on every node, started at once (each is a JVM that loads fabric8; one after the other would take
     * three times as long), each with its node's pod directory and a state directory of its own.
     */
    private static void startCrabK8s(final Path kubeconfig) throws Exception
    {
        final Map<Host, List<String>> nodes = new LinkedHashMap<>();
        nodes.put(lbNode, List.of("--node-name", LB_NODE, "--lb-iface", IFACE));
        nodes.put(nodeA, List.of("--node-name", NODE_A));
        nodes.put(nodeB, List.of("--node-name", NODE_B));
        final ExecutorService starting = Executors.newFixedThreadPool(nodes.size());
        try
        {
            final List<Future<Daemon>> started = new ArrayList<>();
            nodes.forEach((node, own) ->
            {
                final List<String> args = new ArrayList<>(own);
                args.addAll(List.of("--kubeconfig", kubeconfig.toString(), "--pod-netns-dir",
                    podDirs.get(node).dir().toString(), "--pod-state-dir", stateDirs.get(node.name()).toString()));
                started.add(starting.submit(() -> Daemon.start(topology, node, "k8s", CrabK8s.class, logs, args)));
            });
            // Each one that started is kept for the cleanup, whichever failed.
            Exception failure = null;
            for (final Future<Daemon> daemon : started)
            {
                try
                {
                    daemons.add(daemon.get());
                }
                catch (final ExecutionException ex)
                {
                    failure = failure == null ? (Exception)ex.getCause() : failure;
                }
            }
            if (failure != null)
            {
                throw failure;
            }
        }
        finally
        {
            starting.shutdown();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The cluster's objects

    private static Node node(final String name, final String ip)
    {
        return new NodeBuilder().withNewMetadata().withName(name).addToLabels("topology.kubernetes.io/zone", "zone-a")
            .endMetadata().withNewStatus().addNewAddress(ip, "InternalIP").endStatus().build();
    }

    /** A Service of one TCP port named http, its targetPort the pods' 8080; {@code nodePort} 0 for none. */
    private static Service service(final String name, final String type, final String clusterIp, final int port,
        final int nodePort)
    {
        final ServicePortBuilder servicePort = new ServicePortBuilder().withName("http").withProtocol("TCP")
            .withPort(port).withTargetPort(new IntOrString(TARGET_PORT));
        if (nodePort != 0)
        {
            servicePort.withNodePort(nodePort);
        }
        return new ServiceBuilder().withNewMetadata().withNamespace(NS).withName(name).endMetadata()
            .withNewSpec().withType(type).withClusterIP(clusterIp).withClusterIPs(clusterIp)
            .withPorts(servicePort.build()).endSpec().build();
    }

    /** The pod as an endpoint: ready, or neither ready nor serving (scaled down, going away). */
    private static Endpoint endpoint(final String pod, final String node, final boolean ready)
    {
        return new EndpointBuilder().withAddresses(POD_IPS.get(pod)).withNodeName(node).withNewTargetRef()
            .withKind("Pod").withNamespace(NS).withName(pod).endTargetRef().withNewConditions().withReady(ready)
            .withServing(ready).withTerminating(!ready).endConditions().build();
    }

    /** The one EndpointSlice of Service {@code service}. */
    private static EndpointSlice slice(final String service, final Endpoint... endpoints)
    {
        return new EndpointSliceBuilder().withNewMetadata().withNamespace(NS).withName(service + "-1")
            .addToLabels(DesiredServices.SERVICE_NAME_LABEL, service).endMetadata().withAddressType("IPv4")
            .withPorts(new EndpointPortBuilder().withName("http").withProtocol("TCP").withPort(TARGET_PORT).build())
            .withEndpoints(endpoints).build();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Reading what happened

    private static MetricRegistry lbStatus()
    {
        return lbNode.netns().call(() -> LbStatus.read(IFACE));
    }

    private static Socket connect(final String pod, final String vip, final int port)
    {
        return pods.get(pod).call(() ->
        {
            final Socket s = new Socket();
            s.connect(new InetSocketAddress(InetAddress.getByName(vip), port), 3000);
            s.setSoTimeout(5000);
            return s;
        });
    }

    /** The name of the pod whose server answered: its first line. */
    private static String greeting(final Socket s) throws IOException
    {
        final InputStream in = s.getInputStream();
        final StringBuilder line = new StringBuilder();
        for (int b = in.read(); b != '\n'; b = in.read())
        {
            if (b < 0)
            {
                throw new IOException("closed before the greeting: '" + line + "'");
            }
            line.append((char)b);
        }
        return line.toString();
    }

    /** A pod's client or server counters by name, from its pins on the host's bpffs. */
    private static Map<String, Long> counters(final String pod, final Role role)
    {
        return CrabCluster.endpointCounters(EndpointAgent.pinDir(role, podInodes.get(pod), IFACE), role);
    }

    /** Whether the pod's client program has the VIP in its table, so that it marks SYNs to it. */
    private static boolean clientHasVip(final String pod, final String vip, final int port)
    {
        final Path pin = EndpointAgent.pinDir(Role.CLIENT, podInodes.get(pod), IFACE).resolve(Abi.Maps.CLIENT_VIPS);
        if (!Files.exists(pin))
        {
            return false;
        }
        try (PinnedMap map = Bpf.openPinnedMap(pin.toString()))
        {
            final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.VipKey.SIZE]);
            key.putBytes(Abi.VipKey.ADDR, InetAddress.getByName(vip).getAddress());
            key.putShort(Abi.VipKey.PORT, (short)port, ByteOrder.BIG_ENDIAN);
            return map.lookup(key, new UnsafeBuffer(new byte[map.valueBufferSize()]));
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private static long delta(final Map<String, Long> before, final Map<String, Long> after, final String counter)
    {
        return after.get(counter) - before.get(counter);
    }

    private static void awaitTrue(final BooleanSupplier done, final String what)
    {
        final long end = System.nanoTime() + WAIT.toNanos();
        while (!done.getAsBoolean())
        {
            if (System.nanoTime() - end > 0)
            {
                fail("not within " + WAIT + ": " + what + "\n" + daemonLogs());
            }
            try
            {
                Thread.sleep(50);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(ex);
            }
        }
    }

    private static String daemonLogs()
    {
        final StringBuilder text = new StringBuilder();
        daemons.forEach(d -> text.append("--- ").append(d).append('\n').append(d.logText()));
        return text.toString();
    }

    private static void write(final String file, final String value)
    {
        try
        {
            Files.writeString(Path.of(file), value);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("writing " + file, ex);
        }
    }

    private static void attempt(final List<RuntimeException> failures, final Runnable step)
    {
        try
        {
            step.run();
        }
        catch (final RuntimeException ex)
        {
            failures.add(ex);
        }
    }

    /**
     * A backend pod's server on port 8080: greets each connection with the pod's name and a newline, then echoes
     * until the client closes. The LB's health probes connect to it too, and close at once.
     */
    private static final class PodServer implements AutoCloseable
    {
        private final ServerSocket listener;
        private final String name;
        private final ExecutorService connections = Executors.newCachedThreadPool(r ->
        {
            final Thread t = new Thread(r, "pod-server");
            t.setDaemon(true);
            return t;
        });
        /**
         * Connections accepted by the client address the pod's kernel saw: the LB's health probes come from the LB
         * node's address, the test's clients from theirs.
         */
        private final Map<String, AtomicLong> acceptedByPeer = new ConcurrentHashMap<>();

        private PodServer(final ServerSocket listener, final String name)
        {
            this.listener = listener;
            this.name = name;
        }

        static PodServer start(final Netns pod, final String name, final String ip)
        {
            final PodServer server = new PodServer(pod.call(() ->
                new ServerSocket(TARGET_PORT, 64, InetAddress.getByName(ip))), name);
            final Thread acceptor = new Thread(server::acceptLoop, "pod-server-" + name);
            acceptor.setDaemon(true);
            acceptor.start();
            return server;
        }

        long acceptedFrom(final String peer)
        {
            final AtomicLong n = acceptedByPeer.get(peer);
            return n == null ? 0 : n.get();
        }

        Set<String> peers()
        {
            return acceptedByPeer.keySet();
        }

        private void acceptLoop()
        {
            while (!listener.isClosed())
            {
                try
                {
                    final Socket s = listener.accept();
                    acceptedByPeer.computeIfAbsent(s.getInetAddress().getHostAddress(), a -> new AtomicLong())
                        .incrementAndGet();
                    connections.execute(() -> serve(s));
                }
                catch (final IOException closed)
                {
                    return;
                }
            }
        }

        private void serve(final Socket s)
        {
            try (s)
            {
                final OutputStream out = s.getOutputStream();
                out.write((name + "\n").getBytes(StandardCharsets.US_ASCII));
                final InputStream in = s.getInputStream();
                final byte[] buffer = new byte[4096];
                for (int n = in.read(buffer); n >= 0; n = in.read(buffer))
                {
                    out.write(buffer, 0, n);
                }
            }
            catch (final IOException gone)
            {
                // a probe that closed or reset: nothing to serve
            }
        }

        @Override
        public void close()
        {
            try
            {
                listener.close();
            }
            catch (final IOException ex)
            {
                throw new IllegalStateException(ex);
            }
            finally
            {
                connections.shutdownNow();
            }
        }
    }

    /**
     * fabric8's mock API server in CRUD mode, listening in a node's namespace on its address, so the nodes' crab-k8s
     * reach it over the bridge; with the client the test writes the cluster's objects through. Both are made and
     * used on one thread inside that namespace: a socket belongs to the namespace of the thread that made it, and
     * the server's and the client's own threads are started from there.
     */
    private static final class ApiServer implements AutoCloseable
    {
        /** The mock server logs every request; held so that java.util.logging keeps the level. */
        private static final Logger MOCK_SERVER_LOG = Logger.getLogger("io.fabric8.mockwebserver");

        private final ExecutorService thread;
        private KubernetesMockServer server;
        private KubernetesClient client;

        private ApiServer(final ExecutorService thread)
        {
            this.thread = thread;
        }

        static ApiServer start(final Host host)
        {
            MOCK_SERVER_LOG.setLevel(Level.WARNING);
            final ApiServer api = new ApiServer(Executors.newSingleThreadExecutor(host.netns().threadFactory("api")));
            try
            {
                api.call(() ->
                {
                    api.server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                        new KubernetesCrudDispatcher(), false);
                    api.server.init(host.ipAddress(), 0);
                    api.client = api.server.createClient();
                    return null;
                });
                return api;
            }
            catch (final RuntimeException ex)
            {
                api.close();
                throw ex;
            }
        }

        <T> T call(final Callable<T> task)
        {
            try
            {
                return thread.submit(task).get();
            }
            catch (final ExecutionException ex)
            {
                throw ex.getCause() instanceof RuntimeException r ? r : new IllegalStateException(ex.getCause());
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(ex);
            }
        }

        void put(final Node node)
        {
            call(() -> client.nodes().resource(node).createOr(r -> r.update()));
        }

        void put(final Service service)
        {
            call(() -> client.services().inNamespace(NS).resource(service).createOr(r -> r.update()));
        }

        /** Sends the slice from the API server's thread, without waiting. */
        Future<?> submit(final EndpointSlice slice)
        {
            return thread.submit(() -> createOrUpdate(slice));
        }

        void put(final EndpointSlice slice)
        {
            call(() -> createOrUpdate(slice));
        }

        private EndpointSlice createOrUpdate(final EndpointSlice slice)
        {
            return client.discovery().v1().endpointSlices().inNamespace(NS).resource(slice).createOr(r -> r.update());
        }

        Path kubeconfig(final Path dir) throws IOException
        {
            final String url = "http://" + server.getHostName() + ":" + server.getPort();
            return Files.writeString(dir.resolve("kubeconfig"), String.join("\n",
                "apiVersion: v1", "kind: Config",
                "clusters:", "- name: mock", "  cluster:", "    server: " + url,
                "contexts:", "- name: mock", "  context:", "    cluster: mock", "    user: mock",
                "current-context: mock",
                "users:", "- name: mock", "  user:", "    token: test", ""));
        }

        @Override
        public void close()
        {
            try
            {
                call(() ->
                {
                    if (client != null)
                    {
                        client.close();
                    }
                    if (server != null)
                    {
                        server.destroy();
                    }
                    return null;
                });
            }
            finally
            {
                thread.shutdownNow();
            }
        }
    }
}
