package io.crab.lb.config;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.bpf.Abi;

import java.net.Inet4Address;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What the data path can hold, which a configuration must fit; the caller passes its map sizes.
 *
 * @param maxServices           services in all (one VIP each).
 * @param maxBackendsPerService backends one service lists, draining ones included.
 * @param maxDistinctBackends   distinct targets (IP[:PORT]) over all services, draining ones included.
 * @param maxSlotsPerService    the sum of the weights of one service's active backends.
 * <p>
 * The allowed client prefixes of all services together must fit the data path's fixed
 * {@link Abi.Consts#CRAB_MAX_SOURCE_RANGES}.
 */
public record ConfigLimits(int maxServices, int maxBackendsPerService, int maxDistinctBackends, int maxSlotsPerService)
{
    public ConfigLimits
    {
        if (maxServices < 1 || maxBackendsPerService < 1 || maxDistinctBackends < 1 || maxSlotsPerService < 1)
        {
            throw new IllegalArgumentException("every limit must be at least 1: " + maxServices + ", " +
                maxBackendsPerService + ", " + maxDistinctBackends + ", " + maxSlotsPerService);
        }
    }

    /**
     * Checks a configuration that no file was read for (the services file checks the same line by line): that it
     * fits these limits and that no two services claim one VIP. A ConfigException names the first problem by service
     * and the crab-lb option that sets the limit.
     */
    public void check(final LbConfig config)
    {
        if (config.services().size() > maxServices)
        {
            throw new ConfigException(config.services().size() + " services, more than the " + maxServices +
                " that fit (--max-services)");
        }
        final Set<HostPort> distinct = new HashSet<>();
        int sourceRanges = 0;
        final Map<HostPort, ServiceConfig> byVip = new HashMap<>();
        // The first service on each address: one of every port, if any, is the only one.
        final Map<Inet4Address, ServiceConfig> byAddress = new HashMap<>();
        for (final ServiceConfig service : config.services())
        {
            ServiceConfig other = byVip.putIfAbsent(service.vip(), service);
            final ServiceConfig sameAddress = byAddress.putIfAbsent(service.vip().address(), service);
            if (other == null && sameAddress != null && (sameAddress.vip().anyPort() || service.vip().anyPort()))
            {
                other = sameAddress;
            }
            if (other != null)
            {
                throw new ConfigException("service " + service.name() + ": vip " + service.vip() +
                    " overlaps service " + other.name() + "'s vip " + other.vip());
            }
            if (service.backends().size() > maxBackendsPerService)
            {
                throw new ConfigException("service " + service.name() + ": " + service.backends().size() +
                    " backends, more than the " + maxBackendsPerService + " of a service (--max-backends)");
            }
            sourceRanges += service.allowFrom().size();
            if (sourceRanges > Abi.Consts.CRAB_MAX_SOURCE_RANGES)
            {
                throw new ConfigException("service " + service.name() + ": more than " +
                    Abi.Consts.CRAB_MAX_SOURCE_RANGES + " allowed client prefixes over all services");
            }
            int slots = 0;
            for (final BackendConfig backend : service.backends())
            {
                distinct.add(backend.target());
                slots += backend.state() == BackendState.ACTIVE ? backend.weight() : 0;
            }
            if (distinct.size() > maxDistinctBackends)
            {
                throw new ConfigException("service " + service.name() + ": more than " + maxDistinctBackends +
                    " distinct backends over all services (--max-backends)");
            }
            if (slots > maxSlotsPerService)
            {
                throw new ConfigException("service " + service.name() + ": weights of active backends add up to " +
                    slots + ", more than the " + maxSlotsPerService + " slots of a service (--max-slots)");
            }
        }
    }
}
