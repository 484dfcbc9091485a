package io.crab.bench.traffic;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A misbehaving loopback server for failure tests: corrupts echoes, hangs up, or never answers. */
final class StubServer implements AutoCloseable
{
    enum Behaviour
    {
        /** Echoes every byte plus one. */
        CORRUPT,
        /** Closes each connection as soon as it is accepted. */
        HANG_UP,
        /** Reads and never replies. */
        SILENT
    }

    private final ServerSocket listener;
    private final Behaviour behaviour;
    private final List<Socket> open = new CopyOnWriteArrayList<>();

    private StubServer(final ServerSocket listener, final Behaviour behaviour)
    {
        this.listener = listener;
        this.behaviour = behaviour;
    }

    static StubServer start(final Behaviour behaviour) throws IOException
    {
        final ServerSocket listener = new ServerSocket(0, 128, InetAddress.getLoopbackAddress());
        final StubServer server = new StubServer(listener, behaviour);
        final Thread acceptor = new Thread(server::acceptLoop, "stub-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        return server;
    }

    InetSocketAddress address()
    {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
    }

    private void acceptLoop()
    {
        while (!listener.isClosed())
        {
            try
            {
                final Socket socket = listener.accept();
                open.add(socket);
                final Thread handler = new Thread(() -> handle(socket), "stub-conn");
                handler.setDaemon(true);
                handler.start();
            }
            catch (IOException e)
            {
                return;
            }
        }
    }

    private void handle(final Socket socket)
    {
        try (socket)
        {
            if (behaviour == Behaviour.HANG_UP)
            {
                return;
            }
            final InputStream in = socket.getInputStream();
            final OutputStream out = socket.getOutputStream();
            final byte[] buffer = new byte[1024];
            int n;
            while ((n = in.read(buffer)) >= 0)
            {
                if (behaviour == Behaviour.CORRUPT)
                {
                    for (int i = 0; i < n; i++)
                    {
                        buffer[i]++;
                    }
                    out.write(buffer, 0, n);
                }
            }
        }
        catch (IOException e)
        {
            // The client gave up on us, which is the point of these tests.
        }
    }

    @Override
    public void close() throws IOException
    {
        listener.close();
        for (final Socket socket : open)
        {
            socket.close();
        }
    }
}
