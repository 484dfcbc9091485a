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

/* A service, found by its VIP. Its slot table is vip_slots[slot_base .. slot_base + slot_count): the control
 * plane writes a new table into the service's other row and then this entry, in one update, so a SYN reads
 * either the old table or the new one, never a mix. */
struct crab_vip {
	__u32 vip_id;     /* the service's id: its row in rr_cursors and service_names */
	__u32 flags;      /* enum crab_vip_flags */
	__u32 policy;     /* enum crab_policy */
	__u32 slot_base;  /* first slot of the current table in vip_slots */
	__u32 slot_count; /* slots in use; 0 = no backend ready */
	__u32 maglev_base;  /* first entry of the current Maglev table in maglev_tables */
	__u32 maglev_count; /* its size (the configured prime); 0 = no backend takes fallback connections */
	__u32 member_count; /* entries of vip_members[slot_base ..]: each usable backend once, for jsq and p2c */
	__u32 affinity_sec; /* ClientIP affinity: a client's backend is kept this long after its last new connection;
	                     * 0 = none */
};

/* A backend of a service as the load-aware policies see it: once, with its weight in that service. A row holds its
 * members in ascending backend id, so that ClientIP affinity finds whether a backend is still one by binary search. */
struct crab_member {
	__u32 backend_id;
	__u32 weight;
	__u32 weight_end; /* the weights of the members up to this one, summed: p2c draws by weight with it */
	__u32 pad;
};

/* A backend's load as its last report left it. The policies estimate the load now as base + backend_assigned[id],
 * that is the reported load plus the SYNs assigned since: base is the load minus the assigned count at the time
 * the report was applied, one aligned 64-bit word the receiver stores in one go through its mapping of the map, so
 * a SYN never reads half of an update. */
struct crab_backend_load {
	__s64 base;
	__u64 load;        /* the reported load itself, for crab-lb status */
	__u64 reported_ns; /* CLOCK_MONOTONIC when it was applied; 0 = never (status shows the report's age) */
};

/* What crab-lb status shows of a service that the data path does not need: its name. */
struct crab_service_name {
	char name[32];
};

struct crab_backend {
	__be32 addr;
	__be16 port;      /* 0: same port as the VIP */
	__u16 flags;      /* enum crab_backend_flags */
};

/* A client's connection to a VIP, as the LB sees it: the key of its SYN and fallback connection tables. */
struct crab_syn_key {
	__be32 client_addr;
	__be32 vip_addr;
	__be16 client_port;
	__be16 vip_port;
};

/* A slot of the LB's recent-SYN memory: the last SYN whose tuple hashed here, and the backend it went to. */
struct crab_syn_slot {
	struct crab_syn_key key;
	__u32 seq;        /* the SYN's ISN as on the wire: a new connection on the same tuple has another one */
	__u32 backend_id;
	__u32 pad;
	__u64 seen_ns;
};

/* A client of a ClientIP affinity service: the key of the LB's affinity table. */
struct crab_affinity_key {
	__u32 vip_id;        /* the service's id */
	__be32 client_addr;
};

/* The backend a client of an affinity service was last given, and when it last opened a connection. */
struct crab_affinity {
	__u32 backend_id;
	__u32 pad;
	__u64 used_ns;       /* bpf_ktime_get_coarse_ns() at its last new connection */
};

/* A fallback connection: the backend the LB forwards its packets to. */
struct crab_conn {
	__u32 backend_id;
};

/* Endpoint flow key, always oriented from this host: local address/port first. */
struct crab_flow_key {
	__be32 local_addr;
	__be32 remote_addr;
	__be16 local_port;
	__be16 remote_port;
};

/* Client flow to a VIP (key remote = VIP): where its packets really go. The next hop towards the backend is
 * not kept: every packet asks the kernel's FIB and neighbour table, so a MAC or route change is followed. */
struct crab_flow {
	__u64 created_ns;    /* bpf_ktime_get_ns() at the SYN: CLOCK_MONOTONIC */
	__be32 peer_addr;    /* the backend (DIP) once redirected */
	__u32 syn_seq;       /* ISN of our SYN: the SYN-ACK must acknowledge it */
	__be16 peer_port;
	__u8 state;          /* enum crab_flow_state */
	__u8 pad;
	__u32 pad2;
};

/* A VIP the client accepts redirects for; vip_id keys its allowed backend prefixes. */
struct crab_client_vip {
	__u32 vip_id;
};

/* LPM key of a prefix that belongs to one VIP: prefixlen = 32 (the whole vip_id) + the address prefix length. The
 * client's backend_cidrs (the backends a redirect may name, by its VIP's id) and the LB's source_ranges (the clients
 * a service admits, by its service id) use it. */
struct crab_cidr_key {
	__u32 prefixlen;
	__u32 vip_id;
	__be32 addr;
};

/* A local address and port, to find the live redirected flow (if any) that uses it. */
struct crab_port_key {
	__be32 local_addr;
	__be16 local_port;
	__u16 pad;
};

/* Reverse client flow (key remote = backend): which VIP its packets must appear to come from. */
struct crab_rflow {
	__be32 vip_addr;
	__be16 vip_port;
	__u8 closing;     /* enum crab_fin_flags: FINs both ways free the wire tuple for another connection */
	__u8 pad;
};

/* Server memory of a SYN's option, echoed in the SYN-ACK: one direct-mapped slot per tuple hash, which holds the
 * tuple it is for (remote = client). */
struct crab_echo {
	struct crab_flow_key key; /* all zero: no tuple's */
	__be32 vip_addr;
	__u64 seen_ns;
	__be16 vip_port;
	__u8 has_port;
	__u8 pad[5];
};

/* A translated connection on the server (key remote = client): the VIP and port its replies must come from. Kept
 * by tuple from the SYN on (translations, LRU) and, once the kernel has the connection's socket, on the socket
 * itself (translated_socks), where it lives exactly as long as the connection and no flood can evict it. */
struct crab_translation {
	__u64 seen_ns;       /* the SYN that asked for it */
	__be32 vip_addr;
	__be16 vip_port;
	__u16 pad;
};

/* What crab-bench's lb_cpu program watches: one interface (by its index and its network namespace's inode) and
 * the threads of one process (tgid 0: none). */
struct crab_cpu_target {
	__u32 ifindex;
	__u32 netns_inum;
	__u32 tgid;
	__u32 pad;
};

#endif
