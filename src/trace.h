/* Per-connection trace ring of the last 256 events (§15.1), its selection
 * rule, and the `--trace-stderr` line format (§15.2). Pure. */
#ifndef IOD_TRACE_H
#define IOD_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include <iouringd/protocol.h>

struct iod_trace_ring {
    struct iouringd_trace_event ev[IOURINGD_TRACE_RING_EVENTS];
    uint64_t latest; /* sequence of the newest event, 0 if none */
};

void iod_trace_init(struct iod_trace_ring *t);
/* Assigns the next sequence number to *e, stores it and returns it. */
uint64_t iod_trace_record(struct iod_trace_ring *t, struct iouringd_trace_event *e);
/* Fills the result header and copies at most max_events (<= 256) selected
 * events into out, oldest first. Returns the count. */
uint32_t iod_trace_select(const struct iod_trace_ring *t, uint64_t after_sequence,
                          uint32_t max_events, struct iouringd_trace_result *res,
                          struct iouringd_trace_event *out);

/* Formats one `iouringd trace ...` line; returns its length. */
size_t iod_trace_format_line(char *buf, size_t cap, const struct iouringd_trace_event *e,
                             uint32_t bytes, long pid, const char *job_field, uint64_t conn);

#endif
