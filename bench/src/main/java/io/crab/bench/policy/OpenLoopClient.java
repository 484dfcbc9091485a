package io.crab.bench.policy;

import io.crab.bench.traffic.FailureKind;
import io.crab.bench.traffic.Histograms;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * An open-loop client: new TCP connections at the times of a Poisson schedule, each sending one request to a
 * {@link QueueServer} and waiting for its response, however many are outstanding. A closed-loop client would
 * slow down with the servers and hide their queues; this one does not wait for anything before the next arrival.
 * <p>
 * Two threads: a scheduler that sleeps to each arrival and starts a non-blocking connect, and a selector that
 * carries every connection on from there. Latency runs from the scheduled time, not from the connect, so a client
 * that falls behind its schedule shows it in the latency as well as in the start lag it reports.
 */
public final class OpenLoopClient
{
    /** A connect started later than this after its scheduled time counts as a late start. */
    public static final long LATE_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
    /**
     * A run kept to its schedule if 99 % of its connects started within this of their time. A client that falls
     * behind lags more and more, or stalls; one on a busy machine is a few ms late now and then at any rate (on
     * this project's 2-core VM, 1 to 4 % of the arrivals, by up to 5 to 8 ms, at 1,600/s and 6,400/s alike).
     */
    public static final long ON_SCHEDULE_P99_LAG_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

    /** Lets both threads start before the first arrival, so the first ones are not late for that alone. */
    private static final long LEAD_IN_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    /** How often the selector looks at the clock while nothing happens, to notice the end of the drain. */
    private static final long SELECT_MILLIS = 50;
    private static final long JOIN_SLACK_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final byte[] REQUEST = "request\n".getBytes(StandardCharsets.US_ASCII);

    /**
     * One run.
     *
     * @param target   the address every connection goes to
     * @param rate     arrivals per second
     * @param warmup   arrivals before the window, not measured, so the run is measured in its steady state
     * @param window   the measured part
     * @param drain    how long, after the last arrival, responses are still waited for
     * @param seed     of the schedule
     */
    public record Plan(InetSocketAddress target, double rate, Duration warmup, Duration window, Duration drain,
        long seed)
    {
        public Plan
        {
            Objects.requireNonNull(target, "target");
            if (!(rate > 0) || Double.isInfinite(rate))
            {
                throw new IllegalArgumentException("the rate must be finite and above 0, got " + rate);
            }
            if (window.isZero() || window.isNegative())
            {
                throw new IllegalArgumentException("the window must be longer than 0, got " + window);
            }
        }
    }

    /** One connection's state, owned by whichever thread currently holds it. */
    private static final class Call
    {
        final long scheduledAt;
        final boolean measured;
        final SocketChannel channel;
        final boolean connected;
        final ByteBuffer response = ByteBuffer.allocate(QueueServer.RESPONSE_BYTES);
        boolean answered;

        Call(final long scheduledAt, final boolean measured, final SocketChannel channel, final boolean connected)
        {
            this.scheduledAt = scheduledAt;
            this.measured = measured;
            this.channel = channel;
            this.connected = connected;
        }
    }

    private final Plan plan;
    private final Selector selector;
    private final Queue<Call> started = new ConcurrentLinkedQueue<>();
    private final long begin;
    private final long windowStart;
    private final long windowEnd;
    private final long drainEnd;
    private volatile boolean schedulerDone;
    /** What ended either thread abnormally, rethrown by {@link #run}: a run with a broken client means nothing. */
    private volatile Throwable broken;

    // The scheduler's figures.
    private final Histogram startLag = Histograms.create();
    private final Map<FailureKind, Long> connectFailures = new EnumMap<>(FailureKind.class);
    private long scheduled;
    private long lateStarts;

    // The selector's figures.
    private final Histogram latency = Histograms.create();
    private final Map<FailureKind, Long> failures = new EnumMap<>(FailureKind.class);
    private final TreeMap<Integer, Long> answeredBy = new TreeMap<>();
    private long answered;
    private long answeredInWindow;

    private OpenLoopClient(final Plan plan, final Selector selector)
    {
        this.plan = plan;
        this.selector = selector;
        this.begin = System.nanoTime() + LEAD_IN_NANOS;
        this.windowStart = begin + plan.warmup().toNanos();
        this.windowEnd = windowStart + plan.window().toNanos();
        this.drainEnd = windowEnd + plan.drain().toNanos();
    }

    /**
     * Runs the plan with threads from {@code threads}, which must put them in the namespace the connections are to
     * come from (see {@code Netns#threadFactory}); returns when every connection has ended or the drain is over.
     */
    public static OpenLoopResult run(final Plan plan, final ThreadFactory threads) throws IOException
    {
        try (Selector selector = Selector.open())
        {
            final OpenLoopClient client = new OpenLoopClient(plan, selector);
            final Thread scheduler = threads.newThread(client.guarded(client::schedule));
            final Thread carrier = threads.newThread(client.guarded(client::carry));
            scheduler.start();
            carrier.start();
            try
            {
                TimeUnit.NANOSECONDS.timedJoin(scheduler, client.windowEnd - System.nanoTime() + JOIN_SLACK_NANOS);
                TimeUnit.NANOSECONDS.timedJoin(carrier, client.drainEnd - System.nanoTime() + JOIN_SLACK_NANOS);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted during an open-loop run", e);
            }
            if (client.broken != null)
            {
                throw new IllegalStateException("the open-loop client failed: " + client.broken, client.broken);
            }
            if (scheduler.isAlive() || carrier.isAlive())
            {
                throw new IllegalStateException("the open-loop client's threads did not finish in time");
            }
            return client.result();
        }
    }

    private Runnable guarded(final Runnable task)
    {
        return () ->
        {
            try
            {
                task.run();
            }
            catch (final RuntimeException | Error e)
            {
                broken = e;
                schedulerDone = true;
                selector.wakeup();
            }
        };
    }

    private OpenLoopResult result()
    {
        final Map<FailureKind, Long> all = new EnumMap<>(failures);
        connectFailures.forEach((kind, n) -> all.merge(kind, n, Long::sum));
        return new OpenLoopResult(plan.rate(), plan.window(), scheduled, answered, answeredInWindow, all, latency,
            startLag, lateStarts, answeredBy);
    }

    /** The scheduler thread: sleeps to each arrival and starts its connect. */
    private void schedule()
    {
        try
        {
            final PoissonSchedule arrivals = new PoissonSchedule(plan.rate(), plan.seed());
            for (long at = begin + arrivals.nextNanos(); at - windowEnd < 0; at = begin + arrivals.nextNanos())
            {
                sleepUntil(at);
                final long lag = System.nanoTime() - at;
                final boolean measured = at - windowStart >= 0;
                if (measured)
                {
                    scheduled++;
                    Histograms.record(startLag, lag);
                    lateStarts += lag > LATE_NANOS ? 1 : 0;
                }
                start(at, measured);
            }
        }
        finally
        {
            schedulerDone = true;
            selector.wakeup();
        }
    }

    private void start(final long at, final boolean measured)
    {
        SocketChannel channel = null;
        try
        {
            channel = SocketChannel.open();
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            final boolean connected = channel.connect(plan.target());
            started.add(new Call(at, measured, channel, connected));
            selector.wakeup();
        }
        catch (final IOException e)
        {
            close(channel);
            if (measured)
            {
                connectFailures.merge(FailureKind.CONNECT, 1L, Long::sum);
            }
        }
    }

    private static void sleepUntil(final long deadline)
    {
        for (long left = deadline - System.nanoTime(); left > 0; left = deadline - System.nanoTime())
        {
            LockSupport.parkNanos(left);
        }
    }

    /** The selector thread: every started connection from its connect to its end. */
    private void carry()
    {
        int open = 0;
        try
        {
            while (true)
            {
                final boolean lastStarted = schedulerDone;
                for (Call call = started.poll(); call != null; call = started.poll())
                {
                    open += register(call) ? 1 : 0;
                }
                if (lastStarted && (open == 0 || System.nanoTime() - drainEnd >= 0))
                {
                    break;
                }
                selector.select(SELECT_MILLIS);
                final long now = System.nanoTime();
                final Iterator<SelectionKey> ready = selector.selectedKeys().iterator();
                while (ready.hasNext())
                {
                    final SelectionKey key = ready.next();
                    ready.remove();
                    open -= advance(key, (Call)key.attachment(), now) ? 0 : 1;
                }
            }
            for (final SelectionKey key : selector.keys())
            {
                end((Call)key.attachment(), FailureKind.TIMEOUT);
            }
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException("the open-loop client's selector failed", e);
        }
    }

    /** Registers a started connection, sending its request if it connected at once; false if it ended already. */
    private boolean register(final Call call)
    {
        try
        {
            if (call.connected)
            {
                sendRequest(call);
                call.channel.register(selector, SelectionKey.OP_READ, call);
            }
            else
            {
                call.channel.register(selector, SelectionKey.OP_CONNECT, call);
            }
            return true;
        }
        catch (final IOException e)
        {
            end(call, call.connected ? FailureKind.RESET : FailureKind.CONNECT);
            return false;
        }
    }

    /** Takes a connection one step on; false if it ended. */
    private boolean advance(final SelectionKey key, final Call call, final long now)
    {
        if (key.isConnectable())
        {
            try
            {
                if (!call.channel.finishConnect())
                {
                    return true;
                }
                sendRequest(call);
                key.interestOps(SelectionKey.OP_READ);
            }
            catch (final IOException e)
            {
                end(call, FailureKind.CONNECT);
                return false;
            }
        }
        if (key.isValid() && key.isReadable())
        {
            return read(call, now);
        }
        return true;
    }

    /** Reads what arrived; false once the server closed, after its response or, a failure, before it. */
    private boolean read(final Call call, final long now)
    {
        try
        {
            final int n = call.channel.read(call.response);
            if (n < 0)
            {
                end(call, call.answered ? null : FailureKind.RESET);
                return false;
            }
            return call.answered || call.response.hasRemaining() || answer(call, now);
        }
        catch (final IOException e)
        {
            end(call, call.answered ? null : FailureKind.RESET);
            return false;
        }
    }

    /**
     * A complete response: counted and timed, then the connection waits for the server's close, so that the
     * server's side and not the client's keeps the TIME_WAIT (and the client's ports stay free). False if the
     * response was not a queue server's, which ends the connection.
     */
    private boolean answer(final Call call, final long now)
    {
        final ByteBuffer response = call.response.flip();
        if (response.getInt() != QueueServer.RESPONSE_MAGIC)
        {
            end(call, FailureKind.MISMATCH);
            return false;
        }
        call.answered = true;
        final int backend = response.getInt();
        // Room for the next read, which must see the close: a read into a full buffer reads nothing, and the key
        // would stay ready for ever.
        response.clear();
        if (now - windowStart >= 0 && now - windowEnd < 0)
        {
            answeredInWindow++;
        }
        if (call.measured)
        {
            answered++;
            answeredBy.merge(backend, 1L, Long::sum);
            Histograms.record(latency, now - call.scheduledAt);
        }
        return true;
    }

    private static void sendRequest(final Call call) throws IOException
    {
        final ByteBuffer request = ByteBuffer.wrap(REQUEST);
        call.channel.write(request);
        if (request.hasRemaining())
        {
            // A new connection's empty send buffer always takes a few bytes; anything else is a broken socket.
            throw new IOException("a new connection took " + request.position() + " of " + REQUEST.length + " bytes");
        }
    }

    /** Closes a connection; {@code failure} counts against a measured one unless null (it ended well). */
    private void end(final Call call, final FailureKind failure)
    {
        close(call.channel);
        if (failure != null && call.measured && !call.answered)
        {
            failures.merge(failure, 1L, Long::sum);
        }
    }

    private static void close(final SocketChannel channel)
    {
        if (channel == null)
        {
            return;
        }
        try
        {
            channel.close();
        }
        catch (final IOException e)
        {
            // Closing is best effort: the connection is over either way.
        }
    }
}
