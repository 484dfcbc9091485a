package io.crab.bench;

import io.crab.bench.traffic.Sockets;
import io.crab.rig.Host;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Connections the demo keeps open through the VIP while it restarts daemons and forges packets at them. */
final class DemoConnections implements AutoCloseable
{
    private final List<Socket> sockets = new ArrayList<>();

    static DemoConnections open(final Host client, final InetSocketAddress target, final int count)
    {
        final DemoConnections c = new DemoConnections();
        try
        {
            for (int i = 0; i < count; i++)
            {
                c.sockets.add(client.netns().call(() ->
                {
                    final Socket s = new Socket();
                    s.connect(target, 3000);
                    s.setSoTimeout(3000);
                    return s;
                }));
            }
            return c;
        }
        catch (final RuntimeException ex)
        {
            c.close();
            throw ex;
        }
    }

    int size()
    {
        return sockets.size();
    }

    List<Integer> localPorts()
    {
        return sockets.stream().map(Socket::getLocalPort).toList();
    }

    /** How many connections echo 16 bytes; a connection that fails once is counted broken for good. */
    int echoing()
    {
        int alive = 0;
        final byte[] data = new byte[16];
        for (int i = 0; i < sockets.size(); i++)
        {
            Arrays.fill(data, (byte)i);
            try
            {
                final Socket s = sockets.get(i);
                s.getOutputStream().write(data);
                if (Arrays.equals(data, s.getInputStream().readNBytes(data.length)))
                {
                    alive++;
                }
            }
            catch (final IOException broken)
            {
                // counted as not echoing
            }
        }
        return alive;
    }

    @Override
    public void close()
    {
        sockets.forEach(Sockets::closeQuietly);
    }
}
