/* consts.h: constants shared by every crab BPF program and checked against the Java side through BTF. */
#ifndef CRAB_CONSTS_H
#define CRAB_CONSTS_H

/* Sizes of the maps and tables; enums (not #defines) so they appear in BTF for the Java layout test. */
enum crab_limits {
	CRAB_MAX_VIPS = 64,
	CRAB_MAX_BACKENDS = 1024,
	CRAB_MAX_SLOTS = 256,        /* backend slots per VIP: the sum of its weights */
	CRAB_SYN_TABLE_SIZE = 65536,
	CRAB_SYN_TTL_SEC = 75,       /* covers Linux's default SYN retries (1+2+4+8+16+32 s) */
	CRAB_FLOW_TABLE_SIZE = 65536,
	CRAB_MAX_TCP_HDR = 60,
};

/* How the LB picks a backend slot for a new connection. */
enum crab_policy {
	CRAB_POLICY_RR = 0,
	CRAB_POLICY_RANDOM = 1,
	CRAB_POLICY_HASH = 2,
};

/* Per-VIP switches in struct crab_vip.flags. */
enum crab_vip_flags {
	CRAB_VIP_REDIRECT_UNMARKED = 1, /* redirect SYNs without the client marker (kernel-patch clients) */
};

/* States of a client flow entry. */
enum crab_flow_state {
	CRAB_FLOW_PENDING = 1,     /* SYN sent and marked; waiting for a SYN-ACK that redirects it */
	CRAB_FLOW_REDIRECTED = 2,  /* SYN-ACK with the option accepted: packets are rewritten both ways */
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
	CRAB_LB_COUNTER_MAX,
};

/* What the client programs did; index of the per-CPU client_counters map. */
enum crab_client_counter {
	CRAB_CL_SYN_MARKED = 0,
	CRAB_CL_SYN_UNMARKED_FULL,     /* flow table full: the connection goes unredirected */
	CRAB_CL_SYN_UNMARKED_ODD,      /* no room, data or EOL in the SYN: left as it is */
	CRAB_CL_REDIRECT_ACCEPTED,
	CRAB_CL_REDIRECT_REFUSED,      /* option for a VIP not configured, or no matching SYN */
	CRAB_CL_EGRESS_REWRITTEN,
	CRAB_CL_INGRESS_REWRITTEN,
	CRAB_CL_FLOW_RESET,            /* RST seen: entry removed */
	CRAB_CL_SYN_COLLISION_DROPPED, /* a SYN not to a VIP whose wire tuple a redirected flow holds */
	CRAB_CL_COUNTER_MAX,
};

/* What the server programs did; index of the per-CPU server_counters map. */
enum crab_server_counter {
	CRAB_SV_SYN_OPTION_SEEN = 0,
	CRAB_SV_SYNACK_ECHOED,
	CRAB_SV_SYNACK_NOT_ECHOED,     /* no room or odd SYN-ACK: sent unchanged, the client falls back */
	CRAB_SV_COUNTER_MAX,
};

#define CRAB_TCPOPT_EOL 0
#define CRAB_TCPOPT_NOP 1

#endif
