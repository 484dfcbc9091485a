package io.crab.bench.hostile;

import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.Counters;
import io.crab.rig.XdpTestNet;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Supplier;

/**
 * One loaded BPF object with the configuration and state of {@link Pool}: VIPs and backends for the LB, VIPs,
 * allowed backend prefixes, and pending and redirected flows for the client, echoes for the server. The state the
 * programs change (flows, port claims, echoes, remembered SYNs) is written again before every frame, so every frame
 * meets the same state, whatever the frames before it did (reset flows, restarted them, redirected them).
 * The LB runs in an {@link XdpTestNet}, whose neighbour table its FIB lookups read.
 */
final class Fixture implements AutoCloseable
{
    private static final long SYN_TTL_NS = Abi.Consts.CRAB_SYN_TTL_SEC * 1_000_000_000L;
    private static final int BUFFER_SIZE = 64;
    /** LPM keys match the whole 32-bit VIP id before the address. */
    private static final int VIP_ID_BITS = 32;
    private static final int BACKEND_DOWN = 0;
    /** LB backend ids: DIP1, DIP2, DIP1:8080, the unresolved one, and DIP2 marked down. */
    private static final int BACKEND_UNRESOLVED = 3;
    private static final int BACKEND_WENT_DOWN = 4;
    /** Client ports whose SYNs the LB remembers as sent to the backend that went down: retransmissions rebalance. */
    static final int[] LB_PORTS_OF_A_DOWN_BACKEND = {40015, 40016};

    private final BpfObject obj;
    private final XdpTestNet net;
    private final BpfMap optCfg;
    private final Counters counters;
    private final int counterCount;
    private final List<Entry> state = new ArrayList<>();
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[BUFFER_SIZE]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[BUFFER_SIZE]);
    private OptionConfig config;

    private Fixture(final String object, final String counterMap, final XdpTestNet net)
    {
        this.net = net;
        try
        {
            obj = Bpf.load(object);
        }
        catch (final RuntimeException ex)
        {
            if (net != null)
            {
                net.close();
            }
            throw ex;
        }
        optCfg = obj.map(Abi.Maps.OPT_CFG);
        final BpfMap counterValues = obj.map(counterMap);
        counters = new Counters(counterValues);
        counterCount = counterValues.maxEntries();
    }

    /** lb_xdp with the VIPs and backends of {@link Pool}, in a namespace where DIP1 and DIP2 are neighbours. */
    static Fixture lb()
    {
        final XdpTestNet net = XdpTestNet.create();
        final Fixture f = new Fixture("lb_xdp", Abi.Maps.LB_COUNTERS, net);
        try
        {
            final HexFormat mac = HexFormat.ofDelimiter(":");
            net.neighbour(address(Pool.DIP1), mac.formatHex(Pool.DIP1_MAC));
            net.neighbour(address(Pool.DIP2), mac.formatHex(Pool.DIP2_MAC));
            f.backend(0, Pool.DIP1, 0, Abi.Consts.CRAB_BACKEND_UP);
            f.backend(1, Pool.DIP2, 0, Abi.Consts.CRAB_BACKEND_UP);
            f.backend(2, Pool.DIP1, Pool.BACKEND_PORT, Abi.Consts.CRAB_BACKEND_UP);
            f.backend(BACKEND_UNRESOLVED, Pool.DIP_UNRESOLVED, 0, Abi.Consts.CRAB_BACKEND_UP);
            f.backend(BACKEND_WENT_DOWN, Pool.DIP2, 0, BACKEND_DOWN);
            f.lbVip(Pool.VIP_ALL_PORTS, 0, 0, 0, Abi.Consts.CRAB_POLICY_JSQ, 0, 1);
            f.lbVip(Pool.VIP_PORT_80, Pool.VIP_PORT, 1, 0, Abi.Consts.CRAB_POLICY_HASH, 2);
            f.lbVip(Pool.VIP_UNMARKED, 0, 2, Abi.Consts.CRAB_VIP_REDIRECT_UNMARKED, Abi.Consts.CRAB_POLICY_P2C, 1);
            f.lbVip(Pool.VIP_NO_BACKEND, 0, 3, 0, Abi.Consts.CRAB_POLICY_RR);
            f.lbVip(Pool.VIP_NO_ROUTE, 0, 4, 0, Abi.Consts.CRAB_POLICY_RR, BACKEND_UNRESOLVED);
            final BpfMap synSlots = f.obj.map(Abi.Maps.SYN_SLOTS);
            for (final int port : LB_PORTS_OF_A_DOWN_BACKEND)
            {
                final UnsafeBuffer v = zeroed();
                v.putBytes(Abi.SynSlot.KEY + Abi.SynKey.CLIENT_ADDR, Pool.CLIENT);
                v.putBytes(Abi.SynSlot.KEY + Abi.SynKey.VIP_ADDR, Pool.VIP_ALL_PORTS);
                v.putShort(Abi.SynSlot.KEY + Abi.SynKey.CLIENT_PORT, (short)port, ByteOrder.BIG_ENDIAN);
                v.putShort(Abi.SynSlot.KEY + Abi.SynKey.VIP_PORT, (short)Pool.VIP_PORT, ByteOrder.BIG_ENDIAN);
                v.putInt(Abi.SynSlot.BACKEND_ID, BACKEND_WENT_DOWN, ByteOrder.nativeOrder());
                // the program compares the SYN's sequence number as it is on the wire
                v.putInt(Abi.SynSlot.SEQ, (int)BaseFrames.lbIsn(port), ByteOrder.BIG_ENDIAN);
                final UnsafeBuffer k = zeroed();
                k.putInt(0, SynSlots.slotOf(new UnsafeBuffer(v, Abi.SynSlot.KEY, Abi.SynKey.SIZE)),
                    ByteOrder.nativeOrder());
                f.state.add(new Entry(synSlots, k, v, Abi.SynSlot.SEEN_NS, 0));
            }
            return f;
        }
        catch (final RuntimeException ex)
        {
            f.close();
            throw ex;
        }
    }

    /**
     * lb_tc, the hashing fallback: the all-ports VIP with a one-entry Maglev table naming DIP1, the VIP without
     * backends with none, and two known connections: one on DIP2, which serves, one on a backend that went down.
     */
    static Fixture lbFallback()
    {
        final Fixture f = new Fixture("lb_tc", Abi.Maps.FALLBACK_COUNTERS, null);
        try
        {
            final int serving = Abi.Consts.CRAB_BACKEND_UP | Abi.Consts.CRAB_BACKEND_SERVING;
            f.backend(0, Pool.DIP1, 0, serving);
            f.backend(1, Pool.DIP2, 0, serving);
            f.backend(BACKEND_WENT_DOWN, Pool.DIP2, 0, BACKEND_DOWN);
            f.fallbackVip(Pool.VIP_ALL_PORTS, 0, 0);
            f.fallbackVip(Pool.VIP_NO_BACKEND, 1);
            final BpfMap connTable = f.obj.map(Abi.Maps.CONN_TABLE);
            final int[] backendOfPort = {BACKEND_WENT_DOWN, 1};
            for (int i = 0; i < LB_PORTS_OF_A_DOWN_BACKEND.length; i++)
            {
                final UnsafeBuffer k = zeroed();
                k.putBytes(Abi.SynKey.CLIENT_ADDR, Pool.CLIENT);
                k.putBytes(Abi.SynKey.VIP_ADDR, Pool.VIP_ALL_PORTS);
                k.putShort(Abi.SynKey.CLIENT_PORT, (short)LB_PORTS_OF_A_DOWN_BACKEND[i], ByteOrder.BIG_ENDIAN);
                k.putShort(Abi.SynKey.VIP_PORT, (short)Pool.VIP_PORT, ByteOrder.BIG_ENDIAN);
                final UnsafeBuffer v = zeroed();
                v.putInt(Abi.Conn.BACKEND_ID, backendOfPort[i], ByteOrder.nativeOrder());
                f.state.add(new Entry(connTable, k, v, -1, 0));
            }
            return f;
        }
        catch (final RuntimeException ex)
        {
            f.close();
            throw ex;
        }
    }

    /**
     * client_tc with both client VIPs (all of 198.18.0.0/24 allowed as backends of the first, only DIP1 of the
     * second), and the pending and redirected flows of {@link Pool} with their reverse entries and port claims.
     */
    static Fixture client()
    {
        final Fixture f = new Fixture("client_tc", Abi.Maps.CLIENT_COUNTERS, null);
        try
        {
            f.clientVip(Pool.VIP_ALL_PORTS, 0, 0, Pool.BACKEND_NET, 24);
            f.clientVip(Pool.VIP_PORT_80, Pool.VIP_PORT, 1, Pool.DIP1, 32);
            final BpfMap flows = f.obj.map(Abi.Maps.FLOWS);
            final BpfMap rflows = f.obj.map(Abi.Maps.RFLOWS);
            final BpfMap ports = f.obj.map(Abi.Maps.PORTS);
            for (final Pool.Flow flow : Pool.FLOWS)
            {
                if (flow == Pool.EXPIRED)
                {
                    continue;
                }
                final boolean redirected = Pool.REDIRECTED_FLOWS.contains(flow);
                final UnsafeBuffer v = zeroed();
                v.putInt(Abi.Flow.SYN_SEQ, (int)flow.isn(), ByteOrder.nativeOrder());
                v.putByte(Abi.Flow.STATE,
                    (byte)(redirected ? Abi.Consts.CRAB_FLOW_REDIRECTED : Abi.Consts.CRAB_FLOW_PENDING));
                if (redirected)
                {
                    v.putBytes(Abi.Flow.PEER_ADDR, flow.dip());
                    v.putShort(Abi.Flow.PEER_PORT, (short)flow.dipPort(), ByteOrder.BIG_ENDIAN);
                    final UnsafeBuffer r = zeroed();
                    r.putBytes(Abi.Rflow.VIP_ADDR, flow.vip());
                    r.putShort(Abi.Rflow.VIP_PORT, (short)flow.vipPort(), ByteOrder.BIG_ENDIAN);
                    r.putByte(Abi.Rflow.CLOSING,
                        (byte)(flow.closing() ? Abi.Consts.CRAB_FIN_OUT | Abi.Consts.CRAB_FIN_IN : 0));
                    f.state.add(new Entry(rflows, flowKey(Pool.CLIENT, flow.dip(), flow.clientPort(),
                        flow.dipPort()), r, -1, 0));
                }
                f.state.add(new Entry(flows, flowKey(Pool.CLIENT, flow.vip(), flow.clientPort(), flow.vipPort()), v,
                    Abi.Flow.CREATED_NS, 0));
                // COLLIDING comes after PENDING, so it owns the port they share
                final UnsafeBuffer portKey = zeroed();
                portKey.putBytes(Abi.PortKey.LOCAL_ADDR, Pool.CLIENT);
                portKey.putShort(Abi.PortKey.LOCAL_PORT, (short)flow.clientPort(), ByteOrder.BIG_ENDIAN);
                final UnsafeBuffer owner = zeroed();
                owner.putBytes(Abi.VipKey.ADDR, flow.vip());
                owner.putShort(Abi.VipKey.PORT, (short)flow.vipPort(), ByteOrder.BIG_ENDIAN);
                f.state.add(new Entry(ports, portKey, owner, -1, 0));
            }
            return f;
        }
        catch (final RuntimeException ex)
        {
            f.close();
            throw ex;
        }
    }

    /** server_tc on DIP1 with the echoes of the pending flows' redirected SYNs, and one expired echo. */
    static Fixture server()
    {
        final Fixture f = new Fixture("server_tc", Abi.Maps.SERVER_COUNTERS, null);
        try
        {
            final BpfMap echoes = f.obj.map(Abi.Maps.ECHOES);
            for (final Pool.Flow flow : List.of(Pool.PENDING, Pool.PENDING_PORTED, Pool.EXPIRED))
            {
                final UnsafeBuffer v = zeroed();
                v.putBytes(Abi.Echo.VIP_ADDR, flow.vip());
                v.putShort(Abi.Echo.VIP_PORT, (short)flow.vipPort(), ByteOrder.BIG_ENDIAN);
                v.putByte(Abi.Echo.HAS_PORT, (byte)(flow.optionPort() >= 0 ? 1 : 0));
                final UnsafeBuffer tuple = flowKey(flow.dip(), Pool.CLIENT, flow.dipPort(), flow.clientPort());
                v.putBytes(Abi.Echo.KEY, tuple, 0, Abi.FlowKey.SIZE);
                final UnsafeBuffer k = zeroed();
                k.putInt(0, SynSlots.echoSlotOf(tuple), ByteOrder.nativeOrder());
                f.state.add(new Entry(echoes, k, v, Abi.Echo.SEEN_NS, flow == Pool.EXPIRED ? 2 * SYN_TTL_NS : 0));
            }
            return f;
        }
        catch (final RuntimeException ex)
        {
            f.close();
            throw ex;
        }
    }

    /** A runner of one of the object's programs; XDP frames arrive on the test namespace's device. */
    BpfProgram.FrameRunner runner(final String program, final int maxFrameLength)
    {
        final BpfProgram p = obj.program(program);
        return net != null ? p.xdpFrameRunner(maxFrameLength, net.ifindex()) : p.frameRunner(maxFrameLength);
    }

    /** Runs a task where the programs' frames must be run: inside the test namespace, for the LB. */
    <T> T call(final Supplier<T> task)
    {
        return net != null ? net.call(task::get) : task.get();
    }

    /** Entries in the counter map. */
    int counterCount()
    {
        return counterCount;
    }

    /** Before a frame: the option configuration it is built for, and the state of {@link Pool} as it was. */
    void prepare(final OptionConfig frameConfig)
    {
        if (frameConfig != config)
        {
            frameConfig.writeTo(optCfg, key, value);
            config = frameConfig;
        }
        final long now = System.nanoTime();
        for (final Entry entry : state)
        {
            if (entry.timeOffset >= 0)
            {
                // bpf_ktime_get_ns() is CLOCK_MONOTONIC, as System.nanoTime() is on Linux
                entry.value.putLong(entry.timeOffset, now - entry.ageNs, ByteOrder.nativeOrder());
            }
            entry.map.update(entry.key, entry.value, BpfMap.UPDATE_ANY);
        }
    }

    /** Every counter, summed over CPUs, into {@code sums[0, counterCount())}. */
    void readCounters(final long[] sums)
    {
        for (int i = 0; i < counterCount; i++)
        {
            sums[i] = counters.sum(i);
        }
    }

    @Override
    public void close()
    {
        try
        {
            obj.close();
        }
        finally
        {
            if (net != null)
            {
                net.close();
            }
        }
    }

    private void backend(final int id, final byte[] addr, final int port, final int flags)
    {
        key.putInt(0, id);
        value.setMemory(0, BUFFER_SIZE, (byte)0);
        value.putBytes(Abi.Backend.ADDR, addr);
        value.putShort(Abi.Backend.PORT, (short)port, ByteOrder.BIG_ENDIAN);
        value.putShort(Abi.Backend.FLAGS, (short)flags, ByteOrder.nativeOrder());
        obj.map(Abi.Maps.BACKENDS).update(key, value, BpfMap.UPDATE_ANY);
    }

    private void lbVip(final byte[] addr, final int port, final int vipId, final int flags, final int policy,
        final int... backendIds)
    {
        for (int slot = 0; slot < backendIds.length; slot++)
        {
            key.putInt(0, vipId * Abi.Consts.CRAB_MAX_SLOTS + slot);
            value.putInt(0, backendIds[slot]);
            obj.map(Abi.Maps.VIP_SLOTS).update(key, value, BpfMap.UPDATE_ANY);
            value.putInt(Abi.Member.WEIGHT, 1);
            value.putInt(Abi.Member.WEIGHT_END, slot + 1);
            obj.map(Abi.Maps.VIP_MEMBERS).update(key, value, BpfMap.UPDATE_ANY);
        }
        vipKey(addr, port);
        value.setMemory(0, BUFFER_SIZE, (byte)0);
        value.putInt(Abi.Vip.VIP_ID, vipId);
        value.putInt(Abi.Vip.FLAGS, flags);
        value.putInt(Abi.Vip.POLICY, policy);
        value.putInt(Abi.Vip.SLOT_BASE, vipId * Abi.Consts.CRAB_MAX_SLOTS);
        value.putInt(Abi.Vip.SLOT_COUNT, backendIds.length);
        value.putInt(Abi.Vip.MEMBER_COUNT, backendIds.length);
        obj.map(Abi.Maps.VIPS).update(key, value, BpfMap.UPDATE_ANY);
    }

    /** A fallback VIP (every port) whose Maglev table, its own row, holds {@code backendIds}. */
    private void fallbackVip(final byte[] addr, final int vipId, final int... backendIds)
    {
        final int base = vipId * Abi.Consts.CRAB_MAGLEV_SIZE;
        for (int i = 0; i < backendIds.length; i++)
        {
            key.putInt(0, base + i);
            value.putInt(0, backendIds[i]);
            obj.map(Abi.Maps.MAGLEV_TABLES).update(key, value, BpfMap.UPDATE_ANY);
        }
        vipKey(addr, 0);
        value.setMemory(0, BUFFER_SIZE, (byte)0);
        value.putInt(Abi.Vip.VIP_ID, vipId);
        value.putInt(Abi.Vip.MAGLEV_BASE, base);
        value.putInt(Abi.Vip.MAGLEV_COUNT, backendIds.length);
        obj.map(Abi.Maps.VIPS).update(key, value, BpfMap.UPDATE_ANY);
    }

    /** A client VIP, and the one backend prefix it allows. */
    private void clientVip(final byte[] addr, final int port, final int vipId, final byte[] backends,
        final int prefixLength)
    {
        vipKey(addr, port);
        value.setMemory(0, BUFFER_SIZE, (byte)0);
        value.putInt(Abi.ClientVip.VIP_ID, vipId);
        obj.map(Abi.Maps.CLIENT_VIPS).update(key, value, BpfMap.UPDATE_ANY);

        key.setMemory(0, BUFFER_SIZE, (byte)0);
        key.putInt(Abi.CidrKey.PREFIXLEN, VIP_ID_BITS + prefixLength);
        key.putInt(Abi.CidrKey.VIP_ID, vipId);
        key.putBytes(Abi.CidrKey.ADDR, backends);
        value.setMemory(0, BUFFER_SIZE, (byte)0);
        obj.map(Abi.Maps.BACKEND_CIDRS).update(key, value, BpfMap.UPDATE_ANY);
    }

    private void vipKey(final byte[] addr, final int port)
    {
        key.setMemory(0, BUFFER_SIZE, (byte)0);
        key.putBytes(Abi.VipKey.ADDR, addr);
        key.putShort(Abi.VipKey.PORT, (short)port, ByteOrder.BIG_ENDIAN);
    }

    private static String address(final byte[] addr)
    {
        return (addr[0] & 0xff) + "." + (addr[1] & 0xff) + "." + (addr[2] & 0xff) + "." + (addr[3] & 0xff);
    }

    private static UnsafeBuffer flowKey(final byte[] local, final byte[] remote, final int localPort,
        final int remotePort)
    {
        final UnsafeBuffer k = zeroed();
        k.putBytes(Abi.FlowKey.LOCAL_ADDR, local);
        k.putBytes(Abi.FlowKey.REMOTE_ADDR, remote);
        k.putShort(Abi.FlowKey.LOCAL_PORT, (short)localPort, ByteOrder.BIG_ENDIAN);
        k.putShort(Abi.FlowKey.REMOTE_PORT, (short)remotePort, ByteOrder.BIG_ENDIAN);
        return k;
    }

    private static UnsafeBuffer zeroed()
    {
        return new UnsafeBuffer(new byte[BUFFER_SIZE]);
    }

    /**
     * One map entry of the fixture's state, written before every frame.
     *
     * @param timeOffset where the value holds a CLOCK_MONOTONIC time to set to now minus {@code ageNs}; -1: none
     */
    private record Entry(BpfMap map, UnsafeBuffer key, UnsafeBuffer value, int timeOffset, long ageNs)
    {
    }
}
