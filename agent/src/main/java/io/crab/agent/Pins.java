package io.crab.agent;

import io.crab.bpf.Netns;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Where an agent pins its maps and links: one directory per role, network namespace and interface, since every
 * namespace may have its own eth0.
 */
public final class Pins
{
    public static final Path BPFFS = Path.of("/sys/fs/bpf");

    private Pins()
    {
    }

    /** Whether {@link #BPFFS} is a bpf filesystem in this mount namespace, where pins can be made. */
    static boolean onBpffs()
    {
        try
        {
            return "bpf".equals(Files.getFileStore(BPFFS).type());
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    /** The directory of a role on an interface of the calling thread's network namespace. */
    public static Path dir(final String role, final String iface)
    {
        return dir(role, Netns.currentInode(), iface);
    }

    /** The directory of a role on an interface of the network namespace whose inode is {@code netnsInode}. */
    public static Path dir(final String role, final long netnsInode, final String iface)
    {
        return BPFFS.resolve("crab-" + role + "-" + netnsInode + "-" + iface);
    }

    public static void remove(final Path dir)
    {
        if (!Files.exists(dir))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir))
        {
            for (final Path p : paths.sorted(Comparator.reverseOrder()).toList())
            {
                Files.deleteIfExists(p);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("removing " + dir, ex);
        }
    }
}
