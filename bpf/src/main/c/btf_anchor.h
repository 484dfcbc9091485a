/* btf_anchor.h: carries the shared enums into each object's BTF, where the Java test checks its constants. */
#ifndef CRAB_BTF_ANCHOR_H
#define CRAB_BTF_ANCHOR_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "consts.h"

struct crab_btf_anchor {
	enum crab_limits limits;
	enum crab_policy policy;
	enum crab_xdp_mode xdp_mode;
	enum crab_vip_flags vip_flags;
	enum crab_translate_option translate_option;
	enum crab_vip_kinds vip_kinds;
	enum crab_backend_flags backend_flags;
	enum crab_flow_state flow_state;
	enum crab_tc_verdict tc_verdict;
	enum crab_fin_flags fin_flags;
	enum crab_lb_counter lb_counter;
	enum crab_fallback_counter fallback_counter;
	enum crab_lb_agent_counter lb_agent_counter;
	enum crab_feedback_counter feedback_counter;
	enum crab_client_counter client_counter;
	enum crab_server_counter server_counter;
	enum crab_cpu_counter cpu_counter;
};

/* Never read or written: clang emits only the types that something uses, and this map uses the enums. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crab_btf_anchor);
} btf_anchor SEC(".maps");

#endif
