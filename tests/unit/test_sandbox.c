/* Worker-equivalent sandbox tests (suite `sandbox`): a process goes through the real
 * bring-up, iod_worker_bring_up(), exactly as a worker does right after fork, and is
 * then confined. Two shapes:
 *  - in-process, `.signal = SIGSYS`: the criterion test process itself is confined and
 *    does the forbidden thing. After bring-up criterion's descriptors are gone and any
 *    syscall off the allowlist kills. So the body must never return: criterion's own
 *    reporting would then die of SIGSYS and the test would pass vacuously (checked by
 *    mutation). Instead a forbidden call that does not kill reaches
 *    _exit(EXIT_SURVIVED) and the test fails (exit, not signal).
 *    `allowed_syscalls_do_not_kill` is the control: the same bring-up followed by
 *    allowed calls ends in a plain exit, so bring-up itself does not kill.
 *  - forked: the test forks a child that brings itself up and reports over its client
 *    socket (fd 3, sendto is allowed), while the unconfined parent asserts on what it
 *    reads, on waitpid's status and on /proc/<child>. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "policy.h"
#include "probe.h"
#include "ring.h"
#include "sandbox.h"
#include "../common/proc.h"
#include "worker.h"

TestSuite(sandbox, .timeout = 30);

#define EXIT_SURVIVED 42 /* a forbidden call returned instead of killing */
#define EXIT_SETUP_BASE 100 /* bring-up failed: 100 + errno (capped) */
#define WAIT_MS 10000

static struct iod_options g_opt;
static struct iod_probe_result g_probe;
static struct iod_sandbox g_sb;
static struct iod_ring g_ring;
/* [0] stays with the test, [1] becomes the worker's fd 3 (client) / fd 4 (channel). */
static int g_client[2] = {-1, -1};
static int g_chan[2] = {-1, -1};
static pid_t g_parent;

/* ---- setup (unconfined, criterion asserts allowed) ------------------------- */

static void prepare(bool seccomp_log, const char *user, const char *root)
{
    iod_options_defaults(&g_opt);
    memset(&g_probe, 0, sizeof g_probe);
    g_probe.op_mask = 0xFFF;
    const char *what = "";
    int ret = iod_sandbox_prepare(&g_sb, seccomp_log, true, user, root, &what);
    cr_assert_eq(ret, 0, "iod_sandbox_prepare: %s: %s", what, strerror(-ret));
}

static void new_pairs(void)
{
    for (int i = 0; i < 2; i++) {
        if (g_client[i] >= 0)
            close(g_client[i]);
        if (g_chan[i] >= 0)
            close(g_chan[i]);
    }
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_client), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, g_chan), 0);
}

/* The real bring-up; `supervisor` must be the caller's parent. 0 or -errno. */
static int bring_up(pid_t supervisor)
{
    struct iod_worker_args a = {
        .opt = &g_opt,
        .probe = &g_probe,
        .sandbox = &g_sb,
        .client_fd = g_client[1],
        .chan_fd = g_chan[1],
        .client_slot = 0,
        .conn = 1,
        .supervisor_pid = supervisor,
    };
    return iod_worker_bring_up(&a, &g_ring);
}

__attribute__((noreturn)) static void setup_failed(int ret)
{
    _exit(EXIT_SETUP_BASE + (-ret > 150 ? 150 : -ret));
}

/* In-process: this test process becomes a confined worker. No criterion call after. */
static void confine_self(void)
{
    prepare(false, NULL, NULL);
    new_pairs();
    fflush(NULL);
    int ret = bring_up(getppid());
    if (ret < 0)
        setup_failed(ret);
}

/* ---- inside a confined child (allowlisted syscalls only) ------------------- */

static void report(const void *buf, size_t len)
{
    /* send(2) is sendto(2), allowed on the client socket. */
    (void)send(IOD_WORKER_CLIENT_FD, buf, len, MSG_NOSIGNAL);
}

static void mark(char c)
{
    report(&c, 1);
}

/* One SQE, alone in its submission (a refused SQE ends the batch); its res. */
static int32_t submit_one(uint8_t opcode, uint8_t flags)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&g_ring.ring);
    if (sqe == NULL)
        return INT32_MIN;
    io_uring_prep_rw(opcode, sqe, -1, NULL, 0, 0);
    sqe->flags = flags;
    sqe->user_data = 0x5a00u + opcode;
    if (io_uring_submit_and_wait(&g_ring.ring, 1) < 0)
        return INT32_MIN + 1;
    struct io_uring_cqe *cqe;
    if (io_uring_wait_cqe(&g_ring.ring, &cqe) < 0)
        return INT32_MIN + 2;
    int32_t res = cqe->res;
    io_uring_cqe_seen(&g_ring.ring, cqe);
    return res;
}

/* ---- parent side ----------------------------------------------------------- */

typedef void (*body_fn)(void);

/* Fork a child that brings itself up (sandbox already prepared, pairs made), runs
 * `body` and exits 0. The parent keeps [0] of both pairs. */
static pid_t spawn(body_fn body)
{
    g_parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int ret = bring_up(g_parent);
        if (ret < 0)
            setup_failed(ret);
        body();
        _exit(0);
    }
    close(g_client[1]);
    close(g_chan[1]);
    g_client[1] = g_chan[1] = -1;
    return pid;
}

/* Bounded wait without sleeping: poll a pidfd. Returns the wait status. */
static int wait_child(pid_t pid)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    cr_assert(pfd >= 0, "pidfd_open: %s", strerror(errno));
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, WAIT_MS)) < 0 && errno == EINTR) {
    }
    close(pfd);
    int st = 0;
    if (n == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        cr_assert_fail("child %d still running after %d ms", (int)pid, WAIT_MS);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static const char *describe(int st, char *buf, size_t cap)
{
    if (WIFSIGNALED(st))
        snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else if (WIFEXITED(st) && WEXITSTATUS(st) >= EXIT_SETUP_BASE)
        snprintf(buf, cap, "bring-up failed: %s", strerror(WEXITSTATUS(st) - EXIT_SETUP_BASE));
    else if (WIFEXITED(st))
        snprintf(buf, cap, "exited %d", WEXITSTATUS(st));
    else
        snprintf(buf, cap, "status 0x%x", (unsigned)st);
    return buf;
}

static void assert_exit0(int st)
{
    char d[96];
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %s, want exit 0",
              describe(st, d, sizeof d));
}

/* Read exactly n bytes from the test's end of the client socket, bounded. */
static void read_exact(void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = g_client[0], .events = POLLIN};
        int r = poll(&p, 1, WAIT_MS);
        cr_assert(r > 0, "child sent %zu of %zu bytes, then nothing for %d ms", got, n,
                  WAIT_MS);
        ssize_t k = recv(g_client[0], (char *)buf + got, n - got, 0);
        cr_assert(k > 0, "child sent %zu of %zu bytes, then %s", got, n,
                  k == 0 ? "EOF" : strerror(errno));
        got += (size_t)k;
    }
}

/* Everything the (now dead) child left in the socket. */
static size_t read_rest(char *buf, size_t cap)
{
    size_t got = 0;
    ssize_t k;
    while (got + 1 < cap && (k = recv(g_client[0], buf + got, cap - 1 - got, MSG_DONTWAIT)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    return got;
}

/* ---- /proc ----------------------------------------------------------------- */

static void fd_target(pid_t pid, int fd, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t n = readlink(path, out, cap - 1);
    out[n < 0 ? 0 : n] = '\0';
}

/* The open descriptors of pid as a bit set (fds < 64; any fd >= 64 sets bit 63). */
static unsigned long long fd_set_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert(d != NULL, "%s: %s", path, strerror(errno));
    unsigned long long set = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        long fd = strtol(e->d_name, NULL, 10);
        set |= 1ULL << (fd < 63 ? fd : 63);
    }
    closedir(d);
    return set;
}

/* ---- confined children that wait for the test --------------------------------- */

/* Ready, then block in poll until the test closes its end of the client socket. */
static void body_wait(void)
{
    mark('R');
    struct pollfd p = {.fd = IOD_WORKER_CLIENT_FD, .events = POLLIN};
    while (poll(&p, 1, -1) < 0) {
    }
    _exit(0);
}

/* Dup junk onto fds the worker must not keep, including 5 and 6. */
static void litter_fds(void)
{
    int n = open("/dev/null", O_RDONLY);
    cr_assert(n >= 0);
    static const int spots[] = {5, 6, 9, 17, 40};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++)
        if (fcntl(spots[i], F_GETFD) < 0)
            cr_assert(dup2(n, spots[i]) == spots[i]);
    /* Not close-on-exec on purpose: the worker must close it, not exec. */
}

/* ============================================================================ */
/* Killed: the test process is the confined worker (.signal = SIGSYS).          */
/* ============================================================================ */

Test(sandbox, allowed_syscalls_do_not_kill, .exit_code = EXIT_SURVIVED, .timeout = 10)
{
    /* Control for the SIGSYS tests below: bring-up itself does not kill, and the
     * calls a worker makes are allowed. */
    confine_self();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    struct pollfd p = {.fd = IOD_WORKER_CLIENT_FD, .events = POLLIN};
    (void)poll(&p, 1, 0);
    void *big = malloc(1 << 20); /* mmap */
    void *small = malloc(64);    /* brk */
    free(big);
    free(small);
    (void)write(STDERR_FILENO, "", 0);
    mark('x');
    (void)close(-1);
    _exit(EXIT_SURVIVED);
}

Test(sandbox, io_uring_setup_kills, .signal = SIGSYS, .timeout = 10)
{
    confine_self();
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    (void)syscall(__NR_io_uring_setup, 4, &params);
    _exit(EXIT_SURVIVED);
}

Test(sandbox, execve_kills, .signal = SIGSYS, .timeout = 10)
{
    confine_self();
    char *const argv[] = {(char *)"/bin/true", NULL};
    char *const envp[] = {NULL};
    (void)execve("/bin/true", argv, envp);
    _exit(EXIT_SURVIVED);
}

Test(sandbox, socket_kills, .signal = SIGSYS, .timeout = 10)
{
    confine_self();
    (void)socket(AF_UNIX, SOCK_STREAM, 0);
    _exit(EXIT_SURVIVED);
}

Test(sandbox, open_file_kills, .signal = SIGSYS, .timeout = 10)
{
    confine_self();
    (void)open("/etc/hostname", O_RDONLY); /* openat(2) */
    _exit(EXIT_SURVIVED);
}

Test(sandbox, fork_kills, .signal = SIGSYS, .timeout = 10)
{
    confine_self();
    if (syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL) == 0)
        _exit(0);
    _exit(EXIT_SURVIVED);
}

/* ============================================================================ */
/* Killed exactly at the forbidden call: forked children with before/after marks */
/* ============================================================================ */

static void do_io_uring_setup(void)
{
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    (void)syscall(__NR_io_uring_setup, 4, &params);
}

static void do_execve(void)
{
    char *const argv[] = {(char *)"/bin/true", NULL};
    char *const envp[] = {NULL};
    (void)execve("/bin/true", argv, envp);
}

static void do_execveat(void)
{
    (void)syscall(SYS_execveat, AT_FDCWD, "/bin/true", NULL, NULL, 0);
}

static void do_socket(void)
{
    (void)socket(AF_UNIX, SOCK_STREAM, 0);
}

static void do_socketpair(void)
{
    int sv[2];
    (void)socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
}

static void do_openat(void)
{
    (void)open("/etc/hostname", O_RDONLY);
}

static void do_open_legacy(void)
{
    (void)syscall(SYS_open, "/etc/hostname", O_RDONLY);
}

static void do_clone(void)
{
    if (syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL) == 0)
        _exit(0);
}

static void do_clone3(void)
{
    (void)syscall(SYS_clone3, NULL, 0); /* EINVAL if it got past seccomp */
}

static void do_kill_supervisor(void)
{
    (void)kill(g_parent, 0);
}

static void do_ptrace(void)
{
    (void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
}

static void do_enter_other_fd(void)
{
    (void)syscall(__NR_io_uring_enter, IOD_WORKER_CHAN_FD, 0, 0, 0, NULL, 0);
}

static void do_register_probe(void)
{
    (void)syscall(__NR_io_uring_register, IOD_WORKER_RING_FD, IORING_REGISTER_PROBE, NULL, 0);
}

static void do_register_buffers(void)
{
    (void)syscall(__NR_io_uring_register, IOD_WORKER_RING_FD, IORING_REGISTER_BUFFERS, NULL, 0);
}

static void do_mmap_exec(void)
{
    (void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void do_mprotect(void)
{
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mark(p == MAP_FAILED ? 'F' : 'M'); /* the mapping itself is allowed */
    (void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
}

static void do_write_stdout(void)
{
    (void)write(STDOUT_FILENO, "", 0);
}

static void do_sendto_ring(void)
{
    (void)sendto(IOD_WORKER_RING_FD, "x", 1, 0, NULL, 0);
}

static void do_sendmsg_client(void)
{
    /* sendmsg could pass a descriptor out; only sendto (no SCM_RIGHTS) is allowed. */
    char c = 'x';
    struct iovec iov = {&c, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    (void)sendmsg(IOD_WORKER_CLIENT_FD, &m, MSG_DONTWAIT);
}

static void do_recvmsg_stdin(void)
{
    char c;
    struct iovec iov = {&c, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    (void)recvmsg(STDIN_FILENO, &m, MSG_DONTWAIT);
}

static void do_getpid(void)
{
    (void)syscall(SYS_getpid);
}

static void do_setuid(void)
{
    (void)syscall(SYS_setuid, 0);
}

static void do_prctl_dumpable(void)
{
    (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

static void do_x32_close(void)
{
    (void)syscall(0x40000000L | SYS_close, -1); /* x32 ABI number of close */
}

#if defined(__x86_64__)
static long int80(long nr)
{
    long ret;
    __asm__ __volatile__("int $0x80" : "=a"(ret) : "a"(nr) : "memory");
    return ret;
}

static void do_i386_getpid(void)
{
    (void)int80(20); /* getpid in the i386 table */
}

/* Does `int $0x80` work here at all (IA32 emulation)? Probed unconfined. */
static bool ia32_available(void)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0)
        _exit(int80(20) == (long)syscall(SYS_getpid) ? 0 : 1);
    int st = wait_child(pid);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}
#endif

/* Controls: allowed calls, the child must reach its second mark. */
static void do_allowed(void)
{
    (void)close(-1);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    void *big = malloc(1 << 20);
    free(big);
    struct pollfd p = {.fd = IOD_WORKER_CHAN_FD, .events = POLLIN};
    (void)poll(&p, 1, 0);
    (void)write(STDERR_FILENO, "", 0);
    char c;
    struct iovec iov = {&c, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    (void)recvmsg(IOD_WORKER_CHAN_FD, &m, MSG_DONTWAIT);
    (void)syscall(__NR_io_uring_enter, IOD_WORKER_RING_FD, 0, 0, 0, NULL, 0);
}

static void do_files_update(void)
{
    int fd = IOD_WORKER_CLIENT_FD;
    (void)io_uring_register_files_update(&g_ring.ring, 0, &fd, 1);
}

struct action {
    const char *name;
    body_fn fn;
    bool kills;
};

static const struct action actions[] = {
    {"io_uring_setup (a second, unrestricted ring)", do_io_uring_setup, true},
    {"execve", do_execve, true},
    {"execveat", do_execveat, true},
    {"socket", do_socket, true},
    {"socketpair", do_socketpair, true},
    {"openat (open(3) of a file)", do_openat, true},
    {"open (legacy syscall)", do_open_legacy, true},
    {"clone (fork)", do_clone, true},
    {"clone3", do_clone3, true},
    {"kill of the supervisor", do_kill_supervisor, true},
    {"ptrace", do_ptrace, true},
    {"io_uring_enter on another fd", do_enter_other_fd, true},
    {"io_uring_register PROBE on the ring", do_register_probe, true},
    {"io_uring_register BUFFERS on the ring", do_register_buffers, true},
    {"mmap PROT_EXEC", do_mmap_exec, true},
    {"mprotect", do_mprotect, true},
    {"write to stdout", do_write_stdout, true},
    {"sendto on the ring fd", do_sendto_ring, true},
    {"sendmsg on the client", do_sendmsg_client, true},
    {"recvmsg on stdin", do_recvmsg_stdin, true},
    {"getpid", do_getpid, true},
    {"setuid", do_setuid, true},
    {"prctl", do_prctl_dumpable, true},
    {"x32 ABI syscall", do_x32_close, true},
#if defined(__x86_64__)
    {"i386 ABI syscall (int 0x80)", do_i386_getpid, true},
#endif
    {"allowed: close, clock_gettime, malloc, poll, write(2), recvmsg(4), io_uring_enter(5)",
     do_allowed, false},
    {"allowed: io_uring_register FILES_UPDATE on the ring", do_files_update, false},
};

static const struct action *g_action;

static void body_action(void)
{
    mark('B');
    g_action->fn();
    mark('A');
}

Test(sandbox, each_forbidden_syscall_kills_at_the_call, .timeout = 60)
{
    prepare(false, NULL, NULL);
#if defined(__x86_64__)
    bool ia32 = ia32_available();
#endif
    unsigned checked = 0;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        g_action = &actions[i];
#if defined(__x86_64__)
        if (g_action->fn == do_i386_getpid && !ia32) {
            cr_log_warn("sandbox: no IA32 emulation here; \"%s\" not exercised", g_action->name);
            continue;
        }
#endif
        new_pairs();
        pid_t pid = spawn(body_action);
        int st = wait_child(pid);
        char got[16], d[96];
        read_rest(got, sizeof got);
        /* The child itself may add marks of its own before the call (mprotect). */
        size_t len = strlen(got);
        if (g_action->kills) {
            cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: child %s, want SIGSYS",
                      g_action->name, describe(st, d, sizeof d));
            cr_expect(len >= 1 && got[0] == 'B' && got[len - 1] != 'A',
                      "%s: marks \"%s\": want killed after 'B' and before 'A'", g_action->name,
                      got);
        } else {
            cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child %s, want exit 0",
                      g_action->name, describe(st, d, sizeof d));
            cr_expect_str_eq(got, "BA", "%s: marks \"%s\", want \"BA\"", g_action->name, got);
        }
        checked++;
    }
    cr_assert(checked >= sizeof actions / sizeof actions[0] - 1);
}

/* ============================================================================ */
/* The ring layer: denied opcodes and SQE flags complete -EACCES                */
/* ============================================================================ */

static bool policy_allows_op(unsigned op)
{
    for (size_t i = 0; i < g_sb.policy.nres; i++) {
        const struct io_uring_restriction *r = &g_sb.policy.res[i];
        if (r->opcode == IORING_RESTRICTION_SQE_OP && r->sqe_op == op)
            return true;
    }
    return false;
}

#define NOT_SUBMITTED INT32_MAX

struct op_report {
    int32_t res[IORING_OP_LAST];
    int32_t nop;
    int32_t files_update_in, files_update_out;
};

static void body_opcodes(void)
{
    static struct op_report r;
    for (unsigned op = 0; op < IORING_OP_LAST; op++)
        r.res[op] = policy_allows_op(op) ? NOT_SUBMITTED : submit_one((uint8_t)op, 0);
    r.nop = submit_one(IORING_OP_NOP, 0);
    int fd = IOD_WORKER_CLIENT_FD;
    r.files_update_in = io_uring_register_files_update(&g_ring.ring, 0, &fd, 1);
    fd = -1;
    r.files_update_out = io_uring_register_files_update(&g_ring.ring, 0, &fd, 1);
    report(&r, sizeof r);
}

Test(sandbox, denied_opcodes_complete_eacces, .timeout = 20)
{
    prepare(false, NULL, NULL);
    /* The ones the issue names are really outside the policy. */
    static const unsigned named[] = {IORING_OP_SOCKET, IORING_OP_MSG_RING, IORING_OP_URING_CMD,
                                     IORING_OP_SENDMSG, IORING_OP_RECVMSG, IORING_OP_READ};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        cr_assert(!policy_allows_op(named[i]), "policy allows opcode %u", named[i]);
    new_pairs();
    pid_t pid = spawn(body_opcodes);
    struct op_report r;
    read_exact(&r, sizeof r);
    assert_exit0(wait_child(pid));

    unsigned denied = 0;
    for (unsigned op = 0; op < IORING_OP_LAST; op++) {
        if (r.res[op] == NOT_SUBMITTED)
            continue;
        denied++;
        cr_expect_eq(r.res[op], -EACCES, "opcode %u completed %d (%s), want -EACCES", op,
                     r.res[op], strerror(-r.res[op]));
    }
    cr_assert(denied >= 30, "only %u denied opcodes submitted", denied);
    cr_assert_eq(r.res[IORING_OP_SOCKET], -EACCES);
    cr_assert_eq(r.res[IORING_OP_MSG_RING], -EACCES);
    cr_assert_eq(r.res[IORING_OP_URING_CMD], -EACCES);
    /* Controls: the ring works for what the policy allows. */
    cr_assert_eq(r.nop, 0, "NOP completed %d", r.nop);
    cr_assert_eq(r.files_update_in, 1, "FILES_UPDATE (install) returned %d",
                 r.files_update_in);
    cr_assert_eq(r.files_update_out, 1, "FILES_UPDATE (remove) returned %d",
                 r.files_update_out);
}

struct flag_case {
    const char *name;
    uint8_t flag;
};

static const struct flag_case denied_flags[] = {
    {"IO_DRAIN", IOSQE_IO_DRAIN},   {"IO_LINK", IOSQE_IO_LINK},
    {"IO_HARDLINK", IOSQE_IO_HARDLINK}, {"ASYNC", IOSQE_ASYNC},
    {"CQE_SKIP_SUCCESS", IOSQE_CQE_SKIP_SUCCESS},
};
#define NFLAGS (sizeof denied_flags / sizeof denied_flags[0])

static void body_flags(void)
{
    int32_t res[NFLAGS + 1];
    for (size_t i = 0; i < NFLAGS; i++)
        res[i] = submit_one(IORING_OP_NOP, denied_flags[i].flag);
    res[NFLAGS] = submit_one(IORING_OP_NOP, 0);
    report(res, sizeof res);
}

Test(sandbox, denied_sqe_flags_complete_eacces, .timeout = 20)
{
    prepare(false, NULL, NULL);
    new_pairs();
    pid_t pid = spawn(body_flags);
    int32_t res[NFLAGS + 1];
    read_exact(res, sizeof res);
    assert_exit0(wait_child(pid));
    for (size_t i = 0; i < NFLAGS; i++)
        cr_expect_eq(res[i], -EACCES, "NOP with IOSQE_%s completed %d (%s), want -EACCES",
                     denied_flags[i].name, res[i], strerror(-res[i]));
    cr_assert_eq(res[NFLAGS], 0, "plain NOP completed %d", res[NFLAGS]);
}

/* ============================================================================ */
/* State of a confined worker, seen from outside through /proc                  */
/* ============================================================================ */

Test(sandbox, worker_status_fds_and_limits, .timeout = 20)
{
    prepare(false, NULL, NULL);
    new_pairs();
    litter_fds();
    char client[64], chan[64];
    fd_target(getpid(), g_client[1], client, sizeof client);
    fd_target(getpid(), g_chan[1], chan, sizeof chan);
    pid_t pid = spawn(body_wait);
    char c;
    read_exact(&c, 1);
    cr_assert_eq(c, 'R');

    proc_assert_status(pid, "Seccomp", "2");
    char mine[32], want[32];
    cr_assert(proc_status_field(getpid(), "Seccomp_filters", mine, sizeof mine));
    snprintf(want, sizeof want, "%ld", strtol(mine, NULL, 10) + 1); /* one more than ours */
    proc_assert_status(pid, "Seccomp_filters", want);
    proc_assert_status(pid, "NoNewPrivs", "1");

    unsigned long long fds = fd_set_of(pid);
    cr_assert_eq(fds, 0x3fULL, "worker fds 0x%llx, want exactly 0-5 (0x3f)", fds);
    char t[64];
    fd_target(pid, IOD_WORKER_CLIENT_FD, t, sizeof t);
    cr_assert_str_eq(t, client, "fd 3 is %s, want the client socket %s", t, client);
    fd_target(pid, IOD_WORKER_CHAN_FD, t, sizeof t);
    cr_assert_str_eq(t, chan, "fd 4 is %s, want the channel %s", t, chan);
    fd_target(pid, IOD_WORKER_RING_FD, t, sizeof t);
    cr_assert_str_eq(t, "anon_inode:[io_uring]", "fd 5 is %s", t);

    long page = sysconf(_SC_PAGESIZE);
    unsigned long long per_buf = (g_opt.io_bytes_max + (unsigned long long)page - 1) /
                                 (unsigned long long)page * (unsigned long long)page;
    proc_assert_limit(pid, "Max core file size", 0);
    proc_assert_limit(pid, "Max processes", 0); /* root worker: NPROC 0 */
    proc_assert_limit(pid, "Max open files",
                 proc_expected_limit(RLIMIT_NOFILE, g_opt.registered_fds + 64ULL));
    /* Locked memory is charged per uid across all its workers: the limit
     * covers max_clients workers' rings and buffers (sandbox.c). */
    unsigned long long ring = 4096 /* 64 SQEs of 64 bytes */ +
                              (64 * 4 + 2 * 64 * 16 + 8192 + (unsigned long long)page - 1) /
                                  (unsigned long long)page * (unsigned long long)page;
    proc_assert_limit(pid, "Max locked memory",
                 proc_expected_limit(RLIMIT_MEMLOCK,
                                g_opt.max_clients * (ring + per_buf * g_opt.registered_buffers) +
                                    1024 * 1024));
    cr_assert_eq(iod_sandbox_memlock_limit(&g_opt),
                 g_opt.max_clients * (ring + per_buf * g_opt.registered_buffers) + 1024 * 1024);

    close(g_client[0]);
    g_client[0] = -1;
    assert_exit0(wait_child(pid));
}

Test(sandbox, openat_root_is_fd_6, .timeout = 20)
{
    char dir[] = "/tmp/iouringd-sandbox-XXXXXX";
    cr_assert(mkdtemp(dir) != NULL);
    prepare(false, NULL, dir);
    new_pairs();
    litter_fds();
    pid_t pid = spawn(body_wait);
    char c;
    read_exact(&c, 1);
    unsigned long long fds = fd_set_of(pid);
    char t[PATH_MAX];
    fd_target(pid, IOD_WORKER_ROOT_FD, t, sizeof t);
    close(g_client[0]);
    g_client[0] = -1;
    int st = wait_child(pid);
    rmdir(dir);
    cr_assert_eq(fds, 0x7fULL, "worker fds 0x%llx, want exactly 0-6 (0x7f)", fds);
    cr_assert_str_eq(t, dir, "fd 6 is %s, want the openat root %s", t, dir);
    assert_exit0(st);
}

/* A plain process as nobody, dumpable again: its /proc files are owned by 65534.
 * It says 'R' once it is, then waits for EOF on *hold. */
static pid_t dumpable_nobody(int *hold)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        if (setgid(65534) < 0 || setuid(65534) < 0 || prctl(PR_SET_DUMPABLE, 1) < 0)
            _exit(1);
        char b = 'R';
        if (write(sv[1], &b, 1) != 1)
            _exit(1);
        (void)read(sv[1], &b, 1);
        _exit(0);
    }
    close(sv[1]);
    char b = 0;
    struct pollfd p = {.fd = sv[0], .events = POLLIN};
    cr_assert(poll(&p, 1, WAIT_MS) == 1 && read(sv[0], &b, 1) == 1 && b == 'R',
              "control process did not become a dumpable nobody");
    *hold = sv[0];
    return pid;
}

static uid_t proc_owner(pid_t pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
    return st.st_uid;
}

Test(sandbox, worker_user_drop_and_not_dumpable, .timeout = 20)
{
    cr_assert_eq(geteuid(), 0, "this test runs as root (the drop happens in the worker)");
    prepare(false, "nobody", NULL);
    cr_assert(g_sb.switch_user);
    new_pairs();
    pid_t pid = spawn(body_wait);
    char c;
    read_exact(&c, 1);
    char want[64];
    snprintf(want, sizeof want, "%u %u %u %u", g_sb.uid, g_sb.uid, g_sb.uid, g_sb.uid);
    proc_assert_status(pid, "Uid", want);
    snprintf(want, sizeof want, "%u %u %u %u", g_sb.gid, g_sb.gid, g_sb.gid, g_sb.gid);
    proc_assert_status(pid, "Gid", want);
    proc_assert_status(pid, "Groups", "");
    proc_assert_status(pid, "CapEff", "0000000000000000");
    proc_assert_status(pid, "CapPrm", "0000000000000000");
    proc_assert_status(pid, "Seccomp", "2");
    proc_assert_status(pid, "NoNewPrivs", "1");
    /* Not dumpable: the kernel then owns its /proc files by root, not by its uid.
     * The control shows a dumpable process of the same uid is owned by that uid. */
    cr_assert_eq(proc_owner(pid), 0, "/proc/%d/status owned by %u: worker is dumpable",
                 (int)pid, proc_owner(pid));
    int hold;
    pid_t ctl = dumpable_nobody(&hold);
    uid_t ctl_owner = proc_owner(ctl);
    close(hold);
    assert_exit0(wait_child(ctl));
    cr_assert_eq(ctl_owner, 65534, "control: dumpable nobody process owned by %u", ctl_owner);
    /* A non-root worker keeps RLIMIT_NPROC: io-wq threads count against it. */
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NPROC, &rl), 0);
    long long soft, hard;
    proc_limit(pid, "Max processes", &soft, &hard);
    cr_assert(soft != 0 && hard != 0, "nobody worker has RLIMIT_NPROC %lld/%lld", soft, hard);
    proc_assert_limit(pid, "Max core file size", 0);

    close(g_client[0]);
    g_client[0] = -1;
    assert_exit0(wait_child(pid));
}

/* ============================================================================ */
/* Log mode: a forbidden syscall is logged, not fatal; the ring layer still holds */
/* ============================================================================ */

struct log_report {
    int32_t getpid;
    int32_t socket;
    int32_t dumpable;
    int32_t op_socket;
    int32_t register_probe;
    int32_t second_ring;
};

static void body_log(void)
{
    static struct log_report r;
    r.getpid = (int32_t)syscall(SYS_getpid);
    r.socket = socket(AF_UNIX, SOCK_STREAM, 0);
    r.dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    r.op_socket = submit_one(IORING_OP_SOCKET, 0);
    r.register_probe =
        (int32_t)syscall(__NR_io_uring_register, IOD_WORKER_RING_FD, IORING_REGISTER_PROBE,
                         NULL, 0);
    if (r.register_probe < 0)
        r.register_probe = -errno;
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    r.second_ring = (int32_t)syscall(__NR_io_uring_setup, 4, &params);
    report(&r, sizeof r);
}

Test(sandbox, log_mode_worker_survives_forbidden_syscalls, .timeout = 20)
{
    prepare(true, NULL, NULL);
    new_pairs();
    pid_t pid = spawn(body_log);
    struct log_report r;
    read_exact(&r, sizeof r);
    assert_exit0(wait_child(pid));
    cr_assert_eq(r.getpid, pid, "getpid returned %d in a worker of pid %d", r.getpid, (int)pid);
    cr_assert(r.socket >= 0, "socket returned %d", r.socket);
    /* prctl is allowed here only because of log mode; it shows a root worker is
     * not dumpable after the bring-up. */
    cr_assert_eq(r.dumpable, 0, "worker is dumpable (%d)", r.dumpable);
    /* The ring restrictions do not depend on the seccomp mode. */
    cr_assert_eq(r.op_socket, -EACCES, "IORING_OP_SOCKET completed %d", r.op_socket);
    cr_assert_eq(r.register_probe, -EACCES, "REGISTER_PROBE returned %d", r.register_probe);
    /* Log mode is not a sandbox: nothing stops a second, unrestricted ring.
     * (policy/README.md says so; change both together.) */
    cr_assert(r.second_ring >= 0, "io_uring_setup in log mode returned %d", r.second_ring);
}

static void body_log_getpid(void)
{
    (void)syscall(SYS_getpid);
    mark('A');
}

/* Look for the audit record of `pid` in /dev/kmsg, bounded; kmsg is at the position
 * it was before the action. */
static bool kmsg_has_record(int kfd, pid_t pid, const char *needle, int timeout_ms)
{
    char want_pid[32];
    snprintf(want_pid, sizeof want_pid, " pid=%d ", (int)pid);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char rec[8192];
        ssize_t n = read(kfd, rec, sizeof rec - 1);
        if (n > 0) {
            rec[n] = '\0';
            if (strstr(rec, "type=1326") && strstr(rec, want_pid) && strstr(rec, needle) &&
                strstr(rec, " sig=0 ") && strstr(rec, " code=0x7ffc0000"))
                return true;
            continue;
        }
        if (n < 0 && errno == EPIPE) /* overwritten records: keep reading */
            continue;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long long left = timeout_ms - ((t1.tv_sec - t0.tv_sec) * 1000LL +
                                       (t1.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = kfd, .events = POLLIN};
        (void)poll(&p, 1, (int)left);
    }
}

Test(sandbox, log_mode_forbidden_syscall_is_logged, .timeout = 30)
{
    int kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (kfd < 0)
        cr_skip_test("sandbox: cannot read /dev/kmsg (%s): log-mode audit records "
                     "not checked here",
                     strerror(errno));
    prepare(true, NULL, NULL);
    char needle[32];
    snprintf(needle, sizeof needle, " syscall=%d ", (int)SYS_getpid);
    /* The kernel prints audit records through printk_ratelimit (10 per 5 s, shared
     * with every other SIGSYS in this run): try again in a later window. */
    for (int attempt = 0; attempt < 4; attempt++) {
        cr_assert(lseek(kfd, 0, SEEK_END) >= 0, "lseek /dev/kmsg: %s", strerror(errno));
        new_pairs();
        pid_t pid = spawn(body_log_getpid);
        char c;
        read_exact(&c, 1);
        cr_assert_eq(c, 'A');
        assert_exit0(wait_child(pid));
        /* SECCOMP_RET_LOG: sig=0 code=0x7ffc0000 (a kill would be sig=31). */
        if (kmsg_has_record(kfd, pid, needle, 2500)) {
            close(kfd);
            return;
        }
    }
    close(kfd);
    cr_skip_test("sandbox: the log-mode worker survived getpid, but no audit record "
                 "type=1326 reached /dev/kmsg (auditd consuming them, audit off, or "
                 "printk ratelimit): \"is logged\" NOT verified on this machine");
}

/* ============================================================================ */
/* Preparation refuses what it cannot honour, naming the step                   */
/* ============================================================================ */

Test(sandbox, prepare_refuses_unknown_user_and_bad_root, .timeout = 10)
{
    static struct iod_sandbox sb;
    const char *what = "";
    cr_assert_eq(iod_sandbox_prepare(&sb, false, false, "no-such-user-iouringd", NULL, &what), -ENOENT);
    cr_assert_str_eq(what, "resolving worker user");
    cr_assert_eq(iod_sandbox_prepare(&sb, false, false, NULL, "/nonexistent-iouringd-root", &what),
                 -ENOENT);
    cr_assert_str_eq(what, "opening openat root");
    cr_assert_eq(iod_sandbox_prepare(&sb, false, false, NULL, "/etc/hostname", &what), -ENOTDIR);
    cr_assert_eq(iod_sandbox_prepare(&sb, false, false, NULL, NULL, &what), 0);
    cr_assert(!sb.switch_user && sb.root_fd == -1 && sb.filter != NULL);
}

/* ============================================================================ */
/* Option-dependent policy lines and the fixes of the reviewer's four gaps      */
/* (policy/README.md "Limits"): write(2) only with --trace-stderr, no           */
/* capabilities for a worker that stays root, chroot + OPENAT2-only under       */
/* --openat-root.                                                               */
/* ============================================================================ */

/* prepare() with an explicit --trace-stderr. */
static void prepare_trace(bool seccomp_log, bool trace_stderr, const char *user,
                          const char *root)
{
    iod_options_defaults(&g_opt);
    memset(&g_probe, 0, sizeof g_probe);
    g_probe.op_mask = 0xFFF;
    const char *what = "";
    int ret = iod_sandbox_prepare(&g_sb, seccomp_log, trace_stderr, user, root, &what);
    cr_assert_eq(ret, 0, "iod_sandbox_prepare: %s: %s", what, strerror(-ret));
}

/* ---- write(2) only with --trace-stderr -------------------------------------- */

Test(sandbox, write_stderr_kills_without_trace_stderr, .signal = SIGSYS, .timeout = 10)
{
    prepare_trace(false, false, NULL, NULL);
    new_pairs();
    fflush(NULL);
    int ret = bring_up(getppid());
    if (ret < 0)
        setup_failed(ret);
    (void)write(STDERR_FILENO, "", 0);
    _exit(EXIT_SURVIVED);
}

static void do_write_stderr(void)
{
    (void)write(STDERR_FILENO, "", 0);
}

Test(sandbox, write_stderr_allowed_only_with_trace_stderr, .timeout = 20)
{
    /* Forked, with marks: killed exactly at write(2) without --trace-stderr; the
     * same body with it reaches its second mark (control). */
    static const struct action w = {"write(2)", do_write_stderr, true};
    g_action = &w;
    for (int trace = 0; trace <= 1; trace++) {
        prepare_trace(false, trace, NULL, NULL);
        bool has_write = false;
        for (size_t i = 0; i < g_sb.policy.nrules; i++)
            has_write = has_write || strcmp(g_sb.policy.rules[i].name, "write") == 0;
        cr_assert_eq(has_write, trace, "trace_stderr=%d: write rule %s", trace,
                     has_write ? "present" : "absent");
        new_pairs();
        pid_t pid = spawn(body_action);
        int st = wait_child(pid);
        char got[16], d[96];
        read_rest(got, sizeof got);
        if (!trace) {
            cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
                      "without --trace-stderr: child %s, want SIGSYS", describe(st, d, sizeof d));
            cr_assert_str_eq(got, "B", "without --trace-stderr: marks \"%s\", want \"B\"", got);
        } else {
            cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "with --trace-stderr: child %s, want exit 0", describe(st, d, sizeof d));
            cr_assert_str_eq(got, "BA", "with --trace-stderr: marks \"%s\", want \"BA\"", got);
        }
    }
}

/* ---- raw ring ops of a (compromised) worker ---------------------------------- */

/* Submit the one prepared SQE alone and return its res. */
static int32_t finish_one(struct io_uring_sqe *sqe)
{
    sqe->user_data = 0x7a7a;
    if (io_uring_submit_and_wait(&g_ring.ring, 1) < 0)
        return INT32_MIN + 1;
    struct io_uring_cqe *cqe;
    if (io_uring_wait_cqe(&g_ring.ring, &cqe) < 0)
        return INT32_MIN + 2;
    int32_t res = cqe->res;
    io_uring_cqe_seen(&g_ring.ring, cqe);
    return res;
}

/* IORING_OP_OPENAT into the normal descriptor table (not a fixed slot). */
static int32_t raw_openat(int dfd, const char *path, int flags)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&g_ring.ring);
    if (sqe == NULL)
        return INT32_MIN;
    io_uring_prep_openat(sqe, dfd, path, flags, 0);
    return finish_one(sqe);
}

/* IORING_OP_OPENAT2 with the given resolve flags. */
static int32_t raw_openat2(int dfd, const char *path, int flags, uint64_t resolve)
{
    static struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(uint32_t)flags;
    how.resolve = resolve;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&g_ring.ring);
    if (sqe == NULL)
        return INT32_MIN;
    io_uring_prep_openat2(sqe, dfd, path, &how);
    return finish_one(sqe);
}

/* READV of up to cap-1 bytes at offset 0 of `fd` into buf (NUL-terminated); res. */
static int32_t raw_read(int fd, char *buf, size_t cap)
{
    struct iovec iov = {buf, cap - 1};
    struct io_uring_sqe *sqe = io_uring_get_sqe(&g_ring.ring);
    if (sqe == NULL)
        return INT32_MIN;
    io_uring_prep_readv(sqe, fd, &iov, 1, 0);
    int32_t res = finish_one(sqe);
    buf[res > 0 ? res : 0] = '\0';
    return res;
}

/* Paths the parent sets before spawn; the child reads them from its copy. */
static char g_path_a[PATH_MAX], g_path_b[PATH_MAX], g_path_c[PATH_MAX];

struct open_report {
    int32_t res[8];
    char text[4][64];
};

/* Open, then read what was opened (if anything) and close it. */
static int32_t open_and_read(int32_t res, char *text, size_t cap)
{
    text[0] = '\0';
    if (res >= 0) {
        (void)raw_read(res, text, cap);
        (void)close(res);
    }
    return res;
}

/* ---- a worker that stays root has no capabilities ----------------------------- */

/* Report, then block until the test closes its end (it reads /proc meanwhile). */
static void report_and_wait(const void *r, size_t len)
{
    report(r, len);
    struct pollfd p = {.fd = IOD_WORKER_CLIENT_FD, .events = POLLIN};
    while (poll(&p, 1, -1) < 0) {
    }
    _exit(0);
}

/* a: a file of uid 65534 mode 0600; b: /proc/<supervisor>/mem; c: a root file 0600. */
static void body_root_opens(void)
{
    static struct open_report r;
    r.res[0] = open_and_read(raw_openat(AT_FDCWD, g_path_a, O_RDONLY), r.text[0], 64);
    r.res[1] = open_and_read(raw_openat(AT_FDCWD, g_path_a, O_RDWR), r.text[1], 64);
    r.res[2] = open_and_read(raw_openat(AT_FDCWD, g_path_b, O_RDWR), r.text[2], 64);
    r.res[3] = open_and_read(raw_openat(AT_FDCWD, g_path_b, O_RDONLY), r.text[3], 64);
    r.res[4] = raw_openat(AT_FDCWD, g_path_c, O_RDONLY);
    if (r.res[4] >= 0)
        (void)close(r.res[4]);
    report_and_wait(&r, sizeof r);
}

Test(sandbox, root_worker_drops_every_capability, .timeout = 20)
{
    cr_assert_eq(geteuid(), 0, "this test runs as root (the drop happens in the worker)");
    char dir[] = "/tmp/iouringd-caps-XXXXXX";
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(g_path_a, sizeof g_path_a, "%s/nobodys", dir);
    snprintf(g_path_b, sizeof g_path_b, "/proc/%d/mem", (int)getpid());
    snprintf(g_path_c, sizeof g_path_c, "%s/roots", dir);
    int fd = open(g_path_a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert(fd >= 0 && write(fd, "nobody's", 8) == 8);
    close(fd);
    cr_assert_eq(chown(g_path_a, 65534, 65534), 0);
    fd = open(g_path_c, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert(fd >= 0);
    close(fd);
    /* Controls: the test itself (root with capabilities) opens both. */
    char mine[64];
    cr_assert(proc_status_field(getpid(), "CapEff", mine, sizeof mine));
    cr_assert_str_neq(mine, "0000000000000000", "control: the test process has no CapEff");
    fd = open(g_path_a, O_RDWR | O_CLOEXEC);
    cr_assert(fd >= 0, "control: root with capabilities cannot open %s: %s", g_path_a,
              strerror(errno));
    close(fd);
    fd = open(g_path_b, O_RDWR | O_CLOEXEC);
    cr_assert(fd >= 0, "control: root with capabilities cannot open %s: %s", g_path_b,
              strerror(errno));
    close(fd);

    prepare_trace(false, false, NULL, NULL);
    cr_assert(!g_sb.switch_user);
    new_pairs();
    pid_t pid = spawn(body_root_opens);
    struct open_report r;
    read_exact(&r, sizeof r);
    proc_assert_status(pid, "Uid", "0 0 0 0");
    proc_assert_status(pid, "Seccomp", "2");
    static const char *const keys[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
    char caps[5][64];
    for (size_t i = 0; i < 5; i++)
        cr_assert(proc_status_field(pid, keys[i], caps[i], sizeof caps[i]));
    close(g_client[0]);
    g_client[0] = -1;
    assert_exit0(wait_child(pid));
    unlink(g_path_a);
    unlink(g_path_c);
    rmdir(dir);
    for (size_t i = 0; i < 5; i++)
        cr_expect_str_eq(caps[i], "0000000000000000", "root worker %s: %s, want 0", keys[i],
                         caps[i]);

    /* uid 0 without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: other owners' modes hold. */
    cr_expect_eq(r.res[0], -EACCES,
                 "OPENAT O_RDONLY of a 0600 file of uid 65534: %d (%s), read \"%s\"", r.res[0],
                 strerror(-r.res[0]), r.text[0]);
    cr_expect_eq(r.res[1], -EACCES, "OPENAT O_RDWR of a 0600 file of uid 65534: %d (%s)",
                 r.res[1], strerror(-r.res[1]));
    /* Without CAP_SYS_PTRACE the supervisor's memory is out of reach. */
    cr_expect(r.res[2] == -EACCES || r.res[2] == -EPERM,
              "OPENAT O_RDWR of /proc/<supervisor>/mem: %d (%s), want -EACCES/-EPERM",
              r.res[2], strerror(-r.res[2]));
    cr_expect(r.res[3] == -EACCES || r.res[3] == -EPERM,
              "OPENAT O_RDONLY of /proc/<supervisor>/mem: %d (%s), want -EACCES/-EPERM",
              r.res[3], strerror(-r.res[3]));
    /* What stays true (policy/README.md, Limits): uid 0 still passes the owner
     * check on a root-owned file, so --worker-user remains the recommendation. */
    cr_expect(r.res[4] >= 0,
              "OPENAT of a root-owned 0600 file: %d (%s); the README says a "
              "capability-less root worker still opens it",
              r.res[4], strerror(-r.res[4]));
}

/* ---- --openat-root: chroot, and the ring allows OPENAT2 but not OPENAT -------- */

/* A 0755 root with etc/passwd ("inside passwd") and inside.txt ("inside!"); the real
 * /etc/passwd and /etc/group exist outside, /etc/group has no copy inside. */
static void make_root(char *dir)
{
    cr_assert(mkdtemp(dir) != NULL);
    cr_assert_eq(chmod(dir, 0755), 0);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/etc", dir);
    cr_assert_eq(mkdir(p, 0755), 0);
    static const struct {
        const char *name, *text;
    } files[] = {{"etc/passwd", "inside passwd"}, {"inside.txt", "inside!"}};
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i].name);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        cr_assert(fd >= 0, "%s: %s", p, strerror(errno));
        cr_assert_eq(write(fd, files[i].text, strlen(files[i].text)),
                     (ssize_t)strlen(files[i].text));
        close(fd);
    }
    cr_assert_eq(access("/etc/passwd", R_OK), 0, "no real /etc/passwd to escape to");
    cr_assert_eq(access("/etc/group", R_OK), 0, "no real /etc/group to escape to");
}

static void remove_root(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/etc/passwd", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/inside.txt", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/created", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/etc", dir);
    rmdir(p);
    rmdir(dir);
}

/* The first bytes of the real file, as a worker would read them. */
static void real_head(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0);
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
}

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

/* What a compromised worker under --openat-root tries. */
static void body_root_escapes(void)
{
    static struct open_report r;
    int root = IOD_WORKER_ROOT_FD;
    r.res[0] = open_and_read(raw_openat(AT_FDCWD, "/etc/passwd", O_RDONLY), r.text[0], 64);
    r.res[1] = open_and_read(raw_openat(root, "inside.txt", O_RDONLY), r.text[0], 64);
    r.res[2] = open_and_read(raw_openat2(root, "../../../../etc/passwd", O_RDONLY, 0),
                             r.text[1], 64);
    r.res[3] = open_and_read(raw_openat2(root, "../../../../etc/group", O_RDONLY, 0),
                             r.text[2], 64);
    r.res[4] = open_and_read(raw_openat2(AT_FDCWD, "/etc/group", O_RDONLY, 0), r.text[2], 64);
    r.res[5] = open_and_read(raw_openat2(AT_FDCWD, "/proc/self/root/etc/group", O_RDONLY, 0),
                             r.text[2], 64);
    /* Controls: an honest request, and one that creates (always io-wq). */
    r.res[6] = open_and_read(raw_openat2(root, "inside.txt", O_RDONLY, BENEATH), r.text[3], 64);
    r.res[7] = raw_openat2(root, "created", O_WRONLY | O_CREAT | O_EXCL, BENEATH);
    if (r.res[7] >= 0)
        (void)close(r.res[7]);
    report_and_wait(&r, sizeof r);
}

static void link_target(pid_t pid, const char *what, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    ssize_t n = readlink(path, out, cap - 1);
    out[n < 0 ? 0 : n] = '\0';
}

static void expect_chrooted_escapes(const struct open_report *r)
{
    /* Plain OPENAT is not in the ring any more: the kernel refuses the opcode. */
    cr_expect_eq(r->res[0], -EACCES, "OPENAT(AT_FDCWD, /etc/passwd): %d (%s)", r->res[0],
                 strerror(-r->res[0]));
    cr_expect_eq(r->res[1], -EACCES, "OPENAT(6, inside.txt): %d (%s)", r->res[1],
                 strerror(-r->res[1]));
    /* OPENAT2 without RESOLVE_*: ".." stops at the chroot, so "/etc/passwd" is the
     * copy inside the root, and a file with no copy inside does not exist. */
    cr_expect(r->res[2] >= 0 && strcmp(r->text[1], "inside passwd") == 0,
              "OPENAT2(6, ../../../../etc/passwd, no resolve flags): %d, read \"%s\", want "
              "the copy inside the root",
              r->res[2], r->text[1]);
    cr_expect_eq(r->res[3], -ENOENT, "OPENAT2(6, ../../../../etc/group): %d (%s) \"%s\"",
                 r->res[3], strerror(-r->res[3]), r->text[2]);
    cr_expect_eq(r->res[4], -ENOENT, "OPENAT2(AT_FDCWD, /etc/group): %d (%s)", r->res[4],
                 strerror(-r->res[4]));
    cr_expect_eq(r->res[5], -ENOENT, "OPENAT2(AT_FDCWD, /proc/self/root/etc/group): %d (%s)",
                 r->res[5], strerror(-r->res[5]));
    cr_expect(r->res[6] >= 0 && strcmp(r->text[3], "inside!") == 0,
              "control: OPENAT2(6, inside.txt, BENEATH): %d, read \"%s\"", r->res[6],
              r->text[3]);
    cr_expect(r->res[7] >= 0, "control: OPENAT2(6, created, O_CREAT, BENEATH): %d (%s)",
              r->res[7], strerror(-r->res[7]));
}

Test(sandbox, openat_root_chroots_and_allows_only_openat2, .timeout = 20)
{
    cr_assert_eq(geteuid(), 0, "this test runs as root (a root daemon chroots its workers)");
    char dir[] = "/tmp/iouringd-chroot-XXXXXX";
    make_root(dir);
    prepare_trace(false, false, NULL, dir);
    cr_assert(policy_allows_op(IORING_OP_OPENAT2) && !policy_allows_op(IORING_OP_OPENAT),
              "ring policy under --openat-root");
    new_pairs();
    pid_t pid = spawn(body_root_escapes);
    struct open_report r;
    read_exact(&r, sizeof r);
    char root[PATH_MAX], cwd[PATH_MAX], fd6[PATH_MAX], capeff[64], capbnd[64];
    link_target(pid, "root", root, sizeof root);
    link_target(pid, "cwd", cwd, sizeof cwd);
    fd_target(pid, IOD_WORKER_ROOT_FD, fd6, sizeof fd6);
    cr_assert(proc_status_field(pid, "CapEff", capeff, sizeof capeff));
    cr_assert(proc_status_field(pid, "CapBnd", capbnd, sizeof capbnd));
    close(g_client[0]);
    g_client[0] = -1;
    int st = wait_child(pid);
    char created[PATH_MAX];
    snprintf(created, sizeof created, "%s/created", dir);
    bool made = access(created, F_OK) == 0;
    remove_root(dir);
    assert_exit0(st);
    cr_expect_str_eq(root, dir, "/proc/<worker>/root is %s, want %s", root, dir);
    cr_expect_str_eq(cwd, dir, "/proc/<worker>/cwd is %s, want %s", cwd, dir);
    cr_expect_str_eq(fd6, dir, "fd 6 is %s, want %s", fd6, dir);
    /* Chrooted first, then every capability dropped (CAP_SYS_CHROOT too). */
    cr_expect_str_eq(capeff, "0000000000000000");
    cr_expect_str_eq(capbnd, "0000000000000000");
    expect_chrooted_escapes(&r);
    cr_expect(made, "O_CREAT inside the root created nothing");
}

Test(sandbox, openat_root_chroots_before_the_worker_user, .timeout = 20)
{
    cr_assert_eq(geteuid(), 0, "this test runs as root");
    char dir[] = "/tmp/iouringd-chroot-XXXXXX";
    make_root(dir);
    cr_assert_eq(chmod(dir, 0777), 0); /* nobody creates "created" */
    prepare_trace(false, false, "nobody", dir);
    new_pairs();
    pid_t pid = spawn(body_root_escapes);
    struct open_report r;
    read_exact(&r, sizeof r);
    char root[PATH_MAX], uid[64], want[64];
    link_target(pid, "root", root, sizeof root);
    cr_assert(proc_status_field(pid, "Uid", uid, sizeof uid));
    close(g_client[0]);
    g_client[0] = -1;
    int st = wait_child(pid);
    remove_root(dir);
    assert_exit0(st);
    snprintf(want, sizeof want, "%u %u %u %u", g_sb.uid, g_sb.uid, g_sb.uid, g_sb.uid);
    cr_expect_str_eq(uid, want);
    cr_expect_str_eq(root, dir, "/proc/<worker>/root is %s, want %s", root, dir);
    expect_chrooted_escapes(&r);
}

/* Without --openat-root: OPENAT works, OPENAT2 is refused, no chroot. */
static void body_no_root(void)
{
    static struct open_report r;
    r.res[0] = open_and_read(raw_openat(AT_FDCWD, "/etc/passwd", O_RDONLY), r.text[0], 64);
    r.res[1] = open_and_read(raw_openat2(AT_FDCWD, "/etc/passwd", O_RDONLY, 0), r.text[1], 64);
    r.res[2] = open_and_read(raw_openat2(AT_FDCWD, "/etc/passwd", O_RDONLY, BENEATH),
                             r.text[1], 64);
    report_and_wait(&r, sizeof r);
}

Test(sandbox, without_openat_root_openat2_is_refused, .timeout = 20)
{
    prepare_trace(false, false, NULL, NULL);
    cr_assert(policy_allows_op(IORING_OP_OPENAT) && !policy_allows_op(IORING_OP_OPENAT2));
    char head[64];
    real_head("/etc/passwd", head, sizeof head);
    new_pairs();
    pid_t pid = spawn(body_no_root);
    struct open_report r;
    read_exact(&r, sizeof r);
    char root[PATH_MAX];
    link_target(pid, "root", root, sizeof root);
    close(g_client[0]);
    g_client[0] = -1;
    assert_exit0(wait_child(pid));
    cr_expect_str_eq(root, "/", "/proc/<worker>/root is %s without --openat-root", root);
    cr_expect(r.res[0] >= 0 && strcmp(r.text[0], head) == 0,
              "OPENAT(AT_FDCWD, /etc/passwd): %d, read \"%s\"", r.res[0], r.text[0]);
    cr_expect_eq(r.res[1], -EACCES, "OPENAT2 without --openat-root: %d (%s)", r.res[1],
                 strerror(-r.res[1]));
    cr_expect_eq(r.res[2], -EACCES, "OPENAT2 (BENEATH) without --openat-root: %d (%s)",
                 r.res[2], strerror(-r.res[2]));
}

/* An unprivileged daemon with --openat-root: the worker cannot chroot, so only
 * RESOLVE_BENEATH, which the worker itself sets, bounds the path. This pins the
 * limit policy/README.md states; it is not a guarantee. */
static void body_unprivileged_root(void)
{
    static struct open_report r;
    int root = IOD_WORKER_ROOT_FD;
    r.res[0] = open_and_read(raw_openat(AT_FDCWD, "/etc/passwd", O_RDONLY), r.text[0], 64);
    r.res[1] = open_and_read(raw_openat2(root, "../../../../etc/passwd", O_RDONLY, 0),
                             r.text[1], 64);
    r.res[2] = open_and_read(raw_openat2(root, "inside.txt", O_RDONLY, BENEATH), r.text[2], 64);
    report_and_wait(&r, sizeof r);
}

/* Ops io_uring runs in an io-wq thread (O_CREAT, a ".." walk). */
static void body_unprivileged_io_wq(void)
{
    static struct open_report r;
    int root = IOD_WORKER_ROOT_FD;
    r.res[0] = raw_openat2(root, "created", O_WRONLY | O_CREAT | O_EXCL, BENEATH);
    if (r.res[0] >= 0)
        (void)close(r.res[0]);
    r.res[1] = raw_openat2(root, "../../../../etc/passwd", O_RDONLY, BENEATH);
    if (r.res[1] >= 0)
        (void)close(r.res[1]);
    r.res[2] = open_and_read(raw_openat2(root, "etc/../inside.txt", O_RDONLY, BENEATH),
                             r.text[2], 64);
    report_and_wait(&r, sizeof r);
}

static pid_t spawn_unprivileged(body_fn body)
{
    g_parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        /* What an unprivileged daemon is: no root, no capabilities. */
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0)
            _exit(EXIT_SETUP_BASE + 1);
        int ret = bring_up(g_parent);
        if (ret < 0)
            setup_failed(ret);
        body();
        _exit(0);
    }
    close(g_client[1]);
    close(g_chan[1]);
    g_client[1] = g_chan[1] = -1;
    return pid;
}

Test(sandbox, unprivileged_openat_root_is_not_a_chroot, .timeout = 20)
{
    cr_assert_eq(geteuid(), 0, "this test runs as root and drops to 65534 in the child");
    char dir[] = "/tmp/iouringd-nochroot-XXXXXX";
    make_root(dir);
    prepare_trace(false, false, NULL, dir);
    char head[64];
    real_head("/etc/passwd", head, sizeof head);
    new_pairs();
    pid_t pid = spawn_unprivileged(body_unprivileged_root);
    struct open_report r;
    read_exact(&r, sizeof r);
    char root[PATH_MAX];
    link_target(pid, "root", root, sizeof root);
    close(g_client[0]);
    g_client[0] = -1;
    int st = wait_child(pid);
    remove_root(dir);
    assert_exit0(st);
    cr_expect_str_eq(root, "/", "an unprivileged worker has root %s", root);
    cr_expect_eq(r.res[0], -EACCES, "OPENAT is still refused: %d (%s)", r.res[0],
                 strerror(-r.res[0]));
    /* The limit: a compromised worker drops the resolve flags, and ".." leaves. */
    cr_expect(r.res[1] >= 0 && strcmp(r.text[1], head) == 0,
              "OPENAT2(6, ../../../../etc/passwd, no resolve flags): %d, read \"%s\"", r.res[1],
              r.text[1]);
    cr_expect(r.res[2] >= 0 && strcmp(r.text[2], "inside!") == 0,
              "OPENAT2(6, inside.txt, BENEATH): %d, read \"%s\"", r.res[2], r.text[2]);
}

/* policy/README.md: "NPROC 0, root workers only", because io-wq threads count
 * against RLIMIT_NPROC for a non-root uid. A daemon started unprivileged has no
 * --worker-user, and its workers must keep NPROC too, or every op io_uring runs in
 * an io-wq thread completes -ECANCELED. */
Test(sandbox, unprivileged_worker_keeps_nproc_for_io_wq, .timeout = 20)
{
    cr_assert_eq(geteuid(), 0, "this test runs as root and drops to 65534 in the child");
    char dir[] = "/tmp/iouringd-nochroot-XXXXXX";
    make_root(dir);
    cr_assert_eq(chmod(dir, 0777), 0);
    prepare_trace(false, false, NULL, dir);
    new_pairs();
    pid_t pid = spawn_unprivileged(body_unprivileged_io_wq);
    struct open_report r;
    read_exact(&r, sizeof r);
    long long soft, hard;
    proc_limit(pid, "Max processes", &soft, &hard);
    close(g_client[0]);
    g_client[0] = -1;
    int st = wait_child(pid);
    char created[PATH_MAX];
    snprintf(created, sizeof created, "%s/created", dir);
    bool made = access(created, F_OK) == 0;
    remove_root(dir);
    assert_exit0(st);
    cr_expect(r.res[0] >= 0 && made, "OPENAT2(6, created, O_CREAT, BENEATH): %d (%s)", r.res[0],
              strerror(-r.res[0]));
    cr_expect_eq(r.res[1], -EXDEV, "OPENAT2(6, ../../../../etc/passwd, BENEATH): %d (%s)",
                 r.res[1], strerror(-r.res[1]));
    cr_expect(r.res[2] >= 0 && strcmp(r.text[2], "inside!") == 0,
              "OPENAT2(6, etc/../inside.txt, BENEATH): %d (%s), read \"%s\"", r.res[2],
              strerror(-r.res[2]), r.text[2]);
    cr_expect(soft != 0 && hard != 0, "unprivileged worker RLIMIT_NPROC %lld/%lld", soft, hard);
}
