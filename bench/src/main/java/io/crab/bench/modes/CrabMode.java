package io.crab.bench.modes;

import io.crab.agent.Interfaces;
import io.crab.bpf.Bpf;
import io.crab.rig.Host;

import java.net.InetSocketAddress;

/**
 * {@code crab}: through the VIP with crab-lb and crab-endpoint (started by the bench's cluster). The LB's CPU is
 * the XDP program's run time from the kernel's BPF statistics, which the bench turns on for the run.
 */
public final class CrabMode implements BenchMode
{
    private final Host lb;
    private final InetSocketAddress target;

    public CrabMode(final Host lb, final String vip, final int port)
    {
        this.lb = lb;
        this.target = new InetSocketAddress(vip, port);
    }

    @Override
    public String name()
    {
        return "crab";
    }

    @Override
    public InetSocketAddress target()
    {
        return target;
    }

    @Override
    public String cpuSource()
    {
        return "XDP program run time (BPF stats)";
    }

    @Override
    public long lbCpuNs()
    {
        return lb.netns().call(() -> Bpf.xdpProgramStats(Interfaces.ifindex(lb.iface())).runTimeNs());
    }

    @Override
    public void close()
    {
    }
}
