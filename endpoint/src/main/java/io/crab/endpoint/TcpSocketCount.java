package io.crab.endpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The TCP sockets in use in one network namespace, from its {@code sockstat} ("TCP: inuse N") and, for the AF_INET6
 * sockets that Java opens by default, {@code sockstat6} ("TCP6: inuse N"): counters the kernel keeps per namespace,
 * read without walking any socket table, that change whenever a connection comes or goes. The files are opened on
 * the calling thread and keep that thread's namespace for good, as the sock_diag socket does; each read regenerates
 * them in place, without allocating.
 */
final class TcpSocketCount implements AutoCloseable
{
    private static final Path SOCKSTAT = Path.of("/proc/thread-self/net/sockstat");
    private static final Path SOCKSTAT6 = Path.of("/proc/thread-self/net/sockstat6");
    private static final byte[] TCP_INUSE = "TCP: inuse ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TCP6_INUSE = "TCP6: inuse ".getBytes(StandardCharsets.US_ASCII);

    private final FileChannel ipv4;
    /** Null when the kernel has no IPv6. */
    private final FileChannel ipv6;
    private final ByteBuffer text = ByteBuffer.allocate(4096);

    private TcpSocketCount(final FileChannel ipv4, final FileChannel ipv6)
    {
        this.ipv4 = ipv4;
        this.ipv6 = ipv6;
    }

    /** Opens the calling thread's namespace's counts. */
    static TcpSocketCount open()
    {
        final FileChannel ipv4 = open(SOCKSTAT);
        try
        {
            return new TcpSocketCount(ipv4, Files.exists(SOCKSTAT6) ? open(SOCKSTAT6) : null);
        }
        catch (final RuntimeException ex)
        {
            close(ipv4);
            throw ex;
        }
    }

    /** IPv4 and IPv6 TCP sockets in use now; -1 if a file does not say. */
    long read()
    {
        final long v4 = count(ipv4, TCP_INUSE);
        final long v6 = ipv6 == null ? 0 : count(ipv6, TCP6_INUSE);
        return v4 < 0 || v6 < 0 ? -1 : v4 + v6;
    }

    private long count(final FileChannel file, final byte[] label)
    {
        text.clear();
        try
        {
            while (text.hasRemaining() && file.read(text, text.position()) > 0)
            {
                // a seq_file may hand its text over in more than one read
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("reading sockstat: " + ex.getMessage(), ex);
        }
        final int length = text.position();
        next:
        for (int at = 0; at + label.length <= length; at++)
        {
            for (int i = 0; i < label.length; i++)
            {
                if (text.get(at + i) != label[i])
                {
                    continue next;
                }
            }
            long count = 0;
            int digit = at + label.length;
            while (digit < length && text.get(digit) >= '0' && text.get(digit) <= '9')
            {
                count = count * 10 + text.get(digit++) - '0';
            }
            return count;
        }
        return -1;
    }

    @Override
    public void close()
    {
        close(ipv4);
        close(ipv6);
    }

    private static FileChannel open(final Path path)
    {
        try
        {
            return FileChannel.open(path, StandardOpenOption.READ);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("opening " + path + ": " + ex.getMessage(), ex);
        }
    }

    private static void close(final FileChannel file)
    {
        if (file != null)
        {
            try
            {
                file.close();
            }
            catch (final IOException ex)
            {
                // read-only
            }
        }
    }
}
