/* Talking to the daemon through the client library: connect + handshake, then
 * the daemon-counters extension, falling back to GET_STATS on a second
 * connection when the daemon (v1-only, or older) disconnects on it. */
#include "clock.h"
#include "ctl.h"

#include <iouringd/client.h>

#include <errno.h>
#include <string.h>

static int failed(struct ctl_error *e, enum ctl_stage stage, int err)
{
    e->err = err;
    e->stage = stage;
    return -1;
}

int ctl_open(const char *socket, uint64_t *rtt_ns, struct ctl_error *e)
{
    int fd = iouringd_client_connect(socket);
    if (fd < 0)
        return failed(e, CTL_STAGE_CONNECT, errno);
    struct iouringd_handshake_result hs;
    uint64_t t0 = iod_now_ns();
    int r = iouringd_client_handshake_fd(fd, &hs);
    uint64_t t1 = iod_now_ns();
    if (r < 0) {
        int err = errno;
        iouringd_client_close(fd);
        return failed(e, CTL_STAGE_HANDSHAKE, err);
    }
    if (rtt_ns != NULL)
        *rtt_ns = t1 - t0;
    return fd;
}

/* The daemon closed the connection on us: EOF or a reset. */
static bool disconnected(int err)
{
    return err == EPIPE || err == ECONNRESET;
}

int ctl_collect(const char *socket, struct ctl_snapshot *s, int *warn_err, struct ctl_error *e)
{
    memset(s, 0, sizeof *s);
    s->socket = socket;
    *warn_err = 0;
    int fd = ctl_open(socket, NULL, e);
    if (fd < 0)
        return -1;
    if (iouringd_get_daemon_counters(fd, &s->counters) == 0) {
        s->have_counters = true;
        s->stats = s->counters.stats;
        iouringd_client_close(fd);
        return 0;
    }
    int err = errno;
    iouringd_client_close(fd);
    if (!disconnected(err)) {
        /* An answer we cannot use (EPROTO): the stream is out of step, so ask
         * again on a fresh connection and tell the caller. Anything else (a
         * timeout, ENOMEM) is a failure. */
        if (err != EPROTO)
            return failed(e, CTL_STAGE_QUERY, err);
        *warn_err = err;
    }
    memset(&s->counters, 0, sizeof s->counters);
    fd = ctl_open(socket, NULL, e);
    if (fd < 0)
        return -1;
    if (iouringd_get_stats(fd, &s->stats) < 0) {
        err = errno;
        iouringd_client_close(fd);
        return failed(e, CTL_STAGE_QUERY, err);
    }
    iouringd_client_close(fd);
    return 0;
}
