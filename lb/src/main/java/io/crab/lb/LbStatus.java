package io.crab.lb;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.crab.lb.config.ServiceConfig;
import io.crab.lb.xdp.XdpAttachment;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;

/**
 * {@code crab-lb status}: the services and counters of crab-lb on an interface, read from the maps it pinned
 * ({@link LbStateReader}'s gauges), and the mode its XDP program runs in ({@link #XDP_MODE}, from the kernel),
 * printed as tables or as one JSON document with the same content.
 */
public final class LbStatus
{
    /** The mode the XDP program runs in: native, generic, or none when it is on no XDP hook of the interface. */
    public static final String XDP_MODE = "crab.lb.xdp.mode";

    /**
     * A service and the backends of its current table, with their weights; affinitySeconds 0: no affinity; the client
     * prefixes it admits (empty: every client) and what becomes of a connection it has no backend for ({@code pass}
     * or {@code drop}).
     */
    record Service(String name, String vip, String policy, int affinitySeconds, int backends, long synsRedirected,
        Map<String, Integer> weights, List<String> allowFrom, String noBackend)
    {
    }

    /** A backend; the reported load and the report's age are null when no report ever came. */
    record Backend(String backend, boolean up, boolean echoes, long synsRedirected, long fallbackConnections,
        Long loadReported, long loadEstimate, Long reportAgeMs)
    {
    }

    /**
     * What status shows: the XDP mode (null when the registry has none), the services, the backends and the five
     * groups of counters, by name.
     */
    record View(String xdpMode, List<Service> services, List<Backend> backends, Map<String, Long> fallbackPackets,
        Map<String, Long> loadReports, Map<String, Long> agent, Map<String, Long> xdpPackets,
        Map<String, Long> affinity)
    {
    }

    private LbStatus()
    {
    }

    /**
     * The gauges of the crab-lb on {@code iface} in the calling thread's namespace, read once, and {@link #XDP_MODE}
     * (the metrics endpoint leaves the mode out: it would ask the kernel at every scrape).
     */
    public static MetricRegistry read(final String iface)
    {
        final Path dir = LbAgent.pinDir(iface);
        try (LbStateReader reader = LbStateReader.open(dir))
        {
            reader.read();
            final String xdpMode = XdpAttachment.describe(dir, iface);
            reader.registry().register(XDP_MODE, (Gauge<String>)() -> xdpMode);
            return reader.registry();
        }
    }

    /** The registry's gauges sorted into services, backends and counter groups. */
    static View view(final MetricRegistry registry)
    {
        final SortedMap<String, Gauge> gauges = registry.getGauges();
        final List<Service> services = new ArrayList<>();
        gauges.forEach((name, gauge) ->
        {
            if (name.startsWith("crab.service.") && name.endsWith(".policy"))
            {
                final String service = name.substring("crab.service.".length(), name.length() - ".policy".length());
                final String prefix = "crab.service." + service;
                final Map<String, Integer> weights = new LinkedHashMap<>();
                gauges.subMap(prefix + ".weight.", prefix + ".weight/").forEach((weight, value) ->
                    weights.put(weight.substring((prefix + ".weight.").length()), (Integer)value.getValue()));
                final String allowFrom = (String)gauges.get(prefix + ".allow_from").getValue();
                services.add(new Service(service, (String)gauges.get(prefix + ".vip").getValue(),
                    (String)gauge.getValue(), (Integer)gauges.get(prefix + ".affinity_s").getValue(),
                    (Integer)gauges.get(prefix + ".backends").getValue(),
                    (Long)gauges.get(prefix + ".syns").getValue(), weights,
                    allowFrom.isEmpty() ? List.of() : List.of(allowFrom.split(",")),
                    (String)gauges.get(prefix + ".no_backend").getValue()));
            }
        });
        final List<Backend> backends = new ArrayList<>();
        gauges.forEach((name, gauge) ->
        {
            if (name.startsWith("crab.lb.backend.") && name.endsWith(".syns"))
            {
                final String prefix = name.substring(0, name.length() - ".syns".length());
                final long ageMs = (Long)gauges.get(prefix + ".report_age_ms").getValue();
                backends.add(new Backend(prefix.substring("crab.lb.backend.".length()),
                    Integer.valueOf(1).equals(gauges.get(prefix + ".up").getValue()),
                    Integer.valueOf(1).equals(gauges.get(prefix + ".compliant").getValue()),
                    (Long)gauge.getValue(), (Long)gauges.get(prefix + ".fallbacks").getValue(),
                    ageMs < 0 ? null : (Long)gauges.get(prefix + ".load").getValue(),
                    (Long)gauges.get(prefix + ".estimate").getValue(), ageMs < 0 ? null : ageMs));
            }
        });
        final Gauge<?> xdpMode = gauges.get(XDP_MODE);
        return new View(xdpMode == null ? null : (String)xdpMode.getValue(), services, backends,
            group(gauges, "crab.lb.fallback."), group(gauges, "crab.lb.feedback."), group(gauges, "crab.lb.agent."),
            group(gauges, "crab.lb.packets."), group(gauges, "crab.lb.affinity."));
    }

    private static Map<String, Long> group(final SortedMap<String, Gauge> gauges, final String prefix)
    {
        final Map<String, Long> counts = new LinkedHashMap<>();
        gauges.subMap(prefix, prefix.substring(0, prefix.length() - 1) + "/").forEach((name, gauge) ->
            counts.put(name.substring(prefix.length()), (Long)gauge.getValue()));
        return counts;
    }

    public static void print(final MetricRegistry registry, final String iface, final PrintWriter out)
    {
        final View view = view(registry);
        out.printf("crab-lb on %s%s%n%nServices%n  %-16s %-22s %-7s %-15s %-9s %-15s %s%n", iface,
            view.xdpMode() == null ? "" : ", XDP " + view.xdpMode(), "service", "vip", "policy", "affinity",
            "backends", "syns redirected", "weights in the current table");
        for (final Service s : view.services())
        {
            final List<String> weights = new ArrayList<>();
            s.weights().forEach((backend, weight) -> weights.add(backend + "=" + weight));
            out.printf("  %-16s %-22s %-7s %-15s %-9s %-15s %s%n", s.name(), s.vip(), s.policy(),
                s.affinitySeconds() == 0 ? "-" : "client-ip " + ServiceConfig.seconds(s.affinitySeconds()),
                s.backends(), s.synsRedirected(), String.join(" ", weights));
            // Only what differs from the defaults, on a line of its own under the service.
            final List<String> access = new ArrayList<>();
            if (!s.allowFrom().isEmpty())
            {
                access.add("allow-from " + String.join(",", s.allowFrom()));
            }
            if (!"pass".equals(s.noBackend()))
            {
                access.add("no-backend " + s.noBackend());
            }
            if (!access.isEmpty())
            {
                out.printf("  %-16s %s%n", "", String.join("; ", access));
            }
        }
        out.printf("%nBackends%n  %-22s %-6s %-8s %-15s %-20s %-13s %-8s %s%n", "backend", "state", "echoes",
            "syns redirected", "fallback connections", "load reported", "estimate", "report age");
        for (final Backend b : view.backends())
        {
            out.printf("  %-22s %-6s %-8s %-15s %-20s %-13s %-8s %s%n", b.backend(), b.up() ? "up" : "down",
                b.echoes() ? "yes" : "no", b.synsRedirected(), b.fallbackConnections(),
                b.loadReported() == null ? "-" : b.loadReported(), b.loadEstimate(),
                b.reportAgeMs() == null ? "never" : b.reportAgeMs() + " ms");
        }
        printGroup(out, "Fallback (clients without crab), packets by what the TC program did", view.fallbackPackets());
        printGroup(out, "Load reports from the servers, by what the feedback receiver made of them",
            view.loadReports());
        printGroup(out, "crab-lb's agent", view.agent());
        printGroup(out, "Packets seen by the XDP program, by verdict", view.xdpPackets());
        printGroup(out, "New connections to services with ClientIP affinity (hit: to the client's backend)",
            view.affinity());
        out.flush();
    }

    private static void printGroup(final PrintWriter out, final String title, final Map<String, Long> counts)
    {
        out.printf("%n%s%n", title);
        counts.forEach((name, n) -> out.printf("  %-22s %s%n", name, n));
    }

    /**
     * The same as {@link #print}, as one JSON document for scripts: {@code iface}, {@code xdp_mode} (native,
     * generic, none, or null when unknown), {@code services} (each with {@code allow_from}, an array of prefixes,
     * empty for every client, and {@code no_backend}; {@code affinity_timeout_s} is null without affinity) and
     * {@code backends} (arrays of objects), and the counter groups {@code fallback_packets}, {@code load_reports},
     * {@code agent}, {@code xdp_packets} and {@code affinity} (objects of counts by name).
     */
    public static void printJson(final MetricRegistry registry, final String iface, final PrintWriter out)
    {
        final View view = view(registry);
        try (JsonGenerator json = new JsonFactory().createGenerator(out)
            .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET).useDefaultPrettyPrinter())
        {
            json.writeStartObject();
            json.writeStringField("iface", iface);
            if (view.xdpMode() == null)
            {
                json.writeNullField("xdp_mode");
            }
            else
            {
                json.writeStringField("xdp_mode", view.xdpMode());
            }
            json.writeArrayFieldStart("services");
            for (final Service s : view.services())
            {
                json.writeStartObject();
                json.writeStringField("name", s.name());
                json.writeStringField("vip", s.vip());
                json.writeStringField("policy", s.policy());
                writeNullableNumber(json, "affinity_timeout_s", s.affinitySeconds() == 0 ? null :
                    (long)s.affinitySeconds());
                json.writeNumberField("backends", s.backends());
                json.writeNumberField("syns_redirected", s.synsRedirected());
                json.writeObjectFieldStart("weights");
                for (final Map.Entry<String, Integer> weight : s.weights().entrySet())
                {
                    json.writeNumberField(weight.getKey(), weight.getValue());
                }
                json.writeEndObject();
                json.writeArrayFieldStart("allow_from");
                for (final String prefix : s.allowFrom())
                {
                    json.writeString(prefix);
                }
                json.writeEndArray();
                json.writeStringField("no_backend", s.noBackend());
                json.writeEndObject();
            }
            json.writeEndArray();
            json.writeArrayFieldStart("backends");
            for (final Backend b : view.backends())
            {
                json.writeStartObject();
                json.writeStringField("backend", b.backend());
                json.writeBooleanField("up", b.up());
                json.writeBooleanField("echoes", b.echoes());
                json.writeNumberField("syns_redirected", b.synsRedirected());
                json.writeNumberField("fallback_connections", b.fallbackConnections());
                writeNullableNumber(json, "load_reported", b.loadReported());
                json.writeNumberField("load_estimate", b.loadEstimate());
                writeNullableNumber(json, "report_age_ms", b.reportAgeMs());
                json.writeEndObject();
            }
            json.writeEndArray();
            writeGroup(json, "fallback_packets", view.fallbackPackets());
            writeGroup(json, "load_reports", view.loadReports());
            writeGroup(json, "agent", view.agent());
            writeGroup(json, "xdp_packets", view.xdpPackets());
            writeGroup(json, "affinity", view.affinity());
            json.writeEndObject();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        out.println();
        out.flush();
    }

    private static void writeNullableNumber(final JsonGenerator json, final String field, final Long value)
        throws IOException
    {
        if (value == null)
        {
            json.writeNullField(field);
        }
        else
        {
            json.writeNumberField(field, value);
        }
    }

    private static void writeGroup(final JsonGenerator json, final String field, final Map<String, Long> counts)
        throws IOException
    {
        json.writeObjectFieldStart(field);
        for (final Map.Entry<String, Long> count : counts.entrySet())
        {
            json.writeNumberField(count.getKey(), count.getValue());
        }
        json.writeEndObject();
    }
}
