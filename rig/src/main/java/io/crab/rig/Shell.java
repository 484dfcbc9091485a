package io.crab.rig;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs short external commands (iproute2, nsenter) with a timeout, failing loudly with the command and its stderr. */
public final class Shell
{
    /** Long enough for any {@code ip} call on a loaded machine, short enough that a hang fails a test quickly. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private static final File DEV_NULL = new File("/dev/null");
    private static final long DRAIN_GRACE_MS = 1_000;

    private Shell()
    {
    }

    /** Runs {@code argv} and returns its stdout; throws {@link CommandException} on a non-zero exit or timeout. */
    public static String run(final String... argv)
    {
        return run(List.of(argv), DEFAULT_TIMEOUT);
    }

    public static String run(final List<String> argv)
    {
        return run(argv, DEFAULT_TIMEOUT);
    }

    public static String run(final List<String> argv, final Duration timeout)
    {
        final Process process;
        try
        {
            // No stdin: a command that unexpectedly prompts should fail, not hang until the timeout.
            process = new ProcessBuilder(argv).redirectInput(DEV_NULL).start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot start `" + String.join(" ", argv) + "`", ex);
        }

        // Both pipes drain concurrently so a chatty command cannot block on a full pipe while we wait.
        final StreamDrain stdout = new StreamDrain(process.getInputStream());
        final StreamDrain stderr = new StreamDrain(process.getErrorStream());
        try
        {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly();
                throw new CommandException(argv, -1, "timed out after " + timeout.toMillis() + " ms");
            }
            // A background child that inherited the pipes may hold them open; don't wait for it forever.
            stdout.join(DRAIN_GRACE_MS);
            stderr.join(DRAIN_GRACE_MS);
        }
        catch (final InterruptedException ex)
        {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new CommandException(argv, -1, "interrupted");
        }

        final int exitCode = process.exitValue();
        if (exitCode != 0)
        {
            throw new CommandException(argv, exitCode, stderr.text().strip());
        }

        return stdout.text();
    }

    /** An external command failed; the message quotes the command line, the exit code and stderr. */
    public static final class CommandException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        private final List<String> argv;
        private final int exitCode;
        private final String stderr;

        CommandException(final List<String> argv, final int exitCode, final String stderr)
        {
            super("`" + String.join(" ", argv) + "` failed (exit " + exitCode + "): " + stderr);
            this.argv = List.copyOf(argv);
            this.exitCode = exitCode;
            this.stderr = stderr;
        }

        public List<String> argv()
        {
            return argv;
        }

        /** The exit code, or -1 when the command timed out or was interrupted. */
        public int exitCode()
        {
            return exitCode;
        }

        public String stderr()
        {
            return stderr;
        }
    }

    private static final class StreamDrain extends Thread
    {
        private final InputStream in;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        StreamDrain(final InputStream in)
        {
            super("shell-drain");
            this.in = in;
            setDaemon(true);
            start();
        }

        @Override
        public void run()
        {
            try (InputStream stream = in)
            {
                stream.transferTo(out);
            }
            catch (final IOException ignore)
            {
                // The process was killed; whatever arrived so far is all there is.
            }
        }

        String text()
        {
            return out.toString(StandardCharsets.UTF_8);
        }
    }
}
