package io.crab.bench.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Failures are counted by kind, never thrown, and never outlast the run's bounds. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FailureTest
{
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final long GENEROUS_NANOS = TimeUnit.SECONDS.toNanos(10);

    @ParameterizedTest
    @EnumSource(Workload.class)
    void nothingListeningCountsConnectFailuresUntilTheDuration(final Workload workload) throws Exception
    {
        final InetSocketAddress closedPort = freePort();
        final long begin = System.nanoTime();
        final LoadResult result = workload.run(LoadSpec.to(closedPort)
            .withConcurrency(2)
            .withDuration(Duration.ofMillis(500)));
        final long took = System.nanoTime() - begin;

        assertEquals(0, result.transactions());
        assertTrue(result.failures(FailureKind.CONNECT) > 0, result::toString);
        assertEquals(result.failures(FailureKind.CONNECT), result.failureCount(), result::toString);
        assertEquals(0, result.histogram().getTotalCount());
        assertTrue(took < GENEROUS_NANOS, "took " + took + " ns");
    }

    @Test
    void failedAttemptsUseUpTheCountBudget() throws Exception
    {
        final LoadResult result = Crr.run(LoadSpec.to(freePort())
            .withMaxTransactions(20)
            .withConcurrency(2)
            .withDuration(Duration.ofSeconds(30)));

        assertEquals(0, result.transactions());
        assertEquals(20, result.failures(FailureKind.CONNECT), result::toString);
    }

    @ParameterizedTest
    @EnumSource(Workload.class)
    void wrongEchoIsAMismatch(final Workload workload) throws Exception
    {
        try (StubServer server = StubServer.start(StubServer.Behaviour.CORRUPT))
        {
            final LoadResult result = workload.run(LoadSpec.to(server.address())
                .withMaxTransactions(20)
                .withConcurrency(2)
                .withDuration(Duration.ofSeconds(30)));

            assertEquals(0, result.transactions());
            assertEquals(20, result.failures(FailureKind.MISMATCH), result::toString);
            assertEquals(20, result.failureCount(), result::toString);
        }
    }

    @ParameterizedTest
    @EnumSource(Workload.class)
    void hangUpBeforeTheEchoIsAReset(final Workload workload) throws Exception
    {
        try (StubServer server = StubServer.start(StubServer.Behaviour.HANG_UP))
        {
            final LoadResult result = workload.run(LoadSpec.to(server.address())
                .withMaxTransactions(20)
                .withConcurrency(2)
                .withDuration(Duration.ofSeconds(30)));

            assertEquals(0, result.transactions());
            assertEquals(20, result.failures(FailureKind.RESET), result::toString);
        }
    }

    @ParameterizedTest
    @EnumSource(Workload.class)
    void missingEchoIsATimeout(final Workload workload) throws Exception
    {
        try (StubServer server = StubServer.start(StubServer.Behaviour.SILENT))
        {
            final LoadResult result = workload.run(LoadSpec.to(server.address())
                .withMaxTransactions(4)
                .withConcurrency(2)
                .withReadTimeout(Duration.ofMillis(100))
                .withDuration(Duration.ofSeconds(30)));

            assertEquals(0, result.transactions());
            assertEquals(4, result.failures(FailureKind.TIMEOUT), result::toString);
        }
    }

    @ParameterizedTest
    @EnumSource(Workload.class)
    void durationCutsOffTransactionsInFlightWithoutCountingThem(final Workload workload) throws Exception
    {
        try (StubServer server = StubServer.start(StubServer.Behaviour.SILENT))
        {
            final long begin = System.nanoTime();
            final LoadResult result = workload.run(LoadSpec.to(server.address())
                .withConcurrency(2)
                .withReadTimeout(Duration.ofSeconds(30))
                .withDuration(Duration.ofMillis(300)));
            final long took = System.nanoTime() - begin;

            assertEquals(0, result.transactions());
            assertEquals(0, result.failureCount(), result::toString);
            assertTrue(took < GENEROUS_NANOS, "took " + took + " ns");
        }
    }

    private static InetSocketAddress freePort() throws Exception
    {
        try (ServerSocket probe = new ServerSocket(0, 1, LOOPBACK))
        {
            return new InetSocketAddress(LOOPBACK, probe.getLocalPort());
        }
    }
}
