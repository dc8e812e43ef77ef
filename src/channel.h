/* Supervisor <-> worker records over one SOCK_SEQPACKET socketpair per worker.
 * Fixed-size typed records; the supervisor validates every one it receives and
 * kills the worker that sends a malformed one (DESIGN.md §1, OpenBSD imsg). */
#ifndef IOD_CHANNEL_H
#define IOD_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <iouringd/protocol.h>

enum iod_chan_type {
    IOD_CHAN_SNAPSHOT = 1,     /* worker -> supervisor: counters (answer or unsolicited) */
    IOD_CHAN_STATS_QUERY = 2,  /* worker -> supervisor: its client sent GET_STATS */
    IOD_CHAN_COLLECT = 3,      /* supervisor -> worker: report counters for a round */
    IOD_CHAN_STATS_ANSWER = 4, /* supervisor -> worker: the daemon-wide stats result */
    /* 5 and 6 are unused. */
    IOD_CHAN_COUNTERS_QUERY = 7,  /* worker -> supervisor: its client asked for counters */
    IOD_CHAN_COUNTERS_ANSWER = 8, /* supervisor -> worker: struct iouringd_daemon_counters */
};

/* Why a connection ended, reported by the worker in its final snapshot. */
enum iod_end_reason {
    IOD_END_NONE = 0,     /* still connected */
    IOD_END_CLEAN = 1,    /* EOF at a message boundary, or the client hung up */
    IOD_END_PROTOCOL = 2, /* framing or descriptor violation, EOF mid-message */
    IOD_END_REJECT = 3,   /* handshake rejected */
    IOD_END_IO_ERROR = 4, /* read or write error on the client socket */
    IOD_END_INTERNAL = 5, /* the worker failed internally */
    IOD_END_REASON_MAX = 6
};

struct iod_chan_header {
    uint16_t type;
    uint16_t length; /* whole record, header included */
    uint32_t reserved;
};

/* A worker's counters: lifetime sums plus current gauges. */
struct iod_worker_counters {
    uint64_t accepted_submits;
    uint64_t rejected_submits;
    uint64_t completions;
    uint64_t completions_ok;
    uint64_t completions_error;
    uint64_t bytes_read;
    uint64_t bytes_written;
    uint32_t outstanding_tasks;
    uint32_t outstanding_credit_tasks;
    uint32_t credits_remaining;
    uint32_t registered_files;
    uint32_t registered_buffers;
    uint8_t connected;  /* 0/1 */
    uint8_t final;      /* 0/1: the last record before a clean exit */
    uint16_t end_reason; /* enum iod_end_reason */
};

struct iod_chan_snapshot {
    struct iod_chan_header hdr;
    uint64_t round; /* the COLLECT round answered, 0 if unsolicited */
    struct iod_worker_counters c;
};

struct iod_chan_collect {
    struct iod_chan_header hdr;
    uint64_t round;
};

struct iod_chan_stats_answer {
    struct iod_chan_header hdr;
    struct iouringd_stats_result stats;
};

struct iod_chan_counters_answer {
    struct iod_chan_header hdr;
    struct iouringd_daemon_counters counters;
};

union iod_chan_record {
    struct iod_chan_header hdr;
    struct iod_chan_counters_answer counters;
    struct iod_chan_snapshot snapshot;
    struct iod_chan_collect collect;
    struct iod_chan_stats_answer answer;
};

/* What the supervisor knows about a worker, for validating its records. */
struct iod_chan_limits {
    uint32_t credits;        /* C */
    uint32_t sq_entries;     /* S */
    uint32_t registered_fds;
    uint32_t registered_buffers;
    uint64_t max_round;      /* newest round sent to this worker */
};

struct msghdr;
/* Closes every descriptor an SCM_RIGHTS message in `m` delivered; true if
 * `m` carried any control message at all. */
bool iod_close_passed_fds(struct msghdr *m);

/* Sets type and length. */
void iod_chan_init(union iod_chan_record *r, enum iod_chan_type type);
/* Sends one record; 0 or -errno. Never raises SIGPIPE. */
int iod_chan_send(int fd, const union iod_chan_record *r);
/* Receives one record without blocking: its length, 0 on EOF, or -errno
 * (-EAGAIN if none). A record carrying descriptors is closed and -EBADMSG. */
ssize_t iod_chan_recv(int fd, union iod_chan_record *r);

/* Supervisor-side validation of a record received from a worker of length
 * len. `prev` is the last accepted snapshot (NULL if none). 0 or -EBADMSG
 * with *why describing the fault. */
int iod_chan_validate_from_worker(const union iod_chan_record *r, size_t len,
                                  const struct iod_chan_limits *lim,
                                  const struct iod_worker_counters *prev, const char **why);
/* Worker-side validation of a record from the supervisor. */
int iod_chan_validate_from_supervisor(const union iod_chan_record *r, size_t len);

#endif
