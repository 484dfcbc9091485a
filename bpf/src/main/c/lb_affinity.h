/* lb_affinity.h: ClientIP session affinity (Kubernetes' sessionAffinity: ClientIP) for the LB's XDP program. Every
 * new connection from one client address to an affinity service goes to the backend the client was last given, as
 * long as that backend is still in the service's table and the client opened a connection less than the service's
 * timeout ago; otherwise the service's policy picks one, which is remembered. */
#ifndef CRAB_LB_AFFINITY_H
#define CRAB_LB_AFFINITY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps_lb.h"
#include "lb_policy.h"

#define CRAB_NS_PER_SEC 1000000000ull

/* Whether backend id is in the service's current table: its members, in ascending id, searched by halves (17 steps
 * for 65536 members). A backend that is down, draining, not echoing or removed is not there, so a client of it is
 * balanced again. */
static __always_inline int crab_in_table(const struct crab_vip *vip, __u32 id)
{
	__u32 lo = 0, hi = vip->member_count;

	for (int step = 0; step < 32; step++) {
		if (lo >= hi)
			break;
		__u32 mid = lo + (hi - lo) / 2;
		__u32 key = vip->slot_base + mid;
		struct crab_member *m = bpf_map_lookup_elem(&vip_members, &key);
		if (!m)
			return 0;
		if (m->backend_id == id)
			return 1;
		if (m->backend_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static __always_inline void crab_affinity_event(enum crab_lb_counter c)
{
	__u32 key = c;
	__u64 *n = bpf_map_lookup_elem(&lb_counters, &key);

	if (n)
		*n += 1;
}

/*
 * A backend id for a new connection, by the client's affinity when the service has it, else by its policy (-1:
 * none). now is the coarse clock the SYN memory stamps with. Entries of two CPUs may interleave for one client; the
 * last write wins, and either backend is one the policy picked.
 *
 * A global function, which the verifier checks once on its own rather than once for every state its caller reaches
 * it in: inlined, the search's loop inside the policies' branches took crab_lb past the verifier's million
 * instructions. Its pointers may be null as far as the verifier knows.
 */
__attribute__((noinline)) __s64 crab_pick_affine(const struct crab_vip *vip, const struct crab_syn_key *sk,
						 __u64 now)
{
	if (!vip || !sk)
		return -1;
	if (vip->affinity_sec == 0)
		return crab_pick(vip, sk);
	struct crab_affinity_key key = { .vip_id = vip->vip_id, .client_addr = sk->client_addr };
	struct crab_affinity *known = bpf_map_lookup_elem(&affinity, &key);

	if (known && (__s64)(now - known->used_ns) < (__s64)(vip->affinity_sec * CRAB_NS_PER_SEC) &&
	    crab_in_table(vip, known->backend_id)) {
		known->used_ns = now;
		crab_affinity_event(CRAB_LB_AFFINITY_HIT);
		return known->backend_id;
	}
	__s64 id = crab_pick(vip, sk);
	if (id < 0)
		return -1;
	struct crab_affinity entry = { .backend_id = id, .used_ns = now };
	bpf_map_update_elem(&affinity, &key, &entry, BPF_ANY);
	crab_affinity_event(CRAB_LB_AFFINITY_NEW);
	return id;
}

#endif
