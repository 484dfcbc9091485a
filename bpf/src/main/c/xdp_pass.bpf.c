/* xdp_pass.bpf.c: passes every frame; attached to a veth peer so XDP_TX on the other end has a receiver. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
