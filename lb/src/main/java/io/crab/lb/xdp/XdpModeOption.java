package io.crab.lb.xdp;

import java.util.Locale;
import java.util.Optional;

/**
 * {@code --xdp-mode}: {@link #AUTO} lets crab-lb choose (native where the driver has it and XDP_TX works, else
 * generic, and a running attachment's mode kept); {@link #NATIVE} and {@link #GENERIC} ask for that mode.
 */
public enum XdpModeOption
{
    AUTO,
    NATIVE,
    GENERIC;

    /** Its word on the command line: auto, native or generic. */
    public String word()
    {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The option whose {@link #word} this is, exactly; refused with a message that lists the words. */
    public static XdpModeOption parse(final String word)
    {
        return ofWord(word).orElseThrow(() -> new IllegalArgumentException("unknown XDP mode '" + word +
            "' (expected auto, native, generic)"));
    }

    /** The option whose {@link #word} this is, exactly. */
    public static Optional<XdpModeOption> ofWord(final String word)
    {
        for (final XdpModeOption option : values())
        {
            if (option.word().equals(word))
            {
                return Optional.of(option);
            }
        }
        return Optional.empty();
    }
}
