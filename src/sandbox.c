/* Worker hardening. The supervisor prepares the policy once; each worker
 * applies it step by step right after fork. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int iod_sandbox_prepare(struct iod_sandbox *sb, bool seccomp_log, bool trace_stderr,
                        const char *worker_user, const char *openat_root, const char **what)
{
    memset(sb, 0, sizeof *sb);
    sb->root_fd = -1;
    sb->seccomp_log = seccomp_log;
    char err[128];
    *what = "preparing worker sandbox";
    static struct iod_policy all;
    if (iod_policy_load(&all, err, sizeof err) < 0)
        return -EINVAL;
    unsigned features = (trace_stderr ? IOD_POLICY_TRACE_STDERR : 0) |
                        (openat_root ? IOD_POLICY_OPENAT_ROOT : 0);
    iod_policy_select(&all, features, &sb->policy);
    int ret = iod_policy_build_filter(&sb->policy,
                                      seccomp_log ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS,
                                      &sb->filter);
    if (ret < 0)
        return ret;
    if (worker_user) {
        *what = "resolving worker user";
        errno = 0;
        struct passwd *pw = getpwnam(worker_user);
        if (pw == NULL)
            return errno ? -errno : -ENOENT;
        /* Only root can switch; anyone else asking for it is told so. */
        if (geteuid() != 0)
            return -EPERM;
        sb->switch_user = true;
        sb->uid = pw->pw_uid;
        sb->gid = pw->pw_gid;
    }
    if (openat_root) {
        *what = "opening openat root";
        sb->root_fd = open(openat_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (sb->root_fd < 0)
            return -errno;
    }
    return 0;
}

int iod_sandbox_fds(int client_fd, int chan_fd, int root_fd)
{
    /* Park everything above the targets first so no dup2 clobbers another. */
    int c = fcntl(client_fd, F_DUPFD, 16);
    int h = fcntl(chan_fd, F_DUPFD, 16);
    int r = root_fd >= 0 ? fcntl(root_fd, F_DUPFD, 16) : -1;
    if (c < 0 || h < 0 || (root_fd >= 0 && r < 0))
        return -errno;
    if (dup2(c, IOD_WORKER_CLIENT_FD) < 0 || dup2(h, IOD_WORKER_CHAN_FD) < 0)
        return -errno;
    if (r >= 0 && dup2(r, IOD_WORKER_ROOT_FD) < 0)
        return -errno;
    /* fd 5 stays free for the ring. */
    if (close_range(IOD_WORKER_RING_FD, IOD_WORKER_RING_FD, 0) < 0)
        return -errno;
    unsigned first = r >= 0 ? IOD_WORKER_ROOT_FD + 1 : IOD_WORKER_ROOT_FD;
    if (close_range(first, ~0U, 0) < 0)
        return -errno;
    return 0;
}

static int set_limit(int resource, rlim_t value)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) < 0)
        return -errno;
    /* Never raise: an unprivileged worker could not, and need not. */
    if (rl.rlim_max != RLIM_INFINITY && value > rl.rlim_max)
        value = rl.rlim_max;
    rl.rlim_cur = rl.rlim_max = value;
    return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

static uint64_t page_round(uint64_t n)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

uint64_t iod_sandbox_memlock_limit(const struct iod_options *o)
{
    /* The kernel charges a non-root user's rings and registered buffers to
     * that user's locked_vm, which is shared by every process of the uid but
     * checked against each process's own RLIMIT_MEMLOCK: so the limit must
     * cover all workers of one uid, not one. Ring: 64-byte SQEs, the SQ index
     * array and 2 S 16-byte CQEs, plus the ring headers. */
    uint64_t sq = iod_options_sq_entries(o);
    uint64_t ring = page_round(sq * 64) + page_round(sq * 4 + 2 * sq * 16 + 8192);
    uint64_t bufs = (uint64_t)o->registered_buffers * page_round(o->io_bytes_max);
    return (uint64_t)o->max_clients * (ring + bufs) + 1024 * 1024;
}

int iod_sandbox_rlimits(const struct iod_sandbox *sb, const struct iod_options *o)
{
    int ret;
    if ((ret = set_limit(RLIMIT_CORE, 0)) < 0)
        return ret;
    /* For a non-root uid the kernel also counts io-wq threads against
     * RLIMIT_NPROC, so 0 there would cancel every operation io_uring runs in
     * a worker thread (OPENAT, blocking reads). Only a worker that stays root
     * (exempt) gets 0; process creation is denied by seccomp either way. */
    if (!sb->switch_user && geteuid() == 0 && (ret = set_limit(RLIMIT_NPROC, 0)) < 0)
        return ret;
    /* The kernel refuses a fixed-file table larger than RLIMIT_NOFILE; the
     * rest covers fds 0-6 and descriptors in flight in one recvmsg. */
    if ((ret = set_limit(RLIMIT_NOFILE, (rlim_t)o->registered_fds + 64)) < 0)
        return ret;
    if (sb->switch_user) {
        /* The worker user's locked memory is one counter shared with every
         * other process of that uid, other daemons' workers included, so no
         * per-process figure can be right for it. Nothing here needs a
         * bound: after seccomp a worker can neither mlock nor register more
         * buffers, so all it ever locks is its own ring and tables. Root
         * (still root at this step) lifts the limit where it may (it needs
         * CAP_SYS_RESOURCE, which a container may withhold); otherwise the
         * whole inherited hard limit is used. */
        struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
        if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
            if (errno != EPERM || getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
                return -errno;
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
                return -errno;
        }
    } else if ((ret = set_limit(RLIMIT_MEMLOCK, (rlim_t)iod_sandbox_memlock_limit(o))) < 0) {
        return ret;
    }
    return 0;
}

int iod_sandbox_root(const struct iod_sandbox *sb)
{
    if (sb->root_fd < 0 || geteuid() != 0)
        return 0; /* unprivileged: openat2 RESOLVE_BENEATH is the boundary */
    /* iod_sandbox_fds has moved the root to its fixed number. */
    if (fchdir(IOD_WORKER_ROOT_FD) < 0 || chroot(".") < 0)
        return -errno;
    return 0;
}

int iod_sandbox_drop_capabilities(void)
{
    if (geteuid() != 0)
        return 0;
    for (int cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return -errno;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -errno;
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) < 0)
        return -errno;
    return 0;
}

int iod_sandbox_user(const struct iod_sandbox *sb)
{
    if (!sb->switch_user)
        return 0;
    if (setgroups(0, NULL) < 0 || setgid(sb->gid) < 0 || setuid(sb->uid) < 0)
        return -errno;
    /* Must not be able to regain root. */
    if (sb->uid != 0 && setuid(0) == 0)
        return -EPERM;
    return 0;
}

int iod_sandbox_process(pid_t supervisor)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return -errno;
    /* The supervisor may have died before PDEATHSIG was armed. */
    if (getppid() != supervisor)
        return -ESRCH;
    if (prctl(PR_SET_DUMPABLE, 0) < 0)
        return -errno;
    static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        if (sigaction(ignored[i], &sa, NULL) < 0)
            return -errno;
    sa.sa_handler = SIG_DFL;
    if (sigaction(SIGCHLD, &sa, NULL) < 0)
        return -errno;
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        return -errno;
    return 0;
}

int iod_sandbox_restrict_ring(struct iod_ring *r, const struct iod_policy *p)
{
    int ret = io_uring_register_restrictions(&r->ring, (struct io_uring_restriction *)p->res,
                                             (unsigned)p->nres);
    if (ret < 0)
        return ret;
    return io_uring_enable_rings(&r->ring);
}

int iod_sandbox_seccomp(const struct iod_sandbox *sb)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    return seccomp_load(sb->filter);
}
