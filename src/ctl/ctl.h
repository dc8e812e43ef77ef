/* iouringctl: the operator's view of a running iouringd. render.c turns a
 * snapshot into text (pure), query.c fetches the snapshot from the daemon,
 * check.c hands `check` to the daemon binary, iouringctl.c parses the command
 * line and maps failures to exit codes (0 ok, 1 unreachable/refused, 2 usage). */
#ifndef IOURINGCTL_CTL_H
#define IOURINGCTL_CTL_H

#include <iouringd/protocol.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_DEFAULT_SOCKET "/tmp/iouringd.sock"
#define CTL_PROTOCOL "1.12"

/* ---- output buffer: everything is built in memory, then written at once ---- */

struct ctl_buf {
    char *data;
    size_t len, cap;
    bool failed; /* an allocation failed; the content is incomplete */
};

void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctl_buf_free(struct ctl_buf *b);
/* Writes the whole buffer to fd (one write(2) unless the kernel takes less);
 * 0 or -errno. */
int ctl_buf_write(const struct ctl_buf *b, int fd);

/* ---- what the daemon told us ------------------------------------------------ */

struct ctl_snapshot {
    const char *socket;
    struct iouringd_stats_result stats;  /* GET_STATS, or counters.stats */
    bool have_counters;                  /* the daemon answered the extension */
    struct iouringd_daemon_counters counters;
};

extern const char *const ctl_refusal_names[IOURINGD_REFUSED_REASONS];
extern const char *const ctl_exit_names[IOURINGD_EXIT_REASONS];

/* ---- render.c (pure) ---------------------------------------------------------- */

void ctl_render_table(struct ctl_buf *b, const struct ctl_snapshot *s);
void ctl_render_json(struct ctl_buf *b, const struct ctl_snapshot *s);
/* Prometheus text exposition format 0.0.4. */
void ctl_render_metrics(struct ctl_buf *b, const struct ctl_snapshot *s, const char *version);

/* ---- query.c ------------------------------------------------------------------ */

enum ctl_stage { CTL_STAGE_CONNECT, CTL_STAGE_HANDSHAKE, CTL_STAGE_QUERY };

struct ctl_error {
    int err; /* errno value */
    enum ctl_stage stage;
};

/* Connects and handshakes; returns the fd, or -1 with *e set. *rtt_ns (if not
 * NULL) receives the handshake round trip. */
int ctl_open(const char *socket, uint64_t *rtt_ns, struct ctl_error *e);

/* Fills *s: the extension first; if the daemon disconnects on it, a second
 * connection and GET_STATS. *warn_err is set (non-zero errno) when the daemon
 * answered the extension with something unusable. 0, or -1 with *e set. */
int ctl_collect(const char *socket, struct ctl_snapshot *s, int *warn_err, struct ctl_error *e);

/* ---- check.c ------------------------------------------------------------------ */

/* Execs `iouringd --check` (next to this binary, else from PATH). Returns only if
 * that failed, after printing why; the return value is the exit status. */
int ctl_exec_check(void);

#endif
