package io.crab.endpoint;

import io.crab.agent.Cidr;
import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * Brings client_vips and backend_cidrs to the VIPs given, over whatever an earlier run or update left there, in an
 * order that never refuses a redirect the old or the new configuration allows: new prefixes first, then the VIPs
 * (whose ids may have moved), then what is no longer configured. Only when the VIP table cannot hold the old and
 * the new VIPs at once do the old ones go first. Flows are not touched: an established connection to a VIP that
 * goes keeps its backend.
 */
final class ClientVips
{
    private ClientVips()
    {
    }

    /** {@code cidrsOf}: the backend prefixes of each VIP. */
    static void write(final List<HostPort> vips, final Function<HostPort, List<Cidr>> cidrsOf, final BpfMap vipMap,
        final BpfMap cidrMap)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.CidrKey.SIZE]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[Math.max(4, Abi.ClientVip.SIZE)]);
        final Set<String> wantedCidrs = new HashSet<>();
        for (int id = 0; id < vips.size(); id++)
        {
            for (final Cidr cidr : cidrsOf.apply(vips.get(id)))
            {
                cidrKey(key, id, cidr);
                wantedCidrs.add(hex(key, Abi.CidrKey.SIZE));
                value.putInt(0, 0);
                cidrMap.update(key, value, BpfMap.UPDATE_ANY);
            }
        }
        final Set<String> wantedVips = new HashSet<>();
        for (final HostPort vip : vips)
        {
            vipKey(key, vip);
            wantedVips.add(hex(key, Abi.VipKey.SIZE));
        }
        List<byte[]> staleVips = staleKeys(vipMap, Abi.VipKey.SIZE, wantedVips);
        if (staleVips.size() + wantedVips.size() > vipMap.maxEntries())
        {
            delete(vipMap, staleVips);
            staleVips = List.of();
        }
        for (int id = 0; id < vips.size(); id++)
        {
            vipKey(key, vips.get(id));
            value.putInt(Abi.ClientVip.VIP_ID, id);
            vipMap.update(key, value, BpfMap.UPDATE_ANY);
        }
        delete(vipMap, staleVips);
        delete(cidrMap, staleKeys(cidrMap, Abi.CidrKey.SIZE, wantedCidrs));
    }

    private static List<byte[]> staleKeys(final BpfMap map, final int keySize, final Set<String> wanted)
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
        return stale;
    }

    private static void delete(final BpfMap map, final List<byte[]> keys)
    {
        for (final byte[] k : keys)
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
