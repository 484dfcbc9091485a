package io.crab.lb;

import io.crab.agent.ConfigException;
import io.crab.agent.OptionKind;
import io.crab.agent.HostPort;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.LbConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.ToIntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The backends file and the LB's configuration: accepted forms, and errors that name file, line and problem. */
class BackendsFileTest
{
    @TempDir
    Path dir;

    @Test
    void readsBackendsWithPortsWeightsCommentsAndBlankLines() throws Exception
    {
        final Path file = write("# pool A\n\n198.18.0.101\n198.18.0.102:8080 weight=3   # big one\n  \n");
        final List<BackendsFile.Backend> backends = BackendsFile.read(file);
        assertEquals(2, backends.size());
        assertEquals("198.18.0.101", backends.get(0).target().toString());
        assertEquals(1, backends.get(0).weight());
        assertEquals(3, backends.get(0).line());
        assertEquals(8080, backends.get(1).target().port());
        assertEquals(3, backends.get(1).weight());
        assertEquals(4, backends.get(1).line());
    }

    @Test
    void errorsNameTheFileTheLineAndTheProblem() throws Exception
    {
        assertError("198.18.0.101\n198.18.0.300\n", ":2: '198.18.0.300': not an IPv4 address");
        assertError("198.18.0.101:0\n", ":1: '198.18.0.101:0': port must be 1..65535");
        assertError("198.18.0.101 weight=0\n", ":1: weight must be 1..100, got '0'");
        assertError("198.18.0.101 weight=x\n", ":1: weight is not a number");
        assertError("198.18.0.101 weight=+2\n", ":1: weight is not a number (digits 0-9 only), got '+2'");
        assertError("198.18.0.101 weight=2 weight=3\n", ":1: weight given twice");
        assertError("# first\n198.18.0.+11\n", ":2: '198.18.0.+11': not an IPv4 address ('+11' is not a number 0..255)");
        assertError("010.0.0.1\n", ":1: '010.0.0.1': not an IPv4 address ('010' has a leading zero, which some " +
            "tools read as octal)");
        assertError("198.18.0.101:+80\n", ":1: '198.18.0.101:+80': port is not a number (digits 0-9 only)");
        assertError("198.18.0.101 mac=02:00:00:00:00:01\n", ":1: unknown field 'mac=02:00:00:00:00:01'");
        assertError("198.18.0.101\n198.18.0.101\n", ":2: backend 198.18.0.101 is listed twice");
        assertError("backend.example\n", ":1: 'backend.example': not an IPv4 address");
        assertError("# nothing\n", ": no backends");
        final ConfigException missing = assertThrows(ConfigException.class,
            () -> BackendsFile.read(dir.resolve("absent.txt")));
        assertEquals(dir.resolve("absent.txt") + ": no such file", missing.getMessage());
    }

    private static final LbContext.Limits LIMITS = LbContext.Limits.DEFAULT;

    @Test
    void contextRejectsWhatCannotWorkBeforeTouchingTheKernel() throws Exception
    {
        final Path ports = write("198.18.0.101:8080\n");
        final ConfigException wildcard = assertThrows(ConfigException.class, () -> LbContext.of("eth0",
            null, List.of("198.19.0.1"), ports, Policy.RR, false, LIMITS, true, OptionKind.DEFAULT, 1000,
            LbContext.Feedback.DEFAULT));
        assertEquals(ports + ":1: backend 198.18.0.101:8080 names a port but VIP 198.19.0.1 balances every port; " +
            "give the VIP a port to redirect ports", wildcard.getMessage());

        final Path heavy = write("198.18.0.101 weight=100\n198.18.0.102 weight=100\n198.18.0.103 weight=100\n");
        assertThrows(ConfigException.class, () -> LbContext.of("eth0", null, List.of("198.19.0.1"), heavy,
            Policy.RR, false, LIMITS, true, OptionKind.DEFAULT, 1000,
            LbContext.Feedback.DEFAULT), "weights over the 256 slots of a VIP");
        final Path ok = write("198.18.0.101\n");
        assertThrows(ConfigException.class, () -> LbContext.of("eth0", null, List.of("198.19.0.1", "198.19.0.1"),
            ok, Policy.RR, false, LIMITS, true, OptionKind.DEFAULT, 1000,
            LbContext.Feedback.DEFAULT));
        assertThrows(ConfigException.class, () -> LbContext.of(null, null, List.of("198.19.0.1"), ok, Policy.RR,
            false, LIMITS, true, OptionKind.DEFAULT, 1000,
            LbContext.Feedback.DEFAULT));
        final ConfigException both = assertThrows(ConfigException.class, () -> LbContext.of("eth0", ok,
            List.of("198.19.0.1"), ok, Policy.RR, false, LIMITS, true, OptionKind.DEFAULT, 1000,
            LbContext.Feedback.DEFAULT));
        assertEquals("--config replaces --vip and --backends: give one or the other", both.getMessage());
        assertThrows(ConfigException.class, () -> LbContext.Limits.of(0, 10, 10, 65537, 4096, 4096));
        assertThrows(ConfigException.class, () -> LbContext.Limits.of(65536, 10, 65536, 65537, 4096, 4096),
            "slot tables too big");
        final ConfigException notPrime = assertThrows(ConfigException.class,
            () -> LbContext.Limits.of(64, 10, 256, 65536, 4096, 4096));
        assertTrue(notPrime.getMessage().startsWith("--maglev-size 65536: must be a prime"), notPrime.getMessage());
        assertThrows(ConfigException.class, () -> LbContext.Limits.of(64, 1024, 256, 1021, 4096, 4096),
            "a Maglev table smaller than a service's backends");
        assertEquals(13, LbContext.Limits.of(64, 10, 256, 13, 4096, 4096).maglevSize());
        assertEquals("--max-affinity-clients 100: must be 1024..16777216", assertThrows(ConfigException.class,
            () -> LbContext.Limits.of(64, 10, 256, 13, 4096, 100)).getMessage());
        assertThrows(ConfigException.class, () -> OptionKind.of(253, 0));
        assertThrows(ConfigException.class, () -> OptionKind.of(42, 0xC4AB));
        assertThrows(ConfigException.class, () -> OptionKind.of(1, 0));
        assertEquals(new OptionKind(254, 0xC4AB), OptionKind.of(254, 0xC4AB));
    }

    @Test
    void slotTableRepeatsBackendsByWeightInterleavedAndSkipsUnusableOnes() throws Exception
    {
        final List<BackendConfig> backends = LbConfig.fromFlags(List.of(HostPort.parse("198.19.0.1")),
            BackendsFile.read(write("198.18.0.1 weight=3\n198.18.0.2\n198.18.0.3 weight=2\n")), Policy.RR, false)
            .services().get(0).backends();
        final ToIntFunction<HostPort> id = t -> t.address().getAddress()[3];
        assertEquals(List.of(1, 2, 3, 1, 3, 1), ServiceTables.slotTable(backends, b -> true, id));
        assertEquals(List.of(1, 3, 1, 3, 1), ServiceTables.slotTable(backends,
            b -> !b.target().equals(HostPort.parse("198.18.0.2")), id));
        assertEquals(List.of(), ServiceTables.slotTable(backends, b -> false, id));
    }

    @Test
    void commandLineErrorsExitWithUsageAndAMessage() throws Exception
    {
        final java.io.StringWriter err = new java.io.StringWriter();
        final int code = CrabLb.run(new java.io.PrintWriter(new java.io.StringWriter()), new java.io.PrintWriter(err),
            "--iface", "eth0", "--vip", "198.19.0.1", "--backends", dir.resolve("absent.txt").toString());
        assertEquals(2, code);
        assertEquals("crab-lb: " + dir.resolve("absent.txt") + ": no such file", err.toString().strip());
    }

    private void assertError(final String content, final String expectedTail) throws Exception
    {
        final Path file = write(content);
        final ConfigException ex = assertThrows(ConfigException.class, () -> BackendsFile.read(file));
        assertEquals(true, ex.getMessage().startsWith(file + expectedTail), ex.getMessage());
    }

    private Path write(final String content) throws Exception
    {
        final Path file = Files.createTempFile(dir, "backends", ".txt");
        Files.writeString(file, content);
        return file;
    }
}
