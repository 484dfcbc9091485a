/* csum.h: incremental updates of Internet checksums for changed words (RFC 1624), in plain instructions, and the
 * pseudo-header sum an offloading sender leaves in the TCP checksum field. */
#ifndef CRAB_CSUM_H
#define CRAB_CSUM_H

#include <linux/types.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* The checksum of a ones'-complement sum gathered in 64 bits: folded to 16 and complemented. */
static __always_inline __u16 crab_csum_fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
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

/* The checksum field check, updated for a 32-bit word of what it covers changing from old to new. */
static __always_inline __sum16 crab_csum_replace4(__sum16 check, __be32 old, __be32 new)
{
	return crab_csum_fold(crab_csum_swap32(crab_csum_start(check), old, new));
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

#endif
