package io.crab.bench.traffic;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;

/**
 * What a CRR or RR run does: where to, how much, how many workers, and its count and time bounds.
 *
 * @param label          mode label carried into the result and the report, e.g. "direct" or "crab"
 * @param target         echo service to talk to
 * @param payloadBytes   request size; the echo must return exactly these bytes
 * @param concurrency    number of closed-loop workers
 * @param maxTransactions attempts across all workers, successful or failed; 0 means bounded by time only
 * @param duration       hard cap on the whole run, warmup included
 * @param warmup         unrecorded transactions each worker does before measuring starts
 * @param connectTimeout per connect attempt
 * @param readTimeout    per read of the echo (SO_TIMEOUT)
 * @param source         local address to bind client sockets to, if any
 * @param threadFactory  makes the worker threads, e.g. threads that enter a network namespace first; the native
 *                       client's process is started from one, so it runs in that thread's namespace
 * @param client         which client program runs the traffic
 */
public record LoadSpec(
    String label,
    InetSocketAddress target,
    int payloadBytes,
    int concurrency,
    long maxTransactions,
    Duration duration,
    int warmup,
    Duration connectTimeout,
    Duration readTimeout,
    Optional<InetAddress> source,
    ThreadFactory threadFactory,
    TrafficClient client)
{
    public static final int DEFAULT_PAYLOAD_BYTES = 8;
    public static final Duration DEFAULT_DURATION = Duration.ofSeconds(10);
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);

    public LoadSpec
    {
        Objects.requireNonNull(label, "label");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(duration, "duration");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(readTimeout, "readTimeout");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(threadFactory, "threadFactory");
        Objects.requireNonNull(client, "client");
        if (target.isUnresolved())
        {
            throw new IllegalArgumentException("unresolved target " + target);
        }
        require(payloadBytes >= 1, "payloadBytes must be >= 1");
        require(concurrency >= 1, "concurrency must be >= 1");
        require(maxTransactions >= 0, "maxTransactions must be >= 0");
        require(warmup >= 0, "warmup must be >= 0");
        require(isPositive(duration), "duration must be positive");
        // Socket timeouts are whole milliseconds and 0 would mean "wait forever".
        require(connectTimeout.toMillis() >= 1, "connectTimeout must be >= 1 ms");
        require(readTimeout.toMillis() >= 1, "readTimeout must be >= 1 ms");
    }

    /**
     * Defaults: 8-byte payload, 1 worker, bounded by 10 s only, no warmup, 2 s timeouts, labelled by target, the
     * native client.
     */
    public static LoadSpec to(final InetSocketAddress target)
    {
        return new LoadSpec(
            Sockets.format(target),
            target,
            DEFAULT_PAYLOAD_BYTES,
            1,
            0,
            DEFAULT_DURATION,
            0,
            DEFAULT_TIMEOUT,
            DEFAULT_TIMEOUT,
            Optional.empty(),
            Thread::new,
            TrafficClient.NATIVE);
    }

    public LoadSpec withLabel(final String value)
    {
        return new LoadSpec(value, target, payloadBytes, concurrency, maxTransactions, duration, warmup,
            connectTimeout, readTimeout, source, threadFactory, client);
    }

    public LoadSpec withPayloadBytes(final int value)
    {
        return new LoadSpec(label, target, value, concurrency, maxTransactions, duration, warmup,
            connectTimeout, readTimeout, source, threadFactory, client);
    }

    public LoadSpec withConcurrency(final int value)
    {
        return new LoadSpec(label, target, payloadBytes, value, maxTransactions, duration, warmup,
            connectTimeout, readTimeout, source, threadFactory, client);
    }

    public LoadSpec withMaxTransactions(final long value)
    {
        return new LoadSpec(label, target, payloadBytes, concurrency, value, duration, warmup,
            connectTimeout, readTimeout, source, threadFactory, client);
    }

    public LoadSpec withDuration(final Duration value)
    {
        return new LoadSpec(label, target, payloadBytes, concurrency, maxTransactions, value, warmup,
            connectTimeout, readTimeout, source, threadFactory, client);
    }

    public LoadSpec withWarmup(final int value)
    {
        return new LoadSpec(label, target, payloadBytes, concurrency, maxTransactions, duration, value,
            connectTimeout, readTimeout, source, threadFactory, client);
    }

    public LoadSpec withConnectTimeout(final Duration value)
    {
        return new LoadSpec(label, target, payloadBytes, concurrency, maxTransactions, duration, warmup,
            value, readTimeout, source, threadFactory, client);
    }

    public LoadSpec withReadTimeout(final Duration value)
    {
        return new LoadSpec(label, target, payloadBytes, concurrency, maxTransactions, duration, warmup,
            connectTimeout, value, source, threadFactory, client);
    }

    public LoadSpec withSource(final InetAddress value)
    {
        return new LoadSpec(label, target, payloadBytes, concurrency, maxTransactions, duration, warmup,
            connectTimeout, readTimeout, Optional.of(value), threadFactory, client);
    }

    public LoadSpec withThreadFactory(final ThreadFactory value)
    {
        return new LoadSpec(label, target, payloadBytes, concurrency, maxTransactions, duration, warmup,
            connectTimeout, readTimeout, source, value, client);
    }

    public LoadSpec withClient(final TrafficClient value)
    {
        return new LoadSpec(label, target, payloadBytes, concurrency, maxTransactions, duration, warmup,
            connectTimeout, readTimeout, source, threadFactory, value);
    }

    private static boolean isPositive(final Duration value)
    {
        return !value.isNegative() && !value.isZero();
    }

    private static void require(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new IllegalArgumentException(message);
        }
    }
}
