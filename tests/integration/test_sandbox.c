/* sandbox_daemon: the worker sandbox seen on the real daemon (DESIGN.md §1,
 * policy/README.md). /proc shows each worker filtered, non-dumpable, with exactly its
 * descriptors and limits; --openat-root and --worker-user hold for real I/O; a worker
 * killed by SIGSYS is counted as a sandbox violation and disturbs no one; --check and
 * --dump-policy report the sandbox. A worker cannot be made to do a forbidden syscall
 * through the protocol (that is the point), so the violation test sends SIGSYS with
 * kill(); the real seccomp kill is proven by tests/unit/test_sandbox.c. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"
#include "../common/proc.h"

TestSuite(sandbox_daemon, .fini = h_cleanup, .timeout = 30);

#define K_OPENAT IOURINGD_TASK_OPENAT
#define K_FREAD IOURINGD_TASK_FILE_READ
#define K_FWRITE IOURINGD_TASK_FILE_WRITE
#define NOBODY 65534

/* ---- /proc ------------------------------------------------------------------ */

/* Defaults: 32 registered fds, one 4096-byte buffer. */
static void assert_default_limits(pid_t w, bool worker_user)
{
    unsigned long long page = (unsigned long long)sysconf(_SC_PAGESIZE);
    unsigned long long per_buf = (4096 + page - 1) / page * page;
    proc_assert_limit(w, "Max core file size", 0);
    proc_assert_limit(w, "Max open files", proc_expected_limit(RLIMIT_NOFILE, 32 + 64));
    /* Charged per uid across all workers: 64 workers' rings (S = 64: 4 KiB of
     * SQEs, the rest page-rounded) and buffers, plus 1 MiB (sandbox.c). */
    unsigned long long ring = 4096 + (64 * 4 + 2 * 64 * 16 + 8192 + page - 1) / page * page;
    if (!worker_user) /* a worker user's limit: see worker_user_nobody_... */
        proc_assert_limit(w, "Max locked memory",
                          proc_expected_limit(RLIMIT_MEMLOCK, 64 * (ring + per_buf) + 1024 * 1024));
}

static void fd_target(pid_t pid, int fd, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t n = readlink(path, out, cap - 1);
    out[n < 0 ? 0 : n] = '\0';
}

/* Open fds of pid as a bit set (any fd >= 63 sets bit 63). */
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

/* fds 0-5: stdio, client socket, channel, ring. */
static void assert_worker_fds(pid_t w, unsigned long long want)
{
    unsigned long long got = fd_set_of(w);
    cr_assert_eq(got, want, "worker %d fds 0x%llx, want 0x%llx", (int)w, got, want);
    char t[PATH_MAX];
    fd_target(w, 3, t, sizeof t);
    cr_assert(strncmp(t, "socket:[", 8) == 0, "fd 3 (client) is %s", t);
    fd_target(w, 4, t, sizeof t);
    cr_assert(strncmp(t, "socket:[", 8) == 0, "fd 4 (channel) is %s", t);
    fd_target(w, 5, t, sizeof t);
    cr_assert_str_eq(t, "anon_inode:[io_uring]", "fd 5 (ring) is %s", t);
}

/* Filter mode, one filter more than the test itself runs under (a CI container
 * may already filter us), no_new_privs. */
static void assert_filtered(pid_t w)
{
    char mine[32], want[32];
    cr_assert(proc_status_field(getpid(), "Seccomp_filters", mine, sizeof mine));
    snprintf(want, sizeof want, "%ld", strtol(mine, NULL, 10) + 1);
    proc_assert_status(w, "Seccomp", "2");
    proc_assert_status(w, "Seccomp_filters", want);
    proc_assert_status(w, "NoNewPrivs", "1");
}

static void nop_ok(struct h_conn *c, uint64_t id, uint32_t credits_after)
{
    io_expect_alive(c, id, credits_after);
}

/* OPENAT that must succeed; returns the new resource id. */
static uint32_t open_ok(struct h_conn *c, uint64_t task, uint32_t C, const char *path,
                        int flags, uint32_t mode)
{
    h_assert_submit(io_openat(c, 0, path, flags, mode), task, 0, C - 1);
    struct h_completion comp = h_next_completion(c);
    cr_assert(comp.c.task_id == task && comp.c.task_kind == K_OPENAT,
              "OPENAT %s: completion of task %llu kind %u", path,
              (unsigned long long)comp.c.task_id, comp.c.task_kind);
    int32_t res = comp.c.res;
    h_free_completion(&comp);
    cr_assert(res > 0, "OPENAT %s completed %d (%s), want an id", path, res, strerror(-res));
    return (uint32_t)res;
}

static void open_fails(struct h_conn *c, uint64_t task, uint32_t C, const char *path,
                       int flags, int32_t want)
{
    h_assert_submit(io_openat(c, 0, path, flags, 0600), task, 0, C - 1);
    struct h_completion comp = h_next_completion(c);
    cr_assert(comp.c.task_id == task && comp.c.task_kind == K_OPENAT);
    cr_assert_eq(comp.c.res, want, "OPENAT \"%s\" completed %d (%s), want %d (%s)", path,
                 comp.c.res, strerror(-comp.c.res), want, strerror(-want));
    h_free_completion(&comp);
}

/* ---- confinement as /proc shows it ------------------------------------------ */

Test(sandbox_daemon, worker_is_filtered_with_exact_fds_and_limits, .timeout = 30)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    pid_t w = io_worker_pid(d);
    assert_filtered(w);
    assert_worker_fds(w, 0x3fULL);
    assert_default_limits(w, false);
    proc_assert_limit(w, "Max processes", 0); /* a root worker: NPROC 0 */
    /* The supervisor adds no filter of its own: it forks the workers. */
    char mine[32];
    cr_assert(proc_status_field(getpid(), "Seccomp_filters", mine, sizeof mine));
    proc_assert_status(d->pid, "Seccomp_filters", mine);
    nop_ok(c, 1, caps.submit_credits - 1);
}

static int count_sockets(pid_t pid)
{
    char path[64], t[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert(d != NULL, "%s: %s", path, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        fd_target(pid, atoi(e->d_name), t, sizeof t);
        n += strncmp(t, "socket:[", 8) == 0;
    }
    closedir(d);
    return n;
}

Test(sandbox_daemon, supervisor_keeps_no_client_socket, .timeout = 30)
{
    /* Per client the supervisor holds its end of the channel and nothing else: it
     * never has the client's bytes in reach. */
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    nop_ok(a, 1, caps.submit_credits - 1);
    int one = count_sockets(d->pid);
    struct h_conn *b = h_client(d, NULL);
    nop_ok(b, 1, caps.submit_credits - 1);
    /* Its copy of the accepted socket is closed right after fork: poll, bounded. */
    long long deadline = h_now_ms() + H_TIMEOUT_MS;
    int two;
    while ((two = count_sockets(d->pid)) != one + 1 && h_now_ms() < deadline)
        h_sleep_ms(2);
    cr_assert_eq(two, one + 1, "supervisor sockets: %d with one client, %d with two", one,
                 two);
}

Test(sandbox_daemon, log_mode_workers_are_filtered_and_serve, .timeout = 30)
{
    struct h_daemon *d = h_start("--seccomp-mode", "log", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    pid_t w = io_worker_pid(d);
    assert_filtered(w);
    assert_worker_fds(w, 0x3fULL);
    nop_ok(c, 1, caps.submit_credits - 1);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing", h_tmpdir());
    open_fails(c, 2, caps.submit_credits, missing, O_RDONLY, -ENOENT);
}

/* ---- --openat-root ---------------------------------------------------------- */

static void make_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* A fresh temp dir, resolved (fd 6 and the kernel report resolved paths). */
static void real_tmpdir(char out[128])
{
    char *r = realpath(h_tmpdir(), NULL);
    cr_assert(r != NULL && strlen(r) < 128);
    snprintf(out, 128, "%s", r);
    free(r);
}

Test(sandbox_daemon, openat_root_confines_paths, .timeout = 30)
{
    char root[128], outside[128], p[512], q[512];
    real_tmpdir(root);
    real_tmpdir(outside);
    const char *out_base = strrchr(outside, '/') + 1;
    snprintf(p, sizeof p, "%s/inside.txt", root);
    make_file(p, "inside!", 0644);
    snprintf(p, sizeof p, "%s/sub", root);
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/sub/deep.txt", root);
    make_file(p, "deep", 0644);
    snprintf(p, sizeof p, "%s/outside.txt", outside);
    make_file(p, "outside", 0644);
    snprintf(q, sizeof q, "%s/abs-link", root);
    cr_assert_eq(symlink(p, q), 0);
    snprintf(p, sizeof p, "../%s/outside.txt", out_base);
    snprintf(q, sizeof q, "%s/rel-link", root);
    cr_assert_eq(symlink(p, q), 0);
    snprintf(q, sizeof q, "%s/proc-link", root);
    cr_assert_eq(symlink("/proc/self/root/etc/hostname", q), 0);

    struct h_daemon *d = h_start("--openat-root", root, NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    pid_t w = io_worker_pid(d);
    assert_filtered(w);
    assert_worker_fds(w, 0x7fULL); /* + fd 6, the root */
    char t[PATH_MAX];
    fd_target(w, 6, t, sizeof t);
    cr_assert_str_eq(t, root, "fd 6 is %s, want the openat root %s", t, root);

    uint64_t task = 1;
    /* Inside: relative paths, "..", that stays beneath, subdirectories. */
    uint32_t id = open_ok(c, task++, C, "inside.txt", O_RDONLY, 0);
    h_assert_submit(io_read(c, K_FREAD, 0, id, 64), task, 0, C - 1);
    struct h_completion comp = io_completion(c, task++, 7, K_FREAD, 7);
    cr_assert_arr_eq(comp.payload, "inside!", 7);
    h_free_completion(&comp);
    open_ok(c, task++, C, "sub/deep.txt", O_RDONLY, 0);
    open_ok(c, task++, C, "sub/../inside.txt", O_RDONLY, 0);
    uint32_t nid = open_ok(c, task++, C, "new.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
    h_assert_submit(io_write(c, K_FWRITE, 0, nid, "made", 4), task, 0, C - 1);
    io_expect_completion(c, task++, 4, K_FWRITE, 0);
    snprintf(p, sizeof p, "%s/new.txt", root);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "OPENAT O_CREAT did not create %s", p);
    cr_assert_eq(st.st_size, 4);

    /* Escapes: "..", absolute paths (even one that names a file inside), symlinks
     * out of the root and through /proc magic links. The kernel says -EXDEV. */
    snprintf(p, sizeof p, "../%s/outside.txt", out_base);
    open_fails(c, task++, C, p, O_RDONLY, -EXDEV);
    open_fails(c, task++, C, "..", O_RDONLY, -EXDEV);
    open_fails(c, task++, C, "sub/../../x", O_RDONLY, -EXDEV);
    snprintf(p, sizeof p, "%s/outside.txt", outside);
    open_fails(c, task++, C, p, O_RDONLY, -EXDEV);
    open_fails(c, task++, C, "/etc/hostname", O_RDONLY, -EXDEV);
    snprintf(p, sizeof p, "%s/inside.txt", root);
    open_fails(c, task++, C, p, O_RDONLY, -EXDEV);
    open_fails(c, task++, C, "abs-link", O_RDONLY, -EXDEV);
    open_fails(c, task++, C, "rel-link", O_RDONLY, -EXDEV);
    open_fails(c, task++, C, "proc-link", O_RDONLY, -EXDEV);
    /* Creating outside is refused before anything is created. */
    snprintf(p, sizeof p, "../%s/created-%d", out_base, (int)getpid());
    open_fails(c, task++, C, p, O_WRONLY | O_CREAT | O_EXCL, -EXDEV);
    snprintf(q, sizeof q, "%s/created-%d", outside, (int)getpid());
    cr_assert_eq(access(q, F_OK), -1, "%s was created outside the root", q);
    /* Still serving, nothing leaked into the worker's descriptor table. */
    assert_worker_fds(w, 0x7fULL);
    nop_ok(c, task, C - 1);
}

/* ---- --worker-user ---------------------------------------------------------- */

Test(sandbox_daemon, worker_user_nobody_drops_and_io_still_works, .timeout = 30)
{
    cr_assert_eq(geteuid(), 0, "tests run as root; the drop happens in the worker");
    /* The daemon's cwd is where relative OPENAT paths resolve: a directory nobody may
     * search, with one subdirectory nobody may write and one root-only file. */
    char base[128], old_cwd[PATH_MAX], p[512], bin[PATH_MAX];
    real_tmpdir(base);
    cr_assert_eq(chmod(base, 0755), 0);
    snprintf(p, sizeof p, "%s/pub", base);
    cr_assert_eq(mkdir(p, 0777), 0);
    cr_assert_eq(chmod(p, 0777), 0);
    snprintf(p, sizeof p, "%s/secret", base);
    make_file(p, "root only", 0600);
    cr_assert(realpath(h_daemon_bin(), bin) != NULL, "daemon binary %s", h_daemon_bin());
    cr_assert_eq(setenv("IOURINGD_BIN", bin, 1), 0);
    cr_assert(getcwd(old_cwd, sizeof old_cwd) != NULL);
    cr_assert_eq(chdir(base), 0);
    struct h_daemon *d = h_start("--worker-user", "nobody", NULL);
    cr_assert_eq(chdir(old_cwd), 0);

    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    pid_t w = io_worker_pid(d);

    char want[64];
    snprintf(want, sizeof want, "%d %d %d %d", NOBODY, NOBODY, NOBODY, NOBODY);
    proc_assert_status(w, "Uid", want);
    proc_assert_status(w, "Gid", want);
    proc_assert_status(w, "Groups", "");
    proc_assert_status(w, "CapEff", "0000000000000000");
    proc_assert_status(w, "CapPrm", "0000000000000000");
    proc_assert_status(d->pid, "Uid", "0 0 0 0"); /* the supervisor stays root */
    assert_filtered(w);
    assert_worker_fds(w, 0x3fULL);
    /* Not dumpable: /proc/<pid> of a non-dumpable process belongs to root, whatever
     * its uid (a dumpable uid-65534 process owns its own; sandbox/worker_user_drop_
     * and_not_dumpable in the unit suite shows that control). */
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/status", (int)w);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_uid, 0, "%s owned by %u: the worker is dumpable", path, st.st_uid);
    assert_default_limits(w, true);

    /* I/O works as nobody. A missing relative path is -ENOENT, not -ECANCELED. */
    uint64_t task = 1;
    open_fails(c, task++, C, "missing-file", O_RDONLY, -ENOENT);
    /* O_CREAT always runs in an io-wq thread: it is created, and owned by nobody. */
    uint32_t id = open_ok(c, task++, C, "pub/created", O_RDWR | O_CREAT | O_EXCL, 0644);
    h_assert_submit(io_write(c, K_FWRITE, 0, id, "by nobody", 9), task, 0, C - 1);
    io_expect_completion(c, task++, 9, K_FWRITE, 0);
    snprintf(p, sizeof p, "%s/pub/created", base);
    cr_assert_eq(stat(p, &st), 0, "%s not created", p);
    cr_assert_eq(st.st_uid, NOBODY, "%s owned by %u", p, st.st_uid);
    cr_assert_eq(st.st_size, 9);
    /* And the kernel checks nobody's permissions, not root's. */
    open_fails(c, task++, C, "secret", O_RDONLY, -EACCES);
    open_fails(c, task++, C, "new-in-base", O_WRONLY | O_CREAT, -EACCES);
    nop_ok(c, task, C - 1);

    /* RLIMIT_NPROC is left alone for a non-root worker (io-wq threads count
     * against it: with 0, every OPENAT above would complete -ECANCELED). */
    long long wsoft, whard, ssoft, shard;
    proc_limit(w, "Max processes", &wsoft, &whard);
    proc_limit(d->pid, "Max processes", &ssoft, &shard);
    cr_assert(wsoft == ssoft && whard == shard && wsoft != 0,
              "worker NPROC %lld/%lld, supervisor %lld/%lld", wsoft, whard, ssoft, shard);
    /* Locked memory is one counter for all of nobody's processes, other
     * daemons' workers included: no per-worker limit can be right for it, so
     * the worker gets all it may have (unlimited, or the inherited hard
     * limit where root lacks CAP_SYS_RESOURCE). */
    long long msoft, mhard;
    proc_limit(w, "Max locked memory", &msoft, &mhard);
    struct rlimit own;
    cr_assert_eq(getrlimit(RLIMIT_MEMLOCK, &own), 0);
    long long own_hard = own.rlim_max == RLIM_INFINITY ? -1 : (long long)own.rlim_max;
    cr_assert(msoft == mhard && (mhard == -1 || mhard == own_hard),
              "worker MEMLOCK %lld/%lld, want unlimited or the hard limit %lld", msoft, mhard,
              own_hard);
}

/* ---- a sandbox kill: accounting and isolation --------------------------------- */

static const char *const sandbox_keys[] = {"pid", "job_id", "conn", "client_slot",
                                           "worker_pid", "uid", "event", "signal",
                                           "violations_total"};
#define N_SANDBOX_KEYS (sizeof sandbox_keys / sizeof sandbox_keys[0])
static const char *const worker_keys[] = {"pid",        "job_id", "conn", "client_slot",
                                          "worker_pid", "end",    "code"};
#define N_WORKER_KEYS (sizeof worker_keys / sizeof worker_keys[0])

/* The nth "iouringd sandbox" line and the "iouringd worker" line of the same worker. */
static void expect_violation(struct h_daemon *d, int nth, pid_t worker, unsigned total)
{
    char *line = h_wait_stderr_line(d, "iouringd sandbox ", nth, H_TIMEOUT_MS);
    char v[N_SANDBOX_KEYS][128];
    h_expect_fields(line, "iouringd sandbox", sandbox_keys, N_SANDBOX_KEYS, v);
    char want[32];
    snprintf(want, sizeof want, "%d", (int)d->pid);
    cr_assert_str_eq(v[0], want, "pid= in: %s", line);
    cr_assert_str_eq(v[1], "-", "job_id= in: %s", line);
    snprintf(want, sizeof want, "%d", (int)worker);
    cr_assert_str_eq(v[4], want, "worker_pid= in: %s", line);
    snprintf(want, sizeof want, "%u", (unsigned)getuid());
    cr_assert_str_eq(v[5], want, "uid= in: %s", line);
    cr_assert_str_eq(v[6], "violation", "event= in: %s", line);
    cr_assert_str_eq(v[7], "31", "signal= in: %s", line);
    snprintf(want, sizeof want, "%u", total);
    cr_assert_str_eq(v[8], want, "violations_total= in: %s", line);

    /* Followed by the usual worker line for the same conn and slot. */
    char *wl = NULL;
    char wv[N_WORKER_KEYS][128];
    for (int n = 1; wl == NULL; n++) {
        char *cand = h_wait_stderr_line(d, "iouringd worker ", n, H_TIMEOUT_MS);
        cr_assert(cand != NULL, "no \"iouringd worker\" line for worker %d", (int)worker);
        h_expect_fields(cand, "iouringd worker", worker_keys, N_WORKER_KEYS, wv);
        if (strcmp(wv[4], v[4]) == 0)
            wl = cand;
        else
            free(cand);
    }
    cr_assert_str_eq(wv[2], v[2], "conn= differs: %s / %s", line, wl);
    cr_assert_str_eq(wv[3], v[3], "client_slot= differs: %s / %s", line, wl);
    cr_assert_str_eq(wv[5], "signal", "end= in: %s", wl);
    cr_assert_str_eq(wv[6], "31", "code= in: %s", wl);
    char *all = h_stderr(d);
    cr_assert(strstr(all, line) < strstr(all, wl), "worker line before the sandbox line:\n%s",
              all);
    free(all);
    free(line);
    free(wl);
}

Test(sandbox_daemon, sandbox_kill_is_counted_and_disturbs_no_one, .timeout = 30)
{
    struct h_daemon *d = h_start("--max-clients", "2", NULL);
    struct iouringd_capability_descriptor caps;
    uint32_t C;
    struct h_conn *a = h_client(d, &caps);
    C = caps.submit_credits;
    pid_t kids[4];
    cr_assert_eq(h_wait_children(d->pid, 1, kids, 4, H_TIMEOUT_MS), 1);
    pid_t wa = kids[0];
    unsigned long long wa_start = h_pid_starttime(wa);
    struct h_conn *b = h_client(d, NULL);
    cr_assert_eq(h_wait_children(d->pid, 2, kids, 4, H_TIMEOUT_MS), 2);
    cr_assert(kids[0] == wa || kids[1] == wa);
    pid_t wb = kids[0] == wa ? kids[1] : kids[0];
    nop_ok(b, 1, C - 1);

    /* What the seccomp filter does to a worker that makes a forbidden syscall. */
    cr_assert_eq(kill(wa, SIGSYS), 0);
    cr_assert_eq(h_expect_eof(a->fd, H_TIMEOUT_MS), 0, "A: want EOF after its worker died");
    expect_violation(d, 1, wa, 1);
    io_expect_worker_gone(wa, wa_start, H_TIMEOUT_MS);

    /* B is untouched and still served. */
    nop_ok(b, 2, C - 1);
    cr_assert_eq(h_count_io_uring_fds(wb), 1);

    /* The freed slot admits a new client (max 2: B + C), confined like any other. */
    struct h_conn *c = h_client(d, NULL);
    nop_ok(c, 1, C - 1);
    cr_assert_eq(h_wait_children(d->pid, 2, kids, 4, H_TIMEOUT_MS), 2);
    pid_t wc = kids[0] == wb ? kids[1] : kids[0];
    assert_filtered(wc);

    /* The count accumulates. */
    cr_assert_eq(kill(wc, SIGSYS), 0);
    cr_assert_eq(h_expect_eof(c->fd, H_TIMEOUT_MS), 0);
    expect_violation(d, 2, wc, 2);
    nop_ok(b, 3, C - 1);
    /* A plain crash is not a sandbox violation. */
    cr_assert_eq(kill(wb, SIGSEGV), 0);
    cr_assert_eq(h_expect_eof(b->fd, H_TIMEOUT_MS), 0);
    cr_assert(h_wait_stderr_line(d, "iouringd worker ", 3, H_TIMEOUT_MS) != NULL);
    cr_assert(h_wait_stderr_line(d, "iouringd sandbox ", 3, H_QUIET_MS) == NULL,
              "SIGSEGV counted as a sandbox violation");
    (void)a;
}

/* ---- --check and --dump-policy ---------------------------------------------- */

Test(sandbox_daemon, check_reports_each_layer_ok, .timeout = 30)
{
    const char *argv[] = {h_daemon_bin(), "--check", NULL};
    struct h_run_result r;
    h_run(argv, 20000, &r);
    cr_assert(h_exited_with(&r, 0), "--check: status 0x%x\nstdout:\n%s\nstderr:\n%s",
              (unsigned)r.status, r.out, r.err);
    static const char *const lines[] = {
        "\nio_uring           ok",
        "\nseccomp            ok (a forbidden syscall kills with SIGSYS)\n",
        "\nring restrictions  ok (a denied opcode completes with -EACCES)\n",
        "\nresult             ok\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cr_assert(strstr(r.out, lines[i]) != NULL, "--check lacks \"%s\":\n%s", lines[i] + 1,
                  r.out);
    cr_assert(strstr(r.out, "\npolicy             ") != NULL, "%s", r.out);
    h_run_free(&r);
}

Test(sandbox_daemon, dump_policy_prints_pfc, .timeout = 30)
{
    const char *argv[] = {h_daemon_bin(), "--dump-policy", NULL};
    struct h_run_result r;
    h_run(argv, 20000, &r);
    cr_assert(h_exited_with(&r, 0), "--dump-policy: status 0x%x\nstderr:\n%s",
              (unsigned)r.status, r.err);
    cr_assert(strncmp(r.out, "#\n# pseudo filter code start\n", 29) == 0, "not PFC:\n%s",
              r.out);
    cr_assert(strstr(r.out, "# pseudo filter code end\n") != NULL, "%s", r.out);
    static const char *const present[] = {"io_uring_enter", "io_uring_register", "recvmsg",
                                          "sendto", "poll", "exit_group"};
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "# filter for syscall \"%s\"", present[i]);
        cr_assert(strstr(r.out, want) != NULL, "PFC lacks %s", want);
    }
    static const char *const absent[] = {"io_uring_setup", "execve", "socket", "openat",
                                         "clone", "kill", "ptrace"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        char bad[64];
        snprintf(bad, sizeof bad, "\"%s\"", absent[i]);
        cr_assert(strstr(r.out, bad) == NULL, "PFC allows %s", absent[i]);
    }
    cr_assert(strstr(r.out, "  # default action\n  action KILL_PROCESS;\n") != NULL, "%s",
              r.out);
    cr_assert(strstr(r.out, "# invalid architecture action\naction KILL_PROCESS;\n") != NULL,
              "%s", r.out);
    h_run_free(&r);
}

/* ---- a worker that stays root has no capabilities ------------------------------ */

static void assert_no_capabilities(pid_t w)
{
    static const char *const keys[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        proc_assert_status(w, keys[i], "0000000000000000");
}

/* OPENAT that must fail with one of two errnos. */
static void open_fails_either(struct h_conn *c, uint64_t task, uint32_t C, const char *path,
                              int flags, int32_t want1, int32_t want2)
{
    h_assert_submit(io_openat(c, 0, path, flags, 0600), task, 0, C - 1);
    struct h_completion comp = h_next_completion(c);
    cr_assert(comp.c.task_id == task && comp.c.task_kind == K_OPENAT);
    cr_assert(comp.c.res == want1 || comp.c.res == want2,
              "OPENAT \"%s\" completed %d (%s), want %d (%s) or %d (%s)", path, comp.c.res,
              comp.c.res > 0 ? "a new resource id" : strerror(-comp.c.res), want1,
              strerror(-want1), want2, strerror(-want2));
    h_free_completion(&comp);
}

Test(sandbox_daemon, root_worker_has_no_capabilities, .timeout = 30)
{
    cr_assert_eq(geteuid(), 0, "tests run as root; the daemon is root-started here");
    char base[128], theirs[256], mine[256], mem[64];
    real_tmpdir(base);
    cr_assert_eq(chmod(base, 0755), 0);
    snprintf(theirs, sizeof theirs, "%s/nobodys", base);
    make_file(theirs, "nobody's", 0600);
    cr_assert_eq(chown(theirs, NOBODY, NOBODY), 0);
    snprintf(mine, sizeof mine, "%s/roots", base);
    make_file(mine, "root's", 0600);

    struct h_daemon *d = h_start(NULL); /* no --worker-user */
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    pid_t w = io_worker_pid(d);
    proc_assert_status(w, "Uid", "0 0 0 0");
    assert_no_capabilities(w);
    assert_filtered(w);
    /* Control: the supervisor keeps its capabilities (it forks, switches users). */
    char sup[64];
    cr_assert(proc_status_field(d->pid, "CapEff", sup, sizeof sup));
    cr_assert_str_neq(sup, "0000000000000000", "supervisor CapEff %s", sup);

    uint64_t task = 1;
    /* No CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: another owner's 0600 is closed. */
    open_fails(c, task++, C, theirs, O_RDONLY, -EACCES);
    open_fails(c, task++, C, theirs, O_RDWR, -EACCES);
    /* No CAP_SYS_PTRACE: the supervisor's memory is not a resource id away. */
    snprintf(mem, sizeof mem, "/proc/%d/mem", (int)d->pid);
    open_fails_either(c, task++, C, mem, O_RDWR, -EACCES, -EPERM);
    open_fails_either(c, task++, C, mem, O_RDONLY, -EACCES, -EPERM);
    /* What stays true (policy/README.md, Limits): uid 0 passes the owner check of
     * a root-owned file without any capability. */
    uint32_t id = open_ok(c, task++, C, mine, O_RDONLY, 0);
    h_assert_submit(io_read(c, K_FREAD, 0, id, 64), task, 0, C - 1);
    struct h_completion comp = io_completion(c, task++, 6, K_FREAD, 6);
    cr_assert_arr_eq(comp.payload, "root's", 6);
    h_free_completion(&comp);
    nop_ok(c, task, C - 1);
}

/* ---- --openat-root on a root-started daemon: chroot ----------------------------- */

static void proc_link(pid_t pid, const char *what, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    ssize_t n = readlink(path, out, cap - 1);
    cr_assert(n >= 0, "%s: %s", path, strerror(errno));
    out[n] = '\0';
}

Test(sandbox_daemon, openat_root_worker_is_chrooted, .timeout = 30)
{
    cr_assert_eq(geteuid(), 0, "tests run as root; a root daemon chroots its workers");
    char root[128], p[512];
    real_tmpdir(root);
    cr_assert_eq(chmod(root, 0755), 0);
    snprintf(p, sizeof p, "%s/inside.txt", root);
    make_file(p, "inside!", 0644);

    struct h_daemon *d = h_start("--openat-root", root, NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    pid_t w = io_worker_pid(d);
    char t[PATH_MAX];
    proc_link(w, "root", t, sizeof t);
    cr_assert_str_eq(t, root, "/proc/<worker>/root is %s, want %s", t, root);
    proc_link(w, "cwd", t, sizeof t);
    cr_assert_str_eq(t, root, "/proc/<worker>/cwd is %s, want %s", t, root);
    proc_link(d->pid, "root", t, sizeof t);
    cr_assert_str_eq(t, "/", "the supervisor is chrooted too: %s", t);
    assert_no_capabilities(w); /* CAP_SYS_CHROOT included: no way back out */
    assert_worker_fds(w, 0x7fULL);

    /* Requests keep their RESOLVE_BENEATH semantics inside the chroot. */
    uint64_t task = 1;
    uint32_t id = open_ok(c, task++, C, "inside.txt", O_RDONLY, 0);
    h_assert_submit(io_read(c, K_FREAD, 0, id, 64), task, 0, C - 1);
    struct h_completion comp = io_completion(c, task++, 7, K_FREAD, 7);
    cr_assert_arr_eq(comp.payload, "inside!", 7);
    h_free_completion(&comp);
    open_fails(c, task++, C, "../../../../etc/passwd", O_RDONLY, -EXDEV);
    open_fails(c, task++, C, "/etc/passwd", O_RDONLY, -EXDEV);
    open_ok(c, task++, C, "made.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
    snprintf(p, sizeof p, "%s/made.txt", root);
    cr_assert_eq(access(p, F_OK), 0, "O_CREAT in the chroot did not create %s", p);
    nop_ok(c, task, C - 1);
}

Test(sandbox_daemon, openat_root_with_worker_user_chroots_then_drops, .timeout = 30)
{
    cr_assert_eq(geteuid(), 0, "tests run as root");
    char root[128], p[512];
    real_tmpdir(root);
    cr_assert_eq(chmod(root, 0777), 0);
    snprintf(p, sizeof p, "%s/inside.txt", root);
    make_file(p, "inside!", 0644);

    struct h_daemon *d = h_start("--worker-user", "nobody", "--openat-root", root, NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    pid_t w = io_worker_pid(d);
    char t[PATH_MAX], want[64];
    proc_link(w, "root", t, sizeof t);
    cr_assert_str_eq(t, root, "/proc/<worker>/root is %s, want %s", t, root);
    snprintf(want, sizeof want, "%d %d %d %d", NOBODY, NOBODY, NOBODY, NOBODY);
    proc_assert_status(w, "Uid", want);
    proc_assert_status(w, "CapEff", "0000000000000000");
    proc_assert_status(w, "CapPrm", "0000000000000000");

    uint64_t task = 1;
    open_ok(c, task++, C, "inside.txt", O_RDONLY, 0);
    open_ok(c, task++, C, "by-nobody", O_WRONLY | O_CREAT | O_EXCL, 0600);
    snprintf(p, sizeof p, "%s/by-nobody", root);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "%s not created", p);
    cr_assert_eq(st.st_uid, NOBODY, "%s owned by %u", p, st.st_uid);
    open_fails(c, task++, C, "../../../../etc/passwd", O_RDONLY, -EXDEV);
    nop_ok(c, task, C - 1);
}

/* ---- --dump-policy: the widest filter ------------------------------------------ */

Test(sandbox_daemon, dump_policy_includes_trace_stderr_write, .timeout = 30)
{
    const char *argv[] = {h_daemon_bin(), "--dump-policy", NULL};
    struct h_run_result r;
    h_run(argv, 20000, &r);
    cr_assert(h_exited_with(&r, 0), "--dump-policy: status 0x%x\nstderr:\n%s",
              (unsigned)r.status, r.err);
    /* write(2) exists only for --trace-stderr; the dump shows every line. */
    cr_assert(strstr(r.out, "# filter for syscall \"write\"") != NULL, "PFC lacks write:\n%s",
              r.out);
    h_run_free(&r);
}
