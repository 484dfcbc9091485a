package io.crab.bpf;

/** Cumulative kernel statistics of one BPF program: total run time and number of runs. */
public record ProgramStats(long runTimeNs, long runCount)
{
}
