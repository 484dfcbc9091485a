/* lb_cpu.bpf.c: crab-bench's meter of the load balancer's CPU time, alike for every mode it compares.
 *
 * The kernel's work on the packets an interface receives runs in that interface's NAPI polls, in softirq, on
 * whichever CPU raised it and among every other device's polls. The napi_poll tracepoint fires as each poll
 * returns, so within one NET_RX softirq the time from its start, or from the previous poll's end, to this one's end
 * is this poll's: the driver's poll function (for a veth: its XDP program, GRO, the stack above, netfilter,
 * forwarding and TCP up to handing a packet to the next device's queue) and the flush of freed buffers before it.
 * A proxy's process also runs softirqs in its own time (when it enables bottom halves); those are other devices'
 * polls, or the watched interface's, counted above, so they are counted apart for the bench to subtract. The time
 * of the process itself comes from its context switches, the same on every kernel whatever its accounting options.
 * Hard interrupts that land in a poll or in the process count with them. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "btf_anchor.h"
#include "structs.h"

/* The members read here of the kernel's own types; CO-RE relocates them to the running kernel's layout. */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct net_device {
	int ifindex;
	struct {
		struct net *net;
	} nd_net;
} __attribute__((preserve_access_index));

struct napi_struct {
	struct net_device *dev;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
} __attribute__((preserve_access_index));

/* include/linux/interrupt.h */
#define NET_RX_SOFTIRQ 3

/* Per CPU: when the current poll began (0 outside NET_RX softirq), when the watched process came onto this CPU
 * (0 while another task runs), when a softirq in its context began (0 outside one). */
struct lb_cpu_marks {
	__u64 poll_start;
	__u64 task_start;
	__u64 softirq_start;
};

/* One entry, written by the bench before it attaches the programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crab_cpu_target);
} lb_cpu_target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_CPU_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lb_cpu_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_cpu_marks);
} lb_cpu_marks SEC(".maps");

static __always_inline struct lb_cpu_marks *marks(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lb_cpu_marks, &zero);
}

static __always_inline struct crab_cpu_target *target(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lb_cpu_target, &zero);
}

static __always_inline void add(__u32 counter, __u64 value)
{
	__u64 *total = bpf_map_lookup_elem(&lb_cpu_counters, &counter);

	if (total)
		*total += value;
}

SEC("tp_btf/softirq_entry")
int lb_cpu_softirq_entry(__u64 *ctx)
{
	struct lb_cpu_marks *m = marks();
	struct crab_cpu_target *t = target();
	__u64 now = bpf_ktime_get_ns();

	if (!m || !t)
		return 0;
	if ((unsigned int)ctx[0] == NET_RX_SOFTIRQ)
		m->poll_start = now;
	/* Softirqs do not nest, and the watched process cannot leave the CPU while one runs in its context. */
	if (m->task_start && t->tgid && bpf_get_current_pid_tgid() >> 32 == t->tgid)
		m->softirq_start = now;
	return 0;
}

SEC("tp_btf/softirq_exit")
int lb_cpu_softirq_exit(__u64 *ctx)
{
	struct lb_cpu_marks *m = marks();
	__u64 now = bpf_ktime_get_ns();

	if (!m)
		return 0;
	if ((unsigned int)ctx[0] == NET_RX_SOFTIRQ)
		m->poll_start = 0;
	if (m->softirq_start) {
		add(CRAB_CPU_TASK_SOFTIRQ_NS, now - m->softirq_start);
		m->softirq_start = 0;
	}
	return 0;
}

SEC("tp_btf/napi_poll")
int lb_cpu_napi_poll(__u64 *ctx)
{
	struct napi_struct *napi = (struct napi_struct *)ctx[0];
	struct lb_cpu_marks *m = marks();
	struct crab_cpu_target *t = target();
	struct net_device *dev;
	__u64 now = bpf_ktime_get_ns();

	/* A poll outside NET_RX softirq (a NAPI thread, busy polling) has no start: it is not counted. */
	if (!m || !t || !m->poll_start)
		return 0;
	dev = napi->dev;
	if (dev && dev->ifindex == t->ifindex && dev->nd_net.net->ns.inum == t->netns_inum) {
		add(CRAB_CPU_POLL_NS, now - m->poll_start);
		add(CRAB_CPU_POLLS, 1);
	}
	/* The next poll starts now; read again so that this program's own time is nobody's. */
	m->poll_start = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sched_switch")
int lb_cpu_sched_switch(__u64 *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx[1];
	struct task_struct *next = (struct task_struct *)ctx[2];
	struct lb_cpu_marks *m = marks();
	struct crab_cpu_target *t = target();
	__u64 now = bpf_ktime_get_ns();

	if (!m || !t)
		return 0;
	/* A start is set only while a watched process runs here; it counts if that process is still the one watched. */
	if (m->task_start) {
		if (t->tgid && prev->tgid == (int)t->tgid)
			add(CRAB_CPU_TASK_NS, now - m->task_start);
		m->task_start = 0;
	}
	if (t->tgid && next->tgid == (int)t->tgid)
		m->task_start = now;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
