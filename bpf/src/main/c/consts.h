/* consts.h: constants shared by every crab BPF program and checked against the Java side through BTF. */
#ifndef CRAB_CONSTS_H
#define CRAB_CONSTS_H

/* Sizes of the maps and tables; enums (not #defines) so they appear in BTF for the Java layout test. */
enum crab_limits {
	CRAB_MAX_VIPS = 64,          /* default; crab-lb --max-services sets it at load */
	CRAB_MAX_BACKENDS = 1024,    /* default; crab-lb --max-backends */
	CRAB_MAX_SLOTS = 256,        /* default slots per service table (the sum of its weights); --max-slots */
	CRAB_SYN_TABLE_SIZE = 65536,  /* the server's translation table */
	CRAB_ECHO_SLOTS = 16384,     /* the server's echo memory, two slots per tuple hash: a power of two */
	CRAB_SYN_SLOTS = 65536,      /* the LB's recent-SYN memory, direct-mapped: a power of two */
	CRAB_SYN_TTL_SEC = 75,       /* covers Linux's default SYN retries (1+2+4+8+16+32 s) */
	CRAB_FLOW_TABLE_SIZE = 65536, /* default; crab-endpoint --flow-table-size sets it at load */
	CRAB_MAX_BACKEND_CIDRS = 1024, /* client allow-list prefixes, all VIPs together */
	CRAB_MAGLEV_SIZE = 65537,    /* default entries of a service's Maglev table, a prime; --maglev-size */
	CRAB_CONN_TABLE_SIZE = 262144, /* default fallback connections the LB remembers; --max-fallback-connections */
	CRAB_AFFINITY_TABLE_SIZE = 65536, /* default (service, client) backends ClientIP affinity remembers;
	                                    * --max-affinity-clients */
	CRAB_MAX_TCP_HDR = 60,
	CRAB_LOAD_SCAN = 64,         /* backends jsq compares per SYN: exact up to this many, a rotating window above */
	CRAB_MAX_SOURCE_RANGES = 1024, /* allowed client prefixes (services file allow-from), all services together */
};

/* Switches in struct crab_backend.flags. */
enum crab_backend_flags {
	CRAB_BACKEND_UP = 1,        /* takes redirected connections: a retransmitted SYN may stay on it */
	CRAB_BACKEND_COMPLIANT = 2, /* echoes the option (the compliance probe); for status, not the programs */
	CRAB_BACKEND_SERVING = 4,   /* configured and answering health probes, draining or not: the fallback keeps
	                             * its connections there whatever SYN arrives for their tuples */
};

/* How the LB picks a backend slot for a new connection. */
enum crab_policy {
	CRAB_POLICY_RR = 0,
	CRAB_POLICY_RANDOM = 1,
	CRAB_POLICY_HASH = 2,
	CRAB_POLICY_JSQ = 3,         /* join-shortest-queue: the least loaded backend for its weight */
	CRAB_POLICY_P2C = 4,         /* power of two choices: the less loaded of two backends drawn at random */
};

/* Where the kernel runs the LB's XDP program (crab-lb --xdp-mode), as the agent tells it in lb_xdp_mode. */
enum crab_xdp_mode {
	CRAB_XDP_NATIVE = 0,         /* in the driver, on the frame: nothing of the sender's socket buffer survives */
	CRAB_XDP_GENERIC = 1,        /* on the socket buffer, whose note that a checksum is partial stays with it */
};

/* Per-VIP switches in struct crab_vip.flags. */
enum crab_vip_flags {
	CRAB_VIP_REDIRECT_UNMARKED = 1, /* redirect SYNs without the client marker (kernel-patch clients) */
	CRAB_VIP_FALLBACK_TRANSLATE = 2, /* the fallback rewrites each packet to the backend's address and port and
	                                  * routes it, and the backend's server program answers as the VIP */
	CRAB_VIP_SOURCES_RESTRICTED = 4, /* only clients in the service's prefixes of source_ranges may connect: the
	                                  * SYNs and fallback packets of any other source are dropped */
	CRAB_VIP_DROP_NO_BACKEND = 8,    /* a SYN or fallback packet the service has no backend for is dropped, not
	                                  * passed to the LB host's stack (which would answer with a reset) */
};

/* The translation option (tcp_opts.h): kind, length, (ExID,) then its body: VIP(4), VIP port(2), flags(1). */
enum crab_translate_option {
	CRAB_TRANSLATE_BODY = 7,         /* the bytes after kind, length and ExID */
	CRAB_TRANSLATE_REPLY_AS_VIP = 1, /* the one flag: answer from the VIP and port named, for the connection's life */
};

/* Which kinds of VIP key the vips map holds (the one entry of vip_kinds), so a lookup for a kind it has none of
 * is not made. */
enum crab_vip_kinds {
	CRAB_VIPS_WITH_PORT = 1,        /* some service has a VIP with a port */
	CRAB_VIPS_ANY_PORT = 2,         /* some service has a VIP of every port (port 0) */
};

/* Bits of struct crab_rflow.closing: which directions have sent their FIN. */
enum crab_fin_flags {
	CRAB_FIN_OUT = 1,
	CRAB_FIN_IN = 2,
};

/* What the endpoint programs return for a packet they send on: TCX_NEXT (Linux 6.6; TC_ACT_UNSPEC's value, so
 * the older headers need not know the name). The next program on the hook then sees the packet too, and after
 * the last one it goes on as usual. A pod is a client and a server at once, so both roles' programs share its
 * interface's hooks; TC_ACT_OK (TCX_PASS) would end the chain at whichever came first. */
enum crab_tc_verdict {
	CRAB_TC_NEXT = -1,
};

/* States of a client flow entry. */
enum crab_flow_state {
	CRAB_FLOW_PENDING = 1,     /* SYN sent and marked; the one state in which a redirect is accepted */
	CRAB_FLOW_REDIRECTED = 2,  /* SYN-ACK with the option accepted: the peer is fixed for the flow's life */
};

/* What the LB did with a packet; index of the per-CPU lb_counters map. */
enum crab_lb_counter {
	CRAB_LB_PASS_NOT_IPV4 = 0,
	CRAB_LB_PASS_NOT_TCP,
	CRAB_LB_PASS_NOT_SYN,
	CRAB_LB_PASS_NOT_VIP,
	CRAB_LB_PASS_UNMARKED,
	CRAB_LB_PASS_IP_OPTIONS,
	CRAB_LB_PASS_FRAGMENT,
	CRAB_LB_PASS_SYN_DATA,
	CRAB_LB_PASS_NO_ROOM,
	CRAB_LB_PASS_BAD_OPTION,
	CRAB_LB_PASS_MALFORMED,
	CRAB_LB_PASS_NO_BACKEND,
	CRAB_LB_TX_REDIRECT,
	CRAB_LB_TX_RETRANSMIT,
	CRAB_LB_DROP_NO_ROUTE,         /* the FIB has no route or no resolved neighbour for the backend */
	CRAB_LB_TX_REBALANCED,         /* retransmitted SYN whose first backend is down: balanced again */
	CRAB_LB_TX_VIA_STACK,          /* a SYN rewritten for a backend routed out of another interface than it came
	                                * in on (a pod of the LB's own host, a tunnel): handed to the host's stack,
	                                * which forwards it (new, retransmitted or balanced again alike) */
	CRAB_LB_DROP_SOURCE_RANGE,     /* a SYN from a source outside its service's allowed prefixes */
	CRAB_LB_DROP_NO_BACKEND,       /* a SYN to a service with no backend at all, that drops what it cannot place */
	/* Events, not verdicts (they do not add up with the others): a new connection to a ClientIP affinity service. */
	CRAB_LB_AFFINITY_HIT,          /* it went to the client's backend, remembered and still in the table */
	CRAB_LB_AFFINITY_NEW,          /* it was balanced by the policy (no backend remembered, expired or gone) */
	CRAB_LB_COUNTER_MAX,
};

/* What the LB's TC program did with a packet that XDP passed; index of the per-CPU fallback_counters map. */
enum crab_fallback_counter {
	CRAB_FB_PASS_OTHER = 0,        /* not IPv4/TCP, or not parseable: the host's */
	CRAB_FB_PASS_NOT_VIP,          /* TCP not to a service: the host's own */
	CRAB_FB_PASS_NO_BACKEND,       /* the service has no backend that takes fallback connections */
	CRAB_FB_NEW,                   /* an unmarked SYN placed by the service's Maglev table */
	CRAB_FB_ADOPTED,               /* a packet of a connection the table did not know, placed by Maglev */
	CRAB_FB_FORWARDED,             /* a packet of a known fallback connection sent on to its backend */
	CRAB_FB_TRANSLATED,            /* of those, packets of a translating service: rewritten to the backend, routed */
	CRAB_FB_DROP_ODD_SYN,          /* a translating service's SYN that cannot carry the option (no room, payload,
	                                * EOL, or an option of our kind already): dropped, never sent on without it */
	CRAB_FB_DROP_NO_ROUTE,         /* a translating service's packet for a backend the FIB has no route to */
	CRAB_FB_DROP_SOURCE_RANGE,     /* a packet from a source outside its service's allowed prefixes */
	CRAB_FB_DROP_NO_BACKEND,       /* what would be pass_no_backend, for a service that drops what it cannot place */
	CRAB_FB_COUNTER_MAX,
};

/* What crab-lb's agent did; index of the lb_agent_counters map, which only the agent writes. */
enum crab_lb_agent_counter {
	CRAB_LBA_RELOADS = 0,          /* configurations applied after start */
	CRAB_LBA_RELOADS_REFUSED,      /* configurations that failed validation: nothing changed */
	CRAB_LBA_CHANGES,              /* changes applied by reloads, one per log line */
	CRAB_LBA_PUBLICATIONS,         /* slot tables published (reloads, health and neighbour changes) */
	CRAB_LBA_COUNTER_MAX,
};

/* What crab-lb's feedback receiver made of the servers' load reports; index of the feedback_counters map, which
 * only the receiver writes. A refused report changes nothing. */
enum crab_feedback_counter {
	CRAB_FBK_ACCEPTED = 0,         /* reports applied */
	CRAB_FBK_REFUSED_SOURCE,       /* from an address that is no configured backend's */
	CRAB_FBK_TRUNCATED,            /* shorter than the header */
	CRAB_FBK_BAD_MAGIC,
	CRAB_FBK_BAD_VERSION,
	CRAB_FBK_COUNT_MISMATCH,       /* length not what the entry count says */
	CRAB_FBK_MISSING_MAC,          /* flagged authenticated without its MAC */
	CRAB_FBK_UNAUTHENTICATED,      /* not authenticated, and crab-lb has a key */
	CRAB_FBK_BAD_MAC,
	CRAB_FBK_OLD_TIMESTAMP,        /* not newer than the sender's last accepted report: replayed or reordered */
	CRAB_FBK_CLOCK_SKEW,           /* with a key: more than 5 s off crab-lb's wall clock */
	CRAB_FBK_LOADS_SET,            /* backend loads set from accepted reports */
	CRAB_FBK_STALE_REBASED,        /* backend loads rebased because their reports stopped */
	CRAB_FBK_WRONG_SENDER,         /* names another sender address than its source: sent on by someone else */
	CRAB_FBK_COUNTER_MAX,
};

/* What the client programs did; index of the per-CPU client_counters map. */
enum crab_client_counter {
	CRAB_CL_SYN_MARKED = 0,
	CRAB_CL_SYN_UNMARKED_FULL,     /* flow table full: the connection goes unredirected */
	CRAB_CL_SYN_UNMARKED_ODD,      /* no room, data or EOL in the SYN: left as it is */
	CRAB_CL_REDIRECT_ACCEPTED,
	CRAB_CL_REDIRECT_REFUSED,      /* option for a VIP not configured, or no SYN of ours that it acknowledges */
	CRAB_CL_EGRESS_REWRITTEN,
	CRAB_CL_INGRESS_REWRITTEN,
	CRAB_CL_FLOW_RESET,            /* RST sent by this host, or a valid RST from the VIP to a pending flow */
	CRAB_CL_SYN_COLLISION_DROPPED, /* a SYN not to a VIP whose wire tuple a redirected flow holds */
	CRAB_CL_REDIRECT_LATE,         /* option in a SYN-ACK for a flow no longer pending: changes nothing */
	CRAB_CL_REDIRECT_FORBIDDEN,    /* backend outside the VIP's allowed prefixes */
	CRAB_CL_REDIRECT_COLLISION,    /* wire tuple held by a live redirected flow of another VIP */
	CRAB_CL_SYN_UNMARKED_PORT_BUSY,/* local port held by a live redirected flow to another VIP */
	CRAB_CL_ICMP_TRANSLATED,       /* ICMP error about a redirected flow, made to name the VIP */
	CRAB_CL_TUPLE_HANDED_OVER,     /* a direct SYN took the wire tuple of a redirected flow that had finished */
	CRAB_CL_COUNTER_MAX,
};

/* What the server programs did; index of the per-CPU server_counters map. */
enum crab_server_counter {
	CRAB_SV_SYN_OPTION_SEEN = 0,
	CRAB_SV_SYNACK_ECHOED,
	CRAB_SV_SYNACK_NOT_ECHOED,     /* no room or odd SYN-ACK: sent unchanged, the client falls back */
	CRAB_SV_TRANSLATION_RECORDED,  /* a SYN with the translation option: its replies will come from the VIP */
	CRAB_SV_TRANSLATION_KEPT,      /* a SYN (with the option or not) for a tuple that has a live connection: its
	                                * recorded reply address, or lack of one, stays as it is */
	CRAB_SV_REPLY_TRANSLATED,      /* a packet of a translated connection sent from the VIP */
	CRAB_SV_COUNTER_MAX,
};

/* What crab-bench's lb_cpu program measured; index of its per-CPU lb_cpu_counters map. */
enum crab_cpu_counter {
	CRAB_CPU_POLL_NS = 0,          /* time in the NAPI polls of the watched interface, in softirq */
	CRAB_CPU_POLLS,                /* those polls */
	CRAB_CPU_TASK_NS,              /* time the watched process was on a CPU */
	CRAB_CPU_TASK_SOFTIRQ_NS,      /* of that, softirqs that ran in its context: other devices' work or the polls */
	CRAB_CPU_COUNTER_MAX,
};

#define CRAB_TCPOPT_EOL 0
#define CRAB_TCPOPT_NOP 1
/* Offsets in the TCP header: the checksum, and the 16-bit word holding the data offset and the flags. */
#define CRAB_TCP_CSUM 16
#define CRAB_TCP_DOFF_WORD 12

#endif
