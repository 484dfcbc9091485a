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
 * @param allowFrom        the client prefixes the service admits, each once; empty admits every client.
 * @param noBackend        what becomes of a new connection's packets when no backend can take it.
 * @param backends         in file order, each target once; may be empty (the service takes no connections).
 * @param line             where the service starts in its file, for messages; 0 when made from flags.
 */
public record ServiceConfig(String name, HostPort vip, Policy policy, boolean redirectUnmarked,
    FallbackMode fallback, List<Cidr> allowFrom, NoBackendAction noBackend, List<BackendConfig> backends, int line)
{
    public ServiceConfig
    {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(vip, "vip");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(fallback, "fallback");
        Objects.requireNonNull(noBackend, "noBackend");
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

    /** A service whose fallback is direct server return, the default, open to every client. */
    public ServiceConfig(final String name, final HostPort vip, final Policy policy, final boolean redirectUnmarked,
        final List<BackendConfig> backends, final int line)
    {
        this(name, vip, policy, redirectUnmarked, FallbackMode.DSR, backends, line);
    }

    /** A service open to every client, whose packets go to the LB host's stack while it has no backend. */
    public ServiceConfig(final String name, final HostPort vip, final Policy policy, final boolean redirectUnmarked,
        final FallbackMode fallback, final List<BackendConfig> backends, final int line)
    {
        this(name, vip, policy, redirectUnmarked, fallback, List.of(), NoBackendAction.PASS, backends, line);
    }

    /** The same service over other backends: every other setting kept, whatever settings a service gains. */
    public ServiceConfig withBackends(final List<BackendConfig> others)
    {
        return new ServiceConfig(name, vip, policy, redirectUnmarked, fallback, allowFrom, noBackend, others, line);
    }
}
