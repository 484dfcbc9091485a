package io.crab.lb;

import io.crab.agent.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** crab-lb's --feedback-port and --feedback-key: defaults, and one line and exit 2 for each bad value. */
class FeedbackOptionsTest
{
    @TempDir
    Path dir;

    @Test
    void defaultsAndBadValues() throws Exception
    {
        assertEquals(4750, LbContext.Feedback.of(4750, null).port());
        assertNull(LbContext.Feedback.of(0, null).key(), "port 0: no reports");
        assertEquals("--feedback-port 65536: must be 1..65535, or 0 for no reports",
            assertThrows(ConfigException.class, () -> LbContext.Feedback.of(65536, null)).getMessage());
        assertEquals("--feedback-port -1: must be 1..65535, or 0 for no reports",
            assertThrows(ConfigException.class, () -> LbContext.Feedback.of(-1, null)).getMessage());

        final Path key = dir.resolve("key");
        Files.writeString(key, "0123456789abcdef");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        assertNotNull(LbContext.Feedback.of(4750, key).key());
        assertEquals("--feedback-key needs a --feedback-port (0 takes no reports)",
            assertThrows(ConfigException.class, () -> LbContext.Feedback.of(0, key)).getMessage());
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r-----"));
        assertEquals("--feedback-key " + key + ": group or others may read or write it (rw-r-----); chmod 600 it",
            assertThrows(ConfigException.class, () -> LbContext.Feedback.of(4750, key)).getMessage());
    }

    @Test
    void theCommandLineExitsTwoWithTheLine()
    {
        final StringWriter err = new StringWriter();
        assertEquals(2, CrabLb.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "--iface", "eth0",
            "--vip", "198.19.0.1:80", "--backends", dir.resolve("none").toString(), "--feedback-port", "70000"));
        assertEquals("crab-lb: --feedback-port 70000: must be 1..65535, or 0 for no reports", err.toString().trim());
    }
}
