package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.agent.OptionKind;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.Counters;
import io.crab.bpf.LoadOptions;
import io.crab.bpf.frames.Frames;
import io.crab.bpf.testing.KernelRequired;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.BackendState;
import io.crab.lb.config.FallbackMode;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.ServiceConfig;
import io.crab.rig.XdpTestNet;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

import static io.crab.bpf.frames.Frames.ACK;
import static io.crab.bpf.frames.Frames.LINUX_SYN_OPTIONS;
import static io.crab.bpf.frames.Frames.SYN;
import static io.crab.bpf.frames.Frames.bytes;
import static io.crab.bpf.frames.Frames.concat;
import static io.crab.bpf.frames.Frames.ip;
import static io.crab.bpf.frames.Frames.mac;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fixture tests of ClientIP affinity: the tables are written by the control plane's own writer (ServiceTables), SYNs
 * go through the XDP program with BPF_PROG_TEST_RUN, and the backend each went to is read from the frame out (the
 * backends share one address and differ by port). Services are round robin, so without affinity consecutive SYNs go
 * to consecutive backends, and with it a client's do not. The fallback's part runs the TC program the same way.
 */
@ExtendWith(KernelRequired.class)
class LbAffinityTest
{
    private static final int XDP_PASS = 2;
    private static final int XDP_TX = 3;
    private static final int TC_ACT_REDIRECT = 7;
    private static final String BACKEND_IP = "198.18.0.101";
    private static final HostPort STICKY = HostPort.parse("198.19.0.1:80");
    private static final HostPort PLAIN = HostPort.parse("198.19.0.2:80");
    private static final int FIRST_PORT = 1000;
    private static final int BACKENDS = 4;
    private static final int TIMEOUT_S = 30;
    /** The smallest affinity table there may be, so that a flood fills it. */
    private static final LbContext.Limits LIMITS = new LbContext.Limits(4, 16, 32, 251, 4096, 1024);
    private static final String CLIENT_A = "198.18.0.11";
    private static final String CLIENT_B = "198.18.0.12";

    private static XdpTestNet net;
    private BpfObject obj;
    private BpfProgram lb;
    private ServiceTables tables;
    private int clientPort = 20000;

    @BeforeAll
    static void network()
    {
        net = XdpTestNet.create();
        net.neighbour(BACKEND_IP, "02:00:00:00:01:01");
    }

    @AfterAll
    static void removeNetwork()
    {
        if (net != null)
        {
            net.close();
        }
    }

    @BeforeEach
    void load()
    {
        obj = Bpf.load("lb_xdp", new LoadOptions(LIMITS.mapSizes(), null));
        lb = obj.program("crab_lb");
        OptionKind.DEFAULT.writeTo(obj.map(Abi.Maps.OPT_CFG));
        tables = new ServiceTables(obj, LIMITS.services(), LIMITS.backends(), LIMITS.slots(), LIMITS.maglevSize());
        publish(b -> true);
    }

    @AfterEach
    void close()
    {
        obj.close();
    }

    @Test
    void oneClientsConnectionsFromAnyPortGoToOneBackend()
    {
        final int first = backendOfNextSyn(CLIENT_A, STICKY);
        for (int i = 0; i < 19; i++)
        {
            assertEquals(first, backendOfNextSyn(CLIENT_A, STICKY), "connection " + (i + 2));
        }
        assertEquals(19, lbCounter(Abi.Consts.CRAB_LB_AFFINITY_HIT));
        assertEquals(1, lbCounter(Abi.Consts.CRAB_LB_AFFINITY_NEW));
        assertEquals(20, lbCounter(Abi.Consts.CRAB_LB_TX_REDIRECT), "the events are counted beside the verdicts");
    }

    @Test
    void twoClientsAreBalancedByThePolicyEachThenKeepingItsOwn()
    {
        final int a = backendOfNextSyn(CLIENT_A, STICKY);
        final int b = backendOfNextSyn(CLIENT_B, STICKY);
        assertNotEquals(a, b, "round robin gave the second client the next backend");
        for (int i = 0; i < 5; i++)
        {
            assertEquals(a, backendOfNextSyn(CLIENT_A, STICKY));
            assertEquals(b, backendOfNextSyn(CLIENT_B, STICKY));
        }
    }

    @Test
    void aClientIdleForTheTimeoutIsBalancedAgainAndEachConnectionRestartsTheTimeout()
    {
        final int first = backendOfNextSyn(CLIENT_A, STICKY);
        backendOfNextSyn(CLIENT_B, STICKY);
        ageEntry(CLIENT_A, TIMEOUT_S - 1);
        assertEquals(first, backendOfNextSyn(CLIENT_A, STICKY), "a second short of the timeout: kept");
        assertTrue(entryAgeS(CLIENT_A) < 1, "and its time is now");
        ageEntry(CLIENT_A, TIMEOUT_S);
        final int again = backendOfNextSyn(CLIENT_A, STICKY);
        assertNotEquals(first, again, "idle for the timeout: round robin picked the next backend");
        assertEquals(again, backendOfNextSyn(CLIENT_A, STICKY), "and that one is kept");
        assertEquals(3, lbCounter(Abi.Consts.CRAB_LB_AFFINITY_NEW));
    }

    @Test
    void aClientWhoseBackendLeftTheTableIsBalancedAgainAndStaysOnItsNewBackend()
    {
        final int first = backendOfNextSyn(CLIENT_A, STICKY);
        final HostPort down = target(first);
        publish(b -> !b.target().equals(down));
        final int moved = backendOfNextSyn(CLIENT_A, STICKY);
        assertNotEquals(first, moved, "its backend is down");
        publish(b -> true);
        assertEquals(moved, backendOfNextSyn(CLIENT_A, STICKY), "the old one back changes nothing");
    }

    @Test
    void aServiceWithoutAffinitySpreadsAClientsConnectionsAndRemembersNothing()
    {
        final Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < BACKENDS; i++)
        {
            seen.add(backendOfNextSyn(CLIENT_A, PLAIN));
        }
        assertEquals(BACKENDS, seen.size(), "round robin over every backend");
        assertEquals(0, lbCounter(Abi.Consts.CRAB_LB_AFFINITY_HIT) + lbCounter(Abi.Consts.CRAB_LB_AFFINITY_NEW));
        assertFalse(obj.map(Abi.Maps.AFFINITY).nextKey(null, new UnsafeBuffer(new byte[Abi.AffinityKey.SIZE])),
            "the affinity table is empty");
    }

    @Test
    void aRetransmittedSynStillGoesToItsFirstBackendAsARetransmission()
    {
        final Frames.Tcp syn = syn(CLIENT_A, STICKY, clientPort++);
        final int first = backendOf(run(syn));
        assertEquals(first, backendOf(run(syn)));
        assertEquals(1, lbCounter(Abi.Consts.CRAB_LB_TX_RETRANSMIT));
        assertEquals(1, lbCounter(Abi.Consts.CRAB_LB_AFFINITY_NEW), "the retransmission is no new connection");
        assertEquals(0, lbCounter(Abi.Consts.CRAB_LB_AFFINITY_HIT));
    }

    /**
     * A host that forges SYNs from any address can fill the table (and evict a real client's entry), and can make an
     * entry for a real client's address; each entry holds a backend the policy picked from the table. It cannot move
     * an established connection, whose packets never reach the LB's choice, nor get a down backend picked.
     */
    @Test
    void forgedSynsFillingTheTableCannotMoveAConnectionNorPickADownBackend()
    {
        final int first = backendOfNextSyn(CLIENT_A, STICKY);
        // A data packet of the client's connection, as its client program sends it: to the backend, not to the VIP.
        final Frames.Tcp data = syn(CLIENT_A, STICKY, clientPort - 1);
        data.flags = ACK;
        data.options = new byte[0];
        data.dstIp = ip(BACKEND_IP);
        data.dstPort = FIRST_PORT + first;
        assertEquals(XDP_PASS, run(data).verdict(), "established: the LB picks nothing for it");

        // The attacker, 198.18.0.66, forges SYNs from 2048 other addresses (twice the table) and from the client's.
        final HostPort down = target(first);
        for (int i = 0; i < 2048; i++)
        {
            backendOf(run(syn("198.18." + (100 + i / 250) + "." + (1 + i % 250), STICKY, 40000)));
            if (i == 1000)
            {
                publish(b -> !b.target().equals(down));
            }
            final int forged = backendOf(run(syn(CLIENT_A, STICKY, 50000 + i)));
            if (i >= 1000)
            {
                assertNotEquals(first, forged, "forged from the client's address, its backend down: never that one");
            }
        }
        assertEquals(XDP_PASS, run(data).verdict(), "the flood changed nothing for the connection either");
        final int now = backendOfNextSyn(CLIENT_A, STICKY);
        assertNotEquals(first, now, "the real client's next connection goes to a backend that is up");
        assertTrue(entryCount() <= LIMITS.affinityClients(), "the LRU bounds the table: " + entryCount());
    }

    @Test
    void theFallbackHashesAnAffinityServicesClientAddressAloneAndKeepsEachConnectionOnItsBackend()
    {
        try (BpfObject tc = Bpf.load("lb_tc", new LoadOptions(LIMITS.mapSizes(), null)))
        {
            final ServiceTables fallbackTables = new ServiceTables(tc, LIMITS.services(), LIMITS.backends(),
                LIMITS.slots(), LIMITS.maglevSize());
            fallbackTables.publish(fallbackConfig(), b -> true, t -> true, t -> true);
            final BpfProgram fallback = tc.program("crab_lb_fallback");
            final Set<Integer> sticky = new HashSet<>();
            final Set<Integer> plain = new HashSet<>();
            for (int port = 30000; port < 30020; port++)
            {
                sticky.add(fallbackBackend(tc, fallback, CLIENT_A, STICKY, port, SYN));
                plain.add(fallbackBackend(tc, fallback, CLIENT_A, PLAIN, port, SYN));
                assertEquals(fallbackBackend(tc, fallback, CLIENT_A, STICKY, port, SYN),
                    fallbackBackend(tc, fallback, CLIENT_A, STICKY, port, ACK), "a data packet follows its SYN");
            }
            assertEquals(1, sticky.size(), "one backend for one client: " + sticky);
            assertTrue(plain.size() > 1, "Maglev over the whole tuple spreads a client's connections: " + plain);
        }
    }

    /** The backend id the fallback placed the packet's connection on, after running the packet through it. */
    private static int fallbackBackend(final BpfObject tc, final BpfProgram fallback, final String client,
        final HostPort vip, final int port, final int flags)
    {
        final Frames.Tcp packet = syn(client, vip, port);
        packet.flags = flags;
        packet.options = flags == SYN ? LINUX_SYN_OPTIONS : new byte[0];
        assertEquals(TC_ACT_REDIRECT, fallback.testRun(packet.build(), 1).verdict());
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.SynKey.SIZE]);
        key.putBytes(Abi.SynKey.CLIENT_ADDR, ip(client));
        key.putBytes(Abi.SynKey.VIP_ADDR, vip.address().getAddress());
        key.putShort(Abi.SynKey.CLIENT_PORT, (short)port, ByteOrder.BIG_ENDIAN);
        key.putShort(Abi.SynKey.VIP_PORT, (short)vip.port(), ByteOrder.BIG_ENDIAN);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[Abi.Conn.SIZE]);
        assertTrue(tc.map(Abi.Maps.CONN_TABLE).lookup(key, value));
        return value.getInt(Abi.Conn.BACKEND_ID);
    }

    /** The affinity service and the plain one, both rr over the same backends {@code BACKEND_IP:1000+i}. */
    private static LbConfig config()
    {
        final List<BackendConfig> backends = new ArrayList<>();
        for (int i = 0; i < BACKENDS; i++)
        {
            backends.add(new BackendConfig(target(i), 1, BackendState.ACTIVE, i + 2));
        }
        return new LbConfig(List.of(
            new ServiceConfig("sticky", STICKY, Policy.RR, false, FallbackMode.DSR, TIMEOUT_S, backends, 1),
            new ServiceConfig("plain", PLAIN, Policy.RR, false, backends, 10)));
    }

    /**
     * The same two services for the fallback, whose direct server return sends a packet on unchanged: over backends
     * 198.18.0.101-104 on the VIPs' own port.
     */
    private static LbConfig fallbackConfig()
    {
        final List<BackendConfig> backends = new ArrayList<>();
        for (int i = 0; i < BACKENDS; i++)
        {
            backends.add(new BackendConfig(HostPort.parse("198.18.0." + (101 + i)), 1, BackendState.ACTIVE, i + 2));
        }
        return new LbConfig(List.of(
            new ServiceConfig("sticky", STICKY, Policy.RR, false, FallbackMode.DSR, TIMEOUT_S, backends, 1),
            new ServiceConfig("plain", PLAIN, Policy.RR, false, backends, 10)));
    }

    private void publish(final Predicate<BackendConfig> usable)
    {
        tables.publish(config(), usable, t -> true, t -> true);
    }

    private static HostPort target(final int backend)
    {
        return HostPort.parse(BACKEND_IP + ":" + (FIRST_PORT + backend));
    }

    /** Moves the client's entry's last use {@code seconds} into the past, as if it had been idle that long. */
    private void ageEntry(final String client, final int seconds)
    {
        final UnsafeBuffer key = affinityKey(client);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[Abi.Affinity.SIZE]);
        assertTrue(obj.map(Abi.Maps.AFFINITY).lookup(key, value), "the client has an entry");
        value.putLong(Abi.Affinity.USED_NS, value.getLong(Abi.Affinity.USED_NS) - seconds * 1_000_000_000L);
        obj.map(Abi.Maps.AFFINITY).update(key, value, BpfMap.UPDATE_EXIST);
    }

    /** Seconds since the client's entry was last used, by the clock a ktime_get_coarse_ns stamp keeps pace with. */
    private double entryAgeS(final String client)
    {
        final UnsafeBuffer value = new UnsafeBuffer(new byte[Abi.Affinity.SIZE]);
        assertTrue(obj.map(Abi.Maps.AFFINITY).lookup(affinityKey(client), value));
        return (System.nanoTime() - value.getLong(Abi.Affinity.USED_NS)) / 1e9;
    }

    private int entryCount()
    {
        final BpfMap map = obj.map(Abi.Maps.AFFINITY);
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.AffinityKey.SIZE]);
        final UnsafeBuffer next = new UnsafeBuffer(new byte[Abi.AffinityKey.SIZE]);
        int count = 0;
        boolean more = map.nextKey(null, next);
        while (more)
        {
            count++;
            key.putBytes(0, next, 0, Abi.AffinityKey.SIZE);
            more = map.nextKey(key, next);
        }
        return count;
    }

    /** The sticky service's id is 0: the first service ServiceTables allocated. */
    private static UnsafeBuffer affinityKey(final String client)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.AffinityKey.SIZE]);
        key.putInt(Abi.AffinityKey.VIP_ID, 0);
        key.putBytes(Abi.AffinityKey.CLIENT_ADDR, ip(client));
        return key;
    }

    private long lbCounter(final int index)
    {
        return new Counters(obj.map(Abi.Maps.LB_COUNTERS)).sum(index);
    }

    private int backendOfNextSyn(final String client, final HostPort vip)
    {
        return backendOf(run(syn(client, vip, clientPort++)));
    }

    private BpfProgram.TestRun run(final Frames.Tcp packet)
    {
        return net.runXdp(lb, packet.build(), 1);
    }

    /** The backend a redirected SYN went to, by its destination port. */
    private static int backendOf(final BpfProgram.TestRun run)
    {
        assertEquals(XDP_TX, run.verdict(), "redirected");
        final int tcp = Frames.ETH_LEN + 20;
        final int port = ((run.frameOut()[tcp + 2] & 0xff) << 8) | (run.frameOut()[tcp + 3] & 0xff);
        return port - FIRST_PORT;
    }

    private static Frames.Tcp syn(final String client, final HostPort vip, final int srcPort)
    {
        final Frames.Tcp syn = new Frames.Tcp();
        syn.dstMac = mac("02:00:00:00:00:02");
        syn.srcMac = mac("02:00:00:00:00:11");
        syn.srcIp = ip(client);
        syn.dstIp = vip.address().getAddress();
        syn.dstPort = vip.port();
        syn.srcPort = srcPort;
        syn.options = concat(LINUX_SYN_OPTIONS, bytes(42, 2, 1, 1));
        return syn;
    }
}
