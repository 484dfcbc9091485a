package io.crab.endpoint;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** crab-endpoint's input errors: exit 2 and one line naming the command, the option and the value. */
class CrabEndpointCommandLineTest
{
    @Test
    void eachMistakeIsOneLine()
    {
        assertUsageError("crab-endpoint: expected a command: server or client (--help lists them)");
        assertUsageError("crab-endpoint client: --vip '010.0.0.1': not an IPv4 address ('010' has a leading zero, " +
            "which some tools read as octal)", "client", "--iface", "eth0", "--vip", "010.0.0.1");
        assertUsageError("crab-endpoint client: --vip '198.19.0.1:+80': port is not a number (digits 0-9 only)",
            "client", "--iface", "eth0", "--vip", "198.19.0.1:+80");
        assertUsageError("crab-endpoint client: --backends-cidr '198.18.0.0/024': prefix length has a leading zero",
            "client", "--iface", "eth0", "--vip", "198.19.0.1", "--backends-cidr", "198.19.0.1=198.18.0.0/024");
        assertUsageError("crab-endpoint client: --flow-table-size: '1e6' is not a number (digits 0-9 only)",
            "client", "--iface", "eth0", "--vip", "198.19.0.1", "--flow-table-size", "1e6");
        assertUsageError("crab-endpoint server: --report-to '198.18.0.1:99999': port must be 1..65535",
            "server", "--iface", "eth0", "--report-to", "198.18.0.1:99999");
        assertUsageError("crab-endpoint server: --option-exid: '0x1C4AB' must be 0x0..0xFFFF",
            "server", "--iface", "eth0", "--option-kind", "253", "--option-exid", "0x1C4AB");
        assertUsageError("crab-endpoint server: --log-format: unknown log format 'xml' (expected text, json)",
            "server", "--iface", "eth0", "--log-format", "xml");
        assertUsageError("crab-endpoint server: --iface is required", "server");
    }

    @Test
    void helpShowsTheLoggingOptions()
    {
        final StringWriter out = new StringWriter();
        assertEquals(0, CrabEndpoint.run(new PrintWriter(out), new PrintWriter(new StringWriter()), "client",
            "--help"));
        assertTrue(out.toString().startsWith("Usage: crab-endpoint client") &&
            out.toString().contains("--log-format=text|json") && out.toString().contains("--verbose"), out.toString());
    }

    private static void assertUsageError(final String line, final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        assertEquals(2, CrabEndpoint.run(new PrintWriter(out), new PrintWriter(err), args), err.toString());
        assertEquals(List.of(line), err.toString().lines().toList(), "exactly one line on stderr");
        assertEquals("", out.toString(), "no usage dump");
    }
}
