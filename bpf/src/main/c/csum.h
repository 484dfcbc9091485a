/* csum.h: Internet checksums computed from scratch over header copies (bpf_csum_diff sums, then fold), and
 * incremental updates of a checksum field for a changed word (RFC 1624). */
#ifndef CRAB_CSUM_H
#define CRAB_CSUM_H

#include <linux/types.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __always_inline __u16 crab_csum_fold(__s64 sum)
{
	__u64 s = (__u64)sum;

	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

/* The checksum field check, updated for a 32-bit word of what it covers changing from old to new (RFC 1624,
 * eqn. 3): ones'-complement arithmetic in plain instructions, no helper call. */
static __always_inline __sum16 crab_csum_replace4(__sum16 check, __be32 old, __be32 new)
{
	__u32 sum = (__u16)~check;

	sum += (~old & 0xffff) + (~old >> 16) + (new & 0xffff) + (new >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/*
 * Incremental updates in plain instructions. Words are taken as loaded from the packet (network order held in a host
 * register): the ones'-complement sum does not depend on byte order (RFC 1071), so none is swapped. A sum gathers
 * the old checksum's complement, each old word's complement and each new word (RFC 1624, eqn. 3); the new checksum
 * is the complement of its fold. An error in the old checksum stays in the new one.
 */
static __always_inline __u64 crab_csum_start(__sum16 check)
{
	return (__u16)~check;
}

static __always_inline __u64 crab_csum_swap16(__u64 sum, __u16 old, __u16 new)
{
	return sum + (__u16)~old + new;
}

static __always_inline __u64 crab_csum_swap32(__u64 sum, __u32 old, __u32 new)
{
	return sum + (__u16)~old + (__u16)~(old >> 16) + (new & 0xffff) + (new >> 16);
}

/* Adds the 16-bit words of v, 8 bytes at an even offset of what the checksum covers. */
static __always_inline __u64 crab_csum_add64(__u64 sum, __u64 v)
{
	return sum + (v & 0xffff) + ((v >> 16) & 0xffff) + ((v >> 32) & 0xffff) + (v >> 48);
}

/* The TCP pseudo-header's sum, folded, as a sender that leaves the checksum to offload (CHECKSUM_PARTIAL) writes it
 * in the checksum field: not complemented. */
static __always_inline __u16 crab_pseudo_partial(__be32 saddr, __be32 daddr, __u32 len)
{
	__u64 sum = (saddr & 0xffff) + (saddr >> 16) + (daddr & 0xffff) + (daddr >> 16) + bpf_htons(IPPROTO_TCP) +
		    bpf_htons(len);

	return ~crab_csum_fold(sum) & 0xffff;
}

/* The IPv4 header checksum of a 20-byte header whose check field is zero. */
static __always_inline __u16 crab_ipv4_csum(struct iphdr *ip)
{
	return crab_csum_fold(bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0));
}

struct crab_pseudo_hdr {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

/* The one's-complement sum of the TCP pseudo-header for a segment of len bytes. */
static __always_inline __s64 crab_pseudo_sum(__be32 saddr, __be32 daddr, __u32 len)
{
	struct crab_pseudo_hdr ph = {
		.saddr = saddr,
		.daddr = daddr,
		.zero = 0,
		.proto = IPPROTO_TCP,
		.len = bpf_htons(len),
	};

	return bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0);
}

/* The TCP checksum of a segment held whole in seg[0..len) (len a multiple of 4, check field zero). */
static __always_inline __u16 crab_tcp_csum(__be32 saddr, __be32 daddr, const __u8 *seg, __u32 len)
{
	__s64 sum = crab_pseudo_sum(saddr, daddr, len);

	return crab_csum_fold(bpf_csum_diff(0, 0, (__be32 *)seg, len, (__u32)sum));
}

/* True when the segment held whole in seg[0..len) (len a multiple of 4) carries a complete, right checksum. */
static __always_inline int crab_tcp_csum_verify(__be32 saddr, __be32 daddr, const __u8 *seg, __u32 len)
{
	__s64 sum = crab_pseudo_sum(saddr, daddr, len);

	return crab_csum_fold(bpf_csum_diff(0, 0, (__be32 *)seg, len, (__u32)sum)) == 0;
}

/* What a sender leaves in the checksum field for offload (CHECKSUM_PARTIAL): the pseudo-header sum, folded. */
static __always_inline __u16 crab_tcp_pseudo_partial(__be32 saddr, __be32 daddr, __u32 len)
{
	return ~crab_csum_fold(crab_pseudo_sum(saddr, daddr, len)) & 0xffff;
}

#endif
