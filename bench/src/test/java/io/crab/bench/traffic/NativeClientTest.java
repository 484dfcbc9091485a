package io.crab.bench.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The native client's command line, its output format, and a short run against a loopback echo server. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NativeClientTest
{
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @Test
    void parsesLatenciesFailuresAndElapsed()
    {
        final NativeClient.Output output = NativeClient.parse(List.of("120000", "130000", "F TIMEOUT 2", "F RESET 1",
            "E 5000000"));

        assertEquals(2, output.histogram().getTotalCount());
        assertEquals(120000, output.histogram().getMinValue(), 120000 / 1000.0);
        assertEquals(2L, output.failures().get(FailureKind.TIMEOUT));
        assertEquals(1L, output.failures().get(FailureKind.RESET));
        assertEquals(5_000_000, output.elapsedNanos());
    }

    @Test
    void rejectsOutputWithoutTheElapsedLineOrWithStrangeLines()
    {
        assertThrows(IllegalArgumentException.class, () -> NativeClient.parse(List.of("120000")));
        assertThrows(IllegalArgumentException.class, () -> NativeClient.parse(List.of("F LATE 1", "E 1")));
        assertThrows(IllegalArgumentException.class, () -> NativeClient.parse(List.of("12 us", "E 1")));
        assertThrows(IllegalArgumentException.class, () -> NativeClient.parse(List.of("E 1", "120000")));
    }

    @Test
    void passesTheWholeSpec() throws Exception
    {
        final LoadSpec spec = LoadSpec.to(new InetSocketAddress(InetAddress.getByName("198.18.0.101"), 80))
            .withPayloadBytes(16).withConcurrency(3).withMaxTransactions(1000).withDuration(Duration.ofSeconds(4))
            .withWarmup(20).withConnectTimeout(Duration.ofMillis(300)).withReadTimeout(Duration.ofMillis(400))
            .withSource(InetAddress.getByName("198.18.0.11"));

        assertEquals(List.of("/bin/crr_client", "--workload", "rr", "--target", "198.18.0.101:80", "--payload", "16",
            "--concurrency", "3", "--count", "1000", "--duration-ms", "4000", "--warmup", "20",
            "--connect-timeout-ms", "300", "--read-timeout-ms", "400", "--source", "198.18.0.11"),
            NativeClient.arguments(Path.of("/bin/crr_client"), spec, Workload.RR));
    }

    @Test
    void refusesIpv6Targets() throws Exception
    {
        final LoadSpec spec = LoadSpec.to(new InetSocketAddress(InetAddress.getByName("::1"), 80));

        assertThrows(IllegalArgumentException.class, () -> NativeClient.arguments(Path.of("crr_client"), spec,
            Workload.CRR));
    }

    @ParameterizedTest
    @EnumSource(Workload.class)
    void completesEveryTransactionAgainstAnEchoServer(final Workload workload) throws Exception
    {
        final LoadResult result;
        try (EchoServer server = EchoServer.start(new InetSocketAddress(LOOPBACK, 0)))
        {
            result = workload.run(LoadSpec.to(new InetSocketAddress(LOOPBACK, server.port())).withLabel("native")
                .withMaxTransactions(200).withConcurrency(2).withWarmup(5).withDuration(Duration.ofSeconds(30))
                .withClient(TrafficClient.NATIVE));
        }

        assertEquals("native", result.mode());
        assertEquals(workload, result.kind());
        assertEquals(200, result.transactions(), result::toString);
        assertEquals(0, result.failureCount(), result::toString);
        assertEquals(200, result.histogram().getTotalCount());
        assertEquals(true, result.elapsedNanos() > 0);
    }
}
