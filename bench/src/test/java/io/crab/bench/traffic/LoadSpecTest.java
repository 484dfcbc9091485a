package io.crab.bench.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;

import org.junit.jupiter.api.Test;

/** Defaults and validation of a load spec. */
class LoadSpecTest
{
    private static final InetSocketAddress TARGET = new InetSocketAddress(InetAddress.getLoopbackAddress(), 7000);

    @Test
    void defaultsAreNetperfLike()
    {
        final LoadSpec spec = LoadSpec.to(TARGET);

        assertEquals("127.0.0.1:7000", spec.label());
        assertEquals(8, spec.payloadBytes());
        assertEquals(1, spec.concurrency());
        assertEquals(0, spec.maxTransactions());
        assertEquals(Duration.ofSeconds(10), spec.duration());
        assertEquals(0, spec.warmup());
        assertEquals(Duration.ofSeconds(2), spec.connectTimeout());
        assertEquals(Duration.ofSeconds(2), spec.readTimeout());
        assertTrue(spec.source().isEmpty());
    }

    @Test
    void withersChangeOneField()
    {
        final LoadSpec spec = LoadSpec.to(TARGET).withConcurrency(4).withPayloadBytes(64).withLabel("crab");

        assertEquals(4, spec.concurrency());
        assertEquals(64, spec.payloadBytes());
        assertEquals("crab", spec.label());
        assertEquals(TARGET, spec.target());
    }

    @Test
    void rejectsNonsense()
    {
        final LoadSpec spec = LoadSpec.to(TARGET);

        assertThrows(IllegalArgumentException.class, () -> spec.withPayloadBytes(0));
        assertThrows(IllegalArgumentException.class, () -> spec.withConcurrency(0));
        assertThrows(IllegalArgumentException.class, () -> spec.withMaxTransactions(-1));
        assertThrows(IllegalArgumentException.class, () -> spec.withWarmup(-1));
        assertThrows(IllegalArgumentException.class, () -> spec.withDuration(Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> spec.withReadTimeout(Duration.ofNanos(10)));
        assertThrows(IllegalArgumentException.class, () -> spec.withConnectTimeout(Duration.ofSeconds(-1)));
        assertThrows(IllegalArgumentException.class,
            () -> LoadSpec.to(InetSocketAddress.createUnresolved("example.invalid", 1)));
    }
}
