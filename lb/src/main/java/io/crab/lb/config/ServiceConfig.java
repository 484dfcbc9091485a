package io.crab.lb.config;

import io.crab.agent.Cidr;
import io.crab.agent.HostPort;
import io.crab.lb.Policy;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A service: a VIP, with or without a port, balanced over its own backends. Its identity is its name.
 *
 * @param name             [a-z0-9][a-z0-9-]*, at most 32 characters, unique in a configuration.
 * @param vip              the address, and the port, or 0 for every TCP port of the address.
 * @param policy           how a new connection picks a backend.
 * @param redirectUnmarked also redirect SYNs that carry no client marker.
 * @param fallback         how the hashing fallback reaches the backends (direct server return by default).
 * @param affinitySeconds  ClientIP affinity: each client's connections go to the backend it was last given while
 *                         that backend stays in the table, until it has opened none for this many seconds
 *                         (1..{@link #MAX_AFFINITY_SECONDS}); 0 for none, the default.
 * @param allowFrom        the client prefixes the service admits, each once; empty admits every client.
 * @param noBackend        what becomes of a new connection's packets when no backend can take it.
 * @param backends         in file order, each target once; may be empty (the service takes no connections).
 * @param line             where the service starts in its file, for messages; 0 when made from flags.
 */
public record ServiceConfig(String name, HostPort vip, Policy policy, boolean redirectUnmarked,
    FallbackMode fallback, int affinitySeconds, List<Cidr> allowFrom, NoBackendAction noBackend,
    List<BackendConfig> backends, int line)
{
    /** The longest affinity timeout, a day: what Kubernetes allows for sessionAffinityConfig.clientIP. */
    public static final int MAX_AFFINITY_SECONDS = 86400;
    /** The timeout of {@code affinity client-ip} without one: three hours, as Kubernetes' default. */
    public static final int DEFAULT_AFFINITY_SECONDS = 10800;

    public ServiceConfig
    {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(vip, "vip");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(fallback, "fallback");
        Objects.requireNonNull(noBackend, "noBackend");
        if (affinitySeconds < 0 || affinitySeconds > MAX_AFFINITY_SECONDS)
        {
            throw new IllegalArgumentException("service " + name + ": affinity timeout " + affinitySeconds +
                " s, not 0 (none) or 1.." + MAX_AFFINITY_SECONDS);
        }
        allowFrom = List.copyOf(allowFrom);
        if (new HashSet<>(allowFrom).size() != allowFrom.size())
        {
            throw new IllegalArgumentException("service " + name + ": a prefix allowed twice in " + allowFrom);
        }
        backends = List.copyOf(backends);
        final Set<HostPort> targets = new HashSet<>();
        for (final BackendConfig backend : backends)
        {
            if (!targets.add(backend.target()))
            {
                throw new IllegalArgumentException("service " + name + ": backend " + backend.target() + " twice");
            }
        }
    }

    /** A service with the defaults: direct server return, no affinity, open to every client, passing when empty. */
    public ServiceConfig(final String name, final HostPort vip, final Policy policy, final boolean redirectUnmarked,
        final List<BackendConfig> backends, final int line)
    {
        this(name, vip, policy, redirectUnmarked, FallbackMode.DSR, backends, line);
    }

    /** A service with its fallback and the other defaults. */
    public ServiceConfig(final String name, final HostPort vip, final Policy policy, final boolean redirectUnmarked,
        final FallbackMode fallback, final List<BackendConfig> backends, final int line)
    {
        this(name, vip, policy, redirectUnmarked, fallback, 0, backends, line);
    }

    /** A service with its fallback and affinity, open to every client, passing when empty. */
    public ServiceConfig(final String name, final HostPort vip, final Policy policy, final boolean redirectUnmarked,
        final FallbackMode fallback, final int affinitySeconds, final List<BackendConfig> backends, final int line)
    {
        this(name, vip, policy, redirectUnmarked, fallback, affinitySeconds, List.of(), NoBackendAction.PASS,
            backends, line);
    }

    /** A service with its fallback and admission, without affinity. */
    public ServiceConfig(final String name, final HostPort vip, final Policy policy, final boolean redirectUnmarked,
        final FallbackMode fallback, final List<Cidr> allowFrom, final NoBackendAction noBackend,
        final List<BackendConfig> backends, final int line)
    {
        this(name, vip, policy, redirectUnmarked, fallback, 0, allowFrom, noBackend, backends, line);
    }

    /** The same service over other backends: every other setting kept, whatever settings a service gains. */
    public ServiceConfig withBackends(final List<BackendConfig> others)
    {
        return new ServiceConfig(name, vip, policy, redirectUnmarked, fallback, affinitySeconds, allowFrom, noBackend,
            others, line);
    }

    /** How a services file writes this service's affinity: {@code none}, or {@code client-ip} and its timeout. */
    public String affinityText()
    {
        return affinitySeconds == 0 ? "none" : "client-ip " + seconds(affinitySeconds);
    }

    /** Seconds in the largest unit that writes them whole: {@code 3h}, {@code 90m}, {@code 45s}. */
    public static String seconds(final int seconds)
    {
        return seconds % 3600 == 0 ? seconds / 3600 + "h" : seconds % 60 == 0 ? seconds / 60 + "m" : seconds + "s";
    }
}
