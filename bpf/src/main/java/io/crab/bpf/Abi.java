package io.crab.bpf;

/**
 * Java side of every struct and constant shared with the BPF programs (bpf/src/main/c/consts.h, structs.h).
 * Constants carry the C enumerator's name; struct classes carry one offset per C member, named like it in
 * upper case, and SIZE. AbiTest checks all of it against the objects' BTF, both ways.
 */
public final class Abi
{
    private Abi()
    {
    }

    /** enum crab_limits, crab_policy, crab_vip_flags, crab_flow_state and the counter enums. */
    public static final class Consts
    {
        public static final int CRAB_MAX_VIPS = 64;
        public static final int CRAB_MAX_BACKENDS = 1024;
        public static final int CRAB_MAX_SLOTS = 256;
        public static final int CRAB_SYN_TABLE_SIZE = 65536;
        public static final int CRAB_SYN_TTL_SEC = 75;
        public static final int CRAB_FLOW_TABLE_SIZE = 65536;
        public static final int CRAB_MAX_TCP_HDR = 60;

        public static final int CRAB_POLICY_RR = 0;
        public static final int CRAB_POLICY_RANDOM = 1;
        public static final int CRAB_POLICY_HASH = 2;

        public static final int CRAB_VIP_REDIRECT_UNMARKED = 1;

        public static final int CRAB_FLOW_PENDING = 1;
        public static final int CRAB_FLOW_REDIRECTED = 2;

        public static final int CRAB_LB_PASS_NOT_IPV4 = 0;
        public static final int CRAB_LB_PASS_NOT_TCP = 1;
        public static final int CRAB_LB_PASS_NOT_SYN = 2;
        public static final int CRAB_LB_PASS_NOT_VIP = 3;
        public static final int CRAB_LB_PASS_UNMARKED = 4;
        public static final int CRAB_LB_PASS_IP_OPTIONS = 5;
        public static final int CRAB_LB_PASS_FRAGMENT = 6;
        public static final int CRAB_LB_PASS_SYN_DATA = 7;
        public static final int CRAB_LB_PASS_NO_ROOM = 8;
        public static final int CRAB_LB_PASS_BAD_OPTION = 9;
        public static final int CRAB_LB_PASS_MALFORMED = 10;
        public static final int CRAB_LB_PASS_NO_BACKEND = 11;
        public static final int CRAB_LB_TX_REDIRECT = 12;
        public static final int CRAB_LB_TX_RETRANSMIT = 13;
        public static final int CRAB_LB_COUNTER_MAX = 14;

        public static final int CRAB_CL_SYN_MARKED = 0;
        public static final int CRAB_CL_SYN_UNMARKED_FULL = 1;
        public static final int CRAB_CL_SYN_UNMARKED_ODD = 2;
        public static final int CRAB_CL_REDIRECT_ACCEPTED = 3;
        public static final int CRAB_CL_REDIRECT_REFUSED = 4;
        public static final int CRAB_CL_EGRESS_REWRITTEN = 5;
        public static final int CRAB_CL_INGRESS_REWRITTEN = 6;
        public static final int CRAB_CL_FLOW_RESET = 7;
        public static final int CRAB_CL_SYN_COLLISION_DROPPED = 8;
        public static final int CRAB_CL_COUNTER_MAX = 9;

        public static final int CRAB_SV_SYN_OPTION_SEEN = 0;
        public static final int CRAB_SV_SYNACK_ECHOED = 1;
        public static final int CRAB_SV_SYNACK_NOT_ECHOED = 2;
        public static final int CRAB_SV_COUNTER_MAX = 3;

        private Consts()
        {
        }
    }

    /** struct crab_opt_cfg. */
    public static final class OptCfg
    {
        public static final int KIND = 0;
        public static final int PAD = 1;
        public static final int EXID = 2;
        public static final int SIZE = 4;

        private OptCfg()
        {
        }
    }

    /** struct crab_vip_key. */
    public static final class VipKey
    {
        public static final int ADDR = 0;
        public static final int PORT = 4;
        public static final int PAD = 6;
        public static final int SIZE = 8;

        private VipKey()
        {
        }
    }

    /** struct crab_vip. */
    public static final class Vip
    {
        public static final int VIP_ID = 0;
        public static final int FLAGS = 4;
        public static final int POLICY = 8;
        public static final int SLOT_COUNT = 12;
        public static final int SIZE = 16;

        private Vip()
        {
        }
    }

    /** struct crab_backend. */
    public static final class Backend
    {
        public static final int ADDR = 0;
        public static final int PORT = 4;
        public static final int MAC = 6;
        public static final int SIZE = 12;

        private Backend()
        {
        }
    }

    /** struct crab_syn_key. */
    public static final class SynKey
    {
        public static final int CLIENT_ADDR = 0;
        public static final int VIP_ADDR = 4;
        public static final int CLIENT_PORT = 8;
        public static final int VIP_PORT = 10;
        public static final int SIZE = 12;

        private SynKey()
        {
        }
    }

    /** struct crab_syn_entry. */
    public static final class SynEntry
    {
        public static final int SEEN_NS = 0;
        public static final int BACKEND_ID = 8;
        public static final int SEQ = 12;
        public static final int SIZE = 16;

        private SynEntry()
        {
        }
    }

    /** struct crab_flow_key. */
    public static final class FlowKey
    {
        public static final int LOCAL_ADDR = 0;
        public static final int REMOTE_ADDR = 4;
        public static final int LOCAL_PORT = 8;
        public static final int REMOTE_PORT = 10;
        public static final int SIZE = 12;

        private FlowKey()
        {
        }
    }

    /** struct crab_flow. */
    public static final class Flow
    {
        public static final int CREATED_NS = 0;
        public static final int PEER_ADDR = 8;
        public static final int SYN_SEQ = 12;
        public static final int PEER_PORT = 16;
        public static final int PEER_MAC = 18;
        public static final int STATE = 24;
        public static final int PAD = 25;
        public static final int SIZE = 32;

        private Flow()
        {
        }
    }

    /** struct crab_rflow. */
    public static final class Rflow
    {
        public static final int VIP_ADDR = 0;
        public static final int VIP_PORT = 4;
        public static final int CLOSING = 6;
        public static final int PAD = 7;
        public static final int SIZE = 8;

        private Rflow()
        {
        }
    }

    /** struct crab_echo. */
    public static final class Echo
    {
        public static final int SEEN_NS = 0;
        public static final int VIP_ADDR = 8;
        public static final int VIP_PORT = 12;
        public static final int HAS_PORT = 14;
        public static final int PAD = 15;
        public static final int SIZE = 16;

        private Echo()
        {
        }
    }
}
