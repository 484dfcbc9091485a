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
#include "lb_affinity.h"
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

/* A backend for the SYN by the service's policy (and its ClientIP affinity). The SYN table keeps a retransmitted SYN
 * on its first backend while that backend is up; once the agent marked it down, the retransmission is balanced
 * again. */
static __always_inline __s64 pick_backend_id(struct crab_vip *vip, struct crab_syn_key *sk, __u32 seq,
					     enum crab_lb_counter *tx_counter)
{
	/* The coarse clock (a tick's resolution) is enough for a time-out of seconds, and costs no clock-source read. A
	 * slot stamped by the fine clock (a test's fixture) may be a tick ahead of it: the age is a signed difference. */
	__u64 now = bpf_ktime_get_coarse_ns();
	__u32 index = crab_syn_slot_of(sk);
	struct crab_syn_slot *seen = bpf_map_lookup_elem(&syn_slots, &index);

	if (!seen)
		return -1;
	*tx_counter = CRAB_LB_TX_REDIRECT;
	if (seen->key.client_addr == sk->client_addr && seen->key.vip_addr == sk->vip_addr &&
	    seen->key.client_port == sk->client_port && seen->key.vip_port == sk->vip_port && seen->seq == seq &&
	    (__s64)(now - seen->seen_ns) < (__s64)SYN_TTL_NS) {
		if (backend_up(seen->backend_id)) {
			*tx_counter = CRAB_LB_TX_RETRANSMIT;
			return seen->backend_id;
		}
		*tx_counter = CRAB_LB_TX_REBALANCED;
	}
	__s64 id = crab_pick_affine(vip, sk, now);
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

/*
 * Why the service turns the SYN away before anything else is done for it, or 0: a source outside its prefixes; or,
 * for a service that drops what it cannot place, no backend at all for either path while the fallback's connection
 * table knows nothing of the tuple (a tuple it knows stays with its backend while that serves: lb_tc decides).
 */
static __always_inline enum crab_lb_counter turned_away(const struct crab_vip *vip, const struct iphdr *ip,
							const struct tcphdr *tcp)
{
	if (!crab_source_admitted(vip, ip->saddr))
		return CRAB_LB_DROP_SOURCE_RANGE;
	if (!(vip->flags & CRAB_VIP_DROP_NO_BACKEND) || vip->slot_count || vip->maglev_count)
		return 0;
	struct crab_syn_key sk = {
		.client_addr = ip->saddr, .vip_addr = ip->daddr, .client_port = tcp->source, .vip_port = tcp->dest,
	};
	return bpf_map_lookup_elem(&conn_table, &sk) ? 0 : CRAB_LB_DROP_NO_BACKEND;
}

/*
 * How the backend is reached, by the kernel's FIB: 0 out of the interface the SYN came in on, sent back out with the
 * next hop's MACs from its neighbour table (XDP_TX); 1 out of another one (a pod's veth on this host, a tunnel, a
 * second NIC), where the host's own stack forwards the rewritten SYN (XDP_PASS) and resolves the next hop itself,
 * whatever the device; -1 no route, or no neighbour entry for XDP_TX.
 */
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
	long rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return -1;
	if (fib->ifindex != ctx->ingress_ifindex)
		return 1;
	return rc == BPF_FIB_LKUP_RET_SUCCESS ? 0 : -1;
}

/* The TCP checksum's change for the marker blanked with NOPs: its bytes as the packet has them, each at its parity
 * (the checksum's 16-bit words start at even offsets of the segment). */
static __always_inline __u64 blank_marker_csum(__u64 sum, const __u8 *marker, int marker_off, int marker_len)
{
	for (int i = 0; i < 4; i++) {
		if (i < marker_len) {
			int shift = ((marker_off + i) & 1) * 8;
			sum = crab_csum_swap16(sum, marker[i] << shift, CRAB_TCPOPT_NOP << shift);
		}
	}
	return sum;
}

/*
 * Whether the rewritten SYN keeps a partial checksum partial. In native mode the frame leaves without a socket
 * buffer, so its receiver checks the checksum as it stands: it must be complete. Generic XDP runs on the socket
 * buffer, which keeps its note that the checksum is partial (CHECKSUM_PARTIAL, with where the TCP header starts): a
 * device or the kernel on the way completes it by summing the segment from there over what the field holds, so the
 * header must stay where the note says and the field must hold the pseudo-header sum of the new header, or the
 * segment arrives corrupt. The agent writes the mode into lb_xdp_mode before it attaches the program.
 */
static __always_inline int keeps_partial_csum(void)
{
	__u32 zero = 0;
	__u32 *mode = bpf_map_lookup_elem(&lb_xdp_mode, &zero);

	return mode && *mode == CRAB_XDP_GENERIC;
}

/*
 * Makes room for the option after the fixed TCP header with the TCP header where it was: the frame grows at its
 * tail and the old options move back by opt_size, a word at a time from the last (the ranges overlap; there is no
 * payload, and options come in whole words). The caller then writes every header from the frame's start, as after
 * bpf_xdp_adjust_head.
 */
static __always_inline int grow_after_fixed_header(struct xdp_md *ctx, __u32 tcp_len, int opt_size)
{
	__u32 words = (tcp_len - sizeof(struct tcphdr)) / 4;

	if (bpf_xdp_adjust_tail(ctx, opt_size))
		return -1;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	for (int i = (CRAB_MAX_TCP_HDR - sizeof(struct tcphdr)) / 4 - 1; i >= 0; i--) {
		if (i >= words)
			continue;
		__u32 *from = data + TCP_OFF + sizeof(struct tcphdr) + i * 4;
		__u32 *to = (void *)from + opt_size;
		if ((void *)(from + 1) > end || (void *)(to + 1) > end)
			return -1;
		*to = *from;
	}
	return 0;
}

/* A full TCP checksum over the rewritten segment, for a SYN whose sender left the checksum to offload: the partial
 * sum it carries is no checksum a receiver could check. */
static __always_inline int full_tcp_csum(struct xdp_md *ctx, __be32 saddr, __be32 daddr, __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct tcphdr *tcp = data + TCP_OFF;

	if ((void *)(tcp + 1) > end)
		return -1;
	tcp->check = 0;
	__u64 sum = crab_pseudo_partial(saddr, daddr, len);
	for (int i = 0; i < CRAB_MAX_TCP_HDR / 4; i++) {
		__u32 *word = (void *)tcp + i * 4;
		if (i * 4 >= len)
			break;
		if ((void *)(word + 1) > end)
			return -1;
		sum += (*word & 0xffff) + (*word >> 16);
	}
	tcp->check = crab_csum_fold(sum);
	return 0;
}

SEC("xdp")
int crab_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + IP_OFF;
	struct tcphdr *tcp = data + TCP_OFF;
	struct crab_opt_scan scan;

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
	enum crab_lb_counter refusal = turned_away(vip, ip, tcp);
	if (refusal)
		return count(refusal, XDP_DROP);

	__u32 tcp_len = tcp->doff * 4;
	__u32 tot_len = bpf_ntohs(ip->tot_len);
	if (tcp_len < 20 || tcp_len > CRAB_MAX_TCP_HDR || tot_len < 20 + tcp_len ||
	    (void *)tcp + tcp_len > end || data + IP_OFF + tot_len > end)
		return count(CRAB_LB_PASS_MALFORMED, XDP_PASS);
	if (tot_len != 20 + tcp_len)
		return count(CRAB_LB_PASS_SYN_DATA, XDP_PASS);

	struct crab_opt_cfg *cfg = crab_opt_cfg();
	if (!cfg)
		return count(CRAB_LB_PASS_BAD_OPTION, XDP_PASS);
	crab_scan_options(&scan, cfg, tcp, end, tcp_len);
	if (scan.bad || scan.redirect_off >= 0)
		return count(CRAB_LB_PASS_BAD_OPTION, XDP_PASS);
	if (scan.marker_off < 0 && !(vip->flags & CRAB_VIP_REDIRECT_UNMARKED))
		return count(CRAB_LB_PASS_UNMARKED, XDP_PASS);

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
	__u8 opt[16];
	int opt_size = crab_build_redirect(opt, cfg, ip->daddr, tcp->dest, new_port != tcp->dest);
	if (opt_size != 8 && opt_size != 12)
		return count(CRAB_LB_PASS_BAD_OPTION, XDP_PASS);
	__u32 new_len = tcp_len + opt_size;
	if (new_len > CRAB_MAX_TCP_HDR)
		return count(CRAB_LB_PASS_NO_ROOM, XDP_PASS);
	struct bpf_fib_lookup fib = {};
	int via_stack = route_to(ctx, ip, be->addr, tcp->source, new_port, 20 + new_len, &fib);
	if (via_stack < 0)
		return count(CRAB_LB_DROP_NO_ROUTE, XDP_DROP);
	/* The stack takes a frame addressed to this host's MAC only (another is PACKET_OTHERHOST, dropped): one it
	 * forwards keeps the MACs it came with. */
	if (via_stack) {
		__builtin_memcpy(fib.dmac, eth->h_dest, ETH_ALEN);
		__builtin_memcpy(fib.smac, eth->h_source, ETH_ALEN);
	}

	/*
	 * The new frame is the old one with the option inserted after the fixed TCP header: the headers in front of it
	 * move forward by opt_size, the old options and the payload stay where they are. Everything the rewrite needs
	 * from the old headers is read before they move, and both checksums are updated for what changes, never summed
	 * again: a frame with a wrong checksum keeps it wrong, and the backend's kernel drops it.
	 */
	struct iphdr new_ip = *ip;
	struct tcphdr new_tcp = *tcp;
	__u16 old_doff_word = *(__u16 *)((void *)tcp + CRAB_TCP_DOFF_WORD);
	__u16 new_doff_word = (old_doff_word & bpf_htons(0x0fff)) | bpf_htons((new_len / 4) << 12);
	int partial = tcp->check == crab_pseudo_partial(ip->saddr, ip->daddr, tcp_len);

	__u64 sum = crab_csum_start(tcp->check);
	sum = crab_csum_swap32(sum, ip->daddr, be->addr);
	sum = crab_csum_swap16(sum, bpf_htons(tcp_len), bpf_htons(new_len));
	sum = crab_csum_swap16(sum, tcp->dest, new_port);
	sum = crab_csum_swap16(sum, old_doff_word, new_doff_word);
	sum = crab_csum_add64(sum, *(__u64 *)opt);
	if (opt_size == 12)
		sum = crab_csum_swap32(sum, 0, *(__u32 *)(opt + 8));
	int marker_off = scan.marker_off;
	int marker_len = scan.marker_len;
	if (marker_off >= 0) {
		const __u8 *marker = (void *)tcp + (marker_off & CRAB_HDR_MASK);
		if (marker_len == 4 && (void *)marker + 4 <= end)
			sum = blank_marker_csum(sum, marker, marker_off, 4);
		else if (marker_len == 2 && (void *)marker + 2 <= end)
			sum = blank_marker_csum(sum, marker, marker_off, 2);
		else
			return count(CRAB_LB_PASS_MALFORMED, XDP_PASS);
	}
	new_tcp.dest = new_port;
	new_tcp.doff = new_len / 4;
	new_tcp.check = crab_csum_fold(sum);

	__u64 ip_sum = crab_csum_start(ip->check);
	ip_sum = crab_csum_swap32(ip_sum, ip->daddr, be->addr);
	ip_sum = crab_csum_swap16(ip_sum, ip->tot_len, bpf_htons(20 + new_len));
	new_ip.daddr = be->addr;
	new_ip.tot_len = bpf_htons(20 + new_len);
	new_ip.check = crab_csum_fold(ip_sum);

	/* Under generic XDP a partial checksum stays partial, and so the TCP header stays where it was. So it does in a
	 * frame handed to the stack, which goes on in the socket buffer it came in if it had one (generic XDP, a veth in
	 * native mode). A NIC's frame had none, and looks partial only when its complete checksum equals that form (one
	 * in 65536): the backend drops it, and the client's retransmission (a new timestamp) gets through. */
	int keep_partial = partial && (via_stack || keeps_partial_csum());
	if (keep_partial) {
		new_tcp.check = crab_pseudo_partial(new_ip.saddr, new_ip.daddr, new_len);
		if (grow_after_fixed_header(ctx, tcp_len, opt_size))
			return count(CRAB_LB_PASS_NO_ROOM, XDP_PASS);
	} else if (bpf_xdp_adjust_head(ctx, -opt_size)) {
		return count(CRAB_LB_PASS_NO_ROOM, XDP_PASS);
	}
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + TCP_OFF + sizeof(struct tcphdr) + 12 > end)
		return count(CRAB_LB_PASS_MALFORMED, XDP_DROP);
	eth = data;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	*(struct iphdr *)(data + IP_OFF) = new_ip;
	*(struct tcphdr *)(data + TCP_OFF) = new_tcp;
	*(__u64 *)(data + TCP_OFF + sizeof(struct tcphdr)) = *(__u64 *)opt;
	if (opt_size == 12)
		*(__u32 *)(data + TCP_OFF + sizeof(struct tcphdr) + 8) = *(__u32 *)(opt + 8);
	/* The marker is consumed: NOPs in its place, so the server never sees two options of our kind. */
	if (marker_off >= 0) {
		__u8 *marker = data + TCP_OFF + ((marker_off + opt_size) & 127);
		if ((void *)marker + 2 > end)
			return count(CRAB_LB_PASS_MALFORMED, XDP_DROP);
		marker[0] = CRAB_TCPOPT_NOP;
		marker[1] = CRAB_TCPOPT_NOP;
		if (marker_len == 4) {
			if ((void *)marker + 4 > end)
				return count(CRAB_LB_PASS_MALFORMED, XDP_DROP);
			marker[2] = CRAB_TCPOPT_NOP;
			marker[3] = CRAB_TCPOPT_NOP;
		}
	}
	if (partial && !keep_partial && full_tcp_csum(ctx, new_ip.saddr, new_ip.daddr, new_len))
		return count(CRAB_LB_PASS_MALFORMED, XDP_DROP);

	__u64 *syns = bpf_map_lookup_elem(&backend_syns, &bid);
	if (syns)
		*syns += 1;
	if (via_stack)
		return count(CRAB_LB_TX_VIA_STACK, XDP_PASS);
	return count(tx_counter, XDP_TX);
}

char LICENSE[] SEC("license") = "GPL";
