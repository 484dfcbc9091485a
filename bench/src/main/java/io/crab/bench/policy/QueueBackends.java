package io.crab.bench.policy;

import io.crab.rig.Host;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntToDoubleFunction;

/**
 * {@link QueueServer}s on servers of a topology, one per server and port, each started inside its server's
 * namespace. Backend ids run from 0 in order of server, then port.
 */
public final class QueueBackends implements AutoCloseable
{
    private final List<QueueServer> servers = new ArrayList<>();
    private final List<String> addresses = new ArrayList<>();

    private QueueBackends()
    {
    }

    /**
     * Starts a backend on every server at every port; {@code slowdown} gives each backend id its factor on the
     * service time (1 for all but a slow one). Whatever started is stopped again if one fails to.
     */
    public static QueueBackends start(final List<Host> hosts, final List<Integer> ports,
        final Duration meanServiceTime, final IntToDoubleFunction slowdown, final long seed)
    {
        final QueueBackends backends = new QueueBackends();
        try
        {
            for (final Host host : hosts)
            {
                for (final int port : ports)
                {
                    final int id = backends.servers.size();
                    backends.servers.add(host.netns().call(() -> QueueServer.start(
                        new InetSocketAddress(host.ipAddress(), port), id, meanServiceTime, slowdown.applyAsDouble(id),
                        seed + id)));
                    backends.addresses.add(host.ip() + ":" + port);
                }
            }
            return backends;
        }
        catch (final RuntimeException ex)
        {
            backends.close();
            throw ex;
        }
    }

    public int size()
    {
        return servers.size();
    }

    /** Each backend as the services file names it, {@code IP:PORT}, by id. */
    public List<String> addresses()
    {
        return List.copyOf(addresses);
    }

    /** The service's lines of a services file: its VIP, policy and every backend. */
    public List<String> service(final String name, final String vip, final String policy)
    {
        final List<String> lines = new ArrayList<>(List.of("service " + name, "    vip " + vip,
            "    policy " + policy));
        addresses.forEach(a -> lines.add("    backend " + a));
        return lines;
    }

    /** Sets every backend's mean service time, e.g. 0 to measure what the rig itself sustains. */
    public void meanServiceTime(final Duration mean)
    {
        servers.forEach(s -> s.meanServiceTime(mean));
    }

    @Override
    public void close()
    {
        servers.forEach(QueueServer::close);
    }
}
