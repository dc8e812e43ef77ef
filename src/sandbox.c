/* Worker hardening. Each step is a function so the bring-up order is visible
 * in worker.c and testable on its own. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

int iod_sandbox_fds(int client_fd, int chan_fd)
{
    /* Park both above the targets first so neither dup2 clobbers the other. */
    int c = fcntl(client_fd, F_DUPFD, 16);
    int h = fcntl(chan_fd, F_DUPFD, 16);
    if (c < 0 || h < 0)
        return -errno;
    if (dup2(c, IOD_WORKER_CLIENT_FD) < 0 || dup2(h, IOD_WORKER_CHAN_FD) < 0)
        return -errno;
    if (close_range(IOD_WORKER_CHAN_FD + 1, ~0U, 0) < 0)
        return -errno;
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

int iod_sandbox_rlimits(uint32_t registered_fds, uint32_t registered_buffers,
                        uint32_t io_bytes_max)
{
    int ret;
    if ((ret = set_limit(RLIMIT_CORE, 0)) < 0)
        return ret;
    if ((ret = set_limit(RLIMIT_NPROC, 0)) < 0)
        return ret;
    /* The kernel refuses a fixed-file table larger than RLIMIT_NOFILE; the
     * rest covers fds 0-5 and descriptors in flight in one recvmsg. */
    if ((ret = set_limit(RLIMIT_NOFILE, (rlim_t)registered_fds + 64)) < 0)
        return ret;
    /* Registered buffers are pinned and charged to RLIMIT_MEMLOCK for
     * unprivileged users; the ring itself adds a few pages. */
    long page = sysconf(_SC_PAGESIZE);
    rlim_t per_buf = ((rlim_t)io_bytes_max + (rlim_t)page - 1) / (rlim_t)page * (rlim_t)page;
    rlim_t memlock = per_buf * registered_buffers + 1024 * 1024;
    if ((ret = set_limit(RLIMIT_MEMLOCK, memlock)) < 0)
        return ret;
    return 0;
}

int iod_sandbox_enable_ring(struct iod_ring *r)
{
    return io_uring_enable_rings(&r->ring);
}
