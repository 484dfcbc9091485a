package io.crab.lb;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code crab-lb status --json} read back as JSON: every service, backend and counter of the gauges, typed (numbers,
 * booleans, null for a backend never reported), and the same figures as the text status.
 */
class LbStatusTest
{
    @Test
    void theJsonDocumentHasWhatTheTextStatusHas() throws Exception
    {
        final MetricRegistry registry = new MetricRegistry();
        service(registry, "db", "198.19.0.2:5432", "jsq", 0, 7L, "198.18.0.103", 1);
        service(registry, "web", "198.19.0.1:80", "rr", 10800, 30L, "198.18.0.101", 2, "198.18.0.102:8080", 1);
        access(registry, "web", "198.18.0.0/24,198.18.5.7/32", "drop");
        backend(registry, "198.18.0.101", 20L, 1, 1, 0L, 4L, 6L, 12L);
        backend(registry, "198.18.0.102:8080", 10L, 1, 0, 3L, 0L, 0L, -1L);
        backend(registry, "198.18.0.103", 7L, 0, 1, 0L, 2L, 2L, 250L);
        counter(registry, "crab.lb.packets.tx_redirect", 37L);
        counter(registry, "crab.lb.packets.pass_not_syn", 5L);
        counter(registry, "crab.lb.fallback.new", 3L);
        counter(registry, "crab.lb.feedback.accepted", 90L);
        counter(registry, "crab.lb.feedback.bad_mac", 1L);
        counter(registry, "crab.lb.agent.reloads", 2L);
        counter(registry, "crab.lb.affinity.hit", 19L);
        counter(registry, "crab.lb.affinity.new", 1L);
        registry.register(LbStatus.XDP_MODE, (Gauge<String>)() -> "generic");

        final StringWriter json = new StringWriter();
        LbStatus.printJson(registry, "eth0", new PrintWriter(json));
        final JsonNode status = new ObjectMapper().readTree(json.toString());

        assertEquals("eth0", status.get("iface").asText());
        assertEquals("generic", status.get("xdp_mode").asText());
        assertEquals(List.of("db", "web"), names(status.get("services"), "name"));
        final JsonNode web = status.get("services").get(1);
        assertEquals("198.19.0.1:80", web.get("vip").asText());
        assertEquals("rr", web.get("policy").asText());
        assertEquals(10800, web.get("affinity_timeout_s").asInt());
        assertTrue(status.get("services").get(0).get("affinity_timeout_s").isNull(), "no affinity");
        assertEquals(2, web.get("backends").asInt());
        assertEquals(30, web.get("syns_redirected").asLong());
        assertEquals(2, web.get("weights").get("198.18.0.101").asInt());
        assertEquals(1, web.get("weights").get("198.18.0.102:8080").asInt());
        assertEquals(2, web.get("weights").size());
        assertEquals(List.of("198.18.0.0/24", "198.18.5.7/32"), texts(web.get("allow_from")));
        assertEquals("drop", web.get("no_backend").asText());
        final JsonNode db = status.get("services").get(0);
        assertEquals(List.of(), texts(db.get("allow_from")), "every client: an empty array");
        assertEquals("pass", db.get("no_backend").asText());

        assertEquals(List.of("198.18.0.101", "198.18.0.102:8080", "198.18.0.103"),
            names(status.get("backends"), "backend"));
        final JsonNode reported = status.get("backends").get(0);
        assertTrue(reported.get("up").isBoolean() && reported.get("up").asBoolean());
        assertTrue(reported.get("echoes").asBoolean());
        assertEquals(20, reported.get("syns_redirected").asLong());
        assertEquals(0, reported.get("fallback_connections").asLong());
        assertEquals(4, reported.get("load_reported").asLong());
        assertEquals(6, reported.get("load_estimate").asLong());
        assertEquals(12, reported.get("report_age_ms").asLong());
        final JsonNode silent = status.get("backends").get(1);
        assertTrue(silent.get("load_reported").isNull(), "never reported: " + silent);
        assertTrue(silent.get("report_age_ms").isNull(), silent.toString());
        assertEquals(0, silent.get("load_estimate").asLong());
        assertEquals(false, silent.get("echoes").asBoolean());
        assertEquals(3, silent.get("fallback_connections").asLong());
        assertEquals(false, status.get("backends").get(2).get("up").asBoolean());

        assertEquals(37, status.get("xdp_packets").get("tx_redirect").asLong());
        assertEquals(5, status.get("xdp_packets").get("pass_not_syn").asLong());
        assertEquals(3, status.get("fallback_packets").get("new").asLong());
        assertEquals(90, status.get("load_reports").get("accepted").asLong());
        assertEquals(1, status.get("load_reports").get("bad_mac").asLong());
        assertEquals(2, status.get("agent").get("reloads").asLong());
        assertEquals(19, status.get("affinity").get("hit").asLong());
        assertEquals(1, status.get("affinity").get("new").asLong());
        assertEquals(List.of("iface", "xdp_mode", "services", "backends", "fallback_packets", "load_reports", "agent",
            "xdp_packets", "affinity"), fieldNames(status));

        final StringWriter text = new StringWriter();
        LbStatus.print(registry, "eth0", new PrintWriter(text));
        assertTrue(text.toString().startsWith("crab-lb on eth0, XDP generic\n"), text.toString());
        assertTrue(text.toString().contains(String.format("  %-16s %-22s %-7s %-15s %-9s %-15s %s%n", "web",
            "198.19.0.1:80", "rr", "client-ip 3h", 2, 30, "198.18.0.101=2 198.18.0.102:8080=1") +
            String.format("  %-16s %s%n", "", "allow-from 198.18.0.0/24,198.18.5.7/32; no-backend drop")),
            text.toString());
        assertTrue(text.toString().contains(String.format("  %-16s %-22s %-7s %-15s %-9s %-15s %s%n", "db",
            "198.19.0.2:5432", "jsq", "-", 1, 7, "198.18.0.103=1") +
            String.format("  %-16s %-22s", "web", "198.19.0.1:80")),
            "no line of settings under a service that keeps the defaults: " + text);
        assertTrue(text.toString().contains(String.format("  %-22s %s%n", "hit", 19)), text.toString());
        assertTrue(text.toString().contains(String.format("  %-22s %-6s %-8s %-15s %-20s %-13s %-8s %s%n",
            "198.18.0.102:8080", "up", "no", 10, 3, "-", 0, "never")), text.toString());
        assertTrue(text.toString().contains(String.format("  %-22s %s%n", "tx_redirect", 37)), text.toString());
    }

    private static void service(final MetricRegistry registry, final String name, final String vip,
        final String policy, final int affinitySeconds, final long syns, final Object... weights)
    {
        final String prefix = "crab.service." + name;
        registry.register(prefix + ".vip", (Gauge<String>)() -> vip);
        registry.register(prefix + ".policy", (Gauge<String>)() -> policy);
        registry.register(prefix + ".affinity_s", (Gauge<Integer>)() -> affinitySeconds);
        registry.register(prefix + ".syns", (Gauge<Long>)() -> syns);
        registry.register(prefix + ".backends", (Gauge<Integer>)() -> weights.length / 2);
        registry.register(prefix + ".allow_from", (Gauge<String>)() -> "");
        registry.register(prefix + ".no_backend", (Gauge<String>)() -> "pass");
        for (int i = 0; i < weights.length; i += 2)
        {
            final int weight = (Integer)weights[i + 1];
            registry.register(prefix + ".weight." + weights[i], (Gauge<Integer>)() -> weight);
        }
    }

    /** Replaces the service's allowed prefixes (comma-separated, as the reader makes them) and no-backend action. */
    private static void access(final MetricRegistry registry, final String name, final String allowFrom,
        final String noBackend)
    {
        final String prefix = "crab.service." + name;
        registry.remove(prefix + ".allow_from");
        registry.remove(prefix + ".no_backend");
        registry.register(prefix + ".allow_from", (Gauge<String>)() -> allowFrom);
        registry.register(prefix + ".no_backend", (Gauge<String>)() -> noBackend);
    }

    private static void backend(final MetricRegistry registry, final String name, final long syns, final int up,
        final int compliant, final long fallbacks, final long load, final long estimate, final long ageMs)
    {
        final String prefix = "crab.lb.backend." + name;
        registry.register(prefix + ".syns", (Gauge<Long>)() -> syns);
        registry.register(prefix + ".up", (Gauge<Integer>)() -> up);
        registry.register(prefix + ".compliant", (Gauge<Integer>)() -> compliant);
        registry.register(prefix + ".fallbacks", (Gauge<Long>)() -> fallbacks);
        registry.register(prefix + ".load", (Gauge<Long>)() -> load);
        registry.register(prefix + ".estimate", (Gauge<Long>)() -> estimate);
        registry.register(prefix + ".report_age_ms", (Gauge<Long>)() -> ageMs);
    }

    private static void counter(final MetricRegistry registry, final String name, final long n)
    {
        registry.register(name, (Gauge<Long>)() -> n);
    }

    private static List<String> names(final JsonNode array, final String field)
    {
        final List<String> names = new ArrayList<>();
        array.forEach(node -> names.add(node.get(field).asText()));
        return names;
    }

    private static List<String> texts(final JsonNode array)
    {
        final List<String> texts = new ArrayList<>();
        array.forEach(node -> texts.add(node.asText()));
        return texts;
    }

    private static List<String> fieldNames(final JsonNode object)
    {
        final List<String> names = new ArrayList<>();
        object.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
