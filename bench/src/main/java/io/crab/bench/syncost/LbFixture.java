package io.crab.bench.syncost;

import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.Counters;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.frames.Frames;
import org.agrona.concurrent.UnsafeBuffer;


/** The XDP load balancer loaded and configured like crab-lb would: one VIP, all ports, 3 backends, kind 42, RR. */
final class LbFixture implements AutoCloseable
{
    static final byte[] LB_MAC = Frames.mac("02:00:00:00:00:02");
    static final byte[] VIP = Frames.ip("198.19.0.1");
    static final int OPTION_KIND = 42;
    static final byte[][] BACKEND_IPS = {
        Frames.ip("198.18.0.101"), Frames.ip("198.18.0.102"), Frames.ip("198.18.0.103"),
    };
    private static final byte[][] BACKEND_MACS = {
        Frames.mac("02:00:00:00:01:01"), Frames.mac("02:00:00:00:01:02"), Frames.mac("02:00:00:00:01:03"),
    };
    private static final int VIP_ID = 0;
    private static final int BUFFER_SIZE = 64;

    private final BpfObject obj;
    private final BpfProgram program;
    private final Counters counters;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[BUFFER_SIZE]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[BUFFER_SIZE]);

    LbFixture()
    {
        obj = Bpf.load("lb_xdp");
        try
        {
            program = obj.program("crab_lb");
            counters = new Counters(obj.map("lb_counters"));
            configure();
        }
        catch (final RuntimeException ex)
        {
            obj.close();
            throw ex;
        }
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
        obj.close();
    }

    private void configure()
    {
        key.putInt(0, 0);
        value.setMemory(0, BUFFER_SIZE, (byte)0);
        value.putByte(Abi.OptCfg.KIND, (byte)OPTION_KIND);
        obj.map("opt_cfg").update(key, value, BpfMap.UPDATE_ANY);

        for (int id = 0; id < BACKEND_IPS.length; id++)
        {
            key.putInt(0, id);
            value.setMemory(0, BUFFER_SIZE, (byte)0);
            value.putBytes(Abi.Backend.ADDR, BACKEND_IPS[id]);
            value.putBytes(Abi.Backend.MAC, BACKEND_MACS[id]);
            obj.map("backends").update(key, value, BpfMap.UPDATE_ANY);

            key.putInt(0, VIP_ID * Abi.Consts.CRAB_MAX_SLOTS + id);
            value.setMemory(0, BUFFER_SIZE, (byte)0);
            value.putInt(0, id);
            obj.map("vip_slots").update(key, value, BpfMap.UPDATE_ANY);
        }

        // Port 0 in the key: the VIP takes every port, found by the program's second lookup.
        key.setMemory(0, BUFFER_SIZE, (byte)0);
        key.putBytes(Abi.VipKey.ADDR, VIP);
        value.setMemory(0, BUFFER_SIZE, (byte)0);
        value.putInt(Abi.Vip.VIP_ID, VIP_ID);
        value.putInt(Abi.Vip.POLICY, Abi.Consts.CRAB_POLICY_RR);
        value.putInt(Abi.Vip.SLOT_COUNT, BACKEND_IPS.length);
        obj.map("vips").update(key, value, BpfMap.UPDATE_ANY);
    }
}
