/* maps_server.h: the server endpoint's maps, all owned by its programs. */
#ifndef CRAB_MAPS_SERVER_H
#define CRAB_MAPS_SERVER_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"
#include "structs.h"
#include "maps_common.h"

/* Options seen in SYNs, to echo in the SYN-ACK and its retransmissions: two slots per hash of the tuple (local,
 * client), see echo_set_of in server_tc. An entry is needed only for the handshake, a few round trips, so a SYN
 * takes the older slot of its pair: a write of a cache line, where an LRU hash's insert (16,384 x 32 bytes here,
 * 512 KiB) cost the server about a microsecond per connection in eviction bookkeeping. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_ECHO_SLOTS);
	__type(key, __u32);
	__type(value, struct crab_echo);
} echoes SEC(".maps");

/* Translations asked for by SYNs (the translation option), keyed (local, client): the VIP and port the connection's
 * replies must come from, until its socket exists and carries it (translated_socks); after that still what packets
 * the kernel sends for the tuple without the socket use (a reset, an ACK from TIME_WAIT). LRU: a flood of forged SYNs
 * can evict entries, but the socket's copy of a connection under way is out of its reach. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_SYN_TABLE_SIZE);
	__type(key, struct crab_flow_key);
	__type(value, struct crab_translation);
} translations SEC(".maps");

/* The translation of a connection, on its socket: freed by the kernel with the socket, so it is bounded by the
 * connections that exist and never outlives one. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct crab_translation);
} translated_socks SEC(".maps");

/* Events by kind (enum crab_server_counter). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_SV_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} server_counters SEC(".maps");

#endif
