/* A worker serves exactly one client. Bring-up order is fixed (DESIGN.md §1):
 * exact fd set and process attributes, rlimits, a disabled ring sized from the
 * client's credits with its tables, enable, then serve. It never returns. */
#include "worker.h"
#include "log.h"
#include "sandbox.h"
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DRAIN_BOUND_MS 1000

__attribute__((noreturn)) static void setup_failed(void)
{
    /* Closing the client without a reply is the contract's worker_setup. */
    _exit(IOD_WORKER_EXIT_SETUP);
}

int iod_worker_bring_up(const struct iod_worker_args *a, struct iod_ring *ring)
{
    const struct iod_options *o = a->opt;
    const struct iod_sandbox *sb = a->sandbox;
    int ret;

    /* Step 1: exact fd set, rlimits (while we may still set them), chroot
     * into an openat root, the worker user, then the attributes a credential
     * change would reset. */
    if ((ret = iod_sandbox_fds(a->client_fd, a->chan_fd, sb->root_fd)) < 0 ||
        (ret = iod_sandbox_rlimits(sb, o)) < 0 ||
        (ret = iod_sandbox_root(sb)) < 0 || (ret = iod_sandbox_user(sb)) < 0 ||
        (ret = iod_sandbox_process(a->supervisor_pid)) < 0)
        return ret;

    /* Step 2: the private ring, disabled until its tables and restrictions
     * are in place (the seccomp policy names its descriptor number); then a
     * worker that is still root gives up every capability. */
    ret = iod_ring_create(ring, iod_options_sq_entries(o), IORING_SETUP_R_DISABLED);
    if (ret < 0)
        return ret;
    if (ring->ring.ring_fd != IOD_WORKER_RING_FD)
        return -EBADF;
    enum iod_ring_step step;
    ret = iod_ring_register_tables(ring, o->registered_fds, o->registered_buffers,
                                   o->io_bytes_max, &step);
    if (ret < 0)
        return ret;
    if ((ret = iod_sandbox_restrict_ring(ring, &sb->policy)) < 0)
        return ret;
    if ((ret = iod_sandbox_drop_capabilities()) < 0)
        return ret;

    /* Step 3: no new privileges, then seccomp, last. */
    return iod_sandbox_seccomp(sb);
}

static void serve(struct iod_session *s)
{
    while (s->connected) {
        struct pollfd p[3] = {
            {.fd = s->client_fd,
             .events = (short)((iod_session_wants_read(s) ? POLLIN : 0) |
                               (iod_session_wants_write(s) ? POLLOUT : 0))},
            {.fd = s->chan_fd, .events = POLLIN},
            {.fd = s->ring->ring.ring_fd, .events = POLLIN},
        };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            iod_session_fail(s);
            break;
        }
        if (p[2].revents)
            iod_session_reap(s, true);
        if (p[1].revents && iod_session_on_channel(s) < 0) {
            iod_session_end(s, IOD_END_INTERNAL);
            break;
        }
        if (!s->connected)
            break;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (iod_session_wants_read(s))
                iod_session_on_readable(s); /* a read reports EOF or the error */
            else if (p[0].revents & (POLLHUP | POLLERR))
                /* Gone while we were not reading (backpressure, stats wait). */
                iod_session_end(s, IOD_END_CLEAN);
        }
        /* Completions of what was just submitted, then one flush for all. */
        iod_session_reap(s, false);
        iod_session_on_writable(s);
    }
}

void iod_worker_run(const struct iod_worker_args *a)
{
    const struct iod_options *o = a->opt;
    static struct iod_ring ring;
    if (iod_worker_bring_up(a, &ring) < 0)
        setup_failed();

    struct iod_session_config cfg = {
        .credits = iod_options_credits(o),
        .sq_entries = ring.sq_entries,
        .cq_entries = ring.cq_entries,
        .io_bytes_max = o->io_bytes_max,
        .registered_fds = o->registered_fds,
        .registered_buffers = o->registered_buffers,
        .op_mask = a->probe->op_mask,
        .features = a->probe->features,
        .client_slot = a->client_slot,
        .conn = a->conn,
        .supervisor_pid = (long)a->supervisor_pid,
        .trace_stderr = o->trace_stderr,
        .openat_dirfd = a->sandbox->root_fd >= 0 ? IOD_WORKER_ROOT_FD : AT_FDCWD,
        .openat_beneath = a->sandbox->root_fd >= 0,
    };
    iod_job_field(cfg.job_field, sizeof cfg.job_field, o->has_job_id, o->job_id);

    static struct iod_session s;
    if (iod_session_init(&s, &cfg, IOD_WORKER_CLIENT_FD, IOD_WORKER_CHAN_FD, &ring) < 0)
        setup_failed();

    /* Step 4: serve until the client leaves, then cancel, drain, report. */
    serve(&s);
    iod_session_drain(&s, DRAIN_BOUND_MS);
    iod_session_send_final(&s);
    bool failed = s.failed;
    iod_session_destroy(&s);
    iod_ring_destroy(&ring);
    _exit(failed ? IOD_WORKER_EXIT_FAILURE : IOD_WORKER_EXIT_OK);
}
