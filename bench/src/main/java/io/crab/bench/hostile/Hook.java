package io.crab.bench.hostile;

import io.crab.bpf.Abi;

import java.util.Map;
import java.util.Set;

/** Where a program runs: the return values it may give there, and what each means for the frame. */
enum Hook
{
    XDP(Set.of(Hook.XDP_DROP, Hook.XDP_PASS, Hook.XDP_TX, Hook.XDP_REDIRECT),
        Map.of(0, "XDP_ABORTED", Hook.XDP_DROP, "XDP_DROP", Hook.XDP_PASS, "XDP_PASS", Hook.XDP_TX, "XDP_TX",
            Hook.XDP_REDIRECT, "XDP_REDIRECT")),
    TC(Set.of(Hook.TCX_NEXT, Hook.TC_ACT_OK, Hook.TC_ACT_SHOT, Hook.TC_ACT_REDIRECT),
        Map.of(Hook.TCX_NEXT, "TCX_NEXT", Hook.TC_ACT_OK, "TC_ACT_OK", 1, "TC_ACT_RECLASSIFY",
            Hook.TC_ACT_SHOT, "TC_ACT_SHOT", 3, "TC_ACT_PIPE", 4, "TC_ACT_STOLEN", 5, "TC_ACT_QUEUED",
            6, "TC_ACT_REPEAT", Hook.TC_ACT_REDIRECT, "TC_ACT_REDIRECT"));

    static final int XDP_DROP = 1;
    static final int XDP_PASS = 2;
    static final int XDP_TX = 3;
    /** Not given by crab_lb yet; it may redirect after a FIB lookup. */
    static final int XDP_REDIRECT = 4;
    /** The endpoint programs' verdict for a packet they send on: the next program on the hook sees it too. */
    static final int TCX_NEXT = Abi.Consts.CRAB_TC_NEXT;
    /** The LB's fallback program's: it ends the hook's chain of programs. */
    static final int TC_ACT_OK = 0;
    static final int TC_ACT_SHOT = 2;
    static final int TC_ACT_REDIRECT = 7;

    /** The verdicts a crab program may return here: anything else (XDP_ABORTED, TC_ACT_PIPE...) is a violation. */
    final Set<Integer> allowed;
    private final Map<Integer, String> names;

    Hook(final Set<Integer> allowed, final Map<Integer, String> names)
    {
        this.allowed = allowed;
        this.names = names;
    }

    String verdictName(final int verdict)
    {
        final String name = names.get(verdict);
        return name != null ? name : "verdict " + verdict;
    }

    /**
     * The program sends the frame on as it left it: XDP_TX or XDP_REDIRECT out of an interface, TCX_NEXT, TC_ACT_OK
     * or TC_ACT_REDIRECT on its way. XDP_PASS, which hands the frame to the stack, is for each program's rules to
     * judge.
     */
    boolean sendsOn(final int verdict)
    {
        return this == XDP ? verdict == XDP_TX || verdict == XDP_REDIRECT :
            verdict == TCX_NEXT || verdict == TC_ACT_OK || verdict == TC_ACT_REDIRECT;
    }

    boolean drops(final int verdict)
    {
        return verdict == (this == XDP ? XDP_DROP : TC_ACT_SHOT);
    }
}
