/* One connection's protocol state machine. It reads exactly the bytes of the
 * current message (§2.2), validates stage by stage, dispatches through the
 * kind table, and queues whole records. Completions are reaped from the
 * worker's private ring and matched to tasks by user_data = task id. */
#include "session.h"
#include "clock.h"
#include "log.h"
#include "ops.h"
#include "wire.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Messages handled per readable event before the worker looks at its ring
 * and channel again, so a fast client cannot starve them. */
#define READ_BUDGET 64
#define MAX_RECV_FDS 32
/* Smallest peek-ahead window; it also holds one largest message. */
#define PEEK_MIN 16384u

int iod_session_init(struct iod_session *s, const struct iod_session_config *cfg,
                     int client_fd, int chan_fd, struct iod_ring *ring)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->client_fd = client_fd;
    s->chan_fd = chan_fd;
    s->ring = ring;
    s->held_fd = -1;
    s->in_cap = iod_input_bound(cfg->io_bytes_max);
    s->in = malloc(s->in_cap);
    s->pk_cap = s->in_cap > PEEK_MIN ? s->in_cap : PEEK_MIN;
    s->pk = malloc(s->pk_cap);
    if (s->in == NULL || s->pk == NULL)
        return -ENOMEM;
    s->stage = IOD_IN_HANDSHAKE;
    s->need = IOURINGD_HANDSHAKE_REQUEST_SIZE;
    int ret = iod_tasks_init(&s->tasks, cfg->credits, cfg->sq_entries);
    if (ret == 0)
        ret = iod_res_init(&s->res, cfg->registered_fds, cfg->registered_buffers);
    if (ret < 0)
        return ret;
    iod_outq_init(&s->out);
    iod_trace_init(&s->trace);
    s->connected = true;
    return 0;
}

void iod_session_destroy(struct iod_session *s)
{
    if (s->held_fd >= 0)
        close(s->held_fd);
    if (s->client_fd >= 0)
        close(s->client_fd);
    free(s->in);
    free(s->pk);
    s->pk = NULL;
    iod_outq_free(&s->out);
    iod_tasks_destroy(&s->tasks);
    iod_res_destroy(&s->res);
    s->held_fd = s->client_fd = -1;
    s->in = NULL;
}

bool iod_session_wants_read(const struct iod_session *s)
{
    return s->connected && !s->waiting_stats &&
           iod_outq_pending(&s->out) <= IOURINGD_OUTPUT_HIGH_WATER;
}

bool iod_session_wants_write(const struct iod_session *s)
{
    return s->connected && iod_outq_pending(&s->out) > 0;
}

void iod_session_counters(const struct iod_session *s, struct iod_worker_counters *c)
{
    *c = s->ctr;
    c->outstanding_tasks = s->tasks.outstanding;
    c->outstanding_credit_tasks = s->tasks.outstanding_credit;
    c->credits_remaining = iod_tasks_credits_remaining(&s->tasks);
    c->registered_files = s->res.registered_files;
    c->registered_buffers = s->res.nbufs - s->res.free_bufs;
    c->connected = s->connected ? 1 : 0;
    c->end_reason = s->connected ? IOD_END_NONE : s->end_reason;
    c->final = 0;
}

static void send_snapshot(struct iod_session *s, uint64_t round, const struct iod_worker_counters *c)
{
    union iod_chan_record r;
    iod_chan_init(&r, IOD_CHAN_SNAPSHOT);
    r.snapshot.round = round;
    r.snapshot.c = *c;
    /* A supervisor that is gone will SIGKILL us through PDEATHSIG. */
    (void)iod_chan_send(s->chan_fd, &r);
}

/* Queues a record; running out of memory here is an internal failure. */
static void queue(struct iod_session *s, const void *rec, size_t len, const void *payload,
                  size_t plen)
{
    if (!s->connected)
        return;
    if (iod_outq_append(&s->out, rec, len, payload, plen) < 0)
        iod_session_fail(s);
}

static void trace(struct iod_session *s, uint16_t event_kind, uint16_t task_kind,
                  uint16_t priority, uint64_t task_id, uint32_t resource_id, int32_t res,
                  uint32_t bytes)
{
    struct iouringd_trace_event e;
    memset(&e, 0, sizeof e);
    e.timestamp_nsec = iod_now_ns();
    e.task_id = task_id;
    e.resource_id = resource_id;
    e.res = res;
    e.credits = iod_tasks_credits_remaining(&s->tasks);
    e.event_kind = event_kind;
    e.task_kind = task_kind;
    e.client_slot = s->cfg.client_slot;
    e.priority = priority;
    iod_trace_record(&s->trace, &e);
    if (s->cfg.trace_stderr) {
        char line[IOD_LINE_MAX];
        size_t n = iod_trace_format_line(line, sizeof line, &e, bytes, s->cfg.supervisor_pid,
                                         s->cfg.job_field, s->cfg.conn);
        iod_write_line(line, n);
    }
}

void iod_session_fail(struct iod_session *s)
{
    s->failed = true;
    iod_session_end(s, IOD_END_INTERNAL);
}

static void pk_commit(struct iod_session *s);

void iod_session_end(struct iod_session *s, enum iod_end_reason reason)
{
    if (!s->connected)
        return;
    /* Bytes already handled leave the socket, as if read the exact way, so
     * the client sees the same EOF or reset either way (§12). */
    pk_commit(s);
    if (s->held_fd >= 0) {
        close(s->held_fd);
        s->held_fd = -1;
    }
    /* Flush what the socket takes without blocking, then close (§12). */
    (void)iod_outq_flush(&s->out, s->client_fd);
    iod_outq_free(&s->out);
    close(s->client_fd);
    s->client_fd = -1;
    s->connected = false;
    s->waiting_stats = false;
    s->end_reason = (uint16_t)reason;
    struct iod_worker_counters c;
    iod_session_counters(s, &c);
    send_snapshot(s, 0, &c);
}

/* ---- submissions ------------------------------------------------------ */

/* Submits what is queued. On failure, SQEs the kernel did not consume are
 * turned into NOPs with a reserved user_data, so the rolled-back task can
 * never complete later. */
static int submit(struct iod_session *s)
{
    struct io_uring *ring = &s->ring->ring;
    int ret = io_uring_submit(ring);
    if (ret > 0)
        return 0;
    unsigned head = io_uring_smp_load_acquire(ring->sq.khead);
    unsigned tail = *ring->sq.ktail;
    for (unsigned i = head; i != tail; i++) {
        struct io_uring_sqe *sqe = &ring->sq.sqes[ring->sq.array[i & *ring->sq.kring_mask]];
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, IOD_UDATA_TOMBSTONE);
    }
    return ret < 0 ? ret : -EAGAIN;
}

static void reply_submit(struct iod_session *s, uint64_t id, int32_t res)
{
    struct iouringd_submit_result r = {
        .task_id = id, .res = res, .credits = iod_tasks_credits_remaining(&s->tasks)};
    queue(s, &r, sizeof r, NULL, 0);
}

static void reject_task(struct iod_session *s, uint16_t kind, uint16_t prio,
                        const uint8_t *msg, int err)
{
    s->ctr.rejected_submits++;
    trace(s, IOURINGD_TRACE_SUBMIT_REJECT, kind, prio, 0, iod_ops_request_resource(kind, msg),
          err, iod_ops_request_bytes(kind, msg));
    reply_submit(s, 0, err);
}

static void handle_task(struct iod_session *s, uint16_t kind, const uint8_t *msg)
{
    const struct iod_kind_info *info = iod_kind_lookup(kind);
    struct iouringd_request_header h;
    memcpy(&h, msg, sizeof h);
    uint16_t prio = h.priority;

    int ret = iod_tasks_check_room(&s->tasks, info->credit);
    if (ret < 0) {
        /* Finished tasks may hold credits not yet returned: reap first, so
         * only a truly exhausted client is refused (completions may precede
         * any reply, §19). */
        iod_session_reap(s, true);
        ret = iod_tasks_check_room(&s->tasks, info->credit);
    }
    if (ret == 0 && info->op_bit && !(s->cfg.op_mask & info->op_bit))
        ret = -ENOTSUP;
    struct iod_op_plan plan;
    if (ret == 0)
        ret = iod_ops_check(s, kind, msg, &plan);
    if (ret < 0) {
        reject_task(s, kind, prio, msg, ret);
        return;
    }

    struct iod_task *t = iod_tasks_start(&s->tasks, kind, prio, info->credit);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring->ring);
    if (sqe == NULL) {
        iod_tasks_rollback(&s->tasks, t, info->credit);
        reject_task(s, kind, prio, msg, -EAGAIN);
        return;
    }
    ret = iod_ops_prepare(s, t, msg, &plan, sqe);
    if (ret == 0) {
        io_uring_sqe_set_data64(sqe, t->id);
        ret = submit(s);
    } else {
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, IOD_UDATA_TOMBSTONE);
    }
    if (ret < 0) {
        iod_ops_unprepare(s, t);
        iod_tasks_rollback(&s->tasks, t, info->credit);
        reject_task(s, kind, prio, msg, ret);
        return;
    }
    s->ctr.accepted_submits++;
    trace(s, IOURINGD_TRACE_SUBMIT_ACCEPT, kind, prio, t->id,
          iod_ops_request_resource(kind, msg), 0, iod_ops_request_bytes(kind, msg));
    reply_submit(s, t->id, 0);
}

/* ---- completions ------------------------------------------------------ */

static bool kind_reads(uint16_t k)
{
    return k == IOURINGD_TASK_SOCK_READ || k == IOURINGD_TASK_FILE_READ ||
           k == IOURINGD_TASK_SOCK_READ_FIXED;
}

static bool kind_writes(uint16_t k)
{
    return k == IOURINGD_TASK_SOCK_WRITE || k == IOURINGD_TASK_FILE_WRITE ||
           k == IOURINGD_TASK_SOCK_WRITE_FIXED;
}

static void complete_task(struct iod_session *s, struct iod_task *t, int32_t kres)
{
    const void *payload;
    uint16_t plen;
    uint32_t trace_res;
    uint16_t kind = t->kind, prio = t->priority;
    uint64_t id = t->id;
    bool credit = iod_kind_lookup(kind)->credit;

    int32_t res = iod_ops_complete(s, t, kres, s->connected, &payload, &plen, &trace_res);
    /* Keep the payload memory past the task's end: the record is queued
     * after the credit is returned and the event traced (§4.2). */
    uint8_t *data = t->data;
    t->data = NULL;
    iod_tasks_finish(&s->tasks, t, credit);

    s->ctr.completions++;
    if (res < 0)
        s->ctr.completions_error++;
    else
        s->ctr.completions_ok++;
    uint32_t bytes = 0;
    if (res > 0 && kind_reads(kind)) {
        s->ctr.bytes_read += (uint64_t)res;
        bytes = (uint32_t)res;
    } else if (res > 0 && kind_writes(kind)) {
        s->ctr.bytes_written += (uint64_t)res;
        bytes = (uint32_t)res;
    }
    trace(s, IOURINGD_TRACE_COMPLETION, kind, prio, id, trace_res, res, bytes);

    struct iouringd_completion c;
    iod_wire_protocol_header(&c.header);
    c.task_id = id;
    c.res = res;
    c.task_kind = kind;
    c.payload_length = plen;
    queue(s, &c, sizeof c, payload, plen);
    free(data);
}

void iod_session_reap(struct iod_session *s, bool flush)
{
    struct io_uring *ring = &s->ring->ring;
    struct io_uring_cqe *cqe;
    for (;;) {
        if (io_uring_peek_cqe(ring, &cqe) != 0) {
            /* Completions may wait as task work; when asked, flush them
             * once (a syscall, so not on every pass). */
            if (!flush || io_uring_get_events(ring) < 0 || io_uring_peek_cqe(ring, &cqe) != 0)
                break;
            flush = false;
        }
        uint64_t ud = cqe->user_data;
        int32_t res = cqe->res;
        io_uring_cqe_seen(ring, cqe);
        if (ud >= IOURINGD_RESERVED_TASK_ID_MIN)
            continue;
        struct iod_task *t = iod_tasks_find(&s->tasks, ud);
        if (t == NULL) {
            /* An unmatched CQE: this worker's state is broken (§12). */
            iod_session_fail(s);
            continue;
        }
        complete_task(s, t, res);
    }
}

/* ---- control requests ------------------------------------------------- */

static void reply_resource(struct iod_session *s, uint32_t id, int32_t res, uint32_t avail)
{
    struct iouringd_resource_result r = {
        .resource_id = id, .res = res, .resources_available = avail, .reserved = 0};
    queue(s, &r, sizeof r, NULL, 0);
}

static void handle_register_fd(struct iod_session *s)
{
    int fd = s->held_fd;
    s->held_fd = -1;
    if (fd < 0) {
        reply_resource(s, 0, -EINVAL, s->res.free_files);
        return;
    }
    int32_t slot = iod_res_free_file_slot(&s->res);
    int err = 0;
    if (slot < 0)
        err = -EAGAIN;
    else if (iod_res_ids_exhausted(&s->res))
        err = -EOVERFLOW;
    else {
        int ret = io_uring_register_files_update(&s->ring->ring, (unsigned)slot, &fd, 1);
        if (ret < 0)
            err = ret;
    }
    /* The fixed table holds its own reference; the worker keeps no fd. */
    close(fd);
    if (err) {
        reply_resource(s, 0, err, s->res.free_files);
        return;
    }
    uint32_t id = iod_res_register_file(&s->res, slot);
    trace(s, IOURINGD_TRACE_RESOURCE_REGISTER, 0, 0, 0, id, 0, 0);
    reply_resource(s, id, 0, s->res.free_files);
}

static void handle_release(struct iod_session *s, const uint8_t *msg)
{
    struct iouringd_resource_request r;
    memcpy(&r, msg, sizeof r);
    if (r.resource_id == 0) {
        reply_resource(s, 0, -EINVAL, 0);
        return;
    }
    int32_t slot = iod_res_find_file(&s->res, r.resource_id);
    if (slot >= 0) {
        if (s->res.files[slot].busy > 0) {
            reply_resource(s, 0, -EBUSY, s->res.free_files);
            return;
        }
        if (iod_ops_clear_slot(s, slot) < 0) {
            iod_session_fail(s);
            return;
        }
        iod_res_release_file(&s->res, slot);
        trace(s, IOURINGD_TRACE_RESOURCE_RELEASE, 0, 0, 0, r.resource_id, 0, 0);
        reply_resource(s, r.resource_id, 0, s->res.free_files);
        return;
    }
    slot = iod_res_find_buf(&s->res, r.resource_id);
    if (slot >= 0) {
        if (s->res.bufs[slot].busy > 0) {
            reply_resource(s, 0, -EBUSY, s->res.free_bufs);
            return;
        }
        iod_res_release_buf(&s->res, slot);
        trace(s, IOURINGD_TRACE_RESOURCE_RELEASE, 0, 0, 0, r.resource_id, 0, 0);
        reply_resource(s, r.resource_id, 0, s->res.free_bufs);
        return;
    }
    reply_resource(s, 0, -ENOENT, 0);
}

static void handle_register_buffer(struct iod_session *s, const uint8_t *msg)
{
    struct iouringd_register_buffer_request r;
    memcpy(&r, msg, sizeof r);
    int32_t slot = iod_res_free_buf_slot(&s->res);
    if (slot < 0) {
        reply_resource(s, 0, -EAGAIN, s->res.free_bufs);
        return;
    }
    if (iod_res_ids_exhausted(&s->res)) {
        reply_resource(s, 0, -EOVERFLOW, s->res.free_bufs);
        return;
    }
    if (r.length)
        memcpy(iod_ring_buffer(s->ring, (uint32_t)slot), msg + sizeof r, r.length);
    uint32_t id = iod_res_register_buf(&s->res, slot, r.length);
    trace(s, IOURINGD_TRACE_RESOURCE_REGISTER, 0, 0, 0, id, 0, r.length);
    reply_resource(s, id, 0, s->res.free_bufs);
}

static void handle_get_stats(struct iod_session *s, enum iod_chan_type query)
{
    union iod_chan_record r;
    iod_chan_init(&r, query);
    if (iod_chan_send(s->chan_fd, &r) < 0) {
        iod_session_fail(s);
        return;
    }
    /* Reading stays paused until the answer is queued (§2.2). */
    s->waiting_stats = true;
}

void iod_session_on_stats_answer(struct iod_session *s, const void *r, size_t len)
{
    if (!s->waiting_stats)
        return;
    s->waiting_stats = false;
    queue(s, r, len, NULL, 0);
}

static void handle_get_trace(struct iod_session *s, const uint8_t *msg)
{
    struct iouringd_get_trace_request r;
    memcpy(&r, msg, sizeof r);
    struct iouringd_trace_event ev[IOURINGD_TRACE_RING_EVENTS];
    struct iouringd_trace_result res;
    uint32_t n = iod_trace_select(&s->trace, r.after_sequence, r.max_events, &res, ev);
    queue(s, &res, sizeof res, ev, (size_t)n * sizeof ev[0]);
}

/* ---- input ------------------------------------------------------------ */

static void violation(struct iod_session *s)
{
    iod_session_end(s, IOD_END_PROTOCOL);
}

static void reset_input(struct iod_session *s)
{
    s->stage = IOD_IN_HEADER;
    s->have = 0;
    s->need = IOURINGD_HEADER_SIZE;
    s->kind = 0;
}

static void handle_handshake(struct iod_session *s)
{
    uint8_t out[IOURINGD_HANDSHAKE_RESULT_SIZE];
    if (!iod_wire_handshake_acceptable(s->in)) {
        iod_wire_encode_handshake_result(out, false, NULL);
        queue(s, out, sizeof out, NULL, 0);
        iod_session_end(s, IOD_END_REJECT);
        return;
    }
    struct iouringd_capability_descriptor caps = {
        .struct_size = IOURINGD_CAPABILITY_STRUCT_SIZE,
        .features = s->cfg.features,
        .ring_entries = s->cfg.sq_entries,
        .cq_entries = s->cfg.cq_entries,
        .op_mask = s->cfg.op_mask,
        .submit_credits = s->cfg.credits,
        .registered_fd_slots = s->cfg.registered_fds,
        .registered_buffer_slots = s->cfg.registered_buffers,
        .io_bytes_max = s->cfg.io_bytes_max,
    };
    iod_wire_encode_handshake_result(out, true, &caps);
    queue(s, out, sizeof out, NULL, 0);
    reset_input(s);
}

static void process_message(struct iod_session *s)
{
    if (s->stage == IOD_IN_HANDSHAKE) {
        handle_handshake(s);
        return;
    }
    uint16_t kind = s->kind;
    if (iod_wire_stage_m(s->in, s->have, kind) < 0) {
        violation(s);
        return;
    }
    if (iod_kind_is_task(kind))
        handle_task(s, kind, s->in);
    else
        switch (kind) {
        case IOURINGD_CONTROL_REGISTER_FD: handle_register_fd(s); break;
        case IOURINGD_CONTROL_RELEASE_RESOURCE: handle_release(s, s->in); break;
        case IOURINGD_CONTROL_REGISTER_BUFFER: handle_register_buffer(s, s->in); break;
        case IOURINGD_CONTROL_GET_STATS: handle_get_stats(s, IOD_CHAN_STATS_QUERY); break;
        case IOURINGD_EXT_GET_DAEMON_COUNTERS: handle_get_stats(s, IOD_CHAN_COUNTERS_QUERY); break;
        case IOURINGD_CONTROL_GET_TRACE: handle_get_trace(s, s->in); break;
        default: violation(s); return;
        }
    /* A descriptor is never kept for a later message (§2.4). */
    if (s->held_fd >= 0) {
        close(s->held_fd);
        s->held_fd = -1;
    }
    if (s->connected)
        reset_input(s);
}

static void close_fds(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
}

/* Descriptor rules of §2.4, applied to what one recvmsg delivered. Returns
 * false after a violation (every received descriptor closed). */
static bool take_descriptors(struct iod_session *s, struct msghdr *m)
{
    int fds[MAX_RECV_FDS + 1];
    size_t nfds = 0;
    bool bad = (m->msg_flags & MSG_CTRUNC) != 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            bad = true;
            continue;
        }
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        if (n != 1)
            bad = true;
        for (size_t i = 0; i < n && nfds < MAX_RECV_FDS + 1; i++)
            memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    if (nfds == 0 && !bad)
        return true;
    if (nfds != 1 || s->held_fd >= 0 || s->stage == IOD_IN_HANDSHAKE ||
        (s->stage != IOD_IN_HEADER && s->kind != IOURINGD_CONTROL_REGISTER_FD))
        bad = true;
    if (bad) {
        close_fds(fds, nfds);
        violation(s);
        return false;
    }
    s->held_fd = fds[0];
    return true;
}

/* Peek-ahead input. Reading each message with its own recvmsg costs one or
 * more syscalls per request; instead the worker peeks a window of bytes
 * without a control buffer. If any descriptor rides in that window the
 * kernel sets MSG_CTRUNC (and drops its duplicate, installing nothing), and
 * those bytes are read the exact way below, so a descriptor still arrives
 * with the bytes of its own message (§2.4). Peeked bytes are consumed from
 * the socket only once handled, so unhandled requests stay unread (§2.2). */
static void pk_commit(struct iod_session *s)
{
    uint32_t left = s->pk_off;
    s->pk_len = s->pk_off = 0;
    while (left > 0 && s->client_fd >= 0) {
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * MAX_RECV_FDS)];
        } ctl;
        struct iovec iov = {.iov_base = s->pk, .iov_len = left};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
                           .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
        ssize_t n = recvmsg(s->client_fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* the bytes were there when peeked; nothing to do */
        /* The peek saw no descriptor here; close any all the same. */
        (void)iod_close_passed_fds(&m);
        left -= (uint32_t)n;
    }
}

/* Refills the window: 1 if it now holds bytes, 0 if the socket has none
 * now, -1 if the exact read must run (a descriptor, EOF or an error). */
static int pk_fill(struct iod_session *s)
{
    if (s->exact_left > 0)
        return -1;
    struct iovec iov = {.iov_base = s->pk, .iov_len = s->pk_cap};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;
    do {
        n = recvmsg(s->client_fd, &m, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0)
        return -1; /* EOF or an error: the exact read reports it */
    if (m.msg_flags & MSG_CTRUNC) {
        s->exact_left = (uint32_t)n;
        return -1;
    }
    s->pk_len = (uint32_t)n;
    s->pk_off = 0;
    return 1;
}

/* One exact recvmsg of the bytes still missing, with descriptor rules. */
static ssize_t read_exact(struct iod_session *s)
{
    for (;;) {
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * MAX_RECV_FDS)];
        } ctl;
        struct iovec iov = {.iov_base = s->in + s->have, .iov_len = s->need - s->have};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
                           .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
        ssize_t n = recvmsg(s->client_fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            iod_session_end(s, IOD_END_IO_ERROR);
            return -1;
        }
        if (!take_descriptors(s, &m))
            return -1;
        if (n == 0) {
            bool boundary = s->have == 0;
            iod_session_end(s, boundary ? IOD_END_CLEAN : IOD_END_PROTOCOL);
            return -1;
        }
        s->exact_left -= (uint32_t)n < s->exact_left ? (uint32_t)n : s->exact_left;
        return n;
    }
}

/* Reads toward the current message. 1 when it is complete, 0 when the socket
 * has nothing more now, -1 when the connection ended. */
static int read_message(struct iod_session *s)
{
    for (;;) {
        uint32_t n;
        if (s->pk_off == s->pk_len) {
            /* A window shorter than its capacity held everything the socket
             * had: once handled, wait for poll instead of peeking again. */
            bool drained = s->pk_len > 0 && s->pk_len < s->pk_cap;
            pk_commit(s);
            int f = drained ? 0 : pk_fill(s);
            if (f == 0)
                return 0;
            if (f < 0) {
                ssize_t r = read_exact(s);
                if (r <= 0)
                    return (int)r;
                s->have += (uint32_t)r;
                goto got;
            }
        }
        n = s->pk_len - s->pk_off;
        if (n > s->need - s->have)
            n = s->need - s->have;
        memcpy(s->in + s->have, s->pk + s->pk_off, n);
        s->pk_off += n;
        s->have += n;
    got:
        if (s->have < s->need)
            continue;

        if (s->stage == IOD_IN_HANDSHAKE || s->stage == IOD_IN_PAYLOAD)
            return 1;
        if (s->stage == IOD_IN_HEADER) {
            if (iod_wire_stage_h(s->in, &s->kind) < 0 ||
                (s->held_fd >= 0 && s->kind != IOURINGD_CONTROL_REGISTER_FD)) {
                if (s->held_fd >= 0) {
                    close(s->held_fd);
                    s->held_fd = -1;
                }
                violation(s);
                return -1;
            }
            uint32_t fixed = iod_kind_lookup(s->kind)->fixed_size;
            if (fixed > s->have) {
                s->stage = IOD_IN_FIXED;
                s->need = fixed;
                continue;
            }
        }
        /* The fixed part is in: stage F. */
        uint32_t payload;
        if (iod_wire_stage_f(s->in, s->kind, s->cfg.io_bytes_max, &payload) < 0 ||
            (uint64_t)s->need + payload > s->in_cap) {
            violation(s);
            return -1;
        }
        if (payload == 0)
            return 1;
        s->stage = IOD_IN_PAYLOAD;
        s->need += payload;
    }
}

void iod_session_on_readable(struct iod_session *s)
{
    for (int budget = READ_BUDGET; budget > 0 && iod_session_wants_read(s); budget--) {
        if (read_message(s) <= 0)
            break;
        process_message(s);
    }
    /* Hand back what was peeked but not handled: it stays in the socket. */
    if (s->connected)
        pk_commit(s);
}

void iod_session_on_writable(struct iod_session *s)
{
    if (!s->connected)
        return;
    int ret = iod_outq_flush(&s->out, s->client_fd);
    if (ret < 0)
        iod_session_end(s, IOD_END_IO_ERROR);
}

void iod_session_on_collect(struct iod_session *s, uint64_t round)
{
    if (s->connected) {
        /* A client that closed completely is gone, even if unread (§14). */
        struct pollfd p = {.fd = s->client_fd, .events = 0};
        if (poll(&p, 1, 0) > 0 && (p.revents & POLLHUP))
            iod_session_end(s, IOD_END_CLEAN);
    }
    struct iod_worker_counters c;
    iod_session_counters(s, &c);
    send_snapshot(s, round, &c);
}

/* ---- the end ---------------------------------------------------------- */

int iod_session_on_channel(struct iod_session *s)
{
    for (;;) {
        union iod_chan_record r;
        ssize_t n = iod_chan_recv(s->chan_fd, &r);
        if (n == -EAGAIN)
            return 0;
        if (n <= 0 || iod_chan_validate_from_supervisor(&r, (size_t)n) < 0)
            return -1; /* the supervisor is gone or broken: nothing to serve */
        if (r.hdr.type == IOD_CHAN_COLLECT)
            iod_session_on_collect(s, r.collect.round);
        else if (r.hdr.type == IOD_CHAN_STATS_ANSWER)
            iod_session_on_stats_answer(s, &r.answer.stats, sizeof r.answer.stats);
        else
            iod_session_on_stats_answer(s, &r.counters.counters, sizeof r.counters.counters);
    }
}

void iod_session_drain(struct iod_session *s, int drain_ms)
{
    if (s->tasks.outstanding > 0) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring->ring);
        if (sqe) {
            /* One cancel-all, not one per task, keeps the CQ bound (§6). */
            io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
            io_uring_sqe_set_data64(sqe, IOD_UDATA_CANCEL_ALL);
            (void)submit(s);
        }
    }
    uint64_t deadline = iod_now_ns() + (uint64_t)drain_ms * 1000000u;
    for (;;) {
        iod_session_reap(s, true);
        uint64_t now = iod_now_ns();
        if (s->tasks.outstanding == 0 || now >= deadline)
            break;
        struct pollfd p[2] = {{.fd = s->ring->ring.ring_fd, .events = POLLIN},
                              {.fd = s->chan_fd, .events = POLLIN}};
        int ms = (int)((deadline - now + 999999u) / 1000000u);
        if (poll(p, 2, ms) < 0 && errno != EINTR)
            break;
        if (p[1].revents && iod_session_on_channel(s) < 0)
            break;
    }
}

void iod_session_send_final(struct iod_session *s)
{
    struct iod_worker_counters c;
    iod_session_counters(s, &c);
    /* Tasks still unfinished are abandoned to the ring teardown and count as
     * completions (§12 step 6); registered descriptors go with the ring. */
    c.completions += c.outstanding_tasks;
    c.completions_error += c.outstanding_tasks;
    c.outstanding_tasks = 0;
    c.outstanding_credit_tasks = 0;
    c.credits_remaining = s->cfg.credits;
    c.registered_files = 0;
    c.registered_buffers = 0;
    c.final = 1;
    send_snapshot(s, 0, &c);
}
