package io.crab.endpoint.pods;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.agent.Interfaces;
import io.crab.agent.Log;
import io.crab.agent.OptionKind;
import io.crab.agent.PinnedDatapath;
import io.crab.agent.Pins;
import io.crab.bpf.Netns;
import io.crab.endpoint.EndpointAgent;
import io.crab.endpoint.EndpointAgent.Role;
import io.crab.endpoint.EndpointContext;
import io.crab.endpoint.pods.PodMarkers.Marker;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.NanoClock;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * crab-endpoint's client and server inside every pod of a node: each pod's network namespace, found as a file in
 * a directory ({@link Context#netnsDir}), gets both roles' TC programs on its interface ({@link Context#iface}), a
 * pod being a client of Services and a backend of them at once; a namespace whose file went loses its pins. The
 * VIPs (every ClusterIP:port and NodeIP:nodePort) come from another thread ({@link #vips}) and go into every pod's
 * client, live.
 * <p>
 * Each pod is two {@link EndpointAgent}s as crab-endpoint runs them, entered into the pod's namespace to attach and
 * to open the client's socket dump, and pinned on the host's bpffs under the names crab-endpoint gives them
 * (crab-client-&lt;netns inode&gt;-&lt;iface&gt;, crab-server-...). Stopping this agent leaves every pod's programs
 * attached and pinned, as stopping crab-endpoint does, and the next run takes them over without breaking a
 * connection; which pods it attached is kept in {@link PodMarkers} beside the pins.
 * <p>
 * One thread runs the duty cycle; {@link #vips}, {@link #attached} and {@link #errors} may be called from any.
 * What goes wrong with one pod (its namespace gone half-way through an attach, a map refused) is counted, given to
 * the error handler and tried again after {@link Context#retryIntervalNs}; the other pods never wait for it.
 */
public final class PodEndpoints implements Agent
{
    /**
     * What the pods manager is told, validated here; the messages name crab-k8s's options where there is one.
     *
     * @param netnsDir        where the runtime keeps its pods' network namespace files ({@code --pod-netns-dir})
     * @param iface           the pod's interface in its namespace ({@code --pod-iface})
     * @param flowTableSize   per pod, its client's flow tables and its server's echo table (connections to VIPs
     *                        and handshakes of redirected ones at once); past it, SYNs go unmarked and the LB's
     *                        hashing fallback serves them. Fixed once a pod is pinned.
     * @param maxVips         per pod, the client's VIP table: at most this many VIPs. Fixed once a pod is pinned.
     * @param stateDir        where the pods this manager attached are marked: on the host's bpffs, beside the pins
     * @param scanIntervalNs  how often {@link #netnsDir} is read
     * @param retryIntervalNs how long a pod that failed waits for its next try
     */
    public record Context(Path netnsDir, String iface, OptionKind option, int flowTableSize, int maxVips,
        Path stateDir, long scanIntervalNs, long retryIntervalNs)
    {
        /** containerd's and CRI-O's, and {@code ip netns add}'s. */
        public static final Path DEFAULT_NETNS_DIR = Path.of("/var/run/netns");
        public static final String DEFAULT_IFACE = "eth0";
        /** About 2 MB of kernel memory per pod for the four tables, so a node of 110 pods spends about 220 MB. */
        public static final int DEFAULT_FLOW_TABLE_SIZE = 4096;
        public static final int DEFAULT_MAX_VIPS = 4096;
        public static final int MAX_VIPS_LIMIT = 1 << 16;
        public static final Path DEFAULT_STATE_DIR = Pins.BPFFS.resolve("crab-pods");
        public static final long DEFAULT_SCAN_INTERVAL_NS = 250_000_000L;
        public static final long DEFAULT_RETRY_INTERVAL_NS = 1_000_000_000L;
        /** An interface name's bytes, as the kernel limits it (IFNAMSIZ less the terminating zero). */
        private static final int MAX_IFACE_BYTES = 15;

        public Context
        {
            if (netnsDir == null)
            {
                throw new ConfigException("--pod-netns-dir is required");
            }
            netnsDir = netnsDir.toAbsolutePath().normalize();
            if (Files.exists(netnsDir) && !Files.isDirectory(netnsDir))
            {
                throw new ConfigException("--pod-netns-dir " + netnsDir + ": not a directory");
            }
            if (iface == null || iface.isEmpty() || iface.getBytes(StandardCharsets.UTF_8).length > MAX_IFACE_BYTES || iface.equals(".") ||
                iface.equals("..") || iface.chars().anyMatch(c -> c == '/' || c == ':' || Character.isWhitespace(c)))
            {
                throw new ConfigException("--pod-iface " + iface + ": not an interface name (1 to " +
                    MAX_IFACE_BYTES + " bytes, no '/', ':' or white space)");
            }
            if (option == null)
            {
                throw new ConfigException("the pods' option kind is required");
            }
            if (flowTableSize < EndpointContext.MIN_FLOW_TABLE_SIZE ||
                flowTableSize > EndpointContext.MAX_FLOW_TABLE_SIZE)
            {
                throw new ConfigException("pod flow table size " + flowTableSize + ": must be " +
                    EndpointContext.MIN_FLOW_TABLE_SIZE + ".." + EndpointContext.MAX_FLOW_TABLE_SIZE);
            }
            if (maxVips < 1 || maxVips > MAX_VIPS_LIMIT)
            {
                throw new ConfigException("pod VIP table size " + maxVips + ": must be 1.." + MAX_VIPS_LIMIT);
            }
            if (stateDir == null)
            {
                throw new ConfigException("the pods' state directory is required");
            }
            stateDir = stateDir.toAbsolutePath().normalize();
            if (scanIntervalNs <= 0 || retryIntervalNs <= 0)
            {
                throw new ConfigException("the pods' scan and retry intervals must be positive: " + scanIntervalNs +
                    " ns, " + retryIntervalNs + " ns");
            }
        }

        public static Context defaults()
        {
            return new Context(DEFAULT_NETNS_DIR, DEFAULT_IFACE, OptionKind.DEFAULT, DEFAULT_FLOW_TABLE_SIZE,
                DEFAULT_MAX_VIPS, DEFAULT_STATE_DIR, DEFAULT_SCAN_INTERVAL_NS, DEFAULT_RETRY_INTERVAL_NS);
        }

        public Context withNetnsDir(final Path dir)
        {
            return new Context(dir, iface, option, flowTableSize, maxVips, stateDir, scanIntervalNs,
                retryIntervalNs);
        }

        public Context withIface(final String name)
        {
            return new Context(netnsDir, name, option, flowTableSize, maxVips, stateDir, scanIntervalNs,
                retryIntervalNs);
        }

        public Context withOption(final OptionKind kind)
        {
            return new Context(netnsDir, iface, kind, flowTableSize, maxVips, stateDir, scanIntervalNs,
                retryIntervalNs);
        }

        public Context withSizes(final int flowTable, final int vips)
        {
            return new Context(netnsDir, iface, option, flowTable, vips, stateDir, scanIntervalNs, retryIntervalNs);
        }

        public Context withStateDir(final Path dir)
        {
            return new Context(netnsDir, iface, option, flowTableSize, maxVips, dir, scanIntervalNs,
                retryIntervalNs);
        }

        public Context withIntervals(final long scanNs, final long retryNs)
        {
            return new Context(netnsDir, iface, option, flowTableSize, maxVips, stateDir, scanNs, retryNs);
        }
    }

    /** The same order every time, so a VIP keeps its id in a pod's table while the set around it is the same. */
    private static final Comparator<HostPort> VIP_ORDER = Comparator
        .comparing((HostPort v) -> HostPort.ipv4Bits(v.address()), Integer::compareUnsigned)
        .thenComparingInt(HostPort::port);

    /** One VIP set as {@link #vips} was given it, numbered so a pod knows whether it has it. */
    private record VipSet(List<HostPort> vips, long version)
    {
    }

    /** A pod's namespace as found in the directory, and its two agents once attached. */
    private static final class Pod
    {
        final String name;
        final long inode;
        final Netns netns;
        EndpointAgent client;
        EndpointAgent server;
        /** The {@link VipSet#version} its client has; 0: none yet. */
        long vipsVersion;
        long nextAttemptNs;

        Pod(final String name, final long inode, final Netns netns)
        {
            this.name = name;
            this.inode = inode;
            this.netns = netns;
        }

        boolean attached()
        {
            return server != null;
        }

        Marker marker()
        {
            return new Marker(inode, name);
        }

        @Override
        public String toString()
        {
            return "pod netns " + name + " (inode " + inode + ")";
        }
    }

    private final Context ctx;
    private final NanoClock clock;
    private final EpochClock wallClock;
    private final Log log;
    private final ErrorHandler errorHandler;
    private final NetnsFiles netnsFiles;
    private final PodMarkers markers;
    /** The newest VIP set given; only the newest matters, so a newer one replaces one not yet applied. */
    private final AtomicReference<VipSet> desiredVips = new AtomicReference<>();
    private final AtomicLong errors = new AtomicLong();
    /** Pods by namespace file name, and the same in a list the duty cycle walks without allocating. */
    private final Map<String, Pod> podsByName = new HashMap<>();
    private final List<Pod> pods = new ArrayList<>();
    private volatile Set<String> attachedNames = Set.of();
    private long nextScanNs;

    /** {@code errorHandler}: told of every pod's failure, e.g. {@link io.crab.agent.DutyCycleErrors}. */
    public PodEndpoints(final Context ctx, final NanoClock clock, final EpochClock wallClock, final Log log,
        final ErrorHandler errorHandler)
    {
        this.ctx = ctx;
        this.clock = clock;
        this.wallClock = wallClock;
        this.log = log;
        this.errorHandler = errorHandler;
        this.netnsFiles = new NetnsFiles(ctx.netnsDir());
        this.markers = new PodMarkers(ctx.stateDir());
    }

    /**
     * The VIPs every pod's client marks SYNs to, from now on: replaces the set given before, from any thread.
     * Pods get nothing until the first call, so a restarted manager never empties the VIP tables that its
     * predecessor filled; established connections are never touched. At most {@link Context#maxVips}.
     */
    public void vips(final Set<HostPort> vips)
    {
        if (vips.size() > ctx.maxVips())
        {
            throw new IllegalArgumentException(vips.size() + " VIPs, more than the " + ctx.maxVips() +
                " a pod's VIP table holds");
        }
        final List<HostPort> sorted = vips.stream().sorted(VIP_ORDER).toList();
        desiredVips.updateAndGet(old -> new VipSet(sorted, old == null ? 1 : old.version() + 1));
    }

    /** The namespace files whose pods have both roles attached now; from any thread. */
    public Set<String> attached()
    {
        return attachedNames;
    }

    /** Failures with pods since start, each one retried; from any thread. */
    public long errors()
    {
        return errors.get();
    }

    @Override
    public void onStart()
    {
        nextScanNs = clock.nanoTime();
        log.info("watching " + ctx.netnsDir() + " for pods' network namespaces; their " + ctx.iface() +
            " gets the client and the server once the VIPs are known", "netns_dir", ctx.netnsDir().toString(),
            "iface", ctx.iface());
    }

    @Override
    public int doWork()
    {
        final long now = clock.nanoTime();
        int work = 0;
        if (now - nextScanNs >= 0)
        {
            nextScanNs = now + ctx.scanIntervalNs();
            work += scan(now);
        }
        final VipSet vips = desiredVips.get();
        if (vips == null)
        {
            return work;
        }
        // One attach a cycle: each loads two BPF objects, and a node's many new pods at once must not hold up the
        // sweeps and VIP updates of the pods already attached.
        boolean attachTried = false;
        for (int i = 0, n = pods.size(); i < n; i++)
        {
            final Pod pod = pods.get(i);
            if (!pod.attached())
            {
                if (!attachTried && now - pod.nextAttemptNs >= 0)
                {
                    final int tried = attach(pod, vips, now);
                    attachTried = tried > 0;
                    work += tried;
                }
                continue;
            }
            if (pod.vipsVersion != vips.version() && now - pod.nextAttemptNs >= 0)
            {
                work += giveVips(pod, vips, now);
            }
            try
            {
                work += pod.client.doWork();
            }
            catch (final RuntimeException ex)
            {
                failed(pod, "sweeping its client's flows", ex);
            }
        }
        return work;
    }

    /**
     * Reads the directory: pods whose file went (or now holds another namespace) are let go, new ones wait for
     * their attach, and the pins of marked pods that are no longer there are removed.
     */
    private int scan(final long now)
    {
        final Map<String, Long> found;
        try
        {
            found = netnsFiles.scan();
        }
        catch (final RuntimeException ex)
        {
            errors.incrementAndGet();
            errorHandler.onError(ex);
            return 0;
        }
        int work = 0;
        for (int i = pods.size() - 1; i >= 0; i--)
        {
            final Pod pod = pods.get(i);
            final Long inode = found.get(pod.name);
            if (inode == null || inode != pod.inode)
            {
                letGo(pod);
                pods.remove(i);
                podsByName.remove(pod.name);
                work++;
            }
        }
        for (final Map.Entry<String, Long> file : found.entrySet())
        {
            if (!podsByName.containsKey(file.getKey()))
            {
                final Pod pod = new Pod(file.getKey(), file.getValue(),
                    Netns.at(ctx.netnsDir().resolve(file.getKey())));
                pod.nextAttemptNs = now;
                podsByName.put(pod.name, pod);
                pods.add(pod);
                work++;
            }
        }
        if (work > 0)
        {
            publishAttached();
        }
        return work + removeGonePods();
    }

    /** Releases a pod's handles; its pins stay until {@link #removeGonePods} takes them with its marker. */
    private void letGo(final Pod pod)
    {
        if (pod.client != null)
        {
            pod.client.onClose();
        }
        if (pod.server != null)
        {
            pod.server.onClose();
        }
        pod.client = null;
        pod.server = null;
    }

    /**
     * Detaches and removes the pins of every marked pod whose file is gone, and of one whose inode a new pod has
     * taken since; a pin removal that fails is tried again at the next scan.
     */
    private int removeGonePods()
    {
        final Set<Marker> marked;
        try
        {
            marked = markers.list();
        }
        catch (final RuntimeException ex)
        {
            errors.incrementAndGet();
            errorHandler.onError(ex);
            return 0;
        }
        int removed = 0;
        for (final Marker marker : marked)
        {
            final Pod pod = podsByName.get(marker.netnsName());
            if (pod != null && pod.inode == marker.inode())
            {
                continue;
            }
            try
            {
                if (!inodeAttached(marker.inode()))
                {
                    detach(marker.inode());
                }
                markers.remove(marker);
                log.info("removed the programs and pins of pod netns " + marker.netnsName() + " (inode " +
                    marker.inode() + "): its namespace file is gone", "netns", marker.netnsName(),
                    "inode", marker.inode());
                removed++;
            }
            catch (final RuntimeException ex)
            {
                errors.incrementAndGet();
                errorHandler.onError(new IllegalStateException("pod netns " + marker.netnsName() + " (inode " +
                    marker.inode() + "): removing its pins: " + describe(ex), ex));
            }
        }
        return removed;
    }

    /** A pod of this run has the inode: its pins are the same paths, and live. */
    private boolean inodeAttached(final long inode)
    {
        for (int i = 0, n = pods.size(); i < n; i++)
        {
            if (pods.get(i).inode == inode && pods.get(i).attached())
            {
                return true;
            }
        }
        return false;
    }

    private void detach(final long inode)
    {
        PinnedDatapath.detach(EndpointAgent.pinDir(Role.CLIENT, inode, ctx.iface()));
        PinnedDatapath.detach(EndpointAgent.pinDir(Role.SERVER, inode, ctx.iface()));
    }

    /**
     * Attaches both roles in the pod's namespace once its interface is there: the client first, with the current
     * VIPs, then the server, both on the same hooks (their programs let the next program on a hook run).
     */
    private int attach(final Pod pod, final VipSet vips, final long now)
    {
        try
        {
            if (!pod.netns.call(() -> Interfaces.exists(ctx.iface())))
            {
                // The runtime binds the namespace before its network plugin moves the interface in.
                pod.nextAttemptNs = now + ctx.scanIntervalNs();
                return 0;
            }
            for (final Marker marker : markers.list())
            {
                if (marker.inode() == pod.inode && !marker.netnsName().equals(pod.name))
                {
                    throw new IllegalStateException("the pins of pod netns " + marker.netnsName() + ", gone, " +
                        "which had this inode, are not removed yet");
                }
            }
            markers.create(pod.marker());
            pod.client = new EndpointAgent(EndpointContext.pod(Role.CLIENT, ctx.iface(), ctx.option(), vips.vips(),
                ctx.flowTableSize(), ctx.maxVips()), pod.netns, clock, wallClock, log);
            pod.client.onStart();
            pod.vipsVersion = vips.version();
            pod.server = new EndpointAgent(EndpointContext.pod(Role.SERVER, ctx.iface(), ctx.option(), List.of(),
                ctx.flowTableSize(), 0), pod.netns, clock, wallClock, log);
            pod.server.onStart();
        }
        catch (final RuntimeException ex)
        {
            letGo(pod);
            pod.nextAttemptNs = now + ctx.retryIntervalNs();
            failed(pod, "attaching", ex);
            return 1;
        }
        log.info("attached to " + pod + " on " + ctx.iface() + " with " + vips.vips().size() + " VIPs", "netns",
            pod.name, "inode", pod.inode, "vips", vips.vips().size());
        publishAttached();
        return 1;
    }

    private int giveVips(final Pod pod, final VipSet vips, final long now)
    {
        try
        {
            pod.client.vips(vips.vips());
            pod.vipsVersion = vips.version();
        }
        catch (final RuntimeException ex)
        {
            pod.nextAttemptNs = now + ctx.retryIntervalNs();
            failed(pod, "writing its VIPs", ex);
        }
        return 1;
    }

    private void failed(final Pod pod, final String doing, final RuntimeException ex)
    {
        errors.incrementAndGet();
        errorHandler.onError(new IllegalStateException(pod + ": " + doing + ": " + describe(ex), ex));
    }

    private void publishAttached()
    {
        final Set<String> names = new HashSet<>();
        for (int i = 0, n = pods.size(); i < n; i++)
        {
            if (pods.get(i).attached())
            {
                names.add(pods.get(i).name);
            }
        }
        attachedNames = Set.copyOf(names);
    }

    /** Lets go of every pod, whose programs stay attached and pinned for the next run. */
    @Override
    public void onClose()
    {
        for (final Pod pod : pods)
        {
            letGo(pod);
        }
        pods.clear();
        podsByName.clear();
        attachedNames = Set.of();
    }

    @Override
    public String roleName()
    {
        return "crab-pods";
    }

    private static String describe(final Throwable ex)
    {
        return ex.getMessage() != null ? ex.getMessage() : ex.toString();
    }
}
