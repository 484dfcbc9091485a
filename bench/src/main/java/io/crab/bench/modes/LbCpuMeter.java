package io.crab.bench.modes;

import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.Counters;
import io.crab.rig.Host;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The LB's CPU time, measured alike for every mode by crab's {@code lb_cpu} BPF programs (bpf/src/main/c): the time
 * of the NAPI polls of the LB's interface, in which the kernel does all its work on the packets the LB receives
 * (crab's XDP program, GRO, IP, netfilter, forwarding, TCP) up to handing what it sends to the next device, and the
 * time of one process on the LB that carries traffic (a proxy) less the softirqs that ran in its context, which are
 * other devices' polls or the interface's own, counted already. Softirq time on a shared machine mixes every
 * namespace's work; a poll of the LB's interface is the LB's alone.
 * <p>
 * The programs watch every softirq, poll and context switch of the machine while attached, so the bench attaches
 * them only for runs of their own. The interface needs NAPI (a veth has it with an XDP program attached or GRO on):
 * without it its packets reach the stack through the per-CPU backlog, which this does not see.
 */
public final class LbCpuMeter implements AutoCloseable
{
    private static final String OBJECT = "lb_cpu";
    private static final List<String> PROGRAMS = List.of("lb_cpu_softirq_entry", "lb_cpu_softirq_exit",
        "lb_cpu_napi_poll", "lb_cpu_sched_switch");

    private final BpfObject object;
    private final List<BpfLink> links = new ArrayList<>();
    private final BpfMap targetMap;
    private final Counters counters;
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
    private final UnsafeBuffer target = new UnsafeBuffer(new byte[Abi.CpuTarget.SIZE]);

    private LbCpuMeter(final BpfObject object)
    {
        this.object = object;
        this.targetMap = object.map(Abi.Maps.LB_CPU_TARGET);
        this.counters = new Counters(object.map(Abi.Maps.LB_CPU_COUNTERS));
    }

    /** Loads the programs, points them at the LB host's interface and attaches them. */
    public static LbCpuMeter attach(final Host lb)
    {
        final LbCpuMeter meter = new LbCpuMeter(Bpf.load(OBJECT));
        try
        {
            meter.target.putInt(Abi.CpuTarget.IFINDEX, lb.ifindex(), ByteOrder.nativeOrder());
            meter.target.putInt(Abi.CpuTarget.NETNS_INUM, (int)lb.netns().inode(), ByteOrder.nativeOrder());
            meter.writeTarget();
            for (final String program : PROGRAMS)
            {
                meter.links.add(meter.object.program(program).attachTracepoint());
            }
            return meter;
        }
        catch (final RuntimeException ex)
        {
            meter.close();
            throw ex;
        }
    }

    /** Watches this process from now on (its threads' time and the softirqs in it); 0: none. */
    public void watchProcess(final long pid)
    {
        if (pid < 0 || pid > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("not a process id: " + pid);
        }
        target.putInt(Abi.CpuTarget.TGID, (int)pid, ByteOrder.nativeOrder());
        writeTarget();
    }

    /** The counters since attaching, summed over CPUs. */
    public Reading read()
    {
        return new Reading(counters.sum(Abi.Consts.CRAB_CPU_POLL_NS), counters.sum(Abi.Consts.CRAB_CPU_POLLS),
            counters.sum(Abi.Consts.CRAB_CPU_TASK_NS), counters.sum(Abi.Consts.CRAB_CPU_TASK_SOFTIRQ_NS));
    }

    private void writeTarget()
    {
        key.putInt(0, 0);
        targetMap.update(key, target, BpfMap.UPDATE_ANY);
    }

    @Override
    public void close()
    {
        links.forEach(BpfLink::close);
        links.clear();
        object.close();
    }

    /**
     * Cumulative counters, or the difference of two readings.
     *
     * @param pollNs          time in the NAPI polls of the LB's interface
     * @param polls           those polls
     * @param processNs       time the watched process was on a CPU
     * @param processSoftirqNs of which softirqs ran in its context
     */
    public record Reading(long pollNs, long polls, long processNs, long processSoftirqNs)
    {
        /** What happened between {@code earlier} and this reading. */
        public Reading minus(final Reading earlier)
        {
            return new Reading(pollNs - earlier.pollNs, polls - earlier.polls, processNs - earlier.processNs,
                processSoftirqNs - earlier.processSoftirqNs);
        }

        /** The LB's CPU time: its interface's polls and its process's own time, each counted once. */
        public long lbCpuNs()
        {
            return pollNs + processNs - processSoftirqNs;
        }
    }
}
