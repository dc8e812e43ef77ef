/* trace: the per-connection ring of 256 events, its sequence numbers and the
 * GET_TRACE selection rule (§15.1), and the exact `iouringd trace` line of
 * §15.2. */
#include "trace.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct iod_trace_ring *ring;
static struct iouringd_trace_event out[300];
static struct iouringd_trace_result res;

static void setup(void)
{
    ring = malloc(sizeof *ring);
    cr_assert_not_null(ring);
    iod_trace_init(ring);
}

static void teardown(void)
{
    free(ring);
}

TestSuite(trace, .init = setup, .fini = teardown);

/* Records n events whose task_id encodes their recording order (1-based). */
static void record_n(uint64_t n)
{
    static uint64_t order;
    if (ring->latest == 0)
        order = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct iouringd_trace_event e;
        memset(&e, 0, sizeof e);
        e.task_id = ++order;
        e.event_kind = 1;
        e.task_kind = 1;
        e.credits = 7;
        e.reserved1 = 0xFFFFFFFFu;
        uint64_t seq = iod_trace_record(ring, &e);
        cr_assert_eq(seq, order, "sequences start at 1 and never repeat");
        cr_assert_eq(e.sequence, seq);
    }
}

static uint32_t sel(uint64_t after, uint32_t max)
{
    memset(&res, 0xEE, sizeof res);
    memset(out, 0, sizeof out);
    uint32_t n = iod_trace_select(ring, after, max, &res, out);
    cr_assert_eq(res.count, n);
    cr_assert_eq(res.reserved, 0);
    return n;
}

static void check_run(uint32_t n, uint64_t first)
{
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(out[i].sequence, first + i, "event %u", i);
        cr_assert_eq(out[i].task_id, first + i, "event %u content", i);
        cr_assert_eq(out[i].reserved1, 0, "reserved1 is 0 on the wire");
    }
}

Test(trace, empty_ring)
{
    cr_assert_eq(sel(0, 256), 0);
    cr_assert_eq(res.oldest_sequence, 0);
    cr_assert_eq(res.latest_sequence, 0);
    cr_assert_eq(res.count, 0);
    cr_assert_eq(sel(UINT64_MAX, 0), 0);
    cr_assert_eq(res.oldest_sequence, 0);
    cr_assert_eq(res.latest_sequence, 0);
}

Test(trace, all_events_oldest_first)
{
    record_n(4);
    cr_assert_eq(sel(0, 256), 4);
    cr_assert_eq(res.oldest_sequence, 1);
    cr_assert_eq(res.latest_sequence, 4);
    check_run(4, 1);
}

Test(trace, after_sequence_at_or_past_latest_gives_nothing_but_sequences)
{
    record_n(10);
    uint64_t afters[] = {10, 11, 1000, UINT64_MAX};
    for (size_t i = 0; i < sizeof afters / sizeof afters[0]; i++) {
        cr_assert_eq(sel(afters[i], 256), 0);
        cr_assert_eq(res.oldest_sequence, 1, "both sequences filled when count is 0");
        cr_assert_eq(res.latest_sequence, 10);
    }
    cr_assert_eq(sel(9, 256), 1);
    check_run(1, 10);
}

Test(trace, max_events_zero_gives_nothing_but_sequences)
{
    record_n(3);
    cr_assert_eq(sel(0, 0), 0);
    cr_assert_eq(res.oldest_sequence, 1);
    cr_assert_eq(res.latest_sequence, 3);
}

Test(trace, max_events_limits_from_the_oldest_selected)
{
    record_n(100);
    cr_assert_eq(sel(0, 10), 10);
    check_run(10, 1);
    cr_assert_eq(res.oldest_sequence, 1);
    cr_assert_eq(res.latest_sequence, 100);
    cr_assert_eq(sel(50, 10), 10);
    check_run(10, 51);
    cr_assert_eq(sel(95, 10), 5);
    check_run(5, 96);
    cr_assert_eq(sel(99, 1), 1);
    check_run(1, 100);
}

Test(trace, exactly_256_events)
{
    record_n(256);
    cr_assert_eq(sel(0, 256), 256);
    cr_assert_eq(res.oldest_sequence, 1);
    cr_assert_eq(res.latest_sequence, 256);
    check_run(256, 1);
}

Test(trace, wrap_around_keeps_the_newest_256)
{
    record_n(257);
    cr_assert_eq(sel(0, 256), 256);
    cr_assert_eq(res.oldest_sequence, 2);
    cr_assert_eq(res.latest_sequence, 257);
    check_run(256, 2);

    record_n(1000 - 257);
    cr_assert_eq(sel(0, 256), 256);
    cr_assert_eq(res.latest_sequence, 1000);
    cr_assert_eq(res.oldest_sequence, 1000 - 255);
    check_run(256, 745);
}

Test(trace, selection_starts_at_max_of_after_plus_one_and_oldest)
{
    record_n(600); /* oldest 345 */
    cr_assert_eq(sel(100, 256), 256, "after below oldest starts at oldest");
    check_run(256, 345);
    cr_assert_eq(sel(344, 256), 256);
    check_run(256, 345);
    cr_assert_eq(sel(345, 256), 255);
    check_run(255, 346);
    cr_assert_eq(sel(500, 256), 100);
    check_run(100, 501);
    cr_assert_eq(sel(100, 3), 3);
    check_run(3, 345);
    cr_assert_eq(sel(599, 256), 1);
    check_run(1, 600);
    cr_assert_eq(sel(600, 256), 0);
    cr_assert_eq(res.oldest_sequence, 345);
    cr_assert_eq(res.latest_sequence, 600);
}

Test(trace, record_stores_a_copy_with_all_fields)
{
    struct iouringd_trace_event e = {
        .timestamp_nsec = 123456789012345ull,
        .task_id = 42,
        .resource_id = 9,
        .res = -2,
        .credits = 3,
        .event_kind = 2,
        .task_kind = 4,
        .client_slot = 17,
        .priority = 2,
    };
    cr_assert_eq(iod_trace_record(ring, &e), 1);
    e.task_id = 999; /* later changes to the caller's copy do not leak in */
    cr_assert_eq(sel(0, 1), 1);
    cr_assert_eq(out[0].sequence, 1);
    cr_assert_eq(out[0].timestamp_nsec, 123456789012345ull);
    cr_assert_eq(out[0].task_id, 42);
    cr_assert_eq(out[0].resource_id, 9);
    cr_assert_eq(out[0].res, -2);
    cr_assert_eq(out[0].credits, 3);
    cr_assert_eq(out[0].event_kind, 2);
    cr_assert_eq(out[0].task_kind, 4);
    cr_assert_eq(out[0].client_slot, 17);
    cr_assert_eq(out[0].priority, 2);
    cr_assert_eq(out[0].reserved1, 0);
}

/* ---- trace line (§15.2) ------------------------------------------------ */

static char line[4096];

static const char *fmt(const struct iouringd_trace_event *e, uint32_t bytes, long pid,
                       const char *job, uint64_t conn)
{
    memset(line, 'X', sizeof line);
    size_t n = iod_trace_format_line(line, sizeof line, e, bytes, pid, job, conn);
    cr_assert_eq(n, strlen(line), "returned length matches the string");
    return line;
}

Test(trace, line_matches_the_contract_example)
{
    struct iouringd_trace_event e = {
        .sequence = 1, .timestamp_nsec = 1053036785166ull, .task_id = 1, .resource_id = 0,
        .res = 0, .credits = 31, .event_kind = 1, .task_kind = 1, .client_slot = 0,
        .priority = 0,
    };
    cr_assert_str_eq(fmt(&e, 0, 15498, " job_id=7", 1),
                     "iouringd trace sequence=1 timestamp_nsec=1053036785166 pid=15498 "
                     "job_id=7 client_slot=0 event=submit_accept task_kind=nop "
                     "priority=normal task_id=1 resource_id=0 bytes=0 result=0 credits=31 "
                     "conn=1\n");
}

Test(trace, line_without_job_id)
{
    struct iouringd_trace_event e = {
        .sequence = 77, .timestamp_nsec = 5, .task_id = 0, .resource_id = 9,
        .res = -2, .credits = 0, .event_kind = 2, .task_kind = 8, .client_slot = 4095,
        .priority = 1,
    };
    cr_assert_str_eq(fmt(&e, 4096, 1, " job_id=-", 12345678901234ull),
                     "iouringd trace sequence=77 timestamp_nsec=5 pid=1 job_id=- "
                     "client_slot=4095 event=submit_reject task_kind=file_read priority=low "
                     "task_id=0 resource_id=9 bytes=4096 result=-2 credits=0 "
                     "conn=12345678901234\n");
}

Test(trace, line_completion_with_large_values)
{
    struct iouringd_trace_event e = {
        .sequence = UINT64_MAX, .timestamp_nsec = UINT64_MAX, .task_id = UINT64_MAX - 16,
        .resource_id = UINT32_MAX, .res = INT32_MIN, .credits = 4095, .event_kind = 3,
        .task_kind = 7, .client_slot = 65535, .priority = 2,
    };
    cr_assert_str_eq(fmt(&e, 65535, 2147483647L, " job_id=18446744073709551615",
                         UINT64_MAX),
                     "iouringd trace sequence=18446744073709551615 "
                     "timestamp_nsec=18446744073709551615 pid=2147483647 "
                     "job_id=18446744073709551615 client_slot=65535 event=completion "
                     "task_kind=sock_write_fixed priority=high "
                     "task_id=18446744073709551599 resource_id=4294967295 bytes=65535 "
                     "result=-2147483648 credits=4095 conn=18446744073709551615\n");
}

Test(trace, line_resource_events_use_control)
{
    struct iouringd_trace_event e = {
        .sequence = 3, .timestamp_nsec = 10, .resource_id = 4, .credits = 32,
        .event_kind = 4, .task_kind = 0, .client_slot = 2, .priority = 0,
    };
    cr_assert_str_eq(fmt(&e, 100, 99, " job_id=0", 3),
                     "iouringd trace sequence=3 timestamp_nsec=10 pid=99 job_id=0 "
                     "client_slot=2 event=resource_register task_kind=control "
                     "priority=normal task_id=0 resource_id=4 bytes=100 result=0 "
                     "credits=32 conn=3\n");
    e.event_kind = 5;
    e.sequence = 4;
    cr_assert_str_eq(fmt(&e, 0, 99, " job_id=-", 3),
                     "iouringd trace sequence=4 timestamp_nsec=10 pid=99 job_id=- "
                     "client_slot=2 event=resource_release task_kind=control "
                     "priority=normal task_id=0 resource_id=4 bytes=0 result=0 "
                     "credits=32 conn=3\n");
}

Test(trace, line_unknown_names)
{
    struct iouringd_trace_event e = {
        .sequence = 1, .event_kind = 9, .task_kind = 99, .priority = 3,
    };
    cr_assert_str_eq(fmt(&e, 0, 1, " job_id=-", 0),
                     "iouringd trace sequence=1 timestamp_nsec=0 pid=1 job_id=- "
                     "client_slot=0 event=unknown task_kind=unknown priority=unknown "
                     "task_id=0 resource_id=0 bytes=0 result=0 credits=0 conn=0\n");
}

Test(trace, line_every_task_kind_name)
{
    static const char *const names[] = {
        "nop", "timeout", "cancel", "sock_read", "sock_write", "sock_read_fixed",
        "sock_write_fixed", "file_read", "file_write", "poll", "connect", "accept",
        "openat", "close",
    };
    for (uint16_t k = 1; k <= 14; k++) {
        struct iouringd_trace_event e = {.sequence = k, .event_kind = 3, .task_kind = k};
        char want[512];
        snprintf(want, sizeof want,
                 "iouringd trace sequence=%u timestamp_nsec=0 pid=5 job_id=- client_slot=0 "
                 "event=completion task_kind=%s priority=normal task_id=0 resource_id=0 "
                 "bytes=0 result=0 credits=0 conn=1\n",
                 (unsigned)k, names[k - 1]);
        cr_assert_str_eq(fmt(&e, 0, 5, " job_id=-", 1), want);
    }
}

Test(trace, line_truncates_safely)
{
    struct iouringd_trace_event e = {.sequence = 1, .event_kind = 1, .task_kind = 1};
    char small[16];
    size_t n = iod_trace_format_line(small, sizeof small, &e, 0, 1, " job_id=-", 1);
    cr_assert_lt(n, sizeof small);
    cr_assert_eq(small[n], '\0');
    cr_assert_eq(strncmp(small, "iouringd trace ", n), 0);
}
