package io.crab.lb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crab.agent.PinnedDatapath;
import io.crab.bpf.Netns;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.Shell;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * crab-lb as a process in a namespace of the test's own, whose only route is the interface's 198.18.0.0/24: a
 * backend off that route is a configuration error at start (exit 2, one line naming file and line, nothing
 * attached) and a refused reload while running (one log event, nothing applied); and its JSON log is one JSON
 * object per line.
 */
@ExtendWith(KernelRequired.class)
class CrabLbStartupTest
{
    private static final String IFACE = "le0";
    private static final String VIP = "198.19.0.1:80";
    /** On the interface's subnet, so routed, but nobody answers for it: its neighbour never resolves. */
    private static final String ON_LINK = "198.18.0.7";
    private static final String NO_ROUTE = "198.18.9.9";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Netns netns;
    private Process lb;

    @BeforeEach
    void createNamespace()
    {
        netns = Netns.named("crab-ls-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()));
        Shell.run("ip", "netns", "add", netns.name());
        ip("link", "set", "lo", "up");
        ip("link", "add", IFACE, "type", "veth", "peer", "name", "le1");
        ip("addr", "add", "198.18.0.2/24", "dev", IFACE);
        ip("link", "set", IFACE, "up");
        ip("link", "set", "le1", "up");
    }

    @AfterEach
    void removeEverything() throws Exception
    {
        try
        {
            if (lb != null && lb.isAlive())
            {
                lb.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            netns.run(() -> PinnedDatapath.detach(LbAgent.pinDir(IFACE)));
        }
        finally
        {
            Shell.run("ip", "netns", "del", netns.name());
        }
    }

    @Test
    void aBackendWithNoRouteStopsTheStartWithExitTwoAndOneLineNamingFileAndLine() throws Exception
    {
        final Path backends = write("backends.txt", "# pool\n" + ON_LINK + "\n" + NO_ROUTE + ":80 weight=2\n");
        final Result result = run("--iface", IFACE, "--vip", VIP, "--backends", backends.toString());
        assertEquals(2, result.code, result.toString());
        assertEquals(List.of("crab-lb: " + backends + ":3: backend " + NO_ROUTE + ":80: no route"),
            result.stderr, "exactly one line on stderr");
        assertEquals(List.of(), result.stdout);
        assertFalse(netns.call(() -> Files.exists(LbAgent.pinDir(IFACE))), "nothing attached or pinned");

        final Path services = write("services.conf", "service web\n    vip " + VIP + "\n    backend " + ON_LINK +
            "\n\nservice db\n    vip 198.19.0.2:5432\n    backend " + NO_ROUTE + "\n");
        final Result named = run("--iface", IFACE, "--config", services.toString());
        assertEquals(2, named.code, named.toString());
        assertEquals(List.of("crab-lb: " + services + ":7: service db: backend " + NO_ROUTE + ": no route"),
            named.stderr);
    }

    @Test
    void verboseAddsTheTraceToTheLine() throws Exception
    {
        final Path backends = write("backends.txt", NO_ROUTE + "\n");
        final Result result = run("--verbose", "--iface", IFACE, "--vip", VIP, "--backends", backends.toString());
        assertEquals(2, result.code, result.toString());
        assertEquals("crab-lb: " + backends + ":1: backend " + NO_ROUTE + ": no route", result.stderr.get(0));
        assertTrue(result.stderr.get(1).startsWith("io.crab.agent.ConfigException: " + backends + ":1: "),
            result.toString());
        assertTrue(result.stderr.stream().anyMatch(l -> l.strip().startsWith("at io.crab.lb.LbAgent.checkRoutes")),
            result.toString());
    }

    @Test
    void aReloadNamingABackendWithNoRouteIsRefusedWholeAndTheJsonLogIsOneObjectPerLine() throws Exception
    {
        final Path backends = write("backends.txt", ON_LINK + "\n");
        final Path stderr = dir.resolve("stderr.log");
        final Path stdout = dir.resolve("stdout.log");
        lb = start(stdout, stderr, "--iface", IFACE, "--vip", VIP, "--backends", backends.toString(),
            "--log-format", "json");
        awaitEvent(stderr, e -> e.get("msg").asText().startsWith("ready on " + IFACE + ": "));

        // A weight change and a backend with no route in one file: refused as a whole, the weight stays 1.
        replace(backends, ON_LINK + " weight=3\n" + NO_ROUTE + "\n");
        final JsonNode refused = awaitEvent(stderr, e -> e.get("msg").asText().startsWith("reload refused"));
        assertEquals("WARN", refused.get("level").asText());
        assertEquals("reload refused (1 so far), nothing changed: " + backends + ":2: backend " + NO_ROUTE +
            ": no route", refused.get("msg").asText());

        // The next good file's changes are measured against what ran before the refused one.
        replace(backends, ON_LINK + "\n198.18.0.8\n");
        final JsonNode change = awaitEvent(stderr, e -> e.get("msg").asText().startsWith("reload 1: "));
        assertEquals("reload 1: service vip-198-19-0-1-80: backend 198.18.0.8 added (weight 1)",
            change.get("msg").asText());
        lb.destroy();
        assertTrue(lb.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, lb.exitValue());

        final List<String> lines = Files.readAllLines(stderr);
        assertEquals(1, lines.stream().filter(l -> l.contains("reload 1: ")).count(),
            "one change, nothing of the refused file:\n" + lines);
        for (final String line : lines)
        {
            final JsonNode event = JSON.readTree(line);
            assertTrue(event.get("ts").asText().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z"), line);
            assertTrue(List.of("INFO", "WARN", "ERROR").contains(event.get("level").asText()), line);
            assertEquals("crab-lb", event.get("component").asText(), line);
            assertFalse(event.get("msg").asText().isEmpty(), line);
        }
        assertTrue(lines.stream().anyMatch(l -> l.contains("\"backend\":\"" + ON_LINK + "\",\"file\":\"" + backends +
            "\",\"line\":1")), "the unresolved neighbour's warning carries its fields:\n" + lines);
        assertEquals(List.of(), Files.readAllLines(stdout), "events go to stderr");
    }

    private record Result(int code, List<String> stdout, List<String> stderr)
    {
    }

    private Result run(final String... args) throws Exception
    {
        final Path stdout = Files.createTempFile(dir, "out", ".log");
        final Path stderr = Files.createTempFile(dir, "err", ".log");
        final Process process = start(stdout, stderr, args);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "crab-lb ended");
        return new Result(process.exitValue(), Files.readAllLines(stdout), Files.readAllLines(stderr));
    }

    /** crab-lb in the namespace by nsenter, which keeps this mount namespace's /sys/fs/bpf (ip netns exec would not). */
    private Process start(final Path stdout, final Path stderr, final String... args) throws IOException
    {
        final List<String> argv = new ArrayList<>(List.of("nsenter", "--net=" + netns.path(),
            Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1", "-Xmx128m", "-cp", System.getProperty("java.class.path"),
            CrabLb.class.getName()));
        argv.addAll(List.of(args));
        return new ProcessBuilder(argv).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
    }

    /** Waits for a whole JSON line that matches, failing at once if crab-lb ends or a line is not JSON. */
    private JsonNode awaitEvent(final Path log, final Predicate<JsonNode> wanted) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline)
        {
            final String text = Files.readString(log);
            for (final String line : text.substring(0, text.lastIndexOf('\n') + 1).lines().toList())
            {
                final JsonNode event = JSON.readTree(line);
                if (wanted.test(event))
                {
                    return event;
                }
            }
            assertTrue(lb.isAlive(), "crab-lb ended with " + (lb.isAlive() ? 0 : lb.exitValue()) + ":\n" + text);
            Thread.sleep(20);
        }
        throw new AssertionError("no such event within 30 s:\n" + Files.readString(log));
    }

    private Path write(final String name, final String content) throws IOException
    {
        final Path file = dir.resolve(name);
        Files.writeString(file, content);
        return file;
    }

    /** As an operator's tool should: renamed over the old file, so a reload never reads half of it. */
    private void replace(final Path file, final String content) throws IOException
    {
        final Path next = file.resolveSibling(file.getFileName() + ".next");
        Files.writeString(next, content);
        Files.move(next, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private void ip(final String... args)
    {
        final List<String> argv = new ArrayList<>(List.of("ip", "-n", netns.name()));
        argv.addAll(List.of(args));
        Shell.run(argv);
    }
}
