package io.crab.bench.cluster;

import io.crab.rig.Host;
import io.crab.rig.Topology;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/** A crab daemon (crab-lb, crab-endpoint) run as its own JVM inside a host's namespace, logging to a file. */
public final class Daemon implements AutoCloseable
{
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    /** Numbers each start's log, so a restarted daemon's readiness is never read from its predecessor's log. */
    private static final AtomicInteger STARTS = new AtomicInteger();
    /** The word, so that an error such as "Address already in use" is not taken for readiness. */
    private static final Pattern READY = Pattern.compile("\\bready\\b");

    private final String name;
    private final Process process;
    private final Path log;
    private final Supplier<Daemon> again;

    private Daemon(final String name, final Process process, final Path log, final Supplier<Daemon> again)
    {
        this.name = name;
        this.process = process;
        this.log = log;
        this.again = again;
    }

    /** Starts {@code mainClass} with this JVM's class path and waits for its line containing the word "ready". */
    public static Daemon start(final Topology topology, final Host host, final String name, final Class<?> mainClass,
        final Path logDir, final List<String> args)
    {
        final Path log = logDir.resolve(host.name() + "-" + name + "-" + STARTS.incrementAndGet() + ".log");
        final List<String> argv = new ArrayList<>(List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx128m",
            "-cp", System.getProperty("java.class.path"), mainClass.getName()));
        argv.addAll(args);
        final Daemon daemon = new Daemon(host.name() + "/" + name, topology.spawn(host, argv, log), log,
            () -> start(topology, host, name, mainClass, logDir, args));
        daemon.awaitReady();
        return daemon;
    }

    /** Starts the same command again, as an operator restarts a daemon, and waits until it is ready. */
    public Daemon startAgain()
    {
        if (process.isAlive())
        {
            throw new IllegalStateException(name + " is still running");
        }
        return again.get();
    }

    /** SIGHUP, as an operator asks a daemon to read its configuration again. */
    public void hangUp()
    {
        try
        {
            final Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(process.pid())).inheritIO().start();
            if (!kill.waitFor(5, TimeUnit.SECONDS) || kill.exitValue() != 0)
            {
                throw new IllegalStateException("kill -HUP " + process.pid() + " failed");
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** SIGKILL, as a crash or an OOM kill would end it: nothing of its own shutdown runs. */
    public void kill()
    {
        process.destroyForcibly();
        try
        {
            process.waitFor();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    private void awaitReady()
    {
        final long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline)
        {
            final String text = logText();
            if (READY.matcher(text).find())
            {
                return;
            }
            if (!process.isAlive())
            {
                throw new IllegalStateException(name + " exited with " + process.exitValue() + " before it was " +
                    "ready:\n" + text);
            }
            try
            {
                Thread.sleep(50);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for " + name);
            }
        }
        process.destroyForcibly();
        throw new IllegalStateException(name + " was not ready within " + READY_TIMEOUT + ":\n" + logText());
    }

    public String logText()
    {
        try
        {
            return Files.exists(log) ? Files.readString(log) : "";
        }
        catch (final IOException ex)
        {
            return "(log unreadable: " + ex.getMessage() + ")";
        }
    }

    /** The daemon's JVM: the process spawned under nsenter, which execs it. */
    public long pid()
    {
        return process.pid();
    }

    public boolean isAlive()
    {
        return process.isAlive();
    }

    /** SIGTERM, as an operator's stop would send; returns the exit code. */
    public int stop()
    {
        process.destroy();
        try
        {
            if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly().waitFor();
                throw new IllegalStateException(name + " ignored SIGTERM for " + STOP_TIMEOUT + ":\n" + logText());
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        return process.exitValue();
    }

    @Override
    public void close()
    {
        if (process.isAlive())
        {
            stop();
        }
    }

    @Override
    public String toString()
    {
        return name;
    }
}
