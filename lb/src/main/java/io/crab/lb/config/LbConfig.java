package io.crab.lb.config;

import io.crab.agent.HostPort;
import io.crab.lb.BackendsFile;
import io.crab.lb.Policy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Everything crab-lb balances: its services, in file order. Services are told apart by name, so a configuration
 * names each one once.
 */
public record LbConfig(List<ServiceConfig> services)
{
    public LbConfig
    {
        services = List.copyOf(services);
        final Set<String> names = new HashSet<>();
        for (final ServiceConfig service : services)
        {
            if (!names.add(service.name()))
            {
                throw new IllegalArgumentException("service " + service.name() + " twice");
            }
        }
    }

    /**
     * The {@code --vip ... --backends FILE} shorthand: one service per VIP, every one over the same backends with
     * the same policy and flag, as crab-lb balanced before services existed. The inputs are the ones LbContext has
     * validated; each service is named after its VIP (see {@link #flagServiceName(HostPort)}).
     */
    public static LbConfig fromFlags(final List<HostPort> vips, final List<BackendsFile.Backend> backends,
        final Policy policy, final boolean redirectUnmarked)
    {
        final List<BackendConfig> shared = new ArrayList<>(backends.size());
        for (final BackendsFile.Backend backend : backends)
        {
            shared.add(new BackendConfig(backend.target(), backend.weight(), BackendState.ACTIVE, backend.line()));
        }
        final List<ServiceConfig> services = new ArrayList<>(vips.size());
        for (final HostPort vip : vips)
        {
            services.add(new ServiceConfig(flagServiceName(vip), vip, policy, redirectUnmarked, shared, 0));
        }
        return new LbConfig(services);
    }

    /**
     * The name of the service a {@code --vip} makes: {@code vip-198-19-0-1-80} for 198.19.0.1:80 and
     * {@code vip-198-19-0-1} for every port of 198.19.0.1. A valid service name, so the same service can be
     * written in a services file; dots are left out because names may become parts of dotted metric names.
     */
    public static String flagServiceName(final HostPort vip)
    {
        final String address = vip.address().getHostAddress().replace('.', '-');
        return "vip-" + address + (vip.anyPort() ? "" : "-" + vip.port());
    }
}
