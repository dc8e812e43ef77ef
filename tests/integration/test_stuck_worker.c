/* A stopped (or otherwise stuck) worker must not stall the supervisor or
 * other clients: it is represented by its last report after the collection
 * bound (§14), gets no further COLLECT until it answers, and its channel
 * never fills up. A client can stop its own worker when both run as the same
 * uid (--worker-user), so this is a denial-of-service boundary. */
#include <criterion/criterion.h>

#include <signal.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(stuck_worker, .fini = h_cleanup, .timeout = 30);

Test(stuck_worker, stopped_worker_does_not_stall_stats_or_admission)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *a = h_client(d, NULL);
    pid_t wa = io_worker_pid(d);
    cr_assert_eq(kill(wa, SIGSTOP), 0);

    struct h_conn *b = h_client(d, NULL);
    /* The first round waits out the collection bound for the stopped
     * worker; every later one must not (300 s in all if each did). */
    for (int i = 0; i < 300; i++) {
        struct iouringd_stats_result st = h_stats(b);
        cr_assert_eq(st.active_clients, 2, "round %d: active_clients %u", i,
                     st.active_clients);
    }
    /* Admission still works. */
    struct h_conn *c = h_client(d, NULL);
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), 1, 0, 31);

    /* Resumed, the worker serves its client again and answers rounds. */
    cr_assert_eq(kill(wa, SIGCONT), 0);
    h_assert_submit(h_submit(a, &nop, sizeof nop), 1, 0, 31);
    struct iouringd_stats_result st = h_stats(b);
    cr_assert_eq(st.active_clients, 3);
    cr_assert_eq(st.accepted_submits, 2);
    h_stop(d);
}
