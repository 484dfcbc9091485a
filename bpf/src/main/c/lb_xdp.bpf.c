/* lb_xdp.bpf.c: the load balancer. Redirects client SYNs for a VIP to a backend, adding the redirect option. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "maps_lb.h"
#include "tcp_opts.h"
#include "csum.h"
#include "btf_anchor.h"

#define ETH_OFF 0
#define IP_OFF (sizeof(struct ethhdr))
#define TCP_OFF (IP_OFF + sizeof(struct iphdr))
#define SYN_TTL_NS ((__u64)CRAB_SYN_TTL_SEC * 1000000000ull)

static __always_inline int count(enum crab_lb_counter c, int verdict)
{
	__u32 key = c;
	__u64 *n = bpf_map_lookup_elem(&lb_counters, &key);

	if (n)
		*n += 1;
	return verdict;
}

static __always_inline struct crab_vip *find_vip(__be32 addr, __be16 port)
{
	struct crab_vip_key key = { .addr = addr, .port = port };
	struct crab_vip *vip = bpf_map_lookup_elem(&vips, &key);

	if (vip)
		return vip;
	key.port = 0;
	return bpf_map_lookup_elem(&vips, &key);
}

/* Picks a slot of the VIP by its policy; the SYN table keeps a retransmitted SYN on its first backend. */
static __always_inline __u32 *pick_backend_id(struct crab_vip *vip, struct crab_syn_key *sk, __u32 seq,
					      int *retransmit)
{
	__u64 now = bpf_ktime_get_ns();
	struct crab_syn_entry *seen = bpf_map_lookup_elem(&syn_table, sk);
	__u32 n = vip->slot_count;
	__u32 slot;

	if (seen && seen->seq == seq && now - seen->seen_ns < SYN_TTL_NS) {
		*retransmit = 1;
		return &seen->backend_id;
	}
	if (n == 0 || n > CRAB_MAX_SLOTS)
		return 0;
	if (vip->policy == CRAB_POLICY_RANDOM) {
		slot = bpf_get_prandom_u32() % n;
	} else if (vip->policy == CRAB_POLICY_HASH) {
		__u32 h = sk->client_addr * 2654435761u ^ ((__u32)sk->client_port << 16 | sk->vip_port) * 2246822519u;
		slot = (h ^ (h >> 15)) % n;
	} else {
		__u32 row = vip->vip_id;
		__u64 *cursor = bpf_map_lookup_elem(&rr_cursors, &row);
		if (!cursor)
			return 0;
		slot = __sync_fetch_and_add(cursor, 1) % n;
	}
	__u32 idx = vip->vip_id * CRAB_MAX_SLOTS + slot;
	__u32 *id = bpf_map_lookup_elem(&vip_slots, &idx);
	if (!id)
		return 0;
	struct crab_syn_entry entry = { .seen_ns = now, .backend_id = *id, .seq = seq };
	bpf_map_update_elem(&syn_table, sk, &entry, BPF_ANY);
	*retransmit = 0;
	return id;
}

SEC("xdp")
int crab_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + IP_OFF;
	struct tcphdr *tcp = data + TCP_OFF;
	struct crab_opt_scan scan = {};
	__u8 out[64] = {};
	__u8 opt[16];

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return count(CRAB_LB_PASS_NOT_IPV4, XDP_PASS);
	if (ip->version != 4)
		return count(CRAB_LB_PASS_NOT_IPV4, XDP_PASS);
	if (ip->protocol != IPPROTO_TCP)
		return count(CRAB_LB_PASS_NOT_TCP, XDP_PASS);
	if (ip->ihl != 5)
		return count(CRAB_LB_PASS_IP_OPTIONS, XDP_PASS);
	if (ip->frag_off & bpf_htons(0x3fff))
		return count(CRAB_LB_PASS_FRAGMENT, XDP_PASS);
	if ((void *)(tcp + 1) > end)
		return count(CRAB_LB_PASS_MALFORMED, XDP_PASS);
	if (!tcp->syn || tcp->ack || tcp->rst)
		return count(CRAB_LB_PASS_NOT_SYN, XDP_PASS);

	struct crab_vip *vip = find_vip(ip->daddr, tcp->dest);
	if (!vip)
		return count(CRAB_LB_PASS_NOT_VIP, XDP_PASS);

	__u32 tcp_len = tcp->doff * 4;
	__u32 tot_len = bpf_ntohs(ip->tot_len);
	if (tcp_len < 20 || tcp_len > CRAB_MAX_TCP_HDR || tot_len < 20 + tcp_len ||
	    (void *)tcp + tcp_len > end || data + IP_OFF + tot_len > end)
		return count(CRAB_LB_PASS_MALFORMED, XDP_PASS);
	if (tot_len != 20 + tcp_len)
		return count(CRAB_LB_PASS_SYN_DATA, XDP_PASS);
	if (bpf_xdp_load_bytes(ctx, TCP_OFF, scan.hdr, tcp_len))
		return count(CRAB_LB_PASS_MALFORMED, XDP_PASS);

	struct crab_opt_cfg *cfg = crab_opt_cfg();
	if (!cfg)
		return count(CRAB_LB_PASS_BAD_OPTION, XDP_PASS);
	scan.len = tcp_len;
	scan.blank_marker = 1;
	crab_scan_options(&scan, cfg);
	if (scan.bad || scan.redirect_off >= 0)
		return count(CRAB_LB_PASS_BAD_OPTION, XDP_PASS);
	if (scan.marker_off < 0 && !(vip->flags & CRAB_VIP_REDIRECT_UNMARKED))
		return count(CRAB_LB_PASS_UNMARKED, XDP_PASS);

	struct crab_syn_key sk = {
		.client_addr = ip->saddr, .vip_addr = ip->daddr, .client_port = tcp->source, .vip_port = tcp->dest,
	};
	int retransmit = 0;
	__u32 *backend_id = pick_backend_id(vip, &sk, tcp->seq, &retransmit);
	if (!backend_id)
		return count(CRAB_LB_PASS_NO_BACKEND, XDP_PASS);
	__u32 bid = *backend_id;
	struct crab_backend *be = bpf_map_lookup_elem(&backends, &bid);
	if (!be)
		return count(CRAB_LB_PASS_NO_BACKEND, XDP_PASS);

	__be16 new_port = be->port ? be->port : tcp->dest;
	int opt_size = crab_build_redirect(opt, cfg, ip->daddr, tcp->dest, new_port != tcp->dest);
	if (opt_size != 8 && opt_size != 12)
		return count(CRAB_LB_PASS_BAD_OPTION, XDP_PASS);
	__u32 new_len = tcp_len + opt_size;
	if (new_len > CRAB_MAX_TCP_HDR)
		return count(CRAB_LB_PASS_NO_ROOM, XDP_PASS);

	/* New TCP header: fixed part, our option, then the old options (the scan blanked the marker to NOPs).
	 * The copies are branch-free, so the verifier walks them once: the old options go first because indexes
	 * past 63 wrap onto out[0..11], which the fixed part and the option then overwrite. */
	for (int i = 20; i < CRAB_MAX_TCP_HDR; i++)
		out[(i + opt_size) & CRAB_HDR_MASK] = scan.hdr[i];
	for (int i = 0; i < 20; i++)
		out[i] = scan.hdr[i];
	for (int i = 0; i < 12; i++)
		if (i < opt_size)
			out[20 + i] = opt[i];
	struct tcphdr *th = (struct tcphdr *)out;
	th->doff = new_len / 4;
	th->dest = new_port;
	th->check = 0;

	struct ethhdr eth_copy = *eth;
	struct iphdr ip_copy = *ip;
	__builtin_memcpy(eth_copy.h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth_copy.h_dest, be->mac, ETH_ALEN);
	ip_copy.daddr = be->addr;
	ip_copy.tot_len = bpf_htons(20 + new_len);
	ip_copy.check = 0;
	ip_copy.check = crab_ipv4_csum(&ip_copy);
	th->check = crab_tcp_csum(ip_copy.saddr, ip_copy.daddr, out, new_len);

	if (bpf_xdp_adjust_head(ctx, -opt_size))
		return count(CRAB_LB_PASS_NO_ROOM, XDP_PASS);
	if (bpf_xdp_store_bytes(ctx, ETH_OFF, &eth_copy, sizeof(eth_copy)) ||
	    bpf_xdp_store_bytes(ctx, IP_OFF, &ip_copy, sizeof(ip_copy)) ||
	    bpf_xdp_store_bytes(ctx, TCP_OFF, out, new_len))
		return count(CRAB_LB_PASS_MALFORMED, XDP_DROP);

	__u64 *syns = bpf_map_lookup_elem(&backend_syns, &bid);
	if (syns)
		*syns += 1;
	return count(retransmit ? CRAB_LB_TX_RETRANSMIT : CRAB_LB_TX_REDIRECT, XDP_TX);
}

char LICENSE[] SEC("license") = "GPL";
