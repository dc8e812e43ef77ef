/* GET_STATS (§14): daemon-wide counters collected fresh from every worker, the
 * informative examples, and accepted = completions + outstanding. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "../helpers/harness.h"

TestSuite(stats, .fini = h_cleanup, .timeout = 20);

#define LONG_NS 60000000000ull

static struct iouringd_stats_result want_stats(uint32_t active, uint32_t outstanding,
                                               uint32_t outstanding_credit, uint32_t available,
                                               uint64_t accepted, uint64_t rejected,
                                               uint64_t completions, uint32_t limit,
                                               uint32_t at_limit)
{
    struct iouringd_stats_result s;
    memset(&s, 0, sizeof s);
    s.active_clients = active;
    s.outstanding_tasks = outstanding;
    s.outstanding_credit_tasks = outstanding_credit;
    s.available_credits = available;
    s.accepted_submits = accepted;
    s.rejected_submits = rejected;
    s.completions = completions;
    s.per_client_credit_limit = limit;
    s.clients_at_credit_limit = at_limit;
    return s;
}

static void check_invariant(const struct iouringd_stats_result *s)
{
    cr_assert_eq(s->accepted_submits, s->completions + s->outstanding_tasks,
                 "accepted %llu != completions %llu + outstanding %u",
                 (unsigned long long)s->accepted_submits, (unsigned long long)s->completions,
                 s->outstanding_tasks);
}

static void nop_round_trip(struct h_conn *c, uint64_t id, uint32_t credits_after)
{
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), id, 0, credits_after);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, id, 0, IOURINGD_TASK_NOP, 0);
}

Test(stats, fresh_daemon_one_client)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    struct iouringd_stats_result s = h_stats(c);
    struct iouringd_stats_result w = want_stats(1, 0, 0, C, 0, 0, 0, C, 0);
    h_assert_stats(&s, &w);
    /* GET_STATS is not a task: nothing changes and no completion follows. */
    s = h_stats(c);
    h_assert_stats(&s, &w);
    cr_assert(h_quiet(c->fd, H_QUIET_MS));
}

Test(stats, other_client_sees_completed_nop)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    nop_round_trip(a, 1, C - 1);
    struct h_conn *b = h_client(d, NULL);
    struct iouringd_stats_result s = h_stats(b);
    struct iouringd_stats_result w = want_stats(2, 0, 0, 2 * C, 1, 0, 1, C, 0);
    h_assert_stats(&s, &w);
}

Test(stats, client_in_handshake_is_active)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *idle = h_connect(d); /* connected, never handshakes */
    struct iouringd_capability_descriptor caps;
    struct h_conn *b = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    struct iouringd_stats_result s = h_stats(b);
    struct iouringd_stats_result w = want_stats(2, 0, 0, 2 * C, 0, 0, 0, C, 0);
    h_assert_stats(&s, &w);
    (void)idle;
}

Test(stats, section14_example)
{
    struct h_daemon *d =
        h_start("--ring-entries", "4", "--max-clients", "2", "--per-client-credits", "1", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    struct h_conn *b = h_client(d, NULL);
    cr_assert_eq(caps.submit_credits, 1);
    struct iouringd_timeout_request t = h_timeout(LONG_NS);
    h_assert_submit(h_submit(a, &t, sizeof t), 1, 0, 0);
    h_assert_submit(h_submit(b, &t, sizeof t), 1, 0, 0);
    h_assert_submit(h_submit(b, &t, sizeof t), 0, -EAGAIN, 0);
    struct iouringd_stats_result s = h_stats(b);
    struct iouringd_stats_result w = want_stats(2, 2, 2, 0, 2, 1, 0, 1, 2);
    h_assert_stats(&s, &w);
    check_invariant(&s);
}

Test(stats, invariant_accepted_equals_completions_plus_outstanding)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    struct h_conn *b = h_client(d, NULL);
    uint32_t C = caps.submit_credits;

    /* A: five pipelined NOPs (not read yet) and two long timeouts. */
    struct iouringd_request_header nops[5] = {h_nop(), h_nop(), h_nop(), h_nop(), h_nop()};
    struct iouringd_timeout_request t = h_timeout(LONG_NS);
    h_send(a, nops, sizeof nops);
    h_send(a, &t, sizeof t);
    h_send(a, &t, sizeof t);
    struct iouringd_stats_result s = h_stats(b);
    check_invariant(&s);

    for (uint64_t id = 1; id <= 7; id++) {
        struct iouringd_submit_result r = h_read_submit(a);
        cr_assert_eq(r.task_id, id);
        cr_assert_eq(r.res, 0);
    }
    for (int i = 0; i < 5; i++) {
        struct h_completion comp = h_next_completion(a);
        cr_assert(comp.c.task_id >= 1 && comp.c.task_id <= 5);
        h_assert_completion(&comp, comp.c.task_id, 0, IOURINGD_TASK_NOP, 0);
    }
    /* Every record A has read is in the answer (§14 freshness). */
    s = h_stats(b);
    struct iouringd_stats_result w = want_stats(2, 2, 2, 2 * C - 2, 7, 0, 5, C, 0);
    h_assert_stats(&s, &w);
    check_invariant(&s);

    /* A cancels both timeouts: CANCELs count as tasks too. */
    struct iouringd_cancel_request x6 = h_cancel(6), x7 = h_cancel(7);
    h_assert_submit(h_submit(a, &x6, sizeof x6), 8, 0, C - 2);
    /* Timeout 6 may already have been reaped when CANCEL 7 is handled. */
    struct iouringd_submit_result r9 = h_submit(a, &x7, sizeof x7);
    cr_assert(r9.task_id == 9 && r9.res == 0 && (r9.credits == C - 2 || r9.credits == C - 1),
              "CANCEL 7: {%llu, %d, %u}", (unsigned long long)r9.task_id, r9.res, r9.credits);
    for (int i = 0; i < 4; i++) {
        struct h_completion comp = h_next_completion(a);
        cr_assert(comp.c.task_id >= 6 && comp.c.task_id <= 9, "task_id %llu",
                  (unsigned long long)comp.c.task_id);
    }
    s = h_stats(b);
    w = want_stats(2, 0, 0, 2 * C, 9, 0, 9, C, 0);
    h_assert_stats(&s, &w);
    check_invariant(&s);
}

Test(stats, closed_client_not_counted_but_totals_kept)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    nop_round_trip(a, 1, C - 1);
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(a, &nop, sizeof nop), 2, 0, C - 1);
    struct h_completion comp = h_next_completion(a);
    h_assert_completion(&comp, 2, 0, IOURINGD_TASK_NOP, 0);
    h_close(a);
    struct h_conn *b = h_client(d, NULL);
    struct iouringd_stats_result s = h_stats(b);
    struct iouringd_stats_result w = want_stats(1, 0, 0, C, 2, 0, 2, C, 0);
    h_assert_stats(&s, &w);
}

Test(stats, rejects_counted)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    struct iouringd_cancel_request x = h_cancel(0);
    h_assert_submit(h_submit(c, &x, sizeof x), 0, -EINVAL, C);
    struct iouringd_stats_result s = h_stats(c);
    struct iouringd_stats_result w = want_stats(1, 0, 0, C, 0, 1, 0, C, 0);
    h_assert_stats(&s, &w);
}
