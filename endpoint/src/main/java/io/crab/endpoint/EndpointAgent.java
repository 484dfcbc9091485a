package io.crab.endpoint;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.agent.Interfaces;
import io.crab.agent.Log;
import io.crab.agent.PinnedDatapath;
import io.crab.agent.Pins;
import io.crab.agent.metrics.MetricsServer;
import io.crab.agent.metrics.RegistryCollector;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram.TcDirection;
import io.crab.bpf.Netns;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A host's side of connection redirect. As a server it echoes the option of redirected SYNs; as a client it
 * marks SYNs to its VIPs and rewrites redirected connections. The agent puts its programs on pinned TCX links
 * (adopting those of an earlier run, so a restart breaks no connection) and is the one user-space writer of its
 * maps: it configures the VIPs and, as a client, removes flows whose socket is gone. A server told to report its
 * load sends the reports from this duty cycle ({@link LoadReporter}).
 * <p>
 * It serves the network namespace of the thread that starts it, or the one it is given: then it attaches and
 * opens its sockets on a thread inside that namespace, and its duty cycle may run on any thread.
 */
public final class EndpointAgent implements Agent
{
    public enum Role
    {
        CLIENT, SERVER
    }

    /** A pending flow older than this never got its redirect (SYN retries end at about 63 s on Linux). */
    static final long PENDING_TIMEOUT_NS = Abi.Consts.CRAB_SYN_TTL_SEC * 1_000_000_000L;
    /**
     * A flow goes two sweeps after its socket entered TIME_WAIT or closed, so the table holds about half a second
     * of closed connections: 9,000 at 18,000 connections per second, the most this rig reaches.
     */
    static final long SWEEP_INTERVAL_NS = 250_000_000L;
    /** Entries read per batch call while the flow table is walked. */
    private static final int WALK_BATCH = 4096;
    private static final int DEAD_FLOW_CREATED_NS = Abi.FlowKey.SIZE;
    private static final int DEAD_FLOW_SIZE = Abi.FlowKey.SIZE + Long.BYTES;

    private final EndpointContext ctx;
    /** The namespace served; null: the one of the thread that starts the agent. */
    private final Netns netns;
    private final NanoClock clock;
    private final Log log;
    /** A server's load reports, sent from this agent's duty cycle; null when it reports nothing. */
    private final LoadReporter reporter;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
    private final UnsafeBuffer walkKeys = new UnsafeBuffer(new byte[WALK_BATCH * Abi.FlowKey.SIZE]);
    private final UnsafeBuffer walkValues = new UnsafeBuffer(new byte[WALK_BATCH * Abi.Flow.SIZE]);
    private final BpfMap.BatchCursor walk = new BpfMap.BatchCursor();
    private final UnsafeBuffer flow = new UnsafeBuffer(new byte[Abi.Flow.SIZE]);
    private final UnsafeBuffer rkey = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
    private final UnsafeBuffer portKey = new UnsafeBuffer(new byte[Abi.PortKey.SIZE]);
    private final UnsafeBuffer portOwner = new UnsafeBuffer(new byte[Abi.VipKey.SIZE]);
    /** Keys of the sockets that still carry a connection, refilled by each sweep. */
    private final LongHashSet liveSockets = new LongHashSet();
    /** Flows judged dead, each as its key and creation time, removed once the walk of the table is over. */
    private final ExpandableArrayBuffer deadFlows = new ExpandableArrayBuffer();
    private PinnedDatapath datapath;
    private BpfObject obj;
    /** {@code --metrics-address}: the endpoint and what it reads; null without the option. */
    private MetricsServer metricsServer;
    private EndpointMetrics metrics;
    /** Opened on the agent's thread, in the namespace it serves; reopened by the next sweep after a failed dump. */
    private SocketDiag socketDiag;
    private long nextSweepNs;
    /** Sockets of flows the last sweep did not find: their flows go if this sweep misses them too. */
    private LongHashSet missingLastSweep = new LongHashSet();
    private LongHashSet missingThisSweep = new LongHashSet();

    public EndpointAgent(final EndpointContext ctx, final NanoClock clock, final EpochClock wallClock,
        final Log log)
    {
        this(ctx, null, clock, wallClock, log);
    }

    /** An agent for the interface {@code ctx.iface()} of {@code netns} (null: of the thread that starts it). */
    public EndpointAgent(final EndpointContext ctx, final Netns netns, final NanoClock clock,
        final EpochClock wallClock, final Log log)
    {
        this.ctx = ctx;
        this.netns = netns;
        this.clock = clock;
        this.log = log;
        this.reporter = ctx.reporting() == null ? null : new LoadReporter(ctx.reporting(), clock, wallClock, log);
    }

    /** Where this role's programs and state are pinned for an interface of the calling thread's namespace. */
    public static Path pinDir(final Role role, final String iface)
    {
        return Pins.dir(role.name().toLowerCase(), iface);
    }

    /** Where this role's programs and state are pinned for an interface of the namespace with that inode. */
    public static Path pinDir(final Role role, final long netnsInode, final String iface)
    {
        return Pins.dir(role.name().toLowerCase(), netnsInode, iface);
    }

    @Override
    public void onStart()
    {
        if (netns == null)
        {
            start();
        }
        else
        {
            netns.run(this::start);
        }
    }

    /** Everything that names an interface or opens a socket, on a thread in the namespace served. */
    private void start()
    {
        final int ifindex = Interfaces.ifindex(ctx.iface());
        final boolean client = ctx.role() == Role.CLIENT;
        final Path dir = pinDir(ctx.role(), ctx.iface());
        final Map<String, Integer> sizes = client ? clientMapSizes(dir) : Map.of();
        if (ctx.metrics() != null)
        {
            // Bound before anything touches the kernel, so a port in use fails the start with nothing changed.
            metrics = new EndpointMetrics(ctx.role(), dir);
            metricsServer = MetricsServer.start(ctx.metrics(), roleName() + "-metrics",
                new RegistryCollector(metrics, EndpointMetrics.FAMILIES));
        }
        datapath = PinnedDatapath.open(client ? "client_tc" : "server_tc", dir, sizes);
        obj = datapath.object();
        final String prefix = client ? "crab_client_" : "crab_server_";
        try
        {
            ctx.option().writeTo(obj.map(Abi.Maps.OPT_CFG));
            if (client)
            {
                ClientVips.write(ctx.vips(), ctx::cidrsOf, obj.map(Abi.Maps.CLIENT_VIPS),
                    obj.map(Abi.Maps.BACKEND_CIDRS));
                // Here, on the thread in the namespace the agent serves: the socket observes that one for good.
                socketDiag = SocketDiag.open();
            }
            datapath.pinMaps();
            datapath.attach("tc_ingress", obj.program(prefix + "ingress"),
                p -> p.attachTcx(ifindex, TcDirection.INGRESS));
            datapath.attach("tc_egress", obj.program(prefix + "egress"),
                p -> p.attachTcx(ifindex, TcDirection.EGRESS));
        }
        catch (final RuntimeException ex)
        {
            // Released here and forgotten, so that onClose after a failed start releases nothing twice.
            if (socketDiag != null)
            {
                socketDiag.close();
                socketDiag = null;
            }
            datapath.close();
            datapath = null;
            throw ex;
        }
        if (datapath.adopted())
        {
            log.info("took over the programs and state pinned in " + dir, "pins", dir);
        }
        if (reporter != null)
        {
            // Here, in the namespace served: its sock_diag socket observes that one for good.
            reporter.open();
            final LoadReporting reporting = ctx.reporting();
            log.info("reporting the load of each listening port to " + reporting.destinations() +
                " at " + reporting.hz() + " Hz" + (reporting.key() == null ? ", unauthenticated" : ", signed") +
                (reporting.loadSocket() == null ? "" : ", with the queues applications write to " +
                    reporting.loadSocket()), "report_hz", reporting.hz(), "signed", reporting.key() != null);
        }
        nextSweepNs = clock.nanoTime() + SWEEP_INTERVAL_NS;
    }

    /**
     * The three flow maps get the configured size. Pinned ones hold live connections and cannot be resized in
     * place: a different size is refused, and the operator detaches (after draining) to resize. The VIP table
     * has the context's size, and the prefixes table room for one prefix per VIP at least.
     */
    private Map<String, Integer> clientMapSizes(final Path dir)
    {
        final Path flows = dir.resolve(Abi.Maps.FLOWS);
        if (Files.exists(flows))
        {
            final int pinned = Bpf.pinnedMapInfo(flows).maxEntries();
            if (pinned != ctx.flowTableSize())
            {
                throw new ConfigException("--flow-table-size " + ctx.flowTableSize() + ": the flow table pinned at " +
                    flows + " holds " + pinned + " entries and the live connections; to resize, drain this host " +
                    "and run crab-endpoint client --iface " + ctx.iface() + " --detach first");
            }
        }
        return Map.of(Abi.Maps.FLOWS, ctx.flowTableSize(), Abi.Maps.RFLOWS, ctx.flowTableSize(),
            Abi.Maps.PORTS, ctx.flowTableSize(), Abi.Maps.CLIENT_VIPS, ctx.maxVips(),
            Abi.Maps.BACKEND_CIDRS, Math.max(Abi.Consts.CRAB_MAX_BACKEND_CIDRS, ctx.maxVips()));
    }

    /**
     * A client's VIPs from now on, each taking redirects from the backends the context names for it (any, if it
     * names none), called on the agent's duty-cycle thread: a connection
     * opened from here on to a VIP no longer given is not redirected, one to a new VIP is, and established
     * connections keep their backend either way. At most {@link EndpointContext#maxVips} VIPs.
     */
    public void vips(final List<HostPort> vips)
    {
        if (ctx.role() != Role.CLIENT)
        {
            throw new IllegalStateException("a server has no VIPs");
        }
        if (vips.size() > ctx.maxVips())
        {
            throw new IllegalArgumentException(vips.size() + " VIPs, more than the " + ctx.maxVips() +
                " the client's table holds");
        }
        ClientVips.write(vips, ctx::cidrsOf, obj.map(Abi.Maps.CLIENT_VIPS),
            obj.map(Abi.Maps.BACKEND_CIDRS));
    }

    /** When a reporting server's next report is due (the clock's nanoseconds); only for a reporting server. */
    long nextReportNs()
    {
        return reporter.nextReportNs();
    }

    @Override
    public int doWork()
    {
        if (ctx.role() == Role.SERVER)
        {
            return reporter == null ? 0 : reporter.doWork();
        }
        final long now = clock.nanoTime();
        if (now < nextSweepNs)
        {
            return 0;
        }
        nextSweepNs = now + SWEEP_INTERVAL_NS;
        return sweepFlows(now);
    }

    /**
     * Removes pending flows that never got a redirect and flows whose socket is gone or in TIME_WAIT. {@code now}
     * is taken before the socket dump begins. The kernel dumps its socket table in chunks and resumes each chunk by
     * position, so a socket removed meanwhile can make the next chunk skip a live one: a flow goes only when two
     * sweeps in a row miss its socket, since removing a live flow would break its connection.
     */
    int sweepFlows(final long now)
    {
        final BpfMap flows = obj.map(Abi.Maps.FLOWS);
        final BpfMap rflows = obj.map(Abi.Maps.RFLOWS);
        final BpfMap ports = obj.map(Abi.Maps.PORTS);
        dumpLiveSockets();
        missingThisSweep.clear();
        int deadCount = 0;
        walk.reset();
        while (!walk.done())
        {
            final int n = flows.lookupBatch(walk, walkKeys, walkValues, WALK_BATCH);
            for (int i = 0; i < n; i++)
            {
                key.putBytes(0, walkKeys, i * Abi.FlowKey.SIZE, Abi.FlowKey.SIZE);
                final int at = i * Abi.Flow.SIZE;
                final long createdNs = walkValues.getLong(at + Abi.Flow.CREATED_NS, ByteOrder.nativeOrder());
                final boolean pending = walkValues.getByte(at + Abi.Flow.STATE) == Abi.Consts.CRAB_FLOW_PENDING;
                final long socket = socketKey();
                // A flow is stamped at its SYN, after its socket was hashed: one stamped before the dump began has
                // a socket the dump walked past, unless the socket is gone or in TIME_WAIT.
                final boolean socketMissing = createdNs < now && !liveSockets.contains(socket);
                if (socketMissing)
                {
                    missingThisSweep.add(socket);
                }
                if (shouldRemove(pending, now - createdNs, socketMissing, missingLastSweep.contains(socket)))
                {
                    final int offset = deadCount++ * DEAD_FLOW_SIZE;
                    deadFlows.putBytes(offset, key, 0, Abi.FlowKey.SIZE);
                    deadFlows.putLong(offset + DEAD_FLOW_CREATED_NS, createdNs);
                }
            }
        }
        final LongHashSet missedBefore = missingLastSweep;
        missingLastSweep = missingThisSweep;
        missingThisSweep = missedBefore;
        int removed = 0;
        for (int i = 0; i < deadCount; i++)
        {
            final int offset = i * DEAD_FLOW_SIZE;
            key.putBytes(0, deadFlows, offset, Abi.FlowKey.SIZE);
            final long judgedCreatedNs = deadFlows.getLong(offset + DEAD_FLOW_CREATED_NS);
            // A new connection may have taken the tuple since the flow was judged (tcp_tw_reuse): leave that one.
            if (!flows.lookup(key, flow) ||
                flow.getLong(Abi.Flow.CREATED_NS, ByteOrder.nativeOrder()) != judgedCreatedNs)
            {
                continue;
            }
            if (flow.getByte(Abi.Flow.STATE) == Abi.Consts.CRAB_FLOW_REDIRECTED)
            {
                rkey.putBytes(0, key, 0, Abi.FlowKey.SIZE);
                rkey.putInt(Abi.FlowKey.REMOTE_ADDR, flow.getInt(Abi.Flow.PEER_ADDR));
                rkey.putShort(Abi.FlowKey.REMOTE_PORT, flow.getShort(Abi.Flow.PEER_PORT));
                rflows.delete(rkey);
            }
            releasePort(ports);
            flows.delete(key);
            removed++;
        }
        return removed;
    }

    /** Dumps the live sockets; after a failed dump the socket is opened anew, in the namespace served. */
    private void dumpLiveSockets()
    {
        if (socketDiag == null)
        {
            socketDiag = netns == null ? SocketDiag.open() : netns.call(SocketDiag::open);
        }
        try
        {
            socketDiag.dump(SocketDiag.LIVE_CONNECTION_STATES, liveSockets);
        }
        catch (final SocketDiagException ex)
        {
            socketDiag.close();
            socketDiag = null;
            throw ex;
        }
    }

    /** Drops the flow's claim on its local port, unless another flow has taken the port since. */
    private void releasePort(final BpfMap ports)
    {
        portKey.setMemory(0, Abi.PortKey.SIZE, (byte)0);
        portKey.putInt(Abi.PortKey.LOCAL_ADDR, key.getInt(Abi.FlowKey.LOCAL_ADDR));
        portKey.putShort(Abi.PortKey.LOCAL_PORT, key.getShort(Abi.FlowKey.LOCAL_PORT));
        if (ports.lookup(portKey, portOwner) &&
            portOwner.getInt(Abi.VipKey.ADDR) == key.getInt(Abi.FlowKey.REMOTE_ADDR) &&
            portOwner.getShort(Abi.VipKey.PORT) == key.getShort(Abi.FlowKey.REMOTE_PORT))
        {
            ports.delete(portKey);
        }
    }

    /** A map of the loaded programs, for tests that plant the flows a sweep must judge. */
    BpfMap map(final String name)
    {
        return obj.map(name);
    }

    /** The rule of {@link #sweepFlows}: any flow on two missed sightings of its socket, a pending one also by age. */
    static boolean shouldRemove(final boolean pending, final long ageNs, final boolean socketMissing,
        final boolean missingLastSweep)
    {
        return socketMissing && missingLastSweep || pending && ageNs > PENDING_TIMEOUT_NS;
    }

    private long socketKey()
    {
        return SocketDiag.key(
            key.getInt(Abi.FlowKey.LOCAL_ADDR, ByteOrder.BIG_ENDIAN),
            key.getShort(Abi.FlowKey.LOCAL_PORT, ByteOrder.BIG_ENDIAN) & 0xffff,
            key.getInt(Abi.FlowKey.REMOTE_ADDR, ByteOrder.BIG_ENDIAN),
            key.getShort(Abi.FlowKey.REMOTE_PORT, ByteOrder.BIG_ENDIAN) & 0xffff);
    }

    /** Lets go of the data path, which stays attached and pinned for the next run. */
    @Override
    public void onClose()
    {
        if (reporter != null)
        {
            reporter.close();
        }
        if (socketDiag != null)
        {
            socketDiag.close();
        }
        if (metricsServer != null)
        {
            metricsServer.close();
            metrics.close();
        }
        if (datapath != null)
        {
            datapath.close();
        }
    }

    @Override
    public String roleName()
    {
        return "crab-endpoint-" + ctx.role().name().toLowerCase();
    }
}
