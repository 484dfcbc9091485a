package io.crab.k8s;

import io.crab.lb.config.ConfigLimits;
import io.crab.lb.config.LbConfig;
import io.crab.agent.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.crab.k8s.Fixtures.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * crab-k8s's mistakes on the command line: exit 2 and one line naming the option and the value, before anything
 * talks to the cluster or the kernel; and a cluster whose services do not fit the LB's maps, refused at start as
 * crab-lb refuses a services file, and at a reload without changing what runs.
 */
class CrabK8sCommandLineTest
{
    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private void assertUsageError(final String line, final String... args)
    {
        final int code = CrabK8s.run(new PrintWriter(out), new PrintWriter(err), args);
        assertEquals(line + System.lineSeparator(), err.toString(), "exactly one line");
        assertEquals(2, code);
        assertEquals("", out.toString());
        err.getBuffer().setLength(0);
    }

    @Test
    void aBadNodePortRangeIsOneLine()
    {
        assertUsageError("crab-k8s: --node-port-range '30000': expected LOW-HIGH, e.g. 30000-32767",
            "--node-name", NODE, "--node-port-range", "30000");
        assertUsageError("crab-k8s: --node-port-range '32767-30000': the low end is above the high end",
            "--node-name", NODE, "--node-port-range", "32767-30000");
        assertUsageError("crab-k8s: --node-port-range '0-100': '0' must be 1..65535",
            "--node-name", NODE, "--node-port-range", "0-100");
        assertUsageError("crab-k8s: --node-port-range '30000-+32767': '+32767' is not a number (digits 0-9 only)",
            "--node-name", NODE, "--node-port-range", "30000-+32767");
        assertUsageError("crab-k8s: --node-port-range '30000-032767': '032767' has a leading zero",
            "--node-name", NODE, "--node-port-range", "30000-032767");
    }

    @Test
    void everyOtherOptionIsReadStrictlyToo() throws IOException
    {
        Files.writeString(dir.resolve("file"), "");
        assertUsageError("crab-k8s: --node-name is required (or the environment variable NODE_NAME)",
            "--node-name", "");
        assertUsageError("crab-k8s: --proxy-name 'my proxy': not a label value (1-63 of A-Z a-z 0-9 - _ ., starting " +
            "and ending with a letter or digit)", "--node-name", NODE, "--proxy-name", "my proxy");
        assertUsageError("crab-k8s: --health-check-address '010.0.0.1': not an IPv4 address ('010' has a leading " +
            "zero, which some tools read as octal)", "--node-name", NODE, "--health-check-address", "010.0.0.1");
        assertUsageError("crab-k8s: --pod-iface 'eth0/1': not an interface name",
            "--node-name", NODE, "--pod-iface", "eth0/1");
        assertUsageError("crab-k8s: --lb-iface 'a-very-long-interface': not an interface name",
            "--node-name", NODE, "--lb-iface", "a-very-long-interface");
        assertUsageError("crab-k8s: --pod-netns-dir " + dir.resolve("file") + ": not a directory",
            "--node-name", NODE, "--pod-netns-dir", dir.resolve("file").toString());
        assertUsageError("crab-k8s: --pod-state-dir " + dir.resolve("file") + ": not a directory",
            "--node-name", NODE, "--pod-state-dir", dir.resolve("file").toString());
        assertUsageError("crab-k8s: --max-services 0: must be 1..65536", "--node-name", NODE, "--lb-iface", "eth0",
            "--max-services", "0");
        assertUsageError("crab-k8s: --kubeconfig " + dir.resolve("nope") + ": no such file",
            "--node-name", NODE, "--kubeconfig", dir.resolve("nope").toString());
        assertUsageError("crab-k8s: unknown option '--node-port-ragne' (did you mean --node-name or --node-port-range?)",
            "--node-name", NODE, "--node-port-ragne", "1-2");
    }

    @Test
    void aKubeconfigThatIsNotOneNamesTheFile() throws Exception
    {
        final Path file = Files.writeString(dir.resolve("kubeconfig"), "clusters: [unclosed\n");
        final int code = CrabK8s.run(new PrintWriter(out), new PrintWriter(err), "--node-name", NODE,
            "--kubeconfig", file.toString());
        assertEquals(2, code);
        assertTrue(err.toString().startsWith("crab-k8s: --kubeconfig " + file + ": not a kubeconfig file (while " +
            "parsing a flow sequence in reader, line 1, column 11:"), err::toString);
        assertEquals(1, err.toString().lines().count(), err::toString);
    }

    @Test
    void aNodeTheClusterDoesNotHaveIsOneLine() throws Exception
    {
        try (MockCluster cluster = new MockCluster())
        {
            assertUsageError("crab-k8s: --node-name node-x: the cluster at " + cluster.url() + "/ has no Node of " +
                "that name", "--node-name", "node-x", "--kubeconfig", cluster.kubeconfig(dir).toString());
        }
    }

    @Test
    void aClusterWithMoreServicesThanTheLbHoldsIsRefusedAtStartBeforeTheKernelIsTouched() throws Exception
    {
        try (MockCluster cluster = new MockCluster())
        {
            cluster.put(MockCluster.node(NODE, "zone-a", "192.168.1.10"));
            cluster.put(clusterIp("web", "10.96.0.10", port("http", 80)));
            cluster.put(clusterIp("api", "10.96.0.11", port("http", 80)));
            cluster.put(clusterIp("db", "10.96.0.12", port("sql", 5432)));
            // no-such-iface: were the interface looked at, the message would be about it.
            assertUsageError("crab-k8s: 3 services, more than the 2 that fit (--max-services)", "--node-name", NODE,
                "--kubeconfig", cluster.kubeconfig(dir).toString(), "--lb-iface", "no-such-iface",
                "--max-services", "2");
        }
    }

    @Test
    void aReloadThatDoesNotFitIsRefusedAndTheNextOneThatFitsIsTaken()
    {
        final LbConfig one = DesiredServices.of(List.of(clusterIp("web", "10.96.0.10", port("http", 80))),
            List.of(), NODE_A).lbConfig();
        final LbConfig two = DesiredServices.of(List.of(clusterIp("web", "10.96.0.10", port("http", 80)),
            clusterIp("api", "10.96.0.11", port("http", 80))), List.of(), NODE_A).lbConfig();
        final ClusterConfigSource source = new ClusterConfigSource(new ConfigLimits(1, 8, 8, 8), one);
        assertEquals(one, source.load());
        assertFalse(source.offer(one), "the same services again: no reload");
        assertTrue(source.offer(two));
        assertEquals("2 services, more than the 1 that fit (--max-services)",
            assertThrows(ConfigException.class, source::load).getMessage(), "crab-lb's agent logs and counts this");
        assertTrue(source.offer(one));
        assertEquals(one, source.load());
        assertEquals(null, source.file(), "not a file: nothing to watch");
    }
}
