package io.crab.k8s;

import io.crab.agent.HostPort;
import io.crab.agent.Log;
import io.crab.k8s.watch.ClusterAgent;
import io.crab.k8s.watch.ClusterWatch;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.ServiceConfig;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.SystemNanoClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import static io.crab.k8s.Fixtures.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The controller (informers, the coalescing duty cycle, the apply layer with real health check ports) against
 * fabric8's mock API server in CRUD mode: Services, EndpointSlices and the Node are created, changed and deleted
 * through the API, and what crab-lb, the pods' client programs and the load balancers' health checks are handed
 * follows. crab-lb's own agent is left out here (it needs the kernel); a recording one takes its configurations.
 */
class ControllerTest
{
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final StringWriter logged = new StringWriter();
    private final Log log = new Log("crab-k8s", Log.Format.TEXT, true, new PrintWriter(logged, true),
        SystemEpochClock.INSTANCE);
    private final List<LbConfig> configs = new CopyOnWriteArrayList<>();
    private final List<Set<HostPort>> vipSets = new CopyOnWriteArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();
    private MockCluster cluster;
    private KubernetesClient controllerClient;
    private ClusterWatch watch;
    private HealthCheckServers health;
    private AgentRunner runner;

    @BeforeEach
    void startCluster()
    {
        cluster = new MockCluster();
        cluster.put(MockCluster.node(NODE, "zone-a", "192.168.1.10"));
    }

    /** The controller as crab-k8s runs it, with the duty cycle's idle of crab-k8s (50 ms sleeps). */
    private void startController(final String proxyName)
    {
        controllerClient = cluster.newClient();
        watch = ClusterWatch.start(controllerClient, new ClusterWatch.NodeSettings(NODE, 30000, 32767, proxyName),
            new SystemNanoClock(), WAIT, log);
        health = new HealthCheckServers(InetAddress.getLoopbackAddress(), watch::healthy, log);
        final ClusterAgent agent = new ClusterAgent(watch, new ClusterApply(health, vipSets::add, configs::add),
            new SystemNanoClock(), log);
        runner = new AgentRunner(new SleepingMillisIdleStrategy(50), ex -> log.error("duty cycle", ex), null, agent);
        AgentRunner.startOnThread(runner);
    }

    @AfterEach
    void stop()
    {
        if (runner != null)
        {
            runner.close();
        }
        if (health != null)
        {
            health.close();
        }
        if (watch != null)
        {
            watch.close();
        }
        if (controllerClient != null)
        {
            controllerClient.close();
        }
        cluster.close();
    }

    @Test
    void servicesAndSlicesCreatedChangedAndDeletedAreFollowed()
    {
        startController(null);
        awaitConfig(c -> c.services().isEmpty(), "an empty cluster");
        final Service web = cluster.put(clusterIp("web", "10.96.0.10", port("http", 80)));
        awaitConfig(c -> List.of().equals(backends(c, "10.96.0.10:80")), "a Service without endpoints yet");
        final EndpointSlice slice = cluster.put(slice("web", "web-1", List.of(slicePort("http", 8080)),
            ep("10.244.1.5"), ep("10.244.1.6")));
        awaitConfig(c -> List.of("10.244.1.5:8080", "10.244.1.6:8080").equals(backends(c, "10.96.0.10:80")),
            "its slice's endpoints");
        cluster.put(edit(web, b -> b.editSpec().addToPorts(port("admin", 81)).endSpec()));
        cluster.put(slice("web", "web-1", List.of(slicePort("http", 8080), slicePort("admin", 9090)),
            ep("10.244.1.5"), ep("10.244.1.6")));
        awaitConfig(c -> backends(c, "10.96.0.11:81") == null &&
            List.of("10.244.1.5:9090", "10.244.1.6:9090").equals(backends(c, "10.96.0.10:81")),
            "a port added to the Service and the slice");
        assertEquals(Set.of(HostPort.parse("10.96.0.10:80"), HostPort.parse("10.96.0.10:81")), last(vipSets),
            "the pods' client programs are told the VIPs");
        cluster.delete(slice);
        awaitConfig(c -> List.of().equals(backends(c, "10.96.0.10:80")), "the slice deleted: no backends");
        cluster.delete(web);
        awaitConfig(c -> c.services().isEmpty(), "the Service deleted");
        assertEquals(Set.of(), last(vipSets));
    }

    @Test
    void aScaleDownLeavesRotationWellWithinASecond()
    {
        startController(null);
        cluster.put(clusterIp("web", "10.96.0.10", port("http", 80)));
        final Endpoint[] three = {ep("10.244.1.5"), ep("10.244.1.6"), ep("10.244.1.7")};
        cluster.put(slice("web", "web-1", List.of(slicePort("http", 8080)), three));
        awaitConfig(c -> size(backends(c, "10.96.0.10:80")) == 3, "three endpoints");
        final List<Long> millis = new ArrayList<>();
        for (int round = 0; round < 5; round++)
        {
            final long start = System.nanoTime();
            // A pod going away: first no longer ready (it terminates), then gone from the slice.
            cluster.put(slice("web", "web-1", List.of(slicePort("http", 8080)), three[0], three[1],
                notReady(three[2])));
            awaitConfig(c -> List.of("10.244.1.5:8080", "10.244.1.6:8080").equals(backends(c, "10.96.0.10:80")),
                "the endpoint not ready out of rotation");
            millis.add((System.nanoTime() - start) / 1_000_000);
            cluster.put(slice("web", "web-1", List.of(slicePort("http", 8080)), three));
            awaitConfig(c -> size(backends(c, "10.96.0.10:80")) == 3, "back again");
        }
        assertTrue(millis.stream().allMatch(ms -> ms < 1000), "out of rotation after " + millis + " ms");
    }

    @Test
    void externalTrafficPolicyLocalWithoutLocalEndpointsKeepsTheNodePortWithoutBackends()
    {
        startController(null);
        final Service local = edit(nodePortService("web", "10.96.0.10", nodePort("http", 80, 30080)),
            b -> b.editSpec().withExternalTrafficPolicy("Local").endSpec());
        cluster.put(local);
        cluster.put(slice("web", "web-1", List.of(slicePort("http", 8080)), ep("10.244.1.5")));
        awaitConfig(c -> List.of("10.244.1.5:8080").equals(backends(c, "10.96.0.10:80")) &&
            List.of().equals(backends(c, "192.168.1.10:30080")), "the NodePort without backends, the ClusterIP with");
        cluster.put(slice("web", "web-1", List.of(slicePort("http", 8080)), ep("10.244.1.5"),
            ep("10.244.0.9", NODE)));
        awaitConfig(c -> List.of("10.244.0.9:8080").equals(backends(c, "192.168.1.10:30080")) &&
            List.of("10.244.0.9:8080", "10.244.1.5:8080").equals(backends(c, "10.96.0.10:80")),
            "a local endpoint: the NodePort's only backend");
    }

    @Test
    void healthCheckNodePortAnswers200WithLocalEndpointsAnd503Without() throws Exception
    {
        final int port = freePort();
        startController(null);
        final Service lb = cluster.put(edit(service(NS, "web", "LoadBalancer", "10.96.0.10",
            nodePort("http", 80, 30080)), b -> b.editSpec().withExternalTrafficPolicy("Local")
            .withHealthCheckNodePort(port).endSpec()));
        cluster.put(slice("web", "web-1", List.of(slicePort("http", 8080)), ep("10.244.0.9", NODE),
            ep("10.244.1.5")));
        awaitHealth(port, 200, 1);
        cluster.put(slice("web", "web-1", List.of(slicePort("http", 8080)), terminating(ep("10.244.0.9", NODE)),
            ep("10.244.1.5")));
        awaitHealth(port, 503, 0);
        awaitConfig(c -> List.of("10.244.0.9:8080").equals(backends(c, "192.168.1.10:30080")),
            "the terminating local endpoint still serves what reaches it");
        cluster.put(slice("web", "web-1", List.of(slicePort("http", 8080)), ep("10.244.0.9", NODE),
            ep("10.244.0.10", NODE)));
        awaitHealth(port, 200, 2);
        cluster.delete(lb);
        awaitClosed(port);
    }

    @Test
    void theNodesAddressesComeFromItsNodeObject()
    {
        startController(null);
        cluster.put(nodePortService("web", "10.96.0.10", nodePort("http", 80, 30080)));
        awaitConfig(c -> backends(c, "192.168.1.10:30080") != null, "the NodePort on the node's InternalIP");
        cluster.put(MockCluster.node(NODE, "zone-a", "192.168.1.20", "192.168.1.21"));
        awaitConfig(c -> backends(c, "192.168.1.10:30080") == null && backends(c, "192.168.1.20:30080") != null &&
            backends(c, "192.168.1.21:30080") != null, "the Node's new addresses");
    }

    @Test
    void servicesOfAnotherProxyAreLeftOutUnlessNamed()
    {
        cluster.put(edit(clusterIp("web", "10.96.0.10", port("http", 80)), b -> b.editMetadata()
            .addToLabels(DesiredServices.SERVICE_PROXY_NAME_LABEL, "crab").endMetadata()));
        cluster.put(clusterIp("api", "10.96.0.11", port("http", 80)));
        startController("crab");
        awaitConfig(c -> backends(c, "10.96.0.10:80") != null && backends(c, "10.96.0.11:80") != null,
            "--proxy-name crab: its Services and the unlabelled ones");
    }

    @Test
    void aNodeThatIsNotInTheClusterIsAMistakeOnTheCommandLine()
    {
        controllerClient = cluster.newClient();
        final var ex = assertThrows(io.crab.agent.ConfigException.class, () -> ClusterWatch.start(controllerClient,
            new ClusterWatch.NodeSettings("node-x", 30000, 32767, null), new SystemNanoClock(), WAIT, log));
        assertEquals("--node-name node-x: the cluster at " + cluster.url() + "/ has no Node of that name",
            ex.getMessage());
    }

    /** The backends of the service of {@code vip} as {@code A.B.C.D:PORT}, or null when there is no such service. */
    private static List<String> backends(final LbConfig config, final String vip)
    {
        for (final ServiceConfig service : config.services())
        {
            if (service.vip().equals(HostPort.parse(vip)))
            {
                return service.backends().stream().map(b -> b.target().address().getHostAddress() + ":" +
                    (b.target().anyPort() ? service.vip().port() : b.target().port())).toList();
            }
        }
        return null;
    }

    private static int size(final List<String> backends)
    {
        return backends == null ? -1 : backends.size();
    }

    private void awaitConfig(final Predicate<LbConfig> wanted, final String what)
    {
        final long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline)
        {
            final LbConfig latest = configs.isEmpty() ? null : last(configs);
            if (latest != null && wanted.test(latest))
            {
                return;
            }
            sleep(2);
        }
        fail(what + ": the controller handed over " + (configs.isEmpty() ? "nothing" : last(configs).services()
            .stream().map(s -> s.vip() + " " + s.backends().stream().map(b -> b.target().toString())
                .collect(Collectors.joining(","))).collect(Collectors.joining("; "))) + "\n" + logged);
    }

    private void awaitHealth(final int port, final int status, final int localEndpoints) throws Exception
    {
        final String body = "{\n\t\"service\": {\n\t\t\"namespace\": \"default\",\n\t\t\"name\": \"web\"\n\t},\n" +
            "\t\"localEndpoints\": " + localEndpoints + ",\n\t\"serviceProxyHealthy\": true\n}";
        final long deadline = System.nanoTime() + WAIT.toNanos();
        String seen = "nothing";
        while (System.nanoTime() < deadline)
        {
            try
            {
                final HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == status && response.body().equals(body))
                {
                    assertEquals("application/json", response.headers().firstValue("Content-Type").orElse(""));
                    return;
                }
                seen = response.statusCode() + " " + response.body();
            }
            catch (final ConnectException notYet)
            {
                seen = "refused";
            }
            sleep(5);
        }
        fail("health check port " + port + ": wanted " + status + " " + body + ", saw " + seen + "\n" + logged);
    }

    private void awaitClosed(final int port) throws Exception
    {
        final long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline)
        {
            try
            {
                http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz")).build(),
                    HttpResponse.BodyHandlers.discarding());
            }
            catch (final ConnectException closed)
            {
                return;
            }
            sleep(5);
        }
        fail("health check port " + port + " still open after its Service was deleted");
    }

    private static int freePort() throws IOException
    {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            return socket.getLocalPort();
        }
    }

    private static <T> T last(final List<T> list)
    {
        return list.get(list.size() - 1);
    }

    private static void sleep(final long millis)
    {
        try
        {
            Thread.sleep(millis);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }
}
