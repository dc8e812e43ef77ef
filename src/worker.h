/* One client's life in its own process: bring-up, event loop, tear-down. */
#ifndef IOD_WORKER_H
#define IOD_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include "options.h"
#include "probe.h"

/* Worker exit statuses: an interface with the supervisor (DESIGN.md §3.8). */
enum iod_worker_exit {
    IOD_WORKER_EXIT_OK = 0,      /* the connection ended; reason in the final record */
    IOD_WORKER_EXIT_FAILURE = 1, /* internal failure while serving */
    IOD_WORKER_EXIT_SETUP = 3,   /* could not set up sandbox, ring or tables */
};

struct iod_worker_args {
    const struct iod_options *opt;
    const struct iod_probe_result *probe;
    int client_fd;
    int chan_fd;
    uint16_t client_slot;
    uint64_t conn;
    pid_t supervisor_pid;
};

/* Never returns. */
__attribute__((noreturn)) void iod_worker_run(const struct iod_worker_args *a);

#endif
