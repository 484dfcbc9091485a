package io.crab.bench.cluster;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.crab.bench.traffic.EchoServer;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.Counters;
import io.crab.bpf.PinnedMap;
import io.crab.endpoint.CrabEndpoint;
import io.crab.endpoint.EndpointAgent;
import io.crab.lb.CrabLb;
import io.crab.lb.LbContext;
import io.crab.lb.LbStatus;
import io.crab.rig.Host;
import io.crab.rig.Topology;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * crab running for real on a {@link Topology}: echo servers and crab-endpoint servers on the servers,
 * crab-endpoint clients on the clients, and crab-lb (started and stopped separately, to try configurations) on
 * the LB. Closing stops what it started; the topology's own close removes the rest.
 */
public final class CrabCluster implements AutoCloseable
{
    private final Topology topology;
    private final Path logDir;
    private final List<EchoServer> echoServers = new ArrayList<>();
    private final Map<Host, List<EchoServer>> echoByHost = new LinkedHashMap<>();
    private final Map<Host, Daemon> endpoints = new LinkedHashMap<>();
    private Daemon lb;

    private CrabCluster(final Topology topology, final Path logDir)
    {
        this.topology = topology;
        this.logDir = logDir;
    }

    /**
     * Echo servers on every server at each of {@code echoPorts}; the server endpoint on every server; the client
     * endpoint on every client for {@code clientVips} (a client given none runs no endpoint).
     */
    public static CrabCluster start(final Topology topology, final Path logDir, final List<Integer> echoPorts,
        final Map<Host, List<String>> clientVips)
    {
        return start(topology, logDir, echoPorts, clientVips, List.of());
    }

    /** {@link #start} with more arguments for every client endpoint, e.g. its flow table size. */
    public static CrabCluster start(final Topology topology, final Path logDir, final List<Integer> echoPorts,
        final Map<Host, List<String>> clientVips, final List<String> clientArgs)
    {
        return start(topology, logDir, echoPorts, clientVips, clientArgs, List.of());
    }

    /** The server endpoint arguments that send load reports to the topology's crab-lb, on its default port. */
    public static List<String> reportingToTheLb(final Topology topology)
    {
        return List.of("--report-to", topology.lb().ip() + ":" + LbContext.Feedback.DEFAULT_PORT);
    }

    /**
     * {@link #start} with more arguments for every client endpoint and for every server endpoint, e.g.
     * {@link #reportingToTheLb}.
     */
    public static CrabCluster start(final Topology topology, final Path logDir, final List<Integer> echoPorts,
        final Map<Host, List<String>> clientVips, final List<String> clientArgs, final List<String> serverArgs)
    {
        final CrabCluster cluster = new CrabCluster(topology, logDir);
        try
        {
            Files.createDirectories(logDir);
            for (final Host server : topology.servers())
            {
                for (final int port : echoPorts)
                {
                    final EchoServer echo = server.netns().call(() ->
                        EchoServer.start(new InetSocketAddress(server.ipAddress(), port)));
                    cluster.echoServers.add(echo);
                    cluster.echoByHost.computeIfAbsent(server, h -> new ArrayList<>()).add(echo);
                }
                final List<String> args = new ArrayList<>(List.of("server", "--iface", server.iface()));
                args.addAll(serverArgs);
                cluster.endpoints.put(server, Daemon.start(topology, server, "endpoint", CrabEndpoint.class, logDir,
                    args));
            }
            for (final Map.Entry<Host, List<String>> client : clientVips.entrySet())
            {
                if (client.getValue().isEmpty())
                {
                    continue;
                }
                final List<String> args = new ArrayList<>(List.of("client", "--iface", client.getKey().iface()));
                client.getValue().forEach(v -> args.addAll(List.of("--vip", v)));
                args.addAll(clientArgs);
                cluster.endpoints.put(client.getKey(), Daemon.start(topology, client.getKey(), "endpoint",
                    CrabEndpoint.class, logDir, args));
            }
            topology.enableXdpTxOn(topology.lb());
            return cluster;
        }
        catch (final IOException ex)
        {
            cluster.close();
            throw new UncheckedIOException(ex);
        }
        catch (final RuntimeException ex)
        {
            cluster.close();
            throw ex;
        }
    }

    /** Writes the services file and starts crab-lb on the LB with {@code --config} and these arguments added. */
    public Daemon startLbWithServices(final List<String> serviceLines, final String... args)
    {
        final List<String> argv = new ArrayList<>(List.of("--config", writeServices(serviceLines).toString()));
        argv.addAll(List.of(args));
        return startLbWith(argv);
    }

    /**
     * Replaces the services file as a configuration tool would: a new file renamed over the old one, so crab-lb's
     * watch sees one complete file.
     */
    public Path writeServices(final List<String> serviceLines)
    {
        final Path file = logDir.resolve("services.conf");
        final Path next = logDir.resolve("services.conf.new");
        try
        {
            Files.write(next, serviceLines);
            Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        return file;
    }

    /**
     * Replaces the services file and has the running crab-lb read it at once (SIGHUP), as an operator would, then
     * waits until crab-lb has logged the outcome: applied (it publishes before it logs), or with no change. Returns
     * the reload's log lines; throws if crab-lb refused the file or said nothing within {@code timeout}.
     */
    public List<String> reloadServices(final List<String> serviceLines, final Duration timeout)
    {
        final int seen = lb.logText().length();
        writeServices(serviceLines);
        lb.hangUp();
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (true)
        {
            final String fresh = lb.logText().substring(seen);
            // Whole lines only: the daemon may be half-way through writing one. Its events are
            // "TIMESTAMP LEVEL crab-lb: message".
            final List<String> reload = fresh.substring(0, fresh.lastIndexOf('\n') + 1).lines()
                .filter(line -> line.contains(" crab-lb: reload")).toList();
            if (reload.stream().anyMatch(line -> line.contains(" crab-lb: reload refused")))
            {
                throw new IllegalStateException("crab-lb refused the services file: " + reload);
            }
            if (!reload.isEmpty())
            {
                return reload;
            }
            if (System.nanoTime() - deadline >= 0)
            {
                throw new IllegalStateException("crab-lb did not log a reload within " + timeout + " of SIGHUP:\n" +
                    fresh);
            }
            try
            {
                Thread.sleep(10);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for crab-lb's reload", ex);
            }
        }
    }

    /** Writes the backends file and starts crab-lb on the LB with these arguments added. */
    public Daemon startLb(final List<String> backendLines, final String... args)
    {
        if (lb != null && lb.isAlive())
        {
            throw new IllegalStateException("crab-lb is already running");
        }
        final Path backends = logDir.resolve("backends.txt");
        try
        {
            Files.write(backends, backendLines);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        final List<String> argv = new ArrayList<>(List.of("--backends", backends.toString()));
        argv.addAll(List.of(args));
        return startLbWith(argv);
    }

    private Daemon startLbWith(final List<String> args)
    {
        if (lb != null && lb.isAlive())
        {
            throw new IllegalStateException("crab-lb is already running");
        }
        final List<String> argv = new ArrayList<>(List.of("--iface", topology.lb().iface()));
        argv.addAll(args);
        lb = Daemon.start(topology, topology.lb(), "lb", CrabLb.class, logDir, argv);
        return lb;
    }

    public Daemon lb()
    {
        return lb;
    }

    /** Starts the stopped or killed crab-lb again with the same command line. */
    public Daemon restartLb()
    {
        lb = lb.startAgain();
        return lb;
    }

    /**
     * Stops crab-lb if it runs, then removes it from the LB's interface ({@code crab-lb --detach}): the XDP program
     * and its pinned state go, as an operator's explicit removal does.
     */
    public void detachLb()
    {
        if (lb != null)
        {
            lb.close();
        }
        detach(topology.lb(), () -> CrabLb.run(discard(), discard(), "--iface", topology.lb().iface(), "--detach"));
    }

    /**
     * Stops a host's crab-endpoint and removes it from the host ({@code --detach}): its programs and state go, as on
     * a host that never ran crab. {@link #restartEndpoint} brings it back.
     */
    public void detachEndpoint(final Host host)
    {
        endpoints.get(host).close();
        final String role = host.role() == Host.Role.SERVER ? "server" : "client";
        detach(host, () -> CrabEndpoint.run(discard(), discard(), role, "--iface", host.iface(), "--detach"));
    }

    /** The crab-endpoint running on a host. */
    public Daemon endpoint(final Host host)
    {
        return endpoints.get(host);
    }

    /** Starts the stopped or killed crab-endpoint of a host again with the same command line. */
    public Daemon restartEndpoint(final Host host)
    {
        final Daemon again = endpoints.get(host).startAgain();
        endpoints.put(host, again);
        return again;
    }

    private static void detach(final Host host, final IntSupplier command)
    {
        final int code = host.netns().call(command::getAsInt);
        if (code != 0)
        {
            throw new IllegalStateException("detaching on " + host + " exited " + code);
        }
    }

    private static PrintWriter discard()
    {
        return new PrintWriter(Writer.nullWriter());
    }

    /** The running crab-lb's counters (crab-lb status), read inside the LB namespace. */
    public MetricRegistry lbStatus()
    {
        return topology.lb().netns().call(() -> LbStatus.read(topology.lb().iface()));
    }

    /**
     * The counters of a host's crab-endpoint (client_counters or server_counters), by name (syn_marked, ...),
     * read from its pins inside the host's namespace; they outlive the daemon.
     */
    public static Map<String, Long> endpointCounters(final Host host, final EndpointAgent.Role role)
    {
        return host.netns().call(() -> endpointCounters(EndpointAgent.pinDir(role, host.iface()), role));
    }

    /** The same, from the pin directory of one crab-endpoint role (a pod's, say), whatever namespace it serves. */
    public static Map<String, Long> endpointCounters(final Path pinDir, final EndpointAgent.Role role)
    {
        final boolean client = role == EndpointAgent.Role.CLIENT;
        try (PinnedMap map = Bpf.openPinnedMap(pinDir.resolve(client ? Abi.Maps.CLIENT_COUNTERS :
            Abi.Maps.SERVER_COUNTERS).toString()))
        {
            final Counters counters = new Counters(map);
            final Map<String, Long> out = new LinkedHashMap<>();
            Counters.names(client ? "CRAB_CL_" : "CRAB_SV_").forEach((index, name) -> out.put(name,
                counters.sum(index)));
            return out;
        }
    }

    /** One counter of {@link #lbStatus()}, by metric name. */
    public static long gauge(final MetricRegistry registry, final String name)
    {
        @SuppressWarnings("unchecked")
        final Gauge<Number> g = (Gauge<Number>)registry.getGauges().get(name);
        if (g == null)
        {
            throw new IllegalArgumentException("no metric " + name + " in " + registry.getGauges().keySet());
        }
        return g.getValue().longValue();
    }

    /** Packets the LB's XDP program saw, all verdicts together. */
    public static long lbPackets(final MetricRegistry registry)
    {
        return registry.getGauges((name, m) -> name.startsWith("crab.lb.packets.")).values().stream()
            .mapToLong(g -> ((Number)g.getValue()).longValue()).sum();
    }

    /** Connections each server's echo servers on {@code port} (its own address and any VIP) accepted, by server. */
    public Map<Host, Long> acceptedOnPort(final int port)
    {
        final Map<Host, Long> out = new LinkedHashMap<>();
        echoByHost.forEach((host, servers) -> servers.stream().filter(e -> e.port() == port)
            .forEach(e -> out.merge(host, e.connectionsAccepted(), Long::sum)));
        return out;
    }

    /** Stops the echo server of {@code server} on {@code port}, as a crashed service would vanish. */
    public void stopEcho(final Host server, final int port)
    {
        final List<EchoServer> onHost = echoByHost.get(server);
        onHost.stream().filter(e -> e.port() == port).findFirst().ifPresent(e ->
        {
            e.close();
            onHost.remove(e);
            echoServers.remove(e);
        });
    }

    /**
     * Lets every server take the hashing fallback's connections to {@code vip}: the VIP on its loopback (see
     * {@link Topology#addVipToServers}) and an echo server on each of {@code ports} bound to the VIP, as an
     * application behind a direct-server-return load balancer listens on the address clients connect to.
     */
    public void serveVip(final String vip, final List<Integer> ports)
    {
        topology.addVipToServers(vip);
        for (final Host server : topology.servers())
        {
            for (final int port : ports)
            {
                final EchoServer echo = server.netns().call(() ->
                    EchoServer.start(new InetSocketAddress(InetAddress.getByName(vip), port)));
                echoServers.add(echo);
                echoByHost.computeIfAbsent(server, h -> new ArrayList<>()).add(echo);
            }
        }
    }

    /** Starts an echo server on {@code server} at {@code port} (again). */
    public void startEcho(final Host server, final int port)
    {
        final EchoServer echo = server.netns().call(() ->
            EchoServer.start(new InetSocketAddress(server.ipAddress(), port)));
        echoServers.add(echo);
        echoByHost.computeIfAbsent(server, h -> new ArrayList<>()).add(echo);
    }

    public Topology topology()
    {
        return topology;
    }

    @Override
    public void close()
    {
        final List<RuntimeException> failures = new ArrayList<>();
        final List<AutoCloseable> all = new ArrayList<>();
        if (lb != null)
        {
            all.add(lb);
        }
        all.addAll(endpoints.values());
        all.addAll(echoServers);
        for (final AutoCloseable c : all)
        {
            try
            {
                c.close();
            }
            catch (final Exception ex)
            {
                failures.add(new IllegalStateException("stopping " + c + ": " + ex.getMessage(), ex));
            }
        }
        if (!failures.isEmpty())
        {
            throw failures.get(0);
        }
    }
}
