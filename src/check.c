/* The posture report: can a worker be built and confined on this machine,
 * and if io_uring is blocked, by what. Each probe that confines a process
 * runs in a child, so the report itself stays unconfined. */
#include "check.h"
#include "policy.h"
#include "ring.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IOURINGD_VERSION
#define IOURINGD_VERSION "0.0.0"
#endif

static long read_long_file(const char *path)
{
    FILE *f = fopen(path, "re");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static long self_seccomp_mode(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Seccomp:", 8) == 0)
            v = strtol(line + 8, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* Runs fn in a child; returns its wait status. */
static int in_child(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(fn(arg));
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return st;
}

/* Exit 0 if a denied opcode completes -EACCES and an allowed one works. */
static int try_restrictions(void *arg)
{
    const struct iod_policy *p = arg;
    struct iod_ring r;
    if (iod_ring_create(&r, 4, IORING_SETUP_R_DISABLED) < 0)
        return 2;
    if (io_uring_register_restrictions(&r.ring, (struct io_uring_restriction *)p->res,
                                       (unsigned)p->nres) < 0 ||
        io_uring_enable_rings(&r.ring) < 0)
        return 3;
    /* One at a time: a refused SQE stops the rest of its submission. */
    int ok = 0;
    for (int i = 0; i < 2; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r.ring);
        if (i == 0)
            io_uring_prep_socket(sqe, AF_UNIX, SOCK_STREAM, 0, 0);
        else
            io_uring_prep_nop(sqe);
        struct io_uring_cqe *cqe;
        if (io_uring_submit_and_wait(&r.ring, 1) < 0 || io_uring_wait_cqe(&r.ring, &cqe) < 0)
            return 4;
        if ((i == 0 && cqe->res == -EACCES) || (i == 1 && cqe->res == 0))
            ok++;
        io_uring_cqe_seen(&r.ring, cqe);
    }
    return ok == 2 ? 0 : 6;
}

/* Killed by SIGSYS if the filter works: getpid is not on the allowlist. */
static int try_seccomp(void *arg)
{
    const struct iod_policy *p = arg;
    scmp_filter_ctx ctx;
    if (iod_policy_build_filter(p, SCMP_ACT_KILL_PROCESS, &ctx) < 0)
        return 2;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(ctx) < 0)
        return 3;
    (void)getpid();
    return 4;
}

int iod_check_run(FILE *out)
{
    int failures = 0;
    struct utsname u;
    fprintf(out, "iouringd %s posture check\n", IOURINGD_VERSION);
    if (uname(&u) == 0)
        fprintf(out, "kernel             %s %s %s\n", u.sysname, u.release, u.machine);

    long disabled = read_long_file("/proc/sys/kernel/io_uring_disabled");
    static const char *const dis_text[] = {"enabled for everyone",
                                           "only for io_uring_group members and root",
                                           "disabled for everyone"};
    if (disabled >= 0 && disabled <= 2)
        fprintf(out, "io_uring_disabled  %ld (%s)\n", disabled, dis_text[disabled]);
    else
        fprintf(out, "io_uring_disabled  absent (kernel without the sysctl)\n");

    long sc = self_seccomp_mode();
    fprintf(out, "caller seccomp     %ld (%s)\n", sc,
            sc == 0 ? "none" : sc == 1 ? "strict" : sc == 2 ? "filter" : "unknown");

    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
        if (rl.rlim_cur == RLIM_INFINITY)
            fprintf(out, "RLIMIT_MEMLOCK     unlimited\n");
        else
            fprintf(out, "RLIMIT_MEMLOCK     %llu bytes\n", (unsigned long long)rl.rlim_cur);
    }

    struct iod_ring r;
    int ret = iod_ring_create(&r, 4, 0);
    if (ret == 0) {
        fprintf(out, "io_uring           ok (features 0x%x)\n", r.features);
        iod_ring_destroy(&r);
    } else {
        failures++;
        int err = -ret;
        const char *cause = "unknown";
        if (err == EPERM && (disabled == 2 || disabled == 1))
            cause = "the kernel.io_uring_disabled sysctl";
        else if ((err == EPERM || err == EACCES || err == ENOSYS) && sc > 0)
            cause = "a seccomp filter of the calling environment (container runtime?)";
        else if (err == ENOSYS)
            cause = "a kernel built without io_uring";
        else if (err == ENOMEM)
            cause = "locked memory: RLIMIT_MEMLOCK too low";
        fprintf(out, "io_uring           blocked: %s; cause: %s\n", strerror(err), cause);
    }

    static struct iod_policy p;
    char err[128];
    if (iod_policy_load(&p, err, sizeof err) < 0) {
        failures++;
        fprintf(out, "policy             bad: %s\n", err);
    } else {
        fprintf(out, "policy             %zu seccomp rules, %zu ring restrictions\n", p.nrules,
                p.nres);
        int st = in_child(try_seccomp, &p);
        bool sc_ok = st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
        fprintf(out, "seccomp            %s\n",
                sc_ok ? "ok (a forbidden syscall kills with SIGSYS)" : "not working");
        failures += !sc_ok;
        if (ret == 0) {
            st = in_child(try_restrictions, &p);
            bool rr_ok = st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
            fprintf(out, "ring restrictions  %s\n",
                    rr_ok ? "ok (a denied opcode completes with -EACCES)" : "not working");
            failures += !rr_ok;
        } else {
            fprintf(out, "ring restrictions  untested (no io_uring)\n");
        }
    }
    fprintf(out, "result             %s\n", failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}

int iod_check_dump_policy(FILE *out)
{
    /* The widest filter: every line of policy/worker.seccomp, as a worker
     * started with --trace-stderr gets it. */
    static struct iod_policy all, p;
    char err[128];
    scmp_filter_ctx ctx;
    if (iod_policy_load(&all, err, sizeof err) < 0) {
        fprintf(stderr, "iouringd: policy: %s\n", err);
        return 1;
    }
    iod_policy_select(&all, IOD_POLICY_TRACE_STDERR, &p);
    if (iod_policy_build_filter(&p, SCMP_ACT_KILL_PROCESS, &ctx) < 0) {
        fprintf(stderr, "iouringd: building seccomp filter failed\n");
        return 1;
    }
    fflush(out);
    int ret = seccomp_export_pfc(ctx, fileno(out));
    seccomp_release(ctx);
    return ret < 0 ? 1 : 0;
}
