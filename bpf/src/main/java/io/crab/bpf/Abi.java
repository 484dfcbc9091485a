package io.crab.bpf;

import java.util.List;

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

    /** Names of the maps of each object (their C variable names), which pins and status readers use too. */
    public static final class Maps
    {
        public static final String OPT_CFG = "opt_cfg";
        public static final String BTF_ANCHOR = "btf_anchor";

        public static final String VIPS = "vips";
        public static final String SOURCE_RANGES = "source_ranges";
        public static final String VIP_KINDS = "vip_kinds";
        public static final String VIP_SLOTS = "vip_slots";
        public static final String BACKENDS = "backends";
        public static final String RR_CURSORS = "rr_cursors";
        public static final String SYN_SLOTS = "syn_slots";
        public static final String LB_COUNTERS = "lb_counters";
        public static final String BACKEND_SYNS = "backend_syns";
        public static final String SERVICE_NAMES = "service_names";
        public static final String LB_AGENT_COUNTERS = "lb_agent_counters";
        public static final String FEEDBACK_COUNTERS = "feedback_counters";
        public static final String MAGLEV_TABLES = "maglev_tables";
        public static final String CONN_TABLE = "conn_table";
        public static final String AFFINITY = "affinity";
        public static final String FALLBACK_COUNTERS = "fallback_counters";
        public static final String BACKEND_FALLBACKS = "backend_fallbacks";
        public static final String VIP_MEMBERS = "vip_members";
        public static final String BACKEND_ASSIGNED = "backend_assigned";
        public static final String BACKEND_LOADS = "backend_loads";
        public static final String LB_XDP_MODE = "lb_xdp_mode";

        public static final String CLIENT_VIPS = "client_vips";
        public static final String BACKEND_CIDRS = "backend_cidrs";
        public static final String FLOWS = "flows";
        public static final String RFLOWS = "rflows";
        public static final String PORTS = "ports";
        public static final String CLIENT_COUNTERS = "client_counters";

        public static final String ECHOES = "echoes";
        public static final String SERVER_COUNTERS = "server_counters";
        public static final String TRANSLATIONS = "translations";
        public static final String TRANSLATED_SOCKS = "translated_socks";

        /** Every map of lb_xdp and lb_tc (the same: they share them through their pins), client_tc, server_tc. */
        public static final List<String> LB_XDP = List.of(OPT_CFG, BTF_ANCHOR, VIPS, VIP_KINDS, VIP_SLOTS, BACKENDS,
            RR_CURSORS, SYN_SLOTS, LB_COUNTERS, BACKEND_SYNS, SERVICE_NAMES, LB_AGENT_COUNTERS, MAGLEV_TABLES,
            CONN_TABLE, FALLBACK_COUNTERS, BACKEND_FALLBACKS, VIP_MEMBERS, BACKEND_ASSIGNED, BACKEND_LOADS,
            FEEDBACK_COUNTERS, LB_XDP_MODE, AFFINITY, SOURCE_RANGES);
        public static final List<String> LB_TC = LB_XDP;
        public static final List<String> CLIENT_TC = List.of(OPT_CFG, BTF_ANCHOR, CLIENT_VIPS, BACKEND_CIDRS, FLOWS,
            RFLOWS, PORTS, CLIENT_COUNTERS);
        public static final List<String> SERVER_TC = List.of(OPT_CFG, BTF_ANCHOR, ECHOES, SERVER_COUNTERS,
            TRANSLATIONS, TRANSLATED_SOCKS);

        /** crab-bench's meter of the LB's CPU (lb_cpu.bpf.c). */
        public static final String LB_CPU_TARGET = "lb_cpu_target";
        public static final String LB_CPU_COUNTERS = "lb_cpu_counters";
        public static final String LB_CPU_MARKS = "lb_cpu_marks";
        public static final List<String> LB_CPU = List.of(BTF_ANCHOR, LB_CPU_TARGET, LB_CPU_COUNTERS, LB_CPU_MARKS);

        private Maps()
        {
        }
    }

    /**
     * enum crab_limits, crab_policy, crab_vip_flags, crab_translate_option, crab_vip_kinds, crab_backend_flags, crab_fin_flags,
     * crab_flow_state and the counter enums.
     */
    public static final class Consts
    {
        public static final int CRAB_MAX_VIPS = 64;
        public static final int CRAB_MAX_BACKENDS = 1024;
        public static final int CRAB_MAX_SLOTS = 256;
        public static final int CRAB_SYN_TABLE_SIZE = 65536;
        public static final int CRAB_SYN_SLOTS = 65536;
        public static final int CRAB_ECHO_SLOTS = 16384;
        public static final int CRAB_SYN_TTL_SEC = 75;
        public static final int CRAB_FLOW_TABLE_SIZE = 65536;
        public static final int CRAB_MAX_BACKEND_CIDRS = 1024;
        public static final int CRAB_MAGLEV_SIZE = 65537;
        public static final int CRAB_CONN_TABLE_SIZE = 262144;
        public static final int CRAB_AFFINITY_TABLE_SIZE = 65536;
        public static final int CRAB_MAX_TCP_HDR = 60;
        public static final int CRAB_LOAD_SCAN = 64;
        public static final int CRAB_MAX_SOURCE_RANGES = 1024;

        public static final int CRAB_BACKEND_UP = 1;
        public static final int CRAB_BACKEND_COMPLIANT = 2;
        public static final int CRAB_BACKEND_SERVING = 4;

        public static final int CRAB_POLICY_RR = 0;
        public static final int CRAB_POLICY_RANDOM = 1;
        public static final int CRAB_POLICY_HASH = 2;
        public static final int CRAB_POLICY_JSQ = 3;
        public static final int CRAB_POLICY_P2C = 4;

        public static final int CRAB_XDP_NATIVE = 0;
        public static final int CRAB_XDP_GENERIC = 1;

        public static final int CRAB_VIP_REDIRECT_UNMARKED = 1;
        public static final int CRAB_VIP_FALLBACK_TRANSLATE = 2;
        public static final int CRAB_VIP_SOURCES_RESTRICTED = 4;
        public static final int CRAB_VIP_DROP_NO_BACKEND = 8;

        public static final int CRAB_TRANSLATE_BODY = 7;
        public static final int CRAB_TRANSLATE_REPLY_AS_VIP = 1;

        public static final int CRAB_VIPS_WITH_PORT = 1;
        public static final int CRAB_VIPS_ANY_PORT = 2;

        public static final int CRAB_FIN_OUT = 1;
        public static final int CRAB_FIN_IN = 2;

        public static final int CRAB_FLOW_PENDING = 1;
        public static final int CRAB_FLOW_REDIRECTED = 2;

        public static final int CRAB_TC_NEXT = -1;

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
        public static final int CRAB_LB_DROP_NO_ROUTE = 14;
        public static final int CRAB_LB_TX_REBALANCED = 15;
        public static final int CRAB_LB_TX_VIA_STACK = 16;
        public static final int CRAB_LB_DROP_SOURCE_RANGE = 17;
        public static final int CRAB_LB_DROP_NO_BACKEND = 18;
        public static final int CRAB_LB_AFFINITY_HIT = 19;
        public static final int CRAB_LB_AFFINITY_NEW = 20;
        public static final int CRAB_LB_COUNTER_MAX = 21;

        public static final int CRAB_FB_PASS_OTHER = 0;
        public static final int CRAB_FB_PASS_NOT_VIP = 1;
        public static final int CRAB_FB_PASS_NO_BACKEND = 2;
        public static final int CRAB_FB_NEW = 3;
        public static final int CRAB_FB_ADOPTED = 4;
        public static final int CRAB_FB_FORWARDED = 5;
        public static final int CRAB_FB_TRANSLATED = 6;
        public static final int CRAB_FB_DROP_ODD_SYN = 7;
        public static final int CRAB_FB_DROP_NO_ROUTE = 8;
        public static final int CRAB_FB_DROP_SOURCE_RANGE = 9;
        public static final int CRAB_FB_DROP_NO_BACKEND = 10;
        public static final int CRAB_FB_COUNTER_MAX = 11;

        public static final int CRAB_LBA_RELOADS = 0;
        public static final int CRAB_LBA_RELOADS_REFUSED = 1;
        public static final int CRAB_LBA_CHANGES = 2;
        public static final int CRAB_LBA_PUBLICATIONS = 3;
        public static final int CRAB_LBA_COUNTER_MAX = 4;

        public static final int CRAB_FBK_ACCEPTED = 0;
        public static final int CRAB_FBK_REFUSED_SOURCE = 1;
        public static final int CRAB_FBK_TRUNCATED = 2;
        public static final int CRAB_FBK_BAD_MAGIC = 3;
        public static final int CRAB_FBK_BAD_VERSION = 4;
        public static final int CRAB_FBK_COUNT_MISMATCH = 5;
        public static final int CRAB_FBK_MISSING_MAC = 6;
        public static final int CRAB_FBK_UNAUTHENTICATED = 7;
        public static final int CRAB_FBK_BAD_MAC = 8;
        public static final int CRAB_FBK_OLD_TIMESTAMP = 9;
        public static final int CRAB_FBK_CLOCK_SKEW = 10;
        public static final int CRAB_FBK_LOADS_SET = 11;
        public static final int CRAB_FBK_STALE_REBASED = 12;
        public static final int CRAB_FBK_WRONG_SENDER = 13;
        public static final int CRAB_FBK_COUNTER_MAX = 14;

        public static final int CRAB_CL_SYN_MARKED = 0;
        public static final int CRAB_CL_SYN_UNMARKED_FULL = 1;
        public static final int CRAB_CL_SYN_UNMARKED_ODD = 2;
        public static final int CRAB_CL_REDIRECT_ACCEPTED = 3;
        public static final int CRAB_CL_REDIRECT_REFUSED = 4;
        public static final int CRAB_CL_EGRESS_REWRITTEN = 5;
        public static final int CRAB_CL_INGRESS_REWRITTEN = 6;
        public static final int CRAB_CL_FLOW_RESET = 7;
        public static final int CRAB_CL_SYN_COLLISION_DROPPED = 8;
        public static final int CRAB_CL_REDIRECT_LATE = 9;
        public static final int CRAB_CL_REDIRECT_FORBIDDEN = 10;
        public static final int CRAB_CL_REDIRECT_COLLISION = 11;
        public static final int CRAB_CL_SYN_UNMARKED_PORT_BUSY = 12;
        public static final int CRAB_CL_ICMP_TRANSLATED = 13;
        public static final int CRAB_CL_TUPLE_HANDED_OVER = 14;
        public static final int CRAB_CL_COUNTER_MAX = 15;

        public static final int CRAB_SV_SYN_OPTION_SEEN = 0;
        public static final int CRAB_SV_SYNACK_ECHOED = 1;
        public static final int CRAB_SV_SYNACK_NOT_ECHOED = 2;
        public static final int CRAB_SV_TRANSLATION_RECORDED = 3;
        public static final int CRAB_SV_TRANSLATION_KEPT = 4;
        public static final int CRAB_SV_REPLY_TRANSLATED = 5;
        public static final int CRAB_SV_COUNTER_MAX = 6;

        public static final int CRAB_CPU_POLL_NS = 0;
        public static final int CRAB_CPU_POLLS = 1;
        public static final int CRAB_CPU_TASK_NS = 2;
        public static final int CRAB_CPU_TASK_SOFTIRQ_NS = 3;
        public static final int CRAB_CPU_COUNTER_MAX = 4;

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
        public static final int SLOT_BASE = 12;
        public static final int SLOT_COUNT = 16;
        public static final int MAGLEV_BASE = 20;
        public static final int MAGLEV_COUNT = 24;
        public static final int MEMBER_COUNT = 28;
        public static final int AFFINITY_SEC = 32;
        public static final int SIZE = 36;

        private Vip()
        {
        }
    }

    /** struct crab_member. */
    public static final class Member
    {
        public static final int BACKEND_ID = 0;
        public static final int WEIGHT = 4;
        public static final int WEIGHT_END = 8;
        public static final int PAD = 12;
        public static final int SIZE = 16;

        private Member()
        {
        }
    }

    /** struct crab_backend_load. */
    public static final class BackendLoad
    {
        public static final int BASE = 0;
        public static final int LOAD = 8;
        public static final int REPORTED_NS = 16;
        public static final int SIZE = 24;

        private BackendLoad()
        {
        }
    }

    /** struct crab_service_name. */
    public static final class ServiceName
    {
        public static final int NAME = 0;
        public static final int SIZE = 32;

        private ServiceName()
        {
        }
    }

    /** struct crab_backend. */
    public static final class Backend
    {
        public static final int ADDR = 0;
        public static final int PORT = 4;
        public static final int FLAGS = 6;
        public static final int SIZE = 8;

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

    /** struct crab_syn_slot. */
    public static final class SynSlot
    {
        public static final int KEY = 0;
        public static final int SEQ = 12;
        public static final int BACKEND_ID = 16;
        public static final int PAD = 20;
        public static final int SEEN_NS = 24;
        public static final int SIZE = 32;

        private SynSlot()
        {
        }
    }

    /** struct crab_affinity_key. */
    public static final class AffinityKey
    {
        public static final int VIP_ID = 0;
        public static final int CLIENT_ADDR = 4;
        public static final int SIZE = 8;

        private AffinityKey()
        {
        }
    }

    /** struct crab_affinity. */
    public static final class Affinity
    {
        public static final int BACKEND_ID = 0;
        public static final int PAD = 4;
        public static final int USED_NS = 8;
        public static final int SIZE = 16;

        private Affinity()
        {
        }
    }

    /** struct crab_conn. */
    public static final class Conn
    {
        public static final int BACKEND_ID = 0;
        public static final int SIZE = 4;

        private Conn()
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
        public static final int STATE = 18;
        public static final int PAD = 19;
        public static final int PAD2 = 20;
        public static final int SIZE = 24;

        private Flow()
        {
        }
    }

    /** struct crab_client_vip. */
    public static final class ClientVip
    {
        public static final int VIP_ID = 0;
        public static final int SIZE = 4;

        private ClientVip()
        {
        }
    }

    /** struct crab_cidr_key: the key of backend_cidrs (by VIP id) and of source_ranges (by service id). */
    public static final class CidrKey
    {
        public static final int PREFIXLEN = 0;
        public static final int VIP_ID = 4;
        public static final int ADDR = 8;
        public static final int SIZE = 12;

        private CidrKey()
        {
        }
    }

    /** struct crab_port_key. */
    public static final class PortKey
    {
        public static final int LOCAL_ADDR = 0;
        public static final int LOCAL_PORT = 4;
        public static final int PAD = 6;
        public static final int SIZE = 8;

        private PortKey()
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
        public static final int KEY = 0;
        public static final int VIP_ADDR = 12;
        public static final int SEEN_NS = 16;
        public static final int VIP_PORT = 24;
        public static final int HAS_PORT = 26;
        public static final int PAD = 27;
        public static final int SIZE = 32;

        private Echo()
        {
        }
    }

    /** struct crab_translation. */
    public static final class Translation
    {
        public static final int SEEN_NS = 0;
        public static final int VIP_ADDR = 8;
        public static final int VIP_PORT = 12;
        public static final int PAD = 14;
        public static final int SIZE = 16;

        private Translation()
        {
        }
    }

    /** struct crab_cpu_target. */
    public static final class CpuTarget
    {
        public static final int IFINDEX = 0;
        public static final int NETNS_INUM = 4;
        public static final int TGID = 8;
        public static final int PAD = 12;
        public static final int SIZE = 16;

        private CpuTarget()
        {
        }
    }
}
