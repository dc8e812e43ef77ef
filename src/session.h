/* Protocol state machine of one connection: staged framing, descriptor
 * checks, dispatch of requests, replies and completions (§2-§15). The worker
 * owns the sockets and the event loop; the session owns the protocol state. */
#ifndef IOD_SESSION_H
#define IOD_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <iouringd/protocol.h>

#include "channel.h"
#include "outq.h"
#include "resources.h"
#include "ring.h"
#include "tasks.h"
#include "trace.h"

/* user_data of operations the worker issues for itself (§7): from the
 * reserved range, so no client CANCEL can name them. */
#define IOD_UDATA_CANCEL_ALL (UINT64_MAX)
#define IOD_UDATA_TOMBSTONE (UINT64_MAX - 1)

struct iod_session_config {
    uint32_t credits;      /* C */
    uint32_t sq_entries;   /* S */
    uint32_t cq_entries;
    uint32_t io_bytes_max;
    uint32_t registered_fds;
    uint32_t registered_buffers;
    uint32_t op_mask;
    uint32_t features;
    uint16_t client_slot;
    uint64_t conn;
    long supervisor_pid;
    bool trace_stderr;
    char job_field[32];
    int openat_dirfd;      /* AT_FDCWD unless --openat-root */
    bool openat_beneath;   /* OPENAT2 with RESOLVE_BENEATH under openat_dirfd */
};

enum iod_in_stage { IOD_IN_HANDSHAKE, IOD_IN_HEADER, IOD_IN_FIXED, IOD_IN_PAYLOAD };

struct iod_session {
    struct iod_session_config cfg;
    int client_fd;
    int chan_fd;
    struct iod_ring *ring;

    uint8_t *in;
    uint32_t in_cap, have, need;
    /* Peek-ahead of request bytes (session.c, read_message). */
    uint8_t *pk;
    uint32_t pk_cap, pk_len, pk_off;
    uint32_t exact_left; /* bytes to read the exact way: a descriptor rides there */
    enum iod_in_stage stage;
    uint16_t kind;
    int held_fd;

    struct iod_outq out;
    struct iod_tasks tasks;
    struct iod_resources res;
    struct iod_trace_ring trace;
    struct iod_worker_counters ctr;

    bool connected;
    bool waiting_stats;
    bool failed; /* internal failure: exit non-zero */
    uint16_t end_reason;
};

int iod_session_init(struct iod_session *s, const struct iod_session_config *cfg,
                     int client_fd, int chan_fd, struct iod_ring *ring);
void iod_session_destroy(struct iod_session *s);

/* Should the worker poll the client for input / output? */
bool iod_session_wants_read(const struct iod_session *s);
bool iod_session_wants_write(const struct iod_session *s);

/* Event handlers; each may end the connection. */
void iod_session_on_readable(struct iod_session *s);
void iod_session_on_writable(struct iod_session *s);
/* Handles every completion in the CQ; with `flush`, first runs pending
 * task work (one io_uring_enter) if the CQ looks empty. */
void iod_session_reap(struct iod_session *s, bool flush);
/* Queues the supervisor's answer (stats result or daemon counters). */
void iod_session_on_stats_answer(struct iod_session *s, const void *r, size_t len);
/* Answers a COLLECT (checking the client for POLLHUP first). */
void iod_session_on_collect(struct iod_session *s, uint64_t round);

/* Reads and handles supervisor records; -1 if the supervisor is gone. */
int iod_session_on_channel(struct iod_session *s);
/* Ends the connection (§12 steps 1-3). */
void iod_session_end(struct iod_session *s, enum iod_end_reason reason);
/* §12 steps 4-5: cancel everything and drain for at most the drain bound,
 * still answering the supervisor. */
void iod_session_drain(struct iod_session *s, int drain_ms);
/* §12 step 6: the final counters. */
void iod_session_send_final(struct iod_session *s);

void iod_session_counters(const struct iod_session *s, struct iod_worker_counters *c);
/* Marks an internal failure and ends the connection. */
void iod_session_fail(struct iod_session *s);

#endif
