package io.crab.bench.syncost;

import io.crab.bench.traffic.Tables;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.Counters;
import io.crab.bpf.frames.Frames;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Measures what the client's TC programs cost per packet of an established connection, beside a no-op TC program
 * on the same frames, from the durations BPF_PROG_TEST_RUN reports: a data packet of a redirected flow each way
 * (with and without port redirection) and one of a connection crab has nothing to do with. Refuses to report when a
 * run took another path than its frame stands for (verdict, counters, the rewritten frame).
 */
public final class ClientCost
{
    public static final int DEFAULT_SAMPLES = 200_000;
    private static final int WARMUP = 1_000;
    /** tc_pass's verdict; the client's programs give {@link Abi.Consts#CRAB_TC_NEXT} for the same frames. */
    private static final int TC_ACT_OK = 0;
    private static final int TC_ACT_REDIRECT = 7;
    private static final int NEXT = Abi.Consts.CRAB_TC_NEXT;
    private static final int NONE = -1;
    private static final byte[] CLIENT = Frames.ip("198.18.0.11");
    private static final byte[] VIP = Frames.ip("198.19.0.1");
    private static final byte[] DIP = Frames.ip("198.18.0.101");
    private static final byte[] DIRECT_PEER = Frames.ip("198.18.0.102");
    private static final int VIP_PORT = 80;
    private static final int DIP_PORT_REDIRECTED = 8080;
    private static final int PORT = 40_000;
    private static final int PORT_REDIRECTED = 40_001;
    /** NOP, NOP, timestamps: what Linux puts in every data segment. */
    private static final byte[] DATA_OPTIONS = Frames.bytes(1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0);
    private static final int PAYLOAD = 64;
    private static final List<String> HEADER = List.of(
        "packet", "program", "verdict", "crab ns", "floor ns", "crab-floor ns", "crab/floor");
    private static final List<String> NOTES = List.of(
        "crab = crab_client_egress or crab_client_ingress (client_tc), floor = tc_pass (a no-op TC program), on the"
            + " same frame; medians of one BPF_PROG_TEST_RUN call per packet (integer ns), the two alternating.",
        "Both include the call's fixed cost (timer, skb setup), which crab-floor cancels. TC_ACT_REDIRECT is"
            + " bpf_redirect_neigh, whose routing and neighbour work happens after the program and is not timed here.");

    private ClientCost()
    {
    }

    /** The packets measured: the program, its frame, the verdict it must get and the counter it must raise. */
    private enum Kind
    {
        EGRESS("data to the VIP, redirected flow", true, PORT, VIP, VIP_PORT, TC_ACT_REDIRECT,
            Abi.Consts.CRAB_CL_EGRESS_REWRITTEN),
        INGRESS("data from the backend, redirected flow", false, PORT, DIP, VIP_PORT, NEXT,
            Abi.Consts.CRAB_CL_INGRESS_REWRITTEN),
        EGRESS_PORTED("data to the VIP, flow redirected to another port", true, PORT_REDIRECTED, VIP, VIP_PORT,
            TC_ACT_REDIRECT, Abi.Consts.CRAB_CL_EGRESS_REWRITTEN),
        INGRESS_PORTED("data from the backend, flow redirected to another port", false, PORT_REDIRECTED, DIP,
            DIP_PORT_REDIRECTED, NEXT, Abi.Consts.CRAB_CL_INGRESS_REWRITTEN),
        EGRESS_OTHER("data of a direct connection (no flow)", true, PORT, DIRECT_PEER, VIP_PORT, NEXT, NONE),
        INGRESS_OTHER("data of a direct connection (no flow)", false, PORT, DIRECT_PEER, VIP_PORT, NEXT, NONE);

        final String label;
        final boolean egress;
        final int verdict;
        final int counter;
        final byte[] frame;

        Kind(final String label, final boolean egress, final int localPort, final byte[] remote,
            final int remotePort, final int verdict, final int counter)
        {
            this.label = label;
            this.egress = egress;
            this.verdict = verdict;
            this.counter = counter;
            final Frames.Tcp tcp = new Frames.Tcp();
            tcp.srcIp = egress ? CLIENT : remote;
            tcp.dstIp = egress ? remote : CLIENT;
            tcp.srcPort = egress ? localPort : remotePort;
            tcp.dstPort = egress ? remotePort : localPort;
            tcp.flags = Frames.ACK | Frames.PSH;
            tcp.seq = 7_000_001;
            tcp.ack = 1_001;
            tcp.options = DATA_OPTIONS.clone();
            tcp.payload = new byte[PAYLOAD];
            frame = tcp.build();
        }
    }

    /**
     * Loads client_tc with VIP 198.19.0.1 and two redirected flows (one to the VIP's port, one to port 8080) and
     * tc_pass, and times every kind {@code samples} times one packet per call. Progress lines go to {@code progress}.
     * Throws IllegalStateException if any run took another path than its kind stands for.
     */
    public static String measure(final int samples, final Consumer<String> progress)
    {
        if (samples < 1)
        {
            throw new IllegalArgumentException("samples must be at least 1, got " + samples);
        }
        final List<List<String>> table = new ArrayList<>();
        table.add(HEADER);
        try (BpfObject client = Bpf.load("client_tc"); BpfObject pass = Bpf.load("tc_pass"))
        {
            redirectedFlow(client, PORT, VIP_PORT);
            redirectedFlow(client, PORT_REDIRECTED, DIP_PORT_REDIRECTED);
            final Counters counters = new Counters(client.map(Abi.Maps.CLIENT_COUNTERS));
            final BpfProgram floor = pass.program("tc_pass");
            for (final Kind kind : Kind.values())
            {
                progress.accept(String.format(Locale.ROOT, "measuring %s, %s, %d samples...", kind.label,
                    kind.egress ? "egress" : "ingress", samples));
                final BpfProgram crab = client.program(kind.egress ? "crab_client_egress" : "crab_client_ingress");
                checkOutput(kind, crab.testRun(kind.frame, 1));
                sample(kind, crab, floor, WARMUP);
                final long[] before = sums(counters);
                final long[][] durations = sample(kind, crab, floor, samples);
                checkCounters(kind, before, sums(counters), samples);
                final double crabNs = SynCost.median(durations[0]);
                final double floorNs = SynCost.median(durations[1]);
                table.add(List.of(kind.label, crab.name(), Integer.toString(kind.verdict), ns(crabNs), ns(floorNs),
                    ns(crabNs - floorNs), String.format(Locale.ROOT, "%.2fx", SynCost.ratio(crabNs, floorNs))));
            }
        }
        final StringBuilder out = new StringBuilder(Tables.markdown(table, 3)).append('\n');
        NOTES.forEach(note -> out.append("- ").append(note).append('\n'));
        return out.toString();
    }

    /** A redirected flow from CLIENT:localPort to VIP:80, whose backend is DIP:dipPort, both directions. */
    private static void redirectedFlow(final BpfObject client, final int localPort, final int dipPort)
    {
        final UnsafeBuffer value = new UnsafeBuffer(new byte[client.map(Abi.Maps.FLOWS).valueSize()]);
        value.putByte(Abi.Flow.STATE, (byte)Abi.Consts.CRAB_FLOW_REDIRECTED);
        value.putBytes(Abi.Flow.PEER_ADDR, DIP);
        value.putShort(Abi.Flow.PEER_PORT, (short)dipPort, ByteOrder.BIG_ENDIAN);
        client.map(Abi.Maps.FLOWS).update(flowKey(VIP, localPort, VIP_PORT), value, BpfMap.UPDATE_ANY);
        final UnsafeBuffer reverse = new UnsafeBuffer(new byte[client.map(Abi.Maps.RFLOWS).valueSize()]);
        reverse.putBytes(Abi.Rflow.VIP_ADDR, VIP);
        reverse.putShort(Abi.Rflow.VIP_PORT, (short)VIP_PORT, ByteOrder.BIG_ENDIAN);
        client.map(Abi.Maps.RFLOWS).update(flowKey(DIP, localPort, dipPort), reverse, BpfMap.UPDATE_ANY);
    }

    private static UnsafeBuffer flowKey(final byte[] remote, final int localPort, final int remotePort)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[16]);
        key.putBytes(Abi.FlowKey.LOCAL_ADDR, CLIENT);
        key.putBytes(Abi.FlowKey.REMOTE_ADDR, remote);
        key.putShort(Abi.FlowKey.LOCAL_PORT, (short)localPort, ByteOrder.BIG_ENDIAN);
        key.putShort(Abi.FlowKey.REMOTE_PORT, (short)remotePort, ByteOrder.BIG_ENDIAN);
        return key;
    }

    /** {crab durations, floor durations} of {@code count} single-packet calls, alternating which goes first. */
    private static long[][] sample(final Kind kind, final BpfProgram crab, final BpfProgram floor, final int count)
    {
        final long[] crabNs = new long[count];
        final long[] floorNs = new long[count];
        for (int i = 0; i < count; i++)
        {
            if (i % 2 == 0)
            {
                crabNs[i] = run(kind, crab, kind.verdict, i);
                floorNs[i] = run(kind, floor, TC_ACT_OK, i);
            }
            else
            {
                floorNs[i] = run(kind, floor, TC_ACT_OK, i);
                crabNs[i] = run(kind, crab, kind.verdict, i);
            }
        }
        return new long[][] {crabNs, floorNs};
    }

    private static long run(final Kind kind, final BpfProgram program, final int verdict, final int sample)
    {
        final BpfProgram.TestRun run = program.testRun(kind.frame, 1);
        if (run.verdict() != verdict)
        {
            throw new IllegalStateException(String.format(Locale.ROOT,
                "%s: %s returned %d, expected %d (sample %d); not reporting", kind.label, program.name(),
                run.verdict(), verdict, sample));
        }
        return run.durationNs();
    }

    /** A rewritten frame must carry right checksums; a frame of no flow must come back as it went in. */
    private static void checkOutput(final Kind kind, final BpfProgram.TestRun run)
    {
        final boolean ok = kind.counter == NONE ? Arrays.equals(kind.frame, run.frameOut()) :
            !Arrays.equals(kind.frame, run.frameOut()) && Frames.ipChecksumValid(run.frameOut()) &&
                Frames.tcpChecksumValid(run.frameOut());
        if (!ok)
        {
            throw new IllegalStateException(kind.label + ": the frame out is not what the path produces; not reporting");
        }
    }

    /** Every one of the {@code runs} must have counted its kind's entry and nothing else. */
    private static void checkCounters(final Kind kind, final long[] before, final long[] after, final long runs)
    {
        for (int counter = 0; counter < before.length; counter++)
        {
            final long expected = counter == kind.counter ? runs : 0;
            if (after[counter] - before[counter] != expected)
            {
                throw new IllegalStateException(String.format(Locale.ROOT,
                    "%s: client_counters[%d] rose by %d, expected %d; not reporting", kind.label, counter,
                    after[counter] - before[counter], expected));
            }
        }
    }

    private static long[] sums(final Counters counters)
    {
        final long[] values = new long[Abi.Consts.CRAB_CL_COUNTER_MAX];
        for (int counter = 0; counter < values.length; counter++)
        {
            values[counter] = counters.sum(counter);
        }
        return values;
    }

    private static String ns(final double value)
    {
        return String.format(Locale.ROOT, "%.1f", value);
    }
}
