package io.crab.k8s;

import io.crab.lb.LbContext;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.ConfigLimits;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.ServiceConfig;

import java.nio.file.Path;

/**
 * crab-lb's configuration source in crab-k8s: the latest services the cluster asks of this node, which the
 * controller {@link #offer}s and then asks crab-lb's agent to reload. A configuration that does not fit the LB's maps
 * is refused at {@link #load} as a file that does not fit would be: the agent logs and counts it and keeps what it
 * has, and it is offered again at the next change of the cluster.
 */
public final class ClusterConfigSource implements LbContext.ConfigSource
{
    private final ConfigLimits limits;
    private volatile LbConfig latest;

    public ClusterConfigSource(final ConfigLimits limits, final LbConfig first)
    {
        this.limits = limits;
        this.latest = first;
    }

    /** Takes the cluster's latest configuration; true when it differs from the one before (a reload is due). */
    public boolean offer(final LbConfig config)
    {
        if (config.equals(latest))
        {
            return false;
        }
        latest = config;
        return true;
    }

    @Override
    public LbConfig load()
    {
        final LbConfig config = latest;
        limits.check(config);
        return config;
    }

    @Override
    public Path file()
    {
        return null;
    }

    /** A cluster's service is named after its VIP, which says more than the line numbers a file would give. */
    @Override
    public String where(final ServiceConfig service, final BackendConfig backend)
    {
        return "service " + service.name() + ": ";
    }
}
