package io.crab.bench.syncost;

import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.Counters;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.frames.Frames;
import io.crab.rig.XdpTestNet;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.Callable;


/**
 * The XDP load balancer loaded and configured like crab-lb would: one VIP, all ports, kind 42, its backends on 3
 * addresses, in the slot table and (for jsq and p2c) the member table, the policy set by {@link #usePolicy}. It
 * runs on frames that arrive on a test namespace's device, where the backends' neighbours are set, so its FIB
 * lookups take the path they take on a host; {@link #run} must be called inside {@link #call}.
 */
final class LbFixture implements AutoCloseable
{
    static final byte[] LB_MAC = Frames.mac("02:00:00:00:00:02");
    static final byte[] VIP = Frames.ip("198.19.0.1");
    static final int OPTION_KIND = 42;
    private static final String[] BACKEND_IP_TEXTS = {"198.18.0.101", "198.18.0.102", "198.18.0.103"};
    static final byte[][] BACKEND_IPS = {
        Frames.ip(BACKEND_IP_TEXTS[0]), Frames.ip(BACKEND_IP_TEXTS[1]), Frames.ip(BACKEND_IP_TEXTS[2]),
    };
    static final String[] BACKEND_MACS = {"02:00:00:00:01:01", "02:00:00:00:01:02", "02:00:00:00:01:03"};
    private static final int VIP_ID = 0;
    private static final int BUFFER_SIZE = 64;

    private final XdpTestNet net;
    private final BpfObject obj;
    private final BpfProgram program;
    private final Counters counters;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[BUFFER_SIZE]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[BUFFER_SIZE]);
    private final int backends;

    /** {@code backends} backends (1..CRAB_MAX_SLOTS) under round-robin. */
    LbFixture(final int backends)
    {
        if (backends < 1 || backends > Abi.Consts.CRAB_MAX_SLOTS)
        {
            throw new IllegalArgumentException("backends must be 1.." + Abi.Consts.CRAB_MAX_SLOTS + ", got " +
                backends);
        }
        this.backends = backends;
        net = XdpTestNet.create();
        try
        {
            obj = Bpf.load("lb_xdp");
        }
        catch (final RuntimeException ex)
        {
            net.close();
            throw ex;
        }
        try
        {
            program = obj.program("crab_lb");
            counters = new Counters(obj.map(Abi.Maps.LB_COUNTERS));
            configure();
        }
        catch (final RuntimeException ex)
        {
            close();
            throw ex;
        }
    }

    /** Runs the task inside the test namespace, where {@link #run} works. */
    <T> T call(final Callable<T> task)
    {
        return net.call(task);
    }

    /** One BPF_PROG_TEST_RUN of an XDP program on the frame as arriving on the test device. */
    BpfProgram.TestRun run(final BpfProgram xdp, final byte[] frame, final int repeat)
    {
        return xdp.testRunXdp(frame, repeat, net.ifindex());
    }

    /**
     * One BPF_PROG_TEST_RUN of {@code repeat} live frames (BPF_F_TEST_XDP_LIVE_FRAMES) arriving on the test device:
     * XDP_TX sends them out of it, XDP_PASS hands them to its stack. Returns the kernel's ns per frame.
     */
    long runLive(final BpfProgram xdp, final byte[] frame, final int repeat)
    {
        return xdp.testRunXdpLive(frame, repeat, net.ifindex());
    }

    BpfProgram program()
    {
        return program;
    }

    /** One lb_counters entry (enum crab_lb_counter), summed over CPUs since the map is per CPU. */
    long counter(final int index)
    {
        return counters.sum(index);
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
            net.close();
        }
    }

    private void configure()
    {
        key.putInt(0, 0);
        value.setMemory(0, BUFFER_SIZE, (byte)0);
        value.putByte(Abi.OptCfg.KIND, (byte)OPTION_KIND);
        obj.map(Abi.Maps.OPT_CFG).update(key, value, BpfMap.UPDATE_ANY);

        for (int i = 0; i < BACKEND_IPS.length; i++)
        {
            net.neighbour(BACKEND_IP_TEXTS[i], BACKEND_MACS[i]);
        }
        for (int id = 0; id < backends; id++)
        {
            key.putInt(0, id);
            value.setMemory(0, BUFFER_SIZE, (byte)0);
            value.putBytes(Abi.Backend.ADDR, BACKEND_IPS[id % BACKEND_IPS.length]);
            value.putShort(Abi.Backend.FLAGS, (short)Abi.Consts.CRAB_BACKEND_UP);
            obj.map(Abi.Maps.BACKENDS).update(key, value, BpfMap.UPDATE_ANY);

            key.putInt(0, VIP_ID * Abi.Consts.CRAB_MAX_SLOTS + id);
            value.setMemory(0, BUFFER_SIZE, (byte)0);
            value.putInt(0, id);
            obj.map(Abi.Maps.VIP_SLOTS).update(key, value, BpfMap.UPDATE_ANY);
            value.putInt(Abi.Member.BACKEND_ID, id);
            value.putInt(Abi.Member.WEIGHT, 1);
            value.putInt(Abi.Member.WEIGHT_END, id + 1);
            obj.map(Abi.Maps.VIP_MEMBERS).update(key, value, BpfMap.UPDATE_ANY);
        }
        usePolicy(Abi.Consts.CRAB_POLICY_RR);
    }

    /** Makes the VIP pick by {@code policy} (enum crab_policy) from now on, as a live reload would. */
    void usePolicy(final int policy)
    {
        // Port 0 in the key: the VIP takes every port; the map holds no VIP with a port, as crab-lb tells the program.
        key.setMemory(0, BUFFER_SIZE, (byte)0);
        value.setMemory(0, BUFFER_SIZE, (byte)0);
        value.putInt(0, Abi.Consts.CRAB_VIPS_ANY_PORT);
        obj.map(Abi.Maps.VIP_KINDS).update(key, value, BpfMap.UPDATE_ANY);
        key.putBytes(Abi.VipKey.ADDR, VIP);
        value.setMemory(0, BUFFER_SIZE, (byte)0);
        value.putInt(Abi.Vip.VIP_ID, VIP_ID);
        value.putInt(Abi.Vip.POLICY, policy);
        value.putInt(Abi.Vip.SLOT_BASE, VIP_ID * Abi.Consts.CRAB_MAX_SLOTS);
        value.putInt(Abi.Vip.SLOT_COUNT, backends);
        value.putInt(Abi.Vip.MEMBER_COUNT, backends);
        obj.map(Abi.Maps.VIPS).update(key, value, BpfMap.UPDATE_ANY);
    }
}
