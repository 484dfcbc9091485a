/* lb_policy.h: how the LB's XDP program picks a backend for a new connection, by the service's policy. */
#ifndef CRAB_LB_POLICY_H
#define CRAB_LB_POLICY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps_lb.h"
#include "hash.h"

/* A backend's estimated load: its last report plus the connections given to it since. A backend no report has
 * reached yet counts the connections given to it since its id was set up (the feedback receiver sets base then). */
static __always_inline __u64 crab_load_of(__u32 id)
{
	struct crab_backend_load *l = bpf_map_lookup_elem(&backend_loads, &id);
	__u64 *assigned = bpf_map_lookup_elem(&backend_assigned, &id);

	if (!l || !assigned)
		return ~0ull >> 8; /* not a backend id: never the lighter one */
	__s64 est = l->base + (__s64)*assigned;
	return est < 0 ? 0 : est;
}

/* True when a is the lighter choice for its weight: (load_a + 1) / w_a < (load_b + 1) / w_b, with the one it would
 * get counted, so at equal loads the heavier weight wins and an idle backend of weight 3 takes 3 before one of 1. */
static __always_inline int crab_lighter(__u64 load_a, __u32 w_a, __u64 load_b, __u32 w_b)
{
	return (load_a + 1) * w_b < (load_b + 1) * w_a;
}

/* jsq: the least loaded member for its weight. The scan starts one member further each SYN, so ties go round
 * robin; above CRAB_LOAD_SCAN members it is the least loaded of a window of that many, which moves on each SYN. */
static __always_inline __s64 crab_pick_jsq(const struct crab_vip *vip, __u64 *cursor)
{
	__u32 n = vip->member_count;
	__u32 start = __sync_fetch_and_add(cursor, 1) % n;
	__u64 best_load = 0;
	__u32 best_w = 1;
	__s64 best = -1;

	for (__u32 i = 0; i < CRAB_LOAD_SCAN; i++) {
		if (i >= n)
			break;
		__u32 idx = start + i;
		if (idx >= n)
			idx -= n;
		idx += vip->slot_base;
		struct crab_member *m = bpf_map_lookup_elem(&vip_members, &idx);
		if (!m || m->weight == 0)
			continue;
		__u64 load = crab_load_of(m->backend_id);
		if (best < 0 || crab_lighter(load, m->weight, best_load, best_w)) {
			best = m->backend_id;
			best_load = load;
			best_w = m->weight;
		}
	}
	return best;
}

/* A member drawn with probability weight / total weight, leaving out the one whose weights are
 * [skip_start, skip_start + skip_weight): the first whose weight_end exceeds a number below the total (the service's
 * slot count, which is the sum of its members' weights), found by binary search, 8 steps for 256 members. */
static __always_inline struct crab_member *crab_draw_member(const struct crab_vip *vip, __u32 skip_start,
							   __u32 skip_weight)
{
	__u32 total = vip->slot_count - skip_weight;
	if (total == 0)
		return 0;
	__u32 r = bpf_get_prandom_u32() % total;
	if (r >= skip_start)
		r += skip_weight;
	__u32 lo = 0, hi = vip->member_count - 1;

	for (int step = 0; step < 32; step++) {
		if (lo >= hi)
			break;
		__u32 mid = lo + (hi - lo) / 2;
		__u32 key = vip->slot_base + mid;
		struct crab_member *m = bpf_map_lookup_elem(&vip_members, &key);
		if (!m)
			return 0;
		if (m->weight_end <= r)
			lo = mid + 1;
		else
			hi = mid;
	}
	__u32 key = vip->slot_base + lo;
	return bpf_map_lookup_elem(&vip_members, &key);
}

/* p2c: two different members drawn by weight, and the lighter of the two for its weight. */
static __always_inline __s64 crab_pick_p2c(const struct crab_vip *vip)
{
	struct crab_member *a = crab_draw_member(vip, 0, 0);
	if (!a)
		return -1;
	if (vip->member_count == 1)
		return a->backend_id;
	struct crab_member *b = crab_draw_member(vip, a->weight_end - a->weight, a->weight);
	if (!b)
		return -1;
	if (crab_lighter(crab_load_of(b->backend_id), b->weight, crab_load_of(a->backend_id), a->weight))
		return b->backend_id;
	return a->backend_id;
}

/* The recent-SYN slot of a tuple; io.crab.bench.hostile.SynSlots computes the same, checked by its test. */
static __always_inline __u32 crab_syn_slot_of(const struct crab_syn_key *sk)
{
	__u32 ports = (__u32)sk->client_port << 16 | sk->vip_port;

	return crab_mix32(sk->client_addr ^ crab_mix32(ports ^ sk->vip_addr)) & (CRAB_SYN_SLOTS - 1);
}

/* A slot of the service's weighted slot table, by rr (a global cursor), random or hash of the client's tuple. */
static __always_inline __s64 crab_pick_slot(const struct crab_vip *vip, const struct crab_syn_key *sk,
					    __u64 *cursor)
{
	__u32 n = vip->slot_count;
	__u32 slot;

	if (vip->policy == CRAB_POLICY_RANDOM) {
		slot = bpf_get_prandom_u32() % n;
	} else if (vip->policy == CRAB_POLICY_HASH) {
		/* The ports mixed first, then with the address: one client's connections spread over every slot. */
		__u32 ports = crab_mix32((__u32)sk->client_port << 16 | sk->vip_port);
		slot = crab_mix32(sk->client_addr ^ ports) % n;
	} else {
		slot = __sync_fetch_and_add(cursor, 1) % n;
	}
	__u32 idx = vip->slot_base + slot;
	__u32 *id = bpf_map_lookup_elem(&vip_slots, &idx);
	return id ? *id : -1;
}

/* A backend id for a new connection to the service, or -1 when it has none. The load-aware policies count what
 * they give each backend, so a burst of SYNs between two load reports spreads instead of landing on one backend. */
static __always_inline __s64 crab_pick(const struct crab_vip *vip, const struct crab_syn_key *sk)
{
	__u32 row = vip->vip_id;
	__u64 *cursor = bpf_map_lookup_elem(&rr_cursors, &row);
	__s64 id;

	if (!cursor || vip->slot_count == 0)
		return -1;
	if (vip->policy == CRAB_POLICY_JSQ || vip->policy == CRAB_POLICY_P2C) {
		if (vip->member_count == 0)
			return -1;
		id = vip->policy == CRAB_POLICY_JSQ ? crab_pick_jsq(vip, cursor) : crab_pick_p2c(vip);
		if (id < 0)
			return -1;
		__u32 key = id;
		__u64 *assigned = bpf_map_lookup_elem(&backend_assigned, &key);
		if (assigned)
			__sync_fetch_and_add(assigned, 1);
		return id;
	}
	return crab_pick_slot(vip, sk, cursor);
}

#endif
