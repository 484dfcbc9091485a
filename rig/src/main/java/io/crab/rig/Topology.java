package io.crab.rig;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.crab.bpf.Bpf;
import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfObject;
import io.crab.bpf.Netns;
import io.crab.bpf.XdpMode;

/**
 * Clients, one load balancer and servers, each in its own network namespace, all on one Linux bridge, optionally with
 * some servers behind a router.
 * <p>
 * Layout for run id {@code <id>} (4 characters of {@code [0-9a-z]}):
 * <pre>
 *   crab-&lt;id&gt;-sw   bridge br0 with ports lb, c1..cN, s1..sN (the peers of each host's eth0)
 *   crab-&lt;id&gt;-lb   eth0 198.18.0.2/24
 *   crab-&lt;id&gt;-cN   eth0 198.18.0.(10+N)/24, route 198.19.0.0/24 via 198.18.0.2
 *   (the lb namespace has 198.19.0.0/24 as local addresses: it owns the VIPs)
 *   crab-&lt;id&gt;-sN   eth0 198.18.0.(100+N)/24
 * </pre>
 * With {@link Builder#routedServers(int) routedServers(R)} the last R servers sit behind a router instead:
 * <pre>
 *   crab-&lt;id&gt;-rt   eth0 198.18.0.3/24 (port rt of br0), forwards IPv4;
 *                  bridge br1 198.18.1.1/24 with ports sN, the peers of the routed servers' eth0
 *   crab-&lt;id&gt;-sN   eth0 198.18.1.(100+N)/24, default route via 198.18.1.1
 *   (the lb, the clients and the other servers route 198.18.1.0/24 via 198.18.0.3)
 * </pre>
 * Every address is in the benchmarking range 198.18.0.0/15 and only the routed servers have a default route, to the
 * router, which has none, so nothing the rig does can reach a real network. IPv6 is disabled so that the only
 * packets on the bridges are the test's own.
 * Transmit checksum offload stays on, as on real hosts: see {@link Builder#checksumOffload(boolean)}.
 * {@link #close()} removes everything; a shutdown hook does the same if the JVM exits first.
 */
public final class Topology implements AutoCloseable
{
    /** Subnet of the bridge: every host's {@code eth0} but a routed server's. */
    public static final String HOST_SUBNET = "198.18.0.0/24";
    /** Subnet of the routed servers' {@code eth0}, behind the router. */
    public static final String ROUTED_SUBNET = "198.18.1.0/24";
    /** Subnet the virtual service addresses come from; clients route it via the load balancer. */
    public static final String VIP_SUBNET = "198.19.0.0/24";
    /** Prefix length of {@link #HOST_SUBNET}, {@link #ROUTED_SUBNET} and {@link #VIP_SUBNET}. */
    public static final int PREFIX_LENGTH = 24;
    public static final String LB_IP = "198.18.0.2";
    /** The router's address on the bridge, the next hop of every other host towards {@link #ROUTED_SUBNET}. */
    public static final String ROUTER_IP = "198.18.0.3";
    /** The router's address on {@link #ROUTED_SUBNET}, the routed servers' default gateway. */
    public static final String ROUTED_GATEWAY = "198.18.1.1";
    /** Clients take 198.18.0.11 up to .99, below the servers' range. */
    public static final int MAX_CLIENTS = 89;
    /** Servers take 198.18.0.101 up to .254; routed ones keep their number on 198.18.1.0/24. */
    public static final int MAX_SERVERS = 154;
    /** The bridge in the switch namespace. */
    public static final String BRIDGE = "br0";
    /** The bridge in the router's namespace that the routed servers' links hang off. */
    public static final String ROUTED_BRIDGE = "br1";
    /** Every namespace, and every BPF pin path the topology cleans up, starts with this. */
    public static final String NAME_PREFIX = "crab-";
    /** BPF object and program attached to a veth peer so that XDP_TX on the host end works. */
    public static final String XDP_PASS = "xdp_pass";

    private static final String HOST_NET = "198.18.0.";
    private static final String ROUTED_NET = "198.18.1.";
    private static final String VIP_NET = "198.19.0.";
    private static final int CLIENT_BASE = 10;
    private static final int SERVER_BASE = 100;
    private static final Path BPF_FS = Path.of("/sys/fs/bpf");
    private static final Path IPV6_SYSCTLS = Path.of("/proc/sys/net/ipv6/conf");
    private static final Path IPV4_FORWARD = Path.of("/proc/sys/net/ipv4/ip_forward");
    /** The smallest MTU an IPv4 link may have (RFC 791). */
    private static final int MIN_IPV4_MTU = 68;
    /** The MTU of every link in the rig. */
    private static final int LINK_MTU = 1500;
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);
    private static final Pattern ID = Pattern.compile("[0-9a-z]{4}");
    private static final Pattern NETNS_NAME = Pattern.compile("crab-([0-9a-z]{4})-([a-z0-9]+)");
    private static final Pattern LINK = Pattern.compile("^(\\d+):\\s.*?\\slink/ether\\s+([0-9a-f:]{17})\\s");
    private static final Pattern IFINDEX = Pattern.compile("^(\\d+):\\s");
    private static final Pattern OWNER = Pattern.compile("\\salias\\s+crab-owner=(\\d+)@(\\d+)");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String id;
    private final Netns sw;
    private final List<Netns> created = new ArrayList<>();
    private final List<Host> clients = new ArrayList<>();
    private final List<Host> servers = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private final Map<String, BpfLink> xdpAttachments = new LinkedHashMap<>();
    private final Thread shutdownHook;
    private Host lb;
    private Host router;
    private BpfObject xdpPass;
    private boolean closed;

    private Topology(final String id)
    {
        this.id = id;
        this.sw = Netns.named(NAME_PREFIX + id + "-sw");
        this.shutdownHook = new Thread(this::closeOnShutdown, "crab-topology-" + id + "-cleanup");
    }

    public static Builder builder()
    {
        return new Builder();
    }

    /** The 4-character run id in every name this topology creates. */
    public String id()
    {
        return id;
    }

    /** The namespace holding the bridge and the peer end of every host's {@code eth0}. */
    public Netns switchNetns()
    {
        return sw;
    }

    public Host lb()
    {
        return lb;
    }

    public List<Host> clients()
    {
        return Collections.unmodifiableList(clients);
    }

    /** Every server, routed or not, in order: the routed ones are last. */
    public List<Host> servers()
    {
        return Collections.unmodifiableList(servers);
    }

    /**
     * The router in front of the routed servers. It is not one of {@link #hosts()}: like the switch, it only carries
     * the hosts' traffic.
     *
     * @throws IllegalStateException if the topology was built without {@link Builder#routedServers(int)}.
     */
    public Host router()
    {
        if (null == router)
        {
            throw new IllegalStateException("topology " + id + " has no router: build it with routedServers(n)");
        }

        return router;
    }

    /** The load balancer, then the clients, then the servers. */
    public List<Host> hosts()
    {
        final List<Host> hosts = new ArrayList<>(1 + clients.size() + servers.size());
        hosts.add(lb);
        hosts.addAll(clients);
        hosts.addAll(servers);
        return hosts;
    }

    /** The n-th virtual service address, {@code 198.19.0.<n>} for n in 1..254. */
    public static String vip(final int n)
    {
        if (n < 1 || n > 254)
        {
            throw new IllegalArgumentException("VIP index must be in 1..254: " + n);
        }

        return VIP_NET + n;
    }

    /** Runs a short command inside the host's namespace and returns its stdout; throws with stderr on failure. */
    public String exec(final Host host, final String... argv)
    {
        return Shell.run(nsenter(host.netns(), List.of(argv)));
    }

    /**
     * Starts a long-running command inside the host's namespace, stdout and stderr appended to {@code logFile}
     * (discarded if null). {@link #close()} stops it. The command runs under {@code nsenter} rather than
     * {@code ip netns exec}, which would remount {@code /sys} and hide the pinned maps under {@code /sys/fs/bpf}.
     */
    public synchronized Process spawn(final Host host, final List<String> argv, final Path logFile)
    {
        ensureOpen();
        final ProcessBuilder builder = new ProcessBuilder(nsenter(host.netns(), argv))
            .redirectInput(new File("/dev/null"))
            .redirectErrorStream(true);
        try
        {
            if (null == logFile)
            {
                builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
            }
            else
            {
                final Path parent = logFile.toAbsolutePath().getParent();
                if (null != parent)
                {
                    Files.createDirectories(parent);
                }
                builder.redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
            }

            final Process process = builder.start();
            processes.add(process);
            return process;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot spawn " + argv + " in " + host, ex);
        }
    }

    /**
     * Lets an XDP program on the host's {@code eth0} use XDP_TX. A veth transmits XDP frames only if its peer has
     * an XDP program too, so this attaches a pass-everything program to the peer in the switch namespace.
     * Calling it again for the same host does nothing.
     */
    public synchronized void enableXdpTxOn(final Host host)
    {
        ensureOpen();
        if (host.routed())
        {
            throw new IllegalArgumentException(host + " hangs off the router's bridge, not the switch's");
        }
        if (xdpAttachments.containsKey(host.peer()))
        {
            return;
        }

        final int peerIfindex = ifindex(sw, host.peer());
        final BpfLink attachment = sw.call(() ->
        {
            if (null == xdpPass)
            {
                xdpPass = Bpf.load(XDP_PASS);
            }
            // XDP attaches by ifindex in the calling thread's namespace, hence inside the switch namespace.
            return xdpPass.program(XDP_PASS).attachXdp(peerIfindex, XdpMode.NATIVE);
        });
        xdpAttachments.put(host.peer(), attachment);
    }

    /**
     * Undoes {@link #enableXdpTxOn}: the host's peer in the switch namespace has no XDP program any more, as on a
     * host whose other end of the veth nobody prepared. Does nothing if it had none.
     */
    public synchronized void disableXdpTxOn(final Host host)
    {
        ensureOpen();
        final BpfLink attachment = xdpAttachments.remove(host.peer());
        if (attachment != null)
        {
            // The link is not pinned: releasing its only descriptor detaches the program.
            attachment.close();
        }
    }

    /**
     * Makes the switch complete partial checksums on its way to {@code host}, as a NIC with checksum offload does
     * on a real network: its port towards the host stops offloading transmit checksums, so the kernel fills in a
     * packet's partial checksum (the sender's veth left it to offload) in software there, from the socket buffer's
     * note of where the TCP or UDP header starts. A packet rewritten without keeping that note true then arrives
     * corrupt, where a veth all the way would have carried it unchecked.
     */
    public synchronized void completeChecksumsTowards(final Host host)
    {
        ensureOpen();
        TxChecksumOffload.set(host.routed() ? router.netns() : sw, host.peer(), false);
    }

    /**
     * Makes every server accept connections to {@code vip} as its own, as a backend behind a direct-server-return
     * load balancer must: the VIP on its loopback, and ARP set so that it never answers for the VIP on the bridge
     * (arp_ignore 1) nor uses it as a source in its own requests (arp_announce 2). The LB host keeps owning it.
     */
    public synchronized void addVipToServers(final String vip)
    {
        ensureOpen();
        for (final Host server : servers)
        {
            ip(server.netns(), "addr", "add", vip + "/32", "dev", "lo");
            server.netns().run(() ->
            {
                Sysctl.write("/proc/sys/net/ipv4/conf/all/arp_ignore", "1");
                Sysctl.write("/proc/sys/net/ipv4/conf/all/arp_announce", "2");
            });
        }
    }

    /**
     * Lowers the path MTU from the router towards a routed server, as a smaller link on the way would: the router gets
     * a route to the server with that MTU, so it drops a larger packet that may not be fragmented (DF, as TCP sends)
     * and tells the sender with ICMP "fragmentation needed". The server's own link keeps MTU 1500, so it still
     * advertises an MSS of 1460: only a sender that heeds the ICMP sends smaller segments. Only packets towards the
     * server are limited; its replies leave the router at 1500.
     *
     * @param mtu 68..1500.
     */
    public synchronized void setRouterPathMtu(final Host server, final int mtu)
    {
        ensureOpen();
        requireRouted(server);
        if (mtu < MIN_IPV4_MTU || mtu > LINK_MTU)
        {
            throw new IllegalArgumentException("path MTU must be in " + MIN_IPV4_MTU + ".." + LINK_MTU + ": " + mtu);
        }

        ip(router.netns(), "route", "replace", server.ip() + "/32", "dev", ROUTED_BRIDGE, "mtu", Integer.toString(mtu));
    }

    /**
     * Undoes {@link #setRouterPathMtu(Host, int)}, and does nothing if the path MTU was not lowered. Senders keep a
     * path MTU they learned, as hosts do, until it expires ({@code net.ipv4.route.mtu_expires}, 10 min by default).
     */
    public synchronized void restoreRouterPathMtu(final Host server)
    {
        ensureOpen();
        requireRouted(server);
        ip(router.netns(), "route", "flush", "exact", server.ip() + "/32");
    }

    /**
     * Stops spawned processes (SIGTERM, then SIGKILL after 5 s), detaches BPF programs, deletes the namespaces and
     * any {@code /sys/fs/bpf/crab-<id>*} pins. Every step runs even if an earlier one fails; the failures are
     * thrown together at the end. Calling it again does nothing.
     */
    @Override
    public void close()
    {
        final List<RuntimeException> failures = new ArrayList<>();
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;

            attempt(failures, this::stopProcesses);
            attempt(failures, this::detachXdp);
            // Read before the namespaces go, and as a step of its own so that a failure cannot stop their removal.
            final List<Long> inodes = new ArrayList<>();
            attempt(failures, () -> inodes.addAll(namespaceInodes()));
            attempt(failures, this::deleteNamespaces);
            attempt(failures, () -> removePins(id));
            attempt(failures, () -> removeAgentPins(inodes));
            attempt(failures, this::removeShutdownHook);
        }

        if (!failures.isEmpty())
        {
            final IllegalStateException ex = new IllegalStateException(
                "topology " + id + " cleanup incomplete: " + failures.get(0).getMessage());
            failures.forEach(ex::addSuppressed);
            throw ex;
        }
    }

    /**
     * Deletes the namespaces and pins of earlier runs whose JVM died without cleaning up, killing any process still
     * inside them. Returns the namespace names removed. Topologies of live JVMs, this one included, are left alone.
     */
    public static List<String> removeStale()
    {
        final Map<String, List<String>> byId = new TreeMap<>();
        for (final String name : netnsNames())
        {
            final Matcher matcher = NETNS_NAME.matcher(name);
            if (matcher.matches())
            {
                byId.computeIfAbsent(matcher.group(1), (k) -> new ArrayList<>()).add(name);
            }
        }

        final List<String> removed = new ArrayList<>();
        byId.forEach((runId, names) ->
        {
            final String swName = NAME_PREFIX + runId + "-sw";
            final boolean stale;
            if (names.contains(swName))
            {
                // A switch without an owner tag is a build in progress elsewhere: not ours to judge.
                final Optional<Boolean> ownerAlive = ownerAlive(swName);
                stale = ownerAlive.isPresent() && !ownerAlive.get();
            }
            else
            {
                // close() deletes the switch last, so hosts without one are the remains of an interrupted close.
                stale = true;
            }

            if (stale)
            {
                // The switch goes last so that an interruption here still leaves the group recognisably stale.
                names.sort(Comparator.comparing(swName::equals));
                for (final String name : names)
                {
                    killProcessesIn(Netns.named(name));
                    Shell.run("ip", "netns", "del", name);
                    removed.add(name);
                }
                removePins(runId);
            }
        });

        return removed;
    }

    @Override
    public String toString()
    {
        return "Topology{" + id + ", lb=" + lb + (null != router ? ", router=" + router : "") + ", clients=" + clients +
            ", servers=" + servers + "}";
    }

    private synchronized void create(final int clientCount, final int serverCount, final int routedServerCount,
        final boolean checksumOffload)
    {
        addNamespace(sw);
        ip(sw, "link", "add", BRIDGE, "type", "bridge");
        // The owner tag lets removeStale() tell a crashed run from a live one.
        ip(sw, "link", "set", BRIDGE, "alias", ownerTag());
        ip(sw, "link", "set", BRIDGE, "up");

        lb = addHost(Host.Role.LB, "lb", LB_IP, false, checksumOffload);
        if (routedServerCount > 0)
        {
            router = addRouter(checksumOffload);
        }
        for (int i = 1; i <= clientCount; i++)
        {
            clients.add(addHost(Host.Role.CLIENT, "c" + i, HOST_NET + (CLIENT_BASE + i), false, checksumOffload));
        }
        final int firstRouted = serverCount - routedServerCount + 1;
        for (int i = 1; i <= serverCount; i++)
        {
            // A routed server keeps its number in the last octet, so s3 is 198.18.0.103 or 198.18.1.103.
            final boolean routed = i >= firstRouted;
            final String address = (routed ? ROUTED_NET : HOST_NET) + (SERVER_BASE + i);
            servers.add(addHost(Host.Role.SERVER, "s" + i, address, routed, checksumOffload));
        }

        for (final Host server : servers)
        {
            steerFlowsLikeRss(server.netns());
        }
        for (final Host client : clients)
        {
            ip(client.netns(), "route", "add", VIP_SUBNET, "via", LB_IP, "dev", Host.IFACE);
            tuneAsLoadGenerator(client.netns());
        }
        // The LB host owns the VIPs, as a load balancer's host does: a SYN its XDP program passes (a client that
        // does not speak crab) reaches its stack and is refused with a RST instead of vanishing.
        ip(lb.netns(), "route", "add", "local", VIP_SUBNET, "dev", "lo");

        if (null != router)
        {
            for (final Host host : hosts())
            {
                if (host.routed())
                {
                    ip(host.netns(), "route", "add", "default", "via", ROUTED_GATEWAY, "dev", Host.IFACE);
                }
                else
                {
                    ip(host.netns(), "route", "add", ROUTED_SUBNET, "via", ROUTER_IP, "dev", Host.IFACE);
                }
            }
        }
    }

    /**
     * A host on the switch's bridge like any other, with a bridge of its own for the routed servers' links. It owns
     * the routed subnet's gateway address and is the one namespace that forwards.
     */
    private Host addRouter(final boolean checksumOffload)
    {
        final Host host = addHost(Host.Role.ROUTER, "rt", ROUTER_IP, false, checksumOffload);
        final Netns netns = host.netns();
        ip(netns, "link", "add", ROUTED_BRIDGE, "type", "bridge");
        ip(netns, "addr", "add", ROUTED_GATEWAY + "/" + PREFIX_LENGTH, "dev", ROUTED_BRIDGE);
        ip(netns, "link", "set", ROUTED_BRIDGE, "up");
        netns.run(() ->
        {
            try
            {
                Files.writeString(IPV4_FORWARD, "1");
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("cannot turn on IPv4 forwarding in " + netns.name(), ex);
            }
        });

        return host;
    }

    /** A routed host's {@code eth0} hangs off the router's bridge, any other's off the switch's. */
    private Host addHost(final Host.Role role, final String name, final String address, final boolean routed,
        final boolean checksumOffload)
    {
        final Netns netns = Netns.named(NAME_PREFIX + id + "-" + name);
        final Netns peerNetns = routed ? router.netns() : sw;
        addNamespace(netns);
        // Both ends are created in place: nothing ever appears in the root namespace, even briefly.
        ip(netns, "link", "add", Host.IFACE, "type", "veth", "peer", "name", name, "netns", peerNetns.name());
        ip(peerNetns, "link", "set", name, "master", routed ? ROUTED_BRIDGE : BRIDGE, "up");
        ip(netns, "link", "set", "lo", "up");
        ip(netns, "addr", "add", address + "/" + PREFIX_LENGTH, "dev", Host.IFACE);
        ip(netns, "link", "set", Host.IFACE, "up");
        if (!checksumOffload)
        {
            disableTxChecksumOffload(netns);
        }

        final String link = ip(netns, "-o", "link", "show", "dev", Host.IFACE);
        final Matcher matcher = LINK.matcher(link);
        if (!matcher.find())
        {
            throw new IllegalStateException("cannot parse `ip link show " + Host.IFACE + "` in " + netns.name() + ": " +
                link);
        }

        return new Host(role, name, netns, address, matcher.group(2), Integer.parseInt(matcher.group(1)), routed);
    }

    private void addNamespace(final Netns netns)
    {
        Shell.run("ip", "netns", "add", netns.name());
        created.add(netns);
        disableIpv6(netns);
    }

    /**
     * Clients open thousands of connections per second (CRR) and each leaves a TIME_WAIT socket for 60 s: with the
     * default port range a client runs out of ports to a destination within seconds and connect() crawls, as
     * for any load generator. A wide range and reuse of TIME_WAIT ports for new outgoing connections avoid that.
     */
    private static void tuneAsLoadGenerator(final Netns netns)
    {
        netns.run(() ->
        {
            try
            {
                Files.writeString(Path.of("/proc/sys/net/ipv4/ip_local_port_range"), "1024\t65535");
                Files.writeString(Path.of("/proc/sys/net/ipv4/tcp_tw_reuse"), "1");
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("cannot tune " + netns.name(), ex);
            }
        });
    }

    /**
     * A veth hands each packet to the receiving stack on the CPU that sent it, so two packets of one connection can
     * be processed by a server at the same time on two CPUs, which a NIC's receive-side scaling never does (a flow
     * hashes to one queue). The server then sometimes resets a connection, most likely because the kernel's
     * lockless socket lookup misses it while another CPU swaps its request socket for the full socket: measured at
     * about 1 in 5,000 connections when every client packet comes through the LB (the hashing fallback) at 9,000
     * connections per second, none with this. Receive packet steering over every CPU gives the servers what RSS
     * gives a real host: each flow on one CPU. sysfs shows the namespace it was mounted in, hence a shell inside
     * the namespace.
     */
    private static void steerFlowsLikeRss(final Netns netns)
    {
        final int cpus = Math.min(Runtime.getRuntime().availableProcessors(), 31);
        Shell.run("ip", "netns", "exec", netns.name(), "sh", "-c",
            "echo " + Integer.toHexString((1 << cpus) - 1) + " > /sys/class/net/" + Host.IFACE + "/queues/rx-0/rps_cpus");
    }

    private static void disableIpv6(final Netns netns)
    {
        if (!Files.isDirectory(IPV6_SYSCTLS))
        {
            return;
        }

        // Before any interface exists, so that no router or neighbour solicitation ever reaches the bridge;
        // "default" covers interfaces created later, "all" the loopback that exists already.
        netns.run(() ->
        {
            for (final String conf : List.of("all", "default"))
            {
                try
                {
                    Files.writeString(IPV6_SYSCTLS.resolve(conf).resolve("disable_ipv6"), "1");
                }
                catch (final IOException ex)
                {
                    throw new UncheckedIOException("cannot disable IPv6 in " + netns.name(), ex);
                }
            }
        });
    }

    private static void disableTxChecksumOffload(final Netns netns)
    {
        TxChecksumOffload.set(netns, Host.IFACE, false);
    }

    private static String ip(final Netns netns, final String... args)
    {
        final List<String> argv = new ArrayList<>(args.length + 3);
        argv.add("ip");
        argv.add("-n");
        argv.add(netns.name());
        argv.addAll(List.of(args));
        return Shell.run(argv);
    }

    private static int ifindex(final Netns netns, final String iface)
    {
        // sysfs shows the namespace it was mounted in, so ask the namespace itself.
        final String link = ip(netns, "-o", "link", "show", "dev", iface);
        final Matcher matcher = IFINDEX.matcher(link);
        if (!matcher.find())
        {
            throw new IllegalStateException("cannot parse ifindex of " + iface + " in " + netns.name() + ": " + link);
        }

        return Integer.parseInt(matcher.group(1));
    }

    private static List<String> nsenter(final Netns netns, final List<String> argv)
    {
        final List<String> command = new ArrayList<>(argv.size() + 3);
        command.add("nsenter");
        command.add("--net=" + netns.path());
        command.add("--");
        command.addAll(argv);
        return command;
    }

    private void requireRouted(final Host server)
    {
        if (!server.routed() || !servers.contains(server))
        {
            throw new IllegalArgumentException(server + " is not a routed server of topology " + id);
        }
    }

    private void ensureOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("topology " + id + " is closed");
        }
    }

    private void stopProcesses()
    {
        // Descendants are collected first: once a wrapper shell dies its children are reparented out of reach.
        final List<ProcessHandle> handles = new ArrayList<>();
        for (final Process process : processes)
        {
            handles.add(process.toHandle());
            process.descendants().forEach(handles::add);
        }
        processes.clear();

        handles.forEach(ProcessHandle::destroy);
        final long deadline = System.nanoTime() + STOP_GRACE.toNanos();
        for (final ProcessHandle handle : handles)
        {
            final long remaining = deadline - System.nanoTime();
            try
            {
                if (remaining > 0)
                {
                    handle.onExit().get(remaining, TimeUnit.NANOSECONDS);
                }
            }
            catch (final Exception ignore)
            {
                // Timed out or interrupted: the SIGKILL below takes care of it.
            }
        }
        handles.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }

    private void detachXdp()
    {
        if (xdpAttachments.isEmpty() && null == xdpPass)
        {
            return;
        }

        // Detaching may address the interface by ifindex, which only means something inside the switch namespace;
        // if that namespace is gone the interfaces are too, and closing releases the descriptors.
        if (sw.exists())
        {
            sw.run(this::closeXdp);
        }
        else
        {
            closeXdp();
        }
    }

    private void closeXdp()
    {
        final List<RuntimeException> failures = new ArrayList<>();
        xdpAttachments.values().forEach((a) -> attempt(failures, a::close));
        xdpAttachments.clear();
        if (null != xdpPass)
        {
            attempt(failures, xdpPass::close);
            xdpPass = null;
        }
        if (!failures.isEmpty())
        {
            throw failures.get(0);
        }
    }

    private void deleteNamespaces()
    {
        // Reverse creation order: hosts first, the switch last, which removeStale() relies on.
        final List<RuntimeException> failures = new ArrayList<>();
        for (int i = created.size() - 1; i >= 0; i--)
        {
            final Netns netns = created.get(i);
            if (netns.exists())
            {
                attempt(failures, () -> Shell.run("ip", "netns", "del", netns.name()));
            }
        }
        created.clear();
        if (!failures.isEmpty())
        {
            throw failures.get(0);
        }
    }

    /** From the namespaces made so far, not from the hosts, which are missing when the build failed part way. */
    private List<Long> namespaceInodes()
    {
        final List<Long> inodes = new ArrayList<>();
        for (final Netns netns : created)
        {
            if (netns.exists())
            {
                inodes.add(netns.inode());
            }
        }
        return inodes;
    }

    /** Pins that crab agents made inside this topology's namespaces: crab-ROLE-NETNSINODE-IFACE. */
    private static void removeAgentPins(final List<Long> inodes)
    {
        for (final long inode : inodes)
        {
            removePinsMatching("-" + inode + "-");
        }
    }

    private static void removePins(final String runId)
    {
        removePinsMatching(NAME_PREFIX + runId);
    }

    private static void removePinsMatching(final String part)
    {
        if (!Files.isDirectory(BPF_FS))
        {
            return;
        }

        final List<Path> pins;
        try (Stream<Path> entries = Files.list(BPF_FS))
        {
            pins = entries.filter((p) -> p.getFileName().toString().startsWith(NAME_PREFIX) &&
                p.getFileName().toString().contains(part)).toList();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot list " + BPF_FS, ex);
        }

        for (final Path pin : pins)
        {
            try (Stream<Path> tree = Files.walk(pin))
            {
                for (final Path path : tree.sorted(Comparator.reverseOrder()).toList())
                {
                    Files.deleteIfExists(path);
                }
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("cannot remove BPF pin " + pin, ex);
            }
        }
    }

    private void removeShutdownHook()
    {
        if (Thread.currentThread() == shutdownHook)
        {
            return;
        }

        try
        {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        }
        catch (final IllegalStateException ignore)
        {
            // The JVM is already shutting down; the hook will find the topology closed.
        }
    }

    private void closeOnShutdown()
    {
        try
        {
            close();
        }
        catch (final RuntimeException ex)
        {
            System.err.println("crab topology " + id + ": " + ex.getMessage());
        }
    }

    private static String ownerTag()
    {
        final ProcessHandle self = ProcessHandle.current();
        return "crab-owner=" + self.pid() + "@" + startMillis(self).orElse(0L);
    }

    /** Empty when the switch carries no owner tag yet. */
    private static Optional<Boolean> ownerAlive(final String swName)
    {
        final Matcher matcher = OWNER.matcher(Shell.run("ip", "-n", swName, "-o", "link", "show", "dev", BRIDGE));
        if (!matcher.find())
        {
            return Optional.empty();
        }

        final long startMillis = Long.parseLong(matcher.group(2));
        // The start time guards against the owner's pid having been reused by an unrelated process.
        return Optional.of(ProcessHandle.of(Long.parseLong(matcher.group(1)))
            .filter(ProcessHandle::isAlive)
            .map((h) -> startMillis == 0 || startMillis(h).map((s) -> s == startMillis).orElse(true))
            .orElse(false));
    }

    private static Optional<Long> startMillis(final ProcessHandle handle)
    {
        return handle.info().startInstant().map(Instant::toEpochMilli);
    }

    private static List<String> netnsNames()
    {
        if (!Files.isDirectory(Netns.NETNS_DIR))
        {
            return List.of();
        }

        try (Stream<Path> entries = Files.list(Netns.NETNS_DIR))
        {
            return entries.map((p) -> p.getFileName().toString()).sorted().toList();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot list " + Netns.NETNS_DIR, ex);
        }
    }

    private static void killProcessesIn(final Netns netns)
    {
        final long inode = netns.inode();
        final List<ProcessHandle> inside = ProcessHandle.allProcesses()
            .filter((h) -> netInode(h.pid()) == inode)
            .toList();
        inside.forEach(ProcessHandle::destroyForcibly);
    }

    private static long netInode(final long pid)
    {
        try
        {
            return ((Number)Files.getAttribute(Path.of("/proc", Long.toString(pid), "ns", "net"), "unix:ino"))
                .longValue();
        }
        catch (final IOException | SecurityException ex)
        {
            return -1;
        }
    }

    private static String freshId()
    {
        final String alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
        final List<String> existing = netnsNames();
        while (true)
        {
            final StringBuilder id = new StringBuilder(4);
            for (int i = 0; i < 4; i++)
            {
                id.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
            }
            final String prefix = NAME_PREFIX + id + "-";
            if (existing.stream().noneMatch((name) -> name.startsWith(prefix)))
            {
                return id.toString();
            }
        }
    }

    private static void attempt(final List<RuntimeException> failures, final Runnable step)
    {
        try
        {
            step.run();
        }
        catch (final RuntimeException ex)
        {
            failures.add(ex);
        }
    }

    /** Sizes and options of a {@link Topology}; {@link #build()} creates it. */
    public static final class Builder
    {
        private int clients = 1;
        private int servers = 1;
        private int routedServers;
        private boolean checksumOffload = true;
        private String id;

        private Builder()
        {
        }

        /** Number of client namespaces, 1..{@value Topology#MAX_CLIENTS}; default 1. */
        public Builder clients(final int clients)
        {
            if (clients < 1 || clients > MAX_CLIENTS)
            {
                throw new IllegalArgumentException("clients must be in 1.." + MAX_CLIENTS + ": " + clients);
            }
            this.clients = clients;
            return this;
        }

        /** Number of server namespaces, 1..{@value Topology#MAX_SERVERS}; default 1. */
        public Builder servers(final int servers)
        {
            if (servers < 1 || servers > MAX_SERVERS)
            {
                throw new IllegalArgumentException("servers must be in 1.." + MAX_SERVERS + ": " + servers);
            }
            this.servers = servers;
            return this;
        }

        /**
         * How many of the servers, the last ones, sit behind a router on {@value Topology#ROUTED_SUBNET}, so that
         * traffic between them and every other host takes a routed hop, and that hop can have a path MTU below the
         * links' ({@link Topology#setRouterPathMtu(Host, int)}). At most {@link #servers(int)}; default 0, which
         * builds no router.
         */
        public Builder routedServers(final int routedServers)
        {
            if (routedServers < 0 || routedServers > MAX_SERVERS)
            {
                throw new IllegalArgumentException("routedServers must be in 0.." + MAX_SERVERS + ": " + routedServers);
            }
            this.routedServers = routedServers;
            return this;
        }

        /**
         * Whether hosts may leave TCP/UDP checksums to the (virtual) NIC; default true, as on real hosts.
         * <p>
         * With offload on, a veth hands the peer a packet whose checksum field holds only the pseudo-header sum,
         * trusted because the skb says so. Native XDP on the receiving veth turns the packet into a bare frame, so
         * after XDP_TX that note is lost and the final receiver checks the checksum for real. crab's LB therefore
         * computes full checksums of every frame it transmits; an XDP program that only patches them incrementally
         * would have its frames dropped (TcpInCsumErrors). {@code false} makes every sender write full checksums
         * (also turns off TSO), for experiments with such programs.
         */
        public Builder checksumOffload(final boolean checksumOffload)
        {
            this.checksumOffload = checksumOffload;
            return this;
        }

        /** Fixes the run id instead of picking a free random one; for tests that need to provoke a clash. */
        Builder id(final String id)
        {
            if (!ID.matcher(id).matches())
            {
                throw new IllegalArgumentException("id must be 4 characters of [0-9a-z]: " + id);
            }
            this.id = id;
            return this;
        }

        /**
         * Creates every namespace, link, address and route. On failure whatever was created is removed before the
         * exception propagates. Requires root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
         */
        public Topology build()
        {
            if (routedServers > servers)
            {
                throw new IllegalArgumentException(
                    "routedServers must not exceed servers: " + routedServers + " > " + servers);
            }

            final Topology topology = new Topology(null != id ? id : freshId());
            // Registered before anything exists, so that Ctrl-C during the build cleans up too.
            Runtime.getRuntime().addShutdownHook(topology.shutdownHook);
            try
            {
                topology.create(clients, servers, routedServers, checksumOffload);
                return topology;
            }
            catch (final RuntimeException | Error ex)
            {
                try
                {
                    topology.close();
                }
                catch (final RuntimeException cleanup)
                {
                    ex.addSuppressed(cleanup);
                }
                throw ex;
            }
        }
    }
}
