package io.crab.k8s;

import io.crab.agent.HostPort;

import java.util.Set;

/**
 * Told the VIPs of this node's services (every ClusterIP:port, node IP:nodePort and load balancer IP:port) whenever
 * they change: the pods' client programs mark their SYNs to these, so that the LB redirects them.
 */
@FunctionalInterface
public interface VipSetListener
{
    /** Called from the controller's duty cycle, with the whole set, only when it differs from the last one. */
    void vipsChanged(Set<HostPort> vips);
}
