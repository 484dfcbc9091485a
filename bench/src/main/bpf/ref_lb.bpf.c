/* ref_lb.bpf.c: the simplest XDP load balancer worth the name, as a yardstick for crab-bench syn-cost (not part of
 * crab). A TCP SYN to a VIP (one hash lookup by address and port) goes to one of the VIP's backends by a hash of
 * its tuple (one array lookup); the destination address and MACs are rewritten, both checksums patched for the
 * address (RFC 1624), and the frame sent back out (XDP_TX). No option, no SYN memory, no FIB, no counters: what
 * crab does beyond this is what its cost beyond this buys. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "csum.h"
#include "hash.h"

struct ref_vip_key {
	__be32 addr;
	__be16 port;
	__u16 pad;
};

/* A VIP's backends: ref_backends[first .. first + count). */
struct ref_vip {
	__u32 first;
	__u32 count;
};

struct ref_backend {
	__be32 addr;
	__u8 mac[ETH_ALEN];
	__u16 pad;
};

/* VIPs, written by the bench before it measures. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct ref_vip_key);
	__type(value, struct ref_vip);
} ref_vips SEC(".maps");

/* Backends of every VIP, written by the bench before it measures. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct ref_backend);
} ref_backends SEC(".maps");

SEC("xdp")
int ref_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct tcphdr *tcp = (void *)(ip + 1);

	if ((void *)(tcp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_TCP || !tcp->syn || tcp->ack)
		return XDP_PASS;
	struct ref_vip_key key = { .addr = ip->daddr, .port = tcp->dest };
	struct ref_vip *vip = bpf_map_lookup_elem(&ref_vips, &key);
	if (!vip || !vip->count)
		return XDP_PASS;
	__u32 ports = (__u32)tcp->source << 16 | tcp->dest;
	__u32 index = vip->first + crab_mix32(ip->saddr ^ crab_mix32(ports)) % vip->count;
	struct ref_backend *be = bpf_map_lookup_elem(&ref_backends, &index);
	if (!be)
		return XDP_PASS;
	tcp->check = crab_csum_replace4(tcp->check, ip->daddr, be->addr);
	ip->check = crab_csum_replace4(ip->check, ip->daddr, be->addr);
	ip->daddr = be->addr;
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, be->mac, ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
