package io.crab.bench.traffic;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/** Socket helpers shared by the clients and the servers. */
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

    /**
     * A listening socket bound on the calling thread, so it lives in that thread's network namespace; closed again
     * if binding fails.
     */
    public static ServerSocket listen(final InetSocketAddress bind, final int backlog) throws IOException
    {
        final ServerSocket listener = new ServerSocket();
        try
        {
            listener.setReuseAddress(true);
            listener.bind(bind, backlog);
            return listener;
        }
        catch (IOException | RuntimeException e)
        {
            listener.close();
            throw e;
        }
    }

    /** host:port with IPv6 addresses in brackets; unresolved addresses keep their host name. */
    static String format(final InetSocketAddress address)
    {
        final String host = address.isUnresolved() ? address.getHostString() : address.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
