package io.crab.lb.config;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.lb.Policy;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The checks of a configuration no file was read for: the limits a services file checks line by line. */
class ConfigLimitsTest
{
    private static final ConfigLimits LIMITS = new ConfigLimits(2, 3, 4, 5);

    private static ServiceConfig service(final String name, final String vip, final String... backends)
    {
        final List<BackendConfig> list = new ArrayList<>();
        for (final String backend : backends)
        {
            final String[] parts = backend.split(" ");
            list.add(new BackendConfig(HostPort.parse(parts[0]), parts.length > 1 ? Integer.parseInt(parts[1]) : 1,
                parts.length > 2 ? BackendState.DRAINING : BackendState.ACTIVE, 0));
        }
        return new ServiceConfig(name, HostPort.parse(vip), Policy.RR, false, list, 0);
    }

    private static String problem(final ServiceConfig... services)
    {
        return assertThrows(ConfigException.class, () -> LIMITS.check(new LbConfig(List.of(services)))).getMessage();
    }

    @Test
    void aConfigurationWithinTheLimitsPasses()
    {
        assertDoesNotThrow(() -> LIMITS.check(new LbConfig(List.of(
            service("a", "198.19.0.1:80", "198.18.0.1", "198.18.0.2 3", "198.18.0.3 9 draining"),
            service("b", "198.19.0.1:81", "198.18.0.4")))));
        assertDoesNotThrow(() -> LIMITS.check(new LbConfig(List.of())), "no services at all is a cluster without any");
    }

    @Test
    void eachLimitNamesItsOption()
    {
        assertEquals("3 services, more than the 2 that fit (--max-services)", problem(
            service("a", "198.19.0.1:80"), service("b", "198.19.0.2:80"), service("c", "198.19.0.3:80")));
        assertEquals("service a: 4 backends, more than the 3 of a service (--max-backends)", problem(
            service("a", "198.19.0.1:80", "198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4")));
        assertEquals("service b: more than 4 distinct backends over all services (--max-backends)", problem(
            service("a", "198.19.0.1:80", "198.18.0.1", "198.18.0.2", "198.18.0.3"),
            service("b", "198.19.0.2:80", "198.18.0.1", "198.18.0.4", "198.18.0.5")));
        assertEquals("service a: weights of active backends add up to 6, more than the 5 slots of a service " +
            "(--max-slots)", problem(service("a", "198.19.0.1:80", "198.18.0.1 3", "198.18.0.2 3")));
    }

    @Test
    void twoServicesCannotShareAVip()
    {
        assertEquals("service b: vip 198.19.0.1:80 overlaps service a's vip 198.19.0.1:80",
            problem(service("a", "198.19.0.1:80"), service("b", "198.19.0.1:80")));
        assertEquals("service b: vip 198.19.0.1 overlaps service a's vip 198.19.0.1:80",
            problem(service("a", "198.19.0.1:80"), service("b", "198.19.0.1")));
        assertEquals("service b: vip 198.19.0.1:80 overlaps service a's vip 198.19.0.1",
            problem(service("a", "198.19.0.1"), service("b", "198.19.0.1:80")));
    }
}
