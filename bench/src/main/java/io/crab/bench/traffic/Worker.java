package io.crab.bench.traffic;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.util.Arrays;

import org.HdrHistogram.Histogram;

/** One closed-loop client thread: owns its buffers, histogram and counters so the hot loop shares nothing. */
abstract class Worker implements Runnable
{
    private static final int STAMP_BYTES = Long.BYTES;

    private final byte[] payload;
    private final byte[] received;
    private final LoadRun run;
    private final InetSocketAddress bindAddress;
    private final int connectTimeoutMillis;
    private final int readTimeoutMillis;

    private final Histogram histogram = Histograms.create();
    private final long[] failures = new long[FailureKind.values().length];
    private long transactions;
    private long lastCountedAt;
    private long sequence;

    /** The socket in use, so the run can close it from outside when a worker overstays the deadline. */
    private volatile Socket current;
    private volatile boolean aborted;

    Worker(final LoadRun run)
    {
        final LoadSpec spec = run.spec();
        this.run = run;
        this.payload = new byte[spec.payloadBytes()];
        this.received = new byte[spec.payloadBytes()];
        this.bindAddress = spec.source().map(address -> new InetSocketAddress(address, 0)).orElse(null);
        this.connectTimeoutMillis = Math.toIntExact(spec.connectTimeout().toMillis());
        this.readTimeoutMillis = Math.toIntExact(spec.readTimeout().toMillis());
        // Printable filler so a packet capture of the load is easy to read.
        for (int i = 0; i < payload.length; i++)
        {
            payload[i] = (byte) ('a' + i % 26);
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
        final int n = Math.min(STAMP_BYTES, payload.length);
        for (int i = 0; i < n; i++)
        {
            payload[i] = (byte) (value >>> (8 * i));
        }
    }

    /** A connected socket with the spec's options; any failure here is reported as a connect failure. */
    final Socket connect() throws IOException
    {
        final Socket socket = new Socket();
        current = socket;
        // Re-check after publishing: either abort() sees this socket or we see the abort.
        if (aborted)
        {
            socket.close();
            throw new SocketException("aborted");
        }
        try
        {
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(readTimeoutMillis);
            if (bindAddress != null)
            {
                socket.bind(bindAddress);
            }
            socket.connect(run.spec().target(), connectTimeoutMillis);
            return socket;
        }
        catch (IOException e)
        {
            Sockets.closeQuietly(socket);
            throw new FailureKind.ConnectFailedException(e);
        }
    }

    /** Writes the payload, reads exactly as many bytes back and checks they are the same. */
    final void exchange(final OutputStream out, final InputStream in) throws IOException
    {
        out.write(payload);
        int filled = 0;
        while (filled < received.length)
        {
            final int n = in.read(received, filled, received.length - filled);
            if (n < 0)
            {
                throw new EOFException("connection closed after " + filled + " of " + received.length + " bytes");
            }
            filled += n;
        }
        if (!Arrays.equals(payload, received))
        {
            throw new FailureKind.MismatchException(sequence);
        }
    }

    /** Stops the worker and unblocks whatever socket call it is stuck in. */
    final void abort()
    {
        aborted = true;
        final Socket socket = current;
        if (socket != null)
        {
            Sockets.closeQuietly(socket);
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
