package io.crab.bench.policy;

import io.crab.bench.traffic.FailureKind;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.ThreadFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The open-loop client against queue servers on loopback: no namespaces, so no root. */
class OpenLoopClientTest
{
    private static final ThreadFactory THREADS = task ->
    {
        final Thread thread = new Thread(task, "open-loop-test");
        thread.setDaemon(true);
        return thread;
    };

    @Test
    void everyArrivalIsAnsweredAndTimedFromItsScheduledStart() throws IOException
    {
        try (QueueServer server = QueueServer.start(loopback(), 3, Duration.ofMillis(2), 1.0, 1))
        {
            final OpenLoopResult result = OpenLoopClient.run(plan(server, 100, Duration.ofMillis(200),
                Duration.ofSeconds(1)), THREADS);

            assertEquals(0, result.failureCount(), result.failures().toString());
            assertTrue(result.scheduled() > 50 && result.scheduled() < 150, "about 100 in 1 s: " + result.scheduled());
            assertEquals(result.scheduled(), result.answered());
            assertEquals(result.answered(), result.answeredBy().get(3), "the response names the backend");
            assertEquals(1.0, result.share(3));
            assertEquals(result.answered(), result.latency().getTotalCount());
            assertEquals(result.scheduled(), result.startLag().getTotalCount());
            // At 20 % utilisation the mean wait is small: the latency is mostly the 2 ms mean service time.
            assertTrue(result.p50Ms() > 0.3 && result.p50Ms() < 20, "p50 " + result.p50Ms());
            assertTrue(result.achievedRate() > 50 && result.achievedRate() < 150, "achieved " + result.achievedRate());
            assertTrue(server.served() > result.answered(), "the warm-up's arrivals were served too, unmeasured: " +
                server.served() + " served, " + result.answered() + " measured");
        }
    }

    @Test
    void aSlowerBackendMakesTheLatencyLonger() throws IOException
    {
        try (QueueServer fast = QueueServer.start(loopback(), 0, Duration.ofMillis(1), 1.0, 1);
            QueueServer slow = QueueServer.start(loopback(), 1, Duration.ofMillis(1), 10.0, 1))
        {
            final OpenLoopResult onFast = OpenLoopClient.run(plan(fast, 50, Duration.ZERO, Duration.ofMillis(600)),
                THREADS);
            final OpenLoopResult onSlow = OpenLoopClient.run(plan(slow, 50, Duration.ZERO, Duration.ofMillis(600)),
                THREADS);

            assertEquals(0, onFast.failureCount() + onSlow.failureCount());
            // Means 1 ms and 10 ms; the slow one at 50 % utilisation waits besides.
            assertTrue(onSlow.p50Ms() > 3 * onFast.p50Ms(), onFast.p50Ms() + " ms, then " + onSlow.p50Ms() + " ms");
        }
    }

    @Test
    void theServerQueuesConnectionsAndServesThemOneAtATime() throws IOException
    {
        // 40 arrivals in about 100 ms onto a server that takes 20 ms each: the last waits most of 800 ms.
        try (QueueServer server = QueueServer.start(loopback(), 0, Duration.ofMillis(20), 1.0, 1))
        {
            server.meanServiceTime(Duration.ofMillis(20));
            final OpenLoopResult result = OpenLoopClient.run(plan(server, 400, Duration.ZERO,
                Duration.ofMillis(100)), THREADS);

            assertEquals(0, result.failureCount());
            assertTrue(result.latencyMs(100) > 300, "the queue's last waited for those before it: " +
                result.latencyMs(100) + " ms");
        }
    }

    @Test
    void refusedConnectionsAndClosesWithoutAnAnswerAreFailures() throws Exception
    {
        final InetSocketAddress closedPort;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            closedPort = new InetSocketAddress(InetAddress.getLoopbackAddress(), probe.getLocalPort());
        }
        final OpenLoopResult refused = OpenLoopClient.run(new OpenLoopClient.Plan(closedPort, 100, Duration.ZERO,
            Duration.ofMillis(300), Duration.ofSeconds(2), 1), THREADS);
        assertEquals(refused.scheduled(), refused.failures().get(FailureKind.CONNECT), refused.failures().toString());
        assertEquals(0, refused.answered());

        try (ServerSocket rude = new ServerSocket(0, 50, InetAddress.getLoopbackAddress()))
        {
            final Thread closer = new Thread(() ->
            {
                while (!rude.isClosed())
                {
                    try (Socket socket = rude.accept())
                    {
                        socket.getOutputStream().write("no".getBytes());
                    }
                    catch (final IOException e)
                    {
                        return;
                    }
                }
            });
            closer.setDaemon(true);
            closer.start();
            final OpenLoopResult cut = OpenLoopClient.run(new OpenLoopClient.Plan(
                (InetSocketAddress)rude.getLocalSocketAddress(), 100, Duration.ZERO, Duration.ofMillis(300),
                Duration.ofSeconds(2), 1), THREADS);
            assertEquals(cut.scheduled(), cut.failures().get(FailureKind.RESET), cut.failures().toString());
            assertEquals(0, cut.answered());
        }
    }

    private static InetSocketAddress loopback()
    {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    }

    private static OpenLoopClient.Plan plan(final QueueServer server, final double rate, final Duration warmup,
        final Duration window)
    {
        return new OpenLoopClient.Plan(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()), rate,
            warmup, window, Duration.ofSeconds(5), 1);
    }
}
