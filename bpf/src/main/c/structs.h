/* structs.h: map keys and values shared with Java; every layout here is checked against Java by a BTF test. */
#ifndef CRAB_STRUCTS_H
#define CRAB_STRUCTS_H

#include <linux/types.h>

/* The Connection Redirect option as configured: kind 42, or an experimental kind with an ExID (RFC 6994). */
struct crab_opt_cfg {
	__u8 kind;
	__u8 pad;
	__be16 exid;      /* 0: plain kind; else the 16-bit ExID written after kind and length */
};

/* A VIP, keyed by address and TCP port; port 0 means every port of the address. */
struct crab_vip_key {
	__be32 addr;
	__be16 port;
	__u16 pad;
};

struct crab_vip {
	__u32 vip_id;     /* row of this VIP in vip_slots and rr_cursors */
	__u32 flags;      /* enum crab_vip_flags */
	__u32 policy;     /* enum crab_policy */
	__u32 slot_count; /* slots in use; 0 = no backend ready */
};

struct crab_backend {
	__be32 addr;
	__be16 port;      /* 0: same port as the VIP */
	__u8 mac[6];      /* next hop, resolved by the control plane */
};

/* The LB's memory of a SYN, so a retransmission goes to the same backend. */
struct crab_syn_key {
	__be32 client_addr;
	__be32 vip_addr;
	__be16 client_port;
	__be16 vip_port;
};

struct crab_syn_entry {
	__u64 seen_ns;
	__u32 backend_id;
	__u32 seq;        /* the SYN's ISN: a new connection on the same tuple has another one */
};

/* Endpoint flow key, always oriented from this host: local address/port first. */
struct crab_flow_key {
	__be32 local_addr;
	__be32 remote_addr;
	__be16 local_port;
	__be16 remote_port;
};

/* Client flow to a VIP (key remote = VIP): where its packets really go. */
struct crab_flow {
	__u64 created_ns;    /* bpf_ktime_get_ns() at the SYN: CLOCK_MONOTONIC */
	__be32 peer_addr;    /* the backend (DIP) once redirected */
	__u32 syn_seq;       /* ISN of our SYN: the SYN-ACK must acknowledge it */
	__be16 peer_port;
	__u8 peer_mac[6];    /* source MAC of the SYN-ACK: the next hop towards the backend */
	__u8 state;          /* enum crab_flow_state */
	__u8 pad[7];
};

/* Reverse client flow (key remote = backend): which VIP its packets must appear to come from. */
struct crab_rflow {
	__be32 vip_addr;
	__be16 vip_port;
	__u8 closing;     /* a FIN went either way: the connection is ending and no longer needs guarding */
	__u8 pad;
};

/* Server memory of a SYN's option (key remote = client), echoed in the SYN-ACK. */
struct crab_echo {
	__u64 seen_ns;
	__be32 vip_addr;
	__be16 vip_port;
	__u8 has_port;
	__u8 pad;
};

#endif
