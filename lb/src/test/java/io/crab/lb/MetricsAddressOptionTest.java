package io.crab.lb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** crab-lb's --metrics-address: a bad value is one line naming it and exit 2, before anything is started. */
class MetricsAddressOptionTest
{
    @TempDir
    Path dir;

    @Test
    void aBadAddressExitsTwoWithOneLine() throws Exception
    {
        final Path backends = Files.writeString(dir.resolve("backends"), "198.18.0.101\n");
        for (final String bad : new String[] {"9750", "localhost:9750", "198.18.0.2:0", "198.18.0.300:9750"})
        {
            final StringWriter err = new StringWriter();
            assertEquals(2, CrabLb.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "--iface", "eth0",
                "--vip", "198.19.0.1:80", "--backends", backends.toString(), "--metrics-address", bad), bad);
            assertEquals("crab-lb: --metrics-address " + bad + ": " + (bad.equals("198.18.0.300:9750") ?
                "not an IP address" : "expected IP:PORT with a port of 1..65535, e.g. 127.0.0.1:9750 or " +
                "[::1]:9750"), err.toString().trim());
        }
    }

    @Test
    void detachTakesNoMetricsAddress()
    {
        final StringWriter err = new StringWriter();
        assertEquals(2, CrabLb.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "--iface", "eth0",
            "--detach", "--metrics-address", "127.0.0.1:9750"));
        assertEquals("crab-lb: --detach takes --iface only", err.toString().trim());
    }
}
