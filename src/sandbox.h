/* Worker confinement steps, in the order of DESIGN.md §1: exact fd set,
 * process attributes, rlimits, ring restrictions, no_new_privs + seccomp. */
#ifndef IOD_SANDBOX_H
#define IOD_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#include "ring.h"

/* Fixed descriptor numbers inside a worker. */
#define IOD_WORKER_CLIENT_FD 3
#define IOD_WORKER_CHAN_FD 4

/* Moves the client socket and channel to fds 3 and 4 and closes everything
 * above them. 0 or -errno. */
int iod_sandbox_fds(int client_fd, int chan_fd);
/* Dies with the supervisor, not dumpable, ignores the signals that belong to
 * the supervisor's process group, and has an empty signal mask. */
int iod_sandbox_process(pid_t supervisor);
/* RLIMIT_CORE 0, RLIMIT_NPROC 0, RLIMIT_NOFILE and RLIMIT_MEMLOCK sized for
 * the ring's tables. */
int iod_sandbox_rlimits(uint32_t registered_fds, uint32_t registered_buffers,
                        uint32_t io_bytes_max);
/* Enables a ring created with IORING_SETUP_R_DISABLED. */
int iod_sandbox_enable_ring(struct iod_ring *r);

#endif
