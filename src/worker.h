/* One client's life in its own process: bring-up, event loop, tear-down. */
#ifndef IOD_WORKER_H
#define IOD_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include "options.h"
#include "probe.h"
#include "ring.h"
#include "sandbox.h"

/* Worker exit statuses: an interface with the supervisor (DESIGN.md §3.8). */
enum iod_worker_exit {
    IOD_WORKER_EXIT_OK = 0,      /* the connection ended; reason in the final record */
    IOD_WORKER_EXIT_FAILURE = 1, /* internal failure while serving */
    IOD_WORKER_EXIT_SETUP = 3,   /* could not set up sandbox, ring or tables */
};

struct iod_worker_args {
    const struct iod_options *opt;
    const struct iod_probe_result *probe;
    const struct iod_sandbox *sandbox;
    int client_fd;
    int chan_fd;
    uint16_t client_slot;
    uint64_t conn;
    pid_t supervisor_pid;
};

/* Bring-up steps 1-3 of DESIGN.md §1 (fds, rlimits, user, process
 * attributes, restricted ring, no_new_privs, seccomp). Afterwards the caller
 * is a confined worker with its ring in `ring`. 0 or -errno. */
int iod_worker_bring_up(const struct iod_worker_args *a, struct iod_ring *ring);

/* Never returns. */
__attribute__((noreturn)) void iod_worker_run(const struct iod_worker_args *a);

#endif
