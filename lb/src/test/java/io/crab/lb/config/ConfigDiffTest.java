package io.crab.lb.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The reload log's change lines: one per change, in a stable order, and none for what only moved. */
class ConfigDiffTest
{
    private static final String BASE = """
        service web
            vip 198.19.0.1:80
            backend 198.18.0.101 weight 2
            backend 198.18.0.102:8080
        service db
            vip 198.19.0.2:5432
            backend 198.18.0.103
        """;

    @TempDir
    Path dir;

    @Test
    void anIdenticalConfigHasNoChanges() throws Exception
    {
        assertEquals(List.of(), ConfigDiff.changes(read(BASE), read(BASE)));
    }

    @Test
    void reorderedServicesAndBackendsWithOtherCommentsAndDefaultsSpelledOutAreNoChange() throws Exception
    {
        final String reordered = """
            # the database first now
            service db
              backend 198.18.0.103 weight 1
              vip 198.19.0.2:5432

            service web
              policy rr
              backend 198.18.0.102:8080   # moved up
              vip 198.19.0.1:80
              backend 198.18.0.101 weight 2
            """;
        assertEquals(List.of(), ConfigDiff.changes(read(BASE), read(reordered)));
    }

    @Test
    void allowFromAndNoBackendChangesAreOneLineEachAndTheOrderOfPrefixesIsNoChange() throws Exception
    {
        final String restricted = BASE.replace("    vip 198.19.0.1:80\n",
            "    vip 198.19.0.1:80\n    allow-from 198.18.5.7/32, 198.18.0.0/24\n");
        assertChanges(restricted, "service web: allow-from every client -> 198.18.0.0/24,198.18.5.7/32");
        assertEquals(List.of(), ConfigDiff.changes(read(restricted), read(restricted.replace(
            "198.18.5.7/32, 198.18.0.0/24", "198.18.0.0/24\n    allow-from 198.18.5.7/32"))));
        assertEquals(List.of("service web: allow-from 198.18.0.0/24,198.18.5.7/32 -> 198.18.5.7/32,198.18.6.0/24"),
            ConfigDiff.changes(read(restricted), read(restricted.replace("198.18.0.0/24", "198.18.6.0/24"))));
        assertEquals(List.of("service web: allow-from 198.18.0.0/24,198.18.5.7/32 -> every client"),
            ConfigDiff.changes(read(restricted), read(BASE)));
        assertChanges(BASE.replace("    vip 198.19.0.2:5432\n", "    vip 198.19.0.2:5432\n    no-backend drop\n"),
            "service db: no-backend pass -> drop");
        assertChanges(BASE + "service lb\n    vip 198.19.0.3:80\n    allow-from 10.0.0.0/8\n    no-backend drop\n",
            "service lb added (vip 198.19.0.3:80, no backends, allow-from 10.0.0.0/8, no-backend drop)");
    }

    @Test
    void backendChanges() throws Exception
    {
        assertChanges(BASE.replace("198.18.0.102:8080", "198.18.0.102:8080 weight 3"),
            "service web: backend 198.18.0.102:8080 weight 1 -> 3");
        assertChanges(BASE.replace("198.18.0.102:8080", "198.18.0.102:8080 draining"),
            "service web: backend 198.18.0.102:8080 active -> draining");
        assertChanges(BASE.replace("198.18.0.101 weight 2", "198.18.0.101 weight 1 draining"),
            "service web: backend 198.18.0.101 weight 2 -> 1",
            "service web: backend 198.18.0.101 active -> draining");
        assertChanges(BASE + "    backend 198.18.0.104\n",
            "service db: backend 198.18.0.104 added (weight 1)");
        assertChanges(BASE + "    backend 198.18.0.104 weight 4 draining\n",
            "service db: backend 198.18.0.104 added (weight 4, draining)");
        assertChanges(BASE.replace("    backend 198.18.0.101 weight 2\n", ""),
            "service web: backend 198.18.0.101 removed");
        assertChanges(BASE.replace("198.18.0.102:8080", "198.18.0.102:8081"),
            "service web: backend 198.18.0.102:8080 removed",
            "service web: backend 198.18.0.102:8081 added (weight 1)");
        final String draining = BASE.replace("198.18.0.103", "198.18.0.103 draining");
        assertEquals(List.of("service db: backend 198.18.0.103 draining -> active"),
            ConfigDiff.changes(read(draining), read(BASE)));
    }

    @Test
    void serviceChanges() throws Exception
    {
        assertChanges(BASE.replace("vip 198.19.0.1:80", "vip 198.19.0.9:80"),
            "service web: vip 198.19.0.1:80 -> 198.19.0.9:80");
        assertChanges(BASE.replace("vip 198.19.0.1:80", "vip 198.19.0.1:80\npolicy hash"),
            "service web: policy rr -> hash");
        assertChanges(BASE.replace("vip 198.19.0.1:80", "vip 198.19.0.1:80\nredirect-unmarked"),
            "service web: redirect-unmarked off -> on");
        assertChanges(BASE.replace("vip 198.19.0.1:80", "vip 198.19.0.1:80\nfallback translate"),
            "service web: fallback dsr -> translate");
        assertChanges(BASE.replace("vip 198.19.0.1:80", "vip 198.19.0.1:80\naffinity client-ip"),
            "service web: affinity none -> client-ip 3h");
        final String sticky = BASE.replace("vip 198.19.0.1:80", "vip 198.19.0.1:80\naffinity client-ip 10800s");
        assertEquals(List.of(), ConfigDiff.changes(read(sticky), read(sticky.replace("10800s", "3h"))),
            "the same timeout, written otherwise");
        assertEquals(List.of("service web: affinity client-ip 3h -> client-ip 90s"),
            ConfigDiff.changes(read(sticky), read(sticky.replace("10800s", "90s"))));
        assertEquals(List.of("service web: affinity client-ip 3h -> none"),
            ConfigDiff.changes(read(sticky), read(BASE)));
        assertChanges(BASE + "service sticky\n vip 198.19.0.5:80\n affinity client-ip 10m\n backend 198.18.0.5\n",
            "service sticky added (vip 198.19.0.5:80, 1 backend, affinity client-ip 10m)");
        assertChanges(BASE + "service cache\n vip 198.19.0.3\n backend 198.18.0.5\n backend 198.18.0.6 draining\n",
            "service cache added (vip 198.19.0.3, 2 backends, 1 draining)");
        assertChanges(BASE + "service spare\n vip 198.19.0.4:443\n",
            "service spare added (vip 198.19.0.4:443, no backends)");
        assertChanges(BASE.substring(0, BASE.indexOf("service db")), "service db removed");
        assertChanges(BASE.replace("service db", "service database"),
            "service database added (vip 198.19.0.2:5432, 1 backend)", "service db removed");
    }

    @Test
    void manyChangesComeByServiceNameThenSettingThenBackendAddress() throws Exception
    {
        final String before = """
            service zeta
              vip 198.19.0.1:8080
              policy random
              backend 198.18.0.10
              backend 198.18.0.9:80
            service alpha
              vip 198.19.0.2:80
              backend 198.18.0.200
            """;
        final String after = """
            service beta
              vip 198.19.0.3:80
            service zeta
              vip 198.19.0.1:443
              policy hash
              redirect-unmarked
              backend 198.18.0.9 weight 5
              backend 198.18.0.10 draining
              backend 198.18.0.9:80 weight 2
            """;
        assertEquals(List.of(
            "service alpha removed",
            "service beta added (vip 198.19.0.3:80, no backends)",
            "service zeta: vip 198.19.0.1:8080 -> 198.19.0.1:443",
            "service zeta: policy random -> hash",
            "service zeta: redirect-unmarked off -> on",
            "service zeta: backend 198.18.0.9 added (weight 5)",
            "service zeta: backend 198.18.0.9:80 weight 1 -> 2",
            "service zeta: backend 198.18.0.10 active -> draining"), ConfigDiff.changes(read(before), read(after)));
        assertEquals(List.of(
            "service alpha added (vip 198.19.0.2:80, 1 backend)",
            "service beta removed",
            "service zeta: vip 198.19.0.1:443 -> 198.19.0.1:8080",
            "service zeta: policy hash -> random",
            "service zeta: redirect-unmarked on -> off",
            "service zeta: backend 198.18.0.9 removed",
            "service zeta: backend 198.18.0.9:80 weight 2 -> 1",
            "service zeta: backend 198.18.0.10 draining -> active"), ConfigDiff.changes(read(after), read(before)));
    }

    private void assertChanges(final String after, final String... expected) throws Exception
    {
        assertEquals(List.of(expected), ConfigDiff.changes(read(BASE), read(after)));
    }

    private LbConfig read(final String content) throws Exception
    {
        final Path file = Files.createTempFile(dir, "services", ".conf");
        Files.writeString(file, content);
        return ServicesFile.read(file, new ConfigLimits(64, 256, 1024, 256));
    }
}
