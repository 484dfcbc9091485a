/* hash.h: the hash that spreads tuples over direct-mapped tables (the LB's SYN memory, the server's echoes). */
#ifndef CRAB_HASH_H
#define CRAB_HASH_H

#include <linux/types.h>

/* Murmur3's finalizer: every input bit flips about half of the output bits, so `% n` sees them all. */
static __always_inline __u32 crab_mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

#endif
