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

/** An LB node's configuration without the endpoints its uplink does not reach, each logged once while out. */
class UplinkEndpointsTest
{
    private final StringWriter logged = new StringWriter();
    private final Log log = new Log("crab-k8s", Log.Format.TEXT, false, new PrintWriter(logged, true),
        SystemEpochClock.INSTANCE);
    /** The pod network of the LB node itself, behind its veths; the rest is routed out of eth0. */
    private final Set<String> unrouted = new HashSet<>(Set.of("10.244.0.5"));
    private final UplinkEndpoints uplink = new UplinkEndpoints(a -> !unrouted.contains(a.getHostAddress()), "eth0",
        log);

    @Test
    void aConfigurationWhoseEndpointsAreAllRoutedIsKeptAsItIs()
    {
        final LbConfig config = config(service("vip-10-96-0-10-80", "10.96.0.10:80", "10.244.1.5:8080"));
        assertSame(config, uplink.keepRouted(config));
        assertEquals("", logged.toString());
    }

    @Test
    void anEndpointNotRoutedOutOfTheUplinkIsLeftOutOfEveryServiceAndLoggedOnceWhileOut()
    {
        final LbConfig config = config(
            service("vip-10-96-0-10-80", "10.96.0.10:80", "10.244.0.5:8080", "10.244.1.5:8080"),
            service("vip-192-168-1-10-30080", "192.168.1.10:30080", "10.244.0.5:8080"));
        final LbConfig kept = uplink.keepRouted(config);
        assertEquals(config(service("vip-10-96-0-10-80", "10.96.0.10:80", "10.244.1.5:8080"),
            service("vip-192-168-1-10-30080", "192.168.1.10:30080")), kept);
        assertEquals(List.of("WARN crab-k8s: left out endpoint 10.244.0.5:8080 (service vip-10-96-0-10-80 and any " +
            "other): not routed out of eth0, where crab-lb sends redirected SYNs (a pod of this node, or one behind " +
            "a tunnel)"), lines());

        assertEquals(kept, uplink.keepRouted(config));
        assertEquals(1, lines().size(), "not logged again while it stays out");

        unrouted.clear();
        assertEquals(config, uplink.keepRouted(config));
        assertEquals("INFO crab-k8s: endpoint 10.244.0.5:8080 no longer left out (routed out of eth0 now, or gone)",
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
