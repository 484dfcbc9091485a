package io.crab.lb.config;

import io.crab.agent.HostPort;

import java.util.Objects;

/**
 * One backend of a service. Its identity is its target: a service lists a target once, and a change of weight or
 * state is a change of the same backend.
 *
 * @param target address, and a port when it differs from the VIP's (port redirection), else 0.
 * @param weight 1..100: slots in the service's slot table while active.
 * @param state  active, or draining: no new connections.
 * @param line   where it is written in its file, for messages; not part of its identity.
 */
public record BackendConfig(HostPort target, int weight, BackendState state, int line)
{
    public BackendConfig
    {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(state, "state");
    }
}
