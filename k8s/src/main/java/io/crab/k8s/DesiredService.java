package io.crab.k8s;

import io.crab.lb.config.ServiceConfig;

import java.util.Objects;

/**
 * One crab service a Kubernetes Service port asks for on this node: a VIP (the ClusterIP, a node IP with the
 * nodePort, or a load balancer ingress IP, each with its port) and its backends, with what the Service asks of
 * it that crab-lb's service model has no place for yet.
 *
 * @param config                 the crab service: named after its VIP, policy rr, ClientIP affinity with the
 *                               Service's timeout, backends of weight 1 sorted by address and port; allowed from the
 *                               Service's loadBalancerSourceRanges on a load balancer VIP; dropping what it cannot
 *                               place when its traffic policy is Local and the Service has endpoints elsewhere only.
 * @param source                 {@code namespace/name:port}, the port by its name, or by number when unnamed.
 * @param kind                   which of the Service's addresses the VIP is.
 * @param preserveClientAddress  externalTrafficPolicy Local: the backend must see the client's own address.
 */
public record DesiredService(ServiceConfig config, String source, Kind kind, boolean preserveClientAddress)
{
    /** Which address of a Service a VIP is. */
    public enum Kind
    {
        CLUSTER_IP, NODE_PORT, LOAD_BALANCER
    }

    public DesiredService
    {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(kind, "kind");
    }
}
