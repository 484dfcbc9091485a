/* server_tc.bpf.c: the server endpoint. Remembers the option of a redirected SYN and echoes it in the SYN-ACK. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "maps_server.h"
#include "skb.h"
#include "tcp_opts.h"
#include "btf_anchor.h"

/* A SYN-ACK echoes only an option seen within the client's SYN retry window. */
#define ECHO_TTL_NS ((__u64)CRAB_SYN_TTL_SEC * 1000000000ull)

static __always_inline void count(enum crab_server_counter c)
{
	__u32 key = c;
	__u64 *n = bpf_map_lookup_elem(&server_counters, &key);

	if (n)
		*n += 1;
}

SEC("tc")
int crab_server_ingress(struct __sk_buff *skb)
{
	struct crab_opt_cfg *cfg;
	struct crab_opt_scan scan = {};
	struct crab_pkt p;

	if (crab_skb_parse(skb, &p) || !p.tcp.syn || p.tcp.ack || p.tcp.rst)
		return CRAB_TC_NEXT;
	cfg = crab_opt_cfg();
	if (!cfg || crab_skb_scan_options(skb, &p, cfg, &scan))
		return CRAB_TC_NEXT;
	struct crab_flow_key key = {
		.local_addr = p.ip.daddr, .remote_addr = p.ip.saddr,
		.local_port = p.tcp.dest, .remote_port = p.tcp.source,
	};
	if (scan.bad || scan.redirect_off < 0) {
		/* A new connection on a tuple an earlier redirected one used: its SYN-ACK must not echo. */
		bpf_map_delete_elem(&echoes, &key);
		return CRAB_TC_NEXT;
	}
	struct crab_echo echo = { .seen_ns = bpf_ktime_get_ns() };
	int has_port = 0;
	if (crab_read_redirect(&scan, &echo.vip_addr, &echo.vip_port, &has_port))
		return CRAB_TC_NEXT;
	echo.has_port = has_port;
	bpf_map_update_elem(&echoes, &key, &echo, BPF_ANY);
	count(CRAB_SV_SYN_OPTION_SEEN);
	return CRAB_TC_NEXT;
}

SEC("tc")
int crab_server_egress(struct __sk_buff *skb)
{
	struct crab_opt_cfg *cfg;
	struct crab_pkt p;
	__u8 opt[16];

	if (crab_skb_parse(skb, &p) || !p.tcp.syn || !p.tcp.ack)
		return CRAB_TC_NEXT;
	struct crab_flow_key key = {
		.local_addr = p.ip.saddr, .remote_addr = p.ip.daddr,
		.local_port = p.tcp.source, .remote_port = p.tcp.dest,
	};
	struct crab_echo *echo = bpf_map_lookup_elem(&echoes, &key);
	cfg = crab_opt_cfg();
	if (!echo || !cfg || bpf_ktime_get_ns() - echo->seen_ns > ECHO_TTL_NS)
		return CRAB_TC_NEXT;
	int size = crab_build_redirect(opt, cfg, echo->vip_addr, echo->vip_port, echo->has_port);
	if (!crab_skb_header_only(skb, &p) || crab_skb_append_option(skb, &p, opt, size)) {
		count(CRAB_SV_SYNACK_NOT_ECHOED);
		return CRAB_TC_NEXT;
	}
	count(CRAB_SV_SYNACK_ECHOED);
	return CRAB_TC_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
