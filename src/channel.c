/* Supervisor <-> worker records. Sending and receiving are thin wrappers; the
 * validation is pure so that unit tests can feed it every malformed record. */
#include "channel.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static size_t record_size(uint16_t type)
{
    switch (type) {
    case IOD_CHAN_SNAPSHOT: return sizeof(struct iod_chan_snapshot);
    case IOD_CHAN_STATS_QUERY: return sizeof(struct iod_chan_header);
    case IOD_CHAN_COLLECT: return sizeof(struct iod_chan_collect);
    case IOD_CHAN_STATS_ANSWER: return sizeof(struct iod_chan_stats_answer);
    case IOD_CHAN_COUNTERS_QUERY: return sizeof(struct iod_chan_header);
    case IOD_CHAN_COUNTERS_ANSWER: return sizeof(struct iod_chan_counters_answer);
    default: return 0;
    }
}

void iod_chan_init(union iod_chan_record *r, enum iod_chan_type type)
{
    memset(r, 0, sizeof *r);
    r->hdr.type = (uint16_t)type;
    r->hdr.length = (uint16_t)record_size((uint16_t)type);
}

int iod_chan_send(int fd, const union iod_chan_record *r)
{
    for (;;) {
        ssize_t n = send(fd, r, r->hdr.length, MSG_NOSIGNAL);
        if (n == (ssize_t)r->hdr.length)
            return 0;
        if (n >= 0)
            return -EMSGSIZE; /* SEQPACKET never sends part of a record */
        if (errno != EINTR)
            return -errno;
    }
}

bool iod_close_passed_fds(struct msghdr *m)
{
    bool any = false;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < nfd; i++) {
                int f;
                memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
                close(f);
            }
        }
        any = true;
    }
    return any;
}

ssize_t iod_chan_recv(int fd, union iod_chan_record *r)
{
    /* Room for descriptors only so that any sent to us can be closed. */
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 16)];
    } ctl;
    struct iovec iov = {.iov_base = r, .iov_len = sizeof *r};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t n;
    do {
        n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    bool had_control = iod_close_passed_fds(&msg);
    if (had_control || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)))
        return -EBADMSG;
    return n;
}

static int bad(const char **why, const char *what)
{
    *why = what;
    return -EBADMSG;
}

int iod_chan_validate_from_worker(const union iod_chan_record *r, size_t len,
                                  const struct iod_chan_limits *lim,
                                  const struct iod_worker_counters *prev, const char **why)
{
    *why = NULL;
    if (len < sizeof(struct iod_chan_header))
        return bad(why, "short_record");
    if (r->hdr.type != IOD_CHAN_SNAPSHOT && r->hdr.type != IOD_CHAN_STATS_QUERY &&
        r->hdr.type != IOD_CHAN_COUNTERS_QUERY)
        return bad(why, "unknown_type");
    if (len != record_size(r->hdr.type) || r->hdr.length != len)
        return bad(why, "bad_length");
    if (r->hdr.reserved != 0)
        return bad(why, "reserved");
    if (r->hdr.type != IOD_CHAN_SNAPSHOT)
        return 0;

    const struct iod_chan_snapshot *s = &r->snapshot;
    const struct iod_worker_counters *c = &s->c;
    if (s->round > lim->max_round)
        return bad(why, "future_round");
    if (c->connected > 1 || c->final > 1 || c->end_reason >= IOD_END_REASON_MAX)
        return bad(why, "bad_flags");
    if (c->connected != (c->end_reason == IOD_END_NONE))
        return bad(why, "bad_end_reason");
    if (c->final && (c->connected || c->outstanding_tasks != 0))
        return bad(why, "bad_final");
    if (c->outstanding_credit_tasks > c->outstanding_tasks ||
        c->outstanding_credit_tasks > lim->credits ||
        c->outstanding_tasks > lim->credits + lim->sq_entries)
        return bad(why, "bad_outstanding");
    if (c->credits_remaining != lim->credits - c->outstanding_credit_tasks)
        return bad(why, "bad_credits");
    if (c->registered_files > lim->registered_fds ||
        c->registered_buffers > lim->registered_buffers)
        return bad(why, "bad_resources");
    if (c->accepted_submits != c->completions + c->outstanding_tasks)
        return bad(why, "bad_invariant");
    if (c->completions_ok + c->completions_error != c->completions)
        return bad(why, "bad_completion_classes");
    if (prev != NULL) {
        if (c->accepted_submits < prev->accepted_submits ||
            c->rejected_submits < prev->rejected_submits ||
            c->completions < prev->completions || c->bytes_read < prev->bytes_read ||
            c->bytes_written < prev->bytes_written ||
            c->completions_ok < prev->completions_ok ||
            c->completions_error < prev->completions_error)
            return bad(why, "counter_went_back");
        if (!prev->connected && c->connected)
            return bad(why, "reconnected");
        if (prev->final)
            return bad(why, "after_final");
    }
    return 0;
}

int iod_chan_validate_from_supervisor(const union iod_chan_record *r, size_t len)
{
    if (len < sizeof(struct iod_chan_header))
        return -EBADMSG;
    if (r->hdr.type != IOD_CHAN_COLLECT && r->hdr.type != IOD_CHAN_STATS_ANSWER &&
        r->hdr.type != IOD_CHAN_COUNTERS_ANSWER)
        return -EBADMSG;
    if (len != record_size(r->hdr.type) || r->hdr.length != len || r->hdr.reserved != 0)
        return -EBADMSG;
    return 0;
}
