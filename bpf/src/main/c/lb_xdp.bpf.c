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
#include "lb_policy.h"
#include "tcp_opts.h"
#include "csum.h"
#include "btf_anchor.h"

#define ETH_OFF 0
#define IP_OFF (sizeof(struct ethhdr))
#define TCP_OFF (IP_OFF + sizeof(struct iphdr))
#define AF_INET 2 /* linux/socket.h is not a uapi header */
#define SYN_TTL_NS ((__u64)CRAB_SYN_TTL_SEC * 1000000000ull)

static __always_inline int count(enum crab_lb_counter c, int verdict)
{
	__u32 key = c;
	__u64 *n = bpf_map_lookup_elem(&lb_counters, &key);

	if (n)
		*n += 1;
	return verdict;
}

static __always_inline int backend_up(__u32 id)
{
	struct crab_backend *be = bpf_map_lookup_elem(&backends, &id);

	return be && (be->flags & CRAB_BACKEND_UP);
}

/* A backend for the SYN by the service's policy. The SYN table keeps a retransmitted SYN on its first backend
 * while that backend is up; once the agent marked it down, the retransmission is balanced again. */
static __always_inline __s64 pick_backend_id(struct crab_vip *vip, struct crab_syn_key *sk, __u32 seq,
					     enum crab_lb_counter *tx_counter)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 index = crab_syn_slot_of(sk);
	struct crab_syn_slot *seen = bpf_map_lookup_elem(&syn_slots, &index);

	if (!seen)
		return -1;
	*tx_counter = CRAB_LB_TX_REDIRECT;
	if (seen->key.client_addr == sk->client_addr && seen->key.vip_addr == sk->vip_addr &&
	    seen->key.client_port == sk->client_port && seen->key.vip_port == sk->vip_port && seen->seq == seq &&
	    now - seen->seen_ns < SYN_TTL_NS) {
		if (backend_up(seen->backend_id)) {
			*tx_counter = CRAB_LB_TX_RETRANSMIT;
			return seen->backend_id;
		}
		*tx_counter = CRAB_LB_TX_REBALANCED;
	}
	__s64 id = crab_pick(vip, sk);
	if (id < 0)
		return -1;
	/* Written in place: another CPU's SYN hashing here may interleave, which at worst balances a
	 * retransmission again, as an evicted slot does. */
	seen->key = *sk;
	seen->seq = seq;
	seen->backend_id = id;
	seen->seen_ns = now;
	return id;
}

/* The IPv4 header (20 bytes, no options) sums to all ones: a corrupt header is not rewritten into a valid one. */
static __always_inline int ipv4_csum_ok(struct iphdr *ip)
{
	return crab_csum_fold(bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0)) == 0;
}

/*
 * The SYN's TCP checksum is either complete and right, or the partial form a sender on this host's veth leaves
 * for offload (the pseudo-header sum, not inverted; native XDP drops the skb's note that it is partial). On a
 * real NIC frames arrive with complete checksums, so only the first form is seen; anything else is corrupt.
 */
static __always_inline int tcp_csum_ok(struct iphdr *ip, struct crab_opt_scan *scan, __u32 tcp_len)
{
	struct tcphdr *th = (struct tcphdr *)scan->hdr;
	__u16 check = th->check;

	if (crab_tcp_csum_verify(ip->saddr, ip->daddr, scan->hdr, tcp_len))
		return 1;
	return check == crab_tcp_pseudo_partial(ip->saddr, ip->daddr, tcp_len);
}

/* The backend's next hop from the kernel's FIB and neighbour table: MACs and the interface to send on. */
static __always_inline int route_to(struct xdp_md *ctx, struct iphdr *ip, __be32 daddr, __be16 sport,
				    __be16 dport, __u32 tot_len, struct bpf_fib_lookup *fib)
{
	fib->family = AF_INET;
	fib->l4_protocol = IPPROTO_TCP;
	fib->sport = sport;
	fib->dport = dport;
	fib->tot_len = tot_len;
	fib->ipv4_src = ip->saddr;
	fib->ipv4_dst = daddr;
	fib->ifindex = ctx->ingress_ifindex;
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0) == BPF_FIB_LKUP_RET_SUCCESS ? 0 : -1;
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

	struct crab_vip *vip = crab_find_vip(ip->daddr, tcp->dest);
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
	crab_scan_options(&scan, cfg);
	if (scan.bad || scan.redirect_off >= 0)
		return count(CRAB_LB_PASS_BAD_OPTION, XDP_PASS);
	if (scan.marker_off < 0 && !(vip->flags & CRAB_VIP_REDIRECT_UNMARKED))
		return count(CRAB_LB_PASS_UNMARKED, XDP_PASS);
	/* Checked only now, for a SYN about to be rewritten: one passed as it is needs no verdict on its checksums,
	 * the kernel checks them. */
	if (!ipv4_csum_ok(ip) || !tcp_csum_ok(ip, &scan, tcp_len))
		return count(CRAB_LB_PASS_BAD_CSUM, XDP_PASS);

	struct crab_syn_key sk = {
		.client_addr = ip->saddr, .vip_addr = ip->daddr, .client_port = tcp->source, .vip_port = tcp->dest,
	};
	enum crab_lb_counter tx_counter;
	__s64 backend_id = pick_backend_id(vip, &sk, tcp->seq, &tx_counter);
	if (backend_id < 0)
		return count(CRAB_LB_PASS_NO_BACKEND, XDP_PASS);
	__u32 bid = backend_id;
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
	struct bpf_fib_lookup fib = {};
	if (route_to(ctx, ip, be->addr, tcp->source, new_port, 20 + new_len, &fib))
		return count(CRAB_LB_DROP_NO_ROUTE, XDP_DROP);

	/* The marker is consumed: NOPs in its place, so the server never sees two options of our kind. A marker is
	 * the option's header alone: 2 bytes, 4 with an ExID. */
	for (int i = 0; i < 4; i++)
		if (scan.marker_off >= 0 && i < scan.marker_len)
			scan.hdr[(scan.marker_off + i) & CRAB_HDR_MASK] = CRAB_TCPOPT_NOP;
	/* New TCP header: fixed part, our option, then the old options.
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
	__builtin_memcpy(eth_copy.h_source, fib.smac, ETH_ALEN);
	__builtin_memcpy(eth_copy.h_dest, fib.dmac, ETH_ALEN);
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
	if (fib.ifindex != ctx->ingress_ifindex)
		return count(tx_counter, bpf_redirect(fib.ifindex, 0));
	return count(tx_counter, XDP_TX);
}

char LICENSE[] SEC("license") = "GPL";
