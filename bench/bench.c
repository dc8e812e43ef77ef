/* iouringd benchmarks: each case prints one line, and where a ratio is the
 * figure of merit both sides are measured in the same run (DESIGN.md §4).
 *   bench DAEMON_BIN [SECONDS]
 * Cases:
 *   rtt_nop        daemon NOP round trip (submit + completion), one at a time,
 *                  vs a raw AF_UNIX ping-pong of the same bytes
 *   nop_pipelined  daemon NOPs with a full credit window, vs an in-process
 *                  liburing NOP loop with the same queue depth
 *   worker_rss     resident memory of one idle worker (kB)
 * Numbers are printed, never asserted. */
#include <errno.h>
#include <liburing.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iouringd/protocol.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("write");
        p += n;
        len -= (size_t)n;
    }
}

static void read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("read");
        p += n;
        len -= (size_t)n;
    }
}

static pid_t daemon_pid;
static char sock_path[108];

static void start_daemon(const char *bin)
{
    snprintf(sock_path, sizeof sock_path, "/tmp/iouringd-bench-%d.sock", (int)getpid());
    daemon_pid = fork();
    if (daemon_pid < 0)
        die("fork");
    if (daemon_pid == 0) {
        execl(bin, bin, "--quiet", sock_path, (char *)NULL);
        _exit(127);
    }
}

static int connect_daemon(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, sock_path, strlen(sock_path));
    for (int i = 0; i < 500; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
        close(fd);
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL); /* the daemon is starting (§2.1: retry) */
    }
    die("connect");
    return -1;
}

static struct iouringd_capability_descriptor handshake(int fd)
{
    struct iouringd_handshake_request r = {
        {IOURINGD_WIRE_MAGIC, 1, 12}, 1, 12, 0};
    struct iouringd_handshake_result res;
    write_all(fd, &r, sizeof r);
    read_all(fd, &res, sizeof res);
    if (res.response.status != IOURINGD_HANDSHAKE_ACCEPT) {
        errno = EPROTO;
        die("handshake");
    }
    return res.capabilities;
}

static const struct iouringd_request_header nop = {
    {IOURINGD_WIRE_MAGIC, 1, 12}, IOURINGD_TASK_NOP, 0, 0};

/* n NOPs produce n 16-byte submit results and n 24-byte completions, in
 * some interleaving: 40 n bytes. Read them in bulk so that the client is not
 * what is measured, then check that every accept succeeded. */
static void read_nop_replies(int fd, unsigned n)
{
    static char buf[40 * 4096];
    read_all(fd, buf, 40u * n);
    size_t off = 0, submits = 0, completions = 0;
    while (off < 40u * n) {
        uint32_t magic;
        memcpy(&magic, buf + off, 4);
        if (magic == IOURINGD_WIRE_MAGIC) {
            struct iouringd_completion c;
            memcpy(&c, buf + off, sizeof c);
            completions += c.res == 0;
            off += sizeof c;
        } else {
            struct iouringd_submit_result r;
            memcpy(&r, buf + off, sizeof r);
            submits += r.res == 0 && r.task_id != 0;
            off += sizeof r;
        }
    }
    if (submits != n || completions != n) {
        fprintf(stderr, "bench: %zu of %u NOPs accepted, %zu completed\n", submits, n,
                completions);
        exit(1);
    }
}

static void bench_rtt(int fd, double secs)
{
    unsigned long n = 0;
    double t0 = now_s(), t;
    while ((t = now_s()) - t0 < secs) {
        for (int i = 0; i < 256; i++) {
            write_all(fd, &nop, sizeof nop);
            read_nop_replies(fd, 1);
        }
        n += 256;
    }
    double daemon_us = (t - t0) / (double)n * 1e6;

    /* The same bytes over a raw AF_UNIX pair: 16 out, 40 back. */
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
        die("socketpair");
    pid_t echo = fork();
    if (echo == 0) {
        char b[40] = {0};
        close(sp[0]);
        for (;;) {
            ssize_t r = read(sp[1], b, 16);
            if (r <= 0)
                _exit(0);
            write_all(sp[1], b, 40);
        }
    }
    close(sp[1]);
    unsigned long m = 0;
    char b[40];
    t0 = now_s();
    while ((t = now_s()) - t0 < secs) {
        for (int i = 0; i < 256; i++) {
            write_all(sp[0], &nop, sizeof nop);
            read_all(sp[0], b, 40);
        }
        m += 256;
    }
    double raw_us = (t - t0) / (double)m * 1e6;
    close(sp[0]);
    waitpid(echo, NULL, 0);
    printf("rtt_nop daemon_us=%.2f raw_unix_us=%.2f ratio=%.2f\n", daemon_us, raw_us,
           daemon_us / raw_us);
}

static void bench_pipelined(int fd, unsigned credits, double secs)
{
    static struct iouringd_request_header batch[4096];
    for (unsigned i = 0; i < credits; i++)
        batch[i] = nop;
    unsigned long n = 0;
    double t0 = now_s(), t;
    while ((t = now_s()) - t0 < secs) {
        write_all(fd, batch, credits * sizeof nop);
        read_nop_replies(fd, credits);
        n += credits;
    }
    double daemon_rate = (double)n / (t - t0);

    struct io_uring ring;
    if (io_uring_queue_init(credits + 1 < 64 ? 64 : credits + 1, &ring, 0) < 0)
        die("io_uring_queue_init");
    unsigned long m = 0;
    t0 = now_s();
    while ((t = now_s()) - t0 < secs) {
        for (unsigned i = 0; i < credits; i++)
            io_uring_prep_nop(io_uring_get_sqe(&ring));
        io_uring_submit_and_wait(&ring, credits);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) seen++;
        io_uring_cq_advance(&ring, seen);
        m += seen;
    }
    double local_rate = (double)m / (t - t0);
    io_uring_queue_exit(&ring);
    printf("nop_pipelined depth=%u daemon_ops_per_s=%.0f inprocess_ops_per_s=%.0f ratio=%.3f\n",
           credits, daemon_rate, local_rate, daemon_rate / local_rate);
}

static void bench_rss(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)daemon_pid, (int)daemon_pid);
    FILE *f = fopen(path, "re");
    int worker = 0;
    if (f) {
        if (fscanf(f, "%d", &worker) != 1)
            worker = 0;
        fclose(f);
    }
    if (worker == 0) {
        printf("worker_rss unavailable\n");
        return;
    }
    snprintf(path, sizeof path, "/proc/%d/status", worker);
    f = fopen(path, "re");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            printf("worker_rss kB=%ld\n", strtol(line + 6, NULL, 10));
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench DAEMON_BIN [SECONDS]\n");
        return 2;
    }
    double secs = argc > 2 ? atof(argv[2]) : 2.0;
    signal(SIGPIPE, SIG_IGN);
    start_daemon(argv[1]);
    int fd = connect_daemon();
    struct iouringd_capability_descriptor caps = handshake(fd);
    bench_rss();
    bench_rtt(fd, secs);
    bench_pipelined(fd, caps.submit_credits, secs);
    close(fd);
    kill(daemon_pid, SIGTERM);
    waitpid(daemon_pid, NULL, 0);
    return 0;
}
