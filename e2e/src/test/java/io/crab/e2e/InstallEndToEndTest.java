package io.crab.e2e;

import io.crab.agent.Pins;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * crab as a network engineer installs and runs it: {@code ./crab install --prefix} into a temporary prefix, the
 * installed commands run from another directory with the PATH systemd gives a unit, relative paths resolve where the
 * caller is (with {@code ./crab lb} too), the units pass {@code systemd-analyze verify}, their reload and stop
 * signals do what the units promise, and {@code ./crab uninstall} removes every file it installed.
 * <p>
 * It installs the jar the build made ({@code --no-build}): {@code ./crab test} runs it after the package phase.
 */
@ExtendWith(KernelRequired.class)
class InstallEndToEndTest
{
    /** The PATH systemd gives a service; no JAVA_HOME. */
    private static final String SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    /** The units' TimeoutStopSec, after which systemd would SIGKILL. */
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final String VIP = Topology.vip(1) + ":80";

    /** The checkout: surefire runs in the e2e module's directory. */
    private static final Path CHECKOUT = Path.of("").toAbsolutePath().getParent();
    private static final Path CRAB = CHECKOUT.resolve("crab");

    @TempDir
    static Path scratch;
    private static Path prefix;
    /** The operator's directory, neither the checkout nor the prefix: where relative paths must resolve. */
    private static Path operator;

    @BeforeAll
    static void install() throws IOException
    {
        assertTrue(Files.isExecutable(CRAB), "the checkout's crab script at " + CRAB);
        assertTrue(Files.isRegularFile(CHECKOUT.resolve("bench/target/crab.jar")),
            "bench/target/crab.jar, built by the package phase before this test");
        operator = Files.createDirectories(scratch.resolve("operator"));
        prefix = scratch.resolve("prefix");
        final Result install = run(operator, Map.of(), CRAB.toString(), "install", "--no-build", "--prefix", "../prefix");
        assertEquals(0, install.exitCode, install.output);
    }

    @Test
    void installPutsTheCommandsTheJarAndTheUnitsUnderThePrefix() throws IOException
    {
        for (final String command : List.of("crab-lb", "crab-endpoint", "crab-bench"))
        {
            assertTrue(Files.isExecutable(prefix.resolve("bin").resolve(command)), command);
        }
        assertTrue(Files.isExecutable(prefix.resolve("lib/crab/launch")));
        assertTrue(Files.size(prefix.resolve("lib/crab/crab.jar")) > 0);
        final String lbUnit = Files.readString(prefix.resolve("lib/systemd/system/crab-lb@.service"));
        assertTrue(lbUnit.contains("\nExecStart=" + prefix.resolve("bin/crab-lb") + " $CRAB_LB_ARGS\n"), lbUnit);
        assertTrue(lbUnit.contains("\nEnvironmentFile=/etc/crab/lb-%i.env\n"), lbUnit);
        assertTrue(lbUnit.contains("\nExecReload=/bin/kill -HUP $MAINPID\n"), lbUnit);
        assertTrue(lbUnit.contains("\nRestart=on-failure\n"), lbUnit);
        assertFalse(hasKey(lbUnit, "ExecStop"), "stopping crab-lb must never detach its data path:\n" + lbUnit);
        final String endpointUnit = Files.readString(prefix.resolve("lib/systemd/system/crab-endpoint@.service"));
        assertTrue(endpointUnit.contains("\nExecStart=" + prefix.resolve("bin/crab-endpoint") +
            " $CRAB_ENDPOINT_ARGS\n"), endpointUnit);
        assertFalse(hasKey(endpointUnit, "ExecStop"), endpointUnit);
        assertFalse(hasKey(endpointUnit, "ExecReload"), "crab-endpoint reads its options at start only");
    }

    /** Whether a unit file sets a key (ExecStop also covers ExecStopPost). */
    private static boolean hasKey(final String unit, final String key)
    {
        return unit.lines().anyMatch(line -> line.startsWith(key));
    }

    @Test
    void theUnitsPassSystemdAnalyzeVerify()
    {
        // An instance of each template, as systemctl would start it; verify also checks that ExecStart exists.
        for (final String unit : List.of("crab-lb@test.service", "crab-endpoint@test.service"))
        {
            final Result verify = run(operator, Map.of(), "systemd-analyze", "verify",
                prefix.resolve("lib/systemd/system").resolve(unit).toString());
            assertEquals(0, verify.exitCode, unit + ": " + verify.output);
            assertEquals("", verify.output.strip(), unit + ": systemd-analyze verify has no complaint");
        }
    }

    @Test
    void theInstalledCommandsRunWithTheJavaSystemdFinds()
    {
        for (final String command : List.of("crab-lb", "crab-endpoint", "crab-bench"))
        {
            final Result help = runInstalled(Map.of(), command, "--help");
            assertEquals(0, help.exitCode, help.output);
            assertTrue(help.output.startsWith("Usage: " + command), help.output);
            final Result version = runInstalled(Map.of(), command, "--version");
            assertEquals(0, version.exitCode, version.output);
            assertEquals(command + " 0.1.0", version.output.strip());
        }
    }

    @Test
    void theLauncherSkipsAJavaOlderThan17OnThePathAndRefusesOneNamedByJavaHome() throws IOException
    {
        final Path oldJava = Files.createDirectories(scratch.resolve("java-11/bin")).resolve("java");
        Files.writeString(oldJava, "#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n");
        Files.setPosixFilePermissions(oldJava, PosixFilePermissions.fromString("rwxr-xr-x"));

        final Result skipped = runInstalled(Map.of("PATH", oldJava.getParent() + ":" + SYSTEMD_PATH), "crab-lb",
            "--version");
        assertEquals(0, skipped.exitCode, skipped.output);
        assertEquals("crab-lb 0.1.0", skipped.output.strip());

        final Result refused = runInstalled(Map.of("JAVA_HOME", oldJava.getParent().getParent().toString()),
            "crab-lb", "--version");
        assertEquals(1, refused.exitCode, refused.output);
        assertEquals("crab-lb: needs Java 17 or newer, and JAVA_HOME (" + oldJava.getParent().getParent() +
            ") is Java 11", refused.output.strip());
    }

    /**
     * On the LB host of a topology: {@code ./crab lb} from the operator's directory with a relative backends file,
     * then the installed crab-lb the same way, which takes the pinned state over (an upgrade from a checkout to an
     * install), reloads on the units' ExecReload signal, stops on SIGTERM with exit 0 leaving the data path attached,
     * and {@code --detach} removes it.
     */
    @Test
    void theInstalledCrabLbRunsFromAnotherDirectoryWithARelativeBackendsFile() throws Exception
    {
        try (Topology topology = Topology.builder().clients(1).servers(2).build())
        {
            final Host lb = topology.lb();
            final String first = topology.servers().get(0).ip();
            final String second = topology.servers().get(1).ip();
            final Path pins = Pins.BPFFS.resolve("crab-lb-" + lb.netns().inode() + "-" + lb.iface());
            final Path backends = Files.createDirectories(operator.resolve("conf")).resolve("backends.txt");
            Files.writeString(backends, first + "\n");

            final Path checkoutLog = scratch.resolve("checkout-lb.log");
            final Process fromCheckout = startInNamespace(lb, checkoutLog, CRAB.toString(), "lb",
                "--iface", lb.iface(), "--vip", VIP, "--backends", "conf/backends.txt");
            try
            {
                awaitLine(fromCheckout, checkoutLog, "crab-lb: ready on " + lb.iface());
                assertEquals(0, stop(fromCheckout, checkoutLog), "./crab lb stops with exit 0 on SIGTERM");
            }
            finally
            {
                fromCheckout.destroyForcibly();
            }

            final Path log = scratch.resolve("installed-lb.log");
            final Process installed = startInNamespace(lb, log, prefix.resolve("bin/crab-lb").toString(),
                "--iface", lb.iface(), "--vip", VIP, "--backends", "conf/backends.txt", "--no-watch");
            try
            {
                awaitLine(installed, log, "crab-lb: ready on " + lb.iface());
                assertTrue(Files.readString(log).contains("crab-lb: took over the XDP program and its state pinned " +
                    "in " + pins), "the installed crab-lb adopts what ./crab lb left pinned:\n" + Files.readString(log));
                assertEquals("java", Files.readString(Path.of("/proc", Long.toString(installed.pid()), "comm")).strip(),
                    "the launchers exec the JVM, so the unit's main process, which gets its signals, is the JVM");

                // The units' ExecReload, with --no-watch so that only the signal can have caused the reload.
                Files.writeString(backends, first + "\n" + second + "\n");
                final Result hangUp = run(operator, Map.of(), "/bin/kill", "-HUP", Long.toString(installed.pid()));
                assertEquals(0, hangUp.exitCode, hangUp.output);
                awaitLine(installed, log, "backend " + second + " added");

                assertEquals(0, stop(installed, log), "crab-lb stops with exit 0 on SIGTERM within the units' " +
                    "TimeoutStopSec");
            }
            finally
            {
                installed.destroyForcibly();
            }

            assertTrue(Files.isDirectory(pins), "stopping crab-lb leaves its data path pinned: " + pins);
            final Result status = runInNamespace(lb, "crab-lb", "status", "--iface", lb.iface());
            assertEquals(0, status.exitCode, status.output);
            assertTrue(status.output.contains(Topology.vip(1)), status.output);

            final Result detach = runInNamespace(lb, "crab-lb", "--iface", lb.iface(), "--detach");
            assertEquals(0, detach.exitCode, detach.output);
            assertEquals("crab-lb: detached from " + lb.iface() + " and removed its pinned state",
                detach.output.strip());
            assertFalse(Files.exists(pins), "--detach removed " + pins);
        }
    }

    @Test
    void uninstallRemovesEveryFileInstallPut() throws IOException
    {
        final Path other = scratch.resolve("other-prefix");
        final Result install = run(operator, Map.of(), CRAB.toString(), "install", "--no-build", "--prefix",
            other.toString());
        assertEquals(0, install.exitCode, install.output);
        assertEquals(8, regularFiles(other).size(), "3 commands, launcher, jar, 2 units, file list: " +
            regularFiles(other));

        final Result uninstall = run(operator, Map.of(), CRAB.toString(), "uninstall", "--prefix", other.toString());
        assertEquals(0, uninstall.exitCode, uninstall.output);
        assertEquals(List.of(), regularFiles(other));
        assertFalse(Files.exists(other.resolve("lib/crab")));

        final Result again = run(operator, Map.of(), CRAB.toString(), "uninstall", "--prefix", other.toString());
        assertEquals(1, again.exitCode, "nothing left to uninstall: " + again.output);
    }

    private static List<Path> regularFiles(final Path dir) throws IOException
    {
        try (Stream<Path> files = Files.walk(dir))
        {
            return files.filter(Files::isRegularFile).sorted().toList();
        }
    }

    /** An installed command, run from the operator's directory with systemd's PATH, the variables given added. */
    private static Result runInstalled(final Map<String, String> env, final String command, final String... args)
    {
        final List<String> argv = new ArrayList<>(List.of(prefix.resolve("bin").resolve(command).toString()));
        argv.addAll(List.of(args));
        return run(operator, env, argv.toArray(String[]::new));
    }

    private static Result runInNamespace(final Host host, final String command, final String... args)
    {
        final List<String> argv = new ArrayList<>(List.of("nsenter", "--net=" + host.netns().path(), "--",
            prefix.resolve("bin").resolve(command).toString()));
        argv.addAll(List.of(args));
        return run(operator, Map.of(), argv.toArray(String[]::new));
    }

    /** Runs a command to its end from {@code cwd}, stdout and stderr together. */
    private static Result run(final Path cwd, final Map<String, String> env, final String... argv)
    {
        final Path output;
        try
        {
            output = Files.createTempFile(scratch, "output", ".txt");
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        try
        {
            final Process process = builder(cwd, env, argv).redirectOutput(output.toFile()).start();
            if (!process.waitFor(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly().waitFor();
                throw new AssertionError(String.join(" ", argv) + " did not end within " + COMMAND_TIMEOUT + ":\n" +
                    Files.readString(output));
            }
            return new Result(process.exitValue(), Files.readString(output));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", ex);
        }
        finally
        {
            output.toFile().delete();
        }
    }

    /**
     * Starts a daemon in the host's namespace from the operator's directory, as an operator on that host would, with
     * systemd's PATH; {@code nsenter} and the launchers exec, so the process is the JVM in the end.
     */
    private static Process startInNamespace(final Host host, final Path log, final String... argv) throws IOException
    {
        final List<String> command = new ArrayList<>(List.of("nsenter", "--net=" + host.netns().path(), "--"));
        command.addAll(List.of(argv));
        return builder(operator, Map.of(), command.toArray(String[]::new))
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    private static ProcessBuilder builder(final Path cwd, final Map<String, String> env, final String... argv)
    {
        final ProcessBuilder builder = new ProcessBuilder(argv).directory(cwd.toFile()).redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        builder.environment().remove("JAVA_HOME");
        builder.environment().put("PATH", SYSTEMD_PATH);
        builder.environment().putAll(env);
        return builder;
    }

    private static void awaitLine(final Process process, final Path log, final String text) throws Exception
    {
        final long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (!Files.readString(log).contains(text))
        {
            if (!process.isAlive())
            {
                fail("exited with " + process.exitValue() + " before logging \"" + text + "\":\n" +
                    Files.readString(log));
            }
            assertTrue(System.nanoTime() < deadline, "no \"" + text + "\" within " + READY_TIMEOUT + ":\n" +
                Files.readString(log));
            Thread.sleep(50);
        }
    }

    /** SIGTERM, as systemctl stop sends; returns the exit code, failing if it took longer than the units allow. */
    private static int stop(final Process process, final Path log) throws Exception
    {
        process.destroy();
        assertTrue(process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS),
            "still running " + STOP_TIMEOUT + " after SIGTERM:\n" + Files.readString(log));
        return process.exitValue();
    }

    private record Result(int exitCode, String output)
    {
    }
}
