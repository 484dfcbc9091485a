package io.crab.endpoint;

import io.crab.agent.ConfigException;
import io.crab.agent.OptionKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** crab-endpoint server's reporting options: defaults, and one clear line and exit 2 for each bad value. */
class LoadReportingOptionsTest
{
    @TempDir
    Path dir;

    @Test
    void defaultsAndGivenValues() throws Exception
    {
        assertNull(EndpointContext.server("eth0", OptionKind.DEFAULT).reporting(), "no --report-to, no reports");
        final LoadReporting defaults = server(List.of("198.18.0.2:4750"), null, null, null, null);
        assertEquals(List.of(new InetSocketAddress("198.18.0.2", 4750)), defaults.destinations());
        assertEquals(100, defaults.hz());
        assertNull(defaults.from());
        assertNull(defaults.key());
        assertNull(defaults.loadSocket());

        final Path key = dir.resolve("key");
        Files.writeString(key, "0123456789abcdef0123456789abcdef\n");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        final LoadReporting given = server(List.of("198.18.0.2:4750", "198.18.0.3:9"), 1000, "198.18.0.101", key,
            dir.resolve("load.sock"));
        assertEquals(2, given.destinations().size());
        assertEquals(1000, given.hz());
        assertEquals("198.18.0.101", given.from().getHostAddress());
        assertEquals(dir.resolve("load.sock"), given.loadSocket());
        assertEquals(10, server(List.of("198.18.0.2:4750"), 10, null, null, null).hz());
    }

    @Test
    void badValuesAreOneLineNamingTheOption() throws Exception
    {
        assertError("--report-to 198.18.0.2: expected LB_ADDR:PORT (crab-lb's --feedback-port, 4750 by default)",
            List.of("198.18.0.2"), null, null, null, null);
        assertError("--report-to 'lb:4750': not an IPv4 address (A.B.C.D; names are not looked up)",
            List.of("lb:4750"), null, null, null, null);
        assertError("--report-to '198.18.0.2:04750': port has a leading zero", List.of("198.18.0.2:04750"), null,
            null, null, null);
        assertError("--report-to '198.18.0.2:0': port must be 1..65535", List.of("198.18.0.2:0"), null, null, null,
            null);
        assertError("--report-to 198.18.0.2:4750: given twice", List.of("198.18.0.2:4750", "198.18.0.2:4750"), null,
            null, null, null);
        assertError("--report-hz 9: must be 10..1000", List.of("198.18.0.2:4750"), 9, null, null, null);
        assertError("--report-hz 1001: must be 10..1000", List.of("198.18.0.2:4750"), 1001, null, null, null);
        assertError("--report-from '198.18.0': not an IPv4 address (A.B.C.D)", List.of("198.18.0.2:4750"), null,
            "198.18.0", null, null);
        assertError("--report-hz needs --report-to LB_ADDR:PORT (no load is reported without it)", null, 100, null,
            null, null);
        assertError("--feedback-key needs --report-to LB_ADDR:PORT (no load is reported without it)", List.of(), null,
            null, dir.resolve("key"), null);
        assertError("--load-socket needs --report-to LB_ADDR:PORT (no load is reported without it)", null, null,
            null, null, dir.resolve("s"));

        final Path open = dir.resolve("open-key");
        Files.writeString(open, "0123456789abcdef0123456789abcdef");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
        assertError("--feedback-key " + open + ": group or others may read or write it (rw-r--r--); chmod 600 it",
            List.of("198.18.0.2:4750"), null, null, open, null);

        assertError("--load-socket " + dir.resolve("none/s") + ": no directory " + dir.resolve("none"),
            List.of("198.18.0.2:4750"), null, null, null, dir.resolve("none/s"));
        final Path file = Files.writeString(dir.resolve("file"), "x");
        assertError("--load-socket " + file + ": exists and is not a socket; give a path of its own",
            List.of("198.18.0.2:4750"), null, null, null, file);
        final Path longPath = dir.resolve("d".repeat(110));
        assertError("--load-socket " + longPath + ": longer than the 107 bytes a Unix socket path may have",
            List.of("198.18.0.2:4750"), null, null, null, longPath);
    }

    @Test
    void theCommandLineExitsTwoWithTheLine()
    {
        final StringWriter err = new StringWriter();
        final int code = CrabEndpoint.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "server",
            "--iface", "eth0", "--report-to", "198.18.0.2:4750", "--report-hz", "5");
        assertEquals(2, code);
        assertEquals("crab-endpoint server: --report-hz 5: must be 10..1000", err.toString().trim());
    }

    private LoadReporting server(final List<String> reportTo, final Integer hz, final String from, final Path key,
        final Path socket)
    {
        return EndpointContext.server("eth0", OptionKind.DEFAULT, reportTo, hz, from, key, socket).reporting();
    }

    private void assertError(final String message, final List<String> reportTo, final Integer hz, final String from,
        final Path key, final Path socket)
    {
        assertEquals(message, assertThrows(ConfigException.class, () -> server(reportTo, hz, from, key, socket))
            .getMessage());
    }
}
