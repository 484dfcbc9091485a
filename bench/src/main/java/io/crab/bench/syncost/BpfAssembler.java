package io.crab.bench.syncost;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes the few eBPF instructions (struct bpf_insn, linux/bpf.h) of the programs syn-cost builds without a C
 * file: its floors and its frame feeder are a handful of instructions each, and bpf/src/main/c is the data path's.
 * Conditional jumps go to one label, {@link #failure()}, placed once.
 */
final class BpfAssembler
{
    static final int R0 = 0;
    static final int R1 = 1;
    static final int R2 = 2;
    static final int R3 = 3;
    static final int R4 = 4;
    static final int R6 = 6;
    static final int R7 = 7;
    static final int R10 = 10;
    static final int HELPER_MAP_LOOKUP_ELEM = 1;
    static final int HELPER_TAIL_CALL = 12;
    static final int HELPER_XDP_STORE_BYTES = 190;

    private static final int ALU64_MOV_REG = 0xbf;
    private static final int ALU64_MOV_IMM = 0xb7;
    private static final int ALU64_ADD_IMM = 0x07;
    private static final int LD_IMM64 = 0x18;
    private static final int LDX_W = 0x61;
    private static final int ST_W = 0x62;
    private static final int STX_W = 0x63;
    private static final int JEQ_IMM = 0x15;
    private static final int JNE_IMM = 0x55;
    private static final int CALL = 0x85;
    private static final int EXIT = 0x95;
    /** src_reg of LD_IMM64 saying its imm is a map fd. */
    private static final int PSEUDO_MAP_FD = 1;

    private final List<long[]> insns = new ArrayList<>();
    private final List<Integer> jumpsToFailure = new ArrayList<>();
    private int failure = -1;

    BpfAssembler movReg(final int dst, final int src)
    {
        return add(ALU64_MOV_REG, dst, src, 0, 0);
    }

    BpfAssembler movImm(final int dst, final int imm)
    {
        return add(ALU64_MOV_IMM, dst, 0, 0, imm);
    }

    BpfAssembler addImm(final int dst, final int imm)
    {
        return add(ALU64_ADD_IMM, dst, 0, 0, imm);
    }

    /** dst = *(u32 *)(src + off). */
    BpfAssembler loadWord(final int dst, final int src, final int off)
    {
        return add(LDX_W, dst, src, off, 0);
    }

    /** *(u32 *)(dst + off) = src. */
    BpfAssembler storeWord(final int dst, final int off, final int src)
    {
        return add(STX_W, dst, src, off, 0);
    }

    /** *(u32 *)(dst + off) = imm. */
    BpfAssembler storeWordImm(final int dst, final int off, final int imm)
    {
        return add(ST_W, dst, 0, off, imm);
    }

    /** dst = the map of this fd (two instruction slots). */
    BpfAssembler loadMap(final int dst, final int mapFd)
    {
        add(LD_IMM64, dst, PSEUDO_MAP_FD, 0, mapFd);
        return add(0, 0, 0, 0, 0);
    }

    BpfAssembler jumpToFailureIf(final int reg, final int imm)
    {
        jumpsToFailure.add(insns.size());
        return add(JEQ_IMM, reg, 0, 0, imm);
    }

    BpfAssembler jumpToFailureUnless(final int reg, final int imm)
    {
        jumpsToFailure.add(insns.size());
        return add(JNE_IMM, reg, 0, 0, imm);
    }

    BpfAssembler call(final int helper)
    {
        return add(CALL, 0, 0, 0, helper);
    }

    BpfAssembler exit()
    {
        return add(EXIT, 0, 0, 0, 0);
    }

    /** Where the failure jumps land: the next instruction. */
    BpfAssembler failure()
    {
        failure = insns.size();
        return this;
    }

    /** The program as struct bpf_insn bytes, little-endian. */
    byte[] build()
    {
        if (!jumpsToFailure.isEmpty() && failure < 0)
        {
            throw new IllegalStateException("jumps to a failure label that was never placed");
        }
        for (final int jump : jumpsToFailure)
        {
            insns.get(jump)[2] = failure - jump - 1;
        }
        final ByteBuffer out = ByteBuffer.allocate(insns.size() * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (final long[] insn : insns)
        {
            out.put((byte)insn[0]).put((byte)insn[1]).putShort((short)insn[2]).putInt((int)insn[3]);
        }
        return out.array();
    }

    /** A program that only returns {@code verdict}: the no-op floor for that verdict. */
    static byte[] returning(final int verdict)
    {
        return new BpfAssembler().movImm(R0, verdict).exit().build();
    }

    private BpfAssembler add(final int code, final int dst, final int src, final int off, final int imm)
    {
        insns.add(new long[] {code, (src << 4) | dst, off, imm});
        return this;
    }
}
