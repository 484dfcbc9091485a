package io.crab.bench.modes;

import io.crab.agent.Interfaces;
import io.crab.agent.PinnedDatapath;
import io.crab.bpf.Bpf;
import io.crab.lb.LbAgent;
import io.crab.rig.Host;

import java.net.InetSocketAddress;

/**
 * {@code crab-fallback}: a client without crab through crab's VIP. Its packets reach the backends through the LB's
 * hashing fallback; the backends (which have the VIP on their loopback) answer it directly. Besides the LB's kernel
 * work it reports the run time of both its programs, XDP (which passes these packets) and TC (which forwards them).
 */
public final class CrabFallbackMode implements BenchMode
{
    private final Host lb;
    private final InetSocketAddress target;

    public CrabFallbackMode(final Host lb, final String vip, final int port)
    {
        this.lb = lb;
        this.target = new InetSocketAddress(vip, port);
    }

    @Override
    public String name()
    {
        return "crab-fallback";
    }

    @Override
    public InetSocketAddress target()
    {
        return target;
    }

    @Override
    public boolean fromPlainClient()
    {
        return true;
    }

    @Override
    public String bpfPrograms()
    {
        return "XDP and TC";
    }

    @Override
    public long bpfRunTimeNs()
    {
        return lb.netns().call(() -> Bpf.xdpProgramStats(Interfaces.ifindex(lb.iface())).runTimeNs() +
            Bpf.linkProgramStats(LbAgent.pinDir(lb.iface()).resolve(PinnedDatapath.LINK_PREFIX + "tc_ingress"))
                .runTimeNs());
    }

    @Override
    public void close()
    {
    }
}
