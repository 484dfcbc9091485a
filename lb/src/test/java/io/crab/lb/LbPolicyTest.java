package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.agent.OptionKind;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.LoadOptions;
import io.crab.bpf.frames.Frames;
import io.crab.bpf.testing.KernelRequired;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.BackendState;
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

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.crab.bpf.frames.Frames.LINUX_SYN_OPTIONS;
import static io.crab.bpf.frames.Frames.bytes;
import static io.crab.bpf.frames.Frames.concat;
import static io.crab.bpf.frames.Frames.ip;
import static io.crab.bpf.frames.Frames.mac;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fixture tests of the load-aware policies: the tables and loads are written by the control plane's own writers
 * (ServiceTables, BackendLoads), then SYNs go through the XDP program with BPF_PROG_TEST_RUN and the backend each
 * was sent to is read from the frame out. Backends share one address and differ by port (port redirection), so
 * the redirected SYN's destination port names the backend.
 */
@ExtendWith(KernelRequired.class)
class LbPolicyTest
{
    private static final int XDP_TX = 3;
    private static final String BACKEND_IP = "198.18.0.101";
    private static final HostPort VIP = HostPort.parse("198.19.0.1:80");
    private static final int FIRST_PORT = 1000;
    private static final LbContext.Limits LIMITS = new LbContext.Limits(4, 128, 256, 65537, 4096, 4096);

    private static XdpTestNet net;
    private BpfObject obj;
    private BpfProgram lb;
    private ServiceTables tables;
    private BackendLoads loads;
    private long nowNs = 1_000_000_000L;
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
        loads = new BackendLoads(obj, () -> nowNs);
    }

    @AfterEach
    void close()
    {
        obj.close();
    }

    @Test
    void jsqSendsEachSynToTheLeastLoadedBackend()
    {
        publish(Policy.JSQ, 1, 1, 1, 1);
        report(0, 5);
        report(1, 2);
        report(2, 7);
        report(3, 3);

        assertEquals(1, backendOfNextSyn(), "2 is the least load");
        assertEquals(List.of(1, 3), List.of(backendOfNextSyn(), backendOfNextSyn()).stream().sorted().toList(),
            "then 1 and 3, both at 3 with what they were given");
        report(1, 0);
        assertEquals(1, backendOfNextSyn(), "a new report replaces the estimate");
    }

    @Test
    void jsqComparesLoadPerUnitOfWeight()
    {
        publish(Policy.JSQ, 2, 1);
        report(0, 4);
        report(1, 2);
        assertEquals(0, backendOfNextSyn(), "(4 + 1) / 2 is less than (2 + 1) / 1");
        report(0, 6);
        assertEquals(1, backendOfNextSyn(), "(6 + 1) / 2 is more than (2 + 1) / 1");
    }

    @Test
    void aBurstBetweenTwoReportsIsSpreadByWhatEachBackendWasGiven()
    {
        publish(Policy.JSQ, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
        for (int b = 0; b < 10; b++)
        {
            report(b, 3);
        }
        final int[] shares = shares(100, 10);
        for (int b = 0; b < 10; b++)
        {
            assertTrue(Math.abs(shares[b] - 10) <= 2, "10 +- 2 SYNs each: " + Arrays.toString(shares));
        }
    }

    @Test
    void jsqWithoutAnyReportBalancesByWhatItGave()
    {
        publish(Policy.JSQ, 3, 1);
        final int[] shares = shares(40, 2);
        assertEquals(30, shares[0], "weight 3 of 4: " + Arrays.toString(shares));
        assertEquals(10, shares[1]);
    }

    @Test
    void aRetransmittedSynIsNotCountedTwice()
    {
        publish(Policy.JSQ, 1, 1);
        final Frames.Tcp syn = syn(clientPort++);
        final int first = backendOf(run(syn));
        assertEquals(first, backendOf(run(syn)), "the retransmission stays");
        assertEquals(1, assigned(first));
        assertEquals(1 - first, backendOfNextSyn(), "the other backend, which was given nothing");
    }

    @Test
    void aboveTheScanLimitJsqTakesTheLeastLoadedOfAWindowThatMovesOnEachSyn()
    {
        final int members = Abi.Consts.CRAB_LOAD_SCAN + 6;
        final int[] weights = new int[members];
        Arrays.fill(weights, 1);
        publish(Policy.JSQ, weights);
        for (int b = 0; b < members; b++)
        {
            report(b, b == Abi.Consts.CRAB_LOAD_SCAN + 1 ? 0 : 100);
        }
        assertTrue(backendOfNextSyn() < Abi.Consts.CRAB_LOAD_SCAN, "window 0..63");
        assertTrue(backendOfNextSyn() <= Abi.Consts.CRAB_LOAD_SCAN, "window 1..64");
        assertEquals(Abi.Consts.CRAB_LOAD_SCAN + 1, backendOfNextSyn(), "window 2..65 holds the idle one");
    }

    @Test
    void p2cTakesTheLighterOfTwoAndNeverTheHeaviestBackend()
    {
        publish(Policy.P2C, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
        for (int b = 0; b < 10; b++)
        {
            report(b, b == 7 ? 1_000_000 : 1000);
        }
        final int[] shares = shares(200, 10);
        assertEquals(0, shares[7], "it loses every comparison: " + Arrays.toString(shares));
        for (int b = 0; b < 10; b++)
        {
            assertTrue(b == 7 || shares[b] > 0, "every other backend is drawn: " + Arrays.toString(shares));
        }
    }

    @Test
    void p2cWithTwoBackendsIsExactAndWeighted()
    {
        publish(Policy.P2C, 3, 1);
        report(0, 0);
        report(1, 100);
        assertEquals(40, shares(40, 2)[0], "the idle one takes all until it is as loaded as the other");

        publish(Policy.P2C, 3, 1);
        report(0, 0);
        report(1, 0);
        final int[] shares = shares(40, 2);
        assertEquals(30, shares[0], "weight 3 of 4 at equal loads: " + Arrays.toString(shares));
    }

    @Test
    void p2cDrawsByWeightSoAHeavyBackendGetsItsShareAmongMany()
    {
        publish(Policy.P2C, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1);
        final int[] shares = shares(380, 10);
        // Its share is 10/19, about 200 of 380; drawn uniformly it could win at most 2/10 of the SYNs, about 76.
        assertTrue(shares[0] >= 160 && shares[0] <= 240, "weight 10 of 19: " + Arrays.toString(shares));
    }

    @Test
    void aBackendWhoseReportsStopKeepsItsLastLoadPlusWhatItWasGivenLately()
    {
        publish(Policy.JSQ, 1, 1);
        report(0, 5);
        report(1, 50);
        assertEquals(40, shares(40, 2)[0], "backend 0 takes all until it reaches 50");
        nowNs += BackendLoads.STALE_AFTER_NS;
        report(1, 50);
        assertEquals(1, loads.rebaseStale(), "backend 0 has not reported for a whole period");
        assertEquals(20, shares(20, 2)[0], "rebased to 5: what it was given before no longer counts, its load does");
        nowNs += BackendLoads.STALE_AFTER_NS;
        report(1, 0);
        assertEquals(1, loads.rebaseStale());
        assertEquals(1, backendOfNextSyn(), "never lighter than it last said it was: 5 against 0");
    }

    @Test
    void anIdThatLeavesTheTablesComesBackNeutral()
    {
        publish(Policy.JSQ, 1, 1);
        final int leaving = idOf(1);
        report(1, 30);
        assertEquals(30, estimate(leaving));
        publish(Policy.JSQ, 1);
        assertEquals(0, estimate(leaving), "backend 1 left: its load is cleared at once");
    }

    @Test
    void switchingPolicyLiveKeepsTheTablesAndTheLoads()
    {
        publish(Policy.RR, 1, 1);
        report(0, 9);
        report(1, 0);
        assertEquals(List.of(0, 1, 0, 1), List.of(backendOfNextSyn(), backendOfNextSyn(), backendOfNextSyn(),
            backendOfNextSyn()), "rr ignores loads");
        publish(Policy.JSQ, 1, 1);
        assertEquals(1, backendOfNextSyn(), "jsq reads the loads reported under rr");
    }

    @Test
    void hashSpreadsOneClientsConnectionsOverEveryBackend()
    {
        final int[] weights = new int[16];
        Arrays.fill(weights, 1);
        publish(Policy.HASH, weights);
        final int[] shares = shares(800, 16);
        for (int b = 0; b < 16; b++)
        {
            assertTrue(shares[b] >= 25 && shares[b] <= 75, "about 50 each: " + Arrays.toString(shares));
        }
        final Frames.Tcp newConnection = syn(20000);
        newConnection.seq = 77;
        assertEquals(backendOf(run(syn(20000))), backendOf(run(newConnection)), "the same tuple, the same backend");
    }

    /** One service of backends {@code BACKEND_IP:1000+i} with the given weights, all usable, and track their ids. */
    private void publish(final Policy policy, final int... weights)
    {
        final List<BackendConfig> backends = new ArrayList<>();
        for (int i = 0; i < weights.length; i++)
        {
            backends.add(new BackendConfig(HostPort.parse(BACKEND_IP + ":" + (FIRST_PORT + i)), weights[i],
                BackendState.ACTIVE, i + 2));
        }
        tables.publish(new LbConfig(List.of(new ServiceConfig("web", VIP, policy, false, backends, 1))), b -> true,
            t -> true, t -> true);
        loads.track(tables.backendIds());
    }

    private void report(final int backend, final long load)
    {
        loads.report(idOf(backend), load);
    }

    private int idOf(final int backend)
    {
        return tables.backendIds().get(HostPort.parse(BACKEND_IP + ":" + (FIRST_PORT + backend)));
    }

    /** What the program would estimate for backend id {@code id}: base + assigned, as the maps hold them. */
    private long estimate(final int id)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[Abi.BackendLoad.SIZE]);
        final UnsafeBuffer count = new UnsafeBuffer(new byte[8]);
        key.putInt(0, id);
        assertTrue(obj.map(Abi.Maps.BACKEND_LOADS).lookup(key, value));
        assertTrue(obj.map(Abi.Maps.BACKEND_ASSIGNED).lookup(key, count));
        return value.getLong(Abi.BackendLoad.BASE) + count.getLong(0);
    }

    private long assigned(final int backend)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[8]);
        key.putInt(0, idOf(backend));
        assertTrue(obj.map(Abi.Maps.BACKEND_ASSIGNED).lookup(key, value));
        return value.getLong(0);
    }

    private int[] shares(final int syns, final int backends)
    {
        final int[] shares = new int[backends];
        for (int i = 0; i < syns; i++)
        {
            shares[backendOfNextSyn()]++;
        }
        return shares;
    }

    private int backendOfNextSyn()
    {
        return backendOf(run(syn(clientPort++)));
    }

    private BpfProgram.TestRun run(final Frames.Tcp syn)
    {
        return net.runXdp(lb, syn.build(), 1);
    }

    /** The backend a redirected SYN went to, by its destination port. */
    private static int backendOf(final BpfProgram.TestRun run)
    {
        assertEquals(XDP_TX, run.verdict(), "redirected");
        final int tcp = Frames.ETH_LEN + 20;
        final int port = ((run.frameOut()[tcp + 2] & 0xff) << 8) | (run.frameOut()[tcp + 3] & 0xff);
        return port - FIRST_PORT;
    }

    private static Frames.Tcp syn(final int srcPort)
    {
        final Frames.Tcp syn = new Frames.Tcp();
        syn.dstMac = mac("02:00:00:00:00:02");
        syn.srcMac = mac("02:00:00:00:00:11");
        syn.dstIp = ip("198.19.0.1");
        syn.dstPort = VIP.port();
        syn.srcPort = srcPort;
        syn.options = concat(LINUX_SYN_OPTIONS, bytes(42, 2, 1, 1));
        return syn;
    }
}
