/* Integration-test harness: real daemon, raw protocol, /proc inspection.
 * Nothing here sleeps to wait for a condition it could poll; every wait is bounded. */
#include "harness.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H_MAX_DAEMONS 8
#define H_MAX_CONNS 64
#define H_MAX_DIRS 32
#define H_MAX_OPTS 32

static struct h_daemon *g_daemons[H_MAX_DAEMONS];
static struct h_conn *g_conns[H_MAX_CONNS];
static char g_dirs[H_MAX_DIRS][64];

/* ---- time ------------------------------------------------------------------ */

long long h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int remaining_ms(long long deadline)
{
    long long left = deadline - h_now_ms();
    if (left < 0)
        return 0;
    return left > 1000000 ? 1000000 : (int)left;
}

/* ---- files and dirs -------------------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    cr_assert(buf != NULL);
    if (f != NULL) {
        for (;;) {
            if (cap - len < 2048) {
                cap *= 2;
                buf = realloc(buf, cap);
                cr_assert(buf != NULL);
            }
            size_t n = fread(buf + len, 1, cap - len - 1, f);
            if (n == 0)
                break;
            len += n;
        }
        fclose(f);
    }
    buf[len] = '\0';
    return buf;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    if (dir[0] != '\0')
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_tmpdir(char out[64])
{
    snprintf(out, 64, "/tmp/iouringd-test-XXXXXX");
    cr_assert(mkdtemp(out) != NULL, "mkdtemp: %s", strerror(errno));
}

const char *h_tmpdir(void)
{
    for (size_t i = 0; i < H_MAX_DIRS; i++) {
        if (g_dirs[i][0] == '\0') {
            make_tmpdir(g_dirs[i]);
            return g_dirs[i];
        }
    }
    cr_assert_fail("too many temp dirs");
    return NULL;
}

/* ---- processes ------------------------------------------------------------- */

const char *h_daemon_bin(void)
{
    const char *p = getenv("IOURINGD_BIN");
    return p != NULL && p[0] != '\0' ? p : "build/bin/iouringd";
}

const char *h_seccomp_run_bin(void)
{
    const char *p = getenv("IOURINGD_SECCOMP_RUN");
    return p != NULL && p[0] != '\0' ? p : "build/tests/seccomp-run";
}

/* In the child: die with the test process, fresh signal state, redirect, exec. */
static void exec_child(pid_t parent, const char *const *argv, const char *out_path,
                       const char *err_path)
{
    sigset_t none;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    }
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (in < 0 || out < 0 || err < 0)
        _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    if (in > 2)
        close(in);
    if (out > 2)
        close(out);
    if (err > 2)
        close(err);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
}

/* Wait for pid, bounded; true and *status if it exited. */
static bool wait_bounded(pid_t pid, int *status, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
        if (h_now_ms() >= deadline)
            return false;
        h_sleep_ms(1);
    }
}

void h_run(const char *const *argv, int timeout_ms, struct h_run_result *r)
{
    static char run_dir[64]; /* one per test process, reused by every run */
    static pid_t run_dir_owner;
    if (run_dir_owner != getpid() || access(run_dir, F_OK) != 0) {
        snprintf(run_dir, sizeof run_dir, "%s", h_tmpdir());
        run_dir_owner = getpid();
    }
    const char *dir = run_dir;
    char out_path[96], err_path[96];
    snprintf(out_path, sizeof out_path, "%s/run.out", dir);
    snprintf(err_path, sizeof err_path, "%s/run.err", dir);
    memset(r, 0, sizeof *r);
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        exec_child(parent, argv, out_path, err_path);
    if (!wait_bounded(pid, &r->status, timeout_ms)) {
        r->timed_out = true;
        kill(pid, SIGKILL);
        waitpid(pid, &r->status, 0);
    }
    r->out = read_file(out_path);
    r->err = read_file(err_path);
}

void h_run_free(struct h_run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

bool h_exited_with(const struct h_run_result *r, int code)
{
    return !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

/* ---- daemon ---------------------------------------------------------------- */

int h_connect_path(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    while (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

struct h_daemon *h_start_argv(const char *sock, const char *const *opts)
{
    size_t slot = H_MAX_DAEMONS;
    for (size_t i = 0; i < H_MAX_DAEMONS; i++) {
        if (g_daemons[i] == NULL) {
            slot = i;
            break;
        }
    }
    cr_assert(slot < H_MAX_DAEMONS, "too many daemons");
    struct h_daemon *d = calloc(1, sizeof *d);
    cr_assert(d != NULL);
    d->pending_fd = -1;
    make_tmpdir(d->dir);
    g_daemons[slot] = d;
    if (sock != NULL)
        snprintf(d->sock, sizeof d->sock, "%s", sock);
    else
        snprintf(d->sock, sizeof d->sock, "%s/sock", d->dir);
    snprintf(d->err_path, sizeof d->err_path, "%s/stderr", d->dir);
    snprintf(d->out_path, sizeof d->out_path, "%s/stdout", d->dir);

    const char *argv[H_MAX_OPTS + 3];
    size_t n = 0;
    argv[n++] = h_daemon_bin();
    for (size_t i = 0; opts != NULL && opts[i] != NULL; i++) {
        cr_assert(n < H_MAX_OPTS, "too many options");
        argv[n++] = opts[i];
    }
    argv[n++] = d->sock;
    argv[n] = NULL;

    pid_t parent = getpid();
    d->pid = fork();
    cr_assert(d->pid >= 0, "fork: %s", strerror(errno));
    if (d->pid == 0)
        exec_child(parent, argv, d->out_path, d->err_path);

    /* Readiness: poll connect() (the file exists a moment before listen()). */
    long long deadline = h_now_ms() + H_TIMEOUT_MS;
    int last = 0;
    for (;;) {
        int fd = h_connect_path(d->sock);
        if (fd >= 0) {
            d->pending_fd = fd;
            return d;
        }
        last = fd;
        int status;
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->reaped = true;
            d->wait_status = status;
            char *err = h_stderr(d);
            cr_assert_fail("daemon %s exited before accepting (status 0x%x); stderr:\n%s",
                           argv[0], (unsigned)status, err);
        }
        if (h_now_ms() >= deadline) {
            char *err = h_stderr(d);
            cr_assert_fail("daemon not ready within %d ms (last connect: %s); stderr:\n%s",
                           H_TIMEOUT_MS, strerror(-last), err);
        }
        h_sleep_ms(5);
    }
}

struct h_daemon *h_start(const char *first_opt, ...)
{
    const char *opts[H_MAX_OPTS + 1];
    size_t n = 0;
    va_list ap;
    va_start(ap, first_opt);
    for (const char *o = first_opt; o != NULL; o = va_arg(ap, const char *)) {
        cr_assert(n < H_MAX_OPTS, "too many options");
        opts[n++] = o;
    }
    va_end(ap);
    opts[n] = NULL;
    return h_start_argv(NULL, opts);
}

int h_signal_wait(struct h_daemon *d, int sig, int timeout_ms)
{
    if (d->reaped)
        return d->wait_status;
    kill(d->pid, sig);
    int status;
    if (!wait_bounded(d->pid, &status, timeout_ms))
        return -1;
    d->reaped = true;
    d->wait_status = status;
    return status;
}

bool h_alive(struct h_daemon *d)
{
    if (d->reaped)
        return false;
    int status;
    if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
        d->reaped = true;
        d->wait_status = status;
        return false;
    }
    return true;
}

int h_stop(struct h_daemon *d)
{
    if (d->pending_fd >= 0) {
        close(d->pending_fd);
        d->pending_fd = -1;
    }
    if (!d->reaped) {
        if (h_signal_wait(d, SIGTERM, H_TIMEOUT_MS) == -1) {
            int status;
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &status, 0);
            d->reaped = true;
            d->wait_status = status;
        }
    }
    return d->wait_status;
}

void h_cleanup(void)
{
    for (size_t i = 0; i < H_MAX_CONNS; i++) {
        if (g_conns[i] != NULL) {
            struct h_conn *c = g_conns[i];
            g_conns[i] = NULL;
            if (c->fd >= 0)
                close(c->fd);
            free(c);
        }
    }
    for (size_t i = 0; i < H_MAX_DAEMONS; i++) {
        struct h_daemon *d = g_daemons[i];
        if (d == NULL)
            continue;
        g_daemons[i] = NULL;
        h_stop(d);
        rm_tree(d->dir);
        free(d);
    }
    for (size_t i = 0; i < H_MAX_DIRS; i++) {
        if (g_dirs[i][0] != '\0') {
            rm_tree(g_dirs[i]);
            g_dirs[i][0] = '\0';
        }
    }
}

/* ---- stderr ---------------------------------------------------------------- */

char *h_stderr(const struct h_daemon *d)
{
    return read_file(d->err_path);
}

char *h_wait_stderr_line(const struct h_daemon *d, const char *prefix, int nth, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    size_t plen = strlen(prefix);
    for (;;) {
        char *all = h_stderr(d);
        int seen = 0;
        for (char *line = all; *line != '\0';) {
            char *nl = strchr(line, '\n');
            if (nl == NULL)
                break; /* incomplete line: not yet written whole */
            if (strncmp(line, prefix, plen) == 0 && ++seen == nth) {
                size_t len = (size_t)(nl - line);
                char *res = malloc(len + 1);
                cr_assert(res != NULL);
                memcpy(res, line, len);
                res[len] = '\0';
                free(all);
                return res;
            }
            line = nl + 1;
        }
        free(all);
        if (h_now_ms() >= deadline)
            return NULL;
        h_sleep_ms(5);
    }
}

int h_parse_fields(const char *line, const char *prefix, const char *const *keys, size_t nkeys,
                   char (*vals)[128])
{
    size_t plen = strlen(prefix);
    if (strncmp(line, prefix, plen) != 0)
        return -1;
    const char *p = line + plen;
    for (size_t i = 0; i < nkeys; i++) {
        if (*p != ' ')
            return -1;
        p++;
        size_t klen = strlen(keys[i]);
        if (strncmp(p, keys[i], klen) != 0 || p[klen] != '=')
            return -1;
        p += klen + 1;
        size_t vlen = strcspn(p, " ");
        if (vlen == 0 || vlen >= 128)
            return -1;
        memcpy(vals[i], p, vlen);
        vals[i][vlen] = '\0';
        p += vlen;
    }
    return *p == '\0' ? 0 : -1;
}

void h_expect_fields(const char *line, const char *prefix, const char *const *keys,
                     size_t nkeys, char (*vals)[128])
{
    cr_assert(line != NULL, "no line starting with '%s'", prefix);
    char want[2048];
    size_t off = (size_t)snprintf(want, sizeof want, "%s", prefix);
    for (size_t i = 0; i < nkeys && off < sizeof want; i++)
        off += (size_t)snprintf(want + off, sizeof want - off, " %s=…", keys[i]);
    cr_assert(h_parse_fields(line, prefix, keys, nkeys, vals) == 0,
              "line does not have the expected fields\n  got:  %s\n  want: %s", line, want);
}

/* ---- raw I/O --------------------------------------------------------------- */

int h_write_all(int fd, const void *buf, size_t len, int timeout_ms)
{
    const uint8_t *p = buf;
    long long deadline = h_now_ms() + timeout_ms;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        struct pollfd pfd = {fd, POLLOUT, 0};
        int left = remaining_ms(deadline);
        if (left == 0)
            return -ETIMEDOUT;
        if (poll(&pfd, 1, left) < 0 && errno != EINTR)
            return -errno;
    }
    return 0;
}

int h_read_exact(int fd, void *buf, size_t n, size_t *got, int timeout_ms)
{
    uint8_t *p = buf;
    size_t done = 0;
    long long deadline = h_now_ms() + timeout_ms;
    int rc = 0;
    while (done < n) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, remaining_ms(deadline));
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (pr == 0) {
            rc = -ETIMEDOUT;
            break;
        }
        ssize_t r = read(fd, p + done, n - done);
        if (r > 0) {
            done += (size_t)r;
        } else if (r == 0) {
            rc = -EPIPE;
            break;
        } else if (errno != EINTR && errno != EAGAIN) {
            rc = -errno;
            break;
        }
    }
    if (got != NULL)
        *got = done;
    return rc;
}

int h_expect_eof(int fd, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, remaining_ms(deadline));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return -errno;
        if (pr == 0)
            return -ETIMEDOUT;
        uint8_t b[256];
        ssize_t r = read(fd, b, sizeof b);
        if (r > 0)
            return H_GOT_DATA;
        if (r == 0 || errno == ECONNRESET)
            return 0;
        if (errno != EINTR && errno != EAGAIN)
            return -errno;
    }
}

bool h_quiet(int fd, int ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    long long deadline = h_now_ms() + ms;
    for (;;) {
        int pr = poll(&pfd, 1, remaining_ms(deadline));
        if (pr < 0 && errno == EINTR)
            continue;
        return pr == 0;
    }
}

int h_send_with_fd(int sock, const void *buf, size_t len, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {(void *)(uintptr_t)buf, len};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    for (;;) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        return (size_t)n == len ? 0 : -EMSGSIZE;
    }
}

/* ---- connections ----------------------------------------------------------- */

static struct h_conn *register_conn(int fd)
{
    for (size_t i = 0; i < H_MAX_CONNS; i++) {
        if (g_conns[i] == NULL) {
            struct h_conn *c = calloc(1, sizeof *c);
            cr_assert(c != NULL);
            c->fd = fd;
            g_conns[i] = c;
            return c;
        }
    }
    cr_assert_fail("too many connections");
    return NULL;
}

struct h_conn *h_connect(struct h_daemon *d)
{
    int fd = d->pending_fd;
    d->pending_fd = -1;
    if (fd < 0)
        fd = h_connect_path(d->sock);
    cr_assert(fd >= 0, "connect %s: %s", d->sock, strerror(-fd));
    return register_conn(fd);
}

void h_close(struct h_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    while (c->qlen > 0) {
        h_free_completion(&c->q[c->qhead]);
        c->qhead = (c->qhead + 1) % H_QUEUE_MAX;
        c->qlen--;
    }
}

void h_send(struct h_conn *c, const void *buf, size_t len)
{
    int rc = h_write_all(c->fd, buf, len, H_TIMEOUT_MS);
    cr_assert(rc == 0, "send of %zu bytes failed: %s", len, strerror(-rc));
}

/* ---- builders -------------------------------------------------------------- */

static struct iouringd_protocol_header proto_header(void)
{
    struct iouringd_protocol_header h = {IOURINGD_WIRE_MAGIC, IOURINGD_PROTOCOL_VERSION_MAJOR,
                                         IOURINGD_PROTOCOL_VERSION_MINOR};
    return h;
}

struct iouringd_handshake_request h_hs_request(void)
{
    struct iouringd_handshake_request r;
    memset(&r, 0, sizeof r);
    r.header = proto_header();
    r.abi_major = IOURINGD_ABI_VERSION_MAJOR;
    r.abi_minor = IOURINGD_ABI_VERSION_MINOR;
    return r;
}

struct iouringd_request_header h_header(uint16_t kind, uint16_t priority)
{
    struct iouringd_request_header h;
    memset(&h, 0, sizeof h);
    h.header = proto_header();
    h.kind = kind;
    h.priority = priority;
    return h;
}

struct iouringd_request_header h_nop(void)
{
    return h_header(IOURINGD_TASK_NOP, 0);
}

struct iouringd_timeout_request h_timeout(uint64_t nsec)
{
    struct iouringd_timeout_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_TASK_TIMEOUT, 0);
    r.timeout_nsec = nsec;
    return r;
}

struct iouringd_cancel_request h_cancel(uint64_t target)
{
    struct iouringd_cancel_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_TASK_CANCEL, 0);
    r.target_task_id = target;
    return r;
}

struct iouringd_request_header h_get_stats(void)
{
    return h_header(IOURINGD_CONTROL_GET_STATS, 0);
}

struct iouringd_get_trace_request h_get_trace(uint64_t after, uint32_t max_events)
{
    struct iouringd_get_trace_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_CONTROL_GET_TRACE, 0);
    r.after_sequence = after;
    r.max_events = max_events;
    return r;
}

struct iouringd_resource_request h_release(uint32_t resource_id)
{
    struct iouringd_resource_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_CONTROL_RELEASE_RESOURCE, 0);
    r.resource_id = resource_id;
    return r;
}

struct iouringd_register_buffer_request h_register_buffer(uint32_t length)
{
    struct iouringd_register_buffer_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_CONTROL_REGISTER_BUFFER, 0);
    r.length = length;
    return r;
}

/* ---- handshake and replies ------------------------------------------------- */

int h_handshake_raw(struct h_conn *c, const struct iouringd_handshake_request *req,
                    struct iouringd_handshake_result *out)
{
    int rc = h_write_all(c->fd, req, sizeof *req, H_TIMEOUT_MS);
    if (rc != 0)
        return rc;
    return h_read_exact(c->fd, out, sizeof *out, NULL, H_TIMEOUT_MS);
}

struct iouringd_capability_descriptor h_handshake(struct h_conn *c)
{
    struct iouringd_handshake_request req = h_hs_request();
    struct iouringd_handshake_result res;
    int rc = h_handshake_raw(c, &req, &res);
    cr_assert(rc == 0, "handshake failed: %s", strerror(-rc));
    cr_assert(res.response.header.magic == IOURINGD_WIRE_MAGIC &&
                  res.response.header.version_major == 1 &&
                  res.response.header.version_minor == 12,
              "handshake result header wrong");
    cr_assert(res.response.status == IOURINGD_HANDSHAKE_ACCEPT,
              "handshake status %u, want ACCEPT", res.response.status);
    return res.capabilities;
}

struct h_conn *h_client(struct h_daemon *d, struct iouringd_capability_descriptor *caps)
{
    struct h_conn *c = h_connect(d);
    struct iouringd_capability_descriptor got = h_handshake(c);
    if (caps != NULL)
        *caps = got;
    return c;
}

static bool is_completion_header(const uint8_t b[8])
{
    struct iouringd_protocol_header h;
    memcpy(&h, b, sizeof h);
    return h.magic == IOURINGD_WIRE_MAGIC && h.version_major == 1 && h.version_minor == 12;
}

static void read_or_fail(struct h_conn *c, void *buf, size_t n, const char *what)
{
    size_t got = 0;
    int rc = h_read_exact(c->fd, buf, n, &got, H_TIMEOUT_MS);
    cr_assert(rc == 0, "reading %s: %s after %zu of %zu bytes", what,
              rc == -EPIPE ? "EOF" : strerror(-rc), got, n);
}

/* The first 8 bytes (a completion header) are already in `first`. */
static struct h_completion read_completion_rest(struct h_conn *c, const uint8_t first[8])
{
    struct h_completion hc;
    memset(&hc, 0, sizeof hc);
    uint8_t raw[IOURINGD_COMPLETION_SIZE];
    memcpy(raw, first, 8);
    read_or_fail(c, raw + 8, sizeof raw - 8, "completion record");
    memcpy(&hc.c, raw, sizeof hc.c);
    if (hc.c.payload_length > 0) {
        hc.payload = malloc(hc.c.payload_length);
        cr_assert(hc.payload != NULL);
        read_or_fail(c, hc.payload, hc.c.payload_length, "completion payload");
    }
    return hc;
}

void h_read_reply(struct h_conn *c, void *buf, size_t size)
{
    cr_assert(size >= 16);
    for (;;) {
        uint8_t first[8];
        read_or_fail(c, first, sizeof first, "reply");
        if (!is_completion_header(first)) {
            memcpy(buf, first, sizeof first);
            read_or_fail(c, (uint8_t *)buf + 8, size - 8, "reply");
            return;
        }
        cr_assert(c->qlen < H_QUEUE_MAX, "completion queue overflow");
        c->q[(c->qhead + c->qlen) % H_QUEUE_MAX] = read_completion_rest(c, first);
        c->qlen++;
    }
}

struct iouringd_submit_result h_read_submit(struct h_conn *c)
{
    struct iouringd_submit_result r;
    h_read_reply(c, &r, sizeof r);
    return r;
}

struct iouringd_stats_result h_read_stats(struct h_conn *c)
{
    struct iouringd_stats_result r;
    h_read_reply(c, &r, sizeof r);
    return r;
}

struct h_completion h_next_completion(struct h_conn *c)
{
    if (c->qlen > 0) {
        struct h_completion hc = c->q[c->qhead];
        c->qhead = (c->qhead + 1) % H_QUEUE_MAX;
        c->qlen--;
        return hc;
    }
    uint8_t first[8];
    read_or_fail(c, first, sizeof first, "completion");
    cr_assert(is_completion_header(first),
              "expected a completion record, got bytes %02x %02x %02x %02x %02x %02x %02x %02x",
              first[0], first[1], first[2], first[3], first[4], first[5], first[6], first[7]);
    return read_completion_rest(c, first);
}

size_t h_queued_completions(const struct h_conn *c)
{
    return c->qlen;
}

struct iouringd_submit_result h_submit(struct h_conn *c, const void *req, size_t len)
{
    h_send(c, req, len);
    return h_read_submit(c);
}

struct iouringd_stats_result h_stats(struct h_conn *c)
{
    struct iouringd_request_header req = h_get_stats();
    h_send(c, &req, sizeof req);
    return h_read_stats(c);
}

void h_assert_submit(struct iouringd_submit_result r, uint64_t id, int32_t res, uint32_t credits)
{
    cr_assert(r.task_id == id && r.res == res && r.credits == credits,
              "submit result {task_id %llu, res %d, credits %u}, want {%llu, %d, %u}",
              (unsigned long long)r.task_id, r.res, r.credits, (unsigned long long)id, res,
              credits);
}

void h_assert_completion(const struct h_completion *c, uint64_t id, int32_t res, uint16_t kind,
                         uint16_t payload_length)
{
    const struct iouringd_completion *x = &c->c;
    cr_assert(x->header.magic == IOURINGD_WIRE_MAGIC && x->header.version_major == 1 &&
                  x->header.version_minor == 12,
              "completion header wrong");
    cr_assert(x->task_id == id && x->res == res && x->task_kind == kind &&
                  x->payload_length == payload_length,
              "completion {task_id %llu, res %d, kind %u, len %u}, want {%llu, %d, %u, %u}",
              (unsigned long long)x->task_id, x->res, x->task_kind, x->payload_length,
              (unsigned long long)id, res, kind, payload_length);
}

void h_free_completion(struct h_completion *c)
{
    free(c->payload);
    c->payload = NULL;
}

#define STATS_FMT                                                                          \
    "{active %u, outstanding %u, outstanding_credit %u, available_credits %u, files %u, " \
    "buffers %u, accepted %llu, rejected %llu, completions %llu, limit %u, at_limit %u}"
#define STATS_ARGS(s)                                                                      \
    (s)->active_clients, (s)->outstanding_tasks, (s)->outstanding_credit_tasks,            \
        (s)->available_credits, (s)->registered_files, (s)->registered_buffers,            \
        (unsigned long long)(s)->accepted_submits, (unsigned long long)(s)->rejected_submits, \
        (unsigned long long)(s)->completions, (s)->per_client_credit_limit,                \
        (s)->clients_at_credit_limit

void h_assert_stats(const struct iouringd_stats_result *got,
                    const struct iouringd_stats_result *want)
{
    cr_assert(memcmp(got, want, sizeof *got) == 0, "stats\n  got  " STATS_FMT "\n  want " STATS_FMT,
              STATS_ARGS(got), STATS_ARGS(want));
}

/* ---- /proc ----------------------------------------------------------------- */

/* Fields after "(comm)" of /proc/PID/stat; field 3 (state) is index 0. */
static int read_stat_fields(pid_t pid, char *buf, size_t cap, char **after)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (rp == NULL)
        return -1;
    *after = rp + 1;
    return 0;
}

static bool stat_field(pid_t pid, int field, unsigned long long *out, char *state)
{
    char buf[1024];
    char *p;
    if (read_stat_fields(pid, buf, sizeof buf, &p) != 0)
        return false;
    char *save = NULL;
    char *tok = strtok_r(p, " ", &save);
    for (int i = 3; tok != NULL; i++) {
        if (i == 3 && state != NULL)
            *state = tok[0];
        if (i == field) {
            *out = strtoull(tok, NULL, 10);
            return true;
        }
        tok = strtok_r(NULL, " ", &save);
    }
    return false;
}

size_t h_children(pid_t parent, pid_t *out, size_t cap)
{
    DIR *dir = opendir("/proc");
    cr_assert(dir != NULL);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        unsigned long long ppid;
        char state = '?';
        if (!stat_field((pid_t)pid, 4, &ppid, &state) || (pid_t)ppid != parent)
            continue;
        if (n < cap && out != NULL)
            out[n] = (pid_t)pid;
        n++;
    }
    closedir(dir);
    return n;
}

size_t h_wait_children(pid_t parent, size_t n, pid_t *out, size_t cap, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        size_t got = h_children(parent, out, cap);
        if (got == n || h_now_ms() >= deadline)
            return got;
        h_sleep_ms(2);
    }
}

static int scan_fds(pid_t pid, const char *want_link)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (want_link == NULL) {
            n++;
            continue;
        }
        char lp[384], target[256];
        snprintf(lp, sizeof lp, "%s/%s", path, e->d_name);
        ssize_t len = readlink(lp, target, sizeof target - 1);
        if (len < 0)
            continue;
        target[len] = '\0';
        if (strcmp(target, want_link) == 0)
            n++;
    }
    closedir(dir);
    return n;
}

int h_count_fds(pid_t pid)
{
    return scan_fds(pid, NULL);
}

int h_count_io_uring_fds(pid_t pid)
{
    return scan_fds(pid, "anon_inode:[io_uring]");
}

unsigned long long h_pid_starttime(pid_t pid)
{
    unsigned long long st;
    if (!stat_field(pid, 22, &st, NULL))
        return 0;
    return st;
}

bool h_pid_gone(pid_t pid, unsigned long long starttime)
{
    unsigned long long now = h_pid_starttime(pid);
    return now == 0 || now != starttime;
}

bool h_wait_pid_gone(pid_t pid, unsigned long long starttime, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        if (h_pid_gone(pid, starttime))
            return true;
        if (h_now_ms() >= deadline)
            return false;
        h_sleep_ms(2);
    }
}
