package io.crab.bench.hostile;

import io.crab.bpf.Abi;
import org.agrona.DirectBuffer;

import java.nio.ByteOrder;

/**
 * Where the programs keep what a SYN left in their direct-mapped memories: the LB's recent-SYN memory (syn_slots,
 * crab_syn_slot_of in lb_policy.h, on a struct crab_syn_key) and the server's echoes (echo_slot_of in server_tc,
 * on a struct crab_flow_key), the same arithmetic on the key as it lies in memory, so a fixture can plant an entry
 * where the program will look for it.
 */
final class SynSlots
{
    private SynSlots()
    {
    }

    /** The slot of {@code key}, a struct crab_syn_key at offset 0. */
    static int slotOf(final DirectBuffer key)
    {
        final ByteOrder native_ = ByteOrder.nativeOrder();
        final int clientAddr = key.getInt(Abi.SynKey.CLIENT_ADDR, native_);
        final int vipAddr = key.getInt(Abi.SynKey.VIP_ADDR, native_);
        final int ports = (key.getShort(Abi.SynKey.CLIENT_PORT, native_) & 0xffff) << 16 |
            (key.getShort(Abi.SynKey.VIP_PORT, native_) & 0xffff);
        return mix32(clientAddr ^ mix32(ports ^ vipAddr)) & (Abi.Consts.CRAB_SYN_SLOTS - 1);
    }

    /** The first of the two echo slots of {@code key}, a struct crab_flow_key at offset 0 (remote = the client). */
    static int echoSlotOf(final DirectBuffer key)
    {
        final ByteOrder native_ = ByteOrder.nativeOrder();
        final int localAddr = key.getInt(Abi.FlowKey.LOCAL_ADDR, native_);
        final int remoteAddr = key.getInt(Abi.FlowKey.REMOTE_ADDR, native_);
        final int ports = (key.getShort(Abi.FlowKey.LOCAL_PORT, native_) & 0xffff) << 16 |
            (key.getShort(Abi.FlowKey.REMOTE_PORT, native_) & 0xffff);
        return (mix32(remoteAddr ^ mix32(ports ^ localAddr)) & (Abi.Consts.CRAB_ECHO_SLOTS / 2 - 1)) * 2;
    }

    /** Murmur3's 32-bit finalizer, as crab_mix32. */
    static int mix32(final int value)
    {
        int h = value;
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        h ^= h >>> 16;
        return h;
    }
}
