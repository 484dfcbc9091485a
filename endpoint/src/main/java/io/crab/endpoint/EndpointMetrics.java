package io.crab.endpoint;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.crab.agent.metrics.MetricFamily;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.Counters;
import io.crab.bpf.PinnedMap;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static io.crab.agent.metrics.MetricFamily.counter;

/**
 * crab-endpoint's {@code /metrics}: what its programs counted (client_counters or server_counters, summed over the
 * CPUs), as dropwizard gauges {@code crab.endpoint.client.NAME} or {@code crab.endpoint.server.NAME} after the C
 * enumerators (syn_marked, ...), and those as Prometheus families. The map is opened from its pin at the first
 * scrape, by a handle of the metrics server's thread; each scrape reads it once.
 */
final class EndpointMetrics implements Supplier<MetricRegistry>, AutoCloseable
{
    static final List<MetricFamily> FAMILIES = List.of(
        counter("crab_endpoint_client_syns", "SYNs the client program acted on, by what it did: marked for a " +
            "redirect, left unmarked (table full, odd SYN, local port busy), or dropped for a tuple collision.",
            "crab.endpoint.client.syn_{verdict}"),
        counter("crab_endpoint_client_redirects", "SYN-ACKs with the option, by what the client made of them: " +
            "accepted, or refused, late, forbidden (backend outside --backends-cidr) or a collision.",
            "crab.endpoint.client.redirect_{verdict}"),
        counter("crab_endpoint_client_rewritten_packets", "Packets of redirected connections rewritten, by " +
            "direction.", "crab.endpoint.client.{direction}_rewritten"),
        counter("crab_endpoint_client_flow_resets", "Flows ended by a RST.", "crab.endpoint.client.flow_reset"),
        counter("crab_endpoint_client_icmp_translated", "ICMP errors about redirected flows made to name the VIP.",
            "crab.endpoint.client.icmp_translated"),
        counter("crab_endpoint_client_tuples_handed_over", "Wire tuples of finished redirected flows taken by a " +
            "direct connection.", "crab.endpoint.client.tuple_handed_over"),
        counter("crab_endpoint_server_syns_with_option", "SYNs that came with the LB's option.",
            "crab.endpoint.server.syn_option_seen"),
        counter("crab_endpoint_server_synacks", "SYN-ACKs to redirected SYNs, by whether the option was echoed.",
            "crab.endpoint.server.synack_{verdict}"));

    private final EndpointAgent.Role role;
    private final Path dir;
    private final MetricRegistry registry = new MetricRegistry();
    private PinnedMap map;
    private Counters counters;
    private int[] indexes;
    private long[] values;

    /** Reads the counters pinned in {@code dir} for {@code role}, opening them at the first scrape. */
    EndpointMetrics(final EndpointAgent.Role role, final Path dir)
    {
        this.role = role;
        this.dir = dir;
    }

    @Override
    public MetricRegistry get()
    {
        if (map == null)
        {
            open();
        }
        for (int i = 0; i < indexes.length; i++)
        {
            values[i] = counters.sum(indexes[i]);
        }
        return registry;
    }

    private void open()
    {
        final boolean client = role == EndpointAgent.Role.CLIENT;
        map = Bpf.openPinnedMap(dir.resolve(client ? Abi.Maps.CLIENT_COUNTERS : Abi.Maps.SERVER_COUNTERS).toString());
        counters = new Counters(map);
        final Map<Integer, String> names = Counters.names(client ? "CRAB_CL_" : "CRAB_SV_");
        indexes = names.keySet().stream().mapToInt(Integer::intValue).toArray();
        values = new long[indexes.length];
        int slot = 0;
        for (final String name : names.values())
        {
            final int at = slot++;
            registry.register("crab.endpoint." + (client ? "client." : "server.") + name,
                (Gauge<Long>)() -> values[at]);
        }
    }

    /** Called once the server has stopped, so no scrape is under way. */
    @Override
    public void close()
    {
        if (map != null)
        {
            map.close();
        }
    }
}
