package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.cluster.Daemon;
import io.crab.bench.traffic.Crr;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bpf.testing.KernelRequired;
import io.crab.lb.LbAgent;
import io.crab.lb.LbStatus;
import io.crab.rig.Host;
import io.crab.rig.Shell;
import io.crab.rig.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static io.crab.bench.cluster.CrabCluster.gauge;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --xdp-mode} on the rig, whose LB sits on a veth: with no XDP program on the veth's peer (the rig's own
 * xdp_pass removed), native XDP_TX would drop every redirected SYN, so auto runs generic and native is refused; with
 * one, both run native; a restart keeps the running mode, or replaces it when another is asked for.
 * <p>
 * The switch completes partial checksums on its way to the servers, as a NIC with offload would: the client's SYNs
 * leave it with partial checksums, and generic XDP keeps the socket buffer's note of that, so a redirected SYN must
 * keep the note true (its TCP header where it was, the pseudo-header sum in the field) or it arrives corrupt.
 */
@ExtendWith(KernelRequired.class)
class XdpModeEndToEndTest
{
    private static final String VIP = Topology.vip(1);
    private static final int PORT = 80;

    private static RigCluster rig;
    private static Topology topology;
    private static CrabCluster cluster;
    private static Host client;

    @TempDir
    static Path logs;

    @BeforeAll
    static void startCluster()
    {
        rig = RigCluster.start(Topology.builder().clients(1).servers(2), logs, List.of(PORT),
            t -> Map.of(t.clients().get(0), List.of(VIP)));
        topology = rig.topology();
        cluster = rig.cluster();
        client = topology.clients().get(0);
        topology.disableXdpTxOn(topology.lb());
        topology.servers().forEach(topology::completeChecksumsTowards);
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
    void removeLbAndPeerProgram()
    {
        cluster.detachLb();
        topology.disableXdpTxOn(topology.lb());
    }

    @Test
    void nativeOnAVethWhosePeerHasNoXdpProgramIsRefusedWithExitTwoAndNothingAttached()
    {
        final IllegalStateException refused = assertThrows(IllegalStateException.class, () -> startLb("native"));
        final String lb = topology.lb().iface();
        assertTrue(refused.getMessage().contains("exited with 2 before it was ready"), refused.getMessage());
        assertTrue(refused.getMessage().contains("\ncrab-lb: --xdp-mode native: " + lb + " is a veth whose peer (" +
            topology.lb().peer() + ", ifindex "), refused.getMessage());
        assertTrue(refused.getMessage().contains(", in another namespace) has no native XDP program, so the veth " +
            "would drop every SYN crab-lb sends back out; attach an XDP program to the peer in native mode (one that " +
            "passes every frame will do), or use --xdp-mode generic or auto\n"), refused.getMessage());
        assertFalse(refused.getMessage().contains("crab-lb: ready"), refused.getMessage());
        assertFalse(topology.lb().netns().call(() -> Files.exists(LbAgent.pinDir(lb))), "nothing pinned");
        final String link = Shell.run("ip", "-n", topology.lb().netns().name(), "-o", "link", "show", "dev", lb);
        assertFalse(link.contains("xdp"), "no XDP program on " + lb + ": " + link);
    }

    @Test
    void autoRunsGenericOnAVethWhosePeerHasNoXdpProgramAndTheRedirectedSynsReachTheBackends()
    {
        final Daemon lb = startLb("auto");
        assertReady(lb, "generic");
        assertTrue(lb.logText().contains("crab-lb: XDP in generic mode: " + topology.lb().iface() + " is a veth " +
            "whose peer (" + topology.lb().peer() + ", ifindex "), lb.logText());
        assertEquals("generic", xdpMode(cluster.lbStatus()));
        assertRedirects(300);
    }

    @Test
    void withANativeProgramOnThePeerAutoAndNativeBothRunNative()
    {
        topology.enableXdpTxOn(topology.lb());
        assertReady(startLb("auto"), "native");
        assertEquals("native", xdpMode(cluster.lbStatus()));
        assertRedirects(100);
        cluster.lb().stop();
        final Daemon again = startLb("native");
        assertTrue(again.logText().contains("took over the XDP program"), again.logText());
        assertReady(again, "native");
        assertRedirects(100);
    }

    @Test
    void aRestartKeepsTheRunningModeUnderAutoAndReplacesItWhenAnotherIsAskedFor()
    {
        topology.enableXdpTxOn(topology.lb());
        startLb("native");
        assertRedirects(100);
        cluster.lb().stop();

        final Daemon generic = startLb("generic");
        assertTrue(generic.logText().contains("crab-lb: moving XDP on " + topology.lb().iface() + " from native to " +
            "generic mode, as --xdp-mode asks"), generic.logText());
        assertEquals("generic", xdpMode(cluster.lbStatus()));
        assertEquals(100, gauge(cluster.lbStatus(), "crab.lb.packets.tx_redirect"), "the maps were kept");
        assertRedirects(100);
        cluster.lb().stop();

        final Daemon auto = startLb("auto");
        assertFalse(auto.logText().contains("moving XDP"), auto.logText());
        assertReady(auto, "generic");
        cluster.lb().stop();

        startLb("native");
        assertEquals("native", xdpMode(cluster.lbStatus()));
        assertRedirects(100);
    }

    @Test
    void autoMovesANativeAttachmentToGenericOnceThePeerHasLostItsProgram()
    {
        topology.enableXdpTxOn(topology.lb());
        startLb("auto");
        assertEquals("native", xdpMode(cluster.lbStatus()));
        cluster.lb().stop();
        topology.disableXdpTxOn(topology.lb());

        final Daemon again = startLb("auto");
        assertTrue(again.logText().contains("crab-lb: moving XDP on " + topology.lb().iface() + " from native to " +
            "generic mode: "), again.logText());
        assertEquals("generic", xdpMode(cluster.lbStatus()));
        assertRedirects(100);
    }

    private static Daemon startLb(final String mode)
    {
        final List<String> backends = topology.servers().stream().map(Host::ip).toList();
        return cluster.startLb(backends, "--vip", VIP + ":" + PORT, "--xdp-mode", mode, "--health-interval-ms",
            "60000");
    }

    /** The ready event names the mode after the services, leaving "ready on IFACE: " as it always was. */
    private static void assertReady(final Daemon lb, final String mode)
    {
        final String ready = lb.logText().lines().filter(l -> l.contains("crab-lb: ready on ")).findFirst()
            .orElseThrow(() -> new AssertionError("no ready event:\n" + lb.logText()));
        assertTrue(ready.contains("crab-lb: ready on " + topology.lb().iface() + ": vip-") &&
            ready.contains("; XDP " + mode + "; option kind 42;"), ready);
    }

    private static String xdpMode(final MetricRegistry status)
    {
        return String.valueOf(status.getGauges().get(LbStatus.XDP_MODE).getValue());
    }

    /**
     * {@code connections} new connections through the VIP all echo, and the LB's XDP program redirected one SYN
     * for each (none went by the fallback): the SYNs it sent back out reached the backends.
     */
    private static void assertRedirects(final int connections)
    {
        final MetricRegistry before = cluster.lbStatus();
        final LoadResult crr = Crr.run(LoadSpec.to(new InetSocketAddress(VIP, PORT)).withConcurrency(2)
            .withMaxTransactions(connections).withDuration(Duration.ofSeconds(60))
            .withThreadFactory(client.netns().threadFactory("crr")));
        assertEquals(connections, crr.transactions(), crr.toString());
        assertEquals(0, crr.failureCount(), crr.toString());
        final MetricRegistry after = cluster.lbStatus();
        assertEquals(connections, gauge(after, "crab.lb.packets.tx_redirect") -
            gauge(before, "crab.lb.packets.tx_redirect"), "one redirected SYN per connection");
        assertEquals(0, gauge(after, "crab.lb.fallback.new") - gauge(before, "crab.lb.fallback.new"),
            "no connection by the fallback");
        final long bySyns = topology.servers().stream()
            .mapToLong(s -> gauge(after, "crab.lb.backend." + s.ip() + ".syns") -
                gauge(before, "crab.lb.backend." + s.ip() + ".syns")).sum();
        assertEquals(connections, bySyns, "the backends' SYN counts add up");
    }
}
