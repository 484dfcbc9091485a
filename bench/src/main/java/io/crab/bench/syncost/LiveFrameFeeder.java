package io.crab.bench.syncost;

import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.StandaloneMap;
import io.crab.bpf.StandaloneProgram;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.List;

import static io.crab.bench.syncost.BpfAssembler.HELPER_MAP_LOOKUP_ELEM;
import static io.crab.bench.syncost.BpfAssembler.HELPER_TAIL_CALL;
import static io.crab.bench.syncost.BpfAssembler.HELPER_XDP_STORE_BYTES;
import static io.crab.bench.syncost.BpfAssembler.R0;
import static io.crab.bench.syncost.BpfAssembler.R1;
import static io.crab.bench.syncost.BpfAssembler.R10;
import static io.crab.bench.syncost.BpfAssembler.R2;
import static io.crab.bench.syncost.BpfAssembler.R3;
import static io.crab.bench.syncost.BpfAssembler.R4;
import static io.crab.bench.syncost.BpfAssembler.R6;
import static io.crab.bench.syncost.BpfAssembler.R7;

/**
 * Gives an XDP program a frame of its own on every repeat of a live-frame run. In live-frame mode the kernel runs
 * the program on pages it recycles without copying the frame in again (only the data pointers are reset), so a
 * program that rewrites its frame, as crab_lb does a SYN it redirects, meets its own output from the second batch
 * on. The feeder runs in its place: it copies frame number n of its table into the packet, n counting its runs
 * since {@link #run} began, and tail-calls the program under test. Crab and its floor both pay for the feeder.
 */
final class LiveFrameFeeder implements AutoCloseable
{
    private static final int BPF_MAP_TYPE_ARRAY = 2;
    private static final int BPF_MAP_TYPE_PROG_ARRAY = 3;
    private static final int XDP_ABORTED = 0;

    private final int frameLength;
    private final StandaloneMap runs;
    private final StandaloneMap frames;
    private final StandaloneMap target;
    private final StandaloneProgram program;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
    private final UnsafeBuffer word = new UnsafeBuffer(new byte[4]);
    private final UnsafeBuffer frame;
    private int count;

    /** Room for {@code capacity} frames of {@code frameLength} bytes. */
    LiveFrameFeeder(final int frameLength, final int capacity)
    {
        this.frameLength = frameLength;
        frame = new UnsafeBuffer(new byte[frameLength]);
        runs = Bpf.createMap(BPF_MAP_TYPE_ARRAY, "feeder_runs", 4, 4, 1);
        StandaloneMap framesMap = null;
        StandaloneMap targetMap = null;
        try
        {
            framesMap = Bpf.createMap(BPF_MAP_TYPE_ARRAY, "feeder_frames", 4, frameLength, capacity);
            targetMap = Bpf.createMap(BPF_MAP_TYPE_PROG_ARRAY, "feeder_target", 4, 4, 1);
            frames = framesMap;
            target = targetMap;
            program = Bpf.loadXdp("frame_feeder", instructions());
        }
        catch (final RuntimeException ex)
        {
            runs.close();
            closeAll(framesMap, targetMap);
            throw ex;
        }
    }

    /** The frames to hand out, in order, from the next {@link #run} on; all of the feeder's frame length. */
    void load(final List<byte[]> table)
    {
        if (table.isEmpty() || table.size() > frames.maxEntries())
        {
            throw new IllegalArgumentException("1.." + frames.maxEntries() + " frames, got " + table.size());
        }
        for (int i = 0; i < table.size(); i++)
        {
            if (table.get(i).length != frameLength)
            {
                throw new IllegalArgumentException("frame " + i + " is " + table.get(i).length + " bytes, not " +
                    frameLength);
            }
            key.putInt(0, i);
            frame.putBytes(0, table.get(i));
            frames.update(key, frame, BpfMap.UPDATE_ANY);
        }
        count = table.size();
    }

    /**
     * One live-frame run of {@code repeat} frames through {@code program}, from the first loaded frame, on {@code
     * lb}'s test device; returns the kernel's ns per frame. Throws if the feeder did not run {@code repeat} times.
     */
    long run(final LbFixture lb, final BpfProgram program, final int repeat)
    {
        if (repeat > count)
        {
            throw new IllegalArgumentException(repeat + " repeats but " + count + " frames loaded");
        }
        key.putInt(0, 0);
        word.putInt(0, program.fd());
        target.update(key, word, BpfMap.UPDATE_ANY);
        word.putInt(0, 0);
        runs.update(key, word, BpfMap.UPDATE_ANY);
        frames.lookup(key, frame);
        final long ns = lb.runLive(this.program, frame.byteArray().clone(), repeat);
        runs.lookup(key, word);
        if (word.getInt(0) != repeat)
        {
            throw new IllegalStateException("frame feeder ran " + word.getInt(0) + " times for " + repeat +
                " repeats; not reporting");
        }
        return ns;
    }

    @Override
    public void close()
    {
        try
        {
            program.close();
        }
        finally
        {
            closeAll(runs, frames, target);
        }
    }

    /**
     * r6 = ctx; n = runs[0]++; frame = frames[n]; store frame at the packet's start; tail-call target[0]. On any
     * failure (n past the table, say) the frame is aborted, which the counters of the program under test see.
     */
    private byte[] instructions()
    {
        return new BpfAssembler()
            .movReg(R6, R1)
            .storeWordImm(R10, -4, 0)
            .loadMap(R1, runs.fd())
            .movReg(R2, R10).addImm(R2, -4)
            .call(HELPER_MAP_LOOKUP_ELEM)
            .jumpToFailureIf(R0, 0)
            .loadWord(R7, R0, 0)
            .movReg(R1, R7).addImm(R1, 1)
            .storeWord(R0, 0, R1)
            .storeWord(R10, -8, R7)
            .loadMap(R1, frames.fd())
            .movReg(R2, R10).addImm(R2, -8)
            .call(HELPER_MAP_LOOKUP_ELEM)
            .jumpToFailureIf(R0, 0)
            .movReg(R1, R6).movImm(R2, 0).movReg(R3, R0).movImm(R4, frameLength)
            .call(HELPER_XDP_STORE_BYTES)
            .jumpToFailureUnless(R0, 0)
            .movReg(R1, R6)
            .loadMap(R2, target.fd())
            .movImm(R3, 0)
            .call(HELPER_TAIL_CALL)
            .failure()
            .movImm(R0, XDP_ABORTED)
            .exit()
            .build();
    }

    private static void closeAll(final StandaloneMap... maps)
    {
        for (final StandaloneMap map : maps)
        {
            if (map != null)
            {
                map.close();
            }
        }
    }
}
