package io.crab.rig;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;

import io.crab.bpf.Netns;
import io.crab.bpf.testing.KernelRequired;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Servers behind the router: reachable from every other host, and a lowered path MTU that works only with ICMP. */
@ExtendWith(KernelRequired.class)
class RoutedServersTest
{
    private static final int PORT = 7001;
    private static final int CONNECT_TIMEOUT_MS = 2_000;
    /** Far longer than the transfer takes when it works, and what the transfer that stalls costs the suite. */
    private static final int STALL_TIMEOUT_MS = 3_000;
    private static final int TRANSFER_BYTES = 4 << 20;
    private static final int PATH_MTU = 1200;

    @Test
    void routedServersSitOnTheirOwnSubnetBehindTheRouter() throws Exception
    {
        final List<Netns> namespaces = new ArrayList<>();
        try (Topology topology = Topology.builder().clients(1).servers(2).routedServers(1).build())
        {
            final Host router = topology.router();
            final Host direct = topology.servers().get(0);
            final Host routed = topology.servers().get(1);
            namespaces.add(topology.switchNetns());
            namespaces.add(router.netns());
            topology.hosts().forEach((h) -> namespaces.add(h.netns()));

            assertEquals("crab-" + topology.id() + "-rt", router.netns().name());
            assertEquals(Host.Role.ROUTER, router.role());
            assertEquals("198.18.0.3", router.ip());
            assertFalse(topology.hosts().contains(router));
            assertEquals("198.18.0.101", direct.ip());
            assertFalse(direct.routed());
            assertEquals("198.18.1.102", routed.ip());
            assertTrue(routed.routed());

            assertEquals("1", topology.exec(router, "cat", "/proc/sys/net/ipv4/ip_forward").strip());
            for (final String iface : List.of("eth0", Topology.ROUTED_BRIDGE))
            {
                assertEquals("1", topology.exec(router, "cat", "/proc/sys/net/ipv6/conf/" + iface + "/disable_ipv6")
                    .strip(), iface);
            }
            assertTrue(topology.exec(router, "ip", "-o", "-4", "addr", "show", "dev", Topology.ROUTED_BRIDGE)
                .contains(" 198.18.1.1/24 "));
            assertEquals("", topology.exec(router, "ip", "route", "show", "default").strip(), "router default route");
            final String routerPorts = topology.exec(router, "ip", "-o", "link", "show", "master", "br1");
            assertTrue(routerPorts.contains(" " + routed.peer() + "@"), routerPorts);

            assertEquals("1", topology.exec(routed, "cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6").strip());
            assertTrue(topology.exec(routed, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
                .contains(" 198.18.1.102/24 "));
            assertTrue(topology.exec(routed, "ip", "-o", "link", "show", "dev", "eth0").contains(" mtu 1500 "));
            assertEquals("default via 198.18.1.1 dev eth0",
                topology.exec(routed, "ip", "route", "show", "default").strip());
            for (final Host host : List.of(topology.lb(), topology.clients().get(0), direct))
            {
                assertEquals("", topology.exec(host, "ip", "route", "show", "default").strip(), host.toString());
                assertTrue(topology.exec(host, "ip", "route", "get", routed.ip()).contains(" via 198.18.0.3 "),
                    host.toString());
            }

            // The load balancer reaches backends to probe them, clients reach them directly: both cross the router.
            echo(topology.clients().get(0), routed, randomBytes(64 << 10), STALL_TIMEOUT_MS);
            echo(topology.lb(), routed, randomBytes(64 << 10), STALL_TIMEOUT_MS);
            echo(routed, direct, randomBytes(64 << 10), STALL_TIMEOUT_MS);

            assertThrows(IllegalArgumentException.class, () -> topology.enableXdpTxOn(routed));
            assertThrows(IllegalArgumentException.class, () -> topology.setRouterPathMtu(direct, PATH_MTU));
            assertThrows(IllegalArgumentException.class, () -> topology.setRouterPathMtu(routed, 67));
            assertThrows(IllegalArgumentException.class, () -> topology.setRouterPathMtu(routed, 1501));
        }

        for (final Netns netns : namespaces)
        {
            assertFalse(netns.exists(), netns.name() + " left behind");
        }
    }

    @Test
    void topologyWithoutRoutedServersHasNoRouter()
    {
        try (Topology topology = Topology.builder().build())
        {
            assertThrows(IllegalStateException.class, topology::router);
            assertFalse(Netns.named("crab-" + topology.id() + "-rt").exists());
        }
    }

    @Test
    void lowerPathMtuAtTheRouterReachesTheClientAsIcmp() throws Exception
    {
        try (Topology topology = Topology.builder().clients(1).servers(1).routedServers(1).build())
        {
            final Host client = topology.clients().get(0);
            final Host server = topology.servers().get(0);
            topology.setRouterPathMtu(server, PATH_MTU);
            assertTrue(topology.exec(topology.router(), "ip", "route", "show", server.ip() + "/32")
                .contains(" mtu " + PATH_MTU), "router route towards the server");

            echo(client, server, randomBytes(TRANSFER_BYTES), STALL_TIMEOUT_MS);

            // The client's kernel caches what the router's ICMP told it about the path.
            final String learned = topology.exec(client, "ip", "route", "get", server.ip());
            assertTrue(learned.contains(" mtu " + PATH_MTU), learned);

            topology.restoreRouterPathMtu(server);
            topology.restoreRouterPathMtu(server);
            assertEquals("", topology.exec(topology.router(), "ip", "route", "show", server.ip() + "/32").strip());
        }
    }

    /** The counter-test: without the router's ICMP the same transfer cannot work, so the one above depends on it. */
    @Test
    void lowerPathMtuWithoutIcmpFromTheRouterStallsTheTransfer() throws Exception
    {
        try (Topology topology = Topology.builder().clients(1).servers(1).routedServers(1).build())
        {
            final Host client = topology.clients().get(0);
            final Host server = topology.servers().get(0);
            topology.setRouterPathMtu(server, PATH_MTU);
            // Every route lookup for ICMP the router itself sends fails, as if a firewall dropped it. A policy rule
            // needs only iproute2, which the rig needs anyway, so unlike an nft rule it never has to be skipped.
            topology.exec(topology.router(), "ip", "rule", "add", "iif", "lo", "ipproto", "icmp", "blackhole");

            assertThrows(SocketTimeoutException.class,
                () -> echo(client, server, randomBytes(TRANSFER_BYTES), STALL_TIMEOUT_MS));

            final String learned = topology.exec(client, "ip", "route", "get", server.ip());
            assertFalse(learned.contains(" mtu "), learned);
        }
    }

    /**
     * Sends {@code payload} from a socket made in the client's namespace to an echo server in the server's and reads
     * the echo back while sending; throws {@link SocketTimeoutException} if no byte arrives for {@code timeoutMs}.
     */
    private static void echo(final Host client, final Host server, final byte[] payload, final int timeoutMs)
        throws Exception
    {
        final ExecutorService executor = Executors.newFixedThreadPool(2);
        // Closing the sockets ends the echo and the sender even when they are blocked on a stalled connection.
        try (ServerSocket listener = server.netns().call(() -> new ServerSocket(PORT, 1, server.ipAddress()));
            Socket socket = client.netns().call(() -> connect(server));
            Socket accepted = listener.accept())
        {
            executor.submit(() ->
            {
                accepted.getInputStream().transferTo(accepted.getOutputStream());
                accepted.shutdownOutput();
                return null;
            });
            executor.submit(() ->
            {
                socket.getOutputStream().write(payload);
                socket.shutdownOutput();
                return null;
            });

            socket.setSoTimeout(timeoutMs);
            assertArrayEquals(payload, socket.getInputStream().readAllBytes());
        }
        finally
        {
            executor.shutdownNow();
        }
    }

    private static Socket connect(final Host server) throws Exception
    {
        final Socket socket = new Socket();
        socket.connect(new InetSocketAddress(server.ipAddress(), PORT), CONNECT_TIMEOUT_MS);
        return socket;
    }

    private static byte[] randomBytes(final int length)
    {
        final byte[] bytes = new byte[length];
        ThreadLocalRandom.current().nextBytes(bytes);
        return bytes;
    }
}
