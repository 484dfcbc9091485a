package io.crab.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.traffic.Crr;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bpf.testing.KernelRequired;
import io.crab.lb.CrabLb;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import io.crab.lb.LbAgent;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The daemons' Prometheus endpoints for real: crab-lb serving {@code --metrics-address} on its address on the
 * bridge, scraped from a client host; crab-endpoint client on its host's address and the servers on their own
 * loopback, each scraped from inside its namespace. Known traffic through a round-robin service must show in the
 * counters exactly, and {@code crab-lb status --json} must say the same. A port in use fails the start before
 * anything is attached.
 */
@ExtendWith(KernelRequired.class)
class MetricsEndToEndTest
{
    private static final String VIP = Topology.vip(1);
    private static final int PORT = 80;
    private static final int LB_METRICS = 9750;
    private static final int ENDPOINT_METRICS = 9751;
    private static final int CONNECTIONS = 30;

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    private static RigCluster rig;
    private static Topology topology;
    private static CrabCluster cluster;
    private static Host client;

    @BeforeAll
    static void startCluster()
    {
        topology = Topology.builder().clients(1).servers(3).build();
        try
        {
            client = topology.clients().get(0);
            cluster = CrabCluster.start(topology, logs, List.of(PORT), Map.of(client, List.of(VIP + ":" + PORT)),
                List.of("--metrics-address", client.ip() + ":" + ENDPOINT_METRICS),
                List.of("--metrics-address", "127.0.0.1:" + ENDPOINT_METRICS));
        }
        catch (final RuntimeException ex)
        {
            topology.close();
            throw ex;
        }
        rig = new RigCluster(topology, cluster);
    }

    @AfterAll
    static void stopCluster()
    {
        if (rig != null)
        {
            rig.close();
        }
    }

    /** Each test starts from an LB host without crab. */
    @AfterEach
    void removeLb()
    {
        cluster.detachLb();
    }

    @Test
    void knownTrafficShowsExactlyInEveryDaemonsMetricsAndInTheJsonStatus() throws Exception
    {
        final List<Host> servers = topology.servers();
        final InetSocketAddress lbMetrics = new InetSocketAddress(topology.lb().ip(), LB_METRICS);
        final InetSocketAddress clientMetrics = new InetSocketAddress(client.ip(), ENDPOINT_METRICS);
        final InetSocketAddress serverMetrics = new InetSocketAddress("127.0.0.1", ENDPOINT_METRICS);
        // Health probes once an hour: the one at start is the only one, and is over before the traffic.
        cluster.startLbWithServices(List.of("service web", "  vip " + VIP + ":" + PORT, "  policy rr",
            "  backend " + servers.get(0).ip(), "  backend " + servers.get(1).ip(), "  backend " + servers.get(2).ip()),
            "--health-interval-ms", "3600000", "--metrics-address", lbMetrics.getHostString() + ":" + LB_METRICS);
        for (final Host server : servers)
        {
            awaitProbeEchoed(server, serverMetrics);
        }

        final Scrape lbBefore = Scrape.of(client, lbMetrics);
        final Scrape clientBefore = Scrape.of(client, clientMetrics);
        final Scrape serverBefore = Scrape.of(servers.get(0), serverMetrics);
        final LoadResult crr = Crr.run(LoadSpec.to(new InetSocketAddress(VIP, PORT)).withMaxTransactions(CONNECTIONS)
            .withDuration(Duration.ofSeconds(60)).withThreadFactory(client.netns().threadFactory("crr")));
        assertEquals(CONNECTIONS, crr.transactions(), crr.toString());
        assertEquals(0, crr.failureCount(), crr.toString());
        final Scrape lb = Scrape.of(client, lbMetrics);
        final Scrape clientAfter = Scrape.of(client, clientMetrics);
        final Scrape serverAfter = Scrape.of(servers.get(0), serverMetrics);

        assertEquals(CONNECTIONS, delta(lbBefore, lb, "crab_lb_xdp_packets_total", "verdict", "tx_redirect"),
            "one redirected SYN per connection");
        assertEquals(0, delta(lbBefore, lb, "crab_lb_xdp_packets_total", "verdict", "tx_retransmit"));
        for (final Host server : servers)
        {
            assertEquals(CONNECTIONS / 3, delta(lbBefore, lb, "crab_lb_syns_redirected_total", "backend",
                server.ip()), "round-robin gives each of the 3 backends a third: " + server);
            assertEquals(1, lb.value("crab_lb_backend_up", "backend", server.ip()));
            assertEquals(1, lb.value("crab_lb_service_backend_weight", "service", "web", "backend", server.ip()));
        }
        assertEquals(1, lb.value("crab_lb_service_info", "service", "web", "vip", VIP + ":" + PORT, "policy", "rr"));
        assertEquals(3, lb.value("crab_lb_service_backends", "service", "web"));
        assertEquals(0, lb.value("crab_lb_reloads_total"));
        assertEquals(0, lb.samples("crab_lb_backend_report_age_seconds"),
            "the servers report no load here: no report age");

        assertEquals(CONNECTIONS, delta(clientBefore, clientAfter, "crab_endpoint_client_syns_total", "verdict",
            "marked"), "the client marked the SYN of every connection to the VIP");
        assertEquals(CONNECTIONS, delta(clientBefore, clientAfter, "crab_endpoint_client_redirects_total", "verdict",
            "accepted"), "and took every redirect");
        assertEquals(CONNECTIONS / 3, delta(serverBefore, serverAfter, "crab_endpoint_server_syns_with_option_total"),
            "the first server saw the option in its third of the SYNs");
        assertEquals(CONNECTIONS / 3, delta(serverBefore, serverAfter, "crab_endpoint_server_synacks_total",
            "verdict", "echoed"), "and echoed it in every SYN-ACK");

        final JsonNode status = statusJson();
        assertEquals(topology.lb().iface(), status.get("iface").asText());
        assertEquals((long)lb.value("crab_lb_xdp_packets_total", "verdict", "tx_redirect"),
            status.get("xdp_packets").get("tx_redirect").asLong(), "status --json and /metrics agree");
        final JsonNode web = status.get("services").get(0);
        assertEquals("web", web.get("name").asText());
        assertEquals(VIP + ":" + PORT, web.get("vip").asText());
        assertEquals("rr", web.get("policy").asText());
        assertEquals(3, web.get("backends").asInt());
        for (int i = 0; i < servers.size(); i++)
        {
            final JsonNode backend = status.get("backends").get(i);
            assertEquals(servers.get(i).ip(), backend.get("backend").asText());
            assertTrue(backend.get("up").asBoolean());
            assertEquals((long)lb.value("crab_lb_syns_redirected_total", "backend", servers.get(i).ip()),
                backend.get("syns_redirected").asLong());
            assertEquals(1, web.get("weights").get(servers.get(i).ip()).asInt());
            assertTrue(backend.get("report_age_ms").isNull(), "never reported: " + backend);
            assertTrue(backend.get("load_reported").isNull(), backend.toString());
        }
    }

    @Test
    void aMetricsPortInUseFailsTheStartBeforeAnythingIsAttached() throws Exception
    {
        final InetSocketAddress taken = new InetSocketAddress(topology.lb().ip(), LB_METRICS);
        try (ServerSocket holder = topology.lb().netns().call(() -> new ServerSocket(taken.getPort(), 1,
            taken.getAddress())))
        {
            final IllegalStateException failed = assertThrows(IllegalStateException.class, () ->
                cluster.startLbWithServices(List.of("service web", "  vip " + VIP + ":" + PORT,
                    "  backend " + topology.servers().get(0).ip()), "--metrics-address", topology.lb().ip() + ":" +
                    LB_METRICS));
            assertTrue(failed.getMessage().contains("exited with 1 before it was ready") &&
                failed.getMessage().contains("crab-lb: --metrics-address " + topology.lb().ip() + ":" + LB_METRICS +
                    ": "), failed.getMessage());
        }
        assertFalse(topology.lb().netns().call(() -> Files.exists(LbAgent.pinDir(topology.lb().iface()))),
            "nothing was pinned, so nothing attached");
    }

    /** Waits until the server has echoed the LB's probe at start, so that SYN is not counted with the traffic. */
    private static void awaitProbeEchoed(final Host server, final InetSocketAddress metrics) throws InterruptedException
    {
        final long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (Scrape.of(server, metrics).value("crab_endpoint_server_synacks_total", "verdict", "echoed") < 1)
        {
            assertTrue(System.nanoTime() < deadline, server + " never echoed crab-lb's probe");
            Thread.sleep(50);
        }
    }

    private static long delta(final Scrape before, final Scrape after, final String name, final String... labels)
    {
        return (long)(after.value(name, labels) - before.value(name, labels));
    }

    private static JsonNode statusJson() throws Exception
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int code = topology.lb().netns().call(() -> CrabLb.run(new PrintWriter(out), new PrintWriter(err),
            "status", "--iface", topology.lb().iface(), "--json"));
        assertEquals(0, code, err.toString());
        return new ObjectMapper().readTree(out.toString());
    }
}
