/* The supervisor owns the listening socket, admission, the workers and the
 * daemon-wide statistics. It never reads a byte a client sent and never owns
 * an io_uring: it accepts, decides, forks, and then only talks to workers
 * over their channels (DESIGN.md §1). */
#include "supervisor.h"
#include "channel.h"
#include "clock.h"
#include "log.h"
#include "stats.h"
#include "worker.h"

#ifndef IOURINGD_VERSION
#define IOURINGD_VERSION "0.0.0"
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define COLLECTION_BOUND_NS 1000000000ull
/* A "gone" worker drains for at most 1 s; allow for its final steps. */
#define GONE_WAIT_NS 2000000000ull
#define ACCEPT_PAUSE_NS 100000000ull

/* Indexes of the daemon-counters extension (protocol.h). */
enum refusal {
    REFUSE_PEER_CREDENTIALS = IOURINGD_REFUSED_PEER_CREDENTIALS,
    REFUSE_MAX_CLIENTS = IOURINGD_REFUSED_MAX_CLIENTS,
    REFUSE_MAX_CLIENTS_PER_UID = IOURINGD_REFUSED_MAX_CLIENTS_PER_UID,
    REFUSE_RESOURCES = IOURINGD_REFUSED_RESOURCES,
    REFUSE_WORKER_SETUP = IOURINGD_REFUSED_WORKER_SETUP,
    REFUSE_COUNT = IOURINGD_REFUSED_REASONS,
    REFUSE_NONE = REFUSE_COUNT
};

static const char *const refusal_names[REFUSE_COUNT] = {
    "peer_credentials", "max_clients", "max_clients_per_uid", "resources", "worker_setup",
};

struct wslot {
    bool used;
    pid_t pid;
    int chan;
    uint64_t conn;
    uid_t uid;
    struct iod_worker_counters last;
    uint64_t answered_round; /* counts as answered up to this round */
    uint64_t collect_sent;   /* round of the last COLLECT it was sent */
    uint64_t reported_round; /* newest round it really answered */
    uint64_t stats_round; /* round that answers its GET_STATS, 0 if none */
    uint16_t stats_query; /* IOD_CHAN_STATS_QUERY or IOD_CHAN_COUNTERS_QUERY */
    bool killed;          /* killed by us for a malformed record */
    uint64_t start_ns;
};

struct pending {
    bool active;
    bool waiting_exit;
    int fd;
    uid_t uid;
    uint64_t conn;
    uint64_t round;
    uint64_t deadline;
};

struct sup {
    const struct iod_options *o;
    const struct iod_probe_result *probe;
    const struct iod_sandbox *sandbox;
    uint32_t credits, sq_entries;
    int lfd, sfd;
    pid_t pid;
    char job[32];
    struct wslot *w;
    uint32_t nslots, live;
    uint64_t conn_serial;
    struct iod_stats_totals totals;
    uint64_t refused[REFUSE_COUNT];
    uint64_t refused_printed_sec[REFUSE_COUNT];
    uint64_t sandbox_violations; /* workers killed by SIGSYS */
    uint64_t admitted;
    uint64_t exits[IOURINGD_EXIT_REASONS];
    uint64_t start_ns;
    uint64_t round;
    bool round_active, next_round_wanted;
    uint64_t round_deadline;
    struct pending pend;
    uint64_t accept_paused_until;
};

static struct sup S;

/* ---- statistics and channels ----------------------------------------- */

/* Daemon-wide stats, and the lifetime sums behind them. */
static void aggregate(struct iouringd_stats_result *out, struct iod_worker_counters *lifetime)
{
    const struct iod_worker_counters *live[4096];
    size_t n = 0;
    for (uint32_t i = 0; i < S.nslots; i++)
        if (S.w[i].used)
            live[n++] = &S.w[i].last;
    iod_stats_aggregate(&S.totals, live, n, S.credits, out, lifetime);
}

static void print_metrics(const char *phase, const struct iouringd_stats_result *st)
{
    if (!S.o->trace_stderr)
        return;
    struct iod_metrics_fields m = {
        .phase = phase, .pid = (long)S.pid, .job_field = S.job, .socket = S.o->socket_path,
        .ring_entries = S.sq_entries, .registered_fd_slots = S.o->registered_fds,
        .registered_buffer_slots = S.o->registered_buffers, .io_bytes_max = S.o->io_bytes_max,
        .credits = S.credits};
    char line[IOD_LINE_MAX];
    size_t n = iod_stats_format_metrics(line, sizeof line, &m, st);
    iod_write_line(line, n);
}

/* The lifecycle log (README "Lifecycle log"): one logfmt line per event,
 * always on unless --quiet. */
static void lifecycle(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void lifecycle(const char *level, const char *event, const char *fmt, ...)
{
    if (S.o->quiet)
        return;
    char rest[IOD_LINE_MAX - 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rest, sizeof rest, fmt, ap);
    va_end(ap);
    char job[40] = "";
    if (S.o->has_job_id)
        snprintf(job, sizeof job, " job_id=%" PRIu64, S.o->job_id);
    iod_line("iouringd log level=%s event=%s pid=%ld%s%s%s\n", level, event, (long)S.pid, job,
             *rest ? " " : "", rest);
}

static const char *const exit_names[IOURINGD_EXIT_REASONS] = {
    "clean", "protocol_violation", "handshake_reject", "io_error",
    "internal_error", "crash", "sandbox_violation", "malformed_record",
};

static void daemon_counters(struct iouringd_daemon_counters *dc)
{
    memset(dc, 0, sizeof *dc);
    dc->struct_size = sizeof *dc;
    dc->version = IOURINGD_DAEMON_COUNTERS_VERSION;
    struct iod_worker_counters life;
    aggregate(&dc->stats, &life);
    dc->admitted_total = S.admitted;
    for (int i = 0; i < REFUSE_COUNT; i++)
        dc->refused_total[i] = S.refused[i];
    for (int i = 0; i < IOURINGD_EXIT_REASONS; i++)
        dc->worker_exits_total[i] = S.exits[i];
    dc->bytes_read_total = life.bytes_read;
    dc->bytes_written_total = life.bytes_written;
    dc->completions_ok_total = life.completions_ok;
    dc->completions_error_total = life.completions_error;
    dc->uptime_nsec = iod_now_ns() - S.start_ns;
    dc->live_workers = S.live;
    dc->max_clients = S.o->max_clients;
    dc->seccomp_log_mode = S.o->seccomp_log ? 1 : 0;
}

/* Daemon-wide counters beyond the v1 metrics line, printed just before it
 * with --trace-stderr so that line stays byte-compatible and last. */
static void print_counters(const char *phase, const struct iouringd_daemon_counters *dc)
{
    if (!S.o->trace_stderr)
        return;
    char line[IOD_LINE_MAX];
    int n = snprintf(line, sizeof line, "iouringd counters phase=%s pid=%ld%s admitted=%" PRIu64,
                     phase, (long)S.pid, S.job, dc->admitted_total);
    for (int i = 0; i < REFUSE_COUNT && n > 0 && (size_t)n < sizeof line; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " refused_%s=%" PRIu64,
                      refusal_names[i], dc->refused_total[i]);
    for (int i = 0; i < IOURINGD_EXIT_REASONS && n > 0 && (size_t)n < sizeof line; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " exits_%s=%" PRIu64, exit_names[i],
                      dc->worker_exits_total[i]);
    if (n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n,
                      " bytes_read=%" PRIu64 " bytes_written=%" PRIu64 " completions_ok=%" PRIu64
                      " completions_error=%" PRIu64 " seccomp_mode=%s\n",
                      dc->bytes_read_total, dc->bytes_written_total, dc->completions_ok_total,
                      dc->completions_error_total, dc->seccomp_log_mode ? "log" : "enforce");
    if (n > 0)
        iod_write_line(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void kill_worker(struct wslot *w, const char *why)
{
    iod_line("iouringd channel pid=%ld%s conn=%" PRIu64 " client_slot=%u worker_pid=%ld"
             " event=malformed_record why=%s\n",
             (long)S.pid, S.job, w->conn, (unsigned)(w - S.w), (long)w->pid, why);
    w->killed = true;
    kill(w->pid, SIGKILL);
    if (w->chan >= 0)
        close(w->chan);
    w->chan = -1;
}

static void on_channel(struct wslot *w);

static void send_collect(struct wslot *w)
{
    /* At most one COLLECT in flight per worker: one that has not answered
     * the last (stopped, stuck) is represented by its last report, and its
     * channel never fills, so the supervisor never waits on it. */
    if (w->chan < 0 || w->collect_sent > w->reported_round) {
        w->answered_round = S.round;
        return;
    }
    union iod_chan_record r;
    iod_chan_init(&r, IOD_CHAN_COLLECT);
    r.collect.round = S.round;
    if (iod_chan_send(w->chan, &r) == 0) {
        w->collect_sent = S.round;
        return;
    }
    /* Its end is closed: it has exited or is exiting. Its last reports may
     * still wait in the channel; read them so that they, not an older
     * report, stand for it. */
    on_channel(w);
    w->answered_round = S.round;
}

static void start_round(void)
{
    S.round++;
    S.round_active = true;
    S.next_round_wanted = false;
    S.round_deadline = iod_now_ns() + COLLECTION_BOUND_NS;
    for (uint32_t i = 0; i < S.nslots; i++)
        if (S.w[i].used) {
            if (S.w[i].last.final)
                S.w[i].answered_round = S.round;
            else
                send_collect(&S.w[i]);
        }
}

/* The round that will serve a request made now: the next one to start, so
 * that every worker is asked after the request arrived (§14). */
static uint64_t request_round(void)
{
    if (!S.round_active) {
        start_round();
        return S.round;
    }
    S.next_round_wanted = true;
    return S.round + 1;
}

static bool round_complete(void)
{
    if (!S.round_active)
        return false;
    if (iod_now_ns() >= S.round_deadline)
        return true;
    for (uint32_t i = 0; i < S.nslots; i++)
        if (S.w[i].used && S.w[i].answered_round < S.round)
            return false;
    return true;
}

static void evaluate_pending(void);

static void finish_round(void)
{
    S.round_active = false;
    struct iouringd_stats_result st;
    aggregate(&st, NULL);
    for (uint32_t i = 0; i < S.nslots; i++) {
        struct wslot *w = &S.w[i];
        if (!w->used || w->stats_round != S.round)
            continue;
        w->stats_round = 0;
        union iod_chan_record r;
        if (w->stats_query == IOD_CHAN_COUNTERS_QUERY) {
            iod_chan_init(&r, IOD_CHAN_COUNTERS_ANSWER);
            daemon_counters(&r.counters.counters);
        } else {
            iod_chan_init(&r, IOD_CHAN_STATS_ANSWER);
            r.answer.stats = st;
        }
        if (w->chan >= 0)
            (void)iod_chan_send(w->chan, &r);
    }
    if (S.pend.active && !S.pend.waiting_exit)
        evaluate_pending();
    if (S.next_round_wanted)
        start_round();
}

/* Records handled per worker per wake-up: a worker that floods its channel
 * (only a compromised one would) cannot keep the supervisor from the rest. */
#define CHANNEL_BUDGET 16

static void on_channel(struct wslot *w)
{
    for (int budget = CHANNEL_BUDGET; budget > 0 && w->chan >= 0; budget--) {
        union iod_chan_record r;
        ssize_t n = iod_chan_recv(w->chan, &r);
        if (n == -EAGAIN)
            return;
        /* A worker that exits with a record of ours unread leaves us a
         * pending ECONNRESET, reported once before the records it sent. */
        if (n == -ECONNRESET)
            continue;
        if (n == 0) {
            /* The worker is exiting; the reap will follow. */
            close(w->chan);
            w->chan = -1;
            w->answered_round = S.round;
            return;
        }
        const char *why = "recv_failed";
        struct iod_chan_limits lim = {
            .credits = S.credits, .sq_entries = S.sq_entries,
            .registered_fds = S.o->registered_fds,
            .registered_buffers = S.o->registered_buffers, .max_round = S.round};
        if (n < 0 || iod_chan_validate_from_worker(&r, (size_t)n, &lim, &w->last, &why) < 0) {
            kill_worker(w, why);
            return;
        }
        if (r.hdr.type != IOD_CHAN_SNAPSHOT) {
            if (w->stats_round != 0) {
                kill_worker(w, "second_stats_query");
                return;
            }
            w->stats_query = r.hdr.type;
            w->stats_round = request_round();
            continue;
        }
        w->last = r.snapshot.c;
        if (r.snapshot.round > w->answered_round)
            w->answered_round = r.snapshot.round;
        if (r.snapshot.round > w->reported_round)
            w->reported_round = r.snapshot.round;
        if (r.snapshot.c.final)
            w->answered_round = UINT64_MAX;
    }
}

/* ---- admission --------------------------------------------------------- */

static uint32_t uid_clients(uid_t uid)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < S.nslots; i++)
        if (S.w[i].used && S.w[i].uid == uid)
            n++;
    return n;
}

static void refuse(int fd, enum refusal why, uid_t uid, uint64_t conn)
{
    if (fd >= 0)
        close(fd);
    S.refused[why]++;
    /* At most one pair of lines per reason per second, so a connection flood
     * cannot flood the log; the count is never lost. */
    uint64_t sec = iod_now_ns() / 1000000000u + 1;
    if (S.refused_printed_sec[why] == sec)
        return;
    S.refused_printed_sec[why] = sec;
    lifecycle("warn", "client_refused", "conn=%" PRIu64 " reason=%s uid=%u refused_total=%" PRIu64,
              conn, refusal_names[why], (unsigned)uid, S.refused[why]);
    iod_line("iouringd admission pid=%ld%s conn=%" PRIu64 " event=refused reason=%s uid=%u"
             " clients=%u uid_clients=%u refused_total=%" PRIu64 "\n",
             (long)S.pid, S.job, conn, refusal_names[why], (unsigned)uid, S.live,
             uid == (uid_t)-1 ? 0 : uid_clients(uid), S.refused[why]);
}

static enum refusal over_limit(uid_t uid)
{
    if (S.live >= S.o->max_clients)
        return REFUSE_MAX_CLIENTS;
    if (S.o->max_clients_per_uid && uid_clients(uid) >= S.o->max_clients_per_uid)
        return REFUSE_MAX_CLIENTS_PER_UID;
    return REFUSE_NONE;
}

static void spawn(int fd, uid_t uid, uint64_t conn)
{
    uint32_t slot = 0;
    while (slot < S.nslots && S.w[slot].used)
        slot++;
    int sp[2];
    if (slot == S.nslots ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        refuse(fd, REFUSE_RESOURCES, uid, conn);
        return;
    }
    /* The supervisor's end never blocks: a stuck worker must not stall it. */
    pid_t pid = fcntl(sp[0], F_SETFL, O_NONBLOCK) < 0 ? -1 : fork();
    if (pid < 0) {
        close(sp[0]);
        close(sp[1]);
        refuse(fd, REFUSE_RESOURCES, uid, conn);
        return;
    }
    if (pid == 0) {
        struct iod_worker_args a = {
            .opt = S.o, .probe = S.probe, .sandbox = S.sandbox, .client_fd = fd, .chan_fd = sp[1],
            .client_slot = (uint16_t)slot, .conn = conn, .supervisor_pid = S.pid};
        iod_worker_run(&a);
    }
    close(sp[1]);
    close(fd); /* the supervisor keeps no copy of the client socket */
    struct wslot *w = &S.w[slot];
    memset(w, 0, sizeof *w);
    w->used = true;
    w->pid = pid;
    w->chan = sp[0];
    w->conn = conn;
    w->uid = uid;
    /* Until its first report the worker counts as a connected, idle client. */
    w->last.connected = 1;
    w->last.credits_remaining = S.credits;
    w->answered_round = S.round;
    w->start_ns = iod_now_ns();
    S.live++;
    S.admitted++;
    lifecycle("info", "client_admitted",
              "conn=%" PRIu64 " slot=%u worker_pid=%ld uid=%u credits=%u", conn, slot,
              (long)pid, (unsigned)uid, S.credits);
}

static bool gone_workers_for(uid_t uid, enum refusal why)
{
    for (uint32_t i = 0; i < S.nslots; i++) {
        const struct wslot *w = &S.w[i];
        if (w->used && !w->last.connected && (why == REFUSE_MAX_CLIENTS || w->uid == uid))
            return true;
    }
    return false;
}

static bool round_done(uint64_t r)
{
    return S.round > r || (S.round == r && !S.round_active);
}

/* Decides a held connection after its fresh view (§13). */
static void evaluate_pending(void)
{
    struct pending *p = &S.pend;
    enum refusal why = over_limit(p->uid);
    if (why == REFUSE_NONE) {
        p->active = false;
        spawn(p->fd, p->uid, p->conn);
        return;
    }
    if (!p->waiting_exit) {
        if (!round_done(p->round))
            return; /* its collection has not finished yet */
        if (gone_workers_for(p->uid, why)) {
            p->waiting_exit = true;
            p->deadline = iod_now_ns() + GONE_WAIT_NS;
            return;
        }
    } else if (gone_workers_for(p->uid, why) && iod_now_ns() < p->deadline) {
        return;
    }
    p->active = false;
    refuse(p->fd, why, p->uid, p->conn);
}

static void reap(void);

static void admit(int fd)
{
    uint64_t conn = ++S.conn_serial;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof cred) {
        refuse(fd, REFUSE_PEER_CREDENTIALS, (uid_t)-1, conn);
        return;
    }
    if (over_limit(cred.uid) == REFUSE_NONE) {
        spawn(fd, cred.uid, conn);
        return;
    }
    /* Fresh view before refusing: reap, ask who is still there, wait for
     * the gone ones, then decide. Accepting pauses meanwhile. */
    reap();
    S.pend = (struct pending){.active = true, .fd = fd, .uid = cred.uid, .conn = conn};
    if (over_limit(cred.uid) == REFUSE_NONE) {
        S.pend.active = false;
        spawn(fd, cred.uid, conn);
        return;
    }
    S.pend.round = request_round();
}

/* ---- reaping ----------------------------------------------------------- */

static void reap(void)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        struct wslot *w = NULL;
        for (uint32_t i = 0; i < S.nslots; i++)
            if (S.w[i].used && S.w[i].pid == pid)
                w = &S.w[i];
        if (w == NULL)
            continue;
        uint32_t slot = (uint32_t)(w - S.w);
        /* Its final report may still wait in the channel: read it first. */
        if (w->chan >= 0)
            on_channel(w);
        bool clean = WIFEXITED(st) && WEXITSTATUS(st) == IOD_WORKER_EXIT_OK && w->last.final;
        if (w->chan >= 0)
            close(w->chan);
        w->chan = -1;
        iod_stats_add_exited(&S.totals, &w->last, !clean);
        w->used = false;
        S.live--;
        int reason = -1, sig = 0, code = 0;
        if (WIFEXITED(st) && WEXITSTATUS(st) == IOD_WORKER_EXIT_SETUP) {
            refuse(-1, REFUSE_WORKER_SETUP, w->uid, w->conn);
        } else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
            code = WEXITSTATUS(st);
            reason = IOURINGD_EXIT_INTERNAL_ERROR;
            iod_line("iouringd worker pid=%ld%s conn=%" PRIu64 " client_slot=%u worker_pid=%ld"
                     " end=exit code=%d\n",
                     (long)S.pid, S.job, w->conn, slot, (long)pid, code);
        } else if (WIFSIGNALED(st)) {
            sig = WTERMSIG(st);
            if (sig == SIGSYS) {
                /* The seccomp filter killed it: a sandbox violation, told
                 * apart from crashes and logged with who was served. */
                reason = IOURINGD_EXIT_SANDBOX_VIOLATION;
                S.sandbox_violations++;
                iod_line("iouringd sandbox pid=%ld%s conn=%" PRIu64 " client_slot=%u"
                         " worker_pid=%ld uid=%u event=violation signal=%d"
                         " violations_total=%" PRIu64 "\n",
                         (long)S.pid, S.job, w->conn, slot, (long)pid, (unsigned)w->uid,
                         SIGSYS, S.sandbox_violations);
            } else {
                reason = w->killed ? IOURINGD_EXIT_MALFORMED_RECORD : IOURINGD_EXIT_CRASH;
            }
            iod_line("iouringd worker pid=%ld%s conn=%" PRIu64 " client_slot=%u worker_pid=%ld"
                     " end=signal code=%d\n",
                     (long)S.pid, S.job, w->conn, slot, (long)pid, sig);
        } else {
            static const int by_end[IOD_END_REASON_MAX] = {
                [IOD_END_NONE] = IOURINGD_EXIT_INTERNAL_ERROR,
                [IOD_END_CLEAN] = IOURINGD_EXIT_CLEAN,
                [IOD_END_PROTOCOL] = IOURINGD_EXIT_PROTOCOL_VIOLATION,
                [IOD_END_REJECT] = IOURINGD_EXIT_HANDSHAKE_REJECT,
                [IOD_END_IO_ERROR] = IOURINGD_EXIT_IO_ERROR,
                [IOD_END_INTERNAL] = IOURINGD_EXIT_INTERNAL_ERROR,
            };
            reason = by_end[w->last.end_reason];
        }
        if (reason >= 0) {
            S.exits[reason]++;
            uint64_t completed = w->last.completions;
            if (!clean && completed < w->last.accepted_submits)
                completed = w->last.accepted_submits;
            lifecycle(reason == IOURINGD_EXIT_CLEAN ? "info" : "warn", "worker_exit",
                      "conn=%" PRIu64 " slot=%u worker_pid=%ld reason=%s signal=%d code=%d"
                      " tasks_completed=%" PRIu64 " duration_ms=%" PRIu64,
                      w->conn, slot, (long)pid, exit_names[reason], sig, code, completed,
                      (iod_now_ns() - w->start_ns) / 1000000u);
        }
    }
    if (S.pend.active && S.pend.waiting_exit)
        evaluate_pending();
}

/* ---- shutdown ---------------------------------------------------------- */

__attribute__((noreturn)) static void shutdown_daemon(int sig, int status)
{
    /* 1. stop accepting */
    if (S.lfd >= 0)
        close(S.lfd);
    S.lfd = -1;
    if (S.pend.active)
        close(S.pend.fd);
    S.pend.active = false;

    /* 2. a final collection, bounded */
    if (!S.round_active)
        start_round();
    while (!round_complete()) {
        struct pollfd p[4096];
        struct wslot *ws[4096];
        nfds_t n = 0;
        for (uint32_t i = 0; i < S.nslots; i++)
            if (S.w[i].used && S.w[i].chan >= 0) {
                p[n] = (struct pollfd){.fd = S.w[i].chan, .events = POLLIN};
                ws[n++] = &S.w[i];
            }
        if (n == 0)
            break;
        uint64_t now = iod_now_ns();
        int ms = now >= S.round_deadline ? 0 : (int)((S.round_deadline - now) / 1000000u) + 1;
        if (poll(p, n, ms) < 0 && errno != EINTR)
            break;
        for (nfds_t i = 0; i < n; i++)
            if (p[i].revents && ws[i]->chan >= 0)
                on_channel(ws[i]);
    }
    S.round_active = false;
    struct iouringd_stats_result st;
    aggregate(&st, NULL);
    struct iouringd_daemon_counters dc;
    daemon_counters(&dc);
    uint32_t workers = S.live;

    /* 3-4. kill and reap every worker */
    for (uint32_t i = 0; i < S.nslots; i++)
        if (S.w[i].used)
            kill(S.w[i].pid, SIGKILL);
    for (uint32_t i = 0; i < S.nslots; i++)
        if (S.w[i].used) {
            while (waitpid(S.w[i].pid, NULL, 0) < 0 && errno == EINTR)
                ;
            if (S.w[i].chan >= 0)
                close(S.w[i].chan);
            S.w[i].used = false;
        }

    /* 5. the last lines; 6. the socket path */
    lifecycle(status ? "warn" : "info", "shutdown", "signal=%d status=%d workers=%u", sig,
              status, workers);
    print_counters("shutdown", &dc);
    print_metrics("shutdown", &st);
    unlink(S.o->socket_path);

    if (sig == 0)
        _exit(status);
    /* 7. die by the signal itself */
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig);
}

__attribute__((noreturn)) static void fatal_loop(int err)
{
    iod_line("iouringd: event loop failed: %s\n", strerror(err));
    shutdown_daemon(0, 1);
}

/* ---- socket ------------------------------------------------------------ */

/* Is a daemon answering on this path? A live socket must not be replaced. */
static bool socket_is_live(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0 || !S_ISSOCK(sb.st_mode))
        return false;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, path, strlen(path));
    int ret = connect(fd, (struct sockaddr *)&a, sizeof a);
    bool live = ret == 0 || errno == EAGAIN || errno == EINPROGRESS;
    close(fd);
    return live;
}

static int open_listener(const struct iod_options *o)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        iod_line("iouringd: creating server socket failed: %s\n", strerror(errno));
        return -1;
    }
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        iod_line("iouringd: setting server socket CLOEXEC failed: %s\n", strerror(errno));
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        iod_line("iouringd: setting server socket nonblocking failed: %s\n", strerror(errno));
        return -1;
    }
    size_t plen = strlen(o->socket_path);
    if (plen > IOURINGD_SOCKET_PATH_MAX) {
        iod_line("iouringd: socket path is too long\n");
        return -2;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, o->socket_path, plen);
    if (socket_is_live(o->socket_path)) {
        iod_line("iouringd: binding server socket failed: %s\n", strerror(EADDRINUSE));
        return -1;
    }
    unlink(o->socket_path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        iod_line("iouringd: binding server socket failed: %s\n", strerror(errno));
        return -1;
    }
    if (listen(fd, (int)o->max_clients) < 0) {
        int err = errno;
        unlink(o->socket_path);
        iod_line("iouringd: listening on server socket failed: %s\n", strerror(err));
        return -1;
    }
    return fd;
}

/* ---- the loop ---------------------------------------------------------- */

static void on_signals(void)
{
    struct signalfd_siginfo si;
    for (;;) {
        ssize_t n = read(S.sfd, &si, sizeof si);
        if (n != (ssize_t)sizeof si)
            break;
        if (si.ssi_signo == SIGCHLD)
            reap();
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            shutdown_daemon((int)si.ssi_signo, 0);
    }
}

static void on_listener(void)
{
    /* A bounded batch per wake-up keeps workers' stats queries flowing. */
    for (int i = 0; i < 16 && !S.pend.active; i++) {
        int fd = accept4(S.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                S.accept_paused_until = iod_now_ns() + ACCEPT_PAUSE_NS;
            return;
        }
        admit(fd);
    }
}

int iod_supervisor_run(const struct iod_options *o, const struct iod_probe_result *probe,
                       const struct iod_sandbox *sandbox, int sig_fd)
{
    memset(&S, 0, sizeof S);
    S.o = o;
    S.probe = probe;
    S.sandbox = sandbox;
    S.sfd = sig_fd;
    S.start_ns = iod_now_ns();
    S.pid = getpid();
    S.credits = iod_options_credits(o);
    S.sq_entries = probe->sq_entries;
    S.nslots = o->max_clients;
    iod_job_field(S.job, sizeof S.job, o->has_job_id, o->job_id);
    S.w = calloc(S.nslots, sizeof *S.w);
    if (S.w == NULL) {
        iod_line("iouringd: allocating worker table failed: %s\n", strerror(ENOMEM));
        return 1;
    }
    S.lfd = open_listener(o);
    if (S.lfd < 0)
        return S.lfd == -2 ? 2 : 1;

    struct iouringd_stats_result zero;
    memset(&zero, 0, sizeof zero);
    zero.per_client_credit_limit = S.credits;
    lifecycle("info", "start",
              "version=%s socket=%s ring_entries=%u credits=%u sq_entries=%u max_clients=%u"
              " max_clients_per_uid=%u registered_fds=%u registered_buffers=%u io_bytes_max=%u"
              " seccomp_mode=%s worker_user=%s openat_root=%s features=0x%x op_mask=0x%x",
              IOURINGD_VERSION, o->socket_path, o->ring_entries, S.credits, S.sq_entries,
              o->max_clients, o->max_clients_per_uid, o->registered_fds, o->registered_buffers,
              o->io_bytes_max, o->seccomp_log ? "log" : "enforce",
              o->worker_user ? o->worker_user : "-", o->openat_root ? o->openat_root : "-",
              probe->features, probe->op_mask);
    print_metrics("ready", &zero);

    static struct pollfd p[2 + 4096];
    static struct wslot *pw[2 + 4096];
    for (;;) {
        uint64_t now = iod_now_ns();
        nfds_t n = 0;
        p[n++] = (struct pollfd){.fd = S.sfd, .events = POLLIN};
        bool listening = !S.pend.active && now >= S.accept_paused_until;
        p[n++] = (struct pollfd){.fd = listening ? S.lfd : -1, .events = POLLIN};
        for (uint32_t i = 0; i < S.nslots; i++)
            if (S.w[i].used && S.w[i].chan >= 0) {
                pw[n] = &S.w[i];
                p[n++] = (struct pollfd){.fd = S.w[i].chan, .events = POLLIN};
            }
        uint64_t wake = UINT64_MAX;
        if (S.round_active)
            wake = S.round_deadline;
        if (S.pend.active && S.pend.waiting_exit && S.pend.deadline < wake)
            wake = S.pend.deadline;
        if (!listening && !S.pend.active && S.accept_paused_until < wake)
            wake = S.accept_paused_until;
        int ms = -1;
        if (wake != UINT64_MAX)
            ms = wake <= now ? 0 : (int)((wake - now) / 1000000u) + 1;
        if (poll(p, n, ms) < 0) {
            if (errno == EINTR)
                continue;
            fatal_loop(errno);
        }
        if (p[0].revents)
            on_signals();
        for (nfds_t i = 2; i < n; i++)
            if (p[i].revents && pw[i]->used && pw[i]->chan >= 0)
                on_channel(pw[i]);
        if (round_complete())
            finish_round();
        if (S.pend.active && S.pend.waiting_exit && iod_now_ns() >= S.pend.deadline)
            evaluate_pending();
        if (p[1].revents && !S.pend.active)
            on_listener();
    }
}
