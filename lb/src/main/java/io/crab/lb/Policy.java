package io.crab.lb;

import io.crab.bpf.Abi;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * How the LB picks a backend for a new connection; values are enum crab_policy. rr, random and hash pick from the
 * weighted slot table; jsq and p2c compare the backends' loads (their servers' reports plus what the LB gave them
 * since) per unit of weight.
 */
public enum Policy
{
    RR(Abi.Consts.CRAB_POLICY_RR), RANDOM(Abi.Consts.CRAB_POLICY_RANDOM), HASH(Abi.Consts.CRAB_POLICY_HASH),
    JSQ(Abi.Consts.CRAB_POLICY_JSQ), P2C(Abi.Consts.CRAB_POLICY_P2C);

    private final int code;

    Policy(final int code)
    {
        this.code = code;
    }

    public int code()
    {
        return code;
    }

    /** Its name in a services file, on a command line and in status: rr, random, hash, jsq or p2c. */
    public String word()
    {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether it reads the servers' load reports, so its backends' endpoints should send them. */
    public boolean loadAware()
    {
        return this == JSQ || this == P2C;
    }

    /** The policy whose {@link #word} this is, exactly. */
    public static Optional<Policy> ofWord(final String word)
    {
        for (final Policy p : values())
        {
            if (p.word().equals(word))
            {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** The policy whose {@link #word} this is; else a message naming the word and the words there are. */
    public static Policy parse(final String word)
    {
        return ofWord(word).orElseThrow(() -> new IllegalArgumentException("unknown policy '" + word +
            "' (expected " + Arrays.stream(values()).map(Policy::word).collect(Collectors.joining(", ")) + ")"));
    }

    public static Policy ofCode(final int code)
    {
        for (final Policy p : values())
        {
            if (p.code == code)
            {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown policy code " + code);
    }
}
