// crr_client: netperf TCP_CRR / TCP_RR against one echo service, timed as netperf would time it, so the bench can
// check that its Java client adds nothing and use this one instead if it does.
//
// Usage: crr_client --workload crr|rr --target IPV4:PORT [--source IPV4] [--payload N] [--concurrency N]
//                   [--count N] [--duration-ms N] [--warmup N] [--connect-timeout-ms N] [--read-timeout-ms N]
//
// The semantics are those of the Java client (LoadSpec): --count attempts shared by all workers (0: time only),
// --duration-ms caps the whole run with warm-up, --warmup unrecorded attempts per worker before a common start.
// CRR times socket() to close(); RR times one write and the full echo on a connection kept open.
//
// Output on stdout, written after the run so that printing never lands between transactions, one record per line:
//   <ns>              latency of one successful measured transaction
//   F <KIND> <count>  counted failures of one kind (CONNECT, TIMEOUT, RESET, MISMATCH, OTHER), nonzero kinds only
//   E <ns>            from the common start to the end of the last counted attempt; always the last line
// Errors in the arguments or the run itself go to stderr with exit status 2.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum failure { CONNECT, TIMEOUT, RESET, MISMATCH, OTHER, FAILURE_KINDS };
static const char *const FAILURE_NAMES[FAILURE_KINDS] = {"CONNECT", "TIMEOUT", "RESET", "MISMATCH", "OTHER"};

// Transactions in flight at the deadline get this long before their sockets are shut down (as LoadRun's grace).
#define GRACE_NS 200000000LL
#define STAMP_BYTES 8

struct options {
    int rr;
    struct sockaddr_in target;
    struct sockaddr_in source;
    int has_source;
    int payload;
    int concurrency;
    long long count;
    long long duration_ms;
    int warmup;
    long long connect_timeout_ms;
    long long read_timeout_ms;
};

struct worker {
    pthread_t thread;
    unsigned char *payload;
    unsigned char *received;
    int64_t *latencies;
    size_t recorded;
    size_t capacity;
    long long failures[FAILURE_KINDS];
    int64_t last_counted_at;
    uint64_t sequence;
    // The socket in use, so the main thread can shut it down when the worker overstays the deadline; -1 if none.
    _Atomic int current;
    int kept; // RR: the connection kept between transactions, -1 if none
    int joined;
};

static struct options opt = {
    .payload = 8, .concurrency = 1, .duration_ms = 10000, .connect_timeout_ms = 2000, .read_timeout_ms = 2000,
};
static int64_t deadline;
static _Atomic long long claimed;
static _Atomic int aborted;
static pthread_barrier_t warmed_up;
static int64_t go_at;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "crr_client: %s\n", what);
    exit(2);
}

static void set_timeout(int fd, int option, long long ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, option, &tv, sizeof(tv));
}

static void drop(struct worker *w, int fd)
{
    atomic_store(&w->current, -1);
    close(fd);
}

// A connected socket with TCP_NODELAY and both timeouts (SO_SNDTIMEO bounds connect() on Linux), or -1.
static int connect_socket(struct worker *w)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    atomic_store(&w->current, fd);
    // Re-check after publishing: either the main thread sees this socket or this thread sees the abort.
    if (atomic_load(&aborted)) {
        drop(w, fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    set_timeout(fd, SO_SNDTIMEO, opt.connect_timeout_ms);
    set_timeout(fd, SO_RCVTIMEO, opt.read_timeout_ms);
    if ((opt.has_source && bind(fd, (struct sockaddr *)&opt.source, sizeof(opt.source)) != 0) ||
        connect(fd, (struct sockaddr *)&opt.target, sizeof(opt.target)) != 0) {
        drop(w, fd);
        return -1;
    }
    return fd;
}

static enum failure failure_of(int err)
{
    if (err == EAGAIN || err == EWOULDBLOCK)
        return TIMEOUT;
    if (err == ECONNRESET || err == EPIPE || err == ECONNABORTED || err == 0)
        return RESET;
    return OTHER;
}

// Writes the payload and reads exactly as many bytes back; returns -1 on success, else the failure.
static int exchange(struct worker *w, int fd)
{
    if (send(fd, w->payload, opt.payload, MSG_NOSIGNAL) != opt.payload)
        return failure_of(errno);
    int filled = 0;
    while (filled < opt.payload) {
        ssize_t n = read(fd, w->received + filled, opt.payload - filled);
        if (n <= 0)
            return failure_of(n == 0 ? 0 : errno);
        filled += n;
    }
    return memcmp(w->payload, w->received, opt.payload) == 0 ? -1 : MISMATCH;
}

// One transaction: its latency in ns (>= 0), or -1 - failure.
static int64_t transact(struct worker *w)
{
    if (opt.rr) {
        if (w->kept < 0 && (w->kept = connect_socket(w)) < 0)
            return -1 - CONNECT;
        int64_t start = now_ns();
        int failed = exchange(w, w->kept);
        int64_t end = now_ns();
        if (failed >= 0) {
            drop(w, w->kept);
            w->kept = -1;
            return -1 - failed;
        }
        return end - start;
    }
    int64_t start = now_ns();
    int fd = connect_socket(w);
    if (fd < 0)
        return -1 - CONNECT;
    int failed = exchange(w, fd);
    drop(w, fd);
    int64_t end = now_ns();
    return failed >= 0 ? -1 - failed : end - start;
}

static void record(struct worker *w, int64_t latency)
{
    if (w->recorded == w->capacity) {
        w->capacity = w->capacity ? 2 * w->capacity : 4096;
        w->latencies = realloc(w->latencies, w->capacity * sizeof(*w->latencies));
        if (!w->latencies)
            die("out of memory for latencies");
    }
    w->latencies[w->recorded++] = latency;
}

// Varies every request so that a stale or replayed echo cannot pass the check.
static void stamp(struct worker *w)
{
    uint64_t value = ++w->sequence;
    for (int i = 0; i < STAMP_BYTES && i < opt.payload; i++)
        w->payload[i] = (unsigned char)(value >> (8 * i));
}

static int claim(void)
{
    return opt.count == 0 || atomic_fetch_add(&claimed, 1) < opt.count;
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < opt.warmup && !atomic_load(&aborted) && now_ns() < deadline; i++) {
        stamp(w);
        transact(w);
    }
    pthread_barrier_wait(&warmed_up);
    int64_t now = now_ns();
    while (!atomic_load(&aborted) && now < deadline && claim()) {
        stamp(w);
        int64_t result = transact(w);
        now = now_ns();
        if (result >= 0) {
            record(w, result);
            w->last_counted_at = now;
        } else if (!atomic_load(&aborted)) {
            // Failures caused by the main thread shutting the socket at the deadline are not the target's fault.
            w->failures[-1 - result]++;
            w->last_counted_at = now;
        }
    }
    if (w->kept >= 0)
        drop(w, w->kept);
    return NULL;
}

static void parse_address(const char *text, struct sockaddr_in *out, int with_port)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(text, ':');
    size_t length = with_port && colon ? (size_t)(colon - text) : strlen(text);
    if ((with_port && !colon) || length >= sizeof(host))
        die(with_port ? "--target must be IPV4:PORT" : "--source must be an IPv4 address");
    memcpy(host, text, length);
    host[length] = '\0';
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
        die("not an IPv4 address in --target or --source");
    if (with_port) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 1 || port > 65535)
            die("--target port must be 1..65535");
        out->sin_port = htons((uint16_t)port);
    }
}

static long long parse_number(const char *text, long long min, const char *name)
{
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno || *end || end == text || value < min) {
        fprintf(stderr, "crr_client: %s must be an integer >= %lld, got '%s'\n", name, min, text);
        exit(2);
    }
    return value;
}

static void parse(int argc, char **argv)
{
    static const struct option longs[] = {
        {"workload", required_argument, 0, 'w'},        {"target", required_argument, 0, 't'},
        {"source", required_argument, 0, 's'},          {"payload", required_argument, 0, 'p'},
        {"concurrency", required_argument, 0, 'c'},     {"count", required_argument, 0, 'n'},
        {"duration-ms", required_argument, 0, 'd'},     {"warmup", required_argument, 0, 'u'},
        {"connect-timeout-ms", required_argument, 0, 'C'}, {"read-timeout-ms", required_argument, 0, 'R'},
        {0, 0, 0, 0},
    };
    int workload = 0, target = 0, c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'w':
            if (strcmp(optarg, "crr") && strcmp(optarg, "rr"))
                die("--workload must be crr or rr");
            opt.rr = strcmp(optarg, "rr") == 0;
            workload = 1;
            break;
        case 't': parse_address(optarg, &opt.target, 1); target = 1; break;
        case 's': parse_address(optarg, &opt.source, 0); opt.has_source = 1; break;
        case 'p': opt.payload = (int)parse_number(optarg, 1, "--payload"); break;
        case 'c': opt.concurrency = (int)parse_number(optarg, 1, "--concurrency"); break;
        case 'n': opt.count = parse_number(optarg, 0, "--count"); break;
        case 'd': opt.duration_ms = parse_number(optarg, 1, "--duration-ms"); break;
        case 'u': opt.warmup = (int)parse_number(optarg, 0, "--warmup"); break;
        case 'C': opt.connect_timeout_ms = parse_number(optarg, 1, "--connect-timeout-ms"); break;
        case 'R': opt.read_timeout_ms = parse_number(optarg, 1, "--read-timeout-ms"); break;
        default: exit(2);
        }
    }
    if (!workload || !target || optind != argc)
        die("usage: crr_client --workload crr|rr --target IPV4:PORT [--source IPV4] [--payload N] "
            "[--concurrency N] [--count N] [--duration-ms N] [--warmup N] [--connect-timeout-ms N] "
            "[--read-timeout-ms N]");
}

// Waits for the workers until the deadline plus grace, then shuts down the sockets of those still running.
static void join_all(struct worker *workers)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t wait = deadline + GRACE_NS - now_ns();
    if (wait > 0) {
        until.tv_sec += wait / 1000000000LL;
        until.tv_nsec += wait % 1000000000LL;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    int stragglers = 0;
    for (int i = 0; i < opt.concurrency; i++) {
        workers[i].joined = pthread_timedjoin_np(workers[i].thread, NULL, &until) == 0;
        stragglers |= !workers[i].joined;
    }
    if (!stragglers)
        return;
    atomic_store(&aborted, 1);
    for (int i = 0; i < opt.concurrency; i++) {
        int fd = atomic_load(&workers[i].current);
        if (!workers[i].joined && fd >= 0)
            shutdown(fd, SHUT_RDWR);
    }
    for (int i = 0; i < opt.concurrency; i++)
        if (!workers[i].joined)
            pthread_join(workers[i].thread, NULL);
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    struct worker *workers = calloc(opt.concurrency, sizeof(*workers));
    if (!workers || pthread_barrier_init(&warmed_up, NULL, opt.concurrency + 1) != 0)
        die("cannot allocate the workers");
    deadline = now_ns() + opt.duration_ms * 1000000LL;
    for (int i = 0; i < opt.concurrency; i++) {
        struct worker *w = &workers[i];
        w->payload = malloc(opt.payload);
        w->received = malloc(opt.payload);
        if (!w->payload || !w->received)
            die("cannot allocate the buffers");
        // Printable filler so a packet capture of the load is easy to read, as the Java client's.
        for (int b = 0; b < opt.payload; b++)
            w->payload[b] = (unsigned char)('a' + b % 26);
        atomic_init(&w->current, -1);
        w->kept = -1;
        if (pthread_create(&w->thread, NULL, run_worker, w) != 0)
            die("cannot start a worker thread");
    }
    pthread_barrier_wait(&warmed_up);
    go_at = now_ns();
    join_all(workers);

    static char buffer[1 << 16];
    setvbuf(stdout, buffer, _IOFBF, sizeof(buffer));
    long long failures[FAILURE_KINDS] = {0};
    int64_t end = go_at;
    for (int i = 0; i < opt.concurrency; i++) {
        struct worker *w = &workers[i];
        for (size_t t = 0; t < w->recorded; t++)
            printf("%lld\n", (long long)w->latencies[t]);
        for (int k = 0; k < FAILURE_KINDS; k++)
            failures[k] += w->failures[k];
        if (w->last_counted_at > end)
            end = w->last_counted_at;
    }
    for (int k = 0; k < FAILURE_KINDS; k++)
        if (failures[k])
            printf("F %s %lld\n", FAILURE_NAMES[k], failures[k]);
    printf("E %lld\n", (long long)(end - go_at));
    return fflush(stdout) == 0 ? 0 : 2;
}
