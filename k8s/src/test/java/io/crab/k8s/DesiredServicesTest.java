package io.crab.k8s;

import io.crab.agent.HostPort;
import io.crab.k8s.DesiredServices.Skipped;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.stream.Stream;

import static io.crab.k8s.DesiredService.Kind.CLUSTER_IP;
import static io.crab.k8s.DesiredService.Kind.LOAD_BALANCER;
import static io.crab.k8s.DesiredService.Kind.NODE_PORT;
import static io.crab.k8s.Fixtures.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * DesiredServices against kube-proxy's behaviour, one small scenario per case: the Services and EndpointSlices of
 * a cluster, the node, and exactly the crab services (and the skipped Services and ports) expected.
 */
final class DesiredServicesTest
{
    record Case(String name, List<Service> services, List<EndpointSlice> slices, NodeContext node,
        List<DesiredService> expected, List<Skipped> skipped)
    {
        @Override
        public String toString()
        {
            return name;
        }
    }

    private static Case c(final String name, final List<Service> services, final List<EndpointSlice> slices,
        final List<DesiredService> expected)
    {
        return new Case(name, services, slices, NODE_A, expected, List.of());
    }

    private static Case c(final String name, final List<Service> services, final List<EndpointSlice> slices,
        final List<DesiredService> expected, final List<Skipped> skipped)
    {
        return new Case(name, services, slices, NODE_A, expected, skipped);
    }

    private static Case c(final String name, final NodeContext node, final List<Service> services,
        final List<EndpointSlice> slices, final List<DesiredService> expected, final List<Skipped> skipped)
    {
        return new Case(name, services, slices, node, expected, skipped);
    }

    private static final List<io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort> HTTP_8080 =
        List.of(slicePort("http", 8080));
    private static final Service WEB = clusterIp("web", "10.96.0.10", port("http", 80));
    private static final Service WEB_NODE_PORT = nodePortService("web", "10.96.0.10", nodePort("http", 80, 30080));
    private static final Service WEB_LB = withIngress(service(NS, "web", "LoadBalancer", "10.96.0.10",
        nodePort("http", 80, 30080)), "203.0.113.7");

    static Stream<Case> cases()
    {
        return Stream.of(
            // --- ClusterIP, ports and the joining of slices ---
            c("cluster IP, target port equal to the service port: backend without a port",
                List.of(clusterIp("web", "10.96.0.10", port("http", 8080))),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:8080", "10.244.1.5"))),
            c("cluster IP, target port differs: port redirection",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"), ep("10.244.2.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080", "10.244.2.5:8080"))),
            c("two ports, each resolved by its name",
                List.of(clusterIp("web", "10.96.0.10", port("http", 80), port("https", 443))),
                List.of(slice("web", "web-1", List.of(slicePort("https", 8443), slicePort("http", 8080)),
                    ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"),
                    want("default/web:https", CLUSTER_IP, "10.96.0.10:443", "10.244.1.5:8443"))),
            c("an unnamed port matches the slice's unnamed port, and is named by its number",
                List.of(clusterIp("db", "10.96.0.20", port(null, 5432))),
                List.of(slice("db", "db-1", List.of(slicePort(null, 5433)), ep("10.244.1.9"))),
                List.of(want("default/db:5432", CLUSTER_IP, "10.96.0.20:5432", "10.244.1.9:5433"))),
            c("one named port, different numbers on different slices",
                List.of(WEB),
                List.of(slice("web", "web-old", HTTP_8080, ep("10.244.1.5")),
                    slice("web", "web-new", List.of(slicePort("http", 9090)), ep("10.244.2.6"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080", "10.244.2.6:9090"))),
            c("a slice without the port's name gives that port nothing",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5")),
                    slice("web", "web-2", List.of(slicePort("metrics", 9100)), ep("10.244.2.6"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("a slice port of another protocol does not resolve a TCP port",
                List.of(WEB),
                List.of(slice("web", "web-1", List.of(new io.fabric8.kubernetes.api.model.discovery.v1
                    .EndpointPortBuilder().withName("http").withPort(8080).withProtocol("UDP").build()),
                    ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80"))),
            c("slices join by the service-name label, within the namespace",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5")),
                    slice("api", "web-2", HTTP_8080, ep("10.244.1.6")),
                    slice("staging", "web", "web-3", "IPv4", HTTP_8080, ep("10.244.1.7"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("a slice without the service-name label belongs to no Service",
                List.of(WEB),
                List.of(new io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder(
                    slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))).editMetadata().withLabels(
                    java.util.Map.of("app", "web")).endMetadata().build()),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80"))),
            c("no slices yet: the service is kept with no backends",
                List.of(WEB), List.of(),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80"))),
            c("backends sorted by address, an address and port met twice taken once",
                List.of(WEB),
                List.of(slice("web", "web-b", HTTP_8080, ep("10.244.9.1"), ep("10.244.1.5")),
                    slice("web", "web-a", HTTP_8080, ep("10.244.1.5"), ep("10.244.10.1"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80",
                    "10.244.1.5:8080", "10.244.9.1:8080", "10.244.10.1:8080"))),
            c("only an endpoint's first address counts; one without addresses is ignored",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080,
                    new io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder(ep("10.244.1.5"))
                        .withAddresses("10.244.1.5", "10.244.1.50").build(),
                    new io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder(ep("10.244.1.6"))
                        .withAddresses().build())),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("IPv6 and FQDN slices are left out",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5")),
                    slice(NS, "web", "web-v6", "IPv6", HTTP_8080, ep("fd00::5")),
                    slice(NS, "web", "web-fqdn", "FQDN", HTTP_8080, ep("web.example.org"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("a Service without ports makes no crab service",
                List.of(clusterIp("empty", "10.96.0.30")), List.of(), List.of()),

            // --- endpoint conditions ---
            c("not-ready endpoints are left out",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"), notReady(ep("10.244.1.6")))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("conditions unset: ready and serving count as true",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, conditions(ep("10.244.1.5"), null, null, null))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("none ready: serving and terminating endpoints are used",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, terminating(ep("10.244.1.5")), notReady(ep("10.244.1.6")))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("terminating but no longer serving: not used, even with nothing else",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, conditions(ep("10.244.1.5"), false, false, true))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80"))),
            c("one ready endpoint: terminating ones are not added to it",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"), terminating(ep("10.244.1.6")))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("ready and terminating at once (a pod asked to stop that still passes its probe): used as ready",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, conditions(ep("10.244.1.5"), true, true, true))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),

            // --- topology hints ---
            c("every endpoint hinted: only this zone's",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, hinted(ep("10.244.1.5"), "zone-a"),
                    hinted(ep("10.244.2.5"), "zone-b"), hinted(ep("10.244.3.5"), "zone-b", "zone-a"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080", "10.244.3.5:8080"))),
            c("one ready endpoint without a hint: hints ignored",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, hinted(ep("10.244.1.5"), "zone-a"),
                    ep("10.244.2.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080", "10.244.2.5:8080"))),
            c("no endpoint hinted for this zone: hints ignored",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, hinted(ep("10.244.1.5"), "zone-b"),
                    hinted(ep("10.244.2.5"), "zone-c"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080", "10.244.2.5:8080"))),
            c("a node without a zone ignores hints", NodeContext.of(NODE, "", List.of(ip("192.168.1.10")), "crab"),
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, hinted(ep("10.244.1.5"), "zone-a"),
                    hinted(ep("10.244.2.5"), "zone-b"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080", "10.244.2.5:8080")),
                List.of()),
            c("an unhinted endpoint that is not ready does not turn hints off",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, hinted(ep("10.244.1.5"), "zone-a"),
                    hinted(ep("10.244.2.5"), "zone-b"), notReady(ep("10.244.3.5")))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("hints do not narrow the terminating fallback",
                List.of(WEB),
                List.of(slice("web", "web-1", HTTP_8080, terminating(hinted(ep("10.244.1.5"), "zone-a")),
                    terminating(hinted(ep("10.244.2.5"), "zone-b")))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080", "10.244.2.5:8080"))),

            // --- internalTrafficPolicy ---
            c("internalTrafficPolicy Local: the cluster IP balances this node's endpoints",
                List.of(edit(WEB, b -> b.editSpec().withInternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5", NODE), ep("10.244.2.5"))),
                List.of(dropping(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080")))),
            c("internalTrafficPolicy Local, no endpoint here but some elsewhere: kept without backends, dropping",
                List.of(edit(WEB, b -> b.editSpec().withInternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.2.5"))),
                List.of(dropping(want("default/web:http", CLUSTER_IP, "10.96.0.10:80")))),
            c("internalTrafficPolicy Local: a local terminating endpoint when none here is ready",
                List.of(edit(WEB, b -> b.editSpec().withInternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, terminating(ep("10.244.1.5", NODE)), ep("10.244.2.5"))),
                List.of(dropping(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080")))),
            c("internalTrafficPolicy Local ignores topology hints",
                List.of(edit(WEB, b -> b.editSpec().withInternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, hinted(ep("10.244.1.5", NODE), "zone-b"),
                    hinted(ep("10.244.2.5"), "zone-a"))),
                List.of(dropping(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080")))),
            c("internalTrafficPolicy Local leaves the nodePorts on every endpoint",
                List.of(edit(WEB_NODE_PORT, b -> b.editSpec().withInternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5", NODE), ep("10.244.2.5"))),
                List.of(dropping(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080")),
                    want("default/web:http", NODE_PORT, "192.168.1.10:30080", "10.244.1.5:8080", "10.244.2.5:8080"))),

            // --- NodePort and externalTrafficPolicy ---
            c("NodePort: the cluster IP and one VIP per node IP", NODE_A_TWO_IPS,
                List.of(WEB_NODE_PORT),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"),
                    want("default/web:http", NODE_PORT, "192.168.1.10:30080", "10.244.1.5:8080"),
                    want("default/web:http", NODE_PORT, "192.168.1.11:30080", "10.244.1.5:8080")),
                List.of()),
            c("externalTrafficPolicy Local: node VIPs on local endpoints, client address kept; cluster IP on all",
                List.of(edit(WEB_NODE_PORT, b -> b.editSpec().withExternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5", NODE), ep("10.244.2.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080", "10.244.2.5:8080"),
                    preserved(dropping(want("default/web:http", NODE_PORT, "192.168.1.10:30080", "10.244.1.5:8080"))))),
            c("externalTrafficPolicy Local, no endpoint here but some elsewhere: node VIP kept empty, dropping",
                List.of(edit(WEB_NODE_PORT, b -> b.editSpec().withExternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.2.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.2.5:8080"),
                    preserved(dropping(want("default/web:http", NODE_PORT, "192.168.1.10:30080"))))),
            c("externalTrafficPolicy Local: a local terminating endpoint when none here is ready",
                List.of(edit(WEB_NODE_PORT, b -> b.editSpec().withExternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, terminating(ep("10.244.1.5", NODE)), ep("10.244.2.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.2.5:8080"),
                    preserved(dropping(want("default/web:http", NODE_PORT, "192.168.1.10:30080", "10.244.1.5:8080"))))),
            c("externalTrafficPolicy Local on a Service without any endpoint: passes, refused as kube-proxy rejects",
                List.of(edit(WEB_NODE_PORT, b -> b.editSpec().withExternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, notReady(ep("10.244.2.5")))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80"),
                    preserved(want("default/web:http", NODE_PORT, "192.168.1.10:30080")))),
            c("externalTrafficPolicy Local, only a terminating endpoint elsewhere: still an endpoint, dropping",
                List.of(edit(WEB_NODE_PORT, b -> b.editSpec().withExternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, terminating(ep("10.244.2.5")))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.2.5:8080"),
                    preserved(dropping(want("default/web:http", NODE_PORT, "192.168.1.10:30080"))))),
            c("a nodePort outside the node port range is skipped, the cluster IP kept",
                List.of(nodePortService("web", "10.96.0.10", nodePort("http", 80, 8080))),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080")),
                List.of(skip("default/web:http", "nodePort 8080 is outside the node port range 30000-32767"))),
            c("a wider node port range takes it",
                new NodeContext(NODE, "zone-a", List.of(ip("192.168.1.10")), 8000, 9000, "crab"),
                List.of(nodePortService("web", "10.96.0.10", nodePort("http", 80, 8080))),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"),
                    want("default/web:http", NODE_PORT, "192.168.1.10:8080", "10.244.1.5")),
                List.of()),
            c("a node without addresses serves no nodePort", NodeContext.of(NODE, "zone-a", List.of(), "crab"),
                List.of(WEB_NODE_PORT),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080")),
                List.of()),
            c("a nodePort on a ClusterIP Service is not served",
                List.of(clusterIp("web", "10.96.0.10", nodePort("http", 80, 30080))),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),

            // --- LoadBalancer and source ranges ---
            c("LoadBalancer: cluster IP, nodePort and ingress IP; source ranges on the ingress only",
                List.of(edit(WEB_LB, b -> b.editSpec().withLoadBalancerSourceRanges("198.51.100.0/24").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"),
                    want("default/web:http", NODE_PORT, "192.168.1.10:30080", "10.244.1.5:8080"),
                    ranges(want("default/web:http", LOAD_BALANCER, "203.0.113.7:80", "10.244.1.5:8080"),
                        "198.51.100.0/24"))),
            c("LoadBalancer without node ports: no node VIPs",
                List.of(withIngress(service(NS, "web", "LoadBalancer", "10.96.0.10", port("http", 80)),
                    "203.0.113.7")),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"),
                    want("default/web:http", LOAD_BALANCER, "203.0.113.7:80", "10.244.1.5:8080"))),
            c("ingress in ipMode Proxy, by hostname only or IPv6: not crab's to serve",
                List.of(edit(service(NS, "web", "LoadBalancer", "10.96.0.10", port("http", 80)),
                    b -> b.withNewStatus().withNewLoadBalancer()
                        .addNewIngress().withIp("203.0.113.7").withIpMode("Proxy").endIngress()
                        .addNewIngress().withHostname("lb.example.org").endIngress()
                        .addNewIngress().withIp("2001:db8::7").endIngress()
                        .addNewIngress().withIp("203.0.113.8").withIpMode("VIP").endIngress()
                        .endLoadBalancer().endStatus())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"),
                    want("default/web:http", LOAD_BALANCER, "203.0.113.8:80", "10.244.1.5:8080"))),
            c("source ranges from the annotation when the field is empty; IPv6 ranges left out",
                List.of(edit(service(NS, "web", "LoadBalancer", "10.96.0.10", port("http", 80)), b -> b
                    .editMetadata().addToAnnotations(DesiredServices.SOURCE_RANGES_ANNOTATION,
                        "198.51.100.0/24, 2001:db8::/32,192.0.2.0/25").endMetadata()
                    .withNewStatus().withNewLoadBalancer().addNewIngress().withIp("203.0.113.7").endIngress()
                    .endLoadBalancer().endStatus())),
                List.of(),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80"),
                    ranges(want("default/web:http", LOAD_BALANCER, "203.0.113.7:80"),
                        "198.51.100.0/24", "192.0.2.0/25"))),
            c("source ranges: host bits masked as kube-proxy reads them, a range met twice taken once, one that is " +
                "no prefix left out with a note",
                List.of(edit(WEB_LB, b -> b.editSpec().withLoadBalancerSourceRanges("198.51.100.7/24",
                    "198.51.100.0/24", "not-a-range", "192.0.2.0/33", "192.0.2.128/25").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"),
                    want("default/web:http", NODE_PORT, "192.168.1.10:30080", "10.244.1.5:8080"),
                    ranges(want("default/web:http", LOAD_BALANCER, "203.0.113.7:80", "10.244.1.5:8080"),
                        "198.51.100.0/24", "192.0.2.128/25")),
                List.of(skip("default/web:http", "source range 'not-a-range': not a prefix (A.B.C.D/N)"),
                    skip("default/web:http", "source range '192.0.2.0/33': prefix length must be 0..32"))),
            c("source ranges on a NodePort Service restrict nothing: kube-proxy applies them to load balancer IPs",
                List.of(edit(WEB_NODE_PORT, b -> b.editSpec().withLoadBalancerSourceRanges("198.51.100.0/24")
                    .endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"),
                    want("default/web:http", NODE_PORT, "192.168.1.10:30080", "10.244.1.5:8080"))),
            c("source ranges and externalTrafficPolicy Local together on the ingress IP",
                List.of(edit(WEB_LB, b -> b.editSpec().withExternalTrafficPolicy("Local")
                    .withLoadBalancerSourceRanges("198.51.100.0/24").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.2.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.2.5:8080"),
                    preserved(dropping(want("default/web:http", NODE_PORT, "192.168.1.10:30080"))),
                    preserved(dropping(ranges(want("default/web:http", LOAD_BALANCER, "203.0.113.7:80"),
                        "198.51.100.0/24"))))),
            c("externalTrafficPolicy Local holds for the ingress IP too",
                List.of(edit(WEB_LB, b -> b.editSpec().withExternalTrafficPolicy("Local").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5", NODE), ep("10.244.2.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080", "10.244.2.5:8080"),
                    preserved(dropping(want("default/web:http", NODE_PORT, "192.168.1.10:30080", "10.244.1.5:8080"))),
                    preserved(dropping(want("default/web:http", LOAD_BALANCER, "203.0.113.7:80", "10.244.1.5:8080"))))),

            // --- session affinity ---
            c("ClientIP affinity: rr with affinity of the default timeout, on every VIP",
                List.of(edit(WEB_NODE_PORT, b -> b.editSpec().withSessionAffinity("ClientIP").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(affinity(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"), 10800),
                    affinity(want("default/web:http", NODE_PORT, "192.168.1.10:30080", "10.244.1.5:8080"), 10800))),
            c("ClientIP affinity with its own timeout",
                List.of(edit(WEB, b -> b.editSpec().withSessionAffinity("ClientIP").withNewSessionAffinityConfig()
                    .withNewClientIP(600).endSessionAffinityConfig().endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(affinity(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"), 600))),
            c("affinity None: rr without affinity",
                List.of(edit(WEB, b -> b.editSpec().withSessionAffinity("None").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("ClientIP affinity with the longest timeout, a day, on the load balancer VIP too",
                List.of(edit(WEB_LB, b -> b.editSpec().withSessionAffinity("ClientIP").withNewSessionAffinityConfig()
                    .withNewClientIP(86400).endSessionAffinityConfig().endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"), ep("10.244.2.5"))),
                List.of(affinity(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080",
                        "10.244.2.5:8080"), 86400),
                    affinity(want("default/web:http", NODE_PORT, "192.168.1.10:30080", "10.244.1.5:8080",
                        "10.244.2.5:8080"), 86400),
                    affinity(want("default/web:http", LOAD_BALANCER, "203.0.113.7:80", "10.244.1.5:8080",
                        "10.244.2.5:8080"), 86400))),
            c("a timeout without ClientIP: no affinity",
                List.of(edit(WEB, b -> b.editSpec().withSessionAffinity("None").withNewSessionAffinityConfig()
                    .withNewClientIP(600).endSessionAffinityConfig().endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("a ClientIP timeout the API server would refuse: skipped",
                List.of(edit(WEB, b -> b.editSpec().withSessionAffinity("ClientIP").withNewSessionAffinityConfig()
                    .withNewClientIP(0).endSessionAffinityConfig().endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(),
                List.of(skip("default/web", "sessionAffinityConfig.clientIP.timeoutSeconds 0: outside 1..86400, " +
                    "the range the API server allows"))),

            // --- Services crab leaves alone ---
            c("headless: skipped",
                List.of(clusterIp("web", "None", port("http", 80))),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(),
                List.of(skip("default/web", "headless (clusterIP None): DNS names the endpoints, no address to balance"))),
            c("ExternalName: skipped",
                List.of(edit(service(NS, "ext", "ExternalName", null), b -> b.editSpec().withClusterIPs()
                    .withExternalName("db.example.org").endSpec())),
                List.of(),
                List.of(),
                List.of(skip("default/ext", "ExternalName: a DNS alias, no address to balance"))),
            c("service-proxy-name of another proxy: skipped",
                List.of(edit(WEB, b -> b.editMetadata().addToLabels(DesiredServices.SERVICE_PROXY_NAME_LABEL,
                    "cilium").endMetadata())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(),
                List.of(skip("default/web", "service.kubernetes.io/service-proxy-name is cilium, not crab"))),
            c("service-proxy-name without a proxy name of crab's own: every labelled Service skipped, as kube-proxy",
                NodeContext.of(NODE, "zone-a", List.of(ip("192.168.1.10")), null),
                List.of(edit(WEB, b -> b.editMetadata().addToLabels(DesiredServices.SERVICE_PROXY_NAME_LABEL,
                    "crab").endMetadata()), clusterIp("api", "10.96.0.11", port("http", 80))),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/api:http", CLUSTER_IP, "10.96.0.11:80")),
                List.of(skip("default/web", "service.kubernetes.io/service-proxy-name is crab, not unset (crab-k8s " +
                    "--proxy-name crab would serve it)"))),
            c("service-proxy-name naming crab: served",
                List.of(edit(WEB, b -> b.editMetadata().addToLabels(DesiredServices.SERVICE_PROXY_NAME_LABEL,
                    "crab").endMetadata())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("IPv6-only Service: skipped with a note",
                List.of(clusterIp("web6", "fd00:96::10", port("http", 80))),
                List.of(),
                List.of(),
                List.of(skip("default/web6", "no IPv4 cluster IP ([fd00:96::10]): crab balances IPv4 only"))),
            c("dual-stack, IPv6 first: the IPv4 cluster IP is served",
                List.of(edit(WEB, b -> b.editSpec().withClusterIP("fd00:96::10")
                    .withClusterIPs("fd00:96::10", "10.96.0.10").withIpFamilies("IPv6", "IPv4").endSpec())),
                List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5")),
                    slice(NS, "web", "web-v6", "IPv6", HTTP_8080, ep("fd00::5"))),
                List.of(want("default/web:http", CLUSTER_IP, "10.96.0.10:80", "10.244.1.5:8080"))),
            c("UDP and SCTP ports skipped, the TCP one served",
                List.of(clusterIp("dns", "10.96.0.53", port("dns", 53, "UDP"), port("dns-tcp", 53, "TCP"),
                    port("sig", 3868, "SCTP"))),
                List.of(slice("kube-dns", "dns-1", List.of(slicePort("dns-tcp", 53)), ep("10.244.1.2"))),
                List.of(want("default/dns:dns-tcp", CLUSTER_IP, "10.96.0.53:53")),
                List.of(skip("default/dns:dns", "protocol UDP: crab balances TCP only"),
                    skip("default/dns:sig", "protocol SCTP: crab balances TCP only"))),
            c("two Services on one VIP: the first by namespace and name keeps it",
                List.of(clusterIp("web-b", "10.96.0.10", port("http", 80)),
                    clusterIp("web-a", "10.96.0.10", port("http", 80))),
                List.of(),
                List.of(want("default/web-a:http", CLUSTER_IP, "10.96.0.10:80")),
                List.of(skip("default/web-b:http", "VIP 10.96.0.10:80 is already default/web-a:http's"))),
            c("Services come out by namespace and name, whatever the input order",
                List.of(service("prod", "api", "ClusterIP", "10.96.0.12", port("http", 80)),
                    service("dev", "web", "ClusterIP", "10.96.0.11", port("http", 80)),
                    service("dev", "api", "ClusterIP", "10.96.0.13", port("http", 80))),
                List.of(slice("prod", "api", "api-1", "IPv4", HTTP_8080, ep("10.244.1.1")),
                    slice("dev", "api", "api-1", "IPv4", HTTP_8080, ep("10.244.1.2"))),
                List.of(want("dev/api:http", CLUSTER_IP, "10.96.0.13:80", "10.244.1.2:8080"),
                    want("dev/web:http", CLUSTER_IP, "10.96.0.11:80"),
                    want("prod/api:http", CLUSTER_IP, "10.96.0.12:80", "10.244.1.1:8080")))
        );
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void desiredServices(final Case c)
    {
        final DesiredServices desired = DesiredServices.of(c.services(), c.slices(), c.node());
        assertEquals(c.expected(), desired.services());
        assertEquals(c.skipped(), desired.skipped());
    }

    @Test
    void enoughScenarios()
    {
        assertEquals(true, cases().count() >= 40, "the table is the specification: keep it at 40 cases or more");
    }

    @Test
    void lbConfigHoldsTheServicesInOrder()
    {
        final DesiredServices desired = DesiredServices.of(List.of(WEB_LB),
            List.of(slice("web", "web-1", HTTP_8080, ep("10.244.1.5"))), NODE_A);
        assertEquals(List.of("vip-10-96-0-10-80", "vip-192-168-1-10-30080", "vip-203-0-113-7-80"),
            desired.lbConfig().services().stream().map(s -> s.name()).toList());
    }

    @Test
    void nodeContextRefusesWhatItCannotUse()
    {
        assertThrows(IllegalArgumentException.class,
            () -> new NodeContext(NODE, "", List.of(), 32767, 30000, "crab"));
        assertThrows(IllegalArgumentException.class,
            () -> new NodeContext(NODE, "", List.of(), 0, 100, "crab"));
        assertThrows(IllegalArgumentException.class, () -> NodeContext.of("", "", List.of(), "crab"));
        assertThrows(IllegalArgumentException.class, () -> NodeContext.of(NODE, "", List.of(), ""));
        assertThrows(IllegalArgumentException.class,
            () -> NodeContext.of(NODE, "", List.of(ip("192.168.1.10"), ip("192.168.1.10")), "crab"));
    }

    @Test
    void healthCheckNodePortCountsThisNodesReadyEndpointsByAddress()
    {
        final Service local = edit(WEB_LB, b -> b.editSpec().withExternalTrafficPolicy("Local")
            .withHealthCheckNodePort(32000).addToPorts(nodePort("https", 443, 30443)).endSpec());
        final List<EndpointSlice> slices = List.of(slice("web", "web-1",
            List.of(slicePort("http", 8080), slicePort("https", 8443)),
            ep("10.244.0.5", NODE), ep("10.244.0.6", NODE), terminating(ep("10.244.0.7", NODE)), ep("10.244.1.5")));
        assertEquals(List.of(new DesiredServices.HealthCheck(NS, "web", 32000, 2)),
            DesiredServices.of(List.of(local), slices, NODE_A).healthChecks(),
            "one address over two ports counts once; terminating and other nodes' endpoints not at all");
        assertEquals(List.of(new DesiredServices.HealthCheck(NS, "web", 32000, 0)),
            DesiredServices.of(List.of(local), List.of(slice("web", "web-1", HTTP_8080,
                terminating(ep("10.244.0.7", NODE)), ep("10.244.1.5"))), NODE_A).healthChecks(),
            "only terminating endpoints here: the load balancer is told to go elsewhere");
    }

    @Test
    void healthCheckNodePortOnlyForExternalTrafficPolicyLocal()
    {
        final Service cluster = edit(WEB_LB, b -> b.editSpec().withHealthCheckNodePort(32000).endSpec());
        final Service clusterIpOnly = edit(WEB, b -> b.editSpec().withExternalTrafficPolicy("Local")
            .withHealthCheckNodePort(32000).endSpec());
        assertEquals(List.of(), DesiredServices.of(List.of(cluster, clusterIpOnly), List.of(), NODE_A).healthChecks());
        final Service withoutPort = edit(WEB_LB, b -> b.editSpec().withExternalTrafficPolicy("Local").endSpec());
        assertEquals(List.of(), DesiredServices.of(List.of(withoutPort), List.of(), NODE_A).healthChecks());
    }

    @Test
    void vipsAreEveryServicesVip()
    {
        final DesiredServices desired = DesiredServices.of(List.of(WEB_LB), List.of(), NODE_A);
        assertEquals(List.of(HostPort.parse("10.96.0.10:80"), HostPort.parse("192.168.1.10:30080"),
            HostPort.parse("203.0.113.7:80")), List.copyOf(desired.vips()));
    }

    @Test
    void nodeContextFromTheNodeObject()
    {
        final Node node = new NodeBuilder().withNewMetadata().withName(NODE)
            .addToLabels(NodeContext.ZONE_LABEL, "zone-a").endMetadata()
            .withNewStatus().addNewAddress("192.168.1.10", "InternalIP").addNewAddress("node-a", "Hostname")
            .addNewAddress("fd00::10", "InternalIP").addNewAddress("203.0.113.20", "ExternalIP")
            .addNewAddress("192.168.1.10", "ExternalIP").endStatus().build();
        assertEquals(new NodeContext(NODE, "zone-a", List.of(ip("192.168.1.10"), ip("203.0.113.20")), 30000, 32767,
            "crab"), NodeContext.ofNode(node, 30000, 32767, "crab"));
        final Node bare = new NodeBuilder().withNewMetadata().withName(NODE).endMetadata().build();
        assertEquals(NodeContext.of(NODE, "", List.of(), "crab"), NodeContext.ofNode(bare, 30000, 32767, "crab"));
    }
}
