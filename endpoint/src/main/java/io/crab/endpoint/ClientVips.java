package io.crab.endpoint;

import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Brings client_vips and backend_cidrs to what the context says, over whatever an earlier run left there, in an
 * order that never refuses a redirect the old or the new configuration allows: new prefixes first, then the VIPs
 * (whose ids may have moved), then what is no longer configured.
 */
final class ClientVips
{
    private ClientVips()
    {
    }

    static void write(final EndpointContext ctx, final BpfMap vipMap, final BpfMap cidrMap)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.CidrKey.SIZE]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[Math.max(4, Abi.ClientVip.SIZE)]);
        final Set<String> wantedCidrs = new HashSet<>();
        for (int id = 0; id < ctx.vips().size(); id++)
        {
            for (final Cidr cidr : ctx.cidrsOf(ctx.vips().get(id)))
            {
                cidrKey(key, id, cidr);
                wantedCidrs.add(hex(key, Abi.CidrKey.SIZE));
                value.putInt(0, 0);
                cidrMap.update(key, value, BpfMap.UPDATE_ANY);
            }
        }
        final Set<String> wantedVips = new HashSet<>();
        for (int id = 0; id < ctx.vips().size(); id++)
        {
            vipKey(key, ctx.vips().get(id));
            wantedVips.add(hex(key, Abi.VipKey.SIZE));
            value.putInt(Abi.ClientVip.VIP_ID, id);
            vipMap.update(key, value, BpfMap.UPDATE_ANY);
        }
        deleteAllBut(vipMap, Abi.VipKey.SIZE, wantedVips);
        deleteAllBut(cidrMap, Abi.CidrKey.SIZE, wantedCidrs);
    }

    private static void deleteAllBut(final BpfMap map, final int keySize, final Set<String> wanted)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[keySize]);
        final UnsafeBuffer next = new UnsafeBuffer(new byte[keySize]);
        final List<byte[]> stale = new ArrayList<>();
        boolean more = map.nextKey(null, next);
        while (more)
        {
            if (!wanted.contains(hex(next, keySize)))
            {
                final byte[] k = new byte[keySize];
                next.getBytes(0, k);
                stale.add(k);
            }
            key.putBytes(0, next, 0, keySize);
            more = map.nextKey(key, next);
        }
        for (final byte[] k : stale)
        {
            map.delete(new UnsafeBuffer(k));
        }
    }

    private static void vipKey(final UnsafeBuffer key, final HostPort vip)
    {
        key.setMemory(0, key.capacity(), (byte)0);
        key.putBytes(Abi.VipKey.ADDR, vip.address().getAddress());
        key.putShort(Abi.VipKey.PORT, (short)vip.port(), ByteOrder.BIG_ENDIAN);
    }

    /** LPM key: the whole vip_id (32 bits) then the prefix. */
    private static void cidrKey(final UnsafeBuffer key, final int vipId, final Cidr cidr)
    {
        key.setMemory(0, key.capacity(), (byte)0);
        key.putInt(Abi.CidrKey.PREFIXLEN, 32 + cidr.length());
        key.putInt(Abi.CidrKey.VIP_ID, vipId);
        key.putBytes(Abi.CidrKey.ADDR, cidr.address().getAddress());
    }

    private static String hex(final UnsafeBuffer buffer, final int length)
    {
        final StringBuilder out = new StringBuilder(length * 2);
        for (int i = 0; i < length; i++)
        {
            out.append(String.format("%02x", buffer.getByte(i)));
        }
        return out.toString();
    }
}
