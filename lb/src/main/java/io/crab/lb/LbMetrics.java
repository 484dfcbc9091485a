package io.crab.lb;

import com.codahale.metrics.MetricRegistry;
import io.crab.agent.metrics.MetricFamily;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;

import static io.crab.agent.metrics.MetricFamily.counter;
import static io.crab.agent.metrics.MetricFamily.gauge;
import static io.crab.agent.metrics.MetricFamily.info;

/**
 * crab-lb's {@code /metrics}: {@link LbStateReader}'s gauges as Prometheus families, read afresh for each scrape.
 * Verdicts that partition what a program saw are one family with a {@code verdict} label; events that do not add
 * up (reloads, changes, publications) are a family each.
 * <p>
 * The data path counts SYNs per backend, not per service, so the SYN and fallback counters are labelled with the
 * backend only; {@code crab_lb_service_backend_weight} says which services have a backend in their current table.
 * The status's per-service SYN sum (over the backends now in the table) is left out: it goes down when a backend
 * leaves the table and counts a shared backend in every service, which a counter must not.
 */
final class LbMetrics implements Supplier<MetricRegistry>, AutoCloseable
{
    static final List<MetricFamily> FAMILIES = List.of(
        counter("crab_lb_xdp_packets", "Packets the XDP program saw, by verdict (tx_redirect: a SYN redirected " +
            "to a backend).", "crab.lb.packets.{verdict}"),
        counter("crab_lb_affinity_connections", "New redirected connections to services with ClientIP affinity: " +
            "hit, to the backend the client was given before; new, balanced by the policy and remembered.",
            "crab.lb.affinity.{result}"),
        counter("crab_lb_fallback_packets", "Packets of clients without crab that the TC fallback program " +
            "handled, by what it did.", "crab.lb.fallback.{verdict}"),
        counter("crab_lb_feedback_loads_set", "Backend loads set from accepted load reports.",
            "crab.lb.feedback.loads_set"),
        counter("crab_lb_feedback_stale_rebased", "Backend loads rebased because their reports stopped.",
            "crab.lb.feedback.stale_rebased"),
        counter("crab_lb_load_reports", "Load reports from the servers, by what the feedback receiver made of " +
            "them (accepted, or why not).", "crab.lb.feedback.{verdict}"),
        counter("crab_lb_reloads", "Configurations applied after start.", "crab.lb.agent.reloads"),
        counter("crab_lb_reloads_refused", "Configurations refused by validation; nothing changed.",
            "crab.lb.agent.reloads_refused"),
        counter("crab_lb_config_changes", "Changes applied by reloads, one per log line.", "crab.lb.agent.changes"),
        counter("crab_lb_table_publications", "Slot tables published (reloads, health and neighbour changes).",
            "crab.lb.agent.publications"),
        counter("crab_lb_syns_redirected", "SYNs redirected to the backend, over all services.",
            "crab.lb.backend.{backend:ip}.syns"),
        counter("crab_lb_fallback_connections", "Connections of clients without crab placed on the backend by " +
            "the hashing fallback.", "crab.lb.backend.{backend:ip}.fallbacks"),
        gauge("crab_lb_backend_up", "1 while the backend takes new redirected connections (active, healthy, its " +
            "next hop resolved, echoing the option), else 0.", "crab.lb.backend.{backend:ip}.up"),
        gauge("crab_lb_backend_echoes", "1 while the backend echoes the option to the health probes, else 0.",
            "crab.lb.backend.{backend:ip}.compliant"),
        gauge("crab_lb_backend_load_reported", "The load the backend's server last reported (0 before any " +
            "report).", "crab.lb.backend.{backend:ip}.load"),
        gauge("crab_lb_backend_load_estimate", "The load jsq and p2c go by: the last report plus the " +
            "connections given since.", "crab.lb.backend.{backend:ip}.estimate"),
        gauge("crab_lb_backend_report_age_seconds", "Time since the backend's last load report was applied; " +
            "absent until one was.", "crab.lb.backend.{backend:ip}.report_age_ms").scaled(0.001)
            .absentWhenNegative(),
        info("crab_lb_service", "The service's VIP and policy.", "crab.service.{service}", "vip", "policy"),
        gauge("crab_lb_service_affinity_timeout_seconds", "ClientIP affinity's timeout: a client keeps its " +
            "backend until it opened no connection for this long; 0 without affinity.",
            "crab.service.{service}.affinity_s"),
        gauge("crab_lb_service_backends", "Backends in the service's current table.",
            "crab.service.{service}.backends"),
        gauge("crab_lb_service_backend_weight", "The backend's weight in the service's current table; absent " +
            "when it is not in the table (down, draining, not echoing).", "crab.service.{service}.weight.{backend:ip}"));

    private final Path dir;
    private LbStateReader reader;

    /** Reads the maps pinned in {@code dir}, opening them at the first scrape (they exist once the agent started). */
    LbMetrics(final Path dir)
    {
        this.dir = dir;
    }

    /** The gauges, read now; on the metrics server's thread, one scrape at a time. */
    @Override
    public MetricRegistry get()
    {
        if (reader == null)
        {
            reader = LbStateReader.open(dir);
        }
        reader.read();
        return reader.registry();
    }

    /** Called once the server has stopped, so no scrape is under way. */
    @Override
    public void close()
    {
        if (reader != null)
        {
            reader.close();
        }
    }
}
