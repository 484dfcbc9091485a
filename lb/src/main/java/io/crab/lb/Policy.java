package io.crab.lb;

import io.crab.bpf.Abi;

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
