package io.crab.k8s;

import io.crab.agent.Cidr;
import io.crab.agent.HostPort;
import io.crab.agent.Parse;
import io.crab.lb.Policy;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.BackendState;
import io.crab.lb.config.FallbackMode;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.NoBackendAction;
import io.crab.lb.config.ServiceConfig;
import io.fabric8.kubernetes.api.model.LoadBalancerIngress;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.ForZone;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What crab balances on one node, worked out from the cluster's Services and EndpointSlices the way kube-proxy
 * does: one crab service per (ClusterIP, port), per (node IP, nodePort) and per (load balancer ingress IP, port),
 * each over the endpoints kube-proxy would send that traffic to. A pure function of its inputs, so the controller
 * that watches the cluster can call it on every change and hand the difference to crab-lb.
 *
 * @param services     the crab services, by Service namespace and name, then port, then VIP kind and address.
 * @param skipped      what was left out and why, for the controller to log: whole Services and single ports.
 * @param healthChecks the {@code healthCheckNodePort}s this node serves, by Service namespace and name.
 */
public record DesiredServices(List<DesiredService> services, List<Skipped> skipped, List<HealthCheck> healthChecks)
{
    public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
    public static final String SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name";
    /** Read by kube-proxy when {@code spec.loadBalancerSourceRanges} is empty. */
    public static final String SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges";
    /** {@code sessionAffinityConfig.clientIP.timeoutSeconds} when not given: three hours. */
    public static final int DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

    /** A Service, or one port of it ({@code namespace/name[:port]}), left out, and why. */
    public record Skipped(String what, String reason)
    {
    }

    /**
     * A Service's {@code healthCheckNodePort}, which kube-proxy serves on every node for the external load balancer
     * of a Service with externalTrafficPolicy Local: 200 while the node has endpoints of the Service, 503 without.
     *
     * @param localEndpoints this node's ready endpoints of the Service, counted by address over its TCP ports as
     *                       kube-proxy counts them; serving-but-terminating ones do not count, so the load balancer
     *                       drains a node whose last endpoints terminate while they still take connections.
     */
    public record HealthCheck(String namespace, String name, int port, int localEndpoints)
    {
    }

    public DesiredServices
    {
        services = List.copyOf(services);
        skipped = List.copyOf(skipped);
        healthChecks = List.copyOf(healthChecks);
    }

    /** Every VIP of the services, in their order: what clients mark their SYNs for. */
    public Set<HostPort> vips()
    {
        final Set<HostPort> vips = new LinkedHashSet<>();
        services.forEach(s -> vips.add(s.config().vip()));
        return vips;
    }

    /** crab-lb's configuration: the services alone. */
    public LbConfig lbConfig()
    {
        return new LbConfig(services.stream().map(DesiredService::config).toList());
    }

    public static DesiredServices of(final List<Service> services, final List<EndpointSlice> slices,
        final NodeContext node)
    {
        final Map<String, List<EndpointSlice>> slicesByService = slicesByService(slices);
        final List<Service> ordered = new ArrayList<>(services);
        ordered.sort(Comparator.comparing(DesiredServices::key));
        final List<DesiredService> desired = new ArrayList<>();
        final List<Skipped> skipped = new ArrayList<>();
        final List<HealthCheck> healthChecks = new ArrayList<>();
        final Map<HostPort, String> vipOwners = new HashMap<>();
        for (final Service service : ordered)
        {
            final String key = key(service);
            final String reason = whyNotOurs(service, node);
            if (reason != null)
            {
                skipped.add(new Skipped(key, reason));
                continue;
            }
            final ServiceSpec spec = service.getSpec();
            final Inet4Address clusterIp = clusterIpv4(spec);
            if (clusterIp == null)
            {
                skipped.add(new Skipped(key, "no IPv4 cluster IP (" + clusterIps(spec) +
                    "): crab balances IPv4 only"));
                continue;
            }
            final List<EndpointSlice> own = slicesByService.getOrDefault(key, List.of());
            final Set<Inet4Address> localReady = new HashSet<>();
            for (final ServicePort port : spec.getPorts())
            {
                final String source = key + ":" + portName(port);
                final String protocol = port.getProtocol() == null ? "TCP" : port.getProtocol();
                if (!"TCP".equals(protocol))
                {
                    skipped.add(new Skipped(source, "protocol " + protocol + ": crab balances TCP only"));
                    continue;
                }
                final List<Candidate> endpoints = endpoints(own, port);
                endpoints.stream().filter(e -> e.ready() && node.nodeName().equals(e.nodeName()))
                    .forEach(e -> localReady.add(e.address()));
                final ServicePlan plan = new ServicePlan(service, source, endpoints, node, skipped);
                plan.add(DesiredService.Kind.CLUSTER_IP, new HostPort(clusterIp, port.getPort()),
                    desired, skipped, vipOwners);
                if (hasNodePorts(spec))
                {
                    final Integer nodePort = port.getNodePort();
                    if (nodePort != null && nodePort != 0 && !node.inNodePortRange(nodePort))
                    {
                        skipped.add(new Skipped(source, "nodePort " + nodePort + " is outside the node port range " +
                            node.nodePortMin() + "-" + node.nodePortMax()));
                    }
                    else if (nodePort != null && nodePort != 0)
                    {
                        for (final Inet4Address nodeIp : node.nodeIps())
                        {
                            plan.add(DesiredService.Kind.NODE_PORT, new HostPort(nodeIp, nodePort),
                                desired, skipped, vipOwners);
                        }
                    }
                }
                if ("LoadBalancer".equals(spec.getType()))
                {
                    for (final Inet4Address ingress : ingressIpv4s(service))
                    {
                        plan.add(DesiredService.Kind.LOAD_BALANCER, new HostPort(ingress, port.getPort()),
                            desired, skipped, vipOwners);
                    }
                }
            }
            final Integer healthPort = spec.getHealthCheckNodePort();
            if (hasNodePorts(spec) && "Local".equals(spec.getExternalTrafficPolicy()) && healthPort != null &&
                healthPort != 0)
            {
                healthChecks.add(new HealthCheck(service.getMetadata().getNamespace(),
                    service.getMetadata().getName(), healthPort, localReady.size()));
            }
        }
        return new DesiredServices(desired, skipped, healthChecks);
    }

    /** Why a whole Service is not crab's to balance, or null when it is. */
    private static String whyNotOurs(final Service service, final NodeContext node)
    {
        final Map<String, String> labels = service.getMetadata().getLabels();
        final String proxy = labels == null ? null : labels.get(SERVICE_PROXY_NAME_LABEL);
        if (proxy != null && !proxy.equals(node.proxyName()))
        {
            return SERVICE_PROXY_NAME_LABEL + " is " + proxy + ", not " +
                (node.proxyName() == null ? "unset (crab-k8s --proxy-name " + proxy + " would serve it)" :
                    node.proxyName());
        }
        final ServiceSpec spec = service.getSpec();
        if ("ExternalName".equals(spec.getType()))
        {
            return "ExternalName: a DNS alias, no address to balance";
        }
        if ("None".equals(spec.getClusterIP()))
        {
            return "headless (clusterIP None): DNS names the endpoints, no address to balance";
        }
        final int timeout = affinityTimeout(spec);
        final boolean clientIp = "ClientIP".equals(spec.getSessionAffinity());
        if (clientIp && (timeout < 1 || timeout > ServiceConfig.MAX_AFFINITY_SECONDS))
        {
            return "sessionAffinityConfig.clientIP.timeoutSeconds " + timeout + ": outside 1.." +
                ServiceConfig.MAX_AFFINITY_SECONDS + ", the range the API server allows";
        }
        return null;
    }

    /** ClientIP session affinity's timeout in seconds as given, else the default; 0 without affinity. */
    private static int affinityTimeout(final ServiceSpec spec)
    {
        if (!"ClientIP".equals(spec.getSessionAffinity()))
        {
            return 0;
        }
        final Integer timeout = spec.getSessionAffinityConfig() == null ||
            spec.getSessionAffinityConfig().getClientIP() == null ? null :
            spec.getSessionAffinityConfig().getClientIP().getTimeoutSeconds();
        return timeout == null ? DEFAULT_AFFINITY_TIMEOUT_SECONDS : timeout;
    }

    /**
     * The Service's IPv4 cluster IP: of a dual-stack Service the IPv4 one, its IPv6 one being left to another
     * proxy (crab's data path is IPv4); null for an IPv6-only Service or one without an address.
     */
    private static Inet4Address clusterIpv4(final ServiceSpec spec)
    {
        for (final String ip : clusterIps(spec))
        {
            final Inet4Address address = ipv4OrNull(ip);
            if (address != null)
            {
                return address;
            }
        }
        return null;
    }

    private static List<String> clusterIps(final ServiceSpec spec)
    {
        if (spec.getClusterIPs() != null && !spec.getClusterIPs().isEmpty())
        {
            return spec.getClusterIPs();
        }
        return spec.getClusterIP() == null ? List.of() : List.of(spec.getClusterIP());
    }

    private static boolean hasNodePorts(final ServiceSpec spec)
    {
        return "NodePort".equals(spec.getType()) || "LoadBalancer".equals(spec.getType());
    }

    /**
     * The IPv4 ingress addresses of a LoadBalancer Service's status. An ingress in ipMode Proxy is the cloud load
     * balancer's own address, which proxies to the nodes' nodePorts; kube-proxy leaves those alone, and so does crab.
     */
    private static List<Inet4Address> ingressIpv4s(final Service service)
    {
        if (service.getStatus() == null || service.getStatus().getLoadBalancer() == null ||
            service.getStatus().getLoadBalancer().getIngress() == null)
        {
            return List.of();
        }
        final List<Inet4Address> addresses = new ArrayList<>();
        for (final LoadBalancerIngress ingress : service.getStatus().getLoadBalancer().getIngress())
        {
            final Inet4Address address = ingress.getIp() == null ? null : ipv4OrNull(ingress.getIp());
            if (address != null && !"Proxy".equals(ingress.getIpMode()) && !addresses.contains(address))
            {
                addresses.add(address);
            }
        }
        return addresses;
    }

    /**
     * loadBalancerSourceRanges, else the older annotation, as kube-proxy reads them: IPv6 ranges left out, since
     * crab's VIPs are IPv4, as kube-proxy leaves out a range of the other family; host bits masked off, as Go's
     * net.ParseCIDR does; a range met twice taken once; one that is no prefix at all left out with a note (kube-proxy
     * leaves it out too). Empty when none remains: then, as with kube-proxy, every source is admitted.
     */
    private static List<Cidr> sourceRanges(final Service service, final String source, final List<Skipped> skipped)
    {
        List<String> ranges = service.getSpec().getLoadBalancerSourceRanges();
        if (ranges == null || ranges.isEmpty())
        {
            final Map<String, String> annotations = service.getMetadata().getAnnotations();
            final String annotation = annotations == null ? null : annotations.get(SOURCE_RANGES_ANNOTATION);
            ranges = annotation == null ? List.of() : List.of(annotation.split(","));
        }
        final Set<Cidr> prefixes = new LinkedHashSet<>();
        for (final String range : ranges.stream().map(String::trim).filter(r -> !r.isEmpty() && !r.contains(":"))
            .toList())
        {
            try
            {
                prefixes.add(Cidr.parseMasked(range));
            }
            catch (final IllegalArgumentException ex)
            {
                skipped.add(new Skipped(source, "source range " + ex.getMessage()));
            }
        }
        return List.copyOf(prefixes);
    }

    /** The slices of each Service ({@code namespace/name}) by their service-name label, in slice name order. */
    private static Map<String, List<EndpointSlice>> slicesByService(final List<EndpointSlice> slices)
    {
        final List<EndpointSlice> ordered = new ArrayList<>(slices);
        ordered.sort(Comparator.comparing(DesiredServices::key));
        final Map<String, List<EndpointSlice>> byService = new LinkedHashMap<>();
        for (final EndpointSlice slice : ordered)
        {
            final Map<String, String> labels = slice.getMetadata().getLabels();
            final String service = labels == null ? null : labels.get(SERVICE_NAME_LABEL);
            // IPv6 and FQDN slices are another family's: crab's data path is IPv4.
            if (service != null && "IPv4".equals(slice.getAddressType()))
            {
                byService.computeIfAbsent(slice.getMetadata().getNamespace() + "/" + service,
                    s -> new ArrayList<>()).add(slice);
            }
        }
        return byService;
    }

    /**
     * The Service port's endpoints with their target ports. The port is resolved in each slice by the Service
     * port's name and protocol, as the EndpointSlice controller wrote it for that slice's pods, so one named port
     * may be different numbers on different slices. Only an endpoint's first address is used (as kube-proxy does),
     * and an address and port met twice is taken from the first slice by name.
     */
    private static List<Candidate> endpoints(final List<EndpointSlice> slices, final ServicePort servicePort)
    {
        final String name = servicePort.getName() == null ? "" : servicePort.getName();
        final Map<HostPort, Candidate> byTarget = new LinkedHashMap<>();
        for (final EndpointSlice slice : slices)
        {
            final Integer target = targetPort(slice, name);
            if (target == null || slice.getEndpoints() == null)
            {
                continue;
            }
            for (final Endpoint endpoint : slice.getEndpoints())
            {
                final Inet4Address address = endpoint.getAddresses() == null || endpoint.getAddresses().isEmpty() ?
                    null : ipv4OrNull(endpoint.getAddresses().get(0));
                if (address != null)
                {
                    byTarget.putIfAbsent(new HostPort(address, target), Candidate.of(address, target, endpoint));
                }
            }
        }
        return List.copyOf(byTarget.values());
    }

    private static Integer targetPort(final EndpointSlice slice, final String name)
    {
        if (slice.getPorts() == null)
        {
            return null;
        }
        for (final EndpointPort port : slice.getPorts())
        {
            final String portName = port.getName() == null ? "" : port.getName();
            final String protocol = port.getProtocol() == null ? "TCP" : port.getProtocol();
            if (portName.equals(name) && "TCP".equals(protocol) && port.getPort() != null)
            {
                return port.getPort();
            }
        }
        return null;
    }

    private static Inet4Address ipv4OrNull(final String text)
    {
        try
        {
            return Parse.ipv4(text);
        }
        catch (final IllegalArgumentException ex)
        {
            return null;
        }
    }

    private static String portName(final ServicePort port)
    {
        return port.getName() == null || port.getName().isEmpty() ? String.valueOf(port.getPort()) : port.getName();
    }

    private static String key(final Service service)
    {
        return service.getMetadata().getNamespace() + "/" + service.getMetadata().getName();
    }

    private static String key(final EndpointSlice slice)
    {
        return slice.getMetadata().getNamespace() + "/" + slice.getMetadata().getName();
    }

    /** An endpoint of one Service port, with its conditions read as kube-proxy reads them. */
    private record Candidate(Inet4Address address, int port, boolean ready, boolean serving, boolean terminating,
        String nodeName, Set<String> zoneHints)
    {
        /** Ready and serving unknown (null) count as true, terminating unknown as false. */
        static Candidate of(final Inet4Address address, final int port, final Endpoint endpoint)
        {
            final EndpointConditions conditions = endpoint.getConditions();
            final Set<String> zones = new HashSet<>();
            if (endpoint.getHints() != null && endpoint.getHints().getForZones() != null)
            {
                for (final ForZone zone : endpoint.getHints().getForZones())
                {
                    zones.add(zone.getName());
                }
            }
            return new Candidate(address, port,
                conditions == null || !Boolean.FALSE.equals(conditions.getReady()),
                conditions == null || !Boolean.FALSE.equals(conditions.getServing()),
                conditions != null && Boolean.TRUE.equals(conditions.getTerminating()),
                endpoint.getNodeName(), zones);
        }

        boolean servingTerminating()
        {
            return serving && terminating;
        }
    }

    /** One Service port's endpoints, chosen for cluster-wide and for node-local traffic. */
    private static final class ServicePlan
    {
        private final Service service;
        private final String source;
        private final List<Candidate> cluster;
        private final List<Candidate> local;
        private final int affinitySeconds;
        /** Whether the Service has any endpoint kube-proxy would use, ready or serving while terminating. */
        private final boolean anyEndpoint;
        /** loadBalancerSourceRanges, read once for the port's load balancer VIPs. */
        private final List<Cidr> sourceRanges;

        ServicePlan(final Service service, final String source, final List<Candidate> endpoints,
            final NodeContext node, final List<Skipped> skipped)
        {
            this.service = service;
            this.source = source;
            this.cluster = clusterEndpoints(endpoints, node);
            this.local = localEndpoints(endpoints, node);
            // ClientIP affinity, as kube-proxy does it: a client's connections go to the backend round robin gave its
            // first one, until it has opened none for timeoutSeconds (checked in whyNotOurs).
            this.affinitySeconds = affinityTimeout(service.getSpec());
            this.anyEndpoint = endpoints.stream().anyMatch(e -> e.ready() || e.servingTerminating());
            this.sourceRanges = "LoadBalancer".equals(service.getSpec().getType()) && !ingressIpv4s(service).isEmpty() ?
                sourceRanges(service, source, skipped) : List.of();
        }

        /** Adds the crab service for one VIP of this port, unless an earlier Service already has that VIP. */
        void add(final DesiredService.Kind kind, final HostPort vip, final List<DesiredService> desired,
            final List<Skipped> skipped, final Map<HostPort, String> vipOwners)
        {
            final String owner = vipOwners.putIfAbsent(vip, source);
            if (owner != null)
            {
                skipped.add(new Skipped(source, "VIP " + vip + " is already " + owner + "'s"));
                return;
            }
            final boolean clusterVip = kind == DesiredService.Kind.CLUSTER_IP;
            // internalTrafficPolicy governs the ClusterIP, externalTrafficPolicy the node and load balancer
            // addresses; Local means this node's endpoints only.
            final String policyName = clusterVip ?
                service.getSpec().getInternalTrafficPolicy() : service.getSpec().getExternalTrafficPolicy();
            final boolean localOnly = "Local".equals(policyName);
            final List<BackendConfig> backends = new ArrayList<>();
            for (final Candidate endpoint : sorted(localOnly ? local : cluster))
            {
                final int port = endpoint.port() == vip.port() ? 0 : endpoint.port();
                backends.add(new BackendConfig(new HostPort(endpoint.address(), port), 1, BackendState.ACTIVE, 0));
            }
            // kube-proxy drops the traffic of a Local VIP while the node has none of the Service's endpoints but
            // others have some; a Service without any endpoint it rejects, which crab's default (the LB host's
            // stack answers with a reset) already is.
            final NoBackendAction noBackend = localOnly && anyEndpoint ? NoBackendAction.DROP : NoBackendAction.PASS;
            // Source ranges restrict the load balancer's addresses only, as kube-proxy applies them.
            final List<Cidr> allowFrom = kind == DesiredService.Kind.LOAD_BALANCER ? sourceRanges : List.of();
            // Pods hold neither ClusterIPs nor node addresses, sit behind their nodes and listen on targetPort: a
            // client without crab reaches them through the translating fallback, never direct server return.
            final ServiceConfig config = new ServiceConfig(LbConfig.flagServiceName(vip), vip, Policy.RR, false,
                FallbackMode.TRANSLATE, affinitySeconds, allowFrom, noBackend, backends, 0);
            // With externalTrafficPolicy Cluster kube-proxy masquerades external traffic so that a backend on
            // another node answers through this one; Local keeps the client's address and needs a local backend.
            // crab never rewrites the source, but the flag says the Service relies on it.
            final boolean preserve = !clusterVip && localOnly;
            desired.add(new DesiredService(config, source, kind, preserve));
        }

        /**
         * kube-proxy's cluster-wide endpoints: the ready ones (narrowed to this zone's by topology hints when they
         * can be used); when none is ready, those still serving while they terminate, without topology.
         */
        private static List<Candidate> clusterEndpoints(final List<Candidate> endpoints, final NodeContext node)
        {
            final boolean topology = canUseTopology(endpoints, node);
            final List<Candidate> ready = filter(endpoints,
                e -> e.ready() && (!topology || e.zoneHints().contains(node.zone())));
            return ready.isEmpty() ? filter(endpoints, Candidate::servingTerminating) : ready;
        }

        /** This node's ready endpoints, else its serving-and-terminating ones. */
        private static List<Candidate> localEndpoints(final List<Candidate> endpoints, final NodeContext node)
        {
            final Predicate<Candidate> local = e -> node.nodeName().equals(e.nodeName());
            final List<Candidate> ready = filter(endpoints, e -> local.test(e) && e.ready());
            return ready.isEmpty() ? filter(endpoints, e -> local.test(e) && e.servingTerminating()) : ready;
        }

        /**
         * Topology hints count only when the node has a zone, every ready endpoint has a zone hint (the
         * EndpointSlice controller hints all or none; a partly hinted set is mid-change) and at least one is hinted
         * for this zone; otherwise every ready endpoint is used, so hints never leave a zone without backends.
         */
        private static boolean canUseTopology(final List<Candidate> endpoints, final NodeContext node)
        {
            if (node.zone().isEmpty())
            {
                return false;
            }
            boolean forThisZone = false;
            for (final Candidate endpoint : endpoints)
            {
                if (!endpoint.ready())
                {
                    continue;
                }
                if (endpoint.zoneHints().isEmpty())
                {
                    return false;
                }
                forThisZone |= endpoint.zoneHints().contains(node.zone());
            }
            return forThisZone;
        }

        private static List<Candidate> filter(final List<Candidate> endpoints, final Predicate<Candidate> keep)
        {
            return endpoints.stream().filter(keep).toList();
        }

        private static List<Candidate> sorted(final List<Candidate> endpoints)
        {
            return endpoints.stream()
                .sorted(Comparator.comparingLong((Candidate e) -> HostPort.ipv4Bits(e.address()) & 0xffffffffL)
                    .thenComparingInt(Candidate::port))
                .toList();
        }
    }
}
