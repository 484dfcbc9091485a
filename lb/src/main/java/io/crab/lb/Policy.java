package io.crab.lb;

import io.crab.bpf.Abi;

/** How the LB picks a backend for a new connection; values are enum crab_policy. */
public enum Policy
{
    RR(Abi.Consts.CRAB_POLICY_RR), RANDOM(Abi.Consts.CRAB_POLICY_RANDOM), HASH(Abi.Consts.CRAB_POLICY_HASH);

    private final int code;

    Policy(final int code)
    {
        this.code = code;
    }

    public int code()
    {
        return code;
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
