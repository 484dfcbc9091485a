/* lb_tc.bpf.c: the load balancer's hashing fallback, for clients that do not speak crab. XDP passes their SYNs
 * (unmarked) and every later packet; here each one goes to the backend the connection table or, for a new
 * connection, the service's Maglev table names. By default the IP packet is not changed: it is sent to the backend's
 * MAC (direct server return, as LVS-DR does), and the backend, which has the VIP on a local interface, answers the
 * client from the VIP directly. A translating service's packets are rewritten to the backend's address and port
 * and routed to it, its SYN carrying the translation option, so that the backend's server program answers as the
 * VIP (still directly). In TC, not XDP, so a sender's partial checksum (offload) stays valid. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "maps_lb.h"
#include "skb.h"
#include "tcp_opts.h"
#include "btf_anchor.h"

#define AF_INET 2 /* linux/socket.h is not a uapi header */

static __always_inline int count(enum crab_fallback_counter c, int verdict)
{
	__u32 key = c;
	__u64 *n = bpf_map_lookup_elem(&fallback_counters, &key);

	if (n)
		*n += 1;
	return verdict;
}

/* A hash of the connection's tuple for the Maglev table; the same on every LB, so LBs agree. */
static __always_inline __u32 tuple_hash(const struct crab_syn_key *k)
{
	__u64 h = ((__u64)k->client_addr << 32 | k->vip_addr) * 0x9E3779B97F4A7C15ull;

	h ^= ((__u64)k->client_port << 16 | k->vip_port) * 0xC2B2AE3D27D4EB4Full;
	h ^= h >> 29;
	h *= 0xBF58476D1CE4E5B9ull;
	return (__u32)(h ^ (h >> 32));
}

/* The backend id the service's Maglev table gives the tuple; -1 when the service has none. A ClientIP affinity
 * service hashes the client's address alone, so all of a client's connections go to one backend while the backend
 * set stays the same: the fallback's stickiness is Maglev's, every LB's alike, not the XDP program's timed table. */
static __always_inline __s64 maglev_pick(const struct crab_vip *vip, const struct crab_syn_key *k)
{
	if (vip->maglev_count == 0)
		return -1;
	struct crab_syn_key client = { .client_addr = k->client_addr, .vip_addr = k->vip_addr };
	__u32 idx = vip->maglev_base + tuple_hash(vip->affinity_sec ? &client : k) % vip->maglev_count;
	__u32 *id = bpf_map_lookup_elem(&maglev_tables, &idx);
	return id ? *id : -1;
}

static __always_inline int backend_serves(__u32 id)
{
	struct crab_backend *be = bpf_map_lookup_elem(&backends, &id);

	return be && (be->flags & CRAB_BACKEND_SERVING);
}

/* Whether a translating service's SYN can carry the translation option at the end of its options: a header-only
 * segment with room for 12 bytes, options not ended by EOL, and no option of our kind but the client marker
 * (a client's own redirect or translation option would reach the backend beside ours). */
static __always_inline int takes_translate_option(struct __sk_buff *skb, const struct crab_pkt *p,
						  const struct crab_opt_cfg *cfg)
{
	struct crab_opt_scan scan;

	return crab_skb_header_only(skb, p) && p->tcp_len + 12 <= CRAB_MAX_TCP_HDR &&
	       !crab_skb_scan_options(skb, p, cfg, &scan) && !scan.bad && !scan.eol && scan.redirect_off < 0;
}

/*
 * A translating service's packet: the destination becomes the backend's address and port (both checksums updated
 * for the change, never summed again, so a wrong one stays wrong), a SYN gets the translation option naming the VIP
 * and port the client addressed, and the packet is routed by the FIB towards the backend, which may be any number
 * of hops away. The kernel resolves (or queues for) the next hop.
 */
static __always_inline int translate(struct __sk_buff *skb, const struct crab_pkt *p, const struct crab_backend *be,
				     const struct crab_opt_cfg *cfg, int syn)
{
	__be16 port = be->port ? be->port : p->tcp.dest;
	struct bpf_fib_lookup fib = {
		.family = AF_INET, .l4_protocol = IPPROTO_TCP, .sport = p->tcp.source, .dport = port,
		.ipv4_src = p->ip.saddr, .ipv4_dst = be->addr, .ifindex = skb->ifindex,
	};
	/* No tot_len: the kernel then checks the socket buffer against the route's MTU as forwarding would (GSO
	 * included). */
	long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return count(CRAB_FB_DROP_NO_ROUTE, TC_ACT_SHOT);
	struct crab_hdrs h;
	if (crab_skb_headers(skb, &h))
		return count(CRAB_FB_PASS_OTHER, TC_ACT_OK);
	crab_skb_rewrite(skb, &h, 1, be->addr, port);
	if (syn) {
		__u8 opt[16];
		if (!cfg)
			return count(CRAB_FB_DROP_ODD_SYN, TC_ACT_SHOT);
		int size = crab_build_translate(opt, cfg, p->ip.daddr, p->tcp.dest);
		if (crab_skb_append_option(skb, p, opt, size))
			return count(CRAB_FB_DROP_ODD_SYN, TC_ACT_SHOT);
	}
	/* The FIB gave the next hop: the backend itself on a link, else the gateway towards it. */
	struct bpf_redir_neigh nh = { .nh_family = AF_INET, .ipv4_nh = fib.ipv4_dst };
	count(CRAB_FB_TRANSLATED, 0);
	return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
}

SEC("tc")
int crab_lb_fallback(struct __sk_buff *skb)
{
	struct crab_opt_cfg *cfg = 0;
	struct crab_pkt p;

	if (crab_skb_parse(skb, &p))
		return count(CRAB_FB_PASS_OTHER, TC_ACT_OK);
	struct crab_vip *vip = crab_find_vip(p.ip.daddr, p.tcp.dest);
	if (!vip)
		return count(CRAB_FB_PASS_NOT_VIP, TC_ACT_OK);
	if (!crab_source_admitted(vip, p.ip.saddr))
		return count(CRAB_FB_DROP_SOURCE_RANGE, TC_ACT_SHOT);
	int translating = vip->flags & CRAB_VIP_FALLBACK_TRANSLATE;
	struct crab_syn_key key = {
		.client_addr = p.ip.saddr, .vip_addr = p.ip.daddr, .client_port = p.tcp.source, .vip_port = p.tcp.dest,
	};
	int syn = p.tcp.syn && !p.tcp.ack;
	/* Checked before the SYN is placed: one that cannot tell its backend to answer as the VIP is not sent at all,
	 * since the backend would answer it from its own address, which the client does not know. */
	if (translating && syn) {
		cfg = crab_opt_cfg();
		if (!cfg || !takes_translate_option(skb, &p, cfg))
			return count(CRAB_FB_DROP_ODD_SYN, TC_ACT_SHOT);
	}
	struct crab_conn *known = bpf_map_lookup_elem(&conn_table, &key);
	__u32 id;
	/* A SYN for a known tuple is a retransmission, the client reusing the port, or a forgery (anyone can send one
	 * with a guessed port): it keeps the connection where it is while that backend serves, so a forged SYN cannot
	 * move a live connection; the backend's stack answers it as RFC 5961 says. Only a connection whose backend is
	 * down or gone is placed again. */
	if (known && !(syn && !backend_serves(known->backend_id))) {
		id = known->backend_id;
		count(CRAB_FB_FORWARDED, 0);
	} else {
		__s64 pick = maglev_pick(vip, &key);
		if (pick < 0 && (vip->flags & CRAB_VIP_DROP_NO_BACKEND))
			return count(CRAB_FB_DROP_NO_BACKEND, TC_ACT_SHOT);
		if (pick < 0)
			return count(CRAB_FB_PASS_NO_BACKEND, TC_ACT_OK);
		id = (__u32)pick;
		struct crab_conn conn = { .backend_id = id };
		bpf_map_update_elem(&conn_table, &key, &conn, BPF_ANY);
		if (syn) {
			__u64 *placed = bpf_map_lookup_elem(&backend_fallbacks, &id);
			if (placed)
				*placed += 1;
		}
		count(syn ? CRAB_FB_NEW : CRAB_FB_ADOPTED, 0);
	}
	struct crab_backend *be = bpf_map_lookup_elem(&backends, &id);
	if (!be)
		return TC_ACT_OK;
	if (translating)
		return translate(skb, &p, be, cfg, syn);
	struct bpf_redir_neigh nh = { .nh_family = AF_INET, .ipv4_nh = be->addr };
	return bpf_redirect_neigh(skb->ifindex, &nh, sizeof(nh), 0);
}

char LICENSE[] SEC("license") = "GPL";
