/* Worker confinement steps, in the order of DESIGN.md §1: exact fd set,
 * rlimits, worker user, process attributes, a restricted ring, then
 * no_new_privs and seccomp. Each step is a function so worker.c shows the
 * order and tests can run the real bring-up. */
#ifndef IOD_SANDBOX_H
#define IOD_SANDBOX_H

#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "options.h"
#include "policy.h"
#include "ring.h"

/* What the supervisor prepares once, before any worker exists. */
struct iod_sandbox {
    struct iod_policy policy; /* the lines that apply with these options */
    scmp_filter_ctx filter;
    bool seccomp_log;
    bool switch_user;
    uid_t uid;
    gid_t gid;
    int root_fd; /* --openat-root directory, -1 if none */
};

/* Builds the filter and resolves the worker user / openat root. 0, or -errno
 * with `what` naming the failed step for the startup message. */
int iod_sandbox_prepare(struct iod_sandbox *sb, bool seccomp_log, bool trace_stderr,
                        const char *worker_user, const char *openat_root, const char **what);

/* Moves the client socket to 3, the channel to 4 and the openat root (if
 * any) to 6, and closes every other descriptor above 2. 0 or -errno. */
int iod_sandbox_fds(int client_fd, int chan_fd, int root_fd);
/* RLIMIT_CORE 0, RLIMIT_NPROC 0 (workers that stay root only, see
 * sandbox.c), RLIMIT_NOFILE for the fixed table and RLIMIT_MEMLOCK from
 * iod_sandbox_memlock_limit (unlimited for a --worker-user worker, see
 * sandbox.c). Runs before the user switch, while hard limits can still be
 * set; raises none except that one. */
int iod_sandbox_rlimits(const struct iod_sandbox *sb, const struct iod_options *o);
/* Bytes of locked memory all workers of one uid need together: max_clients
 * times one worker's ring and registered buffers, plus 1 MiB. */
uint64_t iod_sandbox_memlock_limit(const struct iod_options *o);
/* With --openat-root and started as root: chroot into the root, so that
 * even a compromised worker cannot name a path outside it. */
int iod_sandbox_root(const struct iod_sandbox *sb);
/* setgroups/setgid/setuid to the worker user, if one is configured. */
int iod_sandbox_user(const struct iod_sandbox *sb);
/* A worker that stays uid 0 drops every capability (bounding, ambient,
 * inheritable, permitted, effective), so it can neither override file
 * permissions nor ptrace the supervisor or another worker. Runs after the
 * ring and its buffers exist: created with CAP_IPC_LOCK they are not charged
 * to root's shared locked memory, which would otherwise cap the number of
 * workers. */
int iod_sandbox_drop_capabilities(void);
/* Dies with the supervisor, not dumpable, ignores the signals that belong to
 * the supervisor's process group, and has an empty signal mask. After the
 * user switch, which would clear PDEATHSIG and dumpability. */
int iod_sandbox_process(pid_t supervisor);
/* Registers the restrictions of policy/worker.uring on a ring created with
 * IORING_SETUP_R_DISABLED, then enables it. */
int iod_sandbox_restrict_ring(struct iod_ring *r, const struct iod_policy *p);
/* PR_SET_NO_NEW_PRIVS, then the seccomp filter. Last step. */
int iod_sandbox_seccomp(const struct iod_sandbox *sb);

#endif
