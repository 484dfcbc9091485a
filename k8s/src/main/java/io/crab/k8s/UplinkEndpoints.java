package io.crab.k8s;

import io.crab.agent.HostPort;
import io.crab.agent.Log;
import io.crab.lb.Neighbours;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.ServiceConfig;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * On an LB node: the cluster's configuration with only the endpoints crab-lb can send a redirected SYN to, those
 * routed out of its uplink. crab-lb refuses a whole configuration that names a backend it cannot reach, which is
 * right for a services file (a typo) but not for a cluster, where a pod of the LB node itself (reached through its
 * veth) or one behind a tunnel device is an endpoint like any other: one such pod would hold every Service of the
 * cluster at what it was. Such an endpoint is left out of its services instead, logged once while it stays out,
 * and looked at again at the cluster's next change.
 */
final class UplinkEndpoints
{
    private final Predicate<Inet4Address> routed;
    private final String iface;
    private final Log log;
    /** Endpoints left out at the last call, with a service that named them. */
    private Map<HostPort, String> leftOut = Map.of();

    UplinkEndpoints(final Predicate<Inet4Address> routed, final String iface, final Log log)
    {
        this.routed = routed;
        this.iface = iface;
        this.log = log;
    }

    /** Routes read from the calling thread's network namespace, the node's. */
    static UplinkEndpoints of(final String iface, final Log log)
    {
        final Neighbours neighbours = new Neighbours(iface);
        return new UplinkEndpoints(neighbours::routed, iface, log);
    }

    /** The configuration without the backends that are not routed out of the uplink. */
    LbConfig keepRouted(final LbConfig config)
    {
        final Map<HostPort, String> out = new LinkedHashMap<>();
        // Each look-up reads the route table: once per address, however many services name it.
        final Map<Inet4Address, Boolean> reachable = new HashMap<>();
        final List<ServiceConfig> services = new ArrayList<>(config.services().size());
        for (final ServiceConfig service : config.services())
        {
            final List<BackendConfig> kept = new ArrayList<>(service.backends().size());
            for (final BackendConfig backend : service.backends())
            {
                if (reachable.computeIfAbsent(backend.target().address(), routed::test))
                {
                    kept.add(backend);
                }
                else
                {
                    out.putIfAbsent(backend.target(), service.name());
                }
            }
            services.add(kept.size() == service.backends().size() ? service : service.withBackends(kept));
        }
        out.forEach((target, service) ->
        {
            if (!leftOut.containsKey(target))
            {
                log.warn("left out endpoint " + target + " (service " + service + " and any other): not routed out " +
                    "of " + iface + ", where crab-lb sends redirected SYNs (a pod of this node, or one behind a " +
                    "tunnel)", "endpoint", target, "service", service);
            }
        });
        leftOut.forEach((target, service) ->
        {
            if (!out.containsKey(target))
            {
                log.info("endpoint " + target + " no longer left out (routed out of " + iface + " now, or gone)",
                    "endpoint", target);
            }
        });
        leftOut = out;
        return services.equals(config.services()) ? config : new LbConfig(services);
    }
}
