package io.crab.bench.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** CRR against a loopback echo server. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CrrTest
{
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @Test
    void completesEveryTransactionAgainstAnEchoServer() throws Exception
    {
        final EchoServer server = EchoServer.start(new InetSocketAddress(LOOPBACK, 0));
        final LoadResult result;
        try (server)
        {
            result = Crr.run(LoadSpec.to(new InetSocketAddress(LOOPBACK, server.port()))
                .withLabel("direct")
                .withMaxTransactions(200)
                .withConcurrency(2)
                .withDuration(Duration.ofSeconds(30)));
        }

        assertEquals("direct", result.mode());
        assertEquals(Workload.CRR, result.kind());
        assertEquals(200, result.transactions());
        assertEquals(0, result.failureCount(), result::toString);
        assertEquals(200, result.histogram().getTotalCount());
        assertTrue(result.elapsedNanos() > 0);
        assertTrue(result.throughput() > 0);
        assertMonotone(result);
        // One connection per transaction, each echoing the 8-byte payload.
        assertEquals(200, server.connectionsAccepted());
        assertEquals(200L * LoadSpec.DEFAULT_PAYLOAD_BYTES, server.bytesEchoed());
    }

    @Test
    void warmupIsNotRecorded() throws Exception
    {
        final EchoServer server = EchoServer.start(new InetSocketAddress(LOOPBACK, 0));
        final LoadResult result;
        try (server)
        {
            result = Crr.run(LoadSpec.to(new InetSocketAddress(LOOPBACK, server.port()))
                .withMaxTransactions(50)
                .withConcurrency(2)
                .withWarmup(5)
                .withPayloadBytes(100)
                .withDuration(Duration.ofSeconds(30)));
        }

        assertEquals(50, result.transactions());
        assertEquals(50, result.histogram().getTotalCount());
        assertEquals(60, server.connectionsAccepted());
        assertEquals(60L * 100, server.bytesEchoed());
    }

    @Test
    void workloadDispatchesToCrr() throws Exception
    {
        try (EchoServer server = EchoServer.start(new InetSocketAddress(LOOPBACK, 0)))
        {
            final LoadResult result = Workload.CRR.run(LoadSpec.to(new InetSocketAddress(LOOPBACK, server.port()))
                .withMaxTransactions(10)
                .withDuration(Duration.ofSeconds(30)));
            assertEquals(Workload.CRR, result.kind());
            assertEquals(10, result.transactions());
        }
    }

    static void assertMonotone(final LoadResult result)
    {
        assertTrue(result.p50Us() > 0, result::toString);
        assertTrue(result.p50Us() <= result.p90Us(), result::toString);
        assertTrue(result.p90Us() <= result.p99Us(), result::toString);
        assertTrue(result.p99Us() <= result.p999Us(), result::toString);
        assertTrue(result.p999Us() <= result.maxUs(), result::toString);
    }
}
