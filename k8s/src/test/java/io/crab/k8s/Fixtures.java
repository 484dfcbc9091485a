package io.crab.k8s;

import io.crab.agent.Cidr;
import io.crab.agent.HostPort;
import io.crab.agent.Parse;
import io.crab.k8s.DesiredService.Kind;
import io.crab.k8s.DesiredServices.Skipped;
import io.crab.lb.Policy;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.BackendState;
import io.crab.lb.config.FallbackMode;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.NoBackendAction;
import io.crab.lb.config.ServiceConfig;
import io.fabric8.kubernetes.api.model.LoadBalancerIngressBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.ForZoneBuilder;

import java.net.Inet4Address;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/** Small builders for the scenarios of {@link DesiredServicesTest}: Services, slices and the expected services. */
final class Fixtures
{
    static final String NS = "default";
    static final String NODE = "node-a";
    static final String OTHER_NODE = "node-b";
    static final NodeContext NODE_A = NodeContext.of(NODE, "zone-a", List.of(ip("192.168.1.10")), "crab");
    static final NodeContext NODE_A_TWO_IPS =
        NodeContext.of(NODE, "zone-a", List.of(ip("192.168.1.10"), ip("192.168.1.11")), "crab");

    private Fixtures()
    {
    }

    static Inet4Address ip(final String text)
    {
        return Parse.ipv4(text);
    }

    static ServicePort port(final String name, final int port)
    {
        return new ServicePortBuilder().withName(name).withPort(port).withProtocol("TCP").build();
    }

    static ServicePort port(final String name, final int port, final String protocol)
    {
        return new ServicePortBuilder().withName(name).withPort(port).withProtocol(protocol).build();
    }

    static ServicePort nodePort(final String name, final int port, final int nodePort)
    {
        return new ServicePortBuilder().withName(name).withPort(port).withProtocol("TCP").withNodePort(nodePort)
            .build();
    }

    /** A ClusterIP Service in {@link #NS}. */
    static Service clusterIp(final String name, final String clusterIp, final ServicePort... ports)
    {
        return service(NS, name, "ClusterIP", clusterIp, ports);
    }

    static Service nodePortService(final String name, final String clusterIp, final ServicePort... ports)
    {
        return service(NS, name, "NodePort", clusterIp, ports);
    }

    static Service service(final String namespace, final String name, final String type, final String clusterIp,
        final ServicePort... ports)
    {
        return new ServiceBuilder()
            .withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
            .withNewSpec().withType(type).withClusterIP(clusterIp).withClusterIPs(clusterIp).withPorts(ports)
            .endSpec()
            .build();
    }

    /** The Service changed through its builder. */
    static Service edit(final Service service, final UnaryOperator<ServiceBuilder> change)
    {
        return change.apply(new ServiceBuilder(service)).build();
    }

    static Service withIngress(final Service service, final String... ips)
    {
        return edit(service, b -> b.withNewStatus().withNewLoadBalancer().withIngress(Arrays.stream(ips)
            .map(i -> new LoadBalancerIngressBuilder().withIp(i).build()).toList()).endLoadBalancer().endStatus());
    }

    static EndpointPort slicePort(final String name, final int port)
    {
        return new EndpointPortBuilder().withName(name).withPort(port).withProtocol("TCP").build();
    }

    /** A ready endpoint on {@code node}. */
    static Endpoint ep(final String address, final String node)
    {
        return new EndpointBuilder().withAddresses(address).withNodeName(node)
            .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions().build();
    }

    /** A ready endpoint on another node. */
    static Endpoint ep(final String address)
    {
        return ep(address, OTHER_NODE);
    }

    /** The endpoint with these conditions; null leaves one unset. */
    static Endpoint conditions(final Endpoint endpoint, final Boolean ready, final Boolean serving,
        final Boolean terminating)
    {
        return new EndpointBuilder(endpoint).withNewConditions().withReady(ready).withServing(serving)
            .withTerminating(terminating).endConditions().build();
    }

    /** Ready false, serving and terminating: a pod shutting down that still answers. */
    static Endpoint terminating(final Endpoint endpoint)
    {
        return conditions(endpoint, false, true, true);
    }

    static Endpoint notReady(final Endpoint endpoint)
    {
        return conditions(endpoint, false, false, false);
    }

    static Endpoint hinted(final Endpoint endpoint, final String... zones)
    {
        return new EndpointBuilder(endpoint).withNewHints().withForZones(Arrays.stream(zones)
            .map(z -> new ForZoneBuilder().withName(z).build()).toList()).endHints().build();
    }

    /** An IPv4 slice of Service {@code service} in {@link #NS}. */
    static EndpointSlice slice(final String service, final String sliceName, final List<EndpointPort> ports,
        final Endpoint... endpoints)
    {
        return slice(NS, service, sliceName, "IPv4", ports, endpoints);
    }

    static EndpointSlice slice(final String namespace, final String service, final String sliceName,
        final String addressType, final List<EndpointPort> ports, final Endpoint... endpoints)
    {
        return new EndpointSliceBuilder()
            .withNewMetadata().withNamespace(namespace).withName(sliceName)
            .addToLabels(DesiredServices.SERVICE_NAME_LABEL, service).endMetadata()
            .withAddressType(addressType).withPorts(ports).withEndpoints(endpoints)
            .build();
    }

    /**
     * The crab service expected: policy rr, no affinity, not preserving, no source ranges; backends
     * {@code A.B.C.D[:PORT]} of weight 1, the port written only when it differs from the VIP's.
     */
    static DesiredService want(final String source, final Kind kind, final String vip, final String... backends)
    {
        final HostPort address = HostPort.parse(vip);
        final List<BackendConfig> configs = Arrays.stream(backends)
            .map(b -> new BackendConfig(HostPort.parse(b), 1, BackendState.ACTIVE, 0)).toList();
        return new DesiredService(new ServiceConfig(LbConfig.flagServiceName(address), address, Policy.RR, false,
            FallbackMode.TRANSLATE, configs, 0), source, kind, false);
    }

    /** The same, with ClientIP affinity of this timeout (the policy stays rr, as kube-proxy's). */
    static DesiredService affinity(final DesiredService d, final int timeoutSeconds)
    {
        final ServiceConfig c = d.config();
        return new DesiredService(new ServiceConfig(c.name(), c.vip(), c.policy(), false, FallbackMode.TRANSLATE,
            timeoutSeconds, c.allowFrom(), c.noBackend(), c.backends(), 0), d.source(), d.kind(),
            d.preserveClientAddress());
    }

    static DesiredService preserved(final DesiredService d)
    {
        return new DesiredService(d.config(), d.source(), d.kind(), true);
    }

    /** The crab service allowed from these prefixes only. */
    static DesiredService ranges(final DesiredService d, final String... ranges)
    {
        final ServiceConfig c = d.config();
        return new DesiredService(new ServiceConfig(c.name(), c.vip(), c.policy(), false, FallbackMode.TRANSLATE,
            c.affinitySeconds(), Arrays.stream(ranges).map(Cidr::parse).toList(), c.noBackend(), c.backends(), 0),
            d.source(), d.kind(), d.preserveClientAddress());
    }

    /** The crab service dropping what it has no backend for. */
    static DesiredService dropping(final DesiredService d)
    {
        final ServiceConfig c = d.config();
        return new DesiredService(new ServiceConfig(c.name(), c.vip(), c.policy(), false, FallbackMode.TRANSLATE,
            c.affinitySeconds(), c.allowFrom(), NoBackendAction.DROP, c.backends(), 0),
            d.source(), d.kind(), d.preserveClientAddress());
    }

    static Skipped skip(final String what, final String reason)
    {
        return new Skipped(what, reason);
    }
}
