/* Semantic check order for I/O kinds (§4.3 S1-S4), their trace events (§15.1),
 * and priority on I/O kinds (§9). */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(io_checks, .fini = h_cleanup, .timeout = 30);

#define K_SREAD IOURINGD_TASK_SOCK_READ
#define K_SWRITE IOURINGD_TASK_SOCK_WRITE
#define K_FREAD IOURINGD_TASK_FILE_READ

static void assert_event(const struct iouringd_trace_event *e, uint64_t seq, uint16_t kind,
                         uint16_t task_kind, uint64_t task_id, uint32_t resource_id,
                         int32_t res, uint16_t prio)
{
    cr_assert(e->sequence == seq && e->event_kind == kind && e->task_kind == task_kind &&
                  e->task_id == task_id && e->resource_id == resource_id && e->res == res &&
                  e->priority == prio && e->reserved1 == 0,
              "event {seq %llu, kind %u, task_kind %u, task %llu, res_id %u, res %d, prio %u}, "
              "want {%llu, %u, %u, %llu, %u, %d, %u}",
              (unsigned long long)e->sequence, e->event_kind, e->task_kind,
              (unsigned long long)e->task_id, e->resource_id, e->res, e->priority,
              (unsigned long long)seq, kind, task_kind, (unsigned long long)task_id,
              resource_id, res, prio);
}

Test(io_checks, unknown_resource_9_read_rejected_and_traced)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    h_assert_submit(io_read(c, K_SREAD, 0, 9, 16), 0, -ENOENT, caps.submit_credits);
    struct iouringd_trace_event ev[4];
    uint32_t n = io_get_trace(c, 0, 4, ev);
    cr_assert_eq(n, 1);
    assert_event(&ev[0], 1, IOURINGD_TRACE_SUBMIT_REJECT, K_SREAD, 0, 9, -ENOENT, 0);
    cr_assert_eq(ev[0].credits, caps.submit_credits);
}

Test(io_checks, s3_arguments_before_s4_resources)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    /* Unknown id 9 but length 0: the argument check comes first. */
    h_assert_submit(io_read(c, K_SREAD, 0, 9, 0), 0, -EINVAL, C);
    h_assert_submit(io_read(c, K_FREAD, 0, 9, 4097), 0, -EINVAL, C);
    h_assert_submit(io_poll(c, 9, 0), 0, -EINVAL, C);
    h_assert_submit(io_fixed(c, IOURINGD_TASK_SOCK_READ_FIXED, 0, 9, 9, 0), 0, -EINVAL, C);
    /* Id 0 is an argument error, not a missing resource. */
    h_assert_submit(io_read(c, K_SREAD, 0, 0, 16), 0, -EINVAL, C);
    h_assert_submit(io_write(c, K_SWRITE, 0, 0, "x", 1), 0, -EINVAL, C);
    h_assert_submit(io_accept(c, 0, 0), 0, -EINVAL, C);
    h_assert_submit(io_close(c, 0, 0), 0, -EINVAL, C);
    /* Then S4. */
    h_assert_submit(io_write(c, K_SWRITE, 0, 9, "x", 1), 0, -ENOENT, C);
    h_assert_submit(io_accept(c, 9, 0), 0, -ENOENT, C);
    h_assert_submit(io_close(c, 0, 9), 0, -ENOENT, C);
    /* Rejects consume no task id. */
    io_expect_alive(c, 1, C - 1);
}

Test(io_checks, s1_credit_before_everything)
{
    struct h_daemon *d = h_start("--ring-entries", "2", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    cr_assert_eq(caps.submit_credits, 1);
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    h_assert_submit(io_read(c, K_SREAD, 0, id, 8), 1, 0, 0);
    /* No credit: -EAGAIN even for a request that S3 or S4 would reject. */
    h_assert_submit(io_read(c, K_SREAD, 0, 9, 0), 0, -EAGAIN, 0);
    h_assert_submit(io_read(c, K_SREAD, 0, 9, 8), 0, -EAGAIN, 0);
    h_assert_submit(io_write(c, K_SWRITE, 0, id, "x", 1), 0, -EAGAIN, 0);
    io_write_all(sv[1], "go", 2);
    struct h_completion comp = io_completion(c, 1, 2, K_SREAD, 2);
    cr_assert_arr_eq(comp.payload, "go", 2);
    h_free_completion(&comp);
    h_assert_submit(io_read(c, K_SREAD, 0, 9, 8), 0, -ENOENT, 1);
}

Test(io_checks, io_trace_sequence)
{
    /* REGISTER_FD, POLL accepted, its completion, RELEASE -> 1, 2, 3, 4 (§15.1). */
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(c, sv[0]), 1, 0, 31);
    h_assert_submit(io_poll(c, 1, POLLOUT), 1, 0, C - 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, comp.c.res, IOURINGD_TASK_POLL, 0);
    int32_t pres = comp.c.res;
    io_assert_resource(io_release(c, 1), 1, 0, 32);
    struct iouringd_trace_event ev[8];
    uint32_t n = io_get_trace(c, 0, 8, ev);
    cr_assert_eq(n, 4);
    assert_event(&ev[0], 1, IOURINGD_TRACE_RESOURCE_REGISTER, 0, 0, 1, 0, 0);
    assert_event(&ev[1], 2, IOURINGD_TRACE_SUBMIT_ACCEPT, IOURINGD_TASK_POLL, 1, 1, 0, 0);
    assert_event(&ev[2], 3, IOURINGD_TRACE_COMPLETION, IOURINGD_TASK_POLL, 1, 1, pres, 0);
    assert_event(&ev[3], 4, IOURINGD_TRACE_RESOURCE_RELEASE, 0, 0, 1, 0, 0);
    cr_assert_eq(ev[2].credits, C);
}

static void priority_case(uint16_t prio)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    close(sv[0]);

    io_write_all(sv[1], "prio", 4);
    h_assert_submit(io_read(c, K_SREAD, prio, id, 16), 1, 0, C - 1);
    struct h_completion comp = io_completion(c, 1, 4, K_SREAD, 4);
    cr_assert_arr_eq(comp.payload, "prio", 4);
    h_free_completion(&comp);

    h_assert_submit(io_write(c, K_SWRITE, prio, id, "back", 4), 2, 0, C - 1);
    io_expect_completion(c, 2, 4, K_SWRITE, 0);
    char buf[4];
    io_read_exact(sv[1], buf, 4);
    cr_assert_arr_eq(buf, "back", 4);

    io_assert_resource(io_register_buffer(c, "fixed", 5), 2, 0, 0);
    h_assert_submit(io_fixed(c, IOURINGD_TASK_SOCK_WRITE_FIXED, prio, id, 2, 5), 3, 0, C - 1);
    io_expect_completion(c, 3, 5, IOURINGD_TASK_SOCK_WRITE_FIXED, 0);
    char fb[5];
    io_read_exact(sv[1], fb, 5);
    cr_assert_arr_eq(fb, "fixed", 5);
    io_write_all(sv[1], "rf", 2);
    h_assert_submit(io_fixed(c, IOURINGD_TASK_SOCK_READ_FIXED, prio, id, 2, 2), 4, 0, C - 1);
    comp = io_completion(c, 4, 2, IOURINGD_TASK_SOCK_READ_FIXED, 2);
    cr_assert_arr_eq(comp.payload, "rf", 2);
    h_free_completion(&comp);

    int mfd = io_memfd("memfd", 5);
    uint32_t mid = io_register_fd_ok(c, mfd);
    h_assert_submit(io_read(c, K_FREAD, prio, mid, 5), 5, 0, C - 1);
    comp = io_completion(c, 5, 5, K_FREAD, 5);
    cr_assert_arr_eq(comp.payload, "memfd", 5);
    h_free_completion(&comp);

    /* The priority shows in the trace of the read (§9 Tracing). */
    struct iouringd_trace_event ev[4];
    uint32_t n = io_get_trace(c, 1, 2, ev); /* after REGISTER_FD: submit, completion */
    cr_assert_eq(n, 2);
    assert_event(&ev[0], 2, IOURINGD_TRACE_SUBMIT_ACCEPT, K_SREAD, 1, id, 0, prio);
    assert_event(&ev[1], 3, IOURINGD_TRACE_COMPLETION, K_SREAD, 1, id, 4, prio);
}

Test(io_checks, priority_high_io) { priority_case(IOURINGD_PRIORITY_HIGH); }
Test(io_checks, priority_low_io) { priority_case(IOURINGD_PRIORITY_LOW); }

Test(io_checks, priority_3_sock_read_disconnects)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    struct iouringd_io_request r = io_read_req(K_SREAD, 3, id, 16);
    h_send(c, &r, sizeof r);
    io_expect_disconnect(c, "SOCK_READ priority 3");
    struct iouringd_capability_descriptor caps;
    struct h_conn *c2 = h_client(d, &caps);
    io_expect_alive(c2, 1, caps.submit_credits - 1);
}

Test(io_checks, priority_3_write_disconnects_after_payload)
{
    /* Stage M: the whole message (payload included) is read before the check. */
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    struct iouringd_io_request r = io_read_req(K_SWRITE, 3, id, 4);
    h_send(c, &r, sizeof r);
    cr_assert(h_quiet(c->fd, 100), "disconnected before the payload arrived");
    h_send(c, "data", 4);
    io_expect_disconnect(c, "SOCK_WRITE priority 3");
    cr_assert(h_quiet(sv[1], 50), "the write ran");
}
