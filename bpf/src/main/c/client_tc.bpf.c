/* client_tc.bpf.c: the client endpoint. Marks SYNs to VIPs, accepts redirects, rewrites redirected flows.
 *
 * A flow's state moves only on what this host's own stack sends, or on a packet the kernel could not refuse
 * either: a redirect is accepted once, while the flow is pending, and must acknowledge our SYN's ISN and come
 * from a backend the VIP allows. An incoming RST never removes state (the kernel judges it against its window,
 * RFC 5961); the state goes when this host sends a RST or when crab-endpoint sees the socket gone. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "maps_client.h"
#include "skb.h"
#include "icmp.h"
#include "tcp_opts.h"
#include "btf_anchor.h"

/* Both directions sent their FIN: the connection is over for the network even if the socket lingers. */
#define CRAB_CLOSED_BOTH (CRAB_FIN_OUT | CRAB_FIN_IN)

static __always_inline void count(enum crab_client_counter c)
{
	__u32 key = c;
	__u64 *n = bpf_map_lookup_elem(&client_counters, &key);

	if (n)
		*n += 1;
}

static __always_inline struct crab_client_vip *client_vip(__be32 addr, __be16 port)
{
	struct crab_vip_key key = { .addr = addr, .port = port };
	struct crab_client_vip *vip = bpf_map_lookup_elem(&client_vips, &key);

	if (vip)
		return vip;
	key.port = 0;
	return bpf_map_lookup_elem(&client_vips, &key);
}

static __always_inline int backend_allowed(__u32 vip_id, __be32 addr)
{
	struct crab_cidr_key key = { .prefixlen = 64, .vip_id = vip_id, .addr = addr };

	return bpf_map_lookup_elem(&backend_cidrs, &key) != 0;
}

static __always_inline struct crab_rflow *reverse_of(const struct crab_flow_key *key, const struct crab_flow *f)
{
	struct crab_flow_key rkey = {
		.local_addr = key->local_addr, .remote_addr = f->peer_addr,
		.local_port = key->local_port, .remote_port = f->peer_port,
	};

	return bpf_map_lookup_elem(&rflows, &rkey);
}

/* A flow holds its wire tuple (and local port) while pending, or redirected until FINs went both ways. */
static __always_inline int flow_live(const struct crab_flow_key *key, const struct crab_flow *f)
{
	if (f->state == CRAB_FLOW_PENDING)
		return 1;
	struct crab_rflow *r = reverse_of(key, f);
	return r && (r->closing & CRAB_CLOSED_BOTH) != CRAB_CLOSED_BOTH;
}

/* Drops the flow's reverse entry and its claim on the local port. */
static __always_inline void forget_redirect(const struct crab_flow_key *key, const struct crab_flow *f)
{
	struct crab_flow_key rkey = {
		.local_addr = key->local_addr, .remote_addr = f->peer_addr,
		.local_port = key->local_port, .remote_port = f->peer_port,
	};

	if (f->state == CRAB_FLOW_REDIRECTED)
		bpf_map_delete_elem(&rflows, &rkey);
}

static __always_inline void forget_flow(const struct crab_flow_key *key, const struct crab_flow *f)
{
	struct crab_port_key pkey = { .local_addr = key->local_addr, .local_port = key->local_port };
	struct crab_vip_key *owner = bpf_map_lookup_elem(&ports, &pkey);

	forget_redirect(key, f);
	if (owner && owner->addr == key->remote_addr && owner->port == key->remote_port)
		bpf_map_delete_elem(&ports, &pkey);
	bpf_map_delete_elem(&flows, key);
}

/* True when a live flow to another VIP holds this local port: the LB might send both to one backend. */
static __always_inline int port_taken(const struct crab_flow_key *key)
{
	struct crab_port_key pkey = { .local_addr = key->local_addr, .local_port = key->local_port };
	struct crab_vip_key *owner = bpf_map_lookup_elem(&ports, &pkey);

	if (!owner || (owner->addr == key->remote_addr && owner->port == key->remote_port))
		return 0;
	struct crab_flow_key okey = {
		.local_addr = key->local_addr, .remote_addr = owner->addr,
		.local_port = key->local_port, .remote_port = owner->port,
	};
	struct crab_flow *other = bpf_map_lookup_elem(&flows, &okey);
	return other && flow_live(&okey, other);
}

/* A SYN not to a VIP: the kernel picks source ports per destination, so a direct connection may get the very
 * wire tuple a redirected one uses. Its SYN would make the backend reset a live connection; it waits instead.
 * A redirected connection whose FINs went both ways is over on the wire, so the direct one takes the tuple: the
 * old flow goes now, or its reverse entry would make the backend's SYN-ACK look as if it came from the VIP. */
static __always_inline int on_direct_syn(struct crab_flow_key *key)
{
	struct crab_rflow *held = bpf_map_lookup_elem(&rflows, key);

	if (!held)
		return CRAB_TC_NEXT;
	if ((held->closing & CRAB_CLOSED_BOTH) != CRAB_CLOSED_BOTH) {
		count(CRAB_CL_SYN_COLLISION_DROPPED);
		return TC_ACT_SHOT;
	}
	struct crab_flow_key okey = {
		.local_addr = key->local_addr, .remote_addr = held->vip_addr,
		.local_port = key->local_port, .remote_port = held->vip_port,
	};
	struct crab_flow *old = bpf_map_lookup_elem(&flows, &okey);
	if (old && old->peer_addr == key->remote_addr && old->peer_port == key->remote_port)
		forget_flow(&okey, old);
	else
		bpf_map_delete_elem(&rflows, key);
	count(CRAB_CL_TUPLE_HANDED_OVER);
	return CRAB_TC_NEXT;
}

/* A SYN to a VIP: (re)start its flow as pending, claim the local port and mark the SYN. A SYN that cannot be
 * marked (odd, table full, port held by another VIP's flow) goes out as it is, and the LB does not redirect it. */
static __always_inline int on_vip_syn(struct __sk_buff *skb, struct crab_pkt *p, struct crab_flow_key *key)
{
	struct crab_opt_cfg *cfg = crab_opt_cfg();
	struct crab_opt_scan scan = {};
	__u8 marker[16] = {};

	if (!cfg)
		return CRAB_TC_NEXT;
	/* Our own stack sends a SYN only from SYN_SENT: whatever the flow was, it is a handshake again. */
	struct crab_flow *old = bpf_map_lookup_elem(&flows, key);
	if (old)
		forget_flow(key, old);
	if (!crab_skb_header_only(skb, p) || p->tcp_len + 4 > CRAB_MAX_TCP_HDR ||
	    crab_skb_scan_options(skb, p, cfg, &scan) ||
	    scan.bad || scan.eol || scan.marker_off >= 0 || scan.redirect_off >= 0) {
		count(CRAB_CL_SYN_UNMARKED_ODD);
		return CRAB_TC_NEXT;
	}
	if (port_taken(key)) {
		count(CRAB_CL_SYN_UNMARKED_PORT_BUSY);
		return CRAB_TC_NEXT;
	}
	struct crab_flow f = {
		.created_ns = bpf_ktime_get_ns(),
		.syn_seq = bpf_ntohl(p->tcp.seq),
		.state = CRAB_FLOW_PENDING,
	};
	struct crab_port_key pkey = { .local_addr = key->local_addr, .local_port = key->local_port };
	struct crab_vip_key owner = { .addr = key->remote_addr, .port = key->remote_port };
	if (bpf_map_update_elem(&flows, key, &f, BPF_ANY)) {
		count(CRAB_CL_SYN_UNMARKED_FULL);
		return CRAB_TC_NEXT;
	}
	if (bpf_map_update_elem(&ports, &pkey, &owner, BPF_ANY)) {
		bpf_map_delete_elem(&flows, key);
		count(CRAB_CL_SYN_UNMARKED_FULL);
		return CRAB_TC_NEXT;
	}
	if (crab_skb_append_option(skb, p, marker, crab_build_marker(marker, cfg))) {
		forget_flow(key, &f);
		count(CRAB_CL_SYN_UNMARKED_ODD);
		return CRAB_TC_NEXT;
	}
	count(CRAB_CL_SYN_MARKED);
	return CRAB_TC_NEXT;
}

/* A SYN from this host: to a VIP it is marked, else it may have to wait for a redirected flow's wire tuple. */
static __always_inline int on_syn_out(struct __sk_buff *skb, const struct crab_hdrs *h, struct crab_flow_key *key)
{
	struct crab_pkt p;

	crab_pkt_of(h, &p);
	return client_vip(p.ip.daddr, p.tcp.dest) ? on_vip_syn(skb, &p, key) : on_direct_syn(key);
}

/* A FIN or RST this host sends on a redirected flow: the flow's wire tuple is on its way to being free. */
static __always_inline void on_close_out(const struct crab_flow_key *key, const struct crab_flow *f, int fin, int rst)
{
	struct crab_rflow *r = fin ? reverse_of(key, f) : 0;

	if (r)
		r->closing |= CRAB_FIN_OUT;
	if (rst) {
		/* Our own stack aborts the connection: nothing can use the flow any more. */
		forget_flow(key, f);
		count(CRAB_CL_FLOW_RESET);
	}
}

/* Every other packet costs one lookup, and one of a redirected flow a rewrite in place besides. */
SEC("tc")
int crab_client_egress(struct __sk_buff *skb)
{
	struct crab_hdrs h;

	if (crab_skb_headers(skb, &h))
		return CRAB_TC_NEXT;
	struct crab_flow_key key = {
		.local_addr = h.ip->saddr, .remote_addr = h.ip->daddr,
		.local_port = h.tcp->source, .remote_port = h.tcp->dest,
	};
	if (h.tcp->syn && !h.tcp->ack)
		return on_syn_out(skb, &h, &key);

	struct crab_flow *f = bpf_map_lookup_elem(&flows, &key);
	if (!f || f->state != CRAB_FLOW_REDIRECTED)
		return CRAB_TC_NEXT;
	__be32 peer_addr = f->peer_addr;
	__be16 peer_port = f->peer_port;
	if (h.tcp->fin || h.tcp->rst)
		on_close_out(&key, f, h.tcp->fin, h.tcp->rst);
	crab_skb_rewrite(skb, &h, 1, peer_addr, peer_port);
	count(CRAB_CL_EGRESS_REWRITTEN);
	/* The VIP's next hop (the LB) is not the backend's: the kernel's FIB and neighbour table pick it, per
	 * packet, so a changed route or MAC is followed and an unresolved neighbour is resolved, not guessed. */
	return bpf_redirect_neigh(skb->ifindex, 0, 0, 0);
}

/* A SYN-ACK with the option: the redirect of a pending flow of ours, if everything about it checks out. */
static __always_inline void accept_redirect(struct __sk_buff *skb, struct crab_pkt *p)
{
	struct crab_opt_cfg *cfg = crab_opt_cfg();
	struct crab_opt_scan scan = {};
	__be32 vip = 0;
	__be16 vport = 0;
	int has_port = 0;

	if (!cfg || crab_skb_scan_options(skb, p, cfg, &scan) || scan.bad || scan.redirect_off < 0 ||
	    crab_scan_translates(&scan) || crab_read_redirect(&scan, &vip, &vport, &has_port))
		return;
	if (!has_port)
		vport = p->tcp.source;
	struct crab_flow_key fkey = {
		.local_addr = p->ip.daddr, .remote_addr = vip, .local_port = p->tcp.dest, .remote_port = vport,
	};
	struct crab_client_vip *cv = client_vip(vip, vport);
	struct crab_flow *f = bpf_map_lookup_elem(&flows, &fkey);
	if (!cv || !f || bpf_ntohl(p->tcp.ack_seq) != f->syn_seq + 1) {
		count(CRAB_CL_REDIRECT_REFUSED);
		return;
	}
	if (f->state != CRAB_FLOW_PENDING) {
		/* Established flows never move: a late answer to a retransmitted SYN, or anyone who saw our SYN. */
		count(CRAB_CL_REDIRECT_LATE);
		return;
	}
	if (!backend_allowed(cv->vip_id, p->ip.saddr)) {
		count(CRAB_CL_REDIRECT_FORBIDDEN);
		return;
	}
	struct crab_flow_key rkey = {
		.local_addr = p->ip.daddr, .remote_addr = p->ip.saddr,
		.local_port = p->tcp.dest, .remote_port = p->tcp.source,
	};
	struct crab_rflow *held = bpf_map_lookup_elem(&rflows, &rkey);
	if (held) {
		struct crab_flow_key okey = {
			.local_addr = rkey.local_addr, .remote_addr = held->vip_addr,
			.local_port = rkey.local_port, .remote_port = held->vip_port,
		};
		struct crab_flow *other = bpf_map_lookup_elem(&flows, &okey);
		if (other && other->state == CRAB_FLOW_REDIRECTED && other->peer_addr == rkey.remote_addr &&
		    other->peer_port == rkey.remote_port && flow_live(&okey, other)) {
			count(CRAB_CL_REDIRECT_COLLISION);
			return;
		}
	}
	struct crab_rflow r = { .vip_addr = vip, .vip_port = vport };
	if (bpf_map_update_elem(&rflows, &rkey, &r, BPF_ANY)) {
		count(CRAB_CL_REDIRECT_REFUSED);
		return;
	}
	f->peer_addr = p->ip.saddr;
	f->peer_port = p->tcp.source;
	f->state = CRAB_FLOW_REDIRECTED;
	count(CRAB_CL_REDIRECT_ACCEPTED);
}

/* A RST from the VIP to a pending flow that the kernel will accept too (it acknowledges our SYN, RFC 793):
 * the LB host refused the connection, so the flow and its port claim go now. */
static __always_inline void on_vip_rst(const struct crab_pkt *p)
{
	struct crab_flow_key key = {
		.local_addr = p->ip.daddr, .remote_addr = p->ip.saddr,
		.local_port = p->tcp.dest, .remote_port = p->tcp.source,
	};
	struct crab_flow *f = bpf_map_lookup_elem(&flows, &key);

	if (f && f->state == CRAB_FLOW_PENDING && p->tcp.ack && bpf_ntohl(p->tcp.ack_seq) == f->syn_seq + 1) {
		forget_flow(&key, f);
		count(CRAB_CL_FLOW_RESET);
	}
}

/* An ICMP error about a packet we sent to a backend names the backend; the socket knows only the VIP. Made to
 * name the VIP, the kernel finds the socket and judges the error itself (RFC 5927 checks: the quoted sequence
 * number must be in the window), so path-MTU discovery works and a forged error gets no further than before. */
static __always_inline void on_icmp_error(struct __sk_buff *skb)
{
	struct crab_icmp_err e;

	if (crab_icmp_parse(skb, &e))
		return;
	struct crab_flow_key rkey = {
		.local_addr = e.inner_saddr, .remote_addr = e.inner_daddr,
		.local_port = e.inner_sport, .remote_port = e.inner_dport,
	};
	struct crab_rflow *r = bpf_map_lookup_elem(&rflows, &rkey);
	if (!r)
		return;
	crab_icmp_rewrite_inner_dst(skb, &e, r->vip_addr, r->vip_port);
	count(CRAB_CL_ICMP_TRANSLATED);
}

/* A SYN-ACK or RST: the packets that may move a flow's state on the way in. */
static __always_inline void on_handshake_in(struct __sk_buff *skb, const struct crab_hdrs *h)
{
	struct crab_pkt p;

	crab_pkt_of(h, &p);
	if (p.tcp.syn && p.tcp.ack)
		accept_redirect(skb, &p);
	else
		on_vip_rst(&p);
}

/* Every other TCP packet costs one lookup, and one of a redirected flow a rewrite in place besides. */
SEC("tc")
int crab_client_ingress(struct __sk_buff *skb)
{
	struct crab_hdrs h;

	if (crab_skb_headers(skb, &h)) {
		on_icmp_error(skb);
		return CRAB_TC_NEXT;
	}
	if ((h.tcp->syn && h.tcp->ack) || h.tcp->rst)
		on_handshake_in(skb, &h);
	struct crab_flow_key rkey = {
		.local_addr = h.ip->daddr, .remote_addr = h.ip->saddr,
		.local_port = h.tcp->dest, .remote_port = h.tcp->source,
	};
	struct crab_rflow *r = bpf_map_lookup_elem(&rflows, &rkey);
	if (!r)
		return CRAB_TC_NEXT;
	if (h.tcp->fin)
		r->closing |= CRAB_FIN_IN;
	crab_skb_rewrite(skb, &h, 0, r->vip_addr, r->vip_port);
	count(CRAB_CL_INGRESS_REWRITTEN);
	return CRAB_TC_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
