package io.crab.endpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The IPv4 TCP sockets of this network namespace, from /proc/net/tcp (TIME_WAIT included): a flow entry whose
 * socket is gone has nothing left to carry.
 */
final class SocketTable
{
    private static final Path TCP = Path.of("/proc/net/tcp");

    private SocketTable()
    {
    }

    /** Keys of {@link #key} for every socket, local end first. */
    static Set<Long> read()
    {
        final Set<Long> keys = new HashSet<>();
        try
        {
            final List<String> lines = Files.readAllLines(TCP);
            for (final String line : lines.subList(1, lines.size()))
            {
                final String[] f = line.trim().split("\\s+");
                final String[] local = f[1].split(":");
                final String[] remote = f[2].split(":");
                keys.add(key(Integer.reverseBytes((int)Long.parseLong(local[0], 16)), Integer.parseInt(local[1], 16),
                    Integer.reverseBytes((int)Long.parseLong(remote[0], 16)), Integer.parseInt(remote[1], 16)));
            }
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("reading " + TCP, ex);
        }
        return keys;
    }

    /**
     * A 64-bit digest of a 4-tuple (addresses as big-endian ints, ports in host order). A collision can only make
     * a dead flow look alive, so it is kept until a later pass: it never removes a live one.
     */
    static long key(final int localAddr, final int localPort, final int remoteAddr, final int remotePort)
    {
        long h = (localAddr & 0xffffffffL) << 32 | (remoteAddr & 0xffffffffL);
        h ^= ((long)localPort << 16 | remotePort) * 0x9E3779B97F4A7C15L;
        return h;
    }
}
