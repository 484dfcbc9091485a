package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.traffic.Crr;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bpf.testing.KernelRequired;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ClientIP affinity on real daemons and sockets: one client's connections, each from a new port, to a service with
 * {@code affinity client-ip} all land on one backend, while a service without it over the same backends spreads
 * them; a reload that turns the affinity off spreads them too.
 */
@ExtendWith(KernelRequired.class)
class AffinityEndToEndTest
{
    private static final String VIP_STICKY = Topology.vip(1);
    private static final String VIP_SPREAD = Topology.vip(2);
    private static final int PORT = 80;
    private static final int CONNECTIONS = 20;

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
        rig = RigCluster.start(Topology.builder().clients(1).servers(3), logs, List.of(PORT),
            t -> Map.of(t.clients().get(0), List.of(VIP_STICKY, VIP_SPREAD)));
        topology = rig.topology();
        cluster = rig.cluster();
        client = topology.clients().get(0);
    }

    @AfterAll
    static void stopCluster()
    {
        if (rig != null)
        {
            if (cluster != null)
            {
                cluster.detachLb();
            }
            rig.close();
        }
    }

    @Test
    void oneClientsConnectionsStayOnOneBackendOfTheAffinityServiceAndSpreadOverTheOther() throws Exception
    {
        cluster.startLbWithServices(services("client-ip 10s"), "--health-interval-ms", "60000");

        final List<Long> sticky = connect(VIP_STICKY);
        assertEquals(CONNECTIONS, sticky.stream().mapToLong(Long::longValue).sum(), "every SYN redirected");
        assertEquals(CONNECTIONS, sticky.stream().mapToLong(Long::longValue).max().orElseThrow(),
            "all " + CONNECTIONS + " on one backend: " + sticky);

        final List<Long> spread = connect(VIP_SPREAD);
        assertTrue(spread.stream().allMatch(n -> n >= CONNECTIONS / 3), "round robin over all three: " + spread);

        final MetricRegistry status = cluster.lbStatus();
        assertEquals(CONNECTIONS - 1, CrabCluster.gauge(status, "crab.lb.affinity.hit"), "counted");
        assertEquals(1, CrabCluster.gauge(status, "crab.lb.affinity.new"));
        assertEquals(10, CrabCluster.gauge(status, "crab.service.sticky.affinity_s"));
        assertEquals(0, CrabCluster.gauge(status, "crab.service.spread.affinity_s"));

        cluster.writeServices(services("none"));
        awaitLog("service sticky: affinity client-ip 10s -> none");
        final List<Long> after = connect(VIP_STICKY);
        assertTrue(after.stream().allMatch(n -> n >= CONNECTIONS / 3), "affinity off by a reload: spread " + after);
    }

    /** Service sticky on VIP 1 with this affinity, spread on VIP 2 without, both round robin over the three servers. */
    private static List<String> services(final String affinity)
    {
        final List<String> lines = new ArrayList<>();
        lines.addAll(List.of("service sticky", "  vip " + VIP_STICKY + ":" + PORT, "  affinity " + affinity));
        topology.servers().forEach(server -> lines.add("  backend " + server.ip()));
        lines.addAll(List.of("service spread", "  vip " + VIP_SPREAD + ":" + PORT));
        topology.servers().forEach(server -> lines.add("  backend " + server.ip()));
        return lines;
    }

    /** Opens CONNECTIONS connections to the VIP one after the other; the SYNs redirected to each server meanwhile. */
    private static List<Long> connect(final String vip)
    {
        final List<Long> before = redirectedSyns();
        final LoadResult crr = Crr.run(LoadSpec.to(new InetSocketAddress(vip, PORT)).withMaxTransactions(CONNECTIONS)
            .withDuration(Duration.ofSeconds(60)).withThreadFactory(client.netns().threadFactory("crr")));
        assertEquals(CONNECTIONS, crr.transactions(), crr.toString());
        final List<Long> after = redirectedSyns();
        return List.of(after.get(0) - before.get(0), after.get(1) - before.get(1), after.get(2) - before.get(2));
    }

    private static List<Long> redirectedSyns()
    {
        final MetricRegistry status = cluster.lbStatus();
        return topology.servers().stream().map(h -> status.getGauges().containsKey("crab.lb.backend." + h.ip() +
            ".syns") ? CrabCluster.gauge(status, "crab.lb.backend." + h.ip() + ".syns") : 0L).toList();
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
