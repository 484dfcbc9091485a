package io.crab.lb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a new user sees for each mistake on crab-lb's command line or in its files: exit 2 and exactly one line on
 * stderr naming the option and value, or the file and line; nothing on stdout, no usage dump, no exception class.
 * All of these fail before crab-lb touches the kernel.
 */
class CrabLbCommandLineTest
{
    private static final String VIP = "198.19.0.1:80";

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @Test
    void anUnknownPolicyNamesTheOptionTheValueAndTheChoices() throws Exception
    {
        assertUsageError("crab-lb: --policy: unknown policy 'foo' (expected rr, random, hash, jsq, p2c)",
            "--iface", "eth0", "--vip", VIP, "--backends", backends("198.18.0.101\n").toString(), "--policy", "foo");
    }

    @Test
    void aBackendsFileAddressIsReadStrictly() throws Exception
    {
        final Path signed = backends("# pool\n198.18.0.101\n198.18.0.+11\n");
        assertUsageError("crab-lb: " + signed + ":3: '198.18.0.+11': not an IPv4 address ('+11' is not a number " +
            "0..255)", shorthand(signed));
        final Path octal = backends("010.0.0.1\n");
        assertUsageError("crab-lb: " + octal + ":1: '010.0.0.1': not an IPv4 address ('010' has a leading zero, " +
            "which some tools read as octal)", shorthand(octal));
        final Path name = backends("198.18.0.101\n\nbackend.example\n");
        assertUsageError("crab-lb: " + name + ":3: 'backend.example': not an IPv4 address (A.B.C.D; names are not " +
            "looked up)", shorthand(name));
    }

    @Test
    void aBadPortNamesWhereItIsWritten() throws Exception
    {
        final Path file = backends("198.18.0.101:70000\n");
        assertUsageError("crab-lb: " + file + ":1: '198.18.0.101:70000': port must be 1..65535", shorthand(file));
        final Path signed = backends("198.18.0.101:+80\n");
        assertUsageError("crab-lb: " + signed + ":1: '198.18.0.101:+80': port is not a number (digits 0-9 only)",
            shorthand(signed));
        final Path ok = backends("198.18.0.101\n");
        assertUsageError("crab-lb: --vip '198.19.0.1:0': port must be 1..65535",
            "--iface", "eth0", "--vip", "198.19.0.1:0", "--backends", ok.toString());
        assertUsageError("crab-lb: --feedback-port: '47x0' is not a number (digits 0-9 only)",
            "--iface", "eth0", "--vip", VIP, "--backends", ok.toString(), "--feedback-port", "47x0");
    }

    @Test
    void aBadWeightNamesTheFileAndLine() throws Exception
    {
        final Path zero = backends("198.18.0.101\n198.18.0.102 weight=0\n");
        assertUsageError("crab-lb: " + zero + ":2: weight must be 1..100, got '0'", shorthand(zero));
        final Path signed = backends("198.18.0.101 weight=+3\n");
        assertUsageError("crab-lb: " + signed + ":1: weight is not a number (digits 0-9 only), got '+3'",
            shorthand(signed));
        final Path services = dir.resolve("services.conf");
        Files.writeString(services, "service web\n    vip 198.19.0.1:80\n    backend 198.18.0.101 weight 101\n");
        assertUsageError("crab-lb: " + services + ":3: service web: weight must be 1..100, got '101'",
            "--iface", "eth0", "--config", services.toString());
    }

    @Test
    void usageMistakesAreOneLineToo()
    {
        assertUsageError("crab-lb: unknown option '--polcy' (did you mean --policy?)", "--polcy", "rr");
        assertUsageError("crab-lb: --policy needs a value", "--policy");
        assertUsageError("crab-lb status: --iface is required", "status");
        assertUsageError("crab-lb: --max-services: '064' has a leading zero", "--max-services", "064");
        assertUsageError("crab-lb: --log-format: unknown log format 'xml' (expected text, json)",
            "--log-format", "xml");
    }

    @Test
    void verbosePrintsTheStackTraceAfterTheLine() throws Exception
    {
        final Path file = backends("198.18.0.+11\n");
        assertEquals(2, CrabLb.run(new PrintWriter(out), new PrintWriter(err), "--verbose", "--iface", "eth0",
            "--vip", VIP, "--backends", file.toString()));
        final List<String> lines = err.toString().lines().toList();
        assertEquals("crab-lb: " + file + ":1: '198.18.0.+11': not an IPv4 address ('+11' is not a number 0..255)",
            lines.get(0));
        assertTrue(lines.get(1).startsWith("io.crab.agent.ConfigException: " + file + ":1: "), lines.get(1));
        assertTrue(lines.stream().anyMatch(l -> l.strip().startsWith("at io.crab.lb.BackendsFile.read")),
            err.toString());
    }

    @Test
    void withJsonLogsTheLineIsAJsonErrorEvent() throws Exception
    {
        assertEquals(2, CrabLb.run(new PrintWriter(out), new PrintWriter(err), "--log-format", "json", "--policy",
            "foo"));
        assertEquals(1, err.toString().lines().count(), err.toString());
        final JsonNode event = new ObjectMapper().readTree(err.toString());
        assertEquals("ERROR", event.get("level").asText());
        assertEquals("crab-lb", event.get("component").asText());
        assertEquals("--policy: unknown policy 'foo' (expected rr, random, hash, jsq, p2c)", event.get("msg").asText());
        assertTrue(event.get("ts").asText().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z"), err.toString());
    }

    @Test
    void helpStillShowsTheUsage()
    {
        assertEquals(0, CrabLb.run(new PrintWriter(out), new PrintWriter(err), "--help"));
        assertTrue(out.toString().startsWith("Usage: crab-lb"), out.toString());
        assertTrue(out.toString().contains("--log-format=text|json") && out.toString().contains("--verbose"),
            out.toString());
        assertEquals("", err.toString());
        final StringWriter statusHelp = new StringWriter();
        assertEquals(0, CrabLb.run(new PrintWriter(statusHelp), new PrintWriter(err), "status", "--help"));
        assertTrue(statusHelp.toString().startsWith("Usage: crab-lb status"), statusHelp.toString());
    }

    private void assertUsageError(final String line, final String... args)
    {
        final StringWriter stdout = new StringWriter();
        final StringWriter stderr = new StringWriter();
        assertEquals(2, CrabLb.run(new PrintWriter(stdout), new PrintWriter(stderr), args), stderr.toString());
        assertEquals(List.of(line), stderr.toString().lines().toList(), "exactly one line on stderr");
        assertEquals("", stdout.toString(), "no usage dump");
        assertFalse(line.contains("Exception"), line);
    }

    private static String[] shorthand(final Path backendsFile)
    {
        return new String[] {"--iface", "eth0", "--vip", VIP, "--backends", backendsFile.toString()};
    }

    private Path backends(final String content) throws Exception
    {
        final Path file = Files.createTempFile(dir, "backends", ".txt");
        Files.writeString(file, content);
        return file;
    }
}
