/* maps_lb.h: the load balancer's maps; the control plane (crab-lb) is the one writer of each config map. */
#ifndef CRAB_MAPS_LB_H
#define CRAB_MAPS_LB_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps_common.h"

/* Services by VIP (address, port or 0): their policy and current slot table. Sized at load (--max-services). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_MAX_VIPS);
	__type(key, struct crab_vip_key);
	__type(value, struct crab_vip);
} vips SEC(".maps");

/* The client prefixes each service admits (services file allow-from; Kubernetes loadBalancerSourceRanges), keyed by
 * service id and prefix; the value is unused. Read only for a VIP flagged CRAB_VIP_SOURCES_RESTRICTED: the agent
 * writes a service's prefixes before it sets the flag and clears the flag before it removes them, so a service is
 * never open to every source, nor closed to one it admits, while it changes. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CRAB_MAX_SOURCE_RANGES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct crab_cidr_key);
	__type(value, __u32);
} source_ranges SEC(".maps");

/* Slot tables: backend ids, each repeated by its weight. Every service has two rows of max-slots entries, the
 * current one and the one the next configuration is written into. Sized at load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_MAX_VIPS * 2 * CRAB_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} vip_slots SEC(".maps");

/* Member tables of the load-aware policies (jsq, p2c): each usable backend of a service once, with its weight,
 * in the same rows as vip_slots (a service's slot_base indexes both) and published with them. Sized at load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_MAX_VIPS * 2 * CRAB_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct crab_member);
} vip_members SEC(".maps");

/* Maglev tables (hashing fallback): backend ids, two rows of the configured prime size per service, published
 * like the slot tables. Sized at load (--maglev-size, --max-services); mapped into the agent, which writes a
 * row of 65537 ids as memory rather than as 65537 system calls. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_MAX_VIPS * 2 * CRAB_MAGLEV_SIZE);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
} maglev_tables SEC(".maps");

/* Fallback connections by client-to-VIP tuple: their backend, so a change of the backend set moves none of them.
 * LRU: under pressure the oldest entries go, and their connections are placed by the Maglev table again, which
 * gives the same backend unless the set changed meanwhile. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_CONN_TABLE_SIZE);
	__type(key, struct crab_syn_key);
	__type(value, struct crab_conn);
} conn_table SEC(".maps");

/* ClientIP affinity: each client's backend per affinity service, and when the client last opened a connection to
 * it. LRU, sized at load (--max-affinity-clients): under pressure the clients idle longest go, and their next
 * connection is balanced by the policy again, as after the timeout. Anyone can put an entry here with a SYN from a
 * spoofed address; it holds only a backend the policy picked, for that address. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_AFFINITY_TABLE_SIZE);
	__type(key, struct crab_affinity_key);
	__type(value, struct crab_affinity);
} affinity SEC(".maps");

/* Backends by id: where a redirected SYN goes. Sized at load (--max-backends). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct crab_backend);
} backends SEC(".maps");

/* Global round-robin cursor per service, advanced atomically so round-robin is not per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_MAX_VIPS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} rr_cursors SEC(".maps");

/* New connections each backend id was given by jsq or p2c, ever: the one map the XDP program writes for them
 * (atomically, shared by every CPU). Sized at load (--max-backends); mapped into the feedback receiver. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_MAX_BACKENDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} backend_assigned SEC(".maps");

/* Each backend id's load from its server's reports; written only by crab-lb's feedback receiver, through a mapping,
 * so that base is one aligned 8-byte store a SYN reads whole. Sized at load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_MAX_BACKENDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct crab_backend_load);
} backend_loads SEC(".maps");

/* Recent SYNs, direct-mapped by a hash of the tuple: a retransmitted SYN goes to the backend its first copy went
 * to, unless a SYN of another tuple took its slot meanwhile (it is then balanced again, like a new connection).
 * An array slot written in place costs a store where an LRU hash update costs a lock and a free-list walk. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_SYN_SLOTS);
	__type(key, __u32);
	__type(value, struct crab_syn_slot);
} syn_slots SEC(".maps");

/* The mode the XDP program runs in (enum crab_xdp_mode), one entry: written by crab-lb before it attaches. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} lb_xdp_mode SEC(".maps");

/* Service names by service id, for crab-lb status; the programs never read them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct crab_service_name);
} service_names SEC(".maps");

/* The agent's own events (enum crab_lb_agent_counter), kept here so they outlive it and status can read them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_LBA_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lb_agent_counters SEC(".maps");

/* The feedback receiver's verdicts on load reports (enum crab_feedback_counter), kept here beside the agent's so they
 * outlive it and status can read them; a map of its own, because each map has one writer and the receiver runs on
 * a thread of its own. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_FBK_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} feedback_counters SEC(".maps");

/* Packets by verdict (enum crab_lb_counter). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_LB_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lb_counters SEC(".maps");

/* Packets the fallback program handled, by what it did (enum crab_fallback_counter). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_FB_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} fallback_counters SEC(".maps");

/* Fallback connections placed on each backend id. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, __u64);
} backend_fallbacks SEC(".maps");

/* SYNs redirected to each backend id. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, __u64);
} backend_syns SEC(".maps");

/* The kinds of key vips holds (enum crab_vip_kinds): a SYN to a VIP of one kind then costs one hash lookup, not a
 * miss first. The agent widens it before it adds a key of a new kind and narrows it after it removed the last one. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vip_kinds SEC(".maps");

/* The service of a VIP and port: an entry for the port, else one for every port of the address. */
static __always_inline struct crab_vip *crab_find_vip(__be32 addr, __be16 port)
{
	__u32 zero = 0;
	__u32 *kinds = bpf_map_lookup_elem(&vip_kinds, &zero);
	/* Never written (0): both. */
	__u32 have = kinds && *kinds ? *kinds : CRAB_VIPS_WITH_PORT | CRAB_VIPS_ANY_PORT;
	struct crab_vip_key key = { .addr = addr, .port = port };

	if (have & CRAB_VIPS_WITH_PORT) {
		struct crab_vip *vip = bpf_map_lookup_elem(&vips, &key);
		if (vip)
			return vip;
	}
	if (!(have & CRAB_VIPS_ANY_PORT))
		return 0;
	key.port = 0;
	return bpf_map_lookup_elem(&vips, &key);
}

/* Whether the service admits a packet from this source: always, unless it is restricted to prefixes. */
static __always_inline int crab_source_admitted(const struct crab_vip *vip, __be32 saddr)
{
	if (!(vip->flags & CRAB_VIP_SOURCES_RESTRICTED))
		return 1;
	struct crab_cidr_key key = { .prefixlen = 64, .vip_id = vip->vip_id, .addr = saddr };
	return bpf_map_lookup_elem(&source_ranges, &key) != 0;
}

#endif
