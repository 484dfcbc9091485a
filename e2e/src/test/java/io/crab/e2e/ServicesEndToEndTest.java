package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.traffic.Crr;
import io.crab.bench.traffic.FailureKind;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many services on one crab-lb, each with its own backends, changed live: by rewriting the services file (watched)
 * and by SIGHUP. A change shows in new connections within a second; a file with an error changes nothing.
 */
@ExtendWith(KernelRequired.class)
class ServicesEndToEndTest
{
    private static final String VIP_WEB = Topology.vip(1);
    private static final String VIP_DB = Topology.vip(2);
    private static final int PORT = 80;

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    private static RigCluster rig;
    private static Topology topology;
    private static CrabCluster cluster;
    private static Host client;
    private static String s1;
    private static String s2;
    private static String s3;

    @BeforeAll
    static void startCluster()
    {
        rig = RigCluster.start(Topology.builder().clients(1).servers(3), logs, List.of(PORT),
            t -> Map.of(t.clients().get(0), List.of(VIP_WEB, VIP_DB)));
        topology = rig.topology();
        cluster = rig.cluster();
        client = topology.clients().get(0);
        s1 = topology.servers().get(0).ip();
        s2 = topology.servers().get(1).ip();
        s3 = topology.servers().get(2).ip();
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
    void twoServicesWithDisjointBackendsStayDisjoint()
    {
        cluster.startLbWithServices(List.of(
            "service web", "  vip " + VIP_WEB + ":" + PORT, "  backend " + s1, "  backend " + s2,
            "service db", "  vip " + VIP_DB + ":" + PORT, "  backend " + s3), "--health-interval-ms", "60000");
        final List<Long> before = redirectedSyns();
        assertEquals(300, crr(VIP_WEB, 300).transactions());
        final List<Long> afterWeb = redirectedSyns();
        assertEquals(List.of(150L, 150L, 0L), List.of(afterWeb.get(0) - before.get(0),
            afterWeb.get(1) - before.get(1), afterWeb.get(2) - before.get(2)),
            "web is round-robin over s1 and s2; db's backend got none of its connections");

        assertEquals(200, crr(VIP_DB, 200).transactions());
        final List<Long> afterDb = redirectedSyns();
        assertEquals(List.of(0L, 0L, 200L), List.of(afterDb.get(0) - afterWeb.get(0),
            afterDb.get(1) - afterWeb.get(1), afterDb.get(2) - afterWeb.get(2)),
            "db's connections all went to its one backend");
    }

    @Test
    void aRewrittenFileChangesTheSplitWithinASecondAndABrokenOneChangesNothing() throws Exception
    {
        cluster.startLbWithServices(web(1, 1, ""), "--health-interval-ms", "60000");
        assertSplit(400, 200, 200, 0);

        final long start = System.nanoTime();
        cluster.writeServices(web(3, 1, ""));
        awaitLog("reload 1: service web: backend " + s1 + " weight 1 -> 3");
        assertTrue(System.nanoTime() - start < 1_000_000_000L, "applied within a second of the write");
        assertSplit(400, 300, 100, 0);

        cluster.writeServices(List.of("service web", "  vip " + VIP_WEB + ":" + PORT, "  backend " + s1 + " weight 0"));
        awaitLog("reload refused");
        assertTrue(cluster.lb().logText().contains("services.conf:3:"), "the refusal names file and line:\n" +
            cluster.lb().logText());
        assertSplit(400, 300, 100, 0);
        final MetricRegistry status = cluster.lbStatus();
        assertEquals(1, CrabCluster.gauge(status, "crab.lb.agent.reloads"), "counted");
        assertEquals(1, CrabCluster.gauge(status, "crab.lb.agent.reloads_refused"));
        assertEquals(1, CrabCluster.gauge(status, "crab.lb.agent.changes"));
        assertEquals(3, CrabCluster.gauge(status, "crab.service.web.weight." + s1), "status shows the new weight");

        cluster.writeServices(web(3, 1, ""));
        awaitLog("reload: no change");
        cluster.lb().kill();
        cluster.restartLb();
        assertSplit(400, 300, 100, 0);
        assertEquals(1, CrabCluster.gauge(cluster.lbStatus(), "crab.lb.agent.reloads"),
            "a restarted crab-lb counts on from what it took over");
    }

    @Test
    void sighupReloadsServicesAddedDrainingAndRemoved() throws Exception
    {
        cluster.startLbWithServices(web(1, 1, ""), "--health-interval-ms", "60000", "--no-watch");
        final List<String> withDb = new ArrayList<>(web(1, 1, "draining"));
        withDb.addAll(List.of("service db", "  vip " + VIP_DB + ":" + PORT, "  backend " + s3));
        cluster.writeServices(withDb);
        Thread.sleep(1500);
        assertFalse(cluster.lb().logText().contains("crab-lb: reload"), "with --no-watch only SIGHUP reloads");
        cluster.lb().hangUp();
        awaitLog("service db added");
        awaitLog("active -> draining");
        assertSplit(200, 200, 0, 0);
        assertEquals(100, crr(VIP_DB, 100).transactions(), "the added service takes connections");

        cluster.writeServices(web(1, 1, ""));
        cluster.lb().hangUp();
        awaitLog("service db removed");
        final LoadResult refused = Crr.run(LoadSpec.to(new InetSocketAddress(VIP_DB, PORT)).withMaxTransactions(3)
            .withDuration(Duration.ofSeconds(20)).withThreadFactory(client.netns().threadFactory("gone")));
        assertEquals(3, refused.failures(FailureKind.CONNECT), "a removed service's SYNs are no longer redirected");
    }

    /** Service web on VIP 1 over s1 and s2 with these weights; {@code s2State} "draining" or "". */
    private static List<String> web(final int w1, final int w2, final String s2State)
    {
        return List.of("# web", "service web", "  vip " + VIP_WEB + ":" + PORT,
            "  backend " + s1 + " weight " + w1, "  backend " + s2 + " weight " + w2 + " " + s2State);
    }

    /** New connections to web split as given, by the SYNs the LB redirected to each backend (probes aside). */
    private static void assertSplit(final int connections, final long toS1, final long toS2, final long toS3)
    {
        final List<Long> before = redirectedSyns();
        final LoadResult crr = crr(VIP_WEB, connections);
        assertEquals(connections, crr.transactions(), crr.toString());
        final List<Long> after = redirectedSyns();
        assertEquals(List.of(toS1, toS2, toS3), List.of(after.get(0) - before.get(0), after.get(1) - before.get(1),
            after.get(2) - before.get(2)), "connections per backend");
    }

    private static List<Long> redirectedSyns()
    {
        final MetricRegistry status = cluster.lbStatus();
        return topology.servers().stream().map(h -> status.getGauges().containsKey("crab.lb.backend." + h.ip() +
            ".syns") ? CrabCluster.gauge(status, "crab.lb.backend." + h.ip() + ".syns") : 0L).toList();
    }

    private static LoadResult crr(final String vip, final int connections)
    {
        return Crr.run(LoadSpec.to(new InetSocketAddress(vip, PORT)).withMaxTransactions(connections)
            .withDuration(Duration.ofSeconds(60)).withThreadFactory(client.netns().threadFactory("crr")));
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
