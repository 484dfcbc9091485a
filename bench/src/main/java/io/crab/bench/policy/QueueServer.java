package io.crab.bench.policy;

import io.crab.bench.traffic.Sockets;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A backend that serves one request at a time: accept, read the {@link #REQUEST_BYTES}-byte request, sleep an
 * exponentially distributed service time, answer with {@link #RESPONSE_BYTES} bytes naming the backend, close.
 * Connections that arrive meanwhile wait, established by the kernel, in the listen socket's accept queue: that is
 * the queue a load-aware policy has to see. Sleeping rather than computing keeps the machine's cores out of it, so
 * the capacity is {@code 1 / (mean x slowdown)} requests per second whatever else runs.
 */
public final class QueueServer implements AutoCloseable
{
    public static final int REQUEST_BYTES = 8;
    /** A magic word ("crab") and the backend's id, both big-endian ints. */
    public static final int RESPONSE_BYTES = 8;
    public static final int RESPONSE_MAGIC = 0x63726162;

    /** Deep enough that no connection is ever refused for a full queue at the loads the bench offers. */
    private static final int BACKLOG = 1024;
    /** A client that connected sends its request at once; one that does not (a health probe) is not waited for. */
    private static final int READ_TIMEOUT_MS = 1_000;
    private static final long JOIN_MILLIS = 2_000;

    private final ServerSocket listener;
    private final int id;
    private final double slowdown;
    private final Exponential unitServiceTimes;
    private final byte[] response;
    private final Thread thread;
    private final AtomicLong served = new AtomicLong();
    private volatile double meanServiceNanos;
    private volatile boolean closed;

    private QueueServer(final ServerSocket listener, final int id, final Duration meanServiceTime,
        final double slowdown, final long seed)
    {
        this.listener = listener;
        this.id = id;
        this.slowdown = slowdown;
        this.unitServiceTimes = new Exponential(1.0, seed);
        this.meanServiceNanos = meanServiceTime.toNanos();
        this.response = ByteBuffer.allocate(RESPONSE_BYTES).putInt(RESPONSE_MAGIC).putInt(id).array();
        this.thread = new Thread(this::serveLoop, "crab-queue-server-" + id);
        this.thread.setDaemon(true);
    }

    /**
     * Binds on the calling thread, so the socket lives in that thread's network namespace, then serves in the
     * background.
     *
     * @param id              what the responses name this backend by
     * @param meanServiceTime mean of the exponential service time
     * @param slowdown        factor on every service time, e.g. 10 for a backend ten times slower than the rest
     * @param seed            of the service times, so a run can be repeated
     */
    public static QueueServer start(final InetSocketAddress bind, final int id, final Duration meanServiceTime,
        final double slowdown, final long seed) throws IOException
    {
        if (!(slowdown > 0))
        {
            throw new IllegalArgumentException("slowdown must be above 0, got " + slowdown);
        }
        final QueueServer server = new QueueServer(Sockets.listen(bind, BACKLOG), id, meanServiceTime, slowdown, seed);
        server.thread.start();
        return server;
    }

    public int port()
    {
        return listener.getLocalPort();
    }

    /** Requests answered. */
    public long served()
    {
        return served.get();
    }

    /** Changes the mean service time from the next request on; 0 answers at once (to measure the rig itself). */
    public void meanServiceTime(final Duration mean)
    {
        meanServiceNanos = mean.toNanos();
    }

    private void serveLoop()
    {
        final byte[] request = new byte[REQUEST_BYTES];
        while (!closed)
        {
            try (Socket socket = listener.accept())
            {
                if (serve(socket, request))
                {
                    served.incrementAndGet();
                }
            }
            catch (final IOException e)
            {
                if (closed)
                {
                    return;
                }
                // Accept itself failed (e.g. out of descriptors): back off rather than spin.
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
            }
        }
    }

    /** Serves one connection; false if it went away before its request was read or answered. */
    private boolean serve(final Socket socket, final byte[] request)
    {
        try
        {
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(READ_TIMEOUT_MS);
            final InputStream in = socket.getInputStream();
            int filled = 0;
            while (filled < request.length)
            {
                final int n = in.read(request, filled, request.length - filled);
                if (n < 0)
                {
                    return false;
                }
                filled += n;
            }
            sleepNanos(Math.round(unitServiceTimes.nextNanos() * meanServiceNanos * slowdown));
            socket.getOutputStream().write(response);
            return true;
        }
        catch (final IOException e)
        {
            // A reset or a silent client is the client's business; the next connection in the queue is served.
            return false;
        }
    }

    /** Sleeps to a deadline: Thread.sleep rounds up to whole milliseconds on Java 17. */
    private void sleepNanos(final long nanos)
    {
        final long deadline = System.nanoTime() + nanos;
        long left = nanos;
        while (left > 0 && !closed)
        {
            LockSupport.parkNanos(left);
            left = deadline - System.nanoTime();
        }
    }

    /** Stops serving; connections still queued are reset by the listener's close. */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        try
        {
            listener.close();
        }
        catch (final IOException e)
        {
            // The listener is gone either way; the loop sees closed and stops.
        }
        LockSupport.unpark(thread);
        try
        {
            thread.join(JOIN_MILLIS);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString()
    {
        return "backend " + id + " on " + listener.getLocalSocketAddress();
    }
}
