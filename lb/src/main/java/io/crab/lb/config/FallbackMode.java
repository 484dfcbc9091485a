package io.crab.lb.config;

import java.util.Locale;
import java.util.Optional;

/**
 * How the hashing fallback (clients without crab) reaches a service's backends.
 * <ul>
 * <li>{@code dsr}, the default: the packet goes unchanged to the backend's MAC; the backend is on the LB's link,
 * holds the VIP on a local interface and listens on the VIP's port.</li>
 * <li>{@code translate}: the packet is rewritten to the backend's address and port and routed to it, any number of
 * hops away; the SYN tells the backend's crab-endpoint server which VIP and port the client addressed, and the
 * backend answers from them, directly.</li>
 * </ul>
 */
public enum FallbackMode
{
    DSR, TRANSLATE;

    /** Its name in a services file and in change lines. */
    public String word()
    {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The mode whose {@link #word} this is, exactly. */
    public static Optional<FallbackMode> ofWord(final String word)
    {
        for (final FallbackMode m : values())
        {
            if (m.word().equals(word))
            {
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }
}
