/* Trace (§15): the per-connection ring read with GET_TRACE (§5.4, §15.1) over the
 * raw protocol, and the `--trace-stderr` lines (§15.2) read back after SIGTERM. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(trace, .fini = h_cleanup, .timeout = 30);

#define RING IOURINGD_TRACE_RING_EVENTS

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* GET_TRACE: the 24-byte result and its events, whole. */
static uint32_t get_trace(struct h_conn *c, uint64_t after, uint32_t max,
                          struct iouringd_trace_result *res, struct iouringd_trace_event *ev)
{
    struct iouringd_get_trace_request r = h_get_trace(after, max);
    h_send(c, &r, sizeof r);
    h_read_reply(c, res, sizeof *res);
    cr_assert_eq(res->reserved, 0, "trace result reserved = %u", res->reserved);
    cr_assert(res->count <= max, "trace count %u > max_events %u", res->count, max);
    for (uint32_t i = 0; i < res->count; i++) {
        size_t got = 0;
        int rc = h_read_exact(c->fd, &ev[i], sizeof ev[i], &got, H_TIMEOUT_MS);
        cr_assert_eq(rc, 0, "reading trace event %u of %u: %s", i, res->count, strerror(-rc));
    }
    return res->count;
}

static void assert_result(const struct iouringd_trace_result *r, uint64_t oldest,
                          uint64_t latest, uint32_t count)
{
    cr_assert(r->oldest_sequence == oldest && r->latest_sequence == latest && r->count == count,
              "trace result {oldest %llu, latest %llu, count %u}, want {%llu, %llu, %u}",
              (unsigned long long)r->oldest_sequence, (unsigned long long)r->latest_sequence,
              r->count, (unsigned long long)oldest, (unsigned long long)latest, count);
}

struct want_ev {
    uint64_t seq;
    uint16_t kind;
    uint16_t task_kind;
    uint64_t task_id;
    uint32_t resource_id;
    int32_t res;
    uint32_t credits;
    uint16_t slot;
    uint16_t prio;
};

/* Every field of one event; timestamps only non-zero here (order checked by callers). */
static void assert_event(const struct iouringd_trace_event *e, struct want_ev w)
{
    cr_assert(e->sequence == w.seq && e->event_kind == w.kind && e->task_kind == w.task_kind &&
                  e->task_id == w.task_id && e->resource_id == w.resource_id && e->res == w.res &&
                  e->credits == w.credits && e->client_slot == w.slot && e->priority == w.prio &&
                  e->reserved1 == 0,
              "event {seq %llu, kind %u, task_kind %u, task_id %llu, resource %u, res %d, "
              "credits %u, slot %u, prio %u, reserved1 %u}\n"
              " want {seq %llu, kind %u, task_kind %u, task_id %llu, resource %u, res %d, "
              "credits %u, slot %u, prio %u, reserved1 0}",
              (unsigned long long)e->sequence, e->event_kind, e->task_kind,
              (unsigned long long)e->task_id, e->resource_id, e->res, e->credits,
              e->client_slot, e->priority, e->reserved1, (unsigned long long)w.seq, w.kind,
              w.task_kind, (unsigned long long)w.task_id, w.resource_id, w.res, w.credits,
              w.slot, w.prio);
    cr_assert_neq(e->timestamp_nsec, 0, "event %llu has timestamp 0",
                  (unsigned long long)e->sequence);
}

static void assert_timestamps_ordered(const struct iouringd_trace_event *ev, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        cr_assert(ev[i].timestamp_nsec >= ev[i - 1].timestamp_nsec,
                  "timestamp of event %llu (%llu) < event %llu (%llu)",
                  (unsigned long long)ev[i].sequence, (unsigned long long)ev[i].timestamp_nsec,
                  (unsigned long long)ev[i - 1].sequence,
                  (unsigned long long)ev[i - 1].timestamp_nsec);
}

/* NOP with `prio`, round trip: submit result then completion. */
static void nop_rt(struct h_conn *c, uint16_t prio, uint64_t id, uint32_t credits_after)
{
    struct iouringd_request_header nop = h_header(IOURINGD_TASK_NOP, prio);
    h_assert_submit(h_submit(c, &nop, sizeof nop), id, 0, credits_after);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, id, 0, IOURINGD_TASK_NOP, 0);
    h_free_completion(&comp);
}

static void expect_no_trace(struct h_conn *c)
{
    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(c, 0, RING, &r, ev);
    assert_result(&r, 0, 0, 0);
}

/* ---- GET_TRACE ---------------------------------------------------------------- */

Test(trace, empty_ring_on_fresh_connection)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    /* The handshake is not traced (§3, §15.1). */
    expect_no_trace(c);
    /* Asking twice changes nothing: GET_TRACE is not traced either. */
    expect_no_trace(c);
    cr_assert(h_quiet(c->fd, H_QUIET_MS), "bytes after an empty trace result");
}

Test(trace, nop_submit_and_completion_every_field)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    uint64_t before = mono_ns();
    nop_rt(c, 0, 1, C - 1);
    uint64_t after = mono_ns();

    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(c, 0, RING, &r, ev);
    assert_result(&r, 1, 2, 2);
    assert_event(&ev[0], (struct want_ev){1, IOURINGD_TRACE_SUBMIT_ACCEPT, IOURINGD_TASK_NOP, 1,
                                          0, 0, C - 1, 0, 0});
    /* The completion's credits is the value after the credit came back (§4.2). */
    assert_event(&ev[1], (struct want_ev){2, IOURINGD_TRACE_COMPLETION, IOURINGD_TASK_NOP, 1, 0,
                                          0, C, 0, 0});
    /* CLOCK_MONOTONIC, recorded while the request was in flight. */
    cr_assert(ev[0].timestamp_nsec >= before && ev[1].timestamp_nsec >= ev[0].timestamp_nsec &&
                  ev[1].timestamp_nsec <= after,
              "timestamps %llu, %llu not within [%llu, %llu]",
              (unsigned long long)ev[0].timestamp_nsec, (unsigned long long)ev[1].timestamp_nsec,
              (unsigned long long)before, (unsigned long long)after);
    cr_assert(h_quiet(c->fd, H_QUIET_MS), "bytes after the trace result");
}

Test(trace, after_sequence_at_or_past_latest_gives_no_events)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    nop_rt(c, 0, 1, caps.submit_credits - 1);
    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    /* Both sequence fields are filled even when count is 0. */
    get_trace(c, 2, RING, &r, ev);
    assert_result(&r, 1, 2, 0);
    get_trace(c, 3, RING, &r, ev);
    assert_result(&r, 1, 2, 0);
    get_trace(c, UINT64_MAX, RING, &r, ev);
    assert_result(&r, 1, 2, 0);
    /* Just below latest: exactly the last event. */
    get_trace(c, 1, RING, &r, ev);
    assert_result(&r, 1, 2, 1);
    cr_assert_eq(ev[0].sequence, 2);
    cr_assert_eq(ev[0].event_kind, IOURINGD_TRACE_COMPLETION);
}

Test(trace, max_events_zero_gives_no_events)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    nop_rt(c, 0, 1, caps.submit_credits - 1);
    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(c, 0, 0, &r, ev);
    assert_result(&r, 1, 2, 0);
    cr_assert(h_quiet(c->fd, H_QUIET_MS), "bytes after a count-0 trace result");
    /* The connection is fine afterwards. */
    io_expect_alive(c, 2, caps.submit_credits - 1);
}

Test(trace, max_events_one_returns_oldest_selected)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    nop_rt(c, 0, 1, C - 1);
    nop_rt(c, 0, 2, C - 1);
    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(c, 0, 1, &r, ev);
    assert_result(&r, 1, 4, 1);
    assert_event(&ev[0], (struct want_ev){1, IOURINGD_TRACE_SUBMIT_ACCEPT, IOURINGD_TASK_NOP, 1,
                                          0, 0, C - 1, 0, 0});
    get_trace(c, 2, 1, &r, ev);
    assert_result(&r, 1, 4, 1);
    assert_event(&ev[0], (struct want_ev){3, IOURINGD_TRACE_SUBMIT_ACCEPT, IOURINGD_TASK_NOP, 2,
                                          0, 0, C - 1, 0, 0});
    /* max_events 2 from the middle: 3 and 4, oldest first. */
    get_trace(c, 2, 2, &r, ev);
    assert_result(&r, 1, 4, 2);
    cr_assert(ev[0].sequence == 3 && ev[1].sequence == 4);
    cr_assert(h_quiet(c->fd, H_QUIET_MS), "bytes after the trace result");
}

Test(trace, max_events_256_is_accepted)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    nop_rt(c, 0, 1, caps.submit_credits - 1);
    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(c, 0, 256, &r, ev);
    assert_result(&r, 1, 2, 2);
    io_expect_alive(c, 2, caps.submit_credits - 1);
}

static void expect_get_trace_disconnect(struct iouringd_get_trace_request req, const char *what)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    nop_rt(c, 0, 1, caps.submit_credits - 1);
    h_send(c, &req, sizeof req);
    io_expect_disconnect(c, what);
    /* The daemon serves others. */
    struct h_conn *o = h_client(d, NULL);
    expect_no_trace(o);
}

Test(trace, max_events_257_disconnects)
{
    expect_get_trace_disconnect(h_get_trace(0, 257), "GET_TRACE max_events 257");
}

Test(trace, max_events_huge_disconnects)
{
    expect_get_trace_disconnect(h_get_trace(0, UINT32_MAX), "GET_TRACE max_events 2^32-1");
}

Test(trace, reserved2_nonzero_disconnects)
{
    struct iouringd_get_trace_request r = h_get_trace(0, 16);
    r.reserved2 = 1;
    expect_get_trace_disconnect(r, "GET_TRACE reserved2 1");
}

Test(trace, reserved0_nonzero_disconnects)
{
    /* Control kinds: bytes 10-11 must be 0 (stage M). */
    struct iouringd_get_trace_request r = h_get_trace(0, 16);
    r.hdr.priority = 1;
    expect_get_trace_disconnect(r, "GET_TRACE reserved0 1");
}

Test(trace, ring_wraps_after_256_events)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    const uint64_t nops = 200, latest = 2 * nops, oldest = latest - RING + 1; /* 145 */
    for (uint64_t i = 1; i <= nops; i++)
        nop_rt(c, 0, i, C - 1);

    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    /* The whole ring: events oldest..latest, oldest first. Round trip k gave
     * 2k-1 (its submit) and 2k (its completion). */
    get_trace(c, 0, RING, &r, ev);
    assert_result(&r, oldest, latest, RING);
    for (uint32_t i = 0; i < RING; i++) {
        uint64_t seq = oldest + i;
        bool submit = seq % 2 == 1;
        assert_event(&ev[i], (struct want_ev){seq,
                                              submit ? IOURINGD_TRACE_SUBMIT_ACCEPT
                                                     : IOURINGD_TRACE_COMPLETION,
                                              IOURINGD_TASK_NOP, (seq + 1) / 2, 0, 0,
                                              submit ? C - 1 : C, 0, 0});
    }
    assert_timestamps_ordered(ev, RING);

    /* after_sequence below oldest: selection starts at oldest. */
    get_trace(c, 100, 10, &r, ev);
    assert_result(&r, oldest, latest, 10);
    for (uint32_t i = 0; i < 10; i++)
        cr_assert_eq(ev[i].sequence, oldest + i, "event %u has sequence %llu, want %llu", i,
                     (unsigned long long)ev[i].sequence, (unsigned long long)(oldest + i));
    get_trace(c, oldest - 1, 1, &r, ev);
    assert_result(&r, oldest, latest, 1);
    cr_assert_eq(ev[0].sequence, oldest);
    /* Inside the ring: from after_sequence + 1. */
    get_trace(c, oldest, 1, &r, ev);
    assert_result(&r, oldest, latest, 1);
    cr_assert_eq(ev[0].sequence, oldest + 1);
    get_trace(c, latest - 3, RING, &r, ev);
    assert_result(&r, oldest, latest, 3);
    cr_assert(ev[0].sequence == latest - 2 && ev[2].sequence == latest);
    get_trace(c, latest, RING, &r, ev);
    assert_result(&r, oldest, latest, 0);

    /* Numbering never repeats: the next NOP is 401 and 402. */
    nop_rt(c, 0, nops + 1, C - 1);
    get_trace(c, latest, RING, &r, ev);
    assert_result(&r, oldest + 2, latest + 2, 2);
    cr_assert(ev[0].sequence == latest + 1 && ev[1].sequence == latest + 2);
    cr_assert_eq(ev[0].task_id, nops + 1);
}

Test(trace, rejected_submits_are_recorded)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;

    struct iouringd_cancel_request cancel = h_cancel(0);
    h_assert_submit(h_submit(c, &cancel, sizeof cancel), 0, -EINVAL, C);
    h_assert_submit(io_read(c, IOURINGD_TASK_SOCK_READ, 0, 9, 16), 0, -ENOENT, C);
    /* CANCEL's bytes 10-11 are reported as priority (§4.4). */
    struct iouringd_cancel_request cancel_hi = h_cancel(UINT64_MAX);
    cancel_hi.hdr.priority = IOURINGD_PRIORITY_HIGH;
    h_assert_submit(h_submit(c, &cancel_hi, sizeof cancel_hi), 0, -EINVAL, C);
    /* A FILE_READ of length 0 is an S3 reject that still names its resource. */
    h_assert_submit(io_read(c, IOURINGD_TASK_FILE_READ, IOURINGD_PRIORITY_LOW, 5, 0), 0,
                    -EINVAL, C);

    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(c, 0, RING, &r, ev);
    assert_result(&r, 1, 4, 4);
    assert_event(&ev[0], (struct want_ev){1, IOURINGD_TRACE_SUBMIT_REJECT, IOURINGD_TASK_CANCEL,
                                          0, 0, -EINVAL, C, 0, 0});
    assert_event(&ev[1], (struct want_ev){2, IOURINGD_TRACE_SUBMIT_REJECT,
                                          IOURINGD_TASK_SOCK_READ, 0, 9, -ENOENT, C, 0, 0});
    assert_event(&ev[2], (struct want_ev){3, IOURINGD_TRACE_SUBMIT_REJECT, IOURINGD_TASK_CANCEL,
                                          0, 0, -EINVAL, C, 0, IOURINGD_PRIORITY_HIGH});
    assert_event(&ev[3], (struct want_ev){4, IOURINGD_TRACE_SUBMIT_REJECT,
                                          IOURINGD_TASK_FILE_READ, 0, 5, -EINVAL, C, 0,
                                          IOURINGD_PRIORITY_LOW});
    assert_timestamps_ordered(ev, 4);
    /* A reject uses no task id: the next accepted task is 1. */
    nop_rt(c, 0, 1, C - 1);
}

Test(trace, register_poll_release_numbered_in_decision_order)
{
    /* The §15.1 example: REGISTER_FD, POLL accepted, its completion, RELEASE → 1..4. */
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    close(sv[0]);
    h_assert_submit(io_poll(c, id, 0x4 /* POLLOUT */), 1, 0, C - 1);
    struct h_completion comp = h_next_completion(c);
    cr_assert(comp.c.task_id == 1 && comp.c.task_kind == IOURINGD_TASK_POLL && comp.c.res > 0,
              "POLL completion {id %llu, kind %u, res %d}", (unsigned long long)comp.c.task_id,
              comp.c.task_kind, comp.c.res);
    int32_t mask = comp.c.res;
    h_free_completion(&comp);
    io_assert_resource(io_release(c, id), id, 0, caps.registered_fd_slots);

    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(c, 0, RING, &r, ev);
    assert_result(&r, 1, 4, 4);
    assert_event(&ev[0],
                 (struct want_ev){1, IOURINGD_TRACE_RESOURCE_REGISTER, 0, 0, id, 0, C, 0, 0});
    assert_event(&ev[1], (struct want_ev){2, IOURINGD_TRACE_SUBMIT_ACCEPT, IOURINGD_TASK_POLL, 1,
                                          id, 0, C - 1, 0, 0});
    assert_event(&ev[2], (struct want_ev){3, IOURINGD_TRACE_COMPLETION, IOURINGD_TASK_POLL, 1,
                                          id, mask, C, 0, 0});
    assert_event(&ev[3],
                 (struct want_ev){4, IOURINGD_TRACE_RESOURCE_RELEASE, 0, 0, id, 0, C, 0, 0});
    assert_timestamps_ordered(ev, 4);
    close(sv[1]);
}

Test(trace, stats_trace_and_failed_controls_are_not_traced)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    nop_rt(c, 0, 1, C - 1);
    (void)h_stats(c);
    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(c, 0, RING, &r, ev);
    assert_result(&r, 1, 2, 2);
    (void)h_stats(c);
    get_trace(c, 0, 0, &r, ev);
    /* Failed control requests (§5): not traced. */
    io_assert_resource(io_release(c, 5), 0, -ENOENT, 0);
    io_assert_resource(io_release(c, 0), 0, -EINVAL, 0);
    io_assert_resource(io_register_fd(c, -1), 0, -EINVAL, caps.registered_fd_slots);
    nop_rt(c, 0, 2, C - 1);
    get_trace(c, 0, RING, &r, ev);
    assert_result(&r, 1, 4, 4);
    for (uint32_t i = 0; i < 4; i++) {
        cr_assert_eq(ev[i].sequence, i + 1);
        cr_assert_eq(ev[i].task_kind, IOURINGD_TASK_NOP, "event %u is not a NOP event", i + 1);
        cr_assert_eq(ev[i].task_id, i / 2 + 1);
    }
}

Test(trace, clients_never_see_each_other)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps); /* slot 0 */
    struct h_conn *b = h_client(d, NULL);  /* slot 1 */
    uint32_t C = caps.submit_credits;
    nop_rt(a, 0, 1, C - 1);
    nop_rt(b, 0, 1, C - 1);
    nop_rt(a, 0, 2, C - 1);
    struct iouringd_cancel_request cancel = h_cancel(0);
    h_assert_submit(h_submit(b, &cancel, sizeof cancel), 0, -EINVAL, C);

    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(a, 0, RING, &r, ev);
    assert_result(&r, 1, 4, 4);
    assert_event(&ev[0], (struct want_ev){1, IOURINGD_TRACE_SUBMIT_ACCEPT, IOURINGD_TASK_NOP, 1,
                                          0, 0, C - 1, 0, 0});
    assert_event(&ev[1], (struct want_ev){2, IOURINGD_TRACE_COMPLETION, IOURINGD_TASK_NOP, 1, 0,
                                          0, C, 0, 0});
    assert_event(&ev[2], (struct want_ev){3, IOURINGD_TRACE_SUBMIT_ACCEPT, IOURINGD_TASK_NOP, 2,
                                          0, 0, C - 1, 0, 0});
    assert_event(&ev[3], (struct want_ev){4, IOURINGD_TRACE_COMPLETION, IOURINGD_TASK_NOP, 2, 0,
                                          0, C, 0, 0});

    get_trace(b, 0, RING, &r, ev);
    assert_result(&r, 1, 3, 3);
    assert_event(&ev[0], (struct want_ev){1, IOURINGD_TRACE_SUBMIT_ACCEPT, IOURINGD_TASK_NOP, 1,
                                          0, 0, C - 1, 1, 0});
    assert_event(&ev[1], (struct want_ev){2, IOURINGD_TRACE_COMPLETION, IOURINGD_TASK_NOP, 1, 0,
                                          0, C, 1, 0});
    assert_event(&ev[2], (struct want_ev){3, IOURINGD_TRACE_SUBMIT_REJECT, IOURINGD_TASK_CANCEL,
                                          0, 0, -EINVAL, C, 1, 0});

    /* A third client starts from an empty ring. */
    struct h_conn *c3 = h_client(d, NULL);
    expect_no_trace(c3);
}

Test(trace, priority_shows_in_events)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    nop_rt(c, IOURINGD_PRIORITY_HIGH, 1, C - 1);
    nop_rt(c, IOURINGD_PRIORITY_LOW, 2, C - 1);
    nop_rt(c, IOURINGD_PRIORITY_NORMAL, 3, C - 1);
    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(c, 0, RING, &r, ev);
    assert_result(&r, 1, 6, 6);
    const uint16_t want[] = {2, 2, 1, 1, 0, 0};
    for (uint32_t i = 0; i < 6; i++)
        assert_event(&ev[i], (struct want_ev){i + 1,
                                              i % 2 == 0 ? IOURINGD_TRACE_SUBMIT_ACCEPT
                                                         : IOURINGD_TRACE_COMPLETION,
                                              IOURINGD_TASK_NOP, i / 2 + 1, 0, 0,
                                              i % 2 == 0 ? C - 1 : C, 0, want[i]});
}

/* ---- --trace-stderr ------------------------------------------------------------- */

static const char *const trace_keys[] = {
    "sequence", "timestamp_nsec", "pid",         "job_id", "client_slot", "event",  "task_kind",
    "priority", "task_id",        "resource_id", "bytes",  "result",      "credits", "conn"};
#define N_TRACE_KEYS (sizeof trace_keys / sizeof trace_keys[0])

static const char *const metrics_keys[] = {
    "phase",           "pid",           "job_id",
    "socket",          "active_clients", "outstanding_tasks",
    "outstanding_credit_tasks", "available_credits", "registered_files",
    "registered_buffers", "accepted_submits", "rejected_submits",
    "completions",     "ring_entries",  "registered_fd_slots",
    "registered_buffer_slots", "io_bytes_max", "per_client_credit_limit",
    "clients_at_credit_limit"};
#define N_METRICS_KEYS (sizeof metrics_keys / sizeof metrics_keys[0])

static const char *const counters_keys[] = {
    "phase",
    "pid",
    "job_id",
    "admitted",
    "refused_peer_credentials",
    "refused_max_clients",
    "refused_max_clients_per_uid",
    "refused_resources",
    "refused_worker_setup",
    "exits_clean",
    "exits_protocol_violation",
    "exits_handshake_reject",
    "exits_io_error",
    "exits_internal_error",
    "exits_crash",
    "exits_sandbox_violation",
    "exits_malformed_record",
    "bytes_read",
    "bytes_written",
    "completions_ok",
    "completions_error",
    "seccomp_mode"};
#define N_COUNTERS_KEYS (sizeof counters_keys / sizeof counters_keys[0])

/* The daemon's whole stderr with its exact length (NULs would show as such). */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    cr_assert(buf != NULL);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            cr_assert(buf != NULL);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

#define MAX_LINES 256
struct lines {
    char *buf;
    char *line[MAX_LINES];
    size_t n;
};

/* Split stderr into lines: it must end with '\n' and hold no NUL byte. */
static void split_lines(const char *path, struct lines *L)
{
    size_t len;
    L->buf = read_all(path, &len);
    L->n = 0;
    cr_assert(len > 0, "stderr is empty");
    cr_assert(memchr(L->buf, '\0', len) == NULL, "stderr holds a NUL byte:\n%s", L->buf);
    cr_assert_eq(L->buf[len - 1], '\n', "stderr does not end with a whole line:\n%s", L->buf);
    for (char *p = L->buf; *p != '\0';) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        cr_assert(L->n < MAX_LINES, "too many stderr lines");
        L->line[L->n++] = p;
        p = nl + 1;
    }
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A lifecycle line: `iouringd log k=v ...` with level, event, pid first. */
static void check_log_line(const char *line, const char *pid, const char *job)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", line + strlen("iouringd log"));
    const char *first[] = {"level", "event", "pid", "job_id"};
    size_t i = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        cr_assert(eq != NULL && eq != tok && eq[1] != '\0', "bad token '%s' in: %s", tok, line);
        *eq = '\0';
        if (i < 4 && (i < 3 || job != NULL)) {
            cr_assert_str_eq(tok, first[i], "key %zu is '%s' in: %s", i, tok, line);
            if (i == 2)
                cr_assert_str_eq(eq + 1, pid, "pid in: %s", line);
            if (i == 3)
                cr_assert_str_eq(eq + 1, job, "job_id in: %s", line);
        } else {
            cr_assert_str_neq(tok, "job_id", "unexpected job_id in: %s", line);
        }
        i++;
    }
    cr_assert(i >= 3, "short lifecycle line: %s", line);
}

static void expect_trace_line(const char *line, const char *pid, const char *job,
                              const struct iouringd_trace_event *e, const char *event,
                              const char *kind, const char *prio, uint32_t bytes, uint64_t conn)
{
    char v[N_TRACE_KEYS][128];
    h_expect_fields(line, "iouringd trace", trace_keys, N_TRACE_KEYS, v);
    char want[N_TRACE_KEYS][128];
    snprintf(want[0], 128, "%llu", (unsigned long long)e->sequence);
    snprintf(want[1], 128, "%llu", (unsigned long long)e->timestamp_nsec);
    snprintf(want[2], 128, "%s", pid);
    snprintf(want[3], 128, "%s", job);
    snprintf(want[4], 128, "%u", (unsigned)e->client_slot);
    snprintf(want[5], 128, "%s", event);
    snprintf(want[6], 128, "%s", kind);
    snprintf(want[7], 128, "%s", prio);
    snprintf(want[8], 128, "%llu", (unsigned long long)e->task_id);
    snprintf(want[9], 128, "%u", e->resource_id);
    snprintf(want[10], 128, "%u", bytes);
    snprintf(want[11], 128, "%d", e->res);
    snprintf(want[12], 128, "%u", e->credits);
    snprintf(want[13], 128, "%llu", (unsigned long long)conn);
    for (size_t i = 0; i < N_TRACE_KEYS; i++)
        cr_assert_str_eq(v[i], want[i], "%s=%s, want %s, in: %s", trace_keys[i], v[i], want[i],
                         line);
}

Test(trace, trace_stderr_golden_nop_and_file_read)
{
    struct h_daemon *d = h_start("--trace-stderr", "--job-id", "7", NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)d->pid);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps); /* conn=1, slot 0 */
    uint32_t C = caps.submit_credits;
    cr_assert_eq(C, 32);

    nop_rt(c, 0, 1, C - 1);
    static const char content[] = "hello world"; /* 11 bytes */
    char *path = io_make_file(h_tmpdir(), "data", content, 11);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0);
    uint32_t id = io_register_fd_ok(c, fd);
    close(fd);
    cr_assert_eq(id, 1);
    h_assert_submit(io_read(c, IOURINGD_TASK_FILE_READ, 0, id, 100), 2, 0, C - 1);
    struct h_completion comp = io_completion(c, 2, 11, IOURINGD_TASK_FILE_READ, 11);
    cr_assert(memcmp(comp.payload, content, 11) == 0, "FILE_READ payload differs");
    h_free_completion(&comp);

    /* The binary events, to compare with the lines field by field. */
    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(c, 0, RING, &r, ev);
    assert_result(&r, 1, 5, 5);

    /* Leave at a message boundary, let the worker finish, then SIGTERM. */
    h_close(c);
    char *gone = h_wait_stderr_line(d, "iouringd log level=info event=worker_exit ", 1,
                                    H_TIMEOUT_MS);
    cr_assert(gone != NULL, "no worker_exit line after the client left");
    free(gone);
    int status = h_stop(d);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status 0x%x",
              (unsigned)status);

    struct lines L;
    split_lines(d->err_path, &L);
    size_t ntrace = 0, nmetrics = 0, ncounters = 0;
    const char *tl[8];
    size_t counters_at = 0, metrics_ready_at = 0, metrics_shutdown_at = 0;
    for (size_t i = 0; i < L.n; i++) {
        const char *line = L.line[i];
        if (starts(line, "iouringd trace ")) {
            cr_assert(ntrace < 8, "too many trace lines");
            tl[ntrace++] = line;
        } else if (starts(line, "iouringd metrics ")) {
            char v[N_METRICS_KEYS][128];
            h_expect_fields(line, "iouringd metrics", metrics_keys, N_METRICS_KEYS, v);
            cr_assert_str_eq(v[1], pid);
            cr_assert_str_eq(v[2], "7");
            if (nmetrics++ == 0) {
                cr_assert_str_eq(v[0], "ready", "first metrics line: %s", line);
                metrics_ready_at = i;
            } else {
                cr_assert_str_eq(v[0], "shutdown", "second metrics line: %s", line);
                metrics_shutdown_at = i;
                cr_assert_str_eq(v[3], d->sock);
                cr_assert_str_eq(v[4], "0", "active_clients: %s", line);
                cr_assert_str_eq(v[5], "0", "outstanding_tasks: %s", line);
                cr_assert_str_eq(v[9], "0", "registered_buffers: %s", line);
                cr_assert_str_eq(v[8], "0", "registered_files: %s", line);
                cr_assert_str_eq(v[10], "2", "accepted_submits: %s", line);
                cr_assert_str_eq(v[11], "0", "rejected_submits: %s", line);
                cr_assert_str_eq(v[12], "2", "completions: %s", line);
            }
        } else if (starts(line, "iouringd counters ")) {
            ncounters++;
            counters_at = i;
            char v[N_COUNTERS_KEYS][128];
            h_expect_fields(line, "iouringd counters", counters_keys, N_COUNTERS_KEYS, v);
            const char *want[N_COUNTERS_KEYS] = {
                "shutdown", pid, "7", "1", "0", "0", "0", "0", "0", "1", "0",
                "0",        "0", "0", "0", "0", "0", "11", "0", "2", "0", "enforce"};
            for (size_t k = 0; k < N_COUNTERS_KEYS; k++)
                cr_assert_str_eq(v[k], want[k], "%s=%s, want %s, in: %s", counters_keys[k], v[k],
                                 want[k], line);
        } else if (starts(line, "iouringd log ")) {
            check_log_line(line, pid, "7");
        } else {
            cr_assert_fail("unexpected (partial or interleaved?) stderr line: '%s'", line);
        }
    }
    cr_assert_eq(nmetrics, 2, "want 2 metrics lines, got %zu", nmetrics);
    cr_assert_eq(ncounters, 1, "want 1 counters line, got %zu", ncounters);
    cr_assert_eq(metrics_shutdown_at, L.n - 1, "the shutdown metrics line is not last");
    cr_assert_eq(counters_at, L.n - 2, "the counters line is not right before it");
    cr_assert(starts(L.line[0], "iouringd log level=info event=start "),
              "first line is not the start line: %s", L.line[0]);
    cr_assert_eq(metrics_ready_at, 1, "the ready metrics line does not follow the start line");

    cr_assert_eq(ntrace, 5, "want 5 trace lines, got %zu", ntrace);
    expect_trace_line(tl[0], pid, "7", &ev[0], "submit_accept", "nop", "normal", 0, 1);
    expect_trace_line(tl[1], pid, "7", &ev[1], "completion", "nop", "normal", 0, 1);
    expect_trace_line(tl[2], pid, "7", &ev[2], "resource_register", "control", "normal", 0, 1);
    expect_trace_line(tl[3], pid, "7", &ev[3], "submit_accept", "file_read", "normal", 100, 1);
    expect_trace_line(tl[4], pid, "7", &ev[4], "completion", "file_read", "normal", 11, 1);
    /* And the binary events are what the lines promise. */
    assert_event(&ev[0], (struct want_ev){1, IOURINGD_TRACE_SUBMIT_ACCEPT, IOURINGD_TASK_NOP, 1,
                                          0, 0, C - 1, 0, 0});
    assert_event(&ev[1], (struct want_ev){2, IOURINGD_TRACE_COMPLETION, IOURINGD_TASK_NOP, 1, 0,
                                          0, C, 0, 0});
    assert_event(&ev[2],
                 (struct want_ev){3, IOURINGD_TRACE_RESOURCE_REGISTER, 0, 0, id, 0, C, 0, 0});
    assert_event(&ev[3], (struct want_ev){4, IOURINGD_TRACE_SUBMIT_ACCEPT,
                                          IOURINGD_TASK_FILE_READ, 2, id, 0, C - 1, 0, 0});
    assert_event(&ev[4], (struct want_ev){5, IOURINGD_TRACE_COMPLETION, IOURINGD_TASK_FILE_READ,
                                          2, id, 11, C, 0, 0});
    assert_timestamps_ordered(ev, 5);
    free(L.buf);
    free(path);
}

Test(trace, trace_stderr_without_job_id_prints_dash)
{
    struct h_daemon *d = h_start("--trace-stderr", "--quiet", NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)d->pid);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps); /* conn=1, slot 0 */
    struct h_conn *b = h_client(d, NULL);  /* conn=2, slot 1 */
    uint32_t C = caps.submit_credits;
    nop_rt(b, IOURINGD_PRIORITY_LOW, 1, C - 1);
    struct iouringd_trace_result r;
    struct iouringd_trace_event ev[RING];
    get_trace(b, 0, RING, &r, ev);
    assert_result(&r, 1, 2, 2);
    char *l1 = h_wait_stderr_line(d, "iouringd trace ", 1, H_TIMEOUT_MS);
    char *l2 = h_wait_stderr_line(d, "iouringd trace ", 2, H_TIMEOUT_MS);
    cr_assert(l1 != NULL && l2 != NULL, "trace lines missing");
    expect_trace_line(l1, pid, "-", &ev[0], "submit_accept", "nop", "low", 0, 2);
    expect_trace_line(l2, pid, "-", &ev[1], "completion", "nop", "low", 0, 2);
    /* A rejected read names its resource and length in the line (bytes=). */
    h_assert_submit(io_read(a, IOURINGD_TASK_SOCK_READ, IOURINGD_PRIORITY_HIGH, 9, 64), 0,
                    -ENOENT, C);
    get_trace(a, 0, RING, &r, ev);
    assert_result(&r, 1, 1, 1);
    char *l3 = h_wait_stderr_line(d, "iouringd trace ", 3, H_TIMEOUT_MS);
    cr_assert(l3 != NULL);
    expect_trace_line(l3, pid, "-", &ev[0], "submit_reject", "sock_read", "high", 64, 1);
    free(l1);
    free(l2);
    free(l3);
}
