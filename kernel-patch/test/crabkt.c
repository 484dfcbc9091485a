// SPDX-License-Identifier: GPL-2.0-only
/*
 * crabkt: the traffic of the kernel patch's VM test, small enough to start fast under TCG.
 *
 *   crabkt serve PORT...                 echo server, one process per connection
 *   crabkt run ADDR PORT N               N connections one after another, each echoing 100 bytes;
 *                                        prints "ok=.. fail=.." and the peers getpeername() saw
 *   crabkt hold ADDR PORT FILE           one connection; writes "CLIENT LPORT ISN" (its SYN, captured) to
 *                                        FILE, echoes, waits for FILE.go, echoes again; fails if the
 *                                        connection broke or its peer changed
 *   crabkt pending ADDR PORT FILE EXPECT one connection to an address nobody answers; writes FILE like
 *                                        hold, waits for FILE.go1 and checks the socket is still
 *                                        connecting (writes FILE.ack1), then for FILE.go2 and checks it
 *                                        connected to EXPECT (ADDR:PORT)
 *   crabkt forge SRC SPORT DST DPORT SEQ ACK VIP [VPORT]
 *                                        sends one SYN-ACK with the redirect option (kind 42, length 6,
 *                                        or 8 with VPORT) from a raw socket
 *   crabkt sniff FILE IFACE ADDR...      counts the TCP packets from ADDRs that IFACE sends, SYNs and
 *                                        others, until SIGTERM; then writes "syn=N other=M" to FILE (on
 *                                        the bridge's port to a host: what that host is sent, before any
 *                                        XDP program of its own sees it)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD 100
#define TIMEOUT_S 5

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "crabkt: not an IPv4 address: %s\n", ip);
		exit(2);
	}
	return a;
}

static char *fmt(const struct sockaddr_in *a)
{
	static char buf[4][32];
	static int next;
	char *b = buf[next++ & 3];

	snprintf(b, sizeof(buf[0]), "%s:%u", inet_ntoa(a->sin_addr), ntohs(a->sin_port));
	return b;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Sends PAYLOAD bytes tagged with n and reads them back; 0 if they came back unchanged. */
static int echo_once(int fd, unsigned int n)
{
	char out[PAYLOAD], in[PAYLOAD];
	size_t got = 0;

	for (size_t i = 0; i < PAYLOAD; i++)
		out[i] = (char)('a' + (n + i) % 26);
	if (write(fd, out, PAYLOAD) != PAYLOAD)
		return -1;
	while (got < PAYLOAD) {
		ssize_t r = read(fd, in + got, PAYLOAD - got);

		if (r <= 0)
			return -1;
		got += r;
	}
	return memcmp(in, out, PAYLOAD) ? -1 : 0;
}

static int serve(int argc, char **argv)
{
	signal(SIGCHLD, SIG_IGN);
	for (int i = 0; i < argc; i++) {
		if (fork() == 0) {
			struct sockaddr_in a = addr_of("0.0.0.0", argv[i]);
			int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 512))
				die("serve");
			for (;;) {
				int c = accept(fd, NULL, NULL);
				char buf[4096];
				ssize_t r;

				if (c < 0)
					continue;
				if (fork() == 0) {
					while ((r = read(c, buf, sizeof(buf))) > 0)
						if (write(c, buf, r) != r)
							break;
					_exit(0);
				}
				close(c);
			}
		}
	}
	pause();
	return 0;
}

struct peer_count {
	struct sockaddr_in peer;
	unsigned int n;
};

static int run(const char *ip, const char *port, int n)
{
	struct sockaddr_in dst = addr_of(ip, port);
	struct peer_count peers[16] = {};
	int ok = 0, fail = 0, npeers = 0;

	for (int i = 0; i < n; i++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int j;

		set_timeouts(fd);
		if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) ||
		    getpeername(fd, (struct sockaddr *)&peer, &len) || echo_once(fd, i)) {
			fprintf(stderr, "connection %d to %s: %s\n", i, fmt(&dst), strerror(errno));
			fail++;
			close(fd);
			continue;
		}
		close(fd);
		ok++;
		for (j = 0; j < npeers; j++)
			if (!memcmp(&peers[j].peer, &peer, sizeof(peer)))
				break;
		if (j == npeers && npeers < 16)
			peers[npeers++].peer = peer;
		if (j < 16)
			peers[j].n++;
	}
	printf("ok=%d fail=%d", ok, fail);
	for (int j = 0; j < npeers; j++)
		printf(" peer=%s:%u", fmt(&peers[j].peer), peers[j].n);
	printf("\n");
	return fail ? 1 : 0;
}

/* Waits until path exists, up to limit_s seconds. */
static int wait_file(const char *path, int limit_s)
{
	struct stat st;

	for (int i = 0; i < limit_s * 20; i++) {
		if (!stat(path, &st))
			return 0;
		usleep(50000);
	}
	fprintf(stderr, "crabkt: %s did not appear\n", path);
	return -1;
}

static void touch(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY, 0644);

	if (fd < 0)
		die(path);
	close(fd);
}

/* Opens a TCP socket on a known local port, with a packet socket that will see its SYN. */
static int open_captured(int *cap, struct sockaddr_in *local)
{
	socklen_t len = sizeof(*local);
	struct sockaddr_in any = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* Only ETH_P_ALL sockets see what the host sends. */
	*cap = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	if (fd < 0 || *cap < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&any, sizeof(any)) ||
	    getsockname(fd, (struct sockaddr *)local, &len))
		die("bind");
	return fd;
}

/* Reads the packet socket until the SYN from local port; writes "CLIENT LPORT ISN" to file. */
static void record_syn(int cap, const struct sockaddr_in *local, const char *file)
{
	time_t end = time(NULL) + TIMEOUT_S;
	unsigned char pkt[256];

	while (time(NULL) < end) {
		struct pollfd p = { .fd = cap, .events = POLLIN };
		const struct iphdr *ip = (const struct iphdr *)pkt;
		const struct tcphdr *th;
		ssize_t r;

		if (poll(&p, 1, 200) <= 0)
			continue;
		struct sockaddr_ll ll;
		socklen_t len = sizeof(ll);

		r = recvfrom(cap, pkt, sizeof(pkt), 0, (struct sockaddr *)&ll, &len);
		if (r < (ssize_t)sizeof(*ip) || ll.sll_protocol != htons(ETH_P_IP) ||
		    ip->protocol != IPPROTO_TCP ||
		    r < ip->ihl * 4 + (ssize_t)sizeof(*th))
			continue;
		th = (const struct tcphdr *)(pkt + ip->ihl * 4);
		if (th->syn && !th->ack && th->source == local->sin_port) {
			struct in_addr src = { .s_addr = ip->saddr };
			FILE *f = fopen(file, "w");

			if (!f)
				die(file);
			fprintf(f, "%s %u %u\n", inet_ntoa(src), ntohs(th->source), ntohl(th->seq));
			fclose(f);
			close(cap);
			return;
		}
	}
	fprintf(stderr, "crabkt: did not see our SYN\n");
	exit(1);
}

/* Whether a non-blocking connect completed within timeout_ms: getpeername() fails while the socket is still
 * connecting. SO_ERROR is no test: it also reports soft errors, such as the unreachable host of a forged peer. */
static int connected(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);

	poll(&p, 1, timeout_ms);
	return getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
}

static int hold(const char *ip, const char *port, const char *file)
{
	struct sockaddr_in dst = addr_of(ip, port), local, before, after;
	socklen_t len = sizeof(before);
	char go[512];
	int cap, fd = open_captured(&cap, &local);

	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) && errno != EINPROGRESS)
		die("connect");
	record_syn(cap, &local, file);
	if (!connected(fd, TIMEOUT_S * 1000) || getpeername(fd, (struct sockaddr *)&before, &len))
		die("hold: connect");
	fcntl(fd, F_SETFL, 0);
	set_timeouts(fd);
	if (echo_once(fd, 1))
		die("hold: first echo");
	snprintf(go, sizeof(go), "%s.go", file);
	if (wait_file(go, 300))
		return 1;
	len = sizeof(after);
	if (echo_once(fd, 2) || getpeername(fd, (struct sockaddr *)&after, &len)) {
		fprintf(stderr, "hold: connection to %s broken after the forgeries: %s\n", fmt(&before),
			strerror(errno));
		return 1;
	}
	if (memcmp(&before, &after, sizeof(before))) {
		fprintf(stderr, "hold: peer moved from %s to %s\n", fmt(&before), fmt(&after));
		return 1;
	}
	printf("held: peer %s before and after, echo works\n", fmt(&after));
	return 0;
}

static int pending(const char *ip, const char *port, const char *file, const char *expect)
{
	struct sockaddr_in dst = addr_of(ip, port), local, peer;
	socklen_t len = sizeof(peer);
	char path[512];
	int cap, fd = open_captured(&cap, &local);

	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) && errno != EINPROGRESS)
		die("connect");
	record_syn(cap, &local, file);
	snprintf(path, sizeof(path), "%s.go1", file);
	if (wait_file(path, 300))
		return 1;
	usleep(300000);
	if (connected(fd, 0)) {
		fprintf(stderr, "pending: a SYN-ACK acknowledging the wrong sequence completed the connection\n");
		return 1;
	}
	printf("pending: still connecting after a SYN-ACK acknowledging the wrong sequence\n");
	fflush(stdout);
	snprintf(path, sizeof(path), "%s.ack1", file);
	touch(path);
	snprintf(path, sizeof(path), "%s.go2", file);
	if (wait_file(path, 300))
		return 1;
	if (!connected(fd, TIMEOUT_S * 1000) || getpeername(fd, (struct sockaddr *)&peer, &len)) {
		fprintf(stderr, "pending: a SYN-ACK acknowledging our SYN did not complete the connection (%s)\n",
			strerror(errno));
		return 1;
	}
	if (strcmp(fmt(&peer), expect)) {
		fprintf(stderr, "pending: connected to %s, expected %s\n", fmt(&peer), expect);
		return 1;
	}
	printf("pending: followed the SYN-ACK acknowledging our SYN to %s\n", fmt(&peer));
	return 0;
}

static uint16_t csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (p[0] << 8) | p[1];
	if (len)
		sum += p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

static int forge(char **argv, int with_port)
{
	struct sockaddr_in src = addr_of(argv[0], argv[1]), dst = addr_of(argv[2], argv[3]);
	struct sockaddr_in vip = addr_of(argv[6], with_port ? argv[7] : "0");
	unsigned char pkt[sizeof(struct iphdr) + sizeof(struct tcphdr) + 12] = {};
	struct iphdr *ip = (struct iphdr *)pkt;
	struct tcphdr *th = (struct tcphdr *)(ip + 1);
	unsigned char *opt = (unsigned char *)(th + 1);
	size_t tcplen = sizeof(*th) + 12;
	struct { uint32_t s, d; uint8_t z, p; uint16_t l; } __attribute__((packed)) ph;
	unsigned char sumbuf[sizeof(ph) + sizeof(pkt)];
	int one = 1, fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)))
		die("raw socket");
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->tot_len = htons(sizeof(pkt));
	ip->saddr = src.sin_addr.s_addr;
	ip->daddr = dst.sin_addr.s_addr;
	th->source = src.sin_port;
	th->dest = dst.sin_port;
	th->seq = htonl(strtoul(argv[4], NULL, 0));
	th->ack_seq = htonl(strtoul(argv[5], NULL, 0));
	th->doff = tcplen / 4;
	th->syn = 1;
	th->ack = 1;
	th->window = htons(65535);
	opt[0] = 2;			/* MSS 1460 */
	opt[1] = 4;
	opt[2] = 1460 >> 8;
	opt[3] = 1460 & 0xff;
	memset(opt + 4, 1, 8);		/* NOPs */
	opt[with_port ? 4 : 6] = 42;
	opt[with_port ? 5 : 7] = with_port ? 8 : 6;
	memcpy(opt + (with_port ? 6 : 8), &vip.sin_addr, 4);
	if (with_port)
		memcpy(opt + 10, &vip.sin_port, 2);
	ph = (typeof(ph)){ ip->saddr, ip->daddr, 0, IPPROTO_TCP, htons(tcplen) };
	memcpy(sumbuf, &ph, sizeof(ph));
	memcpy(sumbuf + sizeof(ph), th, tcplen);
	th->check = csum(sumbuf, sizeof(ph) + tcplen, 0);
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)) != sizeof(pkt))
		die("sendto");
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int sniff(const char *file, const char *iface, int naddrs, char **addrs)
{
	struct sockaddr_ll at = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(iface) };
	struct sigaction sa = { .sa_handler = on_term };
	unsigned long syn = 0, other = 0;
	unsigned char pkt[256];
	in_addr_t from[16];
	int fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	FILE *f;

	if (fd < 0 || !at.sll_ifindex || bind(fd, (struct sockaddr *)&at, sizeof(at)))
		die("sniff");
	for (int i = 0; i < naddrs && i < 16; i++)
		from[i] = addr_of(addrs[i], "0").sin_addr.s_addr;
	sigaction(SIGTERM, &sa, NULL);
	printf("sniffing\n");
	fflush(stdout);
	for (;;) {
		struct sockaddr_ll ll;
		socklen_t len = sizeof(ll);
		const struct iphdr *ip = (const struct iphdr *)pkt;
		const struct tcphdr *th;
		/* After SIGTERM, what is queued still counts. */
		ssize_t r = recvfrom(fd, pkt, sizeof(pkt), stop ? MSG_DONTWAIT : 0,
				     (struct sockaddr *)&ll, &len);

		if (r < 0 && stop && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r < (ssize_t)sizeof(*ip) || ll.sll_pkttype != PACKET_OUTGOING ||
		    ll.sll_protocol != htons(ETH_P_IP) || ip->protocol != IPPROTO_TCP ||
		    r < ip->ihl * 4 + (ssize_t)sizeof(*th))
			continue;
		th = (const struct tcphdr *)(pkt + ip->ihl * 4);
		for (int i = 0; i < naddrs && i < 16; i++) {
			if (ip->saddr == from[i]) {
				if (th->syn && !th->ack)
					syn++;
				else
					other++;
				break;
			}
		}
	}
	f = fopen(file, "w");
	if (!f)
		die(file);
	fprintf(f, "syn=%lu other=%lu\n", syn, other);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "sniff"))
		return sniff(argv[2], argv[3], argc - 4, argv + 4);
	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return serve(argc - 2, argv + 2);
	if (argc == 5 && !strcmp(argv[1], "run"))
		return run(argv[2], argv[3], atoi(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "hold"))
		return hold(argv[2], argv[3], argv[4]);
	if (argc == 6 && !strcmp(argv[1], "pending"))
		return pending(argv[2], argv[3], argv[4], argv[5]);
	if ((argc == 9 || argc == 10) && !strcmp(argv[1], "forge"))
		return forge(argv + 2, argc == 10);
	fprintf(stderr, "usage: crabkt serve PORT... | run ADDR PORT N | hold ADDR PORT FILE |\n"
		"       pending ADDR PORT FILE EXPECT | forge SRC SPORT DST DPORT SEQ ACK VIP [VPORT] |\n"
		"       sniff FILE IFACE ADDR...\n");
	return 2;
}
