package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Who a service admits and what it does without backends, with the real daemons in namespaces: a service allowed
 * from two clients (one with crab, one without) serves them and no one else, an attacker's SYN being dropped
 * whether its client program marks it or not, and a reload moves the line live; a service that drops what it
 * cannot place lets a client's connect time out (no reset comes back) where one that passes is refused at once.
 */
@ExtendWith(KernelRequired.class)
class AdmissionEndToEndTest
{
    private static final String VIP_RESTRICTED = Topology.vip(1);
    private static final String VIP_DROPS = Topology.vip(2);
    private static final String VIP_REFUSES = Topology.vip(3);
    private static final int PORT = 80;
    /** Long enough for a SYN-ACK or a reset on a local bridge many times over; a dropped SYN sees neither. */
    private static final int CONNECT_TIMEOUT_MS = 400;

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    private static RigCluster rig;
    private static CrabCluster cluster;
    private static Host allowedCrab;
    private static Host attackerCrab;
    private static Host attackerPlain;
    private static Host allowedPlain;

    @BeforeAll
    static void startCluster()
    {
        final List<String> vips = List.of(VIP_RESTRICTED, VIP_DROPS, VIP_REFUSES);
        rig = RigCluster.start(Topology.builder().clients(4).servers(2), logs, List.of(PORT),
            t -> Map.of(t.clients().get(0), vips, t.clients().get(1), vips, t.clients().get(2), List.of(),
                t.clients().get(3), List.of()));
        cluster = rig.cluster();
        final List<Host> clients = rig.topology().clients();
        allowedCrab = clients.get(0);
        attackerCrab = clients.get(1);
        attackerPlain = clients.get(2);
        allowedPlain = clients.get(3);
        cluster.serveVip(VIP_RESTRICTED, List.of(PORT));
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
    void onlyTheAllowedClientsConnectMarkedOrNotAndAReloadMovesTheLine()
    {
        cluster.startLbWithServices(restricted(allowedCrab, allowedPlain), "--health-interval-ms", "60000");
        for (int i = 0; i < 5; i++)
        {
            assertEquals("connected", connect(allowedCrab, VIP_RESTRICTED), "allowed, redirected");
            assertEquals("connected", connect(allowedPlain, VIP_RESTRICTED), "allowed, through the fallback");
        }
        MetricRegistry status = cluster.lbStatus();
        assertEquals(5, CrabCluster.gauge(status, "crab.lb.packets.tx_redirect"), "the allowed crab client's SYNs");
        assertEquals(5, CrabCluster.gauge(status, "crab.lb.fallback.new"), "the allowed plain client's SYNs");

        final long dropsBefore = CrabCluster.gauge(status, "crab.lb.packets.drop_source_range");
        for (int i = 0; i < 3; i++)
        {
            assertEquals("timed out", connect(attackerCrab, VIP_RESTRICTED), "a marked SYN from outside");
            assertEquals("timed out", connect(attackerPlain, VIP_RESTRICTED), "an unmarked SYN from outside");
        }
        status = cluster.lbStatus();
        assertTrue(CrabCluster.gauge(status, "crab.lb.packets.drop_source_range") - dropsBefore >= 6,
            "each attempt's SYN (and its retransmissions) dropped and counted");
        assertEquals(5, CrabCluster.gauge(status, "crab.lb.packets.tx_redirect"), "none of them redirected");
        assertEquals(5, CrabCluster.gauge(status, "crab.lb.fallback.new"), "none of them placed");

        final List<String> reload = cluster.reloadServices(restricted(allowedCrab, attackerCrab),
            Duration.ofSeconds(5));
        assertTrue(reload.stream().anyMatch(l -> l.contains("service web: allow-from " +
            List.of(allowedCrab.ip(), allowedPlain.ip()).stream().sorted().map(ip -> ip + "/32")
                .reduce((a, b) -> a + "," + b).orElseThrow() + " -> ")), reload.toString());
        assertEquals("connected", connect(attackerCrab, VIP_RESTRICTED), "allowed now");
        assertEquals("timed out", connect(allowedPlain, VIP_RESTRICTED), "no longer allowed");
        assertEquals("connected", connect(allowedCrab, VIP_RESTRICTED), "allowed throughout");

        cluster.reloadServices(restricted(), Duration.ofSeconds(5));
        assertEquals("connected", connect(attackerPlain, VIP_RESTRICTED), "no allow-from: every client");
        assertEquals("connected", connect(allowedPlain, VIP_RESTRICTED));
    }

    @Test
    void aServiceThatDropsLetsTheConnectTimeOutWhereOneThatPassesIsRefused()
    {
        cluster.startLbWithServices(List.of(
            "service drops", "  vip " + VIP_DROPS + ":" + PORT, "  no-backend drop",
            "service refuses", "  vip " + VIP_REFUSES + ":" + PORT), "--health-interval-ms", "60000");
        assertEquals("refused", connect(allowedCrab, VIP_REFUSES), "the LB host's stack resets it");
        assertEquals("refused", connect(allowedPlain, VIP_REFUSES));

        final long before = CrabCluster.gauge(cluster.lbStatus(), "crab.lb.packets.drop_no_backend");
        final long start = System.nanoTime();
        assertEquals("timed out", connect(allowedCrab, VIP_DROPS), "no reset: the SYN went nowhere");
        assertEquals("timed out", connect(allowedPlain, VIP_DROPS));
        assertTrue(System.nanoTime() - start < 3 * CONNECT_TIMEOUT_MS * 1_000_000L, "each ends at its timeout");
        final MetricRegistry status = cluster.lbStatus();
        assertTrue(CrabCluster.gauge(status, "crab.lb.packets.drop_no_backend") - before >= 2,
            "the marked and the unmarked SYN dropped and counted");
        assertEquals(1, CrabCluster.gauge(status, "crab.lb.packets.pass_no_backend"),
            "only the refusing service's marked SYN went to the stack");
    }

    /** Service web on the restricted VIP over both servers, allowed from these clients' addresses (all if none). */
    private static List<String> restricted(final Host... allowed)
    {
        final StringBuilder allowFrom = new StringBuilder();
        for (final Host host : allowed)
        {
            allowFrom.append(allowFrom.length() == 0 ? "" : ", ").append(host.ip()).append("/32");
        }
        final List<Host> servers = rig.topology().servers();
        return allowed.length == 0 ?
            List.of("service web", "  vip " + VIP_RESTRICTED + ":" + PORT, "  backend " + servers.get(0).ip(),
                "  backend " + servers.get(1).ip()) :
            List.of("service web", "  vip " + VIP_RESTRICTED + ":" + PORT, "  allow-from " + allowFrom,
                "  backend " + servers.get(0).ip(), "  backend " + servers.get(1).ip());
    }

    /** One connect from the host's namespace: "connected", "refused" (a reset came back) or "timed out". */
    private static String connect(final Host host, final String vip)
    {
        return host.netns().call(() ->
        {
            try (Socket socket = new Socket())
            {
                socket.connect(new InetSocketAddress(vip, PORT), CONNECT_TIMEOUT_MS);
                return "connected";
            }
            catch (final ConnectException refused)
            {
                return "refused";
            }
            catch (final SocketTimeoutException timedOut)
            {
                return "timed out";
            }
            catch (final IOException other)
            {
                return other.toString();
            }
        });
    }
}
