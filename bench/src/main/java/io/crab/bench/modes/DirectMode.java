package io.crab.bench.modes;

import io.crab.rig.Host;

import java.net.InetSocketAddress;

/**
 * {@code direct}: a client connects to a backend's own address; no LB on the path. The baseline. It runs from the
 * client without crab, which is what a user compares with, and which cannot collide with the crab client's
 * redirected connections on the wire (same backend and port). The LB's kernel work is measured in this mode too,
 * as a check: traffic that bypasses the LB must not show up in it.
 */
public final class DirectMode implements BenchMode
{
    private final InetSocketAddress target;

    public DirectMode(final Host backend, final int port)
    {
        this.target = new InetSocketAddress(backend.ip(), port);
    }

    @Override
    public boolean fromPlainClient()
    {
        return true;
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
    public void close()
    {
    }
}
