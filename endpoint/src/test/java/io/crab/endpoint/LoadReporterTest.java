package io.crab.endpoint;

import io.crab.agent.Log;
import io.crab.agent.feedback.FeedbackKey;
import io.crab.agent.feedback.LoadReport;
import io.crab.bpf.testing.KernelRequired;
import io.crab.endpoint.ScratchNamespace.Connection;
import io.crab.endpoint.ScratchNamespace.Stack;
import org.agrona.concurrent.CachedEpochClock;
import org.agrona.concurrent.CachedNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A server's reports against real sockets in a namespace of the test's own: each listening port's load is its
 * connections, accepted or still queued, plus what applications write to the load socket, and a report goes out
 * every period to a datagram socket standing in for crab-lb.
 */
@ExtendWith(KernelRequired.class)
class LoadReporterTest
{
    private static final long PERIOD_NS = 10_000_000L;
    private static final FeedbackKey KEY = FeedbackKey.of("feedback-key-for-tests".getBytes(StandardCharsets.US_ASCII));

    @TempDir
    Path dir;

    private final CachedNanoClock clock = new CachedNanoClock();
    private final CachedEpochClock wallClock = new CachedEpochClock();
    private final StringWriter logText = new StringWriter();
    private final List<AutoCloseable> sockets = new ArrayList<>();
    private ScratchNamespace namespace;
    private DatagramChannel lb;
    private LoadReporter reporter;

    @BeforeEach
    void createNamespaceAndLb()
    {
        namespace = ScratchNamespace.create();
        lb = namespace.netns().call(() ->
        {
            final DatagramChannel channel = DatagramChannel.open(StandardProtocolFamily.INET);
            channel.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return channel;
        });
        wallClock.update(1_764_000_000_000L);
    }

    @AfterEach
    void closeEverything() throws Exception
    {
        try
        {
            if (reporter != null)
            {
                reporter.close();
            }
            for (final AutoCloseable socket : sockets)
            {
                socket.close();
            }
            lb.close();
        }
        finally
        {
            namespace.close();
        }
    }

    @Test
    void eachListeningPortsLoadIsItsConnectionsAcceptedOrQueuedAndAnIdleOneIsReportedAsZero() throws Exception
    {
        final ServerSocketChannel busy = listen(Stack.IPV4);
        final ServerSocketChannel idle = listen(Stack.DUAL_STACK);
        final Connection first = namespace.connect(Stack.IPV4, busy);
        sockets.add(first);
        for (int i = 0; i < 2; i++)
        {
            sockets.add(namespace.connect(Stack.IPV4, busy));
        }
        for (int i = 0; i < 2; i++)
        {
            sockets.add(connectOnly(busy));
        }
        start(null, null);

        final Map<Integer, Long> report = awaitReport(null);
        assertEquals(Map.of(port(busy), 5L, port(idle), 0L), report,
            "3 accepted and 2 waiting in the accept queue; the idle listener (dual-stack) at 0; the clients' own " +
                "ends are on ports nobody listens on");

        first.close();
        assertEquals(Map.of(port(busy), 4L, port(idle), 0L), awaitReport(null), "a closed connection leaves");
    }

    @Test
    void betweenConnectionDumpsTheAcceptQueueIsReadFromTheListeners() throws Exception
    {
        final ServerSocketChannel listener = listen(Stack.IPV4);
        final int port = port(listener);
        for (int i = 0; i < 3; i++)
        {
            sockets.add(namespace.connect(Stack.IPV4, listener));
        }
        sockets.add(connectOnly(listener));
        final PortLoads loads = new PortLoads();
        final Map<Integer, Integer> seen = new TreeMap<>();
        try (SocketDiag socketDiag = namespace.netns().call(SocketDiag::open))
        {
            loads.measureConnections(socketDiag);
            loads.forEachListening(seen::put);
            assertEquals(Map.of(port, 4), seen, "3 in service, 1 queued");

            sockets.add(connectOnly(listener));
            sockets.add(connectOnly(listener));
            loads.measureQueues(socketDiag);
            loads.forEachListening(seen::put);
            assertEquals(Map.of(port, 6), seen, "the listener's queue grew by 2, seen without a connection dump");

            sockets.add(namespace.netns().call(listener::accept));
            loads.measureQueues(socketDiag);
            loads.forEachListening(seen::put);
            assertEquals(Map.of(port, 5), seen, "one accepted left the queue; in service counts at the next dump");
            loads.measureConnections(socketDiag);
            loads.forEachListening(seen::put);
            assertEquals(Map.of(port, 6), seen);
        }
    }

    @Test
    void theNamespacesTcpSocketCountFollowsConnectionsOfBothFamilies() throws Exception
    {
        try (TcpSocketCount count = namespace.netns().call(TcpSocketCount::open))
        {
            final long before = count.read();
            assertEquals(0, before, "an empty namespace");
            final ServerSocketChannel ipv4 = listen(Stack.IPV4);
            final ServerSocketChannel dualStack = listen(Stack.DUAL_STACK);
            sockets.add(namespace.connect(Stack.IPV4, ipv4));
            sockets.add(namespace.connect(Stack.DUAL_STACK, dualStack));
            assertEquals(6, count.read(), "2 listeners and both ends of 2 connections, one of them AF_INET6");
        }
    }

    @Test
    void reportsComeEveryPeriodSignedAndStrictlyLater() throws Exception
    {
        final ServerSocketChannel listener = listen(Stack.IPV4);
        start(KEY, null);
        final LoadReport.Reader reader = new LoadReport.Reader(KEY);
        final ByteBuffer received = ByteBuffer.allocate(2048);
        long last = Long.MIN_VALUE;
        for (int period = 0; period < 5; period++)
        {
            assertEquals(1, reporter.doWork(), "a report is due");
            assertEquals(0, reporter.doWork(), "not again within the period");
            received.clear();
            assertTrue(receiveWithin(received), "report " + period);
            assertEquals(LoadReport.Verdict.ACCEPTED, reader.wrap(new UnsafeBuffer(received.array()), 0,
                received.position()));
            assertEquals(LoadReport.Verdict.ACCEPTED, reader.order(last, wallClock.time() * 1000));
            assertTrue(reader.timestampMicros() > last);
            assertEquals(port(listener), reader.port(0));
            last = reader.timestampMicros();
            clock.advance(PERIOD_NS);
        }
        assertEquals(5, reporter.reportsSent());
        assertEquals(0, reporter.sendErrors());
    }

    @Test
    void applicationQueuesAddToTheirPortsUntilTheirConnectionCloses() throws Exception
    {
        final ServerSocketChannel listener = listen(Stack.IPV4);
        sockets.add(namespace.connect(Stack.IPV4, listener));
        final Path socketPath = dir.resolve("load.sock");
        start(null, socketPath);
        assertEquals("rw-rw----", java.nio.file.attribute.PosixFilePermissions.toString(
            Files.getPosixFilePermissions(socketPath)));

        final SocketChannel app = SocketChannel.open(UnixDomainSocketAddress.of(socketPath));
        final SocketChannel other = SocketChannel.open(UnixDomainSocketAddress.of(socketPath));
        sockets.add(app);
        sockets.add(other);
        write(app, port(listener) + " 7\n9000 2\n" + port(listener) + " 4");
        write(other, port(listener) + "  10\r\n");
        assertEquals(Map.of(port(listener), 1L + 7 + 10, 9000, 2L), awaitReport(null),
            "the latest complete line of each connection; a port without a listener is reported too");
        write(app, "\n");
        assertEquals(Map.of(port(listener), 1L + 4 + 10, 9000, 2L), awaitReport(null), "the line is complete now");

        app.close();
        assertEquals(Map.of(port(listener), 1L + 10), awaitReport(null), "a closed application's queues go");

        write(other, "80 x\n");
        assertEquals(Map.of(port(listener), 1L), awaitReport(null), "a malformed line closes its connection");
        assertTrue(logText.toString().contains("an application wrote a line that is not 'PORT QUEUE_LENGTH'"),
            logText.toString());
        assertEquals(-1, other.read(ByteBuffer.allocate(1)), "closed by the reporter");
    }

    @Test
    void anUnreachableLbIsCountedAndTheOtherStillGetsItsReport() throws Exception
    {
        listen(Stack.IPV4);
        reporter = new LoadReporter(new LoadReporting(List.of(new InetSocketAddress("198.18.255.1", 4750),
            (InetSocketAddress)lb.getLocalAddress()), 100, null, null, null), clock, wallClock,
            new Log("test", Log.Format.TEXT, false, new PrintWriter(logText), wallClock));
        namespace.netns().run(reporter::open);
        final Exception failure = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, reporter::doWork);
        assertTrue(failure.getMessage().startsWith("sending a load report to /198.18.255.1:4750: "),
            failure.getMessage());
        assertEquals(1, reporter.sendErrors());
        assertEquals(1, reporter.reportsSent());
        final ByteBuffer received = ByteBuffer.allocate(2048);
        assertTrue(receiveWithin(received), "the reachable LB got its report");
    }

    @Test
    void aReportAllocatesNothingOnceWarm() throws Exception
    {
        final ServerSocketChannel listener = listen(Stack.IPV4);
        for (int i = 0; i < 20; i++)
        {
            sockets.add(namespace.connect(Stack.IPV4, listener));
        }
        listen(Stack.DUAL_STACK);
        start(KEY, dir.resolve("load.sock"));
        final SocketChannel app = SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("load.sock")));
        sockets.add(app);
        write(app, "9000 3\n");
        final ByteBuffer received = ByteBuffer.allocate(2048);
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        // A steady allocation per report shows in every round; a one-off (the JIT swapping code) in one at most.
        long allocated = Long.MAX_VALUE;
        for (int round = 0; round < 10; round++)
        {
            final long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 300; i++)
            {
                clock.advance(PERIOD_NS);
                reporter.doWork();
            }
            allocated = Math.min(allocated, threads.getCurrentThreadAllocatedBytes() - before);
            do
            {
                received.clear();
            }
            while (lb.receive(received) != null);
        }
        assertEquals(0, allocated, "bytes allocated by 300 reports, the least of 10 rounds");
    }

    private void start(final FeedbackKey key, final Path loadSocket) throws Exception
    {
        lb.configureBlocking(false);
        reporter = new LoadReporter(new LoadReporting(List.of((InetSocketAddress)lb.getLocalAddress()), 100, null,
            key, loadSocket), clock, wallClock,
            new Log("test", Log.Format.TEXT, false, new PrintWriter(logText), wallClock));
        namespace.netns().run(reporter::open);
    }

    /** Receives one datagram, waiting up to 2 s: loopback delivery may be deferred on a busy machine. */
    private boolean receiveWithin(final ByteBuffer received) throws Exception
    {
        final long giveUpNs = System.nanoTime() + 2_000_000_000L;
        while (lb.receive(received) == null)
        {
            if (System.nanoTime() > giveUpNs)
            {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }

    /** Receives until the LB's socket stays quiet for 100 ms, keeping the last datagram; false if none came. */
    private boolean lastDatagram(final ByteBuffer received) throws Exception
    {
        final ByteBuffer next = ByteBuffer.allocate(received.capacity());
        boolean any = false;
        final long giveUpNs = System.nanoTime() + 2_000_000_000L;
        long quietUntilNs = System.nanoTime() + 100_000_000L;
        while (System.nanoTime() < (any ? quietUntilNs : giveUpNs))
        {
            next.clear();
            if (lb.receive(next) != null)
            {
                received.clear();
                received.put(next.flip());
                any = true;
                quietUntilNs = System.nanoTime() + 100_000_000L;
            }
            else
            {
                Thread.sleep(1);
            }
        }
        return any;
    }

    /** The next report sent, as port to load, after driving the reporter a period. */
    private Map<Integer, Long> awaitReport(final FeedbackKey key) throws Exception
    {
        final ByteBuffer received = ByteBuffer.allocate(2048);
        Thread.sleep(20);
        // Connections accepted in one duty cycle are read in the next.
        reporter.doWork();
        reporter.doWork();
        clock.advance(PERIOD_NS);
        reporter.doWork();
        // Loopback delivery may be deferred to a softirq on a busy machine: the report asked for is the last one.
        assertTrue(lastDatagram(received), "a report was sent");
        final LoadReport.Reader reader = new LoadReport.Reader(key);
        assertEquals(LoadReport.Verdict.ACCEPTED, reader.wrap(new UnsafeBuffer(received.array()), 0,
            received.position()));
        final Map<Integer, Long> loads = new TreeMap<>();
        for (int i = 0; i < reader.entryCount(); i++)
        {
            assertNull(loads.put(reader.port(i), reader.load(i)), "each port once");
        }
        return loads;
    }

    private ServerSocketChannel listen(final Stack stack)
    {
        final ServerSocketChannel listener = namespace.listen(stack);
        sockets.add(listener);
        return listener;
    }

    /** A client whose connection waits in the listener's accept queue. */
    private SocketChannel connectOnly(final ServerSocketChannel listener)
    {
        return namespace.netns().call(() ->
        {
            final SocketChannel client = SocketChannel.open(StandardProtocolFamily.INET);
            client.connect(listener.getLocalAddress());
            return client;
        });
    }

    private static int port(final ServerSocketChannel listener) throws Exception
    {
        return ((InetSocketAddress)listener.getLocalAddress()).getPort();
    }

    private static void write(final SocketChannel app, final String text) throws Exception
    {
        final ByteBuffer bytes = ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
        while (bytes.hasRemaining())
        {
            app.write(bytes);
        }
    }

    @Test
    void noListenerMeansAnEmptyReport() throws Exception
    {
        start(null, null);
        assertTrue(awaitReport(null).isEmpty());
        assertFalse(logText.toString().contains("error"));
    }
}
