/* skb.h: parsing and rewriting IPv4/TCP in TC programs: direct access where the packet keeps its length, the
 * kernel's helpers where it grows or where only the kernel knows what a checksum field holds. */
#ifndef CRAB_SKB_H
#define CRAB_SKB_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "tcp_opts.h"
#include "csum.h"

#define CRAB_IP_OFF sizeof(struct ethhdr)
#define CRAB_IP_CSUM_OFF (CRAB_IP_OFF + offsetof(struct iphdr, check))
#define CRAB_IP_SADDR_OFF (CRAB_IP_OFF + offsetof(struct iphdr, saddr))
#define CRAB_IP_DADDR_OFF (CRAB_IP_OFF + offsetof(struct iphdr, daddr))
#define CRAB_IP_TOTLEN_OFF (CRAB_IP_OFF + offsetof(struct iphdr, tot_len))

/* Where the headers of one IPv4/TCP packet are, in the skb's linear data. Valid until a helper changes the packet
 * (the verifier refuses any use after that). */
struct crab_hdrs {
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u32 l4_off;
};

/* Copies of the headers of one IPv4/TCP packet and where they are, for the paths that change the packet's length
 * or read its options through helpers, after which the packet pointers are gone. */
struct crab_pkt {
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	__u32 l4_off;
	__u32 tcp_len;
	__u32 tot_len;
};

/* Finds the headers of an IPv4 TCP packet (first fragment or whole) for direct access, pulling the first bytes
 * into the linear data once if they are not there; -1 for anything else. */
static __always_inline int crab_skb_headers(struct __sk_buff *skb, struct crab_hdrs *h)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr) > end) {
		if (skb->len < sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr) ||
		    bpf_skb_pull_data(skb, skb->len < 128 ? skb->len : 128))
			return -1;
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	}
	struct ethhdr *eth = data;
	struct iphdr *ip = data + CRAB_IP_OFF;
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	if (ip->version != 4 || ip->protocol != IPPROTO_TCP || (ip->frag_off & bpf_htons(0x1fff)))
		return -1;
	__u32 ihl = ip->ihl * 4;
	if (ihl < 20 || ihl > 60)
		return -1;
	struct tcphdr *tcp = (void *)ip + ihl;
	if ((void *)(tcp + 1) > end)
		return -1;
	__u32 tcp_len = tcp->doff * 4;
	if (tcp_len < 20 || bpf_ntohs(ip->tot_len) < ihl + tcp_len)
		return -1;
	h->eth = eth;
	h->ip = ip;
	h->tcp = tcp;
	h->l4_off = CRAB_IP_OFF + ihl;
	return 0;
}

/* Copies the headers that h points at into p. */
static __always_inline void crab_pkt_of(const struct crab_hdrs *h, struct crab_pkt *p)
{
	p->eth = *h->eth;
	p->ip = *h->ip;
	p->tcp = *h->tcp;
	p->l4_off = h->l4_off;
	p->tcp_len = p->tcp.doff * 4;
	p->tot_len = bpf_ntohs(p->ip.tot_len);
}

/* Fills p for an IPv4 TCP packet (first fragment or whole); -1 for anything else. */
static __always_inline int crab_skb_parse(struct __sk_buff *skb, struct crab_pkt *p)
{
	struct crab_hdrs h;

	if (crab_skb_headers(skb, &h))
		return -1;
	crab_pkt_of(&h, p);
	return 0;
}

/* True when the segment carries no payload and the frame ends where the IP packet does. A first fragment (MF)
 * is never header-only: its datagram goes on in the fragments after it, whose offsets a longer header would
 * overrun. */
static __always_inline int crab_skb_header_only(struct __sk_buff *skb, const struct crab_pkt *p)
{
	return p->tot_len == p->l4_off - CRAB_IP_OFF + p->tcp_len && skb->len == CRAB_IP_OFF + p->tot_len &&
	       !(p->ip.frag_off & bpf_htons(0x2000));
}

/* Scans the options of the TCP header in the packet's linear data (crab_skb_headers pulled up to 128 bytes there if
 * a device had not, and drivers keep a SYN's headers linear); -1 if it is not there whole, which callers treat as
 * an odd header. Pulling here would end the packet pointers callers hold. */
static __always_inline int crab_skb_scan_options(struct __sk_buff *skb, const struct crab_pkt *p,
						 const struct crab_opt_cfg *cfg, struct crab_opt_scan *scan)
{
	__u32 len = p->tcp_len;
	__u32 l4_off = p->l4_off & 0x7f;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (len < 20 || len > CRAB_MAX_TCP_HDR || l4_off != p->l4_off || data + l4_off + len > end)
		return -1;
	crab_scan_options(scan, cfg, data + l4_off, end, len);
	return 0;
}

/*
 * Makes the packet's destination (dst = 1) or source (dst = 0) read addr:port, in place. The IPv4 checksum is
 * patched here; the TCP checksum by the kernel, which knows what its field holds: a full checksum, or for a
 * CHECKSUM_PARTIAL skb (a veth sender with offload) the pseudo-header sum only, of which the port is no part, and
 * it keeps a CHECKSUM_COMPLETE skb's sum right. One helper call for the address; a second only when the port
 * changes too (port redirection), since no one call can be both a pseudo-header and a segment change. h is gone
 * after it.
 */
static __always_inline void crab_skb_rewrite(struct __sk_buff *skb, const struct crab_hdrs *h, int dst,
					     __be32 addr, __be16 port)
{
	struct iphdr *ip = h->ip;
	struct tcphdr *tcp = h->tcp;
	__be32 old_addr = dst ? ip->daddr : ip->saddr;
	__be16 old_port = dst ? tcp->dest : tcp->source;
	__u32 csum_off = h->l4_off + CRAB_TCP_CSUM;

	if (dst) {
		ip->daddr = addr;
		tcp->dest = port;
	} else {
		ip->saddr = addr;
		tcp->source = port;
	}
	if (addr != old_addr)
		ip->check = crab_csum_replace4(ip->check, old_addr, addr);
	if (port != old_port)
		bpf_l4_csum_replace(skb, csum_off, old_port, port, sizeof(port));
	if (addr != old_addr)
		bpf_l4_csum_replace(skb, csum_off, old_addr, addr, BPF_F_PSEUDO_HDR | sizeof(addr));
}

/*
 * Appends opt[0..size) (size 4, 8 or 12, already NOP-padded) after the last TCP option of a header-only
 * segment. The frame grows at its tail, so the TCP header does not move and a partial checksum's start
 * stays right; every changed word is folded into the checksums.
 */
static __always_inline int crab_skb_append_option(struct __sk_buff *skb, const struct crab_pkt *p,
						  const __u8 *opt, __u32 size)
{
	__u32 csum_off = p->l4_off + CRAB_TCP_CSUM;
	__u32 new_tcp_len = p->tcp_len + size;

	if ((size != 4 && size != 8 && size != 12) || new_tcp_len > CRAB_MAX_TCP_HDR)
		return -1;
	if (bpf_skb_change_tail(skb, skb->len + size, 0))
		return -1;
	if (bpf_skb_store_bytes(skb, p->l4_off + p->tcp_len, opt, size, 0))
		return -1;
	__s64 diff = bpf_csum_diff(0, 0, (__be32 *)opt, size, 0);
	bpf_l4_csum_replace(skb, csum_off, 0, diff, 0);

	__u16 old_word, new_word;
	if (bpf_skb_load_bytes(skb, p->l4_off + CRAB_TCP_DOFF_WORD, &old_word, sizeof(old_word)))
		return -1;
	new_word = (old_word & bpf_htons(0x0fff)) | bpf_htons((new_tcp_len / 4) << 12);
	bpf_l4_csum_replace(skb, csum_off, old_word, new_word, sizeof(new_word));
	bpf_skb_store_bytes(skb, p->l4_off + CRAB_TCP_DOFF_WORD, &new_word, sizeof(new_word), 0);
	bpf_l4_csum_replace(skb, csum_off, bpf_htons(p->tot_len - (p->l4_off - CRAB_IP_OFF)),
			    bpf_htons(p->tot_len - (p->l4_off - CRAB_IP_OFF) + size), BPF_F_PSEUDO_HDR | 2);

	__be16 old_tot = bpf_htons(p->tot_len);
	__be16 new_tot = bpf_htons(p->tot_len + size);
	bpf_l3_csum_replace(skb, CRAB_IP_CSUM_OFF, old_tot, new_tot, sizeof(new_tot));
	bpf_skb_store_bytes(skb, CRAB_IP_TOTLEN_OFF, &new_tot, sizeof(new_tot), 0);
	return 0;
}

#endif
