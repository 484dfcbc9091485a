package io.crab.k8s;

import io.crab.agent.HostPort;
import io.crab.lb.config.LbConfig;

import java.util.Set;
import java.util.function.Consumer;

/**
 * The apply layer as the controller sees it: this node's health check ports, the VIPs for the pods' client programs
 * (told only when they change), and on an LB node crab-lb's configuration.
 */
public final class ClusterApply implements Consumer<DesiredServices>
{
    private final HealthCheckServers health;
    private final VipSetListener vips;
    private final Consumer<LbConfig> lb;
    private Set<HostPort> lastVips;

    /** {@code lb}: takes each configuration (and asks crab-lb for a reload when it changed); null off an LB node. */
    public ClusterApply(final HealthCheckServers health, final VipSetListener vips, final Consumer<LbConfig> lb)
    {
        this.health = health;
        this.vips = vips;
        this.lb = lb;
    }

    @Override
    public void accept(final DesiredServices desired)
    {
        if (lb != null)
        {
            lb.accept(desired.lbConfig());
        }
        health.update(desired.healthChecks());
        final Set<HostPort> now = desired.vips();
        if (!now.equals(lastVips))
        {
            vips.vipsChanged(now);
            lastVips = now;
        }
    }
}
