/* Admission (§13), the admission and worker lines (§15.3), process shape (§0), and
 * crash isolation of workers (§12, §18). */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../helpers/harness.h"

TestSuite(admission, .fini = h_cleanup, .timeout = 20);

static const char *const admission_keys[] = {"pid", "job_id", "conn", "event", "reason",
                                             "uid", "clients", "uid_clients", "refused_total"};
#define N_ADMISSION_KEYS (sizeof admission_keys / sizeof admission_keys[0])

static const char *const worker_keys[] = {"pid",        "job_id", "conn", "client_slot",
                                          "worker_pid", "end",    "code"};
#define N_WORKER_KEYS (sizeof worker_keys / sizeof worker_keys[0])

static void nop_ok(struct h_conn *c, uint64_t id, uint32_t credits_after)
{
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), id, 0, credits_after);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, id, 0, IOURINGD_TASK_NOP, 0);
}

/* A refused client: nothing is read or written; its read gives EOF or ECONNRESET. */
static void expect_refused(struct h_conn *c)
{
    struct iouringd_handshake_request req = h_hs_request();
    int rc = h_write_all(c->fd, &req, sizeof req, H_TIMEOUT_MS);
    cr_assert(rc == 0 || rc == -EPIPE || rc == -ECONNRESET, "handshake write: %s",
              strerror(-rc));
    rc = h_expect_eof(c->fd, H_TIMEOUT_MS);
    cr_assert(rc != H_GOT_DATA, "refused client got bytes");
    cr_assert_eq(rc, 0, "refused client: no EOF (%s)", strerror(-rc));
}

static void refusal_case(const char *opt, const char *reason)
{
    struct h_daemon *d = h_start(opt, "1", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps); /* conn=1 */
    struct h_conn *b = h_connect(d);       /* conn=2 */
    expect_refused(b);

    char *line = h_wait_stderr_line(d, "iouringd admission ", 1, H_TIMEOUT_MS);
    char v[N_ADMISSION_KEYS][128];
    h_expect_fields(line, "iouringd admission", admission_keys, N_ADMISSION_KEYS, v);
    char pid[32], uid[32];
    snprintf(pid, sizeof pid, "%d", (int)d->pid);
    snprintf(uid, sizeof uid, "%u", (unsigned)getuid());
    cr_assert_str_eq(v[0], pid, "pid= in: %s", line);
    cr_assert_str_eq(v[1], "-", "job_id= in: %s", line);
    cr_assert_str_eq(v[2], "2", "conn= in: %s", line);
    cr_assert_str_eq(v[3], "refused", "event= in: %s", line);
    cr_assert_str_eq(v[4], reason, "reason= in: %s", line);
    cr_assert_str_eq(v[5], uid, "uid= in: %s", line);
    cr_assert_str_eq(v[6], "1", "clients= in: %s", line);
    cr_assert_str_eq(v[7], "1", "uid_clients= in: %s", line);
    cr_assert_str_eq(v[8], "1", "refused_total= in: %s", line);
    free(line);

    /* The first client is unaffected. */
    nop_ok(a, 1, caps.submit_credits - 1);

    /* Fresh view (§13): right after the first client closes, a reconnect is
     * admitted, with no retry. */
    h_close(a);
    struct h_conn *c = h_client(d, NULL); /* conn=3 */
    nop_ok(c, 1, caps.submit_credits - 1);
}

Test(admission, max_clients_refuses_and_readmits)
{
    refusal_case("--max-clients", "max_clients");
}

Test(admission, max_clients_per_uid_refuses_and_readmits)
{
    refusal_case("--max-clients-per-uid", "max_clients_per_uid");
}

Test(admission, refused_client_counts_in_conn_serial)
{
    /* conn counts refused connections: a later refusal is conn=4. */
    struct h_daemon *d = h_start("--max-clients", "1", "--job-id", "7", NULL);
    struct h_conn *a = h_client(d, NULL); /* conn=1 */
    expect_refused(h_connect(d));         /* conn=2 */
    char *line = h_wait_stderr_line(d, "iouringd admission ", 1, H_TIMEOUT_MS);
    char v[N_ADMISSION_KEYS][128];
    h_expect_fields(line, "iouringd admission", admission_keys, N_ADMISSION_KEYS, v);
    cr_assert_str_eq(v[1], "7", "job_id= in: %s", line);
    cr_assert_str_eq(v[2], "2");
    free(line);
    h_close(a);
    struct h_conn *c = h_client(d, NULL); /* conn=3 */
    expect_refused(h_connect(d));         /* conn=4 */
    /* A second refusal in the same second may be omitted (§15.3); if printed, check it. */
    line = h_wait_stderr_line(d, "iouringd admission ", 2, 1500);
    if (line != NULL) {
        h_expect_fields(line, "iouringd admission", admission_keys, N_ADMISSION_KEYS, v);
        cr_assert_str_eq(v[2], "4", "conn= in: %s", line);
        cr_assert_str_eq(v[8], "2", "refused_total= in: %s", line);
        free(line);
    }
    (void)c;
}

Test(admission, process_shape_two_clients)
{
    struct h_daemon *d = h_start(NULL);
    h_client(d, NULL);
    h_client(d, NULL);
    pid_t kids[8];
    size_t n = h_wait_children(d->pid, 2, kids, 8, H_TIMEOUT_MS);
    cr_assert_eq(n, 2, "daemon has %zu child processes, want 2", n);
    for (size_t i = 0; i < 2; i++) {
        int rings = h_count_io_uring_fds(kids[i]);
        cr_assert_eq(rings, 1, "worker %d has %d io_uring fds, want 1", (int)kids[i], rings);
        cr_assert_eq(h_children(kids[i], NULL, 0), 0, "worker %d has children", (int)kids[i]);
    }
    cr_assert_eq(h_count_io_uring_fds(d->pid), 0, "the supervisor owns an io_uring");
}

Test(admission, worker_exits_after_client_leaves)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *a = h_client(d, NULL);
    pid_t kids[4];
    cr_assert_eq(h_wait_children(d->pid, 1, kids, 4, H_TIMEOUT_MS), 1);
    unsigned long long st = h_pid_starttime(kids[0]);
    h_close(a);
    /* §12: the worker ends within about the drain bound and is reaped. */
    cr_assert(h_wait_pid_gone(kids[0], st, H_TIMEOUT_MS), "worker %d outlived its client",
              (int)kids[0]);
    cr_assert_eq(h_wait_children(d->pid, 0, NULL, 0, H_TIMEOUT_MS), 0);
}

Test(admission, killed_worker_is_isolated)
{
    struct h_daemon *d = h_start("--max-clients", "2", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps); /* conn=1, slot 0 */
    pid_t kids[4];
    cr_assert_eq(h_wait_children(d->pid, 1, kids, 4, H_TIMEOUT_MS), 1);
    pid_t wa = kids[0];
    struct h_conn *b = h_client(d, NULL); /* conn=2, slot 1 */
    cr_assert_eq(h_wait_children(d->pid, 2, kids, 4, H_TIMEOUT_MS), 2);
    pid_t wb = kids[0] == wa ? kids[1] : kids[0];
    cr_assert(kids[0] == wa || kids[1] == wa);

    cr_assert_eq(kill(wa, SIGKILL), 0);
    cr_assert_eq(h_expect_eof(a->fd, H_TIMEOUT_MS), 0, "A: want EOF after its worker died");

    char *line = h_wait_stderr_line(d, "iouringd worker ", 1, H_TIMEOUT_MS);
    char v[N_WORKER_KEYS][128];
    h_expect_fields(line, "iouringd worker", worker_keys, N_WORKER_KEYS, v);
    char pid[32], wpid[32];
    snprintf(pid, sizeof pid, "%d", (int)d->pid);
    snprintf(wpid, sizeof wpid, "%d", (int)wa);
    cr_assert_str_eq(v[0], pid, "pid= in: %s", line);
    cr_assert_str_eq(v[1], "-", "job_id= in: %s", line);
    cr_assert_str_eq(v[2], "1", "conn= in: %s", line);
    cr_assert_str_eq(v[3], "0", "client_slot= in: %s", line);
    cr_assert_str_eq(v[4], wpid, "worker_pid= in: %s", line);
    cr_assert_str_eq(v[5], "signal", "end= in: %s", line);
    cr_assert_str_eq(v[6], "9", "code= in: %s", line);
    free(line);

    /* B keeps working, its worker untouched. */
    nop_ok(b, 1, caps.submit_credits - 1);
    cr_assert_eq(h_count_io_uring_fds(wb), 1);

    /* The freed slot admits a new client (max 2: B + C). */
    struct h_conn *c = h_client(d, NULL);
    nop_ok(c, 1, caps.submit_credits - 1);
    cr_assert_eq(h_wait_children(d->pid, 2, NULL, 0, H_TIMEOUT_MS), 2);
}

Test(admission, killed_worker_counters_stay_in_totals)
{
    /* §12: a killed worker's last report stays, completions raised to accepted. */
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    pid_t kids[4];
    cr_assert_eq(h_wait_children(d->pid, 1, kids, 4, H_TIMEOUT_MS), 1);
    pid_t wa = kids[0];
    struct iouringd_timeout_request t = h_timeout(60000000000ull);
    h_assert_submit(h_submit(a, &t, sizeof t), 1, 0, caps.submit_credits - 1);
    struct h_conn *b = h_client(d, NULL);
    uint32_t C = caps.submit_credits;
    /* This collection makes A's worker report its pending timeout. */
    struct iouringd_stats_result s = h_stats(b);
    cr_assert_eq(s.accepted_submits, 1);
    cr_assert_eq(s.outstanding_tasks, 1);
    cr_assert_eq(s.available_credits, 2 * C - 1);

    cr_assert_eq(kill(wa, SIGKILL), 0);
    cr_assert_eq(h_expect_eof(a->fd, H_TIMEOUT_MS), 0);
    char *line = h_wait_stderr_line(d, "iouringd worker ", 1, H_TIMEOUT_MS);
    cr_assert(line != NULL, "no worker line");
    free(line);
    s = h_stats(b);
    cr_assert_eq(s.active_clients, 1);
    cr_assert_eq(s.accepted_submits, 1);
    cr_assert_eq(s.completions, 1, "completions %llu: not raised to accepted",
                 (unsigned long long)s.completions);
    cr_assert_eq(s.outstanding_tasks, 0);
    cr_assert_eq(s.available_credits, C);
}
