package io.crab.bench.traffic;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;

/** Socket helpers shared by the clients and the echo server. */
public final class Sockets
{
    private Sockets()
    {
    }

    public static void closeQuietly(final Closeable socket)
    {
        try
        {
            socket.close();
        }
        catch (IOException ignored)
        {
            // Closing is best effort: the socket is being thrown away either way.
        }
    }

    /** host:port with IPv6 addresses in brackets; unresolved addresses keep their host name. */
    static String format(final InetSocketAddress address)
    {
        final String host = address.isUnresolved() ? address.getHostString() : address.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
