package io.crab.bench.modes;

import io.crab.agent.Interfaces;
import io.crab.bpf.Bpf;
import io.crab.rig.Host;

import java.net.InetSocketAddress;

/**
 * {@code crab}: through the VIP with crab-lb and crab-endpoint (started by the bench's cluster). Besides the LB's
 * kernel work it reports the XDP program's run time from the kernel's BPF statistics, which the bench turns on.
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
    public String bpfPrograms()
    {
        return "XDP";
    }

    @Override
    public long bpfRunTimeNs()
    {
        return lb.netns().call(() -> Bpf.xdpProgramStats(Interfaces.ifindex(lb.iface())).runTimeNs());
    }

    @Override
    public void close()
    {
    }
}
