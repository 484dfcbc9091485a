package io.crab.rig;

import io.crab.bpf.Netns;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A directory of network namespace files as a container runtime keeps its pods' ({@code /var/run/netns/cni-...}),
 * on a private tmpfs of its own under /tmp, so that nothing else's namespaces are in it and one unmount removes it
 * all. Each namespace is bound twice: in {@link #dir()}, where a pods manager finds it, and in a keep directory
 * beside it, so that its file can leave {@link #dir()} ({@link #hide}) while the namespace, and with it its inode
 * (the name of its pins), stays this test's until {@link #remove} or {@link #close}.
 */
public final class NetnsDir implements AutoCloseable
{
    private final Path root;
    private final Path dir;
    private final Path keep;
    private final Map<String, Long> inodes = new LinkedHashMap<>();

    private NetnsDir(final Path root)
    {
        this.root = root;
        this.dir = root.resolve("netns");
        this.keep = root.resolve("keep");
    }

    public static NetnsDir create()
    {
        final Path root;
        try
        {
            root = Files.createTempDirectory("crab-netns-");
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        final NetnsDir netnsDir = new NetnsDir(root);
        try
        {
            Shell.run("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "crab-netns", root.toString());
            // Bindings of namespaces under a shared mount would propagate to its peers.
            Shell.run("mount", "--make-private", root.toString());
            Files.createDirectory(netnsDir.dir);
            Files.createDirectory(netnsDir.keep);
            return netnsDir;
        }
        catch (final IOException | RuntimeException ex)
        {
            netnsDir.close();
            throw ex instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException)ex;
        }
    }

    /** Where the namespace files are, as a runtime's /var/run/netns. */
    public Path dir()
    {
        return dir;
    }

    /** A new namespace with only {@code lo} up, bound as {@code dir()/name}. */
    public Netns add(final String name)
    {
        final Path kept = keep.resolve(name);
        touch(kept);
        Shell.run("unshare", "--net=" + kept, "true");
        show(name);
        Shell.run("nsenter", "--net=" + kept, "ip", "link", "set", "lo", "up");
        return Netns.at(kept);
    }

    /** An existing namespace (a topology's host, say) bound as {@code dir()/name} too. */
    public Netns bind(final Netns netns, final String name)
    {
        final Path kept = keep.resolve(name);
        touch(kept);
        Shell.run("mount", "--bind", netns.path().toString(), kept.toString());
        show(name);
        return Netns.at(kept);
    }

    /**
     * An interface, up, in the namespace: what the pods manager waits for before it attaches. It is one end of a
     * veth pair whose other end ({@code iface} and "p") stays in the namespace too: kernels without the dummy
     * driver have veth, which the rig needs anyway.
     */
    public void addInterface(final String name, final String iface)
    {
        final String net = "--net=" + keep.resolve(name);
        Shell.run("nsenter", net, "ip", "link", "add", iface, "type", "veth", "peer", "name", iface + "p");
        Shell.run("nsenter", net, "ip", "link", "set", iface, "up");
        Shell.run("nsenter", net, "ip", "link", "set", iface + "p", "up");
    }

    /** The inode of the namespace bound as {@code name}, the name of its pins; known until {@link #close}. */
    public long inode(final String name)
    {
        final Long inode = inodes.get(name);
        if (inode == null)
        {
            throw new IllegalArgumentException("no namespace " + name + " in " + dir);
        }
        return inode;
    }

    /** Names of the namespaces this made or bound and did not {@link #remove}. */
    public List<String> names()
    {
        final List<String> names = new ArrayList<>();
        inodes.keySet().forEach(n ->
        {
            if (Files.exists(keep.resolve(n)))
            {
                names.add(n);
            }
        });
        return names;
    }

    /** Binds the kept namespace as {@code dir()/name} (again). */
    public void show(final String name)
    {
        final Path kept = keep.resolve(name);
        final Path file = dir.resolve(name);
        touch(file);
        Shell.run("mount", "--bind", kept.toString(), file.toString());
        try
        {
            inodes.put(name, ((Number)Files.getAttribute(file, "unix:ino")).longValue());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /** Takes {@code dir()/name} away, as a runtime does when the pod goes; the namespace itself is kept. */
    public void hide(final String name)
    {
        unbind(dir.resolve(name));
    }

    /**
     * Takes both of this namespace's files away: one this made is destroyed once nothing else holds it (a socket
     * opened in it, a process in it); one it bound lives on with its owner.
     */
    public void remove(final String name)
    {
        unbind(dir.resolve(name));
        unbind(keep.resolve(name));
    }

    /** Unmounts everything at once: every namespace this made and nothing else holds is destroyed. */
    @Override
    public void close()
    {
        try
        {
            if (Files.exists(root))
            {
                Shell.run("umount", "-R", root.toString());
            }
        }
        catch (final Shell.CommandException ex)
        {
            if (!ex.stderr().contains("not mounted"))
            {
                throw ex;
            }
        }
        finally
        {
            try
            {
                Files.deleteIfExists(root);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        }
    }

    private static void unbind(final Path file)
    {
        if (Files.exists(file))
        {
            try
            {
                Shell.run("umount", file.toString());
            }
            catch (final Shell.CommandException ex)
            {
                // A file whose binding failed is only a file.
                if (!ex.stderr().contains("not mounted"))
                {
                    throw ex;
                }
            }
            try
            {
                Files.delete(file);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        }
    }

    private static void touch(final Path file)
    {
        try
        {
            Files.createFile(file);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
