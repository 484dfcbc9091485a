package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.agent.OptionKind;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Probes backends on their own thread (probes block) and posts each result to the agent's queue: a TCP connect,
 * then, for a backend that accepted, whether it echoes the Connection Redirect option ({@link EchoProbe}). A backend whose port is not known (VIP balancing every port) is not given to it: the agent judges it by
 * its neighbour entry alone. A reload replaces the prober with one for the new backends.
 */
final class HealthProber implements Runnable
{
    private static final int CONNECT_TIMEOUT_MS = 500;

    /** Result of one probe: the backend (as configured), whether it accepted, and whether it echoed the option. */
    record Result(HostPort backend, boolean up, boolean echoes)
    {
    }

    /** A backend, the address its probe connects to, and a VIP of its service for the echo probe to name. */
    record Target(HostPort backend, InetSocketAddress probe, Inet4Address vip)
    {
    }

    private final List<Target> targets;
    private final OptionKind option;
    private final long intervalMs;
    private final ManyToOneConcurrentArrayQueue<Result> results;
    private final AtomicBoolean running = new AtomicBoolean(true);

    HealthProber(final List<Target> targets, final OptionKind option, final long intervalMs,
        final ManyToOneConcurrentArrayQueue<Result> results)
    {
        this.targets = targets;
        this.option = option;
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
        try (EchoProbe echo = new EchoProbe(option))
        {
            probeUntilStopped(echo);
        }
    }

    /** A backend that accepts is then asked to echo the option; one that does not is not asked. */
    private void probeUntilStopped(final EchoProbe echo)
    {
        while (running.get())
        {
            for (int i = 0; i < targets.size() && running.get(); i++)
            {
                final Target target = targets.get(i);
                final boolean up = probe(target.probe());
                final Result result = new Result(target.backend(), up,
                    up && echo.echoes(target.probe(), target.vip(), CONNECT_TIMEOUT_MS));
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
