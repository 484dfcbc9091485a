package io.crab.bpf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

/**
 * A named network namespace ({@code ip netns add}), or one bound to a file elsewhere, that Java code can run in
 * without a subprocess.
 * <p>
 * {@code setns(2)} moves only the calling thread, so every entry happens on a fresh thread that ends with its task.
 * A socket belongs to the namespace of the thread that created its file descriptor, for the socket's whole life,
 * even when other threads use it later: create sockets (bind, connect, {@code SocketChannel.open()},
 * {@code new ServerSocket(port)}) inside {@link #call}, then hand them to any thread. A bare {@code new Socket()}
 * creates its descriptor lazily, on its first connect or bind, so it must also be connected inside the namespace.
 */
public final class Netns
{
    /** Where iproute2 bind-mounts the namespaces it names. */
    public static final Path NETNS_DIR = Path.of("/run/netns");

    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 0x80000;
    private static final int CLONE_NEWNET = 0x40000000;
    private static final Path THREAD_NET_NS = Path.of("/proc/thread-self/ns/net");
    private static final AtomicInteger THREAD_IDS = new AtomicInteger();

    private final String name;
    private final Path path;

    private Netns(final String name, final Path path)
    {
        this.name = name;
        this.path = path;
    }

    /** The namespace {@code ip netns add <name>} created, i.e. {@code /run/netns/<name>}; need not exist yet. */
    public static Netns named(final String name)
    {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals(".."))
        {
            throw new IllegalArgumentException("invalid network namespace name: '" + name + "'");
        }

        return new Netns(name, NETNS_DIR.resolve(name));
    }

    /**
     * The namespace bound to {@code file} anywhere, e.g. a container runtime's {@code /var/run/netns/cni-<uuid>};
     * named after the file, which need not exist yet.
     */
    public static Netns at(final Path file)
    {
        Objects.requireNonNull(file, "file");
        final Path name = file.getFileName();
        if (name == null)
        {
            throw new IllegalArgumentException("not a network namespace file: '" + file + "'");
        }
        return new Netns(name.toString(), file);
    }

    /** Inode of the calling thread's network namespace; equal inodes mean the same namespace. */
    public static long currentInode()
    {
        return inodeOf(THREAD_NET_NS);
    }

    public String name()
    {
        return name;
    }

    public Path path()
    {
        return path;
    }

    public boolean exists()
    {
        return Files.exists(path);
    }

    /** Inode of this namespace, comparable with {@link #currentInode()}. */
    public long inode()
    {
        return inodeOf(path);
    }

    /**
     * Runs {@code task} on a new thread inside this namespace and returns its result. The task's unchecked
     * exceptions and errors are rethrown as they are, checked ones wrapped ({@link IOException} in
     * {@link UncheckedIOException}, others in {@link RuntimeException}).
     */
    public <T> T call(final Callable<T> task)
    {
        Objects.requireNonNull(task, "task");
        final AtomicReference<T> result = new AtomicReference<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread thread = new Thread(
            () ->
            {
                try
                {
                    enter();
                    result.set(task.call());
                }
                catch (final Throwable ex)
                {
                    failure.set(ex);
                }
            },
            threadName("netns-" + name));
        // A caller that gives up waiting must not keep the JVM alive through a stuck task.
        thread.setDaemon(true);
        thread.start();

        try
        {
            thread.join();
        }
        catch (final InterruptedException ex)
        {
            thread.interrupt();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a task in network namespace " + name, ex);
        }

        final Throwable ex = failure.get();
        if (null != ex)
        {
            throw rethrow(ex);
        }

        return result.get();
    }

    /** {@link #call} for a task without a result. */
    public void run(final Runnable task)
    {
        Objects.requireNonNull(task, "task");
        call(() ->
        {
            task.run();
            return null;
        });
    }

    /**
     * Threads that enter this namespace before running their task, e.g. for an {@code ExecutorService} whose
     * sockets should live in the namespace. The threads are daemons. Creating a thread fails at once if the
     * namespace does not exist, so an executor reports it to the submitter instead of losing the task.
     */
    public ThreadFactory threadFactory(final String namePrefix)
    {
        Objects.requireNonNull(namePrefix, "namePrefix");
        return (runnable) ->
        {
            if (!exists())
            {
                throw new IllegalStateException("network namespace " + name + " does not exist: " + path);
            }

            final Thread thread = new Thread(
                () ->
                {
                    enter();
                    runnable.run();
                },
                threadName(namePrefix));
            thread.setDaemon(true);
            return thread;
        };
    }

    @Override
    public boolean equals(final Object o)
    {
        return o instanceof Netns && ((Netns)o).path.equals(path);
    }

    @Override
    public int hashCode()
    {
        return path.hashCode();
    }

    @Override
    public String toString()
    {
        return "Netns{" + name + "}";
    }

    /** Moves the calling thread into this namespace; only ever called on threads this class created. */
    private void enter()
    {
        final LibCHolder.LibC libc = LibCHolder.LIBC;
        final int fd = libc.open(path.toString(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
        {
            throw failure("open " + path, libc);
        }

        try
        {
            if (libc.setns(fd, CLONE_NEWNET) != 0)
            {
                throw failure("setns(CLONE_NEWNET) on " + path, libc);
            }
        }
        finally
        {
            libc.close(fd);
        }
    }

    private IllegalStateException failure(final String what, final LibCHolder.LibC libc)
    {
        final int errno = LastError.getLastError(LibCHolder.RUNTIME);
        return new IllegalStateException(
            "cannot enter network namespace " + name + ": " + what + " failed, errno " + errno +
            " (" + libc.strerror(errno) + ")");
    }

    private static long inodeOf(final Path path)
    {
        try
        {
            return ((Number)Files.getAttribute(path, "unix:ino")).longValue();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot stat " + path, ex);
        }
    }

    private static String threadName(final String prefix)
    {
        return prefix + "-" + THREAD_IDS.incrementAndGet();
    }

    private static RuntimeException rethrow(final Throwable ex)
    {
        if (ex instanceof RuntimeException)
        {
            return (RuntimeException)ex;
        }
        if (ex instanceof Error)
        {
            throw (Error)ex;
        }
        if (ex instanceof IOException)
        {
            return new UncheckedIOException(ex.getMessage(), (IOException)ex);
        }

        return new RuntimeException(ex);
    }

    /** Loads libc on first entry, so classes that only name a {@code Netns} never touch native code. */
    private static final class LibCHolder
    {
        static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
        static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

        /**
         * The few libc calls needed to switch a thread's namespace. Public because jnr-ffi implements it in a class
         * loader of its own, which cannot see a private type; the private holder still hides it outside Netns.
         */
        public interface LibC
        {
            int open(String path, int flags);

            int setns(int fd, int nstype);

            int close(int fd);

            String strerror(int errnum);
        }
    }
}
