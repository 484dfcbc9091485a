/* client_tc.bpf.c: the client endpoint. Marks SYNs to VIPs, accepts redirects, rewrites redirected flows. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "maps_client.h"
#include "skb.h"
#include "tcp_opts.h"
#include "btf_anchor.h"

static __always_inline void count(enum crab_client_counter c)
{
	__u32 key = c;
	__u64 *n = bpf_map_lookup_elem(&client_counters, &key);

	if (n)
		*n += 1;
}

static __always_inline int vip_configured(__be32 addr, __be16 port)
{
	struct crab_vip_key key = { .addr = addr, .port = port };

	if (bpf_map_lookup_elem(&client_vips, &key))
		return 1;
	key.port = 0;
	return bpf_map_lookup_elem(&client_vips, &key) != 0;
}

static __always_inline void forget_reverse(const struct crab_flow_key *key, const struct crab_flow *f)
{
	struct crab_flow_key rkey = {
		.local_addr = key->local_addr, .remote_addr = f->peer_addr,
		.local_port = key->local_port, .remote_port = f->peer_port,
	};

	bpf_map_delete_elem(&rflows, &rkey);
}

/* A SYN to a VIP: (re)start its flow as pending and mark the SYN, unless the table is full or the SYN odd. */
static __always_inline int on_syn(struct __sk_buff *skb, struct crab_pkt *p, struct crab_flow_key *key)
{
	struct crab_opt_cfg *cfg = crab_opt_cfg();
	struct crab_opt_scan scan = {};
	__u8 marker[16] = {};

	if (!cfg)
		return TC_ACT_OK;
	if (!vip_configured(p->ip.daddr, p->tcp.dest)) {
		/* The kernel picks source ports per destination, and for a redirected socket that is the VIP: a
		 * direct connection may get the very tuple a redirected one uses on the wire. Its SYN would make the
		 * backend reset the established connection, so the new one waits instead (its SYN is dropped). */
		struct crab_rflow *live = bpf_map_lookup_elem(&rflows, key);
		if (live && !live->closing) {
			count(CRAB_CL_SYN_COLLISION_DROPPED);
			return TC_ACT_SHOT;
		}
		return TC_ACT_OK;
	}
	struct crab_flow *stale = bpf_map_lookup_elem(&flows, key);
	if (stale && stale->state == CRAB_FLOW_REDIRECTED)
		forget_reverse(key, stale);
	if (!crab_skb_header_only(skb, p) || p->tcp_len + 4 > CRAB_MAX_TCP_HDR ||
	    crab_skb_scan_options(skb, p, cfg, &scan)) {
		bpf_map_delete_elem(&flows, key);
		count(CRAB_CL_SYN_UNMARKED_ODD);
		return TC_ACT_OK;
	}
	if (scan.bad || scan.eol || scan.marker_off >= 0 || scan.redirect_off >= 0) {
		bpf_map_delete_elem(&flows, key);
		count(CRAB_CL_SYN_UNMARKED_ODD);
		return TC_ACT_OK;
	}
	struct crab_flow f = {
		.created_ns = bpf_ktime_get_ns(),
		.syn_seq = bpf_ntohl(p->tcp.seq),
		.state = CRAB_FLOW_PENDING,
	};
	if (bpf_map_update_elem(&flows, key, &f, BPF_ANY)) {
		count(CRAB_CL_SYN_UNMARKED_FULL);
		return TC_ACT_OK;
	}
	if (crab_skb_append_option(skb, p, marker, crab_build_marker(marker, cfg))) {
		bpf_map_delete_elem(&flows, key);
		count(CRAB_CL_SYN_UNMARKED_ODD);
		return TC_ACT_OK;
	}
	count(CRAB_CL_SYN_MARKED);
	return TC_ACT_OK;
}

SEC("tc")
int crab_client_egress(struct __sk_buff *skb)
{
	struct crab_pkt p;

	if (crab_skb_parse(skb, &p))
		return TC_ACT_OK;
	struct crab_flow_key key = {
		.local_addr = p.ip.saddr, .remote_addr = p.ip.daddr,
		.local_port = p.tcp.source, .remote_port = p.tcp.dest,
	};
	if (p.tcp.syn && !p.tcp.ack)
		return on_syn(skb, &p, &key);

	struct crab_flow *f = bpf_map_lookup_elem(&flows, &key);
	if (!f || f->state != CRAB_FLOW_REDIRECTED)
		return TC_ACT_OK;
	struct crab_flow_key rkey = {
		.local_addr = key.local_addr, .remote_addr = f->peer_addr,
		.local_port = key.local_port, .remote_port = f->peer_port,
	};
	__u8 mac[ETH_ALEN];
	__builtin_memcpy(mac, f->peer_mac, ETH_ALEN);
	crab_skb_rewrite(skb, &p, 1, f->peer_addr, f->peer_port);
	bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), mac, ETH_ALEN, 0);
	if (p.tcp.fin) {
		struct crab_rflow *r = bpf_map_lookup_elem(&rflows, &rkey);
		if (r)
			r->closing = 1;
	}
	if (p.tcp.rst) {
		bpf_map_delete_elem(&rflows, &rkey);
		bpf_map_delete_elem(&flows, &key);
		count(CRAB_CL_FLOW_RESET);
	}
	count(CRAB_CL_EGRESS_REWRITTEN);
	return TC_ACT_OK;
}

/* A SYN-ACK with the option: accept it only for a configured VIP and a SYN of ours that it acknowledges. */
static __always_inline void accept_redirect(struct __sk_buff *skb, struct crab_pkt *p)
{
	struct crab_opt_cfg *cfg = crab_opt_cfg();
	struct crab_opt_scan scan = {};
	__be32 vip = 0;
	__be16 vport = 0;
	int has_port = 0;

	if (!cfg || crab_skb_scan_options(skb, p, cfg, &scan))
		return;
	if (scan.bad || scan.redirect_off < 0)
		return;
	crab_read_redirect(&scan, &vip, &vport, &has_port);
	if (!has_port)
		vport = p->tcp.source;
	struct crab_flow_key fkey = {
		.local_addr = p->ip.daddr, .remote_addr = vip, .local_port = p->tcp.dest, .remote_port = vport,
	};
	struct crab_flow *f = bpf_map_lookup_elem(&flows, &fkey);
	if (!vip_configured(vip, vport) || !f || bpf_ntohl(p->tcp.ack_seq) != f->syn_seq + 1) {
		count(CRAB_CL_REDIRECT_REFUSED);
		return;
	}
	if (f->state == CRAB_FLOW_REDIRECTED && f->peer_addr == p->ip.saddr && f->peer_port == p->tcp.source)
		return;
	struct crab_flow_key rkey = {
		.local_addr = p->ip.daddr, .remote_addr = p->ip.saddr,
		.local_port = p->tcp.dest, .remote_port = p->tcp.source,
	};
	/* A retransmitted SYN may have been answered by a second backend: the first one's reverse entry goes. */
	if (f->state == CRAB_FLOW_REDIRECTED)
		forget_reverse(&fkey, f);
	struct crab_rflow r = { .vip_addr = vip, .vip_port = vport };
	if (bpf_map_update_elem(&rflows, &rkey, &r, BPF_ANY)) {
		count(CRAB_CL_REDIRECT_REFUSED);
		return;
	}
	f->peer_addr = p->ip.saddr;
	f->peer_port = p->tcp.source;
	__builtin_memcpy(f->peer_mac, p->eth.h_source, ETH_ALEN);
	f->state = CRAB_FLOW_REDIRECTED;
	count(CRAB_CL_REDIRECT_ACCEPTED);
}

SEC("tc")
int crab_client_ingress(struct __sk_buff *skb)
{
	struct crab_pkt p;

	if (crab_skb_parse(skb, &p))
		return TC_ACT_OK;
	if (p.tcp.syn && p.tcp.ack)
		accept_redirect(skb, &p);
	struct crab_flow_key rkey = {
		.local_addr = p.ip.daddr, .remote_addr = p.ip.saddr,
		.local_port = p.tcp.dest, .remote_port = p.tcp.source,
	};
	struct crab_rflow *r = bpf_map_lookup_elem(&rflows, &rkey);
	if (!r)
		return TC_ACT_OK;
	struct crab_flow_key fkey = {
		.local_addr = p.ip.daddr, .remote_addr = r->vip_addr,
		.local_port = p.tcp.dest, .remote_port = r->vip_port,
	};
	crab_skb_rewrite(skb, &p, 0, r->vip_addr, r->vip_port);
	if (p.tcp.fin)
		r->closing = 1;
	if (p.tcp.rst) {
		bpf_map_delete_elem(&flows, &fkey);
		bpf_map_delete_elem(&rflows, &rkey);
		count(CRAB_CL_FLOW_RESET);
	}
	count(CRAB_CL_INGRESS_REWRITTEN);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
