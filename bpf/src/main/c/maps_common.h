/* maps_common.h: maps every crab object has. */
#ifndef CRAB_MAPS_COMMON_H
#define CRAB_MAPS_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "structs.h"

/* The option kind and ExID in use; one entry, written once by the agent before it attaches. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crab_opt_cfg);
} opt_cfg SEC(".maps");

static __always_inline struct crab_opt_cfg *crab_opt_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&opt_cfg, &zero);
}

#endif
