/* maps_server.h: the server endpoint's maps, all owned by its programs. */
#ifndef CRAB_MAPS_SERVER_H
#define CRAB_MAPS_SERVER_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps_common.h"

/* Options seen in SYNs, keyed (local, client), to echo in the SYN-ACK and its retransmissions. LRU: an
 * entry is only needed for the handshake, so the oldest can always go. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_SYN_TABLE_SIZE);
	__type(key, struct crab_flow_key);
	__type(value, struct crab_echo);
} echoes SEC(".maps");

/* Events by kind (enum crab_server_counter). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_SV_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} server_counters SEC(".maps");

#endif
