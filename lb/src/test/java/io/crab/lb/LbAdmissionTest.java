package io.crab.lb;

import io.crab.agent.Cidr;
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
import io.crab.lb.config.NoBackendAction;
import io.crab.lb.config.ServiceConfig;
import io.crab.rig.XdpTestNet;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static io.crab.bpf.frames.Frames.ACK;
import static io.crab.bpf.frames.Frames.LINUX_SYN_OPTIONS;
import static io.crab.bpf.frames.Frames.bytes;
import static io.crab.bpf.frames.Frames.concat;
import static io.crab.bpf.frames.Frames.ip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Who a service admits (allow-from, the source_ranges map) and what it does without a backend (no-backend), on
 * both hooks: the XDP program's verdict on SYNs and the fallback's on every packet, each fed a frame by
 * BPF_PROG_TEST_RUN after the agent's own writer ({@link ServiceTables}) published the services. Also the writer's
 * order of writes, which keeps a service from being open to everyone or closed to those it admits mid-change.
 */
@ExtendWith(KernelRequired.class)
class LbAdmissionTest
{
    private static final int XDP_DROP = 1;
    private static final int XDP_PASS = 2;
    private static final int XDP_TX = 3;
    private static final int TC_ACT_OK = 0;
    private static final int TC_ACT_SHOT = 2;
    private static final int TC_ACT_REDIRECT = 7;
    private static final String BACKEND = "198.18.0.101";
    private static final String BACKEND_MAC = "02:00:00:00:01:01";
    private static final HostPort RESTRICTED = HostPort.parse("198.19.0.1:80");
    private static final HostPort OPEN = HostPort.parse("198.19.0.2:80");
    private static final HostPort EMPTY_DROPS = HostPort.parse("198.19.0.3:80");
    private static final HostPort EMPTY_PASSES = HostPort.parse("198.19.0.4:80");
    private static final byte[] INSIDE = ip("198.18.0.11");
    private static final byte[] ALSO_INSIDE = ip("198.18.5.7");
    private static final byte[] OUTSIDE = ip("198.18.5.8");
    private static final byte[] MARKER = bytes(42, 2, 1, 1);
    private static final LbContext.Limits LIMITS = new LbContext.Limits(8, 16, 32, 65537, 4096, 4096);

    private static XdpTestNet net;
    private BpfObject xdpObject;
    private BpfObject tcObject;
    private BpfProgram xdp;
    private BpfProgram fallback;

    @BeforeAll
    static void network()
    {
        net = XdpTestNet.create();
        net.neighbour(BACKEND, BACKEND_MAC);
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
        xdpObject = Bpf.load("lb_xdp", new LoadOptions(LIMITS.mapSizes(), null));
        tcObject = Bpf.load("lb_tc", new LoadOptions(LIMITS.mapSizes(), null));
        xdp = xdpObject.program("crab_lb");
        fallback = tcObject.program("crab_lb_fallback");
        for (final BpfObject obj : List.of(xdpObject, tcObject))
        {
            OptionKind.DEFAULT.writeTo(obj.map(Abi.Maps.OPT_CFG));
            tables(obj).publish(new LbConfig(List.of(
                service("restricted", RESTRICTED, List.of("198.18.0.0/24", "198.18.5.7/32"), NoBackendAction.PASS,
                    BACKEND),
                service("open", OPEN, List.of(), NoBackendAction.PASS, BACKEND),
                service("empty-drops", EMPTY_DROPS, List.of(), NoBackendAction.DROP),
                service("empty-passes", EMPTY_PASSES, List.of(), NoBackendAction.PASS))),
                b -> true, t -> true, t -> true);
        }
    }

    @AfterEach
    void close()
    {
        xdpObject.close();
        tcObject.close();
    }

    @Test
    void xdpRedirectsASynFromInsideTheRangesAndDropsOneFromOutsideMarkedOrNot()
    {
        assertEquals(XDP_TX, runXdp(syn(INSIDE, RESTRICTED, true)).verdict());
        assertEquals(XDP_TX, runXdp(syn(ALSO_INSIDE, RESTRICTED, true)).verdict(), "a /32 of its own");
        assertEquals(2, xdpCounter(Abi.Consts.CRAB_LB_TX_REDIRECT));
        assertEquals(XDP_PASS, runXdp(syn(INSIDE, RESTRICTED, false)).verdict(),
            "an unmarked SYN from inside goes on to the fallback, as for any service");

        assertEquals(XDP_DROP, runXdp(syn(OUTSIDE, RESTRICTED, true)).verdict());
        assertEquals(XDP_DROP, runXdp(syn(OUTSIDE, RESTRICTED, false)).verdict());
        assertEquals(2, xdpCounter(Abi.Consts.CRAB_LB_DROP_SOURCE_RANGE));
        assertEquals(2, xdpCounter(Abi.Consts.CRAB_LB_TX_REDIRECT), "nothing from outside redirected");
    }

    @Test
    void xdpLeavesAServiceWithoutTheFlagsAsItWas()
    {
        assertEquals(XDP_TX, runXdp(syn(OUTSIDE, OPEN, true)).verdict(), "no allow-from: every client");
        final Frames.Tcp marked = syn(OUTSIDE, EMPTY_PASSES, true);
        final BpfProgram.TestRun passed = runXdp(marked);
        assertEquals(XDP_PASS, passed.verdict(), "no backend, no-backend pass: to the fallback and the stack");
        assertArrayEquals(marked.build(), passed.frameOut());
        assertEquals(1, xdpCounter(Abi.Consts.CRAB_LB_PASS_NO_BACKEND));
        assertEquals(0, xdpCounter(Abi.Consts.CRAB_LB_DROP_SOURCE_RANGE) +
            xdpCounter(Abi.Consts.CRAB_LB_DROP_NO_BACKEND));
    }

    @Test
    void xdpDropsASynToAnEmptyServiceThatDropsUnlessTheFallbackKnowsItsTuple()
    {
        assertEquals(XDP_DROP, runXdp(syn(INSIDE, EMPTY_DROPS, true)).verdict());
        assertEquals(XDP_DROP, runXdp(syn(INSIDE, EMPTY_DROPS, false)).verdict());
        assertEquals(2, xdpCounter(Abi.Consts.CRAB_LB_DROP_NO_BACKEND));

        // A fallback connection on a backend now draining: the fallback, not XDP, decides about a SYN of its tuple.
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.SynKey.SIZE]);
        key.putBytes(Abi.SynKey.CLIENT_ADDR, INSIDE);
        key.putBytes(Abi.SynKey.VIP_ADDR, EMPTY_DROPS.address().getAddress());
        key.putShort(Abi.SynKey.CLIENT_PORT, (short)40000, ByteOrder.BIG_ENDIAN);
        key.putShort(Abi.SynKey.VIP_PORT, (short)EMPTY_DROPS.port(), ByteOrder.BIG_ENDIAN);
        xdpObject.map(Abi.Maps.CONN_TABLE).update(key, new UnsafeBuffer(new byte[Abi.Conn.SIZE]),
            BpfMap.UPDATE_ANY);
        assertEquals(XDP_PASS, runXdp(syn(INSIDE, EMPTY_DROPS, false)).verdict());
        assertEquals(2, xdpCounter(Abi.Consts.CRAB_LB_DROP_NO_BACKEND));
    }

    @Test
    void theFallbackSendsOnEveryPacketFromInsideAndDropsEveryPacketFromOutside()
    {
        assertEquals(TC_ACT_REDIRECT, runTc(syn(INSIDE, RESTRICTED, false)));
        assertEquals(TC_ACT_REDIRECT, runTc(ack(INSIDE, RESTRICTED)));
        assertEquals(1, tcCounter(Abi.Consts.CRAB_FB_NEW));

        assertEquals(TC_ACT_SHOT, runTc(syn(OUTSIDE, RESTRICTED, false)));
        assertEquals(TC_ACT_SHOT, runTc(ack(OUTSIDE, RESTRICTED)), "not a SYN, and still not admitted");
        assertEquals(2, tcCounter(Abi.Consts.CRAB_FB_DROP_SOURCE_RANGE));
        assertEquals(1, tcCounter(Abi.Consts.CRAB_FB_NEW), "nothing from outside placed");

        assertEquals(TC_ACT_REDIRECT, runTc(syn(OUTSIDE, OPEN, false)), "no allow-from: every client");
    }

    @Test
    void theFallbackDropsWhatAnEmptyServiceThatDropsCannotPlaceAndPassesItOtherwise()
    {
        assertEquals(TC_ACT_SHOT, runTc(syn(INSIDE, EMPTY_DROPS, false)));
        assertEquals(TC_ACT_SHOT, runTc(ack(INSIDE, EMPTY_DROPS)));
        assertEquals(2, tcCounter(Abi.Consts.CRAB_FB_DROP_NO_BACKEND));

        final byte[] frame = syn(INSIDE, EMPTY_PASSES, false).build();
        final BpfProgram.TestRun run = fallback.testRun(frame, 1);
        assertEquals(TC_ACT_OK, run.verdict(), "to the LB host's stack, which resets it");
        assertArrayEquals(frame, run.frameOut());
        assertEquals(1, tcCounter(Abi.Consts.CRAB_FB_PASS_NO_BACKEND));
    }

    @Test
    void theWriterAddsPrefixesBeforeTheFlagAndRemovesThemAfterIt()
    {
        final List<String> writes = new ArrayList<>();
        final BpfObject recorded = recording(xdpObject, writes);
        final ServiceTables tables = tables(recorded);
        final List<BackendConfig> backends = List.of(backend(BACKEND));

        publish(tables, service("web", OPEN, List.of(), NoBackendAction.PASS, BACKEND));
        writes.clear();
        publish(tables, service("web", OPEN, List.of("198.18.0.0/24", "198.18.5.7/32"), NoBackendAction.PASS,
            BACKEND));
        assertEquals(List.of("source_ranges update 198.18.0.0/24", "source_ranges update 198.18.5.7/32",
            "vips update restricted"), writesOf(writes));
        assertEquals(Set.of("198.18.0.0/24", "198.18.5.7/32"), prefixesOf(xdpObject));

        writes.clear();
        publish(tables, service("web", OPEN, List.of("198.18.5.7/32", "198.18.6.0/24"), NoBackendAction.PASS,
            BACKEND));
        assertEquals(List.of("source_ranges update 198.18.6.0/24", "vips update restricted",
            "source_ranges delete 198.18.0.0/24"), writesOf(writes), "for a moment both sets, never neither");

        writes.clear();
        publish(tables, new ServiceConfig("web", OPEN, Policy.RR, false, backends, 1));
        assertEquals(List.of("vips update open", "source_ranges delete 198.18.5.7/32",
            "source_ranges delete 198.18.6.0/24"), writesOf(writes));
        assertEquals(Set.of(), prefixesOf(xdpObject));

        publish(tables, service("web", OPEN, List.of("198.18.7.0/24"), NoBackendAction.PASS, BACKEND));
        writes.clear();
        tables.publish(new LbConfig(List.of(service("db", RESTRICTED, List.of(), NoBackendAction.PASS, BACKEND))),
            b -> true, t -> true, t -> true);
        final int removal = writes.indexOf("vips delete");
        assertTrue(removal >= 0 && writes.indexOf("source_ranges delete 198.18.7.0/24") > removal,
            "a removed service's prefixes go after its VIP entry: " + writes);
        assertEquals(Set.of(), prefixesOf(xdpObject));
    }

    @Test
    void aNewWriterTakesOverThePrefixesAndDropsThoseOfNoService()
    {
        // The restricted service's prefixes were published in load(); an orphan of an id no VIP has is added here.
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.CidrKey.SIZE]);
        key.putInt(Abi.CidrKey.PREFIXLEN, 32 + 24);
        key.putInt(Abi.CidrKey.VIP_ID, 7);
        key.putBytes(Abi.CidrKey.ADDR, ip("203.0.113.0"));
        xdpObject.map(Abi.Maps.SOURCE_RANGES).update(key, new UnsafeBuffer(new byte[4]), BpfMap.UPDATE_ANY);
        assertEquals(Set.of("198.18.0.0/24", "198.18.5.7/32", "203.0.113.0/24"), prefixesOf(xdpObject));

        final ServiceTables takeover = tables(xdpObject);
        assertEquals(Set.of("198.18.0.0/24", "198.18.5.7/32"), prefixesOf(xdpObject), "the orphan went at once");
        takeover.publish(new LbConfig(List.of(service("restricted", RESTRICTED, List.of("198.18.0.0/24"),
            NoBackendAction.PASS, BACKEND))), b -> true, t -> true, t -> true);
        assertEquals(Set.of("198.18.0.0/24"), prefixesOf(xdpObject), "the earlier run's extra prefix removed");
        assertEquals(XDP_DROP, runXdp(syn(ALSO_INSIDE, RESTRICTED, true)).verdict());
        assertEquals(XDP_TX, runXdp(syn(INSIDE, RESTRICTED, true)).verdict());
    }

    private static ServiceTables tables(final BpfObject obj)
    {
        return new ServiceTables(obj, LIMITS.services(), LIMITS.backends(), LIMITS.slots(), LIMITS.maglevSize());
    }

    private static void publish(final ServiceTables tables, final ServiceConfig service)
    {
        tables.publish(new LbConfig(List.of(service)), b -> true, t -> true, t -> true);
    }

    private static ServiceConfig service(final String name, final HostPort vip, final List<String> allowFrom,
        final NoBackendAction noBackend, final String... backends)
    {
        return new ServiceConfig(name, vip, Policy.RR, false, FallbackMode.DSR,
            allowFrom.stream().map(Cidr::parse).toList(), noBackend,
            Arrays.stream(backends).map(LbAdmissionTest::backend).toList(), 1);
    }

    private static BackendConfig backend(final String address)
    {
        return new BackendConfig(HostPort.parse(address), 1, BackendState.ACTIVE, 1);
    }

    private static Frames.Tcp syn(final byte[] client, final HostPort vip, final boolean marked)
    {
        final Frames.Tcp syn = new Frames.Tcp();
        syn.srcIp = client;
        syn.dstIp = vip.address().getAddress();
        syn.dstPort = vip.port();
        syn.options = marked ? concat(LINUX_SYN_OPTIONS, MARKER) : LINUX_SYN_OPTIONS.clone();
        return syn;
    }

    private static Frames.Tcp ack(final byte[] client, final HostPort vip)
    {
        final Frames.Tcp ack = syn(client, vip, false);
        ack.flags = ACK;
        ack.seq = 1001;
        ack.ack = 5001;
        ack.options = new byte[0];
        return ack;
    }

    private BpfProgram.TestRun runXdp(final Frames.Tcp frame)
    {
        return net.runXdp(xdp, frame.build(), 1);
    }

    private int runTc(final Frames.Tcp frame)
    {
        return fallback.testRun(frame.build(), 1).verdict();
    }

    private long xdpCounter(final int index)
    {
        return new Counters(xdpObject.map(Abi.Maps.LB_COUNTERS)).sum(index);
    }

    private long tcCounter(final int index)
    {
        return new Counters(tcObject.map(Abi.Maps.FALLBACK_COUNTERS)).sum(index);
    }

    /** The prefixes source_ranges holds, as text. */
    private static Set<String> prefixesOf(final BpfObject obj)
    {
        final BpfMap map = obj.map(Abi.Maps.SOURCE_RANGES);
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.CidrKey.SIZE]);
        final UnsafeBuffer next = new UnsafeBuffer(new byte[Abi.CidrKey.SIZE]);
        final Set<String> prefixes = new TreeSet<>();
        boolean more = map.nextKey(null, next);
        while (more)
        {
            prefixes.add(prefixText(next));
            key.putBytes(0, next, 0, Abi.CidrKey.SIZE);
            more = map.nextKey(key, next);
        }
        return prefixes;
    }

    private static String prefixText(final DirectBuffer key)
    {
        return (key.getByte(Abi.CidrKey.ADDR) & 0xff) + "." + (key.getByte(Abi.CidrKey.ADDR + 1) & 0xff) + "." +
            (key.getByte(Abi.CidrKey.ADDR + 2) & 0xff) + "." + (key.getByte(Abi.CidrKey.ADDR + 3) & 0xff) + "/" +
            (key.getInt(Abi.CidrKey.PREFIXLEN) - 32);
    }

    /** The writes to source_ranges and vips, in order: prefixes by text, VIP entries by their restriction flag. */
    private static List<String> writesOf(final List<String> writes)
    {
        return writes.stream().filter(w -> w.startsWith("source_ranges") || w.startsWith("vips")).toList();
    }

    /** The object, with every update and delete of its source_ranges and vips maps logged into {@code writes}. */
    private static BpfObject recording(final BpfObject obj, final List<String> writes)
    {
        return (BpfObject)Proxy.newProxyInstance(BpfObject.class.getClassLoader(), new Class<?>[] {BpfObject.class},
            (proxy, method, args) ->
            {
                final Object result = invoke(obj, method, args);
                if (!"map".equals(method.getName()) ||
                    !Set.of(Abi.Maps.SOURCE_RANGES, Abi.Maps.VIPS).contains((String)args[0]))
                {
                    return result;
                }
                final BpfMap map = (BpfMap)result;
                return Proxy.newProxyInstance(BpfMap.class.getClassLoader(), new Class<?>[] {BpfMap.class},
                    (mapProxy, mapMethod, mapArgs) ->
                    {
                        final String op = mapMethod.getName();
                        if ("update".equals(op) || "delete".equals(op))
                        {
                            final DirectBuffer key = (DirectBuffer)mapArgs[0];
                            if (Abi.Maps.SOURCE_RANGES.equals(args[0]))
                            {
                                writes.add("source_ranges " + op + " " + prefixText(key));
                            }
                            else if ("update".equals(op))
                            {
                                final int flags = ((DirectBuffer)mapArgs[1]).getInt(Abi.Vip.FLAGS);
                                writes.add("vips update " +
                                    ((flags & Abi.Consts.CRAB_VIP_SOURCES_RESTRICTED) != 0 ? "restricted" : "open"));
                            }
                            else
                            {
                                writes.add("vips delete");
                            }
                        }
                        return invoke(map, mapMethod, mapArgs);
                    });
            });
    }

    private static Object invoke(final Object target, final java.lang.reflect.Method method, final Object[] args)
        throws Throwable
    {
        try
        {
            return method.invoke(target, args);
        }
        catch (final InvocationTargetException ex)
        {
            throw ex.getCause();
        }
    }
}
