package io.crab.bench.traffic;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** A blocking TCP echo server: one daemon thread per connection, echoing every byte until EOF. */
public final class EchoServer implements AutoCloseable
{
    private static final int BACKLOG = 1024;
    private static final int BUFFER_BYTES = 16 * 1024;
    private static final long JOIN_MILLIS = 2_000;
    private static final long ACCEPT_BACKOFF_MILLIS = 10;

    private final ServerSocket listener;
    private final Thread acceptor;
    private final ExecutorService connections;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong echoed = new AtomicLong();
    private volatile boolean closed;

    private EchoServer(final ServerSocket listener)
    {
        this.listener = listener;
        final String name = "crab-echo-" + listener.getLocalPort();
        this.connections = Executors.newCachedThreadPool(daemonThreads(name + "-conn-"));
        this.acceptor = new Thread(this::acceptLoop, name + "-accept");
        this.acceptor.setDaemon(true);
    }

    /**
     * Binds on the calling thread, so the socket lives in that thread's network namespace, then accepts in the
     * background. Port 0 picks a free port, see {@link #port()}.
     */
    public static EchoServer start(final InetSocketAddress bind) throws IOException
    {
        final EchoServer server = new EchoServer(Sockets.listen(bind, BACKLOG));
        server.acceptor.start();
        return server;
    }

    public int port()
    {
        return listener.getLocalPort();
    }

    public long connectionsAccepted()
    {
        return accepted.get();
    }

    public long bytesEchoed()
    {
        return echoed.get();
    }

    private void acceptLoop()
    {
        while (!closed)
        {
            final Socket socket;
            try
            {
                socket = listener.accept();
            }
            catch (IOException e)
            {
                if (closed || !pause())
                {
                    return;
                }
                continue;
            }
            accepted.incrementAndGet();
            open.add(socket);
            try
            {
                connections.execute(() -> serve(socket));
            }
            catch (RejectedExecutionException e)
            {
                drop(socket);
            }
        }
    }

    /** Backs off after a failed accept so a lasting error, such as running out of descriptors, cannot spin. */
    private static boolean pause()
    {
        try
        {
            Thread.sleep(ACCEPT_BACKOFF_MILLIS);
            return true;
        }
        catch (InterruptedException e)
        {
            return false;
        }
    }

    private void serve(final Socket socket)
    {
        final byte[] buffer = new byte[BUFFER_BYTES];
        try
        {
            // Echoes of tiny requests must not wait for the client's delayed ACK.
            socket.setTcpNoDelay(true);
            final InputStream in = socket.getInputStream();
            final OutputStream out = socket.getOutputStream();
            int n;
            while ((n = in.read(buffer)) >= 0)
            {
                out.write(buffer, 0, n);
                echoed.addAndGet(n);
            }
        }
        catch (IOException e)
        {
            // A client resetting or vanishing is routine under load; the connection just ends.
        }
        finally
        {
            drop(socket);
        }
    }

    private void drop(final Socket socket)
    {
        open.remove(socket);
        Sockets.closeQuietly(socket);
    }

    /** Stops accepting, closes every open connection and waits (bounded) for the threads to finish. */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        try
        {
            listener.close();
        }
        catch (IOException e)
        {
            // The listener is gone either way; the accept loop sees closed and stops.
        }
        try
        {
            acceptor.join(JOIN_MILLIS);
            connections.shutdown();
            open.forEach(Sockets::closeQuietly);
            connections.awaitTermination(JOIN_MILLIS, TimeUnit.MILLISECONDS);
        }
        catch (InterruptedException e)
        {
            connections.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private static ThreadFactory daemonThreads(final String prefix)
    {
        final AtomicInteger count = new AtomicInteger();
        return task ->
        {
            final Thread thread = new Thread(task, prefix + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
