package io.crab.e2e;

import com.codahale.metrics.MetricRegistry;
import io.crab.agent.HostPort;
import io.crab.agent.feedback.FeedbackKey;
import io.crab.agent.feedback.LoadReport;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.PinnedMap;
import io.crab.bpf.testing.KernelRequired;
import io.crab.lb.LbAgent;
import io.crab.lb.LbContext;
import io.crab.lb.LbStatus;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.LongPredicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The servers' load reports for real: crab-endpoint server reports to crab-lb at 100 Hz (signed), and crab-lb's
 * backend_loads follows the connections held open to a backend within 100 ms. Each server is the one backend of a
 * service of its own, so the connections to one VIP all land on it. A report from a client's address is
 * refused, and with --feedback-key so is one from a backend's address with a wrong MAC.
 */
@ExtendWith(KernelRequired.class)
class FeedbackEndToEndTest
{
    private static final String VIP = Topology.vip(1);
    private static final int PORT = 80;
    private static final int FEEDBACK_PORT = LbContext.Feedback.DEFAULT_PORT;

    /** The daemons' logs and the shared key; JUnit removes the folder after the class. */
    @TempDir
    static Path logs;

    private static Path key;
    private static RigCluster rig;
    private static Topology topology;
    private static CrabCluster cluster;
    private static Host client;
    private static Host stranger;
    private static Host s1;
    private static Host s2;

    @BeforeAll
    static void startCluster() throws Exception
    {
        key = logs.resolve("feedback.key");
        Files.writeString(key, "0123456789abcdef0123456789abcdef\n");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        rig = RigCluster.start(Topology.builder().clients(2).servers(2), logs, List.of(PORT),
            t -> Map.of(t.clients().get(0), List.of(VIP)),
            t -> List.of("--report-to", t.lb().ip() + ":" + FEEDBACK_PORT, "--feedback-key", key.toString()));
        topology = rig.topology();
        cluster = rig.cluster();
        client = topology.clients().get(0);
        stranger = topology.clients().get(1);
        s1 = topology.servers().get(0);
        s2 = topology.servers().get(1);
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
    void theLoadFollowsTheConnectionsHeldOpenAndAClientsReportIsRefused() throws Exception
    {
        startLb();
        awaitLoad(s1, n -> n == 0, 2_000, "s1 reports that it is idle (signed reports, a crab-lb without a key)");

        final List<Socket> open = new ArrayList<>();
        try
        {
            for (int i = 0; i < 5; i++)
            {
                open.add(Connections.connect(client, new InetSocketAddress(VIP, PORT)));
            }
            final long ms = awaitLoad(s1, n -> n == 5, 100, "5 connections held open through the VIP");
            System.out.printf("FeedbackEndToEndTest: load 5 in backend_loads %d ms after the fifth connect%n", ms);
            open.forEach(Connections::assertEchoes);

            Connections.closeQuietly(open.remove(0));
            Connections.closeQuietly(open.remove(0));
            awaitLoad(s1, n -> n == 3, 1_000, "2 of them closed");

            final long refusedBefore = feedbackCounter(Abi.Consts.CRAB_FBK_REFUSED_SOURCE);
            for (int i = 0; i < 20; i++)
            {
                sendReport(stranger, null, PORT, 1000);
            }
            awaitCounter(Abi.Consts.CRAB_FBK_REFUSED_SOURCE, refusedBefore + 20);
            assertLoadStays(s1, 3, "a client's reports, under its own address, change nothing");

            final StringWriter status = new StringWriter();
            LbStatus.print(cluster.lbStatus(), topology.lb().iface(), new PrintWriter(status));
            assertTrue(status.toString().contains("load reported") && status.toString().contains("refused_source"),
                status.toString());
            System.out.println(status);
        }
        finally
        {
            open.forEach(Connections::closeQuietly);
        }
    }

    @Test
    void withAKeyAReportWithAWrongMacFromABackendsAddressIsRefused() throws Exception
    {
        startLb("--feedback-key", key.toString());
        awaitLoad(s2, n -> n == 0, 2_000, "the servers' signed reports are taken");
        final long acceptedBefore = feedbackCounter(Abi.Consts.CRAB_FBK_ACCEPTED);
        final FeedbackKey wrong = FeedbackKey.of("0123456789abcdef0123456789abcdeX".getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < 20; i++)
        {
            sendReport(s2, wrong, PORT, 1000);
            sendReport(s2, null, PORT, 1000);
        }
        awaitCounter(Abi.Consts.CRAB_FBK_BAD_MAC, 20);
        awaitCounter(Abi.Consts.CRAB_FBK_UNAUTHENTICATED, 20);
        assertLoadStays(s2, 0, "forged reports from s2's own address, wrongly signed or unsigned, change nothing");
        assertTrue(feedbackCounter(Abi.Consts.CRAB_FBK_ACCEPTED) > acceptedBefore, "the real ones still count");
    }

    private static void startLb(final String... args)
    {
        final List<String> argv = new ArrayList<>(List.of("--health-interval-ms", "60000"));
        argv.addAll(List.of(args));
        cluster.startLbWithServices(List.of("service web", "  vip " + VIP + ":" + PORT, "  policy jsq",
            "  backend " + s1.ip(), "service db", "  vip " + Topology.vip(2) + ":" + PORT, "  policy p2c",
            "  backend " + s2.ip()), argv.toArray(String[]::new));
    }

    /** Sends one report from {@code from}'s own address to crab-lb, as a forger there would. */
    private static void sendReport(final Host from, final FeedbackKey signingKey, final int port, final long load)
    {
        from.netns().call(() ->
        {
            final LoadReport.Writer writer = new LoadReport.Writer(signingKey);
            // Two seconds ahead (crab-lb allows 5): newer than any real report of the sender, so the timestamp check,
            // which comes before the MAC's, never refuses a forgery first and each is judged on its signature.
            writer.begin(System.currentTimeMillis() * 1000 + 2_000_000);
            writer.add(port, load);
            try (DatagramChannel channel = DatagramChannel.open(StandardProtocolFamily.INET))
            {
                channel.bind(new InetSocketAddress(from.ipAddress(), 0));
                channel.send(ByteBuffer.wrap(writer.bytes(), 0, writer.finish(HostPort.ipv4Bits(from.ipAddress()))),
                    new InetSocketAddress(topology.lb().ipAddress(), FEEDBACK_PORT));
            }
            return null;
        });
    }

    /**
     * Polls the backend's reported load in the LB's pinned backend_loads until {@code condition} holds, and returns
     * the milliseconds it took; fails after {@code withinMs}.
     */
    private static long awaitLoad(final Host backend, final LongPredicate condition, final long withinMs,
        final String what)
    {
        final long[] seen = watchLoad(backend, condition, withinMs);
        if (seen[0] < 0)
        {
            fail(what + ": the load of " + backend + " is " + seen[1] + " after " + withinMs + " ms\n" +
                cluster.lb().logText() + "\n" + cluster.endpoint(backend).logText());
        }
        return seen[0];
    }

    /** The load stays {@code expected} over 300 ms of the real reports and whatever forged ones came. */
    private static void assertLoadStays(final Host backend, final long expected, final String what)
    {
        final long[] seen = watchLoad(backend, n -> n != expected, 300);
        if (seen[0] >= 0)
        {
            fail(what + ": the load of " + backend + " became " + seen[1] + " after " + seen[0] + " ms");
        }
    }

    /** Milliseconds until {@code condition} held (-1: it did not within {@code forMs}), and the last load seen. */
    private static long[] watchLoad(final Host backend, final LongPredicate condition, final long forMs)
    {
        return topology.lb().netns().call(() ->
        {
            final Path dir = LbAgent.pinDir(topology.lb().iface());
            try (PinnedMap backends = Bpf.openPinnedMap(dir.resolve(Abi.Maps.BACKENDS).toString());
                PinnedMap loads = Bpf.openPinnedMap(dir.resolve(Abi.Maps.BACKEND_LOADS).toString()))
            {
                final UnsafeBuffer id = new UnsafeBuffer(new byte[4]);
                id.putInt(0, backendId(backends, backend));
                final UnsafeBuffer load = new UnsafeBuffer(new byte[Abi.BackendLoad.SIZE]);
                final long start = System.nanoTime();
                long last = -1;
                while (System.nanoTime() - start < forMs * 1_000_000L)
                {
                    if (loads.lookup(id, load) && load.getLong(Abi.BackendLoad.REPORTED_NS) != 0)
                    {
                        last = load.getLong(Abi.BackendLoad.LOAD);
                        if (condition.test(last))
                        {
                            return new long[] {(System.nanoTime() - start) / 1_000_000L, last};
                        }
                    }
                    Thread.sleep(1);
                }
                return new long[] {-1, last};
            }
        });
    }

    private static int backendId(final PinnedMap backends, final Host backend)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[Abi.Backend.SIZE]);
        final int address = ByteBuffer.wrap(backend.ipAddress().getAddress()).order(ByteOrder.nativeOrder()).getInt();
        for (int id = 0; id < backends.maxEntries(); id++)
        {
            key.putInt(0, id);
            if (backends.lookup(key, value) && value.getInt(Abi.Backend.ADDR) == address &&
                value.getShort(Abi.Backend.PORT) == 0)
            {
                return id;
            }
        }
        throw new IllegalStateException("no backend " + backend + " in crab-lb's maps");
    }

    private static long feedbackCounter(final int index)
    {
        final MetricRegistry status = cluster.lbStatus();
        final String name = io.crab.bpf.Counters.names("CRAB_FBK_").get(index);
        return CrabCluster.gauge(status, "crab.lb.feedback." + name);
    }

    private static void awaitCounter(final int index, final long atLeast) throws InterruptedException
    {
        final long deadline = System.nanoTime() + 2_000_000_000L;
        while (feedbackCounter(index) < atLeast)
        {
            if (System.nanoTime() > deadline)
            {
                fail("feedback counter " + index + " is " + feedbackCounter(index) + ", expected " + atLeast);
            }
            Thread.sleep(10);
        }
    }
}
