package io.crab.endpoint;

import io.crab.agent.HostPort;
import io.crab.agent.Interfaces;
import io.crab.agent.OptionKind;
import io.crab.agent.Pins;
import io.crab.bpf.Abi;
import io.crab.bpf.Attachment;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram.TcDirection;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A host's side of connection redirect. As a server it echoes the option of redirected SYNs; as a client it
 * marks SYNs to its VIPs and rewrites redirected connections. The client agent is the one user-space writer of
 * its maps: it configures the VIPs and, in its duty cycle, removes flows whose socket is gone.
 */
public final class EndpointAgent implements Agent
{
    public enum Role
    {
        CLIENT, SERVER
    }

    /** A pending flow older than this never got its redirect (SYN retries end at about 63 s on Linux). */
    static final long PENDING_TIMEOUT_NS = 75_000_000_000L;
    /** Flows younger than this are not checked against the socket dump, which a new socket may not be in yet. */
    static final long MIN_AGE_FOR_SOCKET_CHECK_NS = 2_000_000_000L;
    static final long SWEEP_INTERVAL_NS = 1_000_000_000L;
    private static final int DEAD_FLOW_CREATED_NS = Abi.FlowKey.SIZE;
    private static final int DEAD_FLOW_SIZE = Abi.FlowKey.SIZE + Long.BYTES;

    private final Role role;
    private final String iface;
    private final List<HostPort> vips;
    private final OptionKind option;
    private final NanoClock clock;
    private final List<Attachment> attachments = new ArrayList<>();
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
    private final UnsafeBuffer next = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
    private final UnsafeBuffer flow = new UnsafeBuffer(new byte[Abi.Flow.SIZE]);
    private final UnsafeBuffer rkey = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
    /** Keys of the sockets that still carry a connection, refilled by each sweep. */
    private final LongHashSet liveSockets = new LongHashSet();
    /** Flows judged dead, each as its key and creation time, removed once the walk of the table is over. */
    private final ExpandableArrayBuffer deadFlows = new ExpandableArrayBuffer();
    private BpfObject obj;
    private SocketDiag socketDiag;
    private Path pinDir;
    private long nextSweepNs;
    /** Sockets of flows the last sweep did not find: their flows go if this sweep misses them too. */
    private LongHashSet missingLastSweep = new LongHashSet();
    private LongHashSet missingThisSweep = new LongHashSet();

    public EndpointAgent(final Role role, final String iface, final List<HostPort> vips, final OptionKind option,
        final NanoClock clock)
    {
        this.role = role;
        this.iface = iface;
        this.vips = List.copyOf(vips);
        this.option = option;
        this.clock = clock;
    }

    @Override
    public void onStart()
    {
        final int ifindex = Interfaces.ifindex(iface);
        final String prefix = role == Role.CLIENT ? "crab_client_" : "crab_server_";
        obj = Bpf.load(role == Role.CLIENT ? "client_tc" : "server_tc");
        try
        {
            option.writeTo(obj.map("opt_cfg"));
            if (role == Role.CLIENT)
            {
                writeVips(obj.map("client_vips"));
                // Here, on the thread in the namespace the agent serves: the socket observes that one for good.
                socketDiag = SocketDiag.open();
            }
            pinDir = Pins.create(Pins.dir(role.name().toLowerCase(), iface));
            final String counters = role == Role.CLIENT ? "client_counters" : "server_counters";
            obj.map(counters).pin(pinDir.resolve(counters).toString());
            attachments.add(obj.program(prefix + "ingress").attachTc(ifindex, TcDirection.INGRESS));
            attachments.add(obj.program(prefix + "egress").attachTc(ifindex, TcDirection.EGRESS));
        }
        catch (final RuntimeException ex)
        {
            onClose();
            throw ex;
        }
        nextSweepNs = clock.nanoTime() + SWEEP_INTERVAL_NS;
    }

    private void writeVips(final BpfMap clientVips)
    {
        final UnsafeBuffer vipKey = new UnsafeBuffer(new byte[Abi.VipKey.SIZE]);
        final UnsafeBuffer unused = new UnsafeBuffer(new byte[4]);
        for (final HostPort vip : vips)
        {
            vipKey.setMemory(0, Abi.VipKey.SIZE, (byte)0);
            vipKey.putBytes(Abi.VipKey.ADDR, vip.address().getAddress());
            vipKey.putShort(Abi.VipKey.PORT, (short)vip.port(), ByteOrder.BIG_ENDIAN);
            clientVips.update(vipKey, unused, BpfMap.UPDATE_ANY);
        }
    }

    @Override
    public int doWork()
    {
        final long now = clock.nanoTime();
        if (role != Role.CLIENT || now < nextSweepNs)
        {
            return 0;
        }
        nextSweepNs = now + SWEEP_INTERVAL_NS;
        return sweepFlows(now);
    }

    /**
     * Removes flows whose socket is gone: closed, or in TIME_WAIT, where it sends nothing more that needs
     * rewriting. The kernel lists sockets in pieces while they come and go, so one dump can skip a live socket:
     * a flow goes only when two sweeps in a row miss its socket, since removing a live flow would break its
     * connection. A pending flow also goes when it is older than any SYN retry, whatever the dumps said.
     */
    int sweepFlows(final long now)
    {
        final BpfMap flows = obj.map("flows");
        final BpfMap rflows = obj.map("rflows");
        socketDiag.dump(SocketDiag.LIVE_CONNECTION_STATES, liveSockets);
        missingThisSweep.clear();
        int deadCount = 0;
        boolean more = flows.nextKey(null, next);
        while (more)
        {
            key.putBytes(0, next, 0, Abi.FlowKey.SIZE);
            if (flows.lookup(key, flow))
            {
                final long createdNs = flow.getLong(Abi.Flow.CREATED_NS, ByteOrder.nativeOrder());
                final long age = now - createdNs;
                final boolean pending = flow.getByte(Abi.Flow.STATE) == Abi.Consts.CRAB_FLOW_PENDING;
                final long socket = socketKey();
                final boolean socketMissing = age > MIN_AGE_FOR_SOCKET_CHECK_NS && !liveSockets.contains(socket);
                if (socketMissing)
                {
                    missingThisSweep.add(socket);
                }
                if (shouldRemove(pending, age, socketMissing, missingLastSweep.contains(socket)))
                {
                    final int offset = deadCount++ * DEAD_FLOW_SIZE;
                    deadFlows.putBytes(offset, key, 0, Abi.FlowKey.SIZE);
                    deadFlows.putLong(offset + DEAD_FLOW_CREATED_NS, createdNs);
                }
            }
            more = flows.nextKey(key, next);
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
            flows.delete(key);
            removed++;
        }
        return removed;
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

    @Override
    public void onClose()
    {
        if (socketDiag != null)
        {
            socketDiag.close();
        }
        for (final Attachment a : attachments)
        {
            a.close();
        }
        attachments.clear();
        if (pinDir != null)
        {
            Pins.remove(pinDir);
        }
        if (obj != null)
        {
            obj.close();
        }
    }

    @Override
    public String roleName()
    {
        return "crab-endpoint-" + role.name().toLowerCase();
    }
}
