package io.crab.lb.config;

import java.util.Locale;
import java.util.Optional;

/**
 * What becomes of a new connection's packets when its service has no backend to place it on (none configured,
 * none healthy, all draining).
 * <ul>
 * <li>{@code pass}, the default: to the LB host's own stack, which has no socket for the VIP and answers with a
 * reset, so the client is refused at once (kube-proxy rejects a Service without endpoints alike).</li>
 * <li>{@code drop}: dropped and counted, so the client hears nothing and times out (kube-proxy drops the traffic of
 * a Service whose traffic policy is Local when this node has none of its endpoints).</li>
 * </ul>
 */
public enum NoBackendAction
{
    PASS, DROP;

    /** Its name in a services file and in change lines. */
    public String word()
    {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The action whose {@link #word} this is, exactly. */
    public static Optional<NoBackendAction> ofWord(final String word)
    {
        for (final NoBackendAction a : values())
        {
            if (a.word().equals(word))
            {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }
}
