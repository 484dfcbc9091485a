package io.crab.bench.traffic;

import java.io.EOFException;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicLong;

import org.HdrHistogram.Histogram;

/**
 * One closed-loop client thread: owns its buffers, histogram and counters so the hot loop shares nothing.
 * <p>
 * It does per transaction what netperf does and no more (the instrument command compares it with a C client): a
 * blocking IPv4 {@link SocketChannel} with direct buffers is one system call per socket operation, where a
 * {@link java.net.Socket} with SO_TIMEOUT adds non-blocking mode switches and a poll to every connect and read, and
 * an IPv6 socket, SO_LINGER query and shutdown to every connection. The timeouts are kept by {@link LoadRun}'s
 * watchdog instead, which closes the channel of an operation that overstays them.
 */
abstract class Worker implements Runnable
{
    private static final int STAMP_BYTES = Long.BYTES;
    /** {@link #timesOutAt} when no operation is timed; nanoTime would reach it only after centuries of uptime. */
    private static final long IDLE = Long.MIN_VALUE;
    /** {@link #timesOutAt} once the watchdog has taken an operation's expiry and closed its channel. */
    private static final long EXPIRED = Long.MIN_VALUE + 1;

    private final ByteBuffer payload;
    private final ByteBuffer received;
    private final LoadRun run;
    private final ProtocolFamily family;
    private final InetSocketAddress bindAddress;
    private final long connectTimeoutNanos;
    private final long readTimeoutNanos;

    private final Histogram histogram = Histograms.create();
    private final long[] failures = new long[FailureKind.values().length];
    private long transactions;
    private long lastCountedAt;
    private long sequence;

    /** The channel in use, so the run can close it from outside when a worker overstays the deadline. */
    private volatile SocketChannel current;
    private volatile boolean aborted;
    /** When the connect or read under way times out, or IDLE, or EXPIRED; shared with the watchdog. */
    private final AtomicLong timesOutAt = new AtomicLong(IDLE);

    Worker(final LoadRun run)
    {
        final LoadSpec spec = run.spec();
        this.run = run;
        this.payload = ByteBuffer.allocateDirect(spec.payloadBytes());
        this.received = ByteBuffer.allocateDirect(spec.payloadBytes());
        this.family = spec.target().getAddress() instanceof Inet4Address ?
            StandardProtocolFamily.INET : StandardProtocolFamily.INET6;
        this.bindAddress = spec.source().map(address -> new InetSocketAddress(address, 0)).orElse(null);
        this.connectTimeoutNanos = spec.connectTimeout().toNanos();
        this.readTimeoutNanos = spec.readTimeout().toNanos();
        // Printable filler so a packet capture of the load is easy to read.
        for (int i = 0; i < payload.capacity(); i++)
        {
            payload.put(i, (byte) ('a' + i % 26));
        }
    }

    /** One transaction; returns its latency in nanoseconds or throws why it failed. */
    abstract long transact() throws IOException;

    /** Drops any connection kept between transactions, after a failure or at the end. */
    abstract void disconnect();

    @Override
    public final void run()
    {
        try
        {
            for (int i = 0; i < run.spec().warmup() && !aborted && !run.pastDeadline(System.nanoTime()); i++)
            {
                attempt(false);
            }
            run.warmedUp();
            if (run.awaitGo())
            {
                long now = System.nanoTime();
                while (!aborted && !run.pastDeadline(now) && run.claim())
                {
                    final boolean counted = attempt(true);
                    now = System.nanoTime();
                    if (counted)
                    {
                        lastCountedAt = now;
                    }
                }
            }
        }
        finally
        {
            disconnect();
            current = null;
        }
    }

    /** Does one transaction; returns whether it was counted as a success or a failure. */
    private boolean attempt(final boolean measured)
    {
        stamp(++sequence);
        try
        {
            final long latency = transact();
            if (measured)
            {
                Histograms.record(histogram, latency);
                transactions++;
            }
            return measured;
        }
        catch (IOException | RuntimeException e)
        {
            disconnect();
            // Failures caused by the run closing our socket at the deadline are not the target's fault.
            if (measured && !aborted)
            {
                failures[FailureKind.of(e).ordinal()]++;
                return true;
            }
            return false;
        }
    }

    /** Varies every request so a stale or replayed echo cannot pass verification. */
    private void stamp(final long value)
    {
        final int n = Math.min(STAMP_BYTES, payload.capacity());
        for (int i = 0; i < n; i++)
        {
            payload.put(i, (byte) (value >>> (8 * i)));
        }
    }

    /**
     * A connected blocking channel with TCP_NODELAY, in this thread's network namespace; any failure here, the
     * connect timeout included, is reported as a connect failure.
     */
    final SocketChannel connect() throws IOException
    {
        final SocketChannel channel = SocketChannel.open(family);
        current = channel;
        // Re-check after publishing: either abort() sees this channel or we see the abort.
        if (aborted)
        {
            channel.close();
            throw new SocketException("aborted");
        }
        try
        {
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            if (bindAddress != null)
            {
                channel.bind(bindAddress);
            }
            timesOutAt.set(System.nanoTime() + connectTimeoutNanos);
            channel.connect(run.spec().target());
            disarm("connect");
            return channel;
        }
        catch (IOException e)
        {
            Sockets.closeQuietly(channel);
            throw new FailureKind.ConnectFailedException(expired(e, "connect"));
        }
    }

    /** Writes the payload, reads exactly as many bytes back and checks they are the same. */
    final void exchange(final SocketChannel channel) throws IOException
    {
        payload.clear();
        while (payload.hasRemaining())
        {
            channel.write(payload);
        }
        received.clear();
        timesOutAt.set(System.nanoTime() + readTimeoutNanos);
        try
        {
            while (received.hasRemaining())
            {
                if (channel.read(received) < 0)
                {
                    throw new EOFException("connection closed after " + received.position() + " of " +
                        received.capacity() + " bytes");
                }
            }
            disarm("read");
        }
        catch (IOException e)
        {
            throw expired(e, "read");
        }
        payload.clear();
        received.flip();
        if (!payload.equals(received))
        {
            throw new FailureKind.MismatchException(sequence);
        }
    }

    /** Ends the timed operation; throws a timeout if the watchdog closed the channel just as it completed. */
    private void disarm(final String operation) throws SocketTimeoutException
    {
        if (timesOutAt.getAndSet(IDLE) == EXPIRED)
        {
            throw new SocketTimeoutException(operation + " timed out");
        }
    }

    /** What an operation's failure was: a timeout if the watchdog closed its channel, else the failure itself. */
    private IOException expired(final IOException failure, final String operation)
    {
        if (timesOutAt.getAndSet(IDLE) == EXPIRED)
        {
            final SocketTimeoutException timeout = new SocketTimeoutException(operation + " timed out");
            timeout.addSuppressed(failure);
            return timeout;
        }
        return failure;
    }

    /** Called by the watchdog: closes the channel of an operation past its timeout, unless it has just ended. */
    final void expireIfOverdue(final long now)
    {
        final long deadline = timesOutAt.get();
        if (deadline != IDLE && deadline != EXPIRED && now - deadline >= 0)
        {
            // Read before claiming: while timesOutAt still holds this deadline, current is its operation's channel.
            final SocketChannel channel = current;
            if (channel != null && timesOutAt.compareAndSet(deadline, EXPIRED))
            {
                Sockets.closeQuietly(channel);
            }
        }
    }

    /** Stops the worker and unblocks whatever socket call it is stuck in. */
    final void abort()
    {
        aborted = true;
        final SocketChannel channel = current;
        if (channel != null)
        {
            Sockets.closeQuietly(channel);
        }
    }

    Histogram histogram()
    {
        return histogram;
    }

    long transactions()
    {
        return transactions;
    }

    long failures(final FailureKind kind)
    {
        return failures[kind.ordinal()];
    }

    /** When the last success or counted failure ended, 0 if none. */
    long lastCountedAt()
    {
        return lastCountedAt;
    }
}
