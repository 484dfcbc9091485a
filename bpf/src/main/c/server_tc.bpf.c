/* server_tc.bpf.c: the server endpoint. Remembers the option of a redirected SYN and echoes it in the SYN-ACK; for a
 * SYN the LB's fallback translated (the translation option), records the VIP and sends every reply of the connection
 * from it. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"
#include "maps_server.h"
#include "skb.h"
#include "tcp_opts.h"
#include "hash.h"
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

/* The first of the two echo slots a tuple (remote = client) may use; io.crab.bench.hostile.SynSlots computes the
 * same, checked by its test. */
static __always_inline __u32 echo_set_of(const struct crab_flow_key *key)
{
	__u32 ports = (__u32)key->local_port << 16 | key->remote_port;

	return (crab_mix32(key->remote_addr ^ crab_mix32(ports ^ key->local_addr)) & (CRAB_ECHO_SLOTS / 2 - 1)) * 2;
}

static __always_inline int echo_holds(const struct crab_echo *e, const struct crab_flow_key *key)
{
	return e->key.local_addr == key->local_addr && e->key.remote_addr == key->remote_addr &&
	       e->key.local_port == key->local_port && e->key.remote_port == key->remote_port;
}

/* The tuple's echo, if one of its two slots holds it. */
static __always_inline struct crab_echo *echo_of(const struct crab_flow_key *key)
{
	__u32 index = echo_set_of(key);
	struct crab_echo *e = bpf_map_lookup_elem(&echoes, &index);

	if (e && echo_holds(e, key))
		return e;
	index++;
	e = bpf_map_lookup_elem(&echoes, &index);
	return e && echo_holds(e, key) ? e : 0;
}

/* Ends the tuple's echo; the other slot's stays. The zero tuple left behind matches no packet, and the zero time
 * makes the slot the first to be taken. */
static __always_inline void forget_echo(const struct crab_flow_key *key)
{
	struct crab_echo *e = echo_of(key);

	if (e) {
		__builtin_memset(&e->key, 0, sizeof(e->key));
		e->seen_ns = 0;
	}
}

/*
 * Remembers the SYN's option in the tuple's slot if it has one, else in the older of its two: a handshake needs
 * its echo for a few round trips, so losing one takes two other handshakes under way at once in the same pair. A
 * SYN whose echo was lost gets a SYN-ACK without it, which its client does not follow, so it retransmits the SYN
 * and the LB sends it to the same backend again. Two CPUs writing one slot at once can leave a mix of both, which
 * no client follows either: its VIP or acknowledgement will not match.
 */
static __always_inline void remember_echo(const struct crab_flow_key *key, __be32 vip_addr, __be16 vip_port,
					  int has_port)
{
	__u32 index = echo_set_of(key);
	struct crab_echo *first = bpf_map_lookup_elem(&echoes, &index);
	index++;
	struct crab_echo *second = bpf_map_lookup_elem(&echoes, &index);

	if (!first || !second)
		return;
	struct crab_echo *e = echo_holds(second, key) ||
		(!echo_holds(first, key) && second->seen_ns < first->seen_ns) ? second : first;
	e->key = *key;
	e->seen_ns = bpf_ktime_get_ns();
	e->vip_addr = vip_addr;
	e->vip_port = vip_port;
	e->has_port = has_port;
}

/*
 * True when the kernel has a connection on the SYN's tuple that is under way: a handshake (request socket) or a
 * socket in any state but LISTEN, TIME_WAIT or CLOSE. What such a connection's replies look like is never changed
 * by a SYN: that SYN is a retransmission, or a forgery that needs only the tuple (off-path, a guessed port), and the
 * kernel answers it as RFC 5961 says, from the connection's own address. A SYN finding a listener, nothing, or a
 * TIME_WAIT socket starts a new connection, whose replies the SYN may decide.
 */
static __always_inline int tuple_live(struct __sk_buff *skb, const struct crab_pkt *p)
{
	struct bpf_sock_tuple t = {};

	t.ipv4.saddr = p->ip.saddr;
	t.ipv4.daddr = p->ip.daddr;
	t.ipv4.sport = p->tcp.source;
	t.ipv4.dport = p->tcp.dest;
	struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	int live = sk->state != BPF_TCP_LISTEN && sk->state != BPF_TCP_TIME_WAIT && sk->state != BPF_TCP_CLOSE;
	bpf_sk_release(sk);
	return live;
}

/* A SYN with the translation option: recorded for the tuple unless a connection is under way on it, which then
 * keeps whatever it had, echo included. It is never echoed (the client does not speak crab), so recording it ends
 * any echo an earlier SYN on the tuple left. */
static __always_inline void record_translation(struct __sk_buff *skb, const struct crab_pkt *p,
					       const struct crab_opt_scan *scan, const struct crab_flow_key *key)
{
	struct crab_translation tr = { .seen_ns = bpf_ktime_get_ns() };
	__u8 flags = 0;

	if (crab_read_translate(scan, &tr.vip_addr, &tr.vip_port, &flags) || flags != CRAB_TRANSLATE_REPLY_AS_VIP)
		return;
	if (tuple_live(skb, p)) {
		count(CRAB_SV_TRANSLATION_KEPT);
		return;
	}
	forget_echo(key);
	bpf_map_update_elem(&translations, key, &tr, BPF_ANY);
	count(CRAB_SV_TRANSLATION_RECORDED);
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
	if (!scan.bad && crab_scan_translates(&scan)) {
		record_translation(skb, &p, &scan, &key);
		return CRAB_TC_NEXT;
	}
	/* A SYN without the translation option on a tuple a translated connection used: the new connection answers
	 * from its own address, once the old one is over. */
	if (bpf_map_lookup_elem(&translations, &key)) {
		if (tuple_live(skb, &p)) {
			count(CRAB_SV_TRANSLATION_KEPT);
			return CRAB_TC_NEXT;
		}
		bpf_map_delete_elem(&translations, &key);
	}
	if (scan.bad || scan.redirect_off < 0) {
		/* A new connection on a tuple an earlier redirected one used: its SYN-ACK must not echo. */
		forget_echo(&key);
		return CRAB_TC_NEXT;
	}
	__be32 vip_addr = 0;
	__be16 vip_port = 0;
	int has_port = 0;
	if (crab_read_redirect(&scan, &vip_addr, &vip_port, &has_port))
		return CRAB_TC_NEXT;
	remember_echo(&key, vip_addr, vip_port, has_port);
	count(CRAB_SV_SYN_OPTION_SEEN);
	return CRAB_TC_NEXT;
}

/* The socket that sent the packet, if it is the connection's own full socket (not a request socket, nor the kernel's
 * control socket that sends resets and TIME_WAIT's ACKs for every connection). */
static __always_inline struct bpf_sock *own_socket(struct __sk_buff *skb, const struct crab_pkt *p)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return 0;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->src_ip4 != p->ip.saddr || sk->dst_ip4 != p->ip.daddr ||
	    sk->src_port != bpf_ntohs(p->tcp.source) || (__u16)sk->dst_port != p->tcp.dest)
		return 0;
	return sk;
}

/* The VIP a packet of a translated connection must come from: the socket's copy, else the tuple's record, which the
 * socket then takes over (the first packet its full socket sends). */
static __always_inline struct crab_translation *translation_of(struct __sk_buff *skb, const struct crab_pkt *p,
							       const struct crab_flow_key *key)
{
	struct bpf_sock *sk = own_socket(skb, p);
	struct crab_translation *tr;

	if (sk) {
		tr = bpf_sk_storage_get(&translated_socks, sk, 0, 0);
		if (tr)
			return tr;
	}
	tr = bpf_map_lookup_elem(&translations, key);
	if (tr && sk)
		bpf_sk_storage_get(&translated_socks, sk, tr, BPF_SK_STORAGE_GET_F_CREATE);
	return tr;
}

SEC("tc")
int crab_server_egress(struct __sk_buff *skb)
{
	struct crab_opt_cfg *cfg;
	struct crab_pkt p;
	struct crab_hdrs h;
	__u8 opt[16];

	if (crab_skb_parse(skb, &p))
		return CRAB_TC_NEXT;
	struct crab_flow_key key = {
		.local_addr = p.ip.saddr, .remote_addr = p.ip.daddr,
		.local_port = p.tcp.source, .remote_port = p.tcp.dest,
	};
	struct crab_translation *tr = translation_of(skb, &p, &key);
	if (tr) {
		__be32 vip = tr->vip_addr;
		__be16 vport = tr->vip_port;
		if (crab_skb_headers(skb, &h))
			return CRAB_TC_NEXT;
		crab_skb_rewrite(skb, &h, 0, vip, vport);
		count(CRAB_SV_REPLY_TRANSLATED);
		return CRAB_TC_NEXT;
	}
	if (!p.tcp.syn || !p.tcp.ack)
		return CRAB_TC_NEXT;
	struct crab_echo *echo = echo_of(&key);
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
