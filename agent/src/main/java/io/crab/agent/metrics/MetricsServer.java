package io.crab.agent.metrics;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.prometheus.metrics.config.PrometheusProperties;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A daemon's Prometheus endpoint ({@code --metrics-address HOST:PORT}): {@code GET /metrics} in the text
 * exposition format, or OpenMetrics or protobuf when the scraper asks for them, served by the Prometheus client
 * library's HTTP server on one thread of its own. Scrapes run one after the other on that thread, so a collector
 * reading pinned maps through its own handles needs no lock, and no scrape ever waits on or holds up an agent.
 */
public final class MetricsServer implements AutoCloseable
{
    /** An IPv4 literal or a bracketed IPv6 literal, then a port: nothing is ever looked up by name. */
    private static final Pattern ADDRESS = Pattern.compile("(\\d{1,3}(?:\\.\\d{1,3}){3}|\\[[0-9a-fA-F:.]+])" +
        ":(\\d{1,5})");

    private static final long STOP_TIMEOUT_SECONDS = 5;

    private final HTTPServer server;
    private final ExecutorService thread;

    private MetricsServer(final HTTPServer server, final ExecutorService thread)
    {
        this.server = server;
        this.thread = thread;
    }

    /**
     * Parses {@code --metrics-address}: {@code A.B.C.D:PORT} or {@code [IPv6]:PORT}, port 1..65535; null when the
     * option is not given (no endpoint).
     */
    public static InetSocketAddress parseAddress(final String text)
    {
        if (text == null)
        {
            return null;
        }
        final var m = ADDRESS.matcher(text.trim());
        final int port = m.matches() ? Integer.parseInt(m.group(2)) : 0;
        if (port < 1 || port > 65535)
        {
            throw new ConfigException("--metrics-address " + text + ": expected IP:PORT with a port of 1..65535, " +
                "e.g. 127.0.0.1:9750 or [::1]:9750");
        }
        final String host = m.group(1);
        try
        {
            // An IPv6 literal (it has colons) is only parsed by getByName, never looked up.
            return new InetSocketAddress(host.startsWith("[") ?
                InetAddress.getByName(host.substring(1, host.length() - 1)) : HostPort.parseIpv4(host, text), port);
        }
        catch (final UnknownHostException | IllegalArgumentException ex)
        {
            throw new ConfigException("--metrics-address " + text + ": not an IP address");
        }
    }

    /**
     * Binds {@code address} in the calling thread's network namespace and serves {@code collector}'s metrics from
     * a daemon thread named {@code threadName}. A port already taken fails here, naming the option.
     */
    public static MetricsServer start(final InetSocketAddress address, final String threadName,
        final MultiCollector collector)
    {
        final PrometheusRegistry registry = new PrometheusRegistry();
        registry.register(collector);
        final ExecutorService thread = Executors.newSingleThreadExecutor(runnable ->
        {
            final Thread t = new Thread(runnable, threadName);
            t.setDaemon(true);
            return t;
        });
        try
        {
            // Properties of our own, not PrometheusProperties.get(): the environment and a prometheus.properties
            // on the class path could otherwise change the port or the exposition behind the command line's back.
            return new MetricsServer(HTTPServer.builder(PrometheusProperties.builder().build())
                .inetAddress(address.getAddress()).port(address.getPort()).registry(registry)
                .executorService(thread).buildAndStart(), thread);
        }
        catch (final IOException ex)
        {
            thread.shutdownNow();
            throw new IllegalStateException("--metrics-address " + text(address) + ": " + ex.getMessage(), ex);
        }
    }

    /** The port it listens on (the one asked for, or the kernel's pick for port 0). */
    public int port()
    {
        return server.getPort();
    }

    /**
     * Stops serving: the socket closes, and a scrape under way is given up to {@link #STOP_TIMEOUT_SECONDS} to
     * finish, so the collector's map handles can be closed after it. Never throws: the daemon's own shutdown goes on.
     */
    @Override
    public void close()
    {
        server.close();
        thread.shutdown();
        try
        {
            thread.awaitTermination(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** {@code IP:PORT} as {@code --metrics-address} takes it, IPv6 in brackets. */
    public static String text(final InetSocketAddress address)
    {
        final String host = address.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
