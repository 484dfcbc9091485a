package io.crab.bench.hostile;

import java.util.Arrays;

/**
 * One run of a program on one frame, as the checks judge it: the frame in, the verdict, the frame out and how much
 * each counter rose. The campaign fills one instance frame after frame; tests make their own.
 */
final class Outcome
{
    final Hook hook;
    final ProgramRules rules;
    final long[] raised;
    final byte[] output;
    OptionConfig config;
    byte[] input;
    /** 0, or the negative errno with which the kernel refused to run the frame. */
    int runResult;
    int verdict;
    int outputLength;
    private Packet inputPacket;
    private Packet outputPacket;

    Outcome(final Hook hook, final ProgramRules rules, final int counters, final int maxOutputLength)
    {
        this.hook = hook;
        this.rules = rules;
        this.raised = new long[counters];
        this.output = new byte[maxOutputLength];
    }

    /** Starts judging a new run; the caller then fills verdict, output and raised. */
    void reset(final OptionConfig frameConfig, final byte[] frame)
    {
        config = frameConfig;
        input = frame;
        runResult = 0;
        verdict = 0;
        outputLength = 0;
        Arrays.fill(raised, 0);
        inputPacket = null;
        outputPacket = null;
    }

    boolean changed()
    {
        return outputLength != input.length || !Arrays.equals(input, 0, input.length, output, 0, outputLength);
    }

    /** XDP: transmitted at all (the LB must never transmit a bad frame); TC: sent on with its bytes changed. */
    boolean sentOnChanged()
    {
        return hook.sendsOn(verdict) && (hook == Hook.XDP || changed());
    }

    boolean dropped()
    {
        return hook.drops(verdict);
    }

    Packet in()
    {
        if (inputPacket == null)
        {
            inputPacket = new Packet(input, input.length);
        }
        return inputPacket;
    }

    Packet out()
    {
        if (outputPacket == null)
        {
            outputPacket = new Packet(output, outputLength);
        }
        return outputPacket;
    }

    String counterName(final int index)
    {
        return rules.counterName(index);
    }
}
