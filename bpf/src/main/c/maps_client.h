/* maps_client.h: the client endpoint's maps; crab-endpoint writes client_vips, the programs own the flows. */
#ifndef CRAB_MAPS_CLIENT_H
#define CRAB_MAPS_CLIENT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps_common.h"

/* VIPs this host accepts redirects for: (address, port or 0 for all ports). Written by crab-endpoint. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_MAX_VIPS);
	__type(key, struct crab_vip_key);
	__type(value, struct crab_client_vip);
} client_vips SEC(".maps");

/* Per VIP, the backend prefixes a redirect may name (--backends-cidr; 0.0.0.0/0 when none is given). Written
 * by crab-endpoint; the value is unused. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CRAB_MAX_BACKEND_CIDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct crab_cidr_key);
	__type(value, __u32);
} backend_cidrs SEC(".maps");

/* Connections to a VIP, keyed (local, VIP): pending after our SYN, redirected after the SYN-ACK. Not LRU:
 * a full table must refuse new connections, never evict live ones. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_FLOW_TABLE_SIZE);
	__type(key, struct crab_flow_key);
	__type(value, struct crab_flow);
} flows SEC(".maps");

/* Redirected connections keyed (local, backend): the VIP that replies must appear to come from. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_FLOW_TABLE_SIZE);
	__type(key, struct crab_flow_key);
	__type(value, struct crab_rflow);
} rflows SEC(".maps");

/* Local (address, port) of each redirected flow, to the VIP it was opened to. The kernel may give a connection
 * to another VIP the same local port; if the LB sent it to the same backend, its SYN would hit the live
 * connection's tuple there. Such a SYN goes out unmarked instead. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_FLOW_TABLE_SIZE);
	__type(key, struct crab_port_key);
	__type(value, struct crab_vip_key);
} ports SEC(".maps");

/* Events by kind (enum crab_client_counter). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_CL_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} client_counters SEC(".maps");

#endif
