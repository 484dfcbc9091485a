package io.crab.endpoint;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** crab-endpoint's --metrics-address, for both roles: a bad value is one line naming it and exit 2. */
class MetricsAddressOptionTest
{
    @Test
    void aBadAddressExitsTwoWithOneLine()
    {
        for (final String[] role : new String[][] {{"server"}, {"client", "--vip", "198.19.0.1:80"}})
        {
            final StringWriter err = new StringWriter();
            final String[] args = new String[role.length + 4];
            System.arraycopy(role, 0, args, 0, role.length);
            System.arraycopy(new String[] {"--iface", "eth0", "--metrics-address", "[::1]"}, 0, args, role.length, 4);
            assertEquals(2, CrabEndpoint.run(new PrintWriter(new StringWriter()), new PrintWriter(err), args));
            final String line = err.toString().trim();
            assertTrue(line.endsWith(role[0] + ": --metrics-address [::1]: expected IP:PORT with a port of " +
                "1..65535, e.g. 127.0.0.1:9750 or [::1]:9750") && line.lines().count() == 1, line);
        }
    }

    @Test
    void detachTakesNoMetricsAddress()
    {
        final StringWriter err = new StringWriter();
        assertEquals(2, CrabEndpoint.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "server",
            "--iface", "eth0", "--detach", "--metrics-address", "127.0.0.1:9751"));
        final String line = err.toString().trim();
        assertTrue(line.endsWith("server: --detach takes --iface only") && line.lines().count() == 1, line);
    }
}
