package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The LB agent's writes to its BPF maps, in the C layouts of {@link Abi}; used by the one writer thread only. */
final class LbMaps
{
    private final BpfMap vips;
    private final BpfMap slots;
    private final BpfMap backends;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[16]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[32]);

    LbMaps(final BpfObject obj)
    {
        this.vips = obj.map(Abi.Maps.VIPS);
        this.slots = obj.map(Abi.Maps.VIP_SLOTS);
        this.backends = obj.map(Abi.Maps.BACKENDS);
    }

    /** Writes backend {@code id}; {@code up} lets a retransmitted SYN stay on it. */
    void writeBackend(final int id, final HostPort target, final boolean up)
    {
        key.putInt(0, id);
        value.setMemory(0, value.capacity(), (byte)0);
        value.putBytes(Abi.Backend.ADDR, target.address().getAddress());
        value.putShort(Abi.Backend.PORT, (short)target.port(), ByteOrder.BIG_ENDIAN);
        value.putShort(Abi.Backend.FLAGS, (short)(up ? Abi.Consts.CRAB_BACKEND_UP : 0));
        backends.update(key, value, BpfMap.UPDATE_ANY);
    }

    /** Clears the backend ids from {@code count} on, which an earlier run with more backends may have left. */
    void clearBackendsFrom(final int count)
    {
        value.setMemory(0, value.capacity(), (byte)0);
        for (int id = count; id < backends.maxEntries(); id++)
        {
            key.putInt(0, id);
            backends.update(key, value, BpfMap.UPDATE_ANY);
        }
    }

    /** Removes VIPs an earlier run configured that this one does not: their SYNs pass to the host again. */
    void removeVipsOtherThan(final List<HostPort> configured)
    {
        final UnsafeBuffer next = new UnsafeBuffer(new byte[Abi.VipKey.SIZE]);
        final List<byte[]> stale = new ArrayList<>();
        boolean more = vips.nextKey(null, next);
        while (more)
        {
            final byte[] addr = new byte[4];
            next.getBytes(Abi.VipKey.ADDR, addr);
            final int port = next.getShort(Abi.VipKey.PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
            if (configured.stream().noneMatch(v -> Arrays.equals(v.address().getAddress(), addr) && v.port() == port))
            {
                final byte[] k = new byte[Abi.VipKey.SIZE];
                next.getBytes(0, k);
                stale.add(k);
            }
            key.putBytes(0, next, 0, Abi.VipKey.SIZE);
            more = vips.nextKey(key, next);
        }
        for (final byte[] k : stale)
        {
            vips.delete(new UnsafeBuffer(k));
        }
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
