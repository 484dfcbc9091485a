package io.crab.endpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The IPv4 TCP sockets of this network namespace (TIME_WAIT included): a flow entry whose socket is gone has
 * nothing left to carry. Dual-stack sockets (AF_INET6, as Java and many runtimes open them) talk IPv4 through
 * IPv4-mapped addresses and are listed in /proc/net/tcp6, not /proc/net/tcp, so both are read.
 */
final class SocketTable
{
    private static final Path TCP = Path.of("/proc/net/tcp");
    private static final Path TCP6 = Path.of("/proc/net/tcp6");
    /** How /proc/net/tcp6 prints the first 96 bits of an IPv4-mapped address (::ffff:0:0/96), word by word. */
    private static final String V4_MAPPED_PREFIX = "0000000000000000FFFF0000";

    private SocketTable()
    {
    }

    /** Keys of {@link SocketDiag#key} for every IPv4 socket, local end first. */
    static Set<Long> read()
    {
        final Set<Long> keys = new HashSet<>();
        addAll(TCP, keys);
        if (Files.exists(TCP6))
        {
            addAll(TCP6, keys);
        }
        return keys;
    }

    private static void addAll(final Path table, final Set<Long> keys)
    {
        final List<String> lines;
        try
        {
            lines = Files.readAllLines(table);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("reading " + table, ex);
        }
        for (final String line : lines.subList(1, lines.size()))
        {
            parseLine(line, keys);
        }
    }

    /** Adds the key of one line of /proc/net/tcp or tcp6, if it is an IPv4 (or IPv4-mapped) socket. */
    static void parseLine(final String line, final Set<Long> keys)
    {
        final String[] f = line.trim().split("\\s+");
        final String[] local = f[1].split(":");
        final String[] remote = f[2].split(":");
        final String localAddr = ipv4Word(local[0]);
        final String remoteAddr = ipv4Word(remote[0]);
        if (localAddr != null && remoteAddr != null)
        {
            keys.add(SocketDiag.key(
                Integer.reverseBytes((int)Long.parseLong(localAddr, 16)), Integer.parseInt(local[1], 16),
                Integer.reverseBytes((int)Long.parseLong(remoteAddr, 16)), Integer.parseInt(remote[1], 16)));
        }
    }

    /** The 8 hex digits of the IPv4 address, from a tcp (8 digits) or IPv4-mapped tcp6 (32 digits) field. */
    private static String ipv4Word(final String hex)
    {
        if (hex.length() == 8)
        {
            return hex;
        }
        return hex.length() == 32 && hex.startsWith(V4_MAPPED_PREFIX) ? hex.substring(24) : null;
    }
}
