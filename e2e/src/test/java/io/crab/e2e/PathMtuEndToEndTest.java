package io.crab.e2e;

import io.crab.bench.cluster.CrabCluster;
import io.crab.bpf.testing.KernelRequired;
import io.crab.endpoint.EndpointAgent;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Path-MTU discovery for redirected connections: the backend sits behind a router whose path towards it is
 * narrower than the client's link, and only the router's ICMP "fragmentation needed", quoting the packet as it
 * went to the backend, can tell the client's socket (which knows only the VIP) to send smaller segments.
 */
@ExtendWith(KernelRequired.class)
class PathMtuEndToEndTest
{
    private static final String VIP = Topology.vip(1);
    private static final int PORT = 80;
    private static final int BYTES = 4 << 20;

    private static RigCluster rig;
    private static Topology topology;
    private static CrabCluster cluster;
    private static Host client;
    private static Host backend;

    /** The daemons' logs; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    @BeforeAll
    static void startCluster() throws Exception
    {
        rig = RigCluster.start(Topology.builder().clients(1).servers(1).routedServers(1), logs, List.of(PORT),
            t -> Map.of(t.clients().get(0), List.of(VIP)));
        topology = rig.topology();
        cluster = rig.cluster();
        client = topology.clients().get(0);
        backend = topology.servers().get(0);
        cluster.startLb(List.of(backend.ip()), "--vip", VIP);
    }

    @AfterAll
    static void stopCluster()
    {
        if (rig != null)
        {
            rig.close();
        }
    }

    @Test
    void aBulkTransferThroughTheVipCompletesAfterThePathMtuDrops() throws Exception
    {
        try (Socket s = Connections.connect(client, new InetSocketAddress(VIP, PORT)))
        {
            Connections.assertEchoes(s);
            topology.setRouterPathMtu(backend, 1200);
            final long translatedBefore = icmpTranslated();
            final byte[] data = new byte[BYTES];
            for (int i = 0; i < data.length; i++)
            {
                data[i] = (byte)(i * 7 + 3);
            }
            final CompletableFuture<Void> writer = CompletableFuture.runAsync(() ->
            {
                try
                {
                    s.getOutputStream().write(data);
                }
                catch (final Exception ex)
                {
                    throw new IllegalStateException(ex);
                }
            });
            final InputStream in = s.getInputStream();
            assertArrayEquals(data, in.readNBytes(BYTES), "4 MiB echoed through a 1200-byte path");
            writer.get();
            assertTrue(icmpTranslated() > translatedBefore, "the router's ICMP errors were made to name the VIP");
        }
    }

    private static long icmpTranslated()
    {
        return CrabCluster.endpointCounters(client, EndpointAgent.Role.CLIENT).get("icmp_translated");
    }
}
