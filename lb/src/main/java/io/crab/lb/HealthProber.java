package io.crab.lb;

import io.crab.agent.HostPort;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Probes backends with a TCP connect on their own thread (probes block) and posts each result to the agent's
 * queue. A backend whose port is not known (VIP balancing every port) is not given to it: the agent judges it by
 * its neighbour entry alone. A reload replaces the prober with one for the new backends.
 */
final class HealthProber implements Runnable
{
    private static final int CONNECT_TIMEOUT_MS = 500;

    /** Result of one probe: the backend (as configured), and whether it accepted. */
    record Result(HostPort backend, boolean up)
    {
    }

    /** A backend and the address its probe connects to. */
    record Target(HostPort backend, InetSocketAddress probe)
    {
    }

    private final List<Target> targets;
    private final long intervalMs;
    private final ManyToOneConcurrentArrayQueue<Result> results;
    private final AtomicBoolean running = new AtomicBoolean(true);

    HealthProber(final List<Target> targets, final long intervalMs,
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
            for (int i = 0; i < targets.size() && running.get(); i++)
            {
                final Target target = targets.get(i);
                final Result result = new Result(target.backend(), probe(target.probe()));
                while (!results.offer(result) && running.get())
                {
                    Thread.onSpinWait();
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
