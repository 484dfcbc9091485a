package io.crab.k8s;

import io.crab.agent.AgentMain;
import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.agent.DutyCycleErrors;
import io.crab.agent.Log;
import io.crab.agent.LogOptions;
import io.crab.agent.OptionKind;
import io.crab.agent.Parse;
import io.crab.agent.metrics.MetricsServer;
import io.crab.bpf.Abi;
import io.crab.endpoint.pods.PodEndpoints;
import io.crab.k8s.watch.ClusterAgent;
import io.crab.k8s.watch.ClusterWatch;
import io.crab.lb.CrabLb;
import io.crab.lb.LbAgent;
import io.crab.lb.LbContext;
import io.crab.lb.xdp.XdpModeOption;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import org.agrona.concurrent.CompositeAgent;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.SystemNanoClock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * {@code crab-k8s}: crab as a Kubernetes cluster's Service proxy on one node. It watches the cluster's Services,
 * EndpointSlices and this node's Node, and applies what they ask of the node: with {@code --lb-iface}, crab-lb's
 * XDP and TC programs on that interface for the ClusterIPs, NodePorts and load balancer IPs; the
 * {@code healthCheckNodePort}s of Services with externalTrafficPolicy Local; and the VIPs to the pods' client
 * programs.
 */
@Command(name = "crab-k8s", mixinStandardHelpOptions = true, version = "crab-k8s 0.1.0",
    description = "Serves the cluster's Services on this node with crab: watches Services, EndpointSlices and " +
        "the Node, and programs crab-lb (--lb-iface) and the health check ports live.")
public final class CrabK8s implements Callable<Integer>
{
    /** How long the first lists from the API server may take before crab-k8s gives up. */
    static final Duration SYNC_TIMEOUT = Duration.ofSeconds(30);
    /** A label value ({@code service.kubernetes.io/service-proxy-name}). */
    private static final Pattern LABEL_VALUE = Pattern.compile("[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?");
    private static final Pattern IFACE = Pattern.compile("[^/\\s:]{1,15}");

    @Spec
    CommandSpec spec;

    @Option(names = "--node-name", paramLabel = "NAME", defaultValue = "${env:NODE_NAME}",
        description = "This node's name, as its Node object has it (default: the environment variable NODE_NAME, " +
            "which a DaemonSet sets from spec.nodeName).")
    String nodeName;

    @Option(names = "--kubeconfig", paramLabel = "FILE", description = "The cluster and credentials (default: the " +
        "pod's service account in a cluster, else ~/.kube/config).")
    Path kubeconfig;

    @Option(names = "--lb-iface", paramLabel = "IFACE", description = "Make this node a load balancer: crab-lb's " +
        "XDP and TC programs on its uplink IFACE for the ClusterIPs, NodePorts and load balancer IPs. Without it: " +
        "the endpoint role only.")
    String lbIface;

    @Option(names = "--pod-netns-dir", paramLabel = "DIR", defaultValue = "/var/run/netns",
        description = "Where the container runtime keeps the pods' network namespace files (default ${DEFAULT-VALUE}).")
    Path podNetnsDir;

    @Option(names = "--pod-state-dir", paramLabel = "DIR", description = "Where on the bpffs this crab-k8s marks " +
        "the pods it attached, and removes the pins of those gone (default /sys/fs/bpf/crab-pods). One crab-k8s " +
        "per directory: another's pods would look gone to it.")
    Path podStateDir;

    @Option(names = "--pod-iface", paramLabel = "NAME", defaultValue = "eth0",
        description = "The pods' interface inside their network namespace (default ${DEFAULT-VALUE}).")
    String podIface;

    @Option(names = "--node-port-range", paramLabel = "LOW-HIGH", defaultValue = "30000-32767",
        description = "The cluster's NodePort range, the API server's --service-node-port-range " +
            "(default ${DEFAULT-VALUE}).")
    String nodePortRange;

    @Option(names = "--proxy-name", paramLabel = "NAME", description = "Serve the Services whose label " +
        "service.kubernetes.io/service-proxy-name is NAME too (default: only Services without that label).")
    String proxyName;

    @Option(names = "--health-check-address", paramLabel = "IP", description = "Where the healthCheckNodePorts " +
        "listen (default: the node's first InternalIP or ExternalIP).")
    String healthCheckAddress;

    @Option(names = "--metrics-address", paramLabel = "IP:PORT", description = "Serve Prometheus metrics at " +
        "http://IP:PORT/metrics: crab-lb's with --lb-iface, the pods' attachment without; off unless given.")
    String metricsAddress;

    @Mixin
    LogOptions logOptions = new LogOptions();

    @Option(names = "--max-services", paramLabel = "N", defaultValue = "" + Abi.Consts.CRAB_MAX_VIPS,
        description = "VIPs the LB's maps hold: every ClusterIP:port, node IP:nodePort and load balancer IP:port " +
            "(default ${DEFAULT-VALUE}).")
    int maxServices;

    @Option(names = "--max-backends", paramLabel = "N", defaultValue = "" + Abi.Consts.CRAB_MAX_BACKENDS,
        description = "Distinct endpoints over all services (default ${DEFAULT-VALUE}).")
    int maxBackends;

    @Option(names = "--max-slots", paramLabel = "N", defaultValue = "" + Abi.Consts.CRAB_MAX_SLOTS,
        description = "Endpoints of one service's table (default ${DEFAULT-VALUE}).")
    int maxSlots;

    @Option(names = "--xdp-mode", defaultValue = "auto", converter = CrabLb.XdpModeConverter.class, paramLabel = "MODE",
        description = "auto (default), native or generic, as crab-lb's.")
    XdpModeOption xdpMode;

    public static void main(final String... args)
    {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    public static int run(final PrintWriter out, final PrintWriter err, final String... args)
    {
        return Cli.run(new CrabK8s(), out, err, args);
    }

    @Override
    public Integer call() throws Exception
    {
        final Settings settings = settings();
        final SystemNanoClock clock = new SystemNanoClock();
        final Log log = logOptions.log("crab-k8s", spec.commandLine().getErr(), SystemEpochClock.INSTANCE);
        try (KubernetesClient client = new KubernetesClientBuilder().withConfig(clientConfig()).build();
            ClusterWatch watch = ClusterWatch.start(client, new ClusterWatch.NodeSettings(nodeName,
                settings.nodePortMin, settings.nodePortMax, proxyName), clock, SYNC_TIMEOUT, log))
        {
            final NodeContext node = watch.node();
            final Inet4Address healthAddress = settings.healthAddress != null ? settings.healthAddress :
                node.nodeIps().stream().findFirst().orElseThrow(() -> new ConfigException("--health-check-address " +
                    "is needed: Node " + nodeName + " has no IPv4 InternalIP or ExternalIP address"));
            // Every node is the endpoint role: its pods' client and server programs, the client's VIPs from the
            // same watch. An LB node's pods are clients and backends too.
            final DutyCycleErrors errors = new DutyCycleErrors(log, clock);
            final PodEndpoints pods = new PodEndpoints(settings.pods, clock, SystemEpochClock.INSTANCE, log, errors);
            final VipSetListener vips = set ->
            {
                pods.vips(set);
                log.info(set.size() + " VIPs for the pods' client programs", "vips", set.size());
            };
            try (HealthCheckServers health = new HealthCheckServers(healthAddress, watch::healthy, log))
            {
                if (lbIface == null)
                {
                    final ClusterAgent cluster = new ClusterAgent(watch, new ClusterApply(health, vips, null), clock,
                        log);
                    try (MetricsServer metrics = settings.metrics == null ? null :
                        MetricsServer.start(settings.metrics, "crab-k8s-metrics", () -> podMetrics(pods, watch)))
                    {
                        new AgentMain().run(new CompositeAgent(pods, cluster), new SleepingMillisIdleStrategy(10),
                            errors, () -> ready(watch, healthAddress, "endpoint role (pods in " +
                                settings.pods.netnsDir() + ", on " + settings.pods.iface() + ")" +
                                (metrics == null ? "" : "; metrics on http://" + MetricsServer.text(settings.metrics) +
                                    "/metrics")), log);
                    }
                    return Cli.OK;
                }
                final RoutedEndpoints routed = RoutedEndpoints.of(lbIface, log);
                final ClusterConfigSource source = new ClusterConfigSource(settings.limits.config(),
                    routed.keepRouted(watch.desired().lbConfig()));
                // The Services ask for rr and hash only, which need no load reports: no UDP port is opened for them.
                final LbContext ctx = LbContext.of(lbIface, source, settings.limits, false, OptionKind.DEFAULT,
                    1000, LbContext.Feedback.of(0, null)).withMetrics(settings.metrics).withXdpMode(xdpMode);
                final LbAgent lb = new LbAgent(ctx, clock, SystemEpochClock.INSTANCE, log);
                final ClusterAgent cluster = new ClusterAgent(watch, new ClusterApply(health, vips, config ->
                {
                    if (source.offer(routed.keepRouted(config)))
                    {
                        lb.requestReload();
                    }
                }), clock, log);
                // crab-lb's agent starts first: its XDP program is attached before the health checks say yes.
                new AgentMain().run(new CompositeAgent(lb, pods, cluster), new SleepingMillisIdleStrategy(10), errors,
                    () -> ready(watch, healthAddress, "LB on " + lbIface + ", XDP " + lb.xdpMode().word() +
                        "; pods in " + settings.pods.netnsDir() + ", on " + settings.pods.iface()), log);
            }
        }
        return Cli.OK;
    }

    private static String ready(final ClusterWatch watch, final Inet4Address healthAddress, final String role)
    {
        final NodeContext node = watch.node();
        return "ready: node " + node.nodeName() + " (" + node.nodeIps().stream().map(Inet4Address::getHostAddress)
            .collect(Collectors.joining(", ")) + (node.zone().isEmpty() ? "" : "; zone " + node.zone()) + "); " +
            watch.desired().services().size() + " services; health check ports on " +
            healthAddress.getHostAddress() + "; " + role;
    }

    /** The options, checked before anything talks to the cluster or the kernel. */
    private Settings settings()
    {
        if (nodeName == null || nodeName.isBlank())
        {
            throw new ConfigException("--node-name is required (or the environment variable NODE_NAME)");
        }
        final int[] range = nodePortRange(nodePortRange);
        if (proxyName != null && !LABEL_VALUE.matcher(proxyName).matches())
        {
            throw new ConfigException("--proxy-name '" + proxyName + "': not a label value (1-63 of A-Z a-z 0-9 " +
                "- _ ., starting and ending with a letter or digit)");
        }
        if (!IFACE.matcher(podIface).matches())
        {
            throw new ConfigException("--pod-iface '" + podIface + "': not an interface name");
        }
        if (lbIface != null && !IFACE.matcher(lbIface).matches())
        {
            throw new ConfigException("--lb-iface '" + lbIface + "': not an interface name");
        }
        final Inet4Address healthAddress;
        try
        {
            healthAddress = healthCheckAddress == null ? null : Parse.ipv4(healthCheckAddress);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new ConfigException("--health-check-address " + ex.getMessage());
        }
        if (podStateDir != null && Files.exists(podStateDir) && !Files.isDirectory(podStateDir))
        {
            throw new ConfigException("--pod-state-dir " + podStateDir + ": not a directory");
        }
        final PodEndpoints.Context pods = PodEndpoints.Context.defaults().withNetnsDir(podNetnsDir)
            .withIface(podIface).withStateDir(podStateDir == null ?
                PodEndpoints.Context.DEFAULT_STATE_DIR : podStateDir);
        if (kubeconfig != null && !Files.isReadable(kubeconfig))
        {
            throw new ConfigException("--kubeconfig " + kubeconfig + ": " +
                (Files.exists(kubeconfig) ? "cannot be read" : "no such file"));
        }
        final LbContext.Limits limits = LbContext.Limits.of(maxServices, maxBackends, maxSlots,
            Abi.Consts.CRAB_MAGLEV_SIZE, Abi.Consts.CRAB_CONN_TABLE_SIZE, Abi.Consts.CRAB_AFFINITY_TABLE_SIZE);
        return new Settings(range[0], range[1], healthAddress, MetricsServer.parseAddress(metricsAddress), limits,
            pods);
    }

    /** {@code --node-port-range LOW-HIGH}, each a port. */
    static int[] nodePortRange(final String text)
    {
        final int dash = text.indexOf('-');
        if (dash < 0)
        {
            throw new ConfigException("--node-port-range '" + text + "': expected LOW-HIGH, e.g. 30000-32767");
        }
        final int[] range = new int[2];
        final String[] parts = {text.substring(0, dash), text.substring(dash + 1)};
        for (int i = 0; i < 2; i++)
        {
            try
            {
                range[i] = Parse.decimalInt(parts[i], 1, 65535);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new ConfigException("--node-port-range '" + text + "': '" + parts[i] + "' " + ex.getMessage());
            }
        }
        if (range[0] > range[1])
        {
            throw new ConfigException("--node-port-range '" + text + "': the low end is above the high end");
        }
        return range;
    }

    private Config clientConfig()
    {
        if (kubeconfig == null)
        {
            return Config.autoConfigure(null);
        }
        try
        {
            return Config.fromKubeconfig(kubeconfig.toFile());
        }
        catch (final RuntimeException ex)
        {
            // The YAML parser's message spans lines, with a drawing of where: one line of it all.
            throw new ConfigException("--kubeconfig " + kubeconfig + ": not a kubeconfig file (" +
                String.valueOf(ex.getMessage()).replaceAll("[\\s^]+", " ").strip() + ")");
        }
    }

    private record Settings(int nodePortMin, int nodePortMax, Inet4Address healthAddress,
        InetSocketAddress metrics, LbContext.Limits limits, PodEndpoints.Context pods)
    {
    }

    /** The endpoint role's metrics: the pods served, their failures, the services and VIPs the watch gives. */
    private static MetricSnapshots podMetrics(final PodEndpoints pods, final ClusterWatch watch)
    {
        return new MetricSnapshots(
            GaugeSnapshot.builder().name("crab_k8s_pods_attached").help("Pods with crab's client and server " +
                "programs attached.").dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                .value(pods.attached().size()).build()).build(),
            CounterSnapshot.builder().name("crab_k8s_pod_errors").help("Failures attaching to or serving a pod " +
                "(each retried).").dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
                .value(pods.errors()).build()).build(),
            GaugeSnapshot.builder().name("crab_k8s_services").help("The crab services this node's cluster view " +
                "asks for.").dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                .value(watch.desired().services().size()).build()).build(),
            GaugeSnapshot.builder().name("crab_k8s_watch_healthy").help("1 while the watch on the API server " +
                "runs.").dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                .value(watch.healthy() ? 1 : 0).build()).build());
    }
}
