package io.crab.lb.config;

import io.crab.agent.HostPort;
import io.crab.agent.OptionKind;
import io.crab.lb.BackendsFile;
import io.crab.lb.LbContext;
import io.crab.lb.Policy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The model's rules, and the --vip/--backends shorthand as services. */
class LbConfigTest
{
    @TempDir
    Path dir;

    @Test
    void theShorthandGivesEveryVipItsOwnServiceOverTheSameBackends() throws Exception
    {
        final Path backendsFile = dir.resolve("backends.txt");
        Files.writeString(backendsFile, "# pool\n198.18.0.101\n198.18.0.102 weight=3\n");
        final LbContext ctx = LbContext.of("eth0", null, List.of("198.19.0.1:80", "198.19.0.2"), backendsFile,
            Policy.HASH, true, LbContext.Limits.DEFAULT, true, OptionKind.DEFAULT, 1000,
            LbContext.Feedback.DEFAULT);

        final LbConfig config = ctx.initial();

        final List<BackendConfig> shared = List.of(
            new BackendConfig(HostPort.parse("198.18.0.101"), 1, BackendState.ACTIVE, 2),
            new BackendConfig(HostPort.parse("198.18.0.102"), 3, BackendState.ACTIVE, 3));
        assertEquals(new LbConfig(List.of(
            new ServiceConfig("vip-198-19-0-1-80", HostPort.parse("198.19.0.1:80"), Policy.HASH, true, shared, 0),
            new ServiceConfig("vip-198-19-0-2", HostPort.parse("198.19.0.2"), Policy.HASH, true, shared, 0))),
            config);
        assertEquals(config, ctx.source().load(), "a reload of the same files gives the same services");
    }

    @Test
    void theShorthandsServicesCanBeWrittenAsAServicesFile() throws Exception
    {
        final LbConfig flags = LbConfig.fromFlags(
            List.of(HostPort.parse("255.255.255.255:65535"), HostPort.parse("198.19.0.2")),
            List.of(new BackendsFile.Backend(HostPort.parse("198.18.0.101"), 2, 1)), Policy.RANDOM, false);
        final StringBuilder text = new StringBuilder();
        for (final ServiceConfig service : flags.services())
        {
            text.append("service ").append(service.name()).append("\n  vip ").append(service.vip())
                .append("\n  policy random\n  backend 198.18.0.101 weight 2\n");
        }
        final Path file = dir.resolve("services.conf");
        Files.writeString(file, text);

        final LbConfig written = ServicesFile.read(file, new ConfigLimits(64, 256, 1024, 256));
        assertEquals(List.of("vip-255-255-255-255-65535", "vip-198-19-0-2"),
            written.services().stream().map(ServiceConfig::name).toList());
        assertEquals(List.of(), ConfigDiff.changes(flags, written));
    }

    @Test
    void namesAndTargetsAreIdentitiesSoEachAppearsOnce()
    {
        final HostPort vip = HostPort.parse("198.19.0.1");
        final BackendConfig backend = new BackendConfig(HostPort.parse("198.18.0.101"), 1, BackendState.ACTIVE, 3);
        final BackendConfig again = new BackendConfig(HostPort.parse("198.18.0.101"), 2, BackendState.DRAINING, 4);
        assertThrows(IllegalArgumentException.class,
            () -> new ServiceConfig("web", vip, Policy.RR, false, List.of(backend, again), 1));
        final ServiceConfig web = new ServiceConfig("web", vip, Policy.RR, false, List.of(backend), 1);
        assertThrows(IllegalArgumentException.class, () -> new LbConfig(List.of(web, web)));
        assertThrows(IllegalArgumentException.class, () -> LbConfig.fromFlags(List.of(vip, vip), List.of(),
            Policy.RR, false));
    }
}
