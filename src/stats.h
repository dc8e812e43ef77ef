/* Daemon-wide statistics from worker counter snapshots (§14), and the
 * `iouringd metrics` line (§15.2). Pure. */
#ifndef IOD_STATS_H
#define IOD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iouringd/protocol.h>

#include "channel.h"

/* Lifetime sums of exited workers. */
struct iod_stats_totals {
    struct iod_worker_counters sum; /* only the lifetime fields are used */
};

/* Adds an exited worker's last counters. A worker that did not end cleanly
 * (killed, crashed) has its completions raised to its accepted submits: its
 * unfinished tasks were abandoned with it (§12). */
void iod_stats_add_exited(struct iod_stats_totals *t, const struct iod_worker_counters *c,
                          bool abnormal);
/* Lifetime sums plus gauges of the given live workers. */
void iod_stats_aggregate(const struct iod_stats_totals *t,
                         const struct iod_worker_counters *const *live, size_t nlive,
                         uint32_t credits, struct iouringd_stats_result *out,
                         struct iod_worker_counters *lifetime);

struct iod_metrics_fields {
    const char *phase;
    long pid;
    const char *job_field;
    const char *socket;
    uint32_t ring_entries, registered_fd_slots, registered_buffer_slots, io_bytes_max,
        credits;
};
size_t iod_stats_format_metrics(char *buf, size_t cap, const struct iod_metrics_fields *m,
                                const struct iouringd_stats_result *s);

#endif
