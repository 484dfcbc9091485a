package io.crab.k8s;

import io.crab.agent.HostPort;
import io.crab.agent.Log;
import io.crab.lb.Policy;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.BackendState;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.ServiceConfig;
import org.agrona.concurrent.SystemEpochClock;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/** An LB node's configuration without the endpoints it has no route to, each logged once while out. */
class RoutedEndpointsTest
{
    private final StringWriter logged = new StringWriter();
    private final Log log = new Log("crab-k8s", Log.Format.TEXT, false, new PrintWriter(logged, true),
        SystemEpochClock.INSTANCE);
    /** A pod of a network the node has no route to (yet); the rest is routed, out of any interface. */
    private final Set<String> unrouted = new HashSet<>(Set.of("10.244.0.5"));
    private final RoutedEndpoints routed = new RoutedEndpoints(a -> !unrouted.contains(a.getHostAddress()), log);

    @Test
    void aConfigurationWhoseEndpointsAreAllRoutedIsKeptAsItIs()
    {
        final LbConfig config = config(service("vip-10-96-0-10-80", "10.96.0.10:80", "10.244.1.5:8080"));
        assertSame(config, routed.keepRouted(config));
        assertEquals("", logged.toString());
    }

    @Test
    void anEndpointWithNoRouteIsLeftOutOfEveryServiceAndLoggedOnceWhileOut()
    {
        final LbConfig config = config(
            service("vip-10-96-0-10-80", "10.96.0.10:80", "10.244.0.5:8080", "10.244.1.5:8080"),
            service("vip-192-168-1-10-30080", "192.168.1.10:30080", "10.244.0.5:8080"));
        final LbConfig kept = routed.keepRouted(config);
        assertEquals(config(service("vip-10-96-0-10-80", "10.96.0.10:80", "10.244.1.5:8080"),
            service("vip-192-168-1-10-30080", "192.168.1.10:30080")), kept);
        assertEquals(List.of("WARN crab-k8s: left out endpoint 10.244.0.5:8080 (service vip-10-96-0-10-80 and any " +
            "other): no route to it on this node (its pod network not routed here yet?)"), lines());

        assertEquals(kept, routed.keepRouted(config));
        assertEquals(1, lines().size(), "not logged again while it stays out");

        unrouted.clear();
        assertEquals(config, routed.keepRouted(config));
        assertEquals("INFO crab-k8s: endpoint 10.244.0.5:8080 no longer left out (routed now, or gone)",
            lines().get(1));
    }

    private List<String> lines()
    {
        // Each line starts with its time: what follows it is compared.
        return logged.toString().lines().map(l -> l.substring(l.indexOf(' ') + 1)).toList();
    }

    private static LbConfig config(final ServiceConfig... services)
    {
        return new LbConfig(Arrays.asList(services));
    }

    private static ServiceConfig service(final String name, final String vip, final String... backends)
    {
        return new ServiceConfig(name, HostPort.parse(vip), Policy.RR, false, Arrays.stream(backends)
            .map(b -> new BackendConfig(HostPort.parse(b), 1, BackendState.ACTIVE, 0)).toList(), 0);
    }
}
