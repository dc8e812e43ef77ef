/* Trace ring and trace line format. The ring keeps the newest 256 events;
 * sequence numbers start at 1 and never repeat within a connection. */
#include "trace.h"
#include "wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void iod_trace_init(struct iod_trace_ring *t)
{
    memset(t, 0, sizeof *t);
}

uint64_t iod_trace_record(struct iod_trace_ring *t, struct iouringd_trace_event *e)
{
    e->sequence = ++t->latest;
    e->reserved1 = 0;
    t->ev[(e->sequence - 1) % IOURINGD_TRACE_RING_EVENTS] = *e;
    return e->sequence;
}

uint32_t iod_trace_select(const struct iod_trace_ring *t, uint64_t after_sequence,
                          uint32_t max_events, struct iouringd_trace_result *res,
                          struct iouringd_trace_event *out)
{
    memset(res, 0, sizeof *res);
    if (t->latest == 0)
        return 0;
    uint64_t kept = t->latest < IOURINGD_TRACE_RING_EVENTS ? t->latest : IOURINGD_TRACE_RING_EVENTS;
    res->latest_sequence = t->latest;
    res->oldest_sequence = t->latest - kept + 1;
    if (max_events == 0 || after_sequence >= t->latest)
        return 0;
    if (max_events > IOURINGD_TRACE_RING_EVENTS)
        max_events = IOURINGD_TRACE_RING_EVENTS;
    uint64_t first = after_sequence + 1 > res->oldest_sequence ? after_sequence + 1
                                                                 : res->oldest_sequence;
    uint32_t n = 0;
    for (uint64_t s = first; s <= t->latest && n < max_events; s++)
        out[n++] = t->ev[(s - 1) % IOURINGD_TRACE_RING_EVENTS];
    res->count = n;
    return n;
}

size_t iod_trace_format_line(char *buf, size_t cap, const struct iouringd_trace_event *e,
                             uint32_t bytes, long pid, const char *job_field, uint64_t conn)
{
    int n = snprintf(buf, cap,
                     "iouringd trace sequence=%" PRIu64 " timestamp_nsec=%" PRIu64
                     " pid=%ld%s client_slot=%u event=%s task_kind=%s priority=%s"
                     " task_id=%" PRIu64 " resource_id=%u bytes=%u result=%d credits=%u"
                     " conn=%" PRIu64 "\n",
                     e->sequence, e->timestamp_nsec, pid, job_field, (unsigned)e->client_slot,
                     iod_event_name(e->event_kind), iod_kind_name(e->task_kind),
                     iod_priority_name(e->priority), e->task_id, e->resource_id, bytes, e->res,
                     e->credits, conn);
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}
