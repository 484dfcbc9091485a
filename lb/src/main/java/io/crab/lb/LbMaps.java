package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** The LB agent's writes to its BPF maps, in the C layouts of {@link Abi}; used by the one writer thread only. */
final class LbMaps
{
    static final String[] PINNED = {"vips", "vip_slots", "backends", "lb_counters", "backend_syns"};

    private final BpfMap vips;
    private final BpfMap slots;
    private final BpfMap backends;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[16]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[32]);

    LbMaps(final BpfObject obj)
    {
        this.vips = obj.map("vips");
        this.slots = obj.map("vip_slots");
        this.backends = obj.map("backends");
    }

    void writeBackend(final int id, final HostPort target, final byte[] mac)
    {
        key.putInt(0, id);
        value.setMemory(0, value.capacity(), (byte)0);
        value.putBytes(Abi.Backend.ADDR, target.address().getAddress());
        value.putShort(Abi.Backend.PORT, (short)target.port(), ByteOrder.BIG_ENDIAN);
        value.putBytes(Abi.Backend.MAC, mac);
        backends.update(key, value, BpfMap.UPDATE_ANY);
    }

    /**
     * Writes the VIP's slot table, then its entry: a SYN racing the update sees either the old slot count over
     * partly new slots, or the new table, and every slot it can see names a usable backend.
     */
    void writeVip(final int vipId, final HostPort vip, final Policy policy, final boolean redirectUnmarked,
        final List<Integer> slotTable)
    {
        for (int slot = 0; slot < slotTable.size(); slot++)
        {
            key.putInt(0, vipId * Abi.Consts.CRAB_MAX_SLOTS + slot);
            value.putInt(0, slotTable.get(slot));
            slots.update(key, value, BpfMap.UPDATE_ANY);
        }
        key.setMemory(0, key.capacity(), (byte)0);
        key.putBytes(Abi.VipKey.ADDR, vip.address().getAddress());
        key.putShort(Abi.VipKey.PORT, (short)vip.port(), ByteOrder.BIG_ENDIAN);
        value.setMemory(0, value.capacity(), (byte)0);
        value.putInt(Abi.Vip.VIP_ID, vipId);
        value.putInt(Abi.Vip.FLAGS, redirectUnmarked ? Abi.Consts.CRAB_VIP_REDIRECT_UNMARKED : 0);
        value.putInt(Abi.Vip.POLICY, policy.code());
        value.putInt(Abi.Vip.SLOT_COUNT, slotTable.size());
        vips.update(key, value, BpfMap.UPDATE_ANY);
    }

    /**
     * Slots of the usable backends, each repeated by its weight and interleaved round by round, so round-robin
     * spreads a heavy backend's turns instead of sending it bursts.
     */
    static List<Integer> slotTable(final List<BackendsFile.Backend> backends, final boolean[] usable)
    {
        final List<Integer> table = new ArrayList<>();
        final int maxWeight = backends.stream().mapToInt(BackendsFile.Backend::weight).max().orElse(0);
        for (int round = 0; round < maxWeight; round++)
        {
            for (int id = 0; id < backends.size(); id++)
            {
                if (usable[id] && backends.get(id).weight() > round)
                {
                    table.add(id);
                }
            }
        }
        return table;
    }
}
