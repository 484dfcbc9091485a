package io.crab.bench.syncost;

import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.StandaloneProgram;
import io.crab.bpf.frames.Frames;
import io.crab.lb.Policy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.LongStream;

/**
 * Measures what the XDP load balancer costs per packet, beside a no-op XDP program on the same frames, from the
 * durations BPF_PROG_TEST_RUN reports, and how many packets per second one CPU runs it on as live frames;
 * refuses to report when a frame did not take the path it stands for.
 */
public final class SynCost
{
    public static final int DEFAULT_SAMPLES = 200_000;
    public static final int DEFAULT_REPEAT = 1_000_000;
    public static final int DEFAULT_BACKENDS = 3;
    public static final String MARKED_SYN = "marked SYN";
    public static final String UNMARKED_SYN = "unmarked SYN";
    public static final String DATA_PACKET = "data packet";
    /** The row of the simplest XDP load balancer on the marked SYNs; its "crab" columns are that program's. */
    public static final String REFERENCE_SYN = "marked SYN to ref_lb";
    static final String MEAN = "repeat=1, mean";
    static final String MEDIAN = "repeat=1, median";
    static final String LIVE = "live frames, repeat=";
    static final int XDP_PASS = 2;
    static final int XDP_TX = 3;

    /** Source ports the samples cycle through: the SYN table (LRU, 65536 entries) holds them all, so never evicts. */
    static final int PORTS = 4096;
    private static final int FIRST_PORT = 20_000;
    /** ISN of the first lap; each lap over the ports adds one, so every marked SYN is a new connection. */
    private static final long FIRST_ISN = 1_000_000;
    /** Unmeasured samples first, so the measured ones do not pay for cold caches and first map entries. */
    private static final int WARMUP = 1_000;
    private static final byte[] MARKER = Frames.bytes(LbFixture.OPTION_KIND, 2, 1, 1);
    private static final byte[] CLIENT_MAC = Frames.mac("02:00:00:00:00:11");
    private static final byte[] DATA_OPTIONS = Frames.bytes(1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0);
    private static final int DATA_PAYLOAD = 64;
    private static final String[] VERDICTS = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"};

    private SynCost()
    {
    }

    /** The frame kinds measured: what each is, the verdict it must get and the lb_counters entry it must count. */
    private enum Kind
    {
        MARKED(MARKED_SYN, XDP_TX, Abi.Consts.CRAB_LB_TX_REDIRECT, false),
        UNMARKED(UNMARKED_SYN, XDP_PASS, Abi.Consts.CRAB_LB_PASS_UNMARKED, true),
        DATA(DATA_PACKET, XDP_PASS, Abi.Consts.CRAB_LB_PASS_NOT_SYN, true);

        final String label;
        final int verdict;
        final int counter;
        /**
         * The program leaves the frame as it is, so repeating it in one call measures the same path every time, and
         * live frames can be that one frame; a frame the program rewrites needs the {@link LiveFrameFeeder}.
         */
        final boolean repeatable;

        Kind(final String label, final int verdict, final int counter, final boolean repeatable)
        {
            this.label = label;
            this.verdict = verdict;
            this.counter = counter;
            this.repeatable = repeatable;
        }

        /** The row label: a marked SYN's cost depends on the policy that picks its backend. */
        String label(final Policy policy)
        {
            return this == MARKED ? label + " (" + policy.word() + ")" : label;
        }

        /** Frame of sample {@code index}: a port per index, and a new ISN each time the ports wrap around. */
        byte[] frame(final long index)
        {
            final Frames.Tcp tcp = new Frames.Tcp();
            tcp.dstMac = LbFixture.LB_MAC;
            tcp.srcMac = CLIENT_MAC;
            tcp.dstIp = LbFixture.VIP;
            tcp.srcPort = FIRST_PORT + (int)(index % PORTS);
            tcp.seq = FIRST_ISN + index / PORTS;
            switch (this)
            {
                case MARKED -> tcp.options = Frames.concat(Frames.LINUX_SYN_OPTIONS, MARKER);
                case UNMARKED -> tcp.options = Frames.LINUX_SYN_OPTIONS.clone();
                case DATA ->
                {
                    tcp.flags = Frames.ACK | Frames.PSH;
                    tcp.ack = 7_000_001;
                    tcp.options = DATA_OPTIONS.clone();
                    tcp.payload = new byte[DATA_PAYLOAD];
                }
            }
            return tcp.build();
        }
    }

    /** {@link #measure(int, int, List, int, Consumer)} under rr with 3 backends, without progress lines. */
    public static SynCostReport measure(final int samples, final int repeat)
    {
        return measure(samples, repeat, List.of(Policy.RR), DEFAULT_BACKENDS, line ->
        {
        });
    }

    /**
     * Runs crab_lb (lb_xdp) and xdp_pass on each frame kind: {@code samples} times one packet per call, alternating
     * the two programs, and for the kinds the program does not modify also {@code repeat} packets in one call. Then
     * {@code repeat} live frames of each kind in one call, beside a floor of the verdict crab gives: xdp_pass for
     * the frames crab passes, a program returning XDP_TX for a marked SYN, which goes through a
     * {@link LiveFrameFeeder} for both so that every repeat is a new connection. A
     * marked SYN is measured under each of {@code policies}, with {@code backends} backends (jsq compares them
     * all, up to CRAB_LOAD_SCAN). Progress lines go to {@code progress}. Throws IllegalStateException if any run got
     * another verdict or took another path through crab_lb (per lb_counters) than its kind stands for.
     */
    public static SynCostReport measure(final int samples, final int repeat, final List<Policy> policies,
        final int backends, final Consumer<String> progress)
    {
        if (samples < 1 || repeat < 1 || policies.isEmpty())
        {
            throw new IllegalArgumentException("samples and repeat must be at least 1 and a policy given, got " +
                samples + ", " + repeat + " and " + policies);
        }
        final List<SynCostRow> rows = new ArrayList<>();
        final Map<String, Integer> verdicts = new LinkedHashMap<>();
        final int markedLength = Kind.MARKED.frame(0).length;
        try (LbFixture lb = new LbFixture(backends); BpfObject pass = Bpf.load("xdp_pass");
            StandaloneProgram transmit = Bpf.loadXdp("xdp_tx", BpfAssembler.returning(XDP_TX));
            LiveFrameFeeder feeder = new LiveFrameFeeder(markedLength, repeat); ReferenceLb reference = new ReferenceLb())
        {
            final Floors floors = new Floors(pass.program("xdp_pass"), transmit, feeder, reference.program());
            lb.call(() -> measureEach(lb, floors, samples, repeat, policies, progress, rows, verdicts));
        }
        return new SynCostReport(rows, verdicts);
    }

    /**
     * The no-op programs crab is measured beside: {@code pass} returns XDP_PASS (the floor of every run but live
     * marked SYNs), {@code transmit} returns XDP_TX (the floor of live marked SYNs, so both transmit every frame),
     * the feeder gives live marked SYNs their frames, and {@code reference} is the simplest XDP load balancer,
     * measured on the marked SYNs as crab is.
     */
    private record Floors(BpfProgram pass, BpfProgram transmit, LiveFrameFeeder feeder, BpfProgram reference)
    {
    }

    private static Void measureEach(final LbFixture lb, final Floors floors, final int samples, final int repeat,
        final List<Policy> policies, final Consumer<String> progress, final List<SynCostRow> rows,
        final Map<String, Integer> verdicts)
    {
        final BpfProgram floor = floors.pass();
        for (final Kind kind : Kind.values())
        {
            // Only a marked SYN reaches the policy; the other kinds pass before it, whatever it is.
            final List<Policy> measured = kind == Kind.MARKED ? policies : List.of(policies.get(0));
            for (int p = 0; p < measured.size(); p++)
            {
                final String label = kind.label(measured.get(p));
                lb.usePolicy(measured.get(p).code());
                progress.accept(kind.repeatable
                    ? String.format("measuring %s, %d samples, then %d repeats in one call, then %d live frames...",
                        label, samples, repeat, repeat)
                    : String.format("measuring %s, %d samples, then %d live frames...", label, samples, repeat));
                // Each policy's SYNs start a lap further on, with new ISNs: new connections, not retransmissions.
                final long first = (long)p * (WARMUP + samples + repeat + PORTS);
                sampleEach(kind, lb, lb.program(), floor, first, WARMUP, kind.verdict);
                final long[] before = counters(lb);
                final long[][] durations = sampleEach(kind, lb, lb.program(), floor, first + WARMUP, samples,
                    kind.verdict);
                checkPath(kind, label, before, counters(lb), samples, "repeat=1");
                rows.add(SynCostRow.of(label, MEAN, mean(durations[0]), mean(durations[1]), samples));
                rows.add(SynCostRow.of(label, MEDIAN, median(durations[0]), median(durations[1]), samples));
                if (kind.repeatable)
                {
                    rows.add(repeated(kind, lb, floor, first + WARMUP + samples, repeat));
                }
                rows.add(live(kind, label, lb, floors, first + WARMUP + samples, repeat));
                verdicts.put(label, kind.verdict);
            }
            if (kind == Kind.MARKED)
            {
                progress.accept(String.format("measuring %s, %d samples, then %d live frames...", REFERENCE_SYN,
                    samples, repeat));
                final long first = (long)measured.size() * (WARMUP + samples + repeat + PORTS);
                final BpfProgram reference = floors.reference();
                sampleEach(kind, lb, reference, floor, first, WARMUP, XDP_TX);
                final long[][] durations = sampleEach(kind, lb, reference, floor, first + WARMUP, samples, XDP_TX);
                rows.add(SynCostRow.of(REFERENCE_SYN, MEAN, mean(durations[0]), mean(durations[1]), samples));
                rows.add(SynCostRow.of(REFERENCE_SYN, MEDIAN, median(durations[0]), median(durations[1]), samples));
                floors.feeder().load(LongStream.range(first + WARMUP + samples, first + WARMUP + samples + repeat)
                    .mapToObj(kind::frame).toList());
                final long referenceNs = floors.feeder().run(lb, reference, repeat);
                final long transmitNs = floors.feeder().run(lb, floors.transmit(), repeat);
                rows.add(SynCostRow.live(REFERENCE_SYN, LIVE + repeat, referenceNs, transmitNs, repeat));
                verdicts.put(REFERENCE_SYN, XDP_TX);
            }
        }
        return null;
    }

    /** Mean of the values; NaN for none. */
    static double mean(final long[] values)
    {
        if (values.length == 0)
        {
            return Double.NaN;
        }
        double sum = 0;
        for (final long value : values)
        {
            sum += value;
        }
        return sum / values.length;
    }

    /** Median of the values (the mean of the middle two for an even count), leaving the array as it is. */
    static double median(final long[] values)
    {
        if (values.length == 0)
        {
            return Double.NaN;
        }
        final long[] sorted = values.clone();
        Arrays.sort(sorted);
        final int middle = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2.0;
    }

    /** crab / floor; NaN when the floor is not positive, since a ratio to nothing means nothing. */
    static double ratio(final double crabNs, final double floorNs)
    {
        return floorNs > 0 ? crabNs / floorNs : Double.NaN;
    }

    static String verdictName(final int verdict)
    {
        return verdict >= 0 && verdict < VERDICTS.length ? VERDICTS[verdict] : "verdict " + verdict;
    }

    /**
     * Samples {@code first .. first + count - 1}, one packet per call, of {@code program} (which must give {@code
     * verdict}) and the floor: returns {program durations, floor durations}. Program and floor alternate sample by
     * sample so drift of the machine hits both, and which goes first alternates too so neither always finds the
     * caches the other one warmed.
     */
    private static long[][] sampleEach(final Kind kind, final LbFixture lb, final BpfProgram program,
        final BpfProgram floor, final long first, final int count, final int verdict)
    {
        final long[] crab = new long[count];
        final long[] pass = new long[count];
        for (int i = 0; i < count; i++)
        {
            final byte[] frame = kind.frame(first + i);
            if (i % 2 == 0)
            {
                crab[i] = run(kind, lb, program, verdict, frame, i);
                pass[i] = run(kind, lb, floor, XDP_PASS, frame, i);
            }
            else
            {
                pass[i] = run(kind, lb, floor, XDP_PASS, frame, i);
                crab[i] = run(kind, lb, program, verdict, frame, i);
            }
        }
        return new long[][] {crab, pass};
    }

    /** One call of {@code repeat} runs of the same frame for each program; the frame must come back untouched. */
    private static SynCostRow repeated(final Kind kind, final LbFixture lb, final BpfProgram floor, final long index,
        final int repeat)
    {
        final byte[] frame = kind.frame(index);
        final long[] before = counters(lb);
        final BpfProgram.TestRun crab = lb.run(lb.program(), frame, repeat);
        final BpfProgram.TestRun pass = lb.run(floor, frame, repeat);
        final String method = "repeat=" + repeat + ", 1 call";
        check(kind, lb.program(), kind.verdict, crab.verdict(), method);
        check(kind, floor, XDP_PASS, pass.verdict(), method);
        checkPath(kind, kind.label, before, counters(lb), repeat, method);
        if (!Arrays.equals(frame, crab.frameOut()))
        {
            throw new IllegalStateException(kind.label + ": crab_lb modified the frame, so its " + method
                + " figure would time other frames than the first; not reporting");
        }
        return SynCostRow.of(kind.label, method, crab.durationNs(), pass.durationNs(), repeat);
    }

    /**
     * One call of {@code repeat} live frames for crab, then one for its floor: frames crab leaves alone repeat the
     * frame of {@code index}; marked SYNs are frames {@code index ..} through the feeder, each a new connection.
     */
    private static SynCostRow live(final Kind kind, final String label, final LbFixture lb, final Floors floors,
        final long index, final int repeat)
    {
        final String method = LIVE + repeat;
        final long[] before = counters(lb);
        final long crabNs;
        final long floorNs;
        if (kind.repeatable)
        {
            final byte[] frame = kind.frame(index);
            crabNs = lb.runLive(lb.program(), frame, repeat);
            floorNs = lb.runLive(floors.pass(), frame, repeat);
        }
        else
        {
            floors.feeder().load(LongStream.range(index, index + repeat).mapToObj(kind::frame).toList());
            crabNs = floors.feeder().run(lb, lb.program(), repeat);
            floorNs = floors.feeder().run(lb, floors.transmit(), repeat);
        }
        checkPath(kind, label, before, counters(lb), repeat, method);
        return SynCostRow.live(label, method, crabNs, floorNs, repeat);
    }

    private static long run(final Kind kind, final LbFixture lb, final BpfProgram program, final int expected,
        final byte[] frame, final int sample)
    {
        final BpfProgram.TestRun run = lb.run(program, frame, 1);
        check(kind, program, expected, run.verdict(), "sample " + sample);
        return run.durationNs();
    }

    private static void check(final Kind kind, final BpfProgram program, final int expected, final int verdict,
        final String where)
    {
        if (verdict != expected)
        {
            throw new IllegalStateException(String.format(
                "%s: %s returned %s (%d), expected %s (%d) (%s); not reporting", kind.label, program.name(),
                verdictName(verdict), verdict, verdictName(expected), expected, where));
        }
    }

    /** Every one of the {@code runs} must have counted its kind's entry and nothing else (e.g. no retransmission). */
    private static void checkPath(final Kind kind, final String label, final long[] before, final long[] after,
        final long runs, final String method)
    {
        for (int counter = 0; counter < before.length; counter++)
        {
            final long expected = counter == kind.counter ? runs : 0;
            final long counted = after[counter] - before[counter];
            if (counted != expected)
            {
                throw new IllegalStateException(String.format(
                    "%s (%s): lb_counters[%d] rose by %d, expected %d: crab_lb did not take the path of a %s on every"
                        + " run; not reporting", label, method, counter, counted, expected, kind.label));
            }
        }
    }

    private static long[] counters(final LbFixture lb)
    {
        final long[] values = new long[Abi.Consts.CRAB_LB_COUNTER_MAX];
        for (int counter = 0; counter < values.length; counter++)
        {
            values[counter] = lb.counter(counter);
        }
        return values;
    }
}
