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
 * On an LB node: the cluster's configuration with only the endpoints the node has a route to. crab-lb refuses a
 * whole configuration that names a backend it has no route to, which is right for a services file (a typo) but
 * not for a cluster, where a pod network not routed on this node yet is a state of the cluster: one such endpoint
 * would hold every Service of the cluster at what it was. Such an endpoint is left out of its services instead,
 * logged once while it stays out, and looked at again at the cluster's next change. Any route will do: one out of
 * the uplink gets the redirected SYN sent back out (XDP_TX), one out of another interface (a pod of this node behind
 * its veth, a tunnel) gets it forwarded by the node's stack.
 */
final class RoutedEndpoints
{
    private final Predicate<Inet4Address> routed;
    private final Log log;
    /** Endpoints left out at the last call, with a service that named them. */
    private Map<HostPort, String> leftOut = Map.of();

    RoutedEndpoints(final Predicate<Inet4Address> routed, final Log log)
    {
        this.routed = routed;
        this.log = log;
    }

    /** Routes read from the calling thread's network namespace, the node's. */
    static RoutedEndpoints of(final String iface, final Log log)
    {
        final Neighbours neighbours = new Neighbours(iface);
        return new RoutedEndpoints(neighbours::routed, log);
    }

    /** The configuration without the backends the node has no route to. */
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
                log.warn("left out endpoint " + target + " (service " + service + " and any other): no route to it " +
                    "on this node (its pod network not routed here yet?)", "endpoint", target, "service", service);
            }
        });
        leftOut.forEach((target, service) ->
        {
            if (!out.containsKey(target))
            {
                log.info("endpoint " + target + " no longer left out (routed now, or gone)", "endpoint", target);
            }
        });
        leftOut = out;
        return services.equals(config.services()) ? config : new LbConfig(services);
    }
}
