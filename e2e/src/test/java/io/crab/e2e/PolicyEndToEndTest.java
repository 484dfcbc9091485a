package io.crab.e2e;

import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.policy.OpenLoopClient;
import io.crab.bench.policy.OpenLoopResult;
import io.crab.bench.policy.QueueBackends;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The load-aware policies with real connections: one of four backends ten times slower than the others gets its
 * even quarter of the connections under rr, and much less under jsq and p2c, which see its queue through the
 * servers' load reports. The policy changes by a live reload of the services file, on one crab-lb.
 */
@ExtendWith(KernelRequired.class)
class PolicyEndToEndTest
{
    private static final String VIP = Topology.vip(1);
    private static final int PORT = 80;
    /** 2 servers x 2 ports: backends 0 and 1 on s1, 2 and 3 on s2. */
    private static final List<Integer> BACKEND_PORTS = List.of(8001, 8002);
    private static final int SLOW = 2;
    private static final Duration MEAN_SERVICE_TIME = Duration.ofMillis(2);
    private static final double SLOWDOWN = 10;
    /**
     * 3 backends of 500/s and one of 50/s: at 600/s, jsq with exact queues gives the slow one about 7 % of the
     * connections and p2c about 8 % (a simulation of both); rr gives it 150/s, which it cannot serve, so a run
     * under rr is kept short for its queue to drain in a few seconds.
     */
    private static final double RATE = 600;
    private static final Duration WARMUP = Duration.ofMillis(300);
    private static final Duration WINDOW = Duration.ofMillis(500);

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    private static RigCluster rig;
    private static QueueBackends backends;

    @BeforeAll
    static void startCluster()
    {
        // No echo servers: the queue servers below are the backends.
        rig = RigCluster.start(Topology.builder().clients(1).servers(2), logs, List.of(),
            t -> Map.of(t.clients().get(0), List.of(VIP + ":" + PORT)),
            CrabCluster::reportingToTheLb);
        backends = QueueBackends.start(rig.topology().servers(), BACKEND_PORTS, MEAN_SERVICE_TIME,
            id -> id == SLOW ? SLOWDOWN : 1, 1);
        rig.cluster().startLbWithServices(service("rr"), "--no-watch", "--health-interval-ms", "60000");
    }

    @AfterAll
    static void stopCluster()
    {
        try
        {
            if (backends != null)
            {
                backends.close();
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

    @ParameterizedTest
    @ValueSource(strings = {"jsq", "p2c"})
    void aSlowBackendGetsItsQuarterUnderRrAndMuchLessUnderALoadAwarePolicy(final String policy) throws IOException
    {
        rig.cluster().reloadServices(service("rr"), Duration.ofSeconds(10));
        final OpenLoopResult rr = open();
        assertEquals(0, rr.failureCount(), "rr: " + rr.failures());
        assertEquals(0.25, rr.share(SLOW), 0.01, "rr gives every backend its turn, the slow one too: " +
            rr.answeredBy());

        rig.cluster().reloadServices(service(policy), Duration.ofSeconds(10));
        final OpenLoopResult loadAware = open();
        assertEquals(0, loadAware.failureCount(), policy + ": " + loadAware.failures());
        assertTrue(loadAware.share(SLOW) < rr.share(SLOW) / 2, policy + " gives the slow backend " +
            loadAware.answeredBy().getOrDefault(SLOW, 0L) + " of " + loadAware.answered() + " connections, rr gave it " +
            rr.answeredBy().getOrDefault(SLOW, 0L) + " of " + rr.answered() + "; by backend: " +
            loadAware.answeredBy());
        assertTrue(loadAware.p99Ms() < rr.p99Ms(), policy + "'s p99 " + loadAware.p99Ms() + " ms, rr's " +
            rr.p99Ms() + " ms: the slow backend's queue is what makes rr's tail");
    }

    private static List<String> service(final String policy)
    {
        return backends.service("web", VIP + ":" + PORT, policy);
    }

    private static OpenLoopResult open() throws IOException
    {
        final Host client = rig.topology().clients().get(0);
        return OpenLoopClient.run(new OpenLoopClient.Plan(new InetSocketAddress(VIP, PORT), RATE, WARMUP, WINDOW,
            Duration.ofSeconds(15), 1), client.netns().threadFactory("policy-e2e"));
    }
}
