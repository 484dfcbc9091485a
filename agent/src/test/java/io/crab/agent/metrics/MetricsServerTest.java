package io.crab.agent.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.crab.agent.ConfigException;
import io.prometheus.metrics.expositionformats.generated.Metrics;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A dropwizard registry with flat, dotted names served as labelled Prometheus families over real HTTP on the
 * loopback, read back with the exposition library's own protobuf classes and as text.
 */
class MetricsServerTest
{
    private static final String PROTOBUF = "application/vnd.google.protobuf;" +
        "proto=io.prometheus.client.MetricFamily;encoding=delimited";

    private static final List<MetricFamily> FAMILIES = List.of(
        MetricFamily.counter("test_packets", "Packets by verdict.", "test.packets.{verdict}"),
        MetricFamily.counter("test_syns_redirected", "SYNs per backend.", "test.backend.{backend:ip}.syns"),
        MetricFamily.gauge("test_report_age_seconds", "Age of the last report.", "test.backend.{backend:ip}.age_ms")
            .scaled(0.001).absentWhenNegative(),
        MetricFamily.gauge("test_backend_weight", "Weight in the table.", "test.service.{service}.weight.{backend:ip}"),
        MetricFamily.info("test_service", "The service's VIP and policy.", "test.service.{service}", "vip", "policy"));

    @Test
    void gaugesWithDottedNamesBecomeLabelledFamiliesReadFreshAtEachScrape() throws Exception
    {
        final MetricRegistry registry = new MetricRegistry();
        final AtomicLong redirected = new AtomicLong(3);
        final AtomicInteger refreshes = new AtomicInteger();
        registry.register("test.packets.tx_redirect", (Gauge<Long>)redirected::get);
        registry.register("test.packets.pass_not_syn", (Gauge<Long>)() -> 11L);
        registry.register("test.backend.198.18.0.101:8080.syns", (Gauge<Long>)() -> 2L);
        registry.register("test.backend.198.18.0.102.syns", (Gauge<Long>)() -> 1L);
        registry.register("test.backend.198.18.0.101:8080.age_ms", (Gauge<Long>)() -> 1500L);
        registry.register("test.backend.198.18.0.102.age_ms", (Gauge<Long>)() -> -1L);
        registry.register("test.service.web.weight.198.18.0.101:8080", (Gauge<Integer>)() -> 3);
        registry.register("test.service.web.vip", (Gauge<String>)() -> "198.19.0.1:80");
        registry.register("test.service.web.policy", (Gauge<String>)() -> "rr");
        registry.register("test.unmapped.thing", (Gauge<Long>)() -> 7L);

        try (MetricsServer server = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            "test-metrics", new RegistryCollector(() ->
            {
                refreshes.incrementAndGet();
                return registry;
            }, FAMILIES)))
        {
            final Map<String, Metrics.MetricFamily> first = scrape(server.port());
            assertEquals(1, refreshes.get(), "each scrape refreshes the registry first");
            final Metrics.MetricFamily packets = first.get("test_packets_total");
            assertEquals(Metrics.MetricType.COUNTER, packets.getType());
            assertEquals("Packets by verdict.", packets.getHelp());
            assertEquals(Map.of("verdict=tx_redirect", 3.0, "verdict=pass_not_syn", 11.0), counters(packets));
            assertEquals(Map.of("backend=198.18.0.101:8080", 2.0, "backend=198.18.0.102", 1.0),
                counters(first.get("test_syns_redirected_total")));
            assertEquals(Map.of("backend=198.18.0.101:8080", 1.5), gauges(first.get("test_report_age_seconds")),
                "milliseconds as seconds, and no sample for a backend never reported");
            assertEquals(Map.of("backend=198.18.0.101:8080,service=web", 3.0),
                gauges(first.get("test_backend_weight")));
            final Metrics.MetricFamily service = first.get("test_service_info");
            assertEquals(Metrics.MetricType.GAUGE, service.getType(), "the protobuf form has no info type");
            assertEquals(Map.of("policy=rr,service=web,vip=198.19.0.1:80", 1.0), gauges(service));
            assertFalse(first.keySet().stream().anyMatch(n -> n.contains("unmapped")), first.keySet().toString());

            redirected.set(4);
            assertEquals(Map.of("verdict=tx_redirect", 4.0, "verdict=pass_not_syn", 11.0),
                counters(scrape(server.port()).get("test_packets_total")), "values are read at scrape time");
            assertEquals(2, refreshes.get());

            final String text = text(server.port());
            assertTrue(text.contains("# TYPE test_syns_redirected_total counter\n"), text);
            assertTrue(text.contains("test_syns_redirected_total{backend=\"198.18.0.101:8080\"} 2.0\n"), text);
            assertTrue(text.contains("test_service_info{policy=\"rr\",service=\"web\",vip=\"198.19.0.1:80\"} 1"),
                text);
        }
    }

    @Test
    void aTakenPortFailsTheStartNamingTheOption() throws Exception
    {
        final MetricRegistry registry = new MetricRegistry();
        try (MetricsServer first = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            "test-metrics", new RegistryCollector(() -> registry, FAMILIES)))
        {
            final InetSocketAddress taken = new InetSocketAddress(InetAddress.getLoopbackAddress(), first.port());
            final IllegalStateException ex = assertThrows(IllegalStateException.class, () ->
                MetricsServer.start(taken, "test-metrics", new RegistryCollector(() -> registry, FAMILIES)));
            assertTrue(ex.getMessage().startsWith("--metrics-address 127.0.0.1:" + first.port() + ": "),
                ex.getMessage());
        }
    }

    @Test
    void theAddressIsAnIpLiteralAndAPort()
    {
        assertEquals(null, MetricsServer.parseAddress(null), "no option, no endpoint");
        assertEquals(new InetSocketAddress("198.18.0.2", 9750), MetricsServer.parseAddress("198.18.0.2:9750"));
        assertEquals(new InetSocketAddress("::1", 9750), MetricsServer.parseAddress("[::1]:9750"));
        assertEquals(new InetSocketAddress("0.0.0.0", 1), MetricsServer.parseAddress("0.0.0.0:1"));
        for (final String bad : List.of("198.18.0.2", "198.18.0.2:0", "198.18.0.2:65536", "localhost:9750",
            "999.1.1.1:9750", "::1:9750", "[::1]", "198.18.0.2:97x0", ":9750", "[zz]:9750"))
        {
            final ConfigException ex = assertThrows(ConfigException.class, () -> MetricsServer.parseAddress(bad),
                bad);
            assertTrue(ex.getMessage().startsWith("--metrics-address " + bad + ": "), ex.getMessage());
        }
    }

    private static Map<String, Metrics.MetricFamily> scrape(final int port) throws IOException
    {
        final HttpURLConnection http = (HttpURLConnection)new URL("http://127.0.0.1:" + port + "/metrics")
            .openConnection();
        http.setRequestProperty("Accept", PROTOBUF);
        final Map<String, Metrics.MetricFamily> families = new HashMap<>();
        try (InputStream in = http.getInputStream())
        {
            assertEquals(200, http.getResponseCode());
            assertTrue(http.getContentType().startsWith("application/vnd.google.protobuf"), http.getContentType());
            Metrics.MetricFamily family;
            while ((family = Metrics.MetricFamily.parseDelimitedFrom(in)) != null)
            {
                families.put(family.getName(), family);
            }
        }
        return families;
    }

    private static String text(final int port) throws IOException
    {
        final HttpURLConnection http = (HttpURLConnection)new URL("http://127.0.0.1:" + port + "/metrics")
            .openConnection();
        try (InputStream in = http.getInputStream())
        {
            assertTrue(http.getContentType().startsWith("text/plain; version=0.0.4"), http.getContentType());
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static Map<String, Double> counters(final Metrics.MetricFamily family)
    {
        final Map<String, Double> out = new HashMap<>();
        family.getMetricList().forEach(m -> out.put(labels(m), m.getCounter().getValue()));
        return out;
    }

    private static Map<String, Double> gauges(final Metrics.MetricFamily family)
    {
        final Map<String, Double> out = new HashMap<>();
        family.getMetricList().forEach(m -> out.put(labels(m), m.getGauge().getValue()));
        return out;
    }

    private static String labels(final Metrics.Metric metric)
    {
        final List<String> pairs = new ArrayList<>();
        metric.getLabelList().forEach(l -> pairs.add(l.getName() + "=" + l.getValue()));
        return String.join(",", pairs);
    }
}
