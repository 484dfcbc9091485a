package io.crab.lb;

import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Probes backends with a TCP connect on their own thread (probes block) and posts each result to the agent's
 * queue. A backend whose port is not known (VIP balancing every port) is not probed here: the agent judges it by
 * its neighbour entry alone.
 */
final class HealthProber implements Runnable
{
    private static final int CONNECT_TIMEOUT_MS = 500;

    /** Result of one probe: backend id, and whether it accepted. */
    record Result(int backendId, boolean up)
    {
    }

    private final List<InetSocketAddress> targets;
    private final long intervalMs;
    private final ManyToOneConcurrentArrayQueue<Result> results;
    private final AtomicBoolean running = new AtomicBoolean(true);

    /** {@code targets} by backend id; null where the backend is not probed. */
    HealthProber(final List<InetSocketAddress> targets, final long intervalMs,
        final ManyToOneConcurrentArrayQueue<Result> results)
    {
        this.targets = targets;
        this.intervalMs = intervalMs;
        this.results = results;
    }

    void stop()
    {
        running.set(false);
    }

    @Override
    public void run()
    {
        while (running.get())
        {
            for (int id = 0; id < targets.size() && running.get(); id++)
            {
                final InetSocketAddress target = targets.get(id);
                if (target != null)
                {
                    while (!results.offer(new Result(id, probe(target))) && running.get())
                    {
                        Thread.onSpinWait();
                    }
                }
            }
            try
            {
                Thread.sleep(intervalMs);
            }
            catch (final InterruptedException ex)
            {
                return;
            }
        }
    }

    private static boolean probe(final InetSocketAddress target)
    {
        try (Socket socket = new Socket())
        {
            socket.setSoLinger(true, 0);
            socket.connect(target, CONNECT_TIMEOUT_MS);
            return true;
        }
        catch (final IOException down)
        {
            return false;
        }
    }
}
