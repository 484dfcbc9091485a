package io.crab.lb.config;

import io.crab.agent.Cidr;
import io.crab.agent.HostPort;
import io.crab.lb.Policy;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * What changed between two configurations, one human-readable line per change, for the reload log. A service is
 * known by its name and a backend by its target, so reordering services or backends changes nothing, and a
 * renamed service is one removed and one added.
 */
public final class ConfigDiff
{
    /** Targets in address order, then port: 198.18.0.9 before 198.18.0.10, all ports before port 80. */
    private static final Comparator<HostPort> TARGET_ORDER = Comparator
        .comparingLong((HostPort target) -> Integer.toUnsignedLong(HostPort.ipv4Bits(target.address())))
        .thenComparingInt(HostPort::port);

    private ConfigDiff()
    {
    }

    /**
     * The changes from {@code before} to {@code after}, services in name order and, within one, vip, policy,
     * redirect-unmarked, fallback, affinity, allow-from, no-backend, then backends in target order; empty when
     * nothing changed. The order of allowed prefixes means nothing, and changing it is no change.
     */
    public static List<String> changes(final LbConfig before, final LbConfig after)
    {
        final Map<String, ServiceConfig> oldServices = byName(before);
        final Map<String, ServiceConfig> newServices = byName(after);
        final TreeSet<String> names = new TreeSet<>(oldServices.keySet());
        names.addAll(newServices.keySet());
        final List<String> changes = new ArrayList<>();
        for (final String name : names)
        {
            final ServiceConfig oldService = oldServices.get(name);
            final ServiceConfig newService = newServices.get(name);
            if (oldService == null)
            {
                changes.add("service " + name + " added (" + summary(newService) + ")");
            }
            else if (newService == null)
            {
                changes.add("service " + name + " removed");
            }
            else
            {
                serviceChanges(oldService, newService, changes);
            }
        }
        return changes;
    }

    private static void serviceChanges(final ServiceConfig before, final ServiceConfig after,
        final List<String> changes)
    {
        final String prefix = "service " + after.name() + ": ";
        if (!before.vip().equals(after.vip()))
        {
            changes.add(prefix + "vip " + before.vip() + " -> " + after.vip());
        }
        if (before.policy() != after.policy())
        {
            changes.add(prefix + "policy " + before.policy().word() + " -> " + after.policy().word());
        }
        if (before.redirectUnmarked() != after.redirectUnmarked())
        {
            changes.add(prefix + "redirect-unmarked " + onOff(before.redirectUnmarked()) + " -> " +
                onOff(after.redirectUnmarked()));
        }
        if (before.fallback() != after.fallback())
        {
            changes.add(prefix + "fallback " + before.fallback().word() + " -> " + after.fallback().word());
        }
        if (before.affinitySeconds() != after.affinitySeconds())
        {
            changes.add(prefix + "affinity " + before.affinityText() + " -> " + after.affinityText());
        }
        final String allowedBefore = allowed(before);
        final String allowedAfter = allowed(after);
        if (!allowedBefore.equals(allowedAfter))
        {
            changes.add(prefix + "allow-from " + allowedBefore + " -> " + allowedAfter);
        }
        if (before.noBackend() != after.noBackend())
        {
            changes.add(prefix + "no-backend " + before.noBackend().word() + " -> " + after.noBackend().word());
        }
        final Map<HostPort, BackendConfig> oldBackends = byTarget(before);
        final Map<HostPort, BackendConfig> newBackends = byTarget(after);
        final TreeSet<HostPort> targets = new TreeSet<>(TARGET_ORDER);
        targets.addAll(oldBackends.keySet());
        targets.addAll(newBackends.keySet());
        for (final HostPort target : targets)
        {
            final BackendConfig oldBackend = oldBackends.get(target);
            final BackendConfig newBackend = newBackends.get(target);
            final String backend = prefix + "backend " + target;
            if (oldBackend == null)
            {
                changes.add(backend + " added (weight " + newBackend.weight() +
                    (newBackend.state() == BackendState.DRAINING ? ", draining)" : ")"));
            }
            else if (newBackend == null)
            {
                changes.add(backend + " removed");
            }
            else
            {
                if (oldBackend.weight() != newBackend.weight())
                {
                    changes.add(backend + " weight " + oldBackend.weight() + " -> " + newBackend.weight());
                }
                if (oldBackend.state() != newBackend.state())
                {
                    changes.add(backend + " " + oldBackend.state().word() + " -> " + newBackend.state().word());
                }
            }
        }
    }

    private static String summary(final ServiceConfig service)
    {
        final int count = service.backends().size();
        final long draining = service.backends().stream().filter(b -> b.state() == BackendState.DRAINING).count();
        return "vip " + service.vip() + ", " + (count == 0 ? "no backends" : count == 1 ? "1 backend" :
            count + " backends") + (draining == 0 ? "" : ", " + draining + " draining") +
            (service.affinitySeconds() == 0 ? "" : ", affinity " + service.affinityText()) +
            (service.allowFrom().isEmpty() ? "" : ", allow-from " + allowed(service)) +
            (service.noBackend() == NoBackendAction.PASS ? "" : ", no-backend " + service.noBackend().word());
    }

    /** The service's allowed prefixes in address order, then length, or "every client". */
    private static String allowed(final ServiceConfig service)
    {
        if (service.allowFrom().isEmpty())
        {
            return "every client";
        }
        return service.allowFrom().stream()
            .sorted(Comparator.comparingLong((Cidr c) -> Integer.toUnsignedLong(HostPort.ipv4Bits(c.address())))
                .thenComparingInt(Cidr::length))
            .map(Cidr::toString).collect(Collectors.joining(","));
    }

    private static Map<String, ServiceConfig> byName(final LbConfig config)
    {
        final Map<String, ServiceConfig> services = new TreeMap<>();
        for (final ServiceConfig service : config.services())
        {
            services.put(service.name(), service);
        }
        return services;
    }

    private static Map<HostPort, BackendConfig> byTarget(final ServiceConfig service)
    {
        final Map<HostPort, BackendConfig> backends = new TreeMap<>(TARGET_ORDER);
        for (final BackendConfig backend : service.backends())
        {
            backends.put(backend.target(), backend);
        }
        return backends;
    }

    private static String onOff(final boolean flag)
    {
        return flag ? "on" : "off";
    }
}
