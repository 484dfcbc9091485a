package io.crab.endpoint.pods;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The network namespaces bound to files in one directory, as container runtimes keep their pods' ({@code cni-<uuid>}
 * under /var/run/netns) and {@code ip netns add} its own. A runtime creates the file first and binds the namespace
 * onto it after, so a file is a namespace only once it is on nsfs, the namespaces' file system: the others are left
 * for a later scan. The namespace this process runs in is never one of them, even bound there too, so the host's
 * own interface is never taken for a pod's.
 */
final class NetnsFiles
{
    private static final Path OWN_NETNS = Path.of("/proc/thread-self/ns/net");

    private final Path dir;
    private final long nsfsDevice;
    private final long ownInode;

    NetnsFiles(final Path dir)
    {
        this.dir = dir;
        this.nsfsDevice = attribute(OWN_NETNS, "unix:dev");
        this.ownInode = attribute(OWN_NETNS, "unix:ino");
    }

    /**
     * File name to namespace inode, for every namespace bound in the directory now; empty while the directory does
     * not exist (a node's runtime makes it with its first pod). A file that goes while it is read is left out.
     */
    Map<String, Long> scan()
    {
        final Map<String, Long> found = new HashMap<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir))
        {
            for (final Path file : files)
            {
                final Map<String, Object> stat;
                try
                {
                    stat = Files.readAttributes(file, "unix:dev,ino");
                }
                catch (final NoSuchFileException gone)
                {
                    continue;
                }
                final long inode = ((Number)stat.get("ino")).longValue();
                if (((Number)stat.get("dev")).longValue() == nsfsDevice && inode != ownInode)
                {
                    found.put(file.getFileName().toString(), inode);
                }
            }
        }
        catch (final NoSuchFileException absent)
        {
            return Map.of();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("listing " + dir, ex);
        }
        return found;
    }

    Path dir()
    {
        return dir;
    }

    private static long attribute(final Path path, final String name)
    {
        try
        {
            return ((Number)Files.getAttribute(path, name)).longValue();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("stat " + path, ex);
        }
    }
}
