/* icmp.h: ICMP errors that quote an IPv4/TCP packet, and rewriting the destination of the quoted packet. */
#ifndef CRAB_ICMP_H
#define CRAB_ICMP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "skb.h"

/* linux/icmp.h drags in libc headers that a BPF target cannot build; the few ICMP facts needed (RFC 792). */
#define CRAB_ICMP_DEST_UNREACH 3
#define CRAB_ICMP_TIME_EXCEEDED 11
#define CRAB_ICMP_PARAMETERPROB 12

struct crab_icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest;
};

/* Where an ICMP error and the packet it quotes are, and the quoted packet's tuple (as that packet had it). */
struct crab_icmp_err {
	__u32 outer_ip_off;
	__u32 icmp_off;
	__u32 inner_ip_off;
	__u32 inner_l4_off;
	__be32 outer_saddr;
	__be32 inner_saddr;
	__be32 inner_daddr;
	__be16 inner_sport;
	__be16 inner_dport;
	__u16 inner_check;     /* the quoted IP header's checksum, as found */
	__u8 has_tcp_check;    /* the quote reaches the TCP checksum (RFC 792 guarantees only 8 bytes) */
};

/* Fills e for an ICMP destination-unreachable, time-exceeded or parameter-problem error quoting IPv4/TCP; -1
 * for anything else. Errors are rare, so the headers are copied out instead of bounds-checked in place. */
static __always_inline int crab_icmp_parse(struct __sk_buff *skb, struct crab_icmp_err *e)
{
	struct iphdr outer, inner;
	struct crab_icmphdr icmp;
	__be16 proto;
	__be16 ports[2];

	if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto)) ||
	    proto != bpf_htons(ETH_P_IP) || bpf_skb_load_bytes(skb, CRAB_IP_OFF, &outer, sizeof(outer)))
		return -1;
	if (outer.version != 4 || outer.ihl < 5 || outer.protocol != IPPROTO_ICMP ||
	    (outer.frag_off & bpf_htons(0x3fff)))
		return -1;
	e->outer_ip_off = CRAB_IP_OFF;
	e->icmp_off = CRAB_IP_OFF + outer.ihl * 4;
	if (bpf_skb_load_bytes(skb, e->icmp_off, &icmp, sizeof(icmp)))
		return -1;
	if (icmp.type != CRAB_ICMP_DEST_UNREACH && icmp.type != CRAB_ICMP_TIME_EXCEEDED &&
	    icmp.type != CRAB_ICMP_PARAMETERPROB)
		return -1;
	e->inner_ip_off = e->icmp_off + sizeof(icmp);
	if (bpf_skb_load_bytes(skb, e->inner_ip_off, &inner, sizeof(inner)))
		return -1;
	if (inner.version != 4 || inner.ihl < 5 || inner.protocol != IPPROTO_TCP ||
	    (inner.frag_off & bpf_htons(0x1fff)))
		return -1;
	e->inner_l4_off = e->inner_ip_off + inner.ihl * 4;
	if (bpf_skb_load_bytes(skb, e->inner_l4_off, ports, sizeof(ports)))
		return -1;
	e->outer_saddr = outer.saddr;
	e->inner_saddr = inner.saddr;
	e->inner_daddr = inner.daddr;
	e->inner_sport = ports[0];
	e->inner_dport = ports[1];
	e->inner_check = inner.check;
	e->has_tcp_check = skb->len >= e->inner_l4_off + CRAB_TCP_CSUM + 2;
	return 0;
}

/* Folds a change of one 16-bit checksum field into the ICMP checksum that covers it. */
static __always_inline void crab_icmp_fold_check(struct __sk_buff *skb, const struct crab_icmp_err *e,
						 __u32 field_off, __u16 old_check)
{
	__u16 new_check;

	if (bpf_skb_load_bytes(skb, field_off, &new_check, sizeof(new_check)) == 0)
		bpf_l3_csum_replace(skb, e->icmp_off + offsetof(struct crab_icmphdr, checksum), old_check, new_check,
				    sizeof(new_check));
}

/*
 * Makes the quoted packet's destination (address, port) read addr:port, and the error come from addr if the
 * quoted destination itself sent it. Every change is checksum-neutral for its header (the quoted IP and TCP
 * checksums and the ICMP checksum are patched with it), so a receive checksum the device computed stays right.
 * Plain field arithmetic (l3_csum_replace) throughout: none of these checksums is the skb's own L4 checksum.
 */
static __always_inline void crab_icmp_rewrite_inner_dst(struct __sk_buff *skb, const struct crab_icmp_err *e,
							__be32 addr, __be16 port)
{
	__u32 icmp_check_off = e->icmp_off + offsetof(struct crab_icmphdr, checksum);
	__u32 inner_check_off = e->inner_ip_off + offsetof(struct iphdr, check);
	__u32 tcp_check_off = e->inner_l4_off + CRAB_TCP_CSUM;
	__be32 old_addr = e->inner_daddr;
	__be16 old_port = e->inner_dport;
	__u16 old_tcp_check = 0;

	if (e->has_tcp_check && bpf_skb_load_bytes(skb, tcp_check_off, &old_tcp_check, sizeof(old_tcp_check)))
		return;
	bpf_skb_store_bytes(skb, e->inner_ip_off + offsetof(struct iphdr, daddr), &addr, sizeof(addr), 0);
	bpf_l3_csum_replace(skb, icmp_check_off, old_addr, addr, sizeof(addr));
	bpf_l3_csum_replace(skb, inner_check_off, old_addr, addr, sizeof(addr));
	crab_icmp_fold_check(skb, e, inner_check_off, e->inner_check);
	if (port != old_port) {
		bpf_skb_store_bytes(skb, e->inner_l4_off + 2, &port, sizeof(port), 0);
		bpf_l3_csum_replace(skb, icmp_check_off, old_port, port, sizeof(port));
	}
	if (e->has_tcp_check) {
		bpf_l3_csum_replace(skb, tcp_check_off, old_addr, addr, sizeof(addr));
		if (port != old_port)
			bpf_l3_csum_replace(skb, tcp_check_off, old_port, port, sizeof(port));
		crab_icmp_fold_check(skb, e, tcp_check_off, old_tcp_check);
	}
	if (e->outer_saddr == old_addr) {
		bpf_skb_store_bytes(skb, e->outer_ip_off + offsetof(struct iphdr, saddr), &addr, sizeof(addr), 0);
		bpf_l3_csum_replace(skb, e->outer_ip_off + offsetof(struct iphdr, check), old_addr, addr,
				    sizeof(addr));
	}
}

#endif
