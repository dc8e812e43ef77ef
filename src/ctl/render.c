/* Snapshot → text: the human table, one JSON object, and Prometheus text format
 * 0.0.4 for node_exporter's textfile collector. Pure: no I/O except
 * ctl_buf_write, so every byte of output is decided before any is written. */
#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const ctl_refusal_names[IOURINGD_REFUSED_REASONS] = {
    "peer_credentials", "max_clients", "max_clients_per_uid", "resources", "worker_setup",
};

const char *const ctl_exit_names[IOURINGD_EXIT_REASONS] = {
    "clean",          "protocol_violation", "handshake_reject",  "io_error",
    "internal_error", "crash",              "sandbox_violation", "malformed_record",
};

/* ---- buffer ---------------------------------------------------------------------- */

void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len <= (size_t)n)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
}

void ctl_buf_free(struct ctl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

int ctl_buf_write(const struct ctl_buf *b, int fd)
{
    if (b->failed)
        return -ENOMEM;
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(fd, b->data + off, b->len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (size_t)n;
    }
    return 0;
}

/* ---- shared pieces ------------------------------------------------------------------ */

struct stat_field {
    const char *name; /* §14 name: table row, JSON key, metric name stem */
    const char *help;
    bool counter;
};

/* The GET_STATS fields in §14 order. */
static const struct stat_field stats_fields[] = {
    {"active_clients", "Connected clients, this iouringctl connection included.", false},
    {"outstanding_tasks", "Accepted, unfinished tasks over all live workers.", false},
    {"outstanding_credit_tasks", "Outstanding tasks that hold a credit.", false},
    {"available_credits", "Remaining credits summed over connected clients.", false},
    {"registered_files", "Registered file resources over all live workers.", false},
    {"registered_buffers", "Registered buffers over all live workers.", false},
    {"accepted_submits", "Task requests accepted since the daemon started.", true},
    {"rejected_submits", "Task requests rejected since the daemon started.", true},
    {"completions", "Tasks finished since the daemon started.", true},
    {"per_client_credit_limit", "Credits per connection.", false},
    {"clients_at_credit_limit", "Connected clients with no remaining credit.", false},
};
#define STATS_FIELDS (sizeof stats_fields / sizeof stats_fields[0])

static uint64_t stats_value(const struct iouringd_stats_result *st, size_t i)
{
    switch (i) {
    case 0: return st->active_clients;
    case 1: return st->outstanding_tasks;
    case 2: return st->outstanding_credit_tasks;
    case 3: return st->available_credits;
    case 4: return st->registered_files;
    case 5: return st->registered_buffers;
    case 6: return st->accepted_submits;
    case 7: return st->rejected_submits;
    case 8: return st->completions;
    case 9: return st->per_client_credit_limit;
    default: return st->clients_at_credit_limit;
    }
}

/* Daemon-counter scalars (not by reason), in table/JSON order. */
struct counter_field {
    const char *name;
    uint64_t value;
};

static size_t counter_fields(const struct iouringd_daemon_counters *c, struct counter_field *out)
{
    size_t n = 0;
    out[n++] = (struct counter_field){"live_workers", c->live_workers};
    out[n++] = (struct counter_field){"max_clients", c->max_clients};
    out[n++] = (struct counter_field){"admitted_total", c->admitted_total};
    out[n++] = (struct counter_field){"bytes_read_total", c->bytes_read_total};
    out[n++] = (struct counter_field){"bytes_written_total", c->bytes_written_total};
    out[n++] = (struct counter_field){"completions_ok_total", c->completions_ok_total};
    out[n++] = (struct counter_field){"completions_error_total", c->completions_error_total};
    return n;
}

static const char *seccomp_mode(const struct iouringd_daemon_counters *c)
{
    return c->seccomp_log_mode ? "log" : "enforce";
}

/* Seconds with nanosecond precision, exact: "12.000345678". */
static void put_seconds(struct ctl_buf *b, uint64_t nsec)
{
    ctl_buf_printf(b, "%" PRIu64 ".%09" PRIu64, nsec / 1000000000u, nsec % 1000000000u);
}

/* ---- human table --------------------------------------------------------------------- */

#define ROW "  %-26s "

void ctl_render_table(struct ctl_buf *b, const struct ctl_snapshot *s)
{
    ctl_buf_printf(b, "iouringd at %s\n\nstats (GET_STATS)\n", s->socket);
    for (size_t i = 0; i < STATS_FIELDS; i++)
        ctl_buf_printf(b, ROW "%" PRIu64 "\n", stats_fields[i].name, stats_value(&s->stats, i));
    if (!s->have_counters) {
        ctl_buf_printf(b, "\ndaemon counters: not offered by this daemon\n");
        return;
    }
    const struct iouringd_daemon_counters *c = &s->counters;
    struct counter_field f[8];
    size_t n = counter_fields(c, f);
    ctl_buf_printf(b, "\ndaemon\n" ROW, "uptime_seconds");
    put_seconds(b, c->uptime_nsec);
    ctl_buf_printf(b, "\n" ROW "%s\n", "seccomp_mode", seccomp_mode(c));
    for (size_t i = 0; i < n; i++)
        ctl_buf_printf(b, ROW "%" PRIu64 "\n", f[i].name, f[i].value);
    ctl_buf_printf(b, "\nrefused_total\n");
    for (size_t i = 0; i < IOURINGD_REFUSED_REASONS; i++)
        ctl_buf_printf(b, ROW "%" PRIu64 "\n", ctl_refusal_names[i], c->refused_total[i]);
    ctl_buf_printf(b, "\nworker_exits_total\n");
    for (size_t i = 0; i < IOURINGD_EXIT_REASONS; i++)
        ctl_buf_printf(b, ROW "%" PRIu64 "\n", ctl_exit_names[i], c->worker_exits_total[i]);
}

/* ---- JSON -------------------------------------------------------------------------- */

static void json_string(struct ctl_buf *b, const char *str)
{
    ctl_buf_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\')
            ctl_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            ctl_buf_printf(b, "\\u%04x", *p);
        else
            ctl_buf_printf(b, "%c", *p);
    }
    ctl_buf_printf(b, "\"");
}

void ctl_render_json(struct ctl_buf *b, const struct ctl_snapshot *s)
{
    ctl_buf_printf(b, "{\"socket\":");
    json_string(b, s->socket);
    ctl_buf_printf(b, ",\"daemon_counters\":%s", s->have_counters ? "true" : "false");
    for (size_t i = 0; i < STATS_FIELDS; i++)
        ctl_buf_printf(b, ",\"%s\":%" PRIu64, stats_fields[i].name, stats_value(&s->stats, i));
    if (s->have_counters) {
        const struct iouringd_daemon_counters *c = &s->counters;
        struct counter_field f[8];
        size_t n = counter_fields(c, f);
        ctl_buf_printf(b, ",\"uptime_seconds\":");
        put_seconds(b, c->uptime_nsec);
        ctl_buf_printf(b, ",\"seccomp_mode\":\"%s\"", seccomp_mode(c));
        for (size_t i = 0; i < n; i++)
            ctl_buf_printf(b, ",\"%s\":%" PRIu64, f[i].name, f[i].value);
        ctl_buf_printf(b, ",\"refused_total\":{");
        for (size_t i = 0; i < IOURINGD_REFUSED_REASONS; i++)
            ctl_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", ctl_refusal_names[i],
                           c->refused_total[i]);
        ctl_buf_printf(b, "},\"worker_exits_total\":{");
        for (size_t i = 0; i < IOURINGD_EXIT_REASONS; i++)
            ctl_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", ctl_exit_names[i],
                           c->worker_exits_total[i]);
        ctl_buf_printf(b, "}");
    }
    ctl_buf_printf(b, "}\n");
}

/* ---- Prometheus ---------------------------------------------------------------------- */

static void family(struct ctl_buf *b, const char *name, const char *type, const char *help)
{
    ctl_buf_printf(b, "# HELP iouringd_%s %s\n# TYPE iouringd_%s %s\n", name, help, name, type);
}

static void sample(struct ctl_buf *b, const char *name, uint64_t v)
{
    ctl_buf_printf(b, "iouringd_%s %" PRIu64 "\n", name, v);
}

static void labelled(struct ctl_buf *b, const char *name, const char *label, const char *value,
                     uint64_t v)
{
    ctl_buf_printf(b, "iouringd_%s{%s=\"%s\"} %" PRIu64 "\n", name, label, value, v);
}

/* Label values: backslash, double quote and newline are escaped (0.0.4). */
static void label_value(struct ctl_buf *b, const char *str)
{
    for (const char *p = str; *p; p++) {
        if (*p == '\\' || *p == '"')
            ctl_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            ctl_buf_printf(b, "\\n");
        else
            ctl_buf_printf(b, "%c", *p);
    }
}

void ctl_render_metrics(struct ctl_buf *b, const struct ctl_snapshot *s, const char *version)
{
    const struct iouringd_daemon_counters *c = s->have_counters ? &s->counters : NULL;

    family(b, "build_info", "gauge", "Version of iouringctl and the protocol it spoke; always 1.");
    ctl_buf_printf(b, "iouringd_build_info{version=\"");
    label_value(b, version);
    ctl_buf_printf(b, "\",protocol=\"%s\"} 1\n", CTL_PROTOCOL);
    if (c != NULL) {
        family(b, "uptime_seconds", "gauge", "Seconds since the daemon started.");
        ctl_buf_printf(b, "iouringd_uptime_seconds ");
        put_seconds(b, c->uptime_nsec);
        ctl_buf_printf(b, "\n");
    }

    /* GET_STATS gauges, then its lifetime counters. */
    for (size_t i = 0; i < STATS_FIELDS; i++) {
        if (stats_fields[i].counter)
            continue;
        family(b, stats_fields[i].name, "gauge", stats_fields[i].help);
        sample(b, stats_fields[i].name, stats_value(&s->stats, i));
    }
    if (c != NULL) {
        family(b, "live_workers", "gauge",
               "Forked, not yet reaped workers (one per admitted connection).");
        sample(b, "live_workers", c->live_workers);
        family(b, "max_clients", "gauge", "The --max-clients limit on live workers.");
        sample(b, "max_clients", c->max_clients);
        family(b, "seccomp_log_mode", "gauge",
               "1 if workers run with --seccomp-mode log (violations are not enforced).");
        sample(b, "seccomp_log_mode", c->seccomp_log_mode ? 1 : 0);
    }
    family(b, "accepted_submits_total", "counter", stats_fields[6].help);
    sample(b, "accepted_submits_total", s->stats.accepted_submits);
    family(b, "rejected_submits_total", "counter", stats_fields[7].help);
    sample(b, "rejected_submits_total", s->stats.rejected_submits);
    if (c == NULL) {
        family(b, "completions_total", "counter", stats_fields[8].help);
        sample(b, "completions_total", s->stats.completions);
        return;
    }
    family(b, "completions_total", "counter",
           "Tasks finished since the daemon started, by result (ok: res >= 0).");
    labelled(b, "completions_total", "result", "ok", c->completions_ok_total);
    labelled(b, "completions_total", "result", "error", c->completions_error_total);

    family(b, "admissions_total", "counter", "Connections admitted (a worker was forked).");
    sample(b, "admissions_total", c->admitted_total);
    family(b, "admissions_refused_total", "counter", "Connections refused, by reason.");
    for (size_t i = 0; i < IOURINGD_REFUSED_REASONS; i++)
        labelled(b, "admissions_refused_total", "reason", ctl_refusal_names[i],
                 c->refused_total[i]);
    family(b, "worker_exits_total", "counter", "Workers reaped, by exit reason.");
    for (size_t i = 0; i < IOURINGD_EXIT_REASONS; i++)
        labelled(b, "worker_exits_total", "reason", ctl_exit_names[i], c->worker_exits_total[i]);
    family(b, "read_bytes_total", "counter", "Payload bytes read by read tasks.");
    sample(b, "read_bytes_total", c->bytes_read_total);
    family(b, "written_bytes_total", "counter", "Bytes written by write tasks.");
    sample(b, "written_bytes_total", c->bytes_written_total);
}
