package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.LoadOptions;
import io.crab.bpf.testing.KernelRequired;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.BackendState;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.ServiceConfig;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the agent publishes, read back from the kernel's maps as the programs read them. */
@ExtendWith(KernelRequired.class)
class ServiceTablesTest
{
    private static final int MAGLEV = 65537;
    private static final HostPort VIP = HostPort.parse("198.19.0.1:80");

    private BpfObject obj;
    private ServiceTables tables;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[16]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[64]);

    @BeforeEach
    void load()
    {
        final LbContext.Limits limits = new LbContext.Limits(4, 16, 32, MAGLEV, 4096, 4096);
        obj = Bpf.load("lb_xdp", new LoadOptions(limits.mapSizes(), null));
        tables = new ServiceTables(obj, limits.services(), limits.backends(), limits.slots(), limits.maglevSize());
    }

    @AfterEach
    void close()
    {
        obj.close();
    }

    @Test
    void aPublicationSwitchesTheServiceToItsOtherRowsWithTheNewTables()
    {
        tables.publish(config(backend("198.18.0.101", BackendState.ACTIVE), backend("198.18.0.102",
            BackendState.ACTIVE), backend("198.18.0.103", BackendState.ACTIVE)), b -> true, t -> true, t -> true);
        final int[] first = vipEntry();
        final Map<String, Integer> shares = maglevShares(first);
        assertEquals(3, shares.size(), "every backend owns part of the table: " + shares);
        shares.values().forEach(n -> assertTrue(Math.abs(n - MAGLEV / 3) < MAGLEV / 100, "a third each: " + shares));

        tables.publish(config(backend("198.18.0.101", BackendState.DRAINING), backend("198.18.0.102",
            BackendState.ACTIVE), backend("198.18.0.103", BackendState.ACTIVE), backend("198.18.0.104",
            BackendState.ACTIVE)), b -> b.state() == BackendState.ACTIVE, t -> true, t -> true);
        final int[] second = vipEntry();
        assertNotEquals(first[1], second[1], "the other slot row");
        assertNotEquals(first[2], second[2], "the other Maglev row");
        final Map<String, Integer> after = maglevShares(second);
        assertEquals(List.of("198.18.0.102", "198.18.0.103", "198.18.0.104"), List.copyOf(after.keySet()),
            "the drained backend owns nothing, the added one a part: " + after);
        assertEquals(3, second[3], "slot table of the three active backends");
    }

    @Test
    void theVipKindsMapSaysWhichKindsOfKeyThePublishedServicesHave()
    {
        final BackendConfig b = backend("198.18.0.101", BackendState.ACTIVE);
        assertEquals(0, vipKinds(), "nothing published yet");
        tables.publish(config(b), x -> true, t -> true, t -> true);
        assertEquals(Abi.Consts.CRAB_VIPS_WITH_PORT, vipKinds());

        final ServiceConfig everyPort = new ServiceConfig("all", HostPort.parse("198.19.0.2"), Policy.RR, false,
            List.of(b), 1);
        tables.publish(new LbConfig(List.of(everyPort)), x -> true, t -> true, t -> true);
        assertEquals(Abi.Consts.CRAB_VIPS_ANY_PORT, vipKinds(), "narrowed once the VIP with a port is gone");

        tables.publish(new LbConfig(List.of(everyPort, config(b).services().get(0))), x -> true, t -> true,
            t -> true);
        assertEquals(Abi.Consts.CRAB_VIPS_WITH_PORT | Abi.Consts.CRAB_VIPS_ANY_PORT, vipKinds());
    }

    private int vipKinds()
    {
        key.putInt(0, 0);
        assertTrue(obj.map(Abi.Maps.VIP_KINDS).lookup(key, value));
        return value.getInt(0);
    }

    private static LbConfig config(final BackendConfig... backends)
    {
        return new LbConfig(List.of(new ServiceConfig("web", VIP, Policy.RR, false, List.of(backends), 1)));
    }

    private static BackendConfig backend(final String ip, final BackendState state)
    {
        return new BackendConfig(HostPort.parse(ip), 1, state, 1);
    }

    /** {id, slot_base, maglev_base, slot_count, maglev_count} of the VIP's entry. */
    private int[] vipEntry()
    {
        key.setMemory(0, 16, (byte)0);
        key.putBytes(Abi.VipKey.ADDR, VIP.address().getAddress());
        key.putShort(Abi.VipKey.PORT, (short)VIP.port(), ByteOrder.BIG_ENDIAN);
        assertTrue(obj.map(Abi.Maps.VIPS).lookup(key, value));
        return new int[] {value.getInt(Abi.Vip.VIP_ID), value.getInt(Abi.Vip.SLOT_BASE),
            value.getInt(Abi.Vip.MAGLEV_BASE), value.getInt(Abi.Vip.SLOT_COUNT), value.getInt(Abi.Vip.MAGLEV_COUNT)};
    }

    /** Entries of the published Maglev table per backend address, read through the map as the program does. */
    private Map<String, Integer> maglevShares(final int[] entry)
    {
        assertEquals(MAGLEV, entry[4]);
        final BpfMap maglev = obj.map(Abi.Maps.MAGLEV_TABLES);
        final BpfMap backends = obj.map(Abi.Maps.BACKENDS);
        final Map<String, Integer> shares = new TreeMap<>();
        final UnsafeBuffer idKey = new UnsafeBuffer(new byte[4]);
        for (int slot = 0; slot < MAGLEV; slot++)
        {
            idKey.putInt(0, entry[2] + slot);
            assertTrue(maglev.lookup(idKey, value));
            idKey.putInt(0, value.getInt(0));
            assertTrue(backends.lookup(idKey, value));
            final byte[] a = new byte[4];
            value.getBytes(Abi.Backend.ADDR, a);
            shares.merge((a[0] & 0xff) + "." + (a[1] & 0xff) + "." + (a[2] & 0xff) + "." + (a[3] & 0xff), 1,
                Integer::sum);
        }
        return shares;
    }
}
