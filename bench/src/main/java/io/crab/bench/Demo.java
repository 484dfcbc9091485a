package io.crab.bench;

import com.codahale.metrics.MetricRegistry;
import io.crab.agent.Cli;
import io.crab.bench.cluster.CrabCluster;
import io.crab.bench.traffic.LatencyReport;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bench.traffic.Workload;
import io.crab.bpf.frames.Frames;
import io.crab.endpoint.EndpointAgent;
import io.crab.lb.LbStatus;
import io.crab.rig.Host;
import io.crab.rig.PacketSocket;
import io.crab.rig.Topology;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code ./crab demo}: a real topology (3 clients, one without crab, the LB, 3 servers reporting their load, in
 * network namespaces), the real daemons, CRR and RR traffic direct to a backend and through the VIP, interleaved
 * round by round; then the client without crab through the hashing fallback, a live reload of the weights, jsq
 * against a server loaded behind the LB's back, the daemons killed and started again and a host on the bridge
 * forging packets, both while connections are open; and a report of what happened.
 */
@Command(name = "crab-demo", mixinStandardHelpOptions = true,
    description = "Runs crab on a namespace topology and reports connections, LB packets and latency.")
public final class Demo implements Callable<Integer>
{
    static final String MODE_DIRECT = "direct";
    static final String MODE_VIP = "crab (VIP)";
    private static final int PORT = 80;
    /** Service nodeport's VIP port, as a Kubernetes NodePort: its backends listen on TARGET_PORT, hold no VIP. */
    private static final int NODE_PORT = 30080;
    private static final int TARGET_PORT = 8080;
    private static final String NODE_PORT_VIP = Topology.vip(2);
    private static final int NEW_CONNECTIONS = 100;
    /** Where the demo's crab-lb serves Prometheus metrics, on the LB host's address. */
    private static final int METRICS_PORT = 9750;

    /** Idle connections that make s1 the loaded server in the jsq phase. */
    private static final int HELD_ON_S1 = 30;
    private static final int JSQ_CONNECTIONS = 300;
    /** Connections from c1 to web with ClientIP affinity; c3, outside allow-from, tries a few. */
    private static final int AFFINITY_CONNECTIONS = 100;
    private static final int TURNED_AWAY_TRIES = 3;

    @Spec
    CommandSpec spec;

    @Option(names = "--rounds", defaultValue = "3", description = "Interleaved rounds of every measurement.")
    int rounds;

    @Option(names = "--crr", defaultValue = "1000", description = "Connections per CRR measurement.")
    int crrCount;

    @Option(names = "--rr", defaultValue = "5000", description = "Round trips per RR measurement.")
    int rrCount;

    @Option(names = "--spread", defaultValue = "600", description = "Connections per client for the spread phase.")
    int spreadCount;

    @Option(names = "--payload", defaultValue = "8", description = "Request and response size in bytes.")
    int payload;

    @Option(names = "--open", defaultValue = "40", description = "Connections kept open through restarts and forgery.")
    int openCount;

    public static void main(final String... args)
    {
        System.exit(Cli.run(new Demo(), new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    @Override
    public Integer call() throws Exception
    {
        final PrintWriter out = spec.commandLine().getOut();
        final Path logs = Files.createTempDirectory("crab-demo-");
        boolean done = false;
        try
        {
            run(out, logs);
            done = true;
        }
        finally
        {
            if (done)
            {
                CrabBench.deleteTree(logs);
            }
            else
            {
                spec.commandLine().getErr().println("crab demo: failed; the daemons' logs are in " + logs);
            }
        }
        return Cli.OK;
    }

    private void run(final PrintWriter out, final Path logs) throws Exception
    {
        out.println("crab demo: building 3 clients (c3 without crab), 1 load balancer, 3 servers in network " +
            "namespaces...");
        try (Topology topology = Topology.builder().clients(3).servers(3).build())
        {
            final String vip = Topology.vip(1);
            final Map<Host, List<String>> clientVips = new LinkedHashMap<>();
            topology.clients().forEach(c -> clientVips.put(c, c == topology.clients().get(2) ? List.of() :
                List.of(vip + ":" + PORT)));
            out.println("starting echo servers, crab-endpoint on every host but c3 and crab-lb from a services file " +
                "(logs in " + logs + ")...");
            try (CrabCluster cluster = CrabCluster.start(topology, logs, List.of(PORT, TARGET_PORT), clientVips, List.of(),
                CrabCluster.reportingToTheLb(topology)))
            {
                cluster.serveVip(vip, List.of(PORT));
                final String metricsAddress = topology.lb().ip() + ":" + METRICS_PORT;
                cluster.startLbWithServices(services(topology, vip, "rr", 1), "--metrics-address", metricsAddress);
                final Host client = topology.clients().get(0);
                final InetSocketAddress direct = new InetSocketAddress(topology.servers().get(0).ip(), PORT);
                final InetSocketAddress viaVip = new InetSocketAddress(vip, PORT);

                out.printf("measuring CRR and RR from %s, %d interleaved rounds...%n", client.name(), rounds);
                final List<LoadResult> latency = measure(out, client, direct, viaVip);

                out.printf("spread: %d connections from each client through the VIP at once...%n", spreadCount);
                final List<LoadResult> spread = spread(topology, viaVip);

                final List<String> lines = new ArrayList<>();
                out.printf("fallback: %d connections from c3, which has no crab, through the VIP...%n", spreadCount);
                lines.add(fallback(cluster, topology.clients().get(2), viaVip));
                out.printf("translate: %d connections from c3 to %s:%d, whose backends listen on port %d and hold " +
                    "no VIP...%n", NEW_CONNECTIONS, NODE_PORT_VIP, NODE_PORT, TARGET_PORT);
                lines.add(translate(cluster, topology));
                out.println("reload: the services file rewritten with s1 at weight 3, while crab-lb runs...");
                lines.add(reload(cluster, topology, client, vip, viaVip));
                out.printf("jsq: %d idle connections held open from %s straight to s1, then web switched to jsq...%n",
                    HELD_ON_S1, client.name());
                lines.add(joinShortestQueue(cluster, topology, client, vip, viaVip));
                out.println("affinity and allow-from: web reloaded with 'affinity client-ip 10m' and an allow-from " +
                    "of c1 and c2 only...");
                lines.add(affinityAndAdmission(cluster, topology, client, vip, viaVip));
                out.printf("metrics: %s scrapes http://%s/metrics...%n", client.name(), metricsAddress);
                lines.add(metrics(cluster, topology, client, metricsAddress));
                try (DemoConnections open = DemoConnections.open(client, viaVip, openCount))
                {
                    out.printf("restarts: %d connections open from %s through the VIP; killing crab-lb (SIGKILL) " +
                        "and stopping crab-endpoint client (SIGTERM), then starting both again...%n", openCount,
                        client.name());
                    lines.add(restarts(cluster, client, viaVip, open));
                    out.printf("forgery: %s sends forged RSTs and SYN-ACKs at those connections...%n",
                        topology.clients().get(1).name());
                    lines.add(forgery(topology, client, topology.clients().get(1), vip, open));
                }
                report(out, topology, cluster, vip, latency, spread, lines);
            }
        }
    }

    /** Service web on the VIP over the three servers under {@code policy}, s1 with {@code firstWeight}. */
    private static List<String> services(final Topology topology, final String vip, final String policy,
        final int firstWeight)
    {
        final List<String> lines = new ArrayList<>(List.of("service web", "  vip " + vip + ":" + PORT,
            "  policy " + policy));
        for (int i = 0; i < topology.servers().size(); i++)
        {
            lines.add("  backend " + topology.servers().get(i).ip() + " weight " + (i == 0 ? firstWeight : 1));
        }
        // As crab-k8s makes a NodePort: another port than the backends', which do not hold the VIP.
        lines.addAll(List.of("service nodeport", "  vip " + NODE_PORT_VIP + ":" + NODE_PORT, "  fallback translate"));
        topology.servers().forEach(h -> lines.add("  backend " + h.ip() + ":" + TARGET_PORT));
        return lines;
    }

    /** A client without crab to a service of the translating fallback; one report line. */
    private String translate(final CrabCluster cluster, final Topology topology)
    {
        final Host plain = topology.clients().get(2);
        final MetricRegistry before = cluster.lbStatus();
        final List<Map<String, Long>> serversBefore = topology.servers().stream()
            .map(h -> CrabCluster.endpointCounters(h, EndpointAgent.Role.SERVER)).toList();
        final LoadResult crr = Workload.CRR.run(LoadSpec.to(new InetSocketAddress(NODE_PORT_VIP, NODE_PORT))
            .withPayloadBytes(payload).withMaxTransactions(NEW_CONNECTIONS).withDuration(Duration.ofSeconds(60))
            .withThreadFactory(plain.netns().threadFactory("demo-translate")));
        final MetricRegistry after = cluster.lbStatus();
        long recorded = 0;
        long replies = 0;
        for (int i = 0; i < topology.servers().size(); i++)
        {
            final Map<String, Long> now = CrabCluster.endpointCounters(topology.servers().get(i),
                EndpointAgent.Role.SERVER);
            recorded += now.get("translation_recorded") - serversBefore.get(i).get("translation_recorded");
            replies += now.get("reply_translated") - serversBefore.get(i).get("reply_translated");
        }
        final long rewritten = CrabCluster.gauge(after, "crab.lb.fallback.translated") -
            CrabCluster.gauge(before, "crab.lb.fallback.translated");
        return String.format("translate: c3 (no crab) made %d/%d connections to %s:%d, p50 %.1f µs; the LB " +
            "rewrote %d of their packets to the backends' port %d, the servers recorded %d translations and sent " +
            "%d replies as %s:%d, straight to c3", crr.transactions(), NEW_CONNECTIONS, NODE_PORT_VIP, NODE_PORT,
            crr.p50Us(), rewritten, TARGET_PORT, recorded, replies, NODE_PORT_VIP, NODE_PORT);
    }

    /** A client without crab through the VIP: the hashing fallback; one report line. */
    private String fallback(final CrabCluster cluster, final Host plain, final InetSocketAddress viaVip)
    {
        final MetricRegistry before = cluster.lbStatus();
        final LoadResult crr = Workload.CRR.run(LoadSpec.to(viaVip).withPayloadBytes(payload)
            .withMaxTransactions(spreadCount).withDuration(Duration.ofSeconds(60))
            .withThreadFactory(plain.netns().threadFactory("demo-plain")));
        final MetricRegistry after = cluster.lbStatus();
        final String perBackend = cluster.topology().servers().stream().map(h -> "crab.lb.backend." + h.ip() +
            ".fallbacks").map(n -> String.valueOf(CrabCluster.gauge(after, n) - CrabCluster.gauge(before, n)))
            .collect(Collectors.joining("/"));
        final double lbPackets = (double)(CrabCluster.lbPackets(after) - CrabCluster.lbPackets(before)) /
            Math.max(1, crr.transactions());
        return String.format("fallback: c3 (no crab) made %d/%d connections through the VIP, p50 %.1f µs; the LB " +
            "placed them by Maglev hashing %s over s1/s2/s3 and saw %.1f packets per connection (the client's " +
            "only: the backends answered directly)", crr.transactions(), spreadCount, crr.p50Us(), perBackend,
            lbPackets);
    }

    /** Rewrites the services file and measures the new split; one report line. */
    private String reload(final CrabCluster cluster, final Topology topology, final Host client, final String vip,
        final InetSocketAddress viaVip) throws InterruptedException
    {
        final long start = System.nanoTime();
        cluster.writeServices(services(topology, vip, "rr", 3));
        while (!cluster.lb().logText().contains("reload 1:") && System.nanoTime() - start < 5_000_000_000L)
        {
            Thread.sleep(10);
        }
        final long appliedMs = (System.nanoTime() - start) / 1_000_000;
        final MetricRegistry before = cluster.lbStatus();
        final LoadResult crr = Workload.CRR.run(LoadSpec.to(viaVip).withPayloadBytes(payload).withMaxTransactions(500)
            .withDuration(Duration.ofSeconds(60)).withThreadFactory(client.netns().threadFactory("demo-reload")));
        final MetricRegistry after = cluster.lbStatus();
        final String split = topology.servers().stream().map(h -> "crab.lb.backend." + h.ip() + ".syns")
            .map(n -> String.valueOf(CrabCluster.gauge(after, n) - CrabCluster.gauge(before, n)))
            .collect(Collectors.joining("/"));
        return String.format("reload: s1's weight 1 -> 3 written to the services file; applied %d ms later; the next " +
            "%d connections split %s over s1/s2/s3 (3:1:1)", appliedMs, crr.transactions(), split);
    }

    /**
     * Loads s1 with idle connections that bypass the VIP, which only its server's load reports can tell the LB
     * about, switches web to jsq and measures where new connections go; one report line.
     */
    private String joinShortestQueue(final CrabCluster cluster, final Topology topology, final Host client,
        final String vip, final InetSocketAddress viaVip) throws InterruptedException
    {
        final Host s1 = topology.servers().get(0);
        final String s1Load = "crab.lb.backend." + s1.ip() + ".load";
        try (DemoConnections held = DemoConnections.open(client, new InetSocketAddress(s1.ip(), PORT), HELD_ON_S1))
        {
            final long start = System.nanoTime();
            long reported = CrabCluster.gauge(cluster.lbStatus(), s1Load);
            while (reported < HELD_ON_S1 && System.nanoTime() - start < 5_000_000_000L)
            {
                Thread.sleep(10);
                reported = CrabCluster.gauge(cluster.lbStatus(), s1Load);
            }
            final long seenMs = (System.nanoTime() - start) / 1_000_000;
            cluster.reloadServices(services(topology, vip, "jsq", 1), Duration.ofSeconds(5));
            final MetricRegistry before = cluster.lbStatus();
            final LoadResult crr = Workload.CRR.run(LoadSpec.to(viaVip).withPayloadBytes(payload)
                .withMaxTransactions(JSQ_CONNECTIONS).withDuration(Duration.ofSeconds(60))
                .withThreadFactory(client.netns().threadFactory("demo-jsq")));
            final MetricRegistry after = cluster.lbStatus();
            final String split = topology.servers().stream().map(h -> "crab.lb.backend." + h.ip() + ".syns")
                .map(n -> String.valueOf(CrabCluster.gauge(after, n) - CrabCluster.gauge(before, n)))
                .collect(Collectors.joining("/"));
            return String.format("jsq: %d idle connections held open straight to s1 (not through the VIP); s1's " +
                "server reported load %d to crab-lb within %d ms; web switched to jsq (1:1:1) by a live reload; the " +
                "next %d connections split %s over s1/s2/s3: the loaded server is left alone", held.size(), reported,
                seenMs, crr.transactions(), split);
        }
    }

    /**
     * Web with ClientIP affinity, admitting the two crab clients only (kube-proxy's sessionAffinity and
     * loadBalancerSourceRanges): where one client's connections go, and what becomes of c3's, which is outside the
     * prefixes; then web as the jsq phase left it. One report line.
     */
    private String affinityAndAdmission(final CrabCluster cluster, final Topology topology, final Host client,
        final String vip, final InetSocketAddress viaVip) throws Exception
    {
        final List<String> file = services(topology, vip, "jsq", 1);
        final int afterPolicy = file.indexOf("  policy jsq") + 1;
        file.add(afterPolicy, "  affinity client-ip 10m");
        file.add(afterPolicy + 1, "  allow-from " + topology.clients().get(0).ip() + "/32, " +
            topology.clients().get(1).ip() + "/32");
        cluster.reloadServices(file, Duration.ofSeconds(5));
        final MetricRegistry before = cluster.lbStatus();
        final LoadResult crr = Workload.CRR.run(LoadSpec.to(viaVip).withPayloadBytes(payload)
            .withMaxTransactions(AFFINITY_CONNECTIONS).withDuration(Duration.ofSeconds(60))
            .withThreadFactory(client.netns().threadFactory("demo-affinity")));
        final MetricRegistry between = cluster.lbStatus();
        final String split = topology.servers().stream().map(h -> "crab.lb.backend." + h.ip() + ".syns")
            .map(n -> String.valueOf(CrabCluster.gauge(between, n) - CrabCluster.gauge(before, n)))
            .collect(Collectors.joining("/"));
        final Host plain = topology.clients().get(2);
        int timedOut = 0;
        for (int i = 0; i < TURNED_AWAY_TRIES; i++)
        {
            timedOut += plain.netns().call(() ->
            {
                try (Socket s = new Socket())
                {
                    s.connect(viaVip, 300);
                    return 0;
                }
                catch (final SocketTimeoutException noAnswer)
                {
                    return 1;
                }
            });
        }
        final MetricRegistry after = cluster.lbStatus();
        final long dropped = CrabCluster.gauge(after, "crab.lb.packets.drop_source_range") -
            CrabCluster.gauge(between, "crab.lb.packets.drop_source_range");
        cluster.reloadServices(services(topology, vip, "jsq", 1), Duration.ofSeconds(5));
        return String.format("affinity and allow-from: with 'affinity client-ip 10m' %s's %d connections split %s " +
            "over s1/s2/s3 (%d to its remembered backend, %d balanced); c3, outside 'allow-from' c1 and c2, got no " +
            "answer to %d of %d connects (the LB dropped %d SYNs from it)", client.name(), crr.transactions(), split,
            CrabCluster.gauge(between, "crab.lb.affinity.hit") - CrabCluster.gauge(before, "crab.lb.affinity.hit"),
            CrabCluster.gauge(between, "crab.lb.affinity.new") - CrabCluster.gauge(before, "crab.lb.affinity.new"),
            timedOut, TURNED_AWAY_TRIES, dropped);
    }

    /**
     * Scrapes crab-lb's Prometheus endpoint from a client, as a monitoring system would, and holds its per-backend
     * SYN counters against what crab-lb status reads from the same maps; one report line.
     */
    private static String metrics(final CrabCluster cluster, final Topology topology, final Host client,
        final String address) throws Exception
    {
        final String text = client.netns().call(() ->
        {
            final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            return http.send(HttpRequest.newBuilder(URI.create("http://" + address + "/metrics"))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body();
        });
        final MetricRegistry status = cluster.lbStatus();
        final long families = text.lines().filter(l -> l.startsWith("# TYPE ")).count();
        final List<String> scraped = new ArrayList<>();
        final List<String> read = new ArrayList<>();
        for (final Host s : topology.servers())
        {
            final String prefix = "crab_lb_syns_redirected_total{backend=\"" + s.ip() + "\"} ";
            scraped.add(text.lines().filter(l -> l.startsWith(prefix)).map(l -> l.substring(prefix.length()))
                .map(v -> String.valueOf((long)Double.parseDouble(v))).findFirst().orElse("-"));
            read.add(String.valueOf(CrabCluster.gauge(status, "crab.lb.backend." + s.ip() + ".syns")));
        }
        return String.format("metrics: %s scraped crab-lb's http://%s/metrics: %d metric families; " +
            "crab_lb_syns_redirected_total %s over s1/s2/s3, crab-lb status %s (%s)", client.name(), address,
            families, String.join("/", scraped), String.join("/", read),
            scraped.equals(read) ? "the same" : "they differ");
    }

    /** Kills and restarts the daemons with connections open; one report line. */
    private String restarts(final CrabCluster cluster, final Host client, final InetSocketAddress viaVip,
        final DemoConnections open)
    {
        cluster.lb().kill();
        cluster.endpoint(client).stop();
        final int whileDown = open.echoing();
        final LoadResult newWhileDown = newConnections(client, viaVip);
        cluster.restartLb();
        cluster.restartEndpoint(client);
        final boolean adopted = cluster.lb().logText().contains("took over") &&
            cluster.endpoint(client).logText().contains("took over");
        final int after = open.echoing();
        final LoadResult newAfter = newConnections(client, viaVip);
        return String.format("restarts: with both daemons down, %d/%d open connections echoed and %d/%d new ones " +
            "worked; after the restart (%s), %d/%d open and %d/%d new", whileDown, open.size(),
            newWhileDown.transactions(), NEW_CONNECTIONS, adopted ? "each daemon took over the pinned state" :
                "the pinned state was NOT taken over", after, open.size(), newAfter.transactions(), NEW_CONNECTIONS);
    }

    private LoadResult newConnections(final Host client, final InetSocketAddress viaVip)
    {
        return Workload.CRR.run(LoadSpec.to(viaVip).withPayloadBytes(payload).withMaxTransactions(NEW_CONNECTIONS)
            .withDuration(Duration.ofSeconds(20)).withThreadFactory(client.netns().threadFactory("demo-new")));
    }

    /** The other client forges RSTs (any sequence number) and SYN-ACKs with the option; one report line. */
    private static String forgery(final Topology topology, final Host client, final Host attacker, final String vip,
        final DemoConnections open)
    {
        final Map<String, Long> before = CrabCluster.endpointCounters(client, EndpointAgent.Role.CLIENT);
        int forged = 0;
        final Random random = new Random(7);
        try (PacketSocket raw = PacketSocket.open(attacker))
        {
            for (final int port : open.localPorts())
            {
                for (final Host server : topology.servers())
                {
                    final Frames.Tcp rst = forgedFrom(server, attacker, client, port);
                    rst.flags = Frames.RST;
                    rst.seq = random.nextInt() & 0xffffffffL;
                    raw.send(rst.build());
                    final Frames.Tcp synAck = forgedFrom(server, attacker, client, port);
                    synAck.flags = Frames.SYN | Frames.ACK;
                    synAck.seq = random.nextInt() & 0xffffffffL;
                    synAck.ack = random.nextInt() & 0xffffffffL;
                    synAck.options = Frames.concat(Frames.bytes(42, 6), Frames.ip(vip), Frames.bytes(1, 1));
                    raw.send(synAck.build());
                    forged += 2;
                }
            }
        }
        final int alive = open.echoing();
        final Map<String, Long> after = CrabCluster.endpointCounters(client, EndpointAgent.Role.CLIENT);
        return String.format("forgery: %d forged RSTs and SYN-ACKs from the backends' addresses; %d/%d connections " +
            "still echo; the client refused %d redirects and removed %d flows because of them", forged, alive,
            open.size(), after.get("redirect_refused") - before.get("redirect_refused") +
                after.get("redirect_late") - before.get("redirect_late"),
            after.get("flow_reset") - before.get("flow_reset"));
    }

    private static Frames.Tcp forgedFrom(final Host server, final Host attacker, final Host client, final int port)
    {
        final Frames.Tcp tcp = new Frames.Tcp();
        tcp.srcMac = Frames.mac(attacker.mac());
        tcp.dstMac = Frames.mac(client.mac());
        tcp.srcIp = Frames.ip(server.ip());
        tcp.dstIp = Frames.ip(client.ip());
        tcp.srcPort = PORT;
        tcp.dstPort = port;
        tcp.options = new byte[0];
        return tcp;
    }

    private List<LoadResult> measure(final PrintWriter out, final Host client, final InetSocketAddress direct,
        final InetSocketAddress viaVip)
    {
        final Map<String, Map<Workload, List<LoadResult>>> runs = new LinkedHashMap<>();
        for (int round = 1; round <= rounds; round++)
        {
            for (final Workload kind : Workload.values())
            {
                for (final String mode : List.of(MODE_DIRECT, MODE_VIP))
                {
                    final LoadSpec spec = LoadSpec.to(mode.equals(MODE_DIRECT) ? direct : viaVip).withLabel(mode)
                        .withPayloadBytes(payload).withConcurrency(1).withWarmup(50)
                        .withMaxTransactions(kind == Workload.CRR ? crrCount : rrCount)
                        .withDuration(Duration.ofSeconds(30))
                        .withThreadFactory(client.netns().threadFactory("demo-" + kind));
                    final LoadResult result = kind.run(spec);
                    runs.computeIfAbsent(mode, m -> new EnumMap<>(Workload.class))
                        .computeIfAbsent(kind, k -> new ArrayList<>()).add(result);
                    out.printf("  round %d %-4s %-11s %s%n", round, kind, mode, result);
                }
            }
        }
        final List<LoadResult> merged = new ArrayList<>();
        for (final Workload kind : Workload.values())
        {
            runs.forEach((mode, byKind) -> merged.add(BenchRunner.merge(mode, kind, byKind.get(kind))));
        }
        return merged;
    }

    private List<LoadResult> spread(final Topology topology, final InetSocketAddress viaVip) throws Exception
    {
        final List<Thread> threads = new ArrayList<>();
        final List<LoadResult> results = new ArrayList<>();
        for (final Host c : topology.clients().subList(0, 2))
        {
            final Thread t = new Thread(() ->
            {
                final LoadResult r = Workload.CRR.run(LoadSpec.to(viaVip).withLabel(MODE_VIP + " " + c.name())
                    .withPayloadBytes(payload).withConcurrency(2).withMaxTransactions(spreadCount)
                    .withDuration(Duration.ofSeconds(60)).withThreadFactory(c.netns().threadFactory("spread")));
                synchronized (results)
                {
                    results.add(r);
                }
            });
            threads.add(t);
            t.start();
        }
        for (final Thread t : threads)
        {
            t.join();
        }
        return results;
    }

    private void report(final PrintWriter out, final Topology topology, final CrabCluster cluster, final String vip,
        final List<LoadResult> latency, final List<LoadResult> spread, final List<String> lines)
    {
        final MetricRegistry lb = cluster.lbStatus();
        out.println();
        out.println("================================ crab demo report ================================");
        out.printf("topology: clients %s, LB %s, servers %s; VIP %s:%d -> the servers' port %d%n",
            topology.clients().stream().map(h -> h.name() + "=" + h.ip()).collect(Collectors.joining(" ")),
            topology.lb().ip(), topology.servers().stream().map(h -> h.name() + "=" + h.ip())
                .collect(Collectors.joining(" ")), vip, PORT, PORT);
        out.printf("%nLatency from %s (µs), %d-byte request/response, one connection at a time, %d rounds merged%n",
            topology.clients().get(0).name(), payload, rounds);
        out.print(LatencyReport.of(latency).withBaseline(MODE_DIRECT).text());
        out.printf("%nSpread phase (both crab clients at once through the VIP):%n");
        spread.forEach(r -> out.printf("  %s%n", r));
        out.println();
        lines.forEach(out::println);
        out.println();
        LbStatus.print(lb, topology.lb().iface(), out);
        final long packets = CrabCluster.lbPackets(lb);
        final long redirected = CrabCluster.gauge(lb, "crab.lb.packets.tx_redirect");
        final long connections = latency.stream().filter(r -> r.mode().equals(MODE_VIP))
            .mapToLong(r -> r.kind() == Workload.CRR ? r.transactions() : 0).sum() +
            spread.stream().mapToLong(LoadResult::transactions).sum();
        out.printf("%nThe LB's XDP program saw %d packets in all (%d SYNs redirected) for the %d+ connections that " +
            "went through the VIP:%nevery other packet of those connections went straight between client and " +
            "server.%n", packets, redirected, connections);
        for (final Host c : topology.clients().subList(0, 2))
        {
            out.printf("%nclient endpoint %s:%n", c.name());
            printCounters(out, CrabCluster.endpointCounters(c, EndpointAgent.Role.CLIENT));
        }
        for (final Host s : topology.servers())
        {
            out.printf("server endpoint %s:%n", s.name());
            printCounters(out, CrabCluster.endpointCounters(s, EndpointAgent.Role.SERVER));
        }
        out.println("==================================================================================");
        out.flush();
    }

    private static void printCounters(final PrintWriter out, final Map<String, Long> values)
    {
        values.forEach((name, n) -> out.printf("  %-22s %d%n", name, n));
    }
}
