/* Task requests: NOP, TIMEOUT, CANCEL (§4, §8), credits (§6), task ids (§7), and the
 * half-close rule of §12. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "../helpers/harness.h"

TestSuite(tasks, .fini = h_cleanup, .timeout = 20);

#define LONG_NS 60000000000ull /* a timeout that never expires during a test */

static void expect_nothing_more(struct h_conn *c)
{
    cr_assert_eq(h_queued_completions(c), 0, "unexpected extra completion");
    cr_assert(h_quiet(c->fd, H_QUIET_MS), "unexpected extra bytes");
}

Test(tasks, nop_round_trip)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    cr_assert_eq(C, 32);

    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), 1, 0, C - 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);

    /* The credit came back with the completion: the next NOP leaves C - 1 again. */
    h_assert_submit(h_submit(c, &nop, sizeof nop), 2, 0, C - 1);
    comp = h_next_completion(c);
    h_assert_completion(&comp, 2, 0, IOURINGD_TASK_NOP, 0);
    expect_nothing_more(c);
}

Test(tasks, nop_priorities_low_and_high)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    for (uint16_t prio = 0; prio < 3; prio++) {
        struct iouringd_request_header nop = h_header(IOURINGD_TASK_NOP, prio);
        h_assert_submit(h_submit(c, &nop, sizeof nop), prio + 1u, 0, caps.submit_credits - 1);
        struct h_completion comp = h_next_completion(c);
        h_assert_completion(&comp, prio + 1u, 0, IOURINGD_TASK_NOP, 0);
    }
}

Test(tasks, pipelined_nops_in_one_write)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_request_header two[2] = {h_nop(), h_nop()};
    h_send(c, two, sizeof two);

    /* Replies in request order; completions may come anywhere in between (§19.3). */
    struct iouringd_submit_result r1 = h_read_submit(c);
    cr_assert_eq(r1.task_id, 1);
    cr_assert_eq(r1.res, 0);
    struct iouringd_submit_result r2 = h_read_submit(c);
    cr_assert_eq(r2.task_id, 2);
    cr_assert_eq(r2.res, 0);
    /* After the second submit, 1 or 2 tasks are outstanding. */
    cr_assert(r2.credits == caps.submit_credits - 1 || r2.credits == caps.submit_credits - 2,
              "credits %u", r2.credits);

    bool seen[3] = {false, false, false};
    for (int i = 0; i < 2; i++) {
        struct h_completion comp = h_next_completion(c);
        cr_assert(comp.c.task_id == 1 || comp.c.task_id == 2, "task_id %llu",
                  (unsigned long long)comp.c.task_id);
        cr_assert(!seen[comp.c.task_id], "duplicate completion");
        seen[comp.c.task_id] = true;
        h_assert_completion(&comp, comp.c.task_id, 0, IOURINGD_TASK_NOP, 0);
    }
    expect_nothing_more(c);
}

static void timeout_case(uint64_t ns)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_timeout_request t = h_timeout(ns);
    h_assert_submit(h_submit(c, &t, sizeof t), 1, 0, caps.submit_credits - 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, -ETIME, IOURINGD_TASK_TIMEOUT, 0);
    cr_assert_eq(-ETIME, -62);
    expect_nothing_more(c);
}

Test(tasks, timeout_zero_expires_with_etime) { timeout_case(0); }
Test(tasks, timeout_1ms_expires_with_etime) { timeout_case(1000000); }
Test(tasks, timeout_over_one_second_expires_with_etime) { timeout_case(1000000001ull); }

Test(tasks, cancel_pending_timeout)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    struct iouringd_timeout_request t = h_timeout(LONG_NS);
    h_assert_submit(h_submit(c, &t, sizeof t), 1, 0, C - 1);
    /* CANCEL takes no credit: still C - 1 while the timeout is pending. */
    struct iouringd_cancel_request x = h_cancel(1);
    h_assert_submit(h_submit(c, &x, sizeof x), 2, 0, C - 1);

    bool got_cancel = false, got_timeout = false;
    for (int i = 0; i < 2; i++) {
        struct h_completion comp = h_next_completion(c);
        if (comp.c.task_id == 2) {
            cr_assert(!got_cancel);
            got_cancel = true;
            h_assert_completion(&comp, 2, 0, IOURINGD_TASK_CANCEL, 0);
        } else {
            cr_assert(!got_timeout);
            got_timeout = true;
            h_assert_completion(&comp, 1, -ECANCELED, IOURINGD_TASK_TIMEOUT, 0);
        }
    }
    /* Both are done and every credit is back. */
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), 3, 0, C - 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 3, 0, IOURINGD_TASK_NOP, 0);
    expect_nothing_more(c);
}

Test(tasks, cancel_unknown_id_completes_enoent)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_cancel_request x = h_cancel(999);
    h_assert_submit(h_submit(c, &x, sizeof x), 1, 0, caps.submit_credits);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, -ENOENT, IOURINGD_TASK_CANCEL, 0);
    expect_nothing_more(c);
}

Test(tasks, cancel_finished_task_completes_enoent)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), 1, 0, caps.submit_credits - 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
    struct iouringd_cancel_request x = h_cancel(1);
    h_assert_submit(h_submit(c, &x, sizeof x), 2, 0, caps.submit_credits);
    comp = h_next_completion(c);
    h_assert_completion(&comp, 2, -ENOENT, IOURINGD_TASK_CANCEL, 0);
}

Test(tasks, cancel_invalid_targets_rejected)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    const uint64_t targets[] = {0, UINT64_MAX - 15, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct iouringd_cancel_request x = h_cancel(targets[i]);
        h_assert_submit(h_submit(c, &x, sizeof x), 0, -EINVAL, C);
    }
    /* Rejects use no task id and produce no completion. */
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), 1, 0, C - 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
    expect_nothing_more(c);
}

Test(tasks, cancel_largest_valid_target_is_accepted)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_cancel_request x = h_cancel(UINT64_MAX - 16);
    h_assert_submit(h_submit(c, &x, sizeof x), 1, 0, caps.submit_credits);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, -ENOENT, IOURINGD_TASK_CANCEL, 0);
}

Test(tasks, credit_exhaustion_and_recovery)
{
    struct h_daemon *d = h_start("--ring-entries", "2", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    cr_assert_eq(caps.submit_credits, 1);

    struct iouringd_timeout_request t = h_timeout(LONG_NS);
    h_assert_submit(h_submit(c, &t, sizeof t), 1, 0, 0);
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), 0, -EAGAIN, 0);
    h_assert_submit(h_submit(c, &t, sizeof t), 0, -EAGAIN, 0);

    /* A saturated client can still cancel (1 outstanding < S = 2). */
    struct iouringd_cancel_request x = h_cancel(1);
    h_assert_submit(h_submit(c, &x, sizeof x), 2, 0, 0);
    for (int i = 0; i < 2; i++) {
        struct h_completion comp = h_next_completion(c);
        if (comp.c.task_id == 2)
            h_assert_completion(&comp, 2, 0, IOURINGD_TASK_CANCEL, 0);
        else
            h_assert_completion(&comp, 1, -ECANCELED, IOURINGD_TASK_TIMEOUT, 0);
    }
    /* The credit is back; the rejected requests used no id: the next id is 3. */
    h_assert_submit(h_submit(c, &nop, sizeof nop), 3, 0, 0);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 3, 0, IOURINGD_TASK_NOP, 0);
    expect_nothing_more(c);
}

Test(tasks, credits_are_per_connection)
{
    /* §6: one connection's load never causes another's reject. */
    struct h_daemon *d = h_start("--ring-entries", "2", NULL);
    struct h_conn *a = h_client(d, NULL);
    struct h_conn *b = h_client(d, NULL);
    struct iouringd_timeout_request t = h_timeout(LONG_NS);
    h_assert_submit(h_submit(a, &t, sizeof t), 1, 0, 0);
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(b, &nop, sizeof nop), 1, 0, 0);
    struct h_completion comp = h_next_completion(b);
    h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
    /* Task ids are per connection, and B cannot cancel A's task 1 (§8). */
    struct iouringd_cancel_request x = h_cancel(1);
    h_assert_submit(h_submit(b, &x, sizeof x), 2, 0, 1);
    comp = h_next_completion(b);
    h_assert_completion(&comp, 2, -ENOENT, IOURINGD_TASK_CANCEL, 0);
    cr_assert(h_quiet(a->fd, H_QUIET_MS), "A's timeout was disturbed");
}

Test(tasks, timeout_then_shut_wr_gives_submit_result_then_eof)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_timeout_request t = h_timeout(LONG_NS);
    h_send(c, &t, sizeof t);
    cr_assert_eq(shutdown(c->fd, SHUT_WR), 0);
    struct iouringd_submit_result r;
    cr_assert_eq(h_read_exact(c->fd, &r, sizeof r, NULL, H_TIMEOUT_MS), 0);
    h_assert_submit(r, 1, 0, caps.submit_credits - 1);
    cr_assert_eq(h_expect_eof(c->fd, H_TIMEOUT_MS), 0, "want EOF and no completion");
}

Test(tasks, nop_then_shut_wr_gets_replies_then_eof)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_request_header nop = h_nop();
    h_send(c, &nop, sizeof nop);
    cr_assert_eq(shutdown(c->fd, SHUT_WR), 0);
    h_assert_submit(h_read_submit(c), 1, 0, caps.submit_credits - 1);
    /* The completion may or may not make it before the end (§12, §19.6). */
    uint8_t rec[24];
    size_t got = 0;
    int rc = h_read_exact(c->fd, rec, sizeof rec, &got, H_TIMEOUT_MS);
    if (rc == 0) {
        struct h_completion comp;
        memset(&comp, 0, sizeof comp);
        memcpy(&comp.c, rec, sizeof rec);
        h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
        cr_assert_eq(h_expect_eof(c->fd, H_TIMEOUT_MS), 0);
    } else {
        cr_assert(rc == -EPIPE || rc == -ECONNRESET, "read: %s", strerror(-rc));
        cr_assert_eq(got, 0, "a partial record (%zu bytes) before EOF", got);
    }
}

Test(tasks, ids_restart_per_connection)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_request_header nop = h_nop();
    for (int round = 0; round < 2; round++) {
        struct iouringd_capability_descriptor caps;
        struct h_conn *c = h_client(d, &caps);
        h_assert_submit(h_submit(c, &nop, sizeof nop), 1, 0, caps.submit_credits - 1);
        struct h_completion comp = h_next_completion(c);
        h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
        h_close(c);
    }
}
