package io.crab.k8s;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.crab.agent.Log;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * The {@code healthCheckNodePort}s of this node, served as kube-proxy serves them, so that a cloud load balancer in
 * front of a Service with externalTrafficPolicy Local sends traffic only to nodes with endpoints of it: one small
 * HTTP server per port on the health check address, answering every request (any path; load balancers ask
 * {@code /healthz}) with 200 while the node has ready endpoints of the Service and crab-k8s is watching the
 * cluster, else 503, and kube-proxy's JSON body: the Service, {@code localEndpoints} and
 * {@code serviceProxyHealthy}. Ports are opened and closed as the Services change ({@link #update}, from the
 * controller's duty cycle); the servers' own threads only read.
 */
public final class HealthCheckServers implements AutoCloseable
{
    private final InetAddress address;
    private final BooleanSupplier proxyHealthy;
    private final Log log;
    private final Map<Integer, Port> ports = new HashMap<>();
    /** Ports that could not be opened and were logged, so each failure is logged once until it opens. */
    private final Set<Integer> failed = new HashSet<>();

    public HealthCheckServers(final InetAddress address, final BooleanSupplier proxyHealthy, final Log log)
    {
        this.address = address;
        this.proxyHealthy = proxyHealthy;
        this.log = log;
    }

    /** Opens the ports new in {@code checks}, closes those gone, and sets each one's count of local endpoints. */
    public void update(final List<DesiredServices.HealthCheck> checks)
    {
        final Map<Integer, DesiredServices.HealthCheck> wanted = new HashMap<>();
        for (final DesiredServices.HealthCheck check : checks)
        {
            wanted.putIfAbsent(check.port(), check);
        }
        for (final Iterator<Port> it = ports.values().iterator(); it.hasNext(); )
        {
            final Port port = it.next();
            final DesiredServices.HealthCheck check = wanted.get(port.port);
            if (check == null || !check.namespace().equals(port.namespace) || !check.name().equals(port.name))
            {
                port.server.stop(0);
                it.remove();
                log.info("health check port " + port.port + " of " + port.namespace + "/" + port.name + " closed",
                    "port", port.port);
            }
        }
        failed.retainAll(wanted.keySet());
        for (final DesiredServices.HealthCheck check : wanted.values())
        {
            Port port = ports.get(check.port());
            if (port == null)
            {
                port = open(check);
                if (port == null)
                {
                    continue;
                }
                ports.put(check.port(), port);
            }
            port.localEndpoints = check.localEndpoints();
        }
    }

    private Port open(final DesiredServices.HealthCheck check)
    {
        final Port port = new Port(check.namespace(), check.name(), check.port());
        try
        {
            port.server = HttpServer.create(new InetSocketAddress(address, check.port()), 0);
        }
        catch (final IOException ex)
        {
            if (failed.add(check.port()))
            {
                log.warn("health check port " + check.port() + " of " + check.namespace() + "/" + check.name() +
                    ": cannot listen on " + address.getHostAddress() + ":" + check.port() + ": " + ex.getMessage() +
                    "; tried again at the next change", "port", check.port());
            }
            return null;
        }
        failed.remove(check.port());
        port.server.createContext("/", port::answer);
        port.server.start();
        log.info("health check port " + check.port() + " of " + check.namespace() + "/" + check.name() + " on " +
            address.getHostAddress(), "port", check.port());
        return port;
    }

    /** The ports open now. */
    public Set<Integer> openPorts()
    {
        return Set.copyOf(ports.keySet());
    }

    @Override
    public void close()
    {
        ports.values().forEach(p -> p.server.stop(0));
        ports.clear();
    }

    /** One Service's port. */
    private final class Port
    {
        final String namespace;
        final String name;
        final int port;
        HttpServer server;
        volatile int localEndpoints;

        Port(final String namespace, final String name, final int port)
        {
            this.namespace = namespace;
            this.name = name;
            this.port = port;
        }

        void answer(final HttpExchange exchange) throws IOException
        {
            final int count = localEndpoints;
            final boolean healthy = proxyHealthy.getAsBoolean();
            // Names are DNS labels, checked by the API server: nothing in them needs escaping.
            final byte[] body = ("{\n\t\"service\": {\n\t\t\"namespace\": \"" + namespace + "\",\n\t\t\"name\": \"" +
                name + "\"\n\t},\n\t\"localEndpoints\": " + count + ",\n\t\"serviceProxyHealthy\": " + healthy + "\n}")
                .getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
            final boolean head = "HEAD".equals(exchange.getRequestMethod());
            exchange.sendResponseHeaders(count > 0 && healthy ? 200 : 503, head ? -1 : body.length);
            try (OutputStream out = exchange.getResponseBody())
            {
                if (!head)
                {
                    out.write(body);
                }
            }
        }
    }
}
