package io.crab.e2e;

import io.crab.rig.Host;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Long-lived connections through a VIP, idle or kept busy, and the echo checks the end-to-end tests make. */
final class Connections implements AutoCloseable
{
    private final List<Socket> idle = new ArrayList<>();
    private final List<Thread> busy = new ArrayList<>();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicLong busyRounds = new AtomicLong();
    private final AtomicReference<Throwable> busyFailure = new AtomicReference<>();
    private final List<Socket> busySockets = new ArrayList<>();

    /** Opens a connection from {@code client} to {@code target}, its socket made inside the client's namespace. */
    static Socket connect(final Host client, final InetSocketAddress target)
    {
        return client.netns().call(() ->
        {
            final Socket s = new Socket();
            s.connect(target, 3000);
            s.setSoTimeout(5000);
            return s;
        });
    }

    /** Opens {@code count} idle connections and {@code busyCount} that echo 32 bytes back and forth until closed. */
    static Connections open(final Host client, final InetSocketAddress target, final int count, final int busyCount)
    {
        final Connections c = new Connections();
        try
        {
            for (int i = 0; i < count; i++)
            {
                c.idle.add(connect(client, target));
            }
            for (int i = 0; i < busyCount; i++)
            {
                final Socket s = connect(client, target);
                c.busySockets.add(s);
                final Thread t = new Thread(() -> c.keepBusy(s), "busy-" + i);
                t.setDaemon(true);
                c.busy.add(t);
                t.start();
            }
            return c;
        }
        catch (final RuntimeException ex)
        {
            c.close();
            throw ex;
        }
    }

    private void keepBusy(final Socket s)
    {
        final byte[] data = new byte[32];
        try
        {
            while (running.get())
            {
                Arrays.fill(data, (byte)busyRounds.get());
                echo(s, data);
                busyRounds.incrementAndGet();
            }
        }
        catch (final Throwable ex)
        {
            if (running.get())
            {
                busyFailure.compareAndSet(null, ex);
            }
        }
    }

    /** Every idle connection echoes; every busy one has echoed without a failure so far. */
    void assertAllAlive(final String when)
    {
        final Throwable failure = busyFailure.get();
        if (failure != null)
        {
            throw new AssertionError("a busy connection broke " + when, failure);
        }
        for (int i = 0; i < idle.size(); i++)
        {
            try
            {
                echo(idle.get(i), new byte[] {(byte)i, 1, 2, 3, 4, 5, 6, 7});
            }
            catch (final IOException | AssertionError ex)
            {
                throw new AssertionError("idle connection " + i + " broke " + when, ex);
            }
        }
    }

    long busyRounds()
    {
        return busyRounds.get();
    }

    List<Socket> idle()
    {
        return idle;
    }

    static void echo(final Socket s, final byte[] data) throws IOException
    {
        final OutputStream out = s.getOutputStream();
        final InputStream in = s.getInputStream();
        out.write(data);
        assertArrayEquals(data, in.readNBytes(data.length));
    }

    static void assertEchoes(final Socket s)
    {
        try
        {
            echo(s, new byte[] {9, 8, 7, 6, 5, 4, 3, 2, 1});
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    @Override
    public void close()
    {
        running.set(false);
        for (final Socket s : busySockets)
        {
            closeQuietly(s);
        }
        for (final Thread t : busy)
        {
            try
            {
                t.join(5000);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
        idle.forEach(Connections::closeQuietly);
    }

    static void closeQuietly(final Socket s)
    {
        try
        {
            s.close();
        }
        catch (final IOException ignored)
        {
            // closing a test socket: nothing to do about it
        }
    }
}
