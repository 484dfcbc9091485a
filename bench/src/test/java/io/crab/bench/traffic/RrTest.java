package io.crab.bench.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** RR against a loopback echo server. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RrTest
{
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @Test
    void completesEveryRoundTripOnOneConnectionPerWorker() throws Exception
    {
        final AtomicInteger threadsMade = new AtomicInteger();
        final EchoServer server = EchoServer.start(new InetSocketAddress(LOOPBACK, 0));
        final LoadResult result;
        try (server)
        {
            result = Rr.run(LoadSpec.to(new InetSocketAddress(LOOPBACK, server.port()))
                .withLabel("direct")
                .withMaxTransactions(200)
                .withConcurrency(2)
                .withDuration(Duration.ofSeconds(30))
                .withSource(LOOPBACK)
                .withThreadFactory(task ->
                {
                    threadsMade.incrementAndGet();
                    return new Thread(task, "rr-test-worker");
                }));
        }

        assertEquals(Workload.RR, result.kind());
        assertEquals(200, result.transactions());
        assertEquals(0, result.failureCount(), result::toString);
        assertEquals(200, result.histogram().getTotalCount());
        assertTrue(result.throughput() > 0);
        CrrTest.assertMonotone(result);
        assertEquals(2, threadsMade.get());
        assertEquals(2, server.connectionsAccepted());
        assertEquals(200L * LoadSpec.DEFAULT_PAYLOAD_BYTES, server.bytesEchoed());
    }

    @Test
    void stopsAtTheDurationWhenUnbounded() throws Exception
    {
        try (EchoServer server = EchoServer.start(new InetSocketAddress(LOOPBACK, 0)))
        {
            final long begin = System.nanoTime();
            final LoadResult result = Workload.RR.run(LoadSpec.to(new InetSocketAddress(LOOPBACK, server.port()))
                .withDuration(Duration.ofMillis(300)));
            final long took = System.nanoTime() - begin;

            assertTrue(result.transactions() > 0);
            assertEquals(0, result.failureCount(), result::toString);
            assertEquals(result.transactions(), result.histogram().getTotalCount());
            assertTrue(took < TimeUnit.SECONDS.toNanos(10), "took " + took + " ns");
        }
    }
}
