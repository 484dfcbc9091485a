package io.crab.endpoint.pods;

import io.crab.agent.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** What the pods manager is told is checked when the context is made, each problem named in one line. */
class PodEndpointsContextTest
{
    private static final PodEndpoints.Context DEFAULTS = PodEndpoints.Context.defaults();

    @TempDir
    Path tmp;

    @Test
    void theDefaultsAreTheRuntimesDirectoryAndEth0()
    {
        assertEquals(Path.of("/var/run/netns"), DEFAULTS.netnsDir());
        assertEquals("eth0", DEFAULTS.iface());
        assertEquals(Path.of("/sys/fs/bpf/crab-pods"), DEFAULTS.stateDir());
        assertEquals(250_000_000L, DEFAULTS.scanIntervalNs());
    }

    @Test
    void aNetnsDirThatDoesNotExistYetIsTakenAndARelativeOneMadeAbsolute()
    {
        assertEquals(tmp.resolve("later"), DEFAULTS.withNetnsDir(tmp.resolve("later")).netnsDir());
        assertEquals(Path.of("").toAbsolutePath().resolve("netns"), DEFAULTS.withNetnsDir(Path.of("netns"))
            .netnsDir());
    }

    @Test
    void aNetnsDirThatIsAFileIsRefused() throws IOException
    {
        final Path file = Files.createFile(tmp.resolve("netns"));
        assertEquals("--pod-netns-dir " + file + ": not a directory",
            assertThrows(ConfigException.class, () -> DEFAULTS.withNetnsDir(file)).getMessage());
    }

    @Test
    void anInterfaceNameTheKernelWouldRefuseIsRefused()
    {
        for (final String bad : new String[] {"", "a/b", "eth0:1", "eth 0", "..", "abcdefghijklmnop"})
        {
            assertEquals("--pod-iface " + bad + ": not an interface name (1 to 15 bytes, no '/', ':' or white space)",
                assertThrows(ConfigException.class, () -> DEFAULTS.withIface(bad)).getMessage(), bad);
        }
        assertEquals("abcdefghijklmno", DEFAULTS.withIface("abcdefghijklmno").iface());
    }

    @Test
    void tableSizesOutsideTheirRangesAreRefused()
    {
        assertEquals("pod flow table size 1023: must be 1024..16777216",
            assertThrows(ConfigException.class, () -> DEFAULTS.withSizes(1023, 10)).getMessage());
        assertEquals("pod VIP table size 0: must be 1..65536",
            assertThrows(ConfigException.class, () -> DEFAULTS.withSizes(1024, 0)).getMessage());
        assertEquals("pod VIP table size 65537: must be 1..65536",
            assertThrows(ConfigException.class, () -> DEFAULTS.withSizes(1024, 65537)).getMessage());
    }

    @Test
    void intervalsMustBePositive()
    {
        assertThrows(ConfigException.class, () -> DEFAULTS.withIntervals(0, 1));
        assertThrows(ConfigException.class, () -> DEFAULTS.withIntervals(1, -1));
    }
}
