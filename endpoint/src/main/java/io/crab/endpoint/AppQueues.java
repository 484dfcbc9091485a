package io.crab.endpoint;

import io.crab.agent.Log;
import io.crab.agent.feedback.LoadReport;
import org.agrona.collections.Int2IntHashMap;
import org.agrona.collections.IntIntConsumer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The applications' own queues ({@code --load-socket PATH}): a Unix-domain stream socket where an application
 * connects and writes lines {@code PORT QUEUE_LENGTH\n}. The latest value per port of each connection is added to
 * that port's load; when a connection closes its values go with it, so a dead application reports nothing. A line
 * that is not two decimal numbers (port 1..65535, queue 0..2147483647) closes its connection. Polled from the
 * endpoint agent's duty cycle, non-blocking: a poll with nothing new costs one system call and no allocation.
 * <p>
 * The socket is created mode 0660: whoever may connect to it adds to this host's reported load, so its owner and
 * group decide who may.
 */
final class AppQueues implements AutoCloseable
{
    /** Applications connected at once; more are closed as they come. */
    static final int MAX_CONNECTIONS = 64;
    /** The longest line: "65535 2147483647\r\n" is 18 bytes. */
    static final int MAX_LINE = 32;
    private static final int MAX_QUEUE_DIGITS = 10;

    private final Path path;
    private final Log log;
    private final ServerSocketChannel server;
    /** Tells which connections have something to read, so a poll with nothing new makes one system call. */
    private final Selector selector;
    private final Consumer<SelectionKey> onReady = this::onReady;
    private final List<App> apps = new ArrayList<>(MAX_CONNECTIONS);
    private int work;

    private AppQueues(final Path path, final Log log, final ServerSocketChannel server,
        final Selector selector)
    {
        this.path = path;
        this.log = log;
        this.server = server;
        this.selector = selector;
    }

    /** Binds the socket at {@code path}, replacing a socket file an earlier run left there. */
    static AppQueues open(final Path path, final Log log)
    {
        try
        {
            Files.deleteIfExists(path);
            final ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            final Selector selector;
            try
            {
                server.bind(UnixDomainSocketAddress.of(path));
                server.configureBlocking(false);
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
                selector = Selector.open();
                server.register(selector, SelectionKey.OP_ACCEPT);
            }
            catch (final IOException | RuntimeException ex)
            {
                server.close();
                throw ex;
            }
            return new AppQueues(path, log, server, selector);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("--load-socket " + path + ": " + ex.getMessage(), ex);
        }
    }

    /** Takes new connections and reads what they wrote; returns how many lines and connections it handled. */
    int poll()
    {
        work = 0;
        try
        {
            selector.selectNow(onReady);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("--load-socket " + path + ": " + ex.getMessage(), ex);
        }
        return work;
    }

    private void onReady(final SelectionKey key)
    {
        if (key.channel() == server)
        {
            accept();
            return;
        }
        final App app = (App)key.attachment();
        final int lines = app.read();
        if (lines < 0)
        {
            apps.remove(app);
            app.close();
        }
        work += Math.max(lines, 0);
    }

    private void accept()
    {
        try
        {
            SocketChannel channel;
            while ((channel = server.accept()) != null)
            {
                work++;
                if (apps.size() == MAX_CONNECTIONS)
                {
                    channel.close();
                    log.warn("--load-socket " + path + ": " + MAX_CONNECTIONS +
                        " applications are connected already, closed another");
                    continue;
                }
                channel.configureBlocking(false);
                final App app = new App(channel);
                channel.register(selector, SelectionKey.OP_READ, app);
                apps.add(app);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("--load-socket " + path + ": accepting: " + ex.getMessage(), ex);
        }
    }

    /** Hands {@code consumer} each connection's latest queue per port; a port may come once per connection. */
    void forEach(final IntIntConsumer consumer)
    {
        for (int i = 0; i < apps.size(); i++)
        {
            apps.get(i).queues.forEachInt(consumer);
        }
    }

    @Override
    public void close()
    {
        apps.forEach(App::close);
        apps.clear();
        try
        {
            selector.close();
            server.close();
            Files.deleteIfExists(path);
        }
        catch (final IOException ex)
        {
            log.warn("--load-socket " + path + ": closing: " + ex.getMessage());
        }
    }

    /** One application's connection: its unfinished line and its latest queue per port. */
    private final class App
    {
        private final SocketChannel channel;
        private final ByteBuffer in = ByteBuffer.allocate(MAX_LINE);
        private final Int2IntHashMap queues = new Int2IntHashMap(-1);

        App(final SocketChannel channel)
        {
            this.channel = channel;
        }

        /** Reads what arrived and applies its complete lines: how many, or -1 once the connection is to go. */
        int read()
        {
            int lines = 0;
            while (true)
            {
                final int n;
                try
                {
                    n = channel.read(in);
                }
                catch (final IOException ex)
                {
                    return -1;
                }
                if (n < 0)
                {
                    return -1;
                }
                int start = 0;
                for (int i = 0; i < in.position(); i++)
                {
                    if (in.get(i) == '\n')
                    {
                        if (!apply(start, i))
                        {
                            return refuse("a line that is not 'PORT QUEUE_LENGTH' (port 1..65535, queue " +
                                "0..2147483647), or a port more than " + LoadReport.MAX_ENTRIES);
                        }
                        start = i + 1;
                        lines++;
                    }
                }
                in.limit(in.position()).position(start);
                in.compact();
                if (!in.hasRemaining())
                {
                    return refuse("a line longer than " + MAX_LINE + " bytes");
                }
                if (n == 0)
                {
                    return lines;
                }
            }
        }

        /** Parses {@code PORT QUEUE_LENGTH} from the bytes [start, end) of the buffer, a '\r' before end allowed. */
        private boolean apply(final int start, final int end)
        {
            int at = start;
            final int stop = end > start && in.get(end - 1) == '\r' ? end - 1 : end;
            long port = 0;
            int digits = 0;
            while (at < stop && isDigit(in.get(at)) && digits < 6)
            {
                port = port * 10 + in.get(at++) - '0';
                digits++;
            }
            if (digits == 0 || at == stop || in.get(at) != ' ')
            {
                return false;
            }
            while (at < stop && in.get(at) == ' ')
            {
                at++;
            }
            long queue = 0;
            digits = 0;
            while (at < stop && isDigit(in.get(at)) && digits <= MAX_QUEUE_DIGITS)
            {
                queue = queue * 10 + in.get(at++) - '0';
                digits++;
            }
            if (digits == 0 || at != stop || port < 1 || port > 65535 || queue > Integer.MAX_VALUE ||
                queues.size() == LoadReport.MAX_ENTRIES && !queues.containsKey((int)port))
            {
                return false;
            }
            queues.put((int)port, (int)queue);
            return true;
        }

        private int refuse(final String what)
        {
            log.warn("--load-socket " + path + ": an application wrote " + what +
                ": closed its connection, its queues no longer count");
            return -1;
        }

        void close()
        {
            try
            {
                channel.close();
            }
            catch (final IOException ex)
            {
                // nothing was pending on it
            }
        }
    }

    private static boolean isDigit(final byte b)
    {
        return b >= '0' && b <= '9';
    }
}
