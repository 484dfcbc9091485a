package io.crab.bench.traffic;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.HdrHistogram.Histogram;

/**
 * Runs a {@link LoadSpec} with the native client, {@code crr_client} (bench/src/main/c), the floor the Java client is
 * measured against: it does what netperf does per transaction and nothing else. The process is started from a
 * thread of the spec's thread factory, so it inherits that thread's network namespace.
 */
final class NativeClient
{
    private static final String RESOURCE = "/native/crr_client";
    /** Past the spec's duration: the client's own grace for the last transaction, then time to print and exit. */
    private static final long EXIT_WAIT_MILLIS = 5_000;

    private NativeClient()
    {
    }

    /** Runs the spec to its count or time bound; latencies and failures as the Java client counts them. */
    static LoadResult run(final LoadSpec spec, final Workload kind)
    {
        final Path dir = createTempDirectory();
        try
        {
            final Path stdout = dir.resolve("stdout");
            final Path stderr = dir.resolve("stderr");
            final ProcessBuilder builder = new ProcessBuilder(arguments(Binary.PATH, spec, kind))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(stdout.toFile())
                .redirectError(stderr.toFile());
            final Process process = start(spec, builder);
            try
            {
                if (!process.waitFor(spec.duration().toMillis() + EXIT_WAIT_MILLIS, TimeUnit.MILLISECONDS))
                {
                    throw new IllegalStateException("crr_client did not exit within " +
                        (spec.duration().toMillis() + EXIT_WAIT_MILLIS) + " ms");
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for crr_client", ex);
            }
            finally
            {
                process.destroyForcibly();
            }
            if (process.exitValue() != 0)
            {
                throw new IllegalStateException("crr_client exited with " + process.exitValue() + ": " +
                    Files.readString(stderr).strip());
            }
            final Output output = parse(Files.readAllLines(stdout, StandardCharsets.US_ASCII));
            return new LoadResult(spec.label(), kind, output.histogram().getTotalCount(), output.failures(),
                output.elapsedNanos(), output.histogram());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("running crr_client", ex);
        }
        finally
        {
            deleteQuietly(dir.resolve("stdout"));
            deleteQuietly(dir.resolve("stderr"));
            deleteQuietly(dir);
        }
    }

    /** The command line for a spec; the client takes IPv4 addresses only, as the rig's topology has. */
    static List<String> arguments(final Path binary, final LoadSpec spec, final Workload kind)
    {
        if (!(spec.target().getAddress() instanceof Inet4Address))
        {
            throw new IllegalArgumentException("crr_client connects to IPv4 targets only: " + spec.target());
        }
        final List<String> argv = new ArrayList<>(List.of(binary.toString(),
            "--workload", kind.name().toLowerCase(Locale.ROOT),
            "--target", Sockets.format(spec.target()),
            "--payload", Integer.toString(spec.payloadBytes()),
            "--concurrency", Integer.toString(spec.concurrency()),
            "--count", Long.toString(spec.maxTransactions()),
            "--duration-ms", Long.toString(spec.duration().toMillis()),
            "--warmup", Integer.toString(spec.warmup()),
            "--connect-timeout-ms", Long.toString(spec.connectTimeout().toMillis()),
            "--read-timeout-ms", Long.toString(spec.readTimeout().toMillis())));
        spec.source().ifPresent(source ->
        {
            argv.add("--source");
            argv.add(source.getHostAddress());
        });
        return argv;
    }

    /** What the client printed: one latency in ns per line, "F KIND COUNT" per failure kind, "E ELAPSED_NS" last. */
    record Output(Histogram histogram, Map<FailureKind, Long> failures, long elapsedNanos)
    {
    }

    static Output parse(final List<String> lines)
    {
        final Histogram histogram = Histograms.create();
        final Map<FailureKind, Long> failures = new EnumMap<>(FailureKind.class);
        Long elapsed = null;
        for (final String line : lines)
        {
            if (elapsed != null)
            {
                throw new IllegalArgumentException("crr_client printed after its E line: '" + line + "'");
            }
            final String[] fields = line.split(" ");
            try
            {
                if (fields.length == 1)
                {
                    Histograms.record(histogram, Long.parseLong(fields[0]));
                }
                else if (fields.length == 3 && fields[0].equals("F"))
                {
                    failures.merge(FailureKind.valueOf(fields[1]), Long.parseLong(fields[2]), Long::sum);
                }
                else if (fields.length == 2 && fields[0].equals("E"))
                {
                    elapsed = Long.parseLong(fields[1]);
                }
                else
                {
                    throw new IllegalArgumentException("unknown record");
                }
            }
            catch (final IllegalArgumentException ex)
            {
                throw new IllegalArgumentException("crr_client printed a line it should not: '" + line + "'", ex);
            }
        }
        if (elapsed == null)
        {
            throw new IllegalArgumentException("crr_client output ends without its E line");
        }
        return new Output(histogram, failures, elapsed);
    }

    private static Process start(final LoadSpec spec, final ProcessBuilder builder)
    {
        final AtomicReference<Process> process = new AtomicReference<>();
        final AtomicReference<IOException> failure = new AtomicReference<>();
        final Thread starter = spec.threadFactory().newThread(() ->
        {
            try
            {
                process.set(builder.start());
            }
            catch (final IOException ex)
            {
                failure.set(ex);
            }
        });
        starter.start();
        try
        {
            starter.join();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting crr_client", ex);
        }
        if (failure.get() != null)
        {
            throw new UncheckedIOException("cannot start crr_client", failure.get());
        }
        if (process.get() == null)
        {
            throw new IllegalStateException("crr_client was not started (did the thread factory's thread fail?)");
        }
        return process.get();
    }

    private static Path createTempDirectory()
    {
        try
        {
            return Files.createTempDirectory("crab-crr-client-");
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot create a directory for crr_client's output", ex);
        }
    }

    private static void deleteQuietly(final Path path)
    {
        try
        {
            Files.deleteIfExists(path);
        }
        catch (final IOException ignored)
        {
            // A leftover file in the temp directory costs nothing; the run's result matters more.
        }
    }

    /** The binary, copied once per JVM out of the class path (it is inside crab.jar) to an executable file. */
    private static final class Binary
    {
        static final Path PATH = extract();

        private static Path extract()
        {
            try (InputStream in = NativeClient.class.getResourceAsStream(RESOURCE))
            {
                if (in == null)
                {
                    throw new IllegalStateException("no " + RESOURCE + " on the class path (was bench/ built?)");
                }
                final Path file = Files.createTempFile("crr_client-", "",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                file.toFile().deleteOnExit();
                // Into the file as created: replacing it would drop the execute permission.
                try (OutputStream copy = Files.newOutputStream(file))
                {
                    in.transferTo(copy);
                }
                return file;
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("cannot copy " + RESOURCE + " to an executable file", ex);
            }
        }
    }
}
