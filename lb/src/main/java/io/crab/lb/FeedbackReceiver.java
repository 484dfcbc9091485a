package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * crab-lb's receiver of the servers' load reports ({@code --feedback-port}), an agent on a thread of its own: the
 * LB's main duty cycle sleeps 50 ms, too long for reports that come 100 times a second. It is the one user of
 * {@link BackendLoads}: it applies the reports {@link ReportTrust} accepts, follows each publication of the
 * tables (handed over by {@link #publish} as an immutable snapshot), and rebases the backends whose reports stopped
 * every {@link #REBASE_INTERVAL_NS}. Its idle strategy waits on a selector, so a report is applied as soon as it
 * arrives and an idle receiver costs nothing. With port 0 it has no socket and only follows and rebases, so jsq and
 * p2c still count what the LB gave each backend lately. The handles of the maps it writes (backend_loads,
 * backend_assigned, feedback_counters) are used on its thread only: a handle's scratch buffers serve one thread.
 */
final class FeedbackReceiver implements Agent
{
    static final long REBASE_INTERVAL_NS = 20_000_000L;
    /** Datagrams read per duty cycle at most, so a flood cannot starve the rebase. */
    private static final int MAX_DATAGRAMS_PER_CYCLE = 256;
    /** Larger than any report, so a longer datagram shows as one of the wrong length rather than a cut one. */
    private static final int RECEIVE_BUFFER = 2048;

    private final int port;
    private final BackendLoads loads;
    private final AgentCounters counters;
    private final NanoClock clock;
    private final EpochClock wallClock;
    private final ReportTrust trust;
    private final AtomicReference<Map<HostPort, Integer>> published = new AtomicReference<>();
    private final Selector selector;
    private final DatagramChannel channel;
    private final ByteBuffer received = ByteBuffer.allocate(RECEIVE_BUFFER);
    private final UnsafeBuffer datagram = new UnsafeBuffer(received.array());
    private final ReportTrust.LoadSink toLoads = this::setLoad;
    private final Consumer<SelectionKey> ignoreReadyKey = key -> { };
    private Map<HostPort, Integer> tracked;
    private long nextRebaseNs;

    /** Binds the port now, on the caller's thread and in its namespace, so a port in use fails crab-lb's start. */
    FeedbackReceiver(final LbContext.Feedback feedback, final BackendLoads loads, final AgentCounters counters,
        final NanoClock clock, final EpochClock wallClock)
    {
        this.port = feedback.port();
        this.loads = loads;
        this.counters = counters;
        this.clock = clock;
        this.wallClock = wallClock;
        this.trust = new ReportTrust(feedback.key());
        DatagramChannel opened = null;
        try
        {
            selector = Selector.open();
            if (port != 0)
            {
                opened = DatagramChannel.open(StandardProtocolFamily.INET);
                opened.configureBlocking(false);
                opened.bind(new InetSocketAddress(port));
                opened.register(selector, SelectionKey.OP_READ);
            }
        }
        catch (final IOException ex)
        {
            closeQuietly(opened);
            throw new IllegalStateException("--feedback-port " + port + ": " + ex.getMessage(), ex);
        }
        channel = opened;
    }

    /** The backend ids of a publication; called by the LB's agent, on its thread, after each one. */
    void publish(final Map<HostPort, Integer> backendIds)
    {
        published.set(Map.copyOf(backendIds));
        selector.wakeup();
    }

    @Override
    public void onStart()
    {
        nextRebaseNs = clock.nanoTime() + REBASE_INTERVAL_NS;
    }

    @Override
    public int doWork()
    {
        int work = 0;
        final Map<HostPort, Integer> ids = published.get();
        if (ids != tracked && ids != null)
        {
            loads.track(ids);
            trust.track(ids);
            tracked = ids;
            work++;
        }
        if (channel != null && tracked != null)
        {
            work += receive();
        }
        final long now = clock.nanoTime();
        if (now - nextRebaseNs >= 0 && tracked != null)
        {
            nextRebaseNs = now + REBASE_INTERVAL_NS;
            final int rebased = loads.rebaseStale();
            if (rebased > 0)
            {
                counters.add(Abi.Consts.CRAB_FBK_STALE_REBASED, rebased);
                work++;
            }
        }
        return work;
    }

    private int receive()
    {
        int datagrams = 0;
        while (datagrams < MAX_DATAGRAMS_PER_CYCLE)
        {
            received.clear();
            final SocketAddress sender;
            try
            {
                sender = channel.receive(received);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("receiving a load report: " + ex.getMessage(), ex);
            }
            if (sender == null)
            {
                break;
            }
            datagrams++;
            counters.add(trust.accept(((InetSocketAddress)sender).getAddress(), datagram, 0, received.position(),
                clock.nanoTime(), wallClock.time() * 1000L, toLoads), 1);
        }
        return datagrams;
    }

    private void setLoad(final int backendId, final long load)
    {
        loads.report(backendId, load);
        counters.add(Abi.Consts.CRAB_FBK_LOADS_SET, 1);
    }

    /** Waits on the selector: a datagram or a publication ends the wait, the next rebase bounds it. */
    IdleStrategy idleStrategy()
    {
        return new IdleStrategy()
        {
            @Override
            public void idle(final int workCount)
            {
                if (workCount == 0)
                {
                    idle();
                }
            }

            @Override
            public void idle()
            {
                final long waitMs = Math.max(1, (nextRebaseNs - clock.nanoTime()) / 1_000_000L);
                try
                {
                    selector.select(ignoreReadyKey, waitMs);
                }
                catch (final IOException ex)
                {
                    throw new UncheckedIOException(ex);
                }
            }

            @Override
            public void reset()
            {
            }
        };
    }

    @Override
    public void onClose()
    {
        closeQuietly(channel);
        closeQuietly(selector);
    }

    private static void closeQuietly(final java.io.Closeable closeable)
    {
        if (closeable != null)
        {
            try
            {
                closeable.close();
            }
            catch (final IOException ex)
            {
                // nothing is pending on it
            }
        }
    }

    @Override
    public String roleName()
    {
        return "crab-lb-feedback";
    }
}
