package io.crab.rig;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.crab.bpf.Netns;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Builds real namespace topologies; needs root, and fails rather than skips without it when CI=true. */
class TopologyTest
{
    private static final int PORT = 7000;

    @BeforeAll
    static void requireRoot() throws IOException
    {
        // /proc/self belongs to the process's effective uid.
        final boolean root = ((Number)Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue() == 0;
        if (!root && "true".equalsIgnoreCase(System.getenv("CI")))
        {
            fail("TopologyTest needs root to create network namespaces, and CI=true forbids skipping it");
        }
        assumeTrue(root, "TopologyTest needs root to create network namespaces");
    }

    @Test
    void buildsHostsOnOneBridgeAndCarriesTcp() throws Exception
    {
        final List<Netns> namespaces = new ArrayList<>();
        try (Topology topology = Topology.builder().clients(2).servers(2).build())
        {
            assertTrue(topology.id().matches("[0-9a-z]{4}"), topology.id());
            namespaces.add(topology.switchNetns());
            topology.hosts().forEach((h) -> namespaces.add(h.netns()));
            assertEquals(6, namespaces.size());
            for (final Netns netns : namespaces)
            {
                assertTrue(netns.exists(), netns.name());
                assertTrue(netns.name().startsWith("crab-" + topology.id() + "-"), netns.name());
            }
            assertEquals("crab-" + topology.id() + "-sw", topology.switchNetns().name());
            assertEquals("crab-" + topology.id() + "-lb", topology.lb().netns().name());

            assertEquals("198.18.0.2", topology.lb().ip());
            assertEquals(List.of("198.18.0.11", "198.18.0.12"), topology.clients().stream().map(Host::ip).toList());
            assertEquals(List.of("198.18.0.101", "198.18.0.102"), topology.servers().stream().map(Host::ip).toList());
            assertEquals(List.of("c1", "c2"), topology.clients().stream().map(Host::name).toList());
            assertEquals("198.19.0.7", Topology.vip(7));

            final long rootInode = Netns.currentInode();
            for (final Host host : topology.hosts())
            {
                assertEquals("eth0", host.iface());
                assertTrue(host.mac().matches("[0-9a-f]{2}(:[0-9a-f]{2}){5}"), host.mac());
                assertTrue(host.ifindex() > 1, host + " ifindex " + host.ifindex());
                assertEquals(host.ip(), host.ipAddress().getHostAddress());

                final long inode = host.netns().inode();
                assertNotEquals(rootInode, inode);
                assertEquals(inode, (long)host.netns().call(Netns::currentInode), host.toString());
                // nsenter (exec) and setns (call) land in the same namespace.
                assertEquals("net:[" + inode + "]", topology.exec(host, "readlink", "/proc/self/ns/net").strip());
                assertEquals("1", topology.exec(host, "cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6").strip());
                assertTrue(topology.exec(host, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
                    .contains(" " + host.ip() + "/24 "));
                assertEquals("", topology.exec(host, "ip", "route", "show", "default").strip(), "no default route");
            }
            assertEquals(rootInode, Netns.currentInode(), "the calling thread never leaves its namespace");

            final Host client = topology.clients().get(1);
            assertTrue(topology.exec(client, "ip", "route", "get", Topology.vip(1)).contains("via 198.18.0.2 "));
            final String bridgePorts = Shell.run("ip", "-n", topology.switchNetns().name(), "-o", "link", "show",
                "master", Topology.BRIDGE);
            for (final Host host : topology.hosts())
            {
                assertTrue(bridgePorts.contains(" " + host.peer() + "@"), bridgePorts);
            }

            assertEchoes(topology.servers().get(1), client);
            assertEchoes(topology.servers().get(0), topology.clients().get(0));
        }

        for (final Netns netns : namespaces)
        {
            assertFalse(netns.exists(), netns.name() + " left behind");
        }
        assertFalse(Shell.run("ip", "netns", "list").contains(namespaces.get(0).name()));
    }

    @Test
    void clientCannotReachBeyondItsSubnet()
    {
        try (Topology topology = Topology.builder().build())
        {
            final Host client = topology.clients().get(0);
            final long start = System.nanoTime();
            final IOException ex = client.netns().call(() ->
            {
                try (Socket socket = new Socket())
                {
                    socket.connect(new InetSocketAddress("198.18.1.1", PORT), 1_000);
                    return null;
                }
                catch (final IOException e)
                {
                    return e;
                }
            });
            final long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

            assertTrue(null != ex, "connect to 198.18.1.1 must fail");
            assertFalse(ex instanceof SocketTimeoutException, "no route should fail at once, not time out: " + ex);
            assertTrue(elapsedMs < 1_000, "took " + elapsedMs + " ms");
        }
    }

    @Test
    void spawnedProcessesRunInTheHostAndDieOnClose(@TempDir final Path dir) throws Exception
    {
        final Path log = dir.resolve("logs/s1.log");
        final Process process;
        final Netns server;
        try (Topology topology = Topology.builder().build())
        {
            final Host host = topology.servers().get(0);
            server = host.netns();
            // The trap makes the shell ignore SIGTERM, so close() has to escalate to SIGKILL.
            process = topology.spawn(host, List.of("sh", "-c",
                "trap '' TERM; readlink /proc/self/ns/net; echo ready; while :; do sleep 1; done"), log);
            waitFor(() -> Files.exists(log) && Files.readString(log).contains("ready"));
            assertEquals("net:[" + server.inode() + "]", Files.readString(log).lines().findFirst().orElseThrow());
            assertTrue(process.isAlive());
        }

        assertFalse(process.isAlive());
        assertFalse(server.exists());
    }

    @Test
    void closeIsIdempotentAndRefusesFurtherUse()
    {
        final Topology topology = Topology.builder().clients(1).servers(1).build();
        final Host server = topology.servers().get(0);
        topology.close();
        topology.close();
        assertFalse(server.netns().exists());
        assertThrows(IllegalStateException.class, () -> topology.spawn(server, List.of("true"), null));
    }

    @Test
    void invalidSizesAreRejectedBeforeAnythingIsCreated()
    {
        final List<String> before = crabNamespaces();
        assertThrows(IllegalArgumentException.class, () -> Topology.builder().servers(0));
        assertThrows(IllegalArgumentException.class, () -> Topology.builder().clients(0));
        assertThrows(IllegalArgumentException.class, () -> Topology.builder().clients(Topology.MAX_CLIENTS + 1));
        assertThrows(IllegalArgumentException.class, () -> Topology.builder().routedServers(-1));
        assertThrows(IllegalArgumentException.class, () -> Topology.builder().servers(2).routedServers(3).build());
        assertThrows(IllegalArgumentException.class, () -> Topology.vip(0));
        assertEquals(before, crabNamespaces());
    }

    /**
     * The clash makes the build fail where that host is made: "lb" before the load balancer exists, "rt" at the
     * router, "s2" at a server behind it.
     */
    @ParameterizedTest
    @ValueSource(strings = { "lb", "rt", "s1", "s2" })
    void failedBuildRemovesWhatItCreated(final String clashingHost)
    {
        final String runId = String.format("zz%02d", ThreadLocalRandom.current().nextInt(100));
        final String clash = "crab-" + runId + "-" + clashingHost;
        Shell.run("ip", "netns", "add", clash);
        try
        {
            final Shell.CommandException ex = assertThrows(Shell.CommandException.class,
                () -> Topology.builder().id(runId).clients(2).servers(2).routedServers(1).build());
            assertTrue(ex.getMessage().contains("netns add " + clash), ex.getMessage());

            // Everything the build made before the clash is gone; the namespace it did not make is untouched.
            final List<String> left = crabNamespaces().stream().filter((n) -> n.startsWith("crab-" + runId)).toList();
            assertEquals(List.of(clash), left);
        }
        finally
        {
            Shell.run("ip", "netns", "del", clash);
        }
    }

    @Test
    void netnsReportsMissingNamespacesAndRethrowsTaskExceptions()
    {
        final Netns missing = Netns.named("crab-none-missing");
        final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> missing.call(() -> 1));
        assertTrue(ex.getMessage().contains("crab-none-missing") && ex.getMessage().contains("errno 2"),
            ex.getMessage());
        assertThrows(IllegalStateException.class, () -> missing.threadFactory("x").newThread(() -> {}));

        try (Topology topology = Topology.builder().build())
        {
            final Netns netns = topology.lb().netns();
            final ArithmeticException thrown = assertThrows(ArithmeticException.class, () -> netns.run(() ->
            {
                throw new ArithmeticException("boom");
            }));
            assertEquals("boom", thrown.getMessage());
            final RuntimeException wrapped = assertThrows(RuntimeException.class, () -> netns.call(() ->
            {
                throw new Exception("checked");
            }));
            assertEquals("checked", wrapped.getCause().getMessage());

            final ExecutorService executor = Executors.newSingleThreadExecutor(netns.threadFactory("lb-worker"));
            try
            {
                final Future<Long> inode = executor.submit(Netns::currentInode);
                assertEquals(netns.inode(), inode.get(5, TimeUnit.SECONDS));
            }
            finally
            {
                executor.shutdownNow();
            }
        }
        catch (final Exception e)
        {
            throw new AssertionError(e);
        }
    }

    @Test
    void removeStaleRemovesOnlyDeadOwnersTopologies() throws Exception
    {
        // A run whose owner died: the switch carries the tag of a process that has exited.
        final Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        final String runId = String.format("zy%02d", ThreadLocalRandom.current().nextInt(100));
        final String sw = "crab-" + runId + "-sw";
        final String host = "crab-" + runId + "-c1";
        final String router = "crab-" + runId + "-rt";
        Shell.run("ip", "netns", "add", sw);
        Shell.run("ip", "netns", "add", host);
        Shell.run("ip", "netns", "add", router);
        try (Topology live = Topology.builder().build())
        {
            Shell.run("ip", "-n", sw, "link", "add", Topology.BRIDGE, "type", "bridge");
            Shell.run("ip", "-n", sw, "link", "set", Topology.BRIDGE, "alias", "crab-owner=" + dead.pid() + "@1");

            final List<String> removed = Topology.removeStale();
            assertTrue(removed.containsAll(List.of(sw, host, router)), removed.toString());
            assertTrue(removed.stream().noneMatch((n) -> n.startsWith("crab-" + live.id())), removed.toString());
            assertFalse(Netns.named(sw).exists());
            assertFalse(Netns.named(host).exists());
            assertFalse(Netns.named(router).exists());
            assertTrue(live.switchNetns().exists());
        }
        finally
        {
            for (final String name : List.of(host, router, sw))
            {
                if (Netns.named(name).exists())
                {
                    Shell.run("ip", "netns", "del", name);
                }
            }
        }
    }

    @Test
    void xdpTxCanBeEnabledOnTheLoadBalancerAndDisabledAgain()
    {
        assumeTrue(null != TopologyTest.class.getClassLoader().getResource("bpf/" + Topology.XDP_PASS + ".bpf.o"),
            "BPF object " + Topology.XDP_PASS + " not built");
        try (Topology topology = Topology.builder().build())
        {
            topology.enableXdpTxOn(topology.lb());
            topology.enableXdpTxOn(topology.lb());
            final String[] show = {"ip", "-n", topology.switchNetns().name(), "-o", "link", "show", "dev",
                topology.lb().peer()};
            final String peer = Shell.run(show);
            // "xdp" alone: native; a generic program shows as "xdpgeneric", which XDP_TX on a veth cannot use.
            assertTrue(peer.contains(" xdp "), peer);
            topology.disableXdpTxOn(topology.lb());
            final String bare = Shell.run(show);
            assertFalse(bare.contains("xdp"), bare);
            topology.disableXdpTxOn(topology.lb());
        }
    }

    @Test
    void aSwitchPortThatCompletesChecksumsStillCarriesTcpAndUdp() throws Exception
    {
        try (Topology topology = Topology.builder().clients(1).servers(1).build())
        {
            final Host server = topology.servers().get(0);
            topology.completeChecksumsTowards(server);
            // The kernel now fills in the client's partial checksums at the switch; a wrong fill would be dropped.
            assertEchoes(server, topology.clients().get(0));
            final String counters = Shell.run("ip", "netns", "exec", server.netns().name(), "nstat", "-asz",
                "TcpInCsumErrors");
            assertTrue(counters.matches("(?s).*TcpInCsumErrors\\s+0\\s.*"), counters);
        }
    }

    /** A server in {@code server}'s namespace echoes what a client in {@code client}'s namespace sends. */
    private static void assertEchoes(final Host server, final Host client) throws Exception
    {
        final ServerSocket listener = server.netns().call(() ->
            new ServerSocket(PORT, 1, server.ipAddress()));
        final ExecutorService acceptor = Executors.newSingleThreadExecutor();
        try (listener)
        {
            // Accepting from a thread of the root namespace: the listener stays where it was created.
            final Future<String> seenByServer = acceptor.submit(() ->
            {
                try (Socket accepted = listener.accept())
                {
                    final byte[] request = accepted.getInputStream().readNBytes(5);
                    accepted.getOutputStream().write(("pong " + new String(request, StandardCharsets.US_ASCII))
                        .getBytes(StandardCharsets.US_ASCII));
                    return accepted.getInetAddress().getHostAddress();
                }
            });

            final Socket socket = client.netns().call(() ->
            {
                final Socket s = new Socket();
                s.connect(new InetSocketAddress(server.ipAddress(), PORT), 2_000);
                return s;
            });
            try (socket)
            {
                // Used from this thread, outside the namespace the connection was made in.
                socket.setSoTimeout(5_000);
                final OutputStream out = socket.getOutputStream();
                out.write("ping!".getBytes(StandardCharsets.US_ASCII));
                final InputStream in = socket.getInputStream();
                assertEquals("pong ping!", new String(in.readNBytes(10), StandardCharsets.US_ASCII));
                assertEquals(client.ip(), socket.getLocalAddress().getHostAddress());
            }
            assertEquals(client.ip(), seenByServer.get(5, TimeUnit.SECONDS));
        }
        finally
        {
            acceptor.shutdownNow();
        }
    }

    private static List<String> crabNamespaces()
    {
        try (Stream<Path> entries = Files.isDirectory(Netns.NETNS_DIR) ? Files.list(Netns.NETNS_DIR) : Stream.empty())
        {
            return entries.map((p) -> p.getFileName().toString()).filter((n) -> n.startsWith("crab-")).sorted()
                .toList();
        }
        catch (final IOException ex)
        {
            throw new AssertionError(ex);
        }
    }

    private static void waitFor(final Check check) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!check.ok())
        {
            if (System.nanoTime() > deadline)
            {
                fail("condition not met within 5 s");
            }
            Thread.sleep(20);
        }
    }

    @FunctionalInterface
    private interface Check
    {
        boolean ok() throws Exception;
    }
}
