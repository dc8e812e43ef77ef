/* The supervisor: listen, accept, admission, fork, reap, stats, shutdown. */
#ifndef IOD_SUPERVISOR_H
#define IOD_SUPERVISOR_H

#include "options.h"
#include "probe.h"
#include "sandbox.h"

/* Runs the daemon after the probe succeeded: socket, bind, listen, loop.
 * Returns an exit status for startup failures; on SIGTERM/SIGINT it dies by
 * the signal. `sig_fd` is the signalfd set up by main. */
int iod_supervisor_run(const struct iod_options *o, const struct iod_probe_result *probe,
                       const struct iod_sandbox *sandbox, int sig_fd);

#endif
