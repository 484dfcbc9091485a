package io.crab.bench.modes;

import io.crab.rig.Host;
import io.crab.rig.Topology;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;

/**
 * {@code haproxy}: HAProxy in TCP mode in the LB namespace, round-robin over the backends; a proxy, so every
 * request makes two connections. Besides the LB's kernel work its CPU includes the HAProxy process's (one thread).
 */
public final class HaproxyMode implements BenchMode
{
    private static final long READY_TIMEOUT_MS = 10_000;

    private final InetSocketAddress target;
    private final Process process;

    public HaproxyMode(final Topology topology, final String vip, final int port, final Path workDir)
    {
        this.target = new InetSocketAddress(vip, port);
        final StringBuilder cfg = new StringBuilder()
            .append("global\n  maxconn 8000\n  nbthread 1\n")
            .append("defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n")
            .append("frontend vip\n  bind ").append(vip).append(':').append(port).append("\n")
            .append("  default_backend servers\n")
            .append("backend servers\n  balance roundrobin\n");
        for (final Host s : topology.servers())
        {
            cfg.append("  server ").append(s.name()).append(' ').append(s.ip()).append(':').append(port).append('\n');
        }
        final Path file = workDir.resolve("haproxy.cfg");
        try
        {
            Files.writeString(file, cfg.toString());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        process = topology.spawn(topology.lb(), List.of("haproxy", "-db", "-f", file.toString()),
            workDir.resolve("haproxy.log"));
        awaitListening(topology.clients().get(0));
    }

    private void awaitListening(final Host client)
    {
        final long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
        while (true)
        {
            try
            {
                client.netns().call(() ->
                {
                    try (Socket s = new Socket())
                    {
                        s.connect(target, 500);
                    }
                    return null;
                });
                return;
            }
            catch (final RuntimeException notYet)
            {
                if (!process.isAlive() || System.currentTimeMillis() > deadline)
                {
                    throw new IllegalStateException("haproxy did not listen on " + target + " (is haproxy " +
                        "installed? ./crab bench installs it)", notYet);
                }
                try
                {
                    Thread.sleep(50);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(ex);
                }
            }
        }
    }

    @Override
    public String name()
    {
        return "haproxy";
    }

    @Override
    public InetSocketAddress target()
    {
        return target;
    }

    @Override
    public String lbProcess()
    {
        return "haproxy";
    }

    @Override
    public OptionalLong lbProcessPid()
    {
        return OptionalLong.of(process.pid());
    }

    @Override
    public void close()
    {
        process.destroy();
    }
}
