package io.crab.bench.modes;

import io.crab.rig.Host;

import java.net.InetSocketAddress;

/** {@code direct}: the client connects to a backend's own address; no LB on the path. The baseline. */
public final class DirectMode implements BenchMode
{
    private final InetSocketAddress target;

    public DirectMode(final Host backend, final int port)
    {
        this.target = new InetSocketAddress(backend.ip(), port);
    }

    @Override
    public String name()
    {
        return "direct";
    }

    @Override
    public InetSocketAddress target()
    {
        return target;
    }

    @Override
    public String cpuSource()
    {
        return "";
    }

    @Override
    public long lbCpuNs()
    {
        return 0;
    }

    @Override
    public void close()
    {
    }
}
