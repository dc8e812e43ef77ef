/* stats: aggregation of worker counters into the 56-byte stats result (§14):
 * which fields count only connected clients, which count every live worker,
 * lifetime totals across exited workers, the abnormal-exit rule (§12), and
 * the exact `iouringd metrics` line (§15.2). */
#include "stats.h"

#include <criterion/criterion.h>
#include <string.h>

static struct iod_worker_counters mk(uint64_t acc, uint64_t rej, uint64_t comp,
                                     uint32_t out, uint32_t out_credit, uint32_t credits_c,
                                     bool connected)
{
    struct iod_worker_counters c;
    memset(&c, 0, sizeof c);
    c.accepted_submits = acc;
    c.rejected_submits = rej;
    c.completions = comp;
    c.completions_ok = comp;
    c.outstanding_tasks = out;
    c.outstanding_credit_tasks = out_credit;
    c.credits_remaining = credits_c - out_credit;
    c.connected = connected;
    c.end_reason = connected ? IOD_END_NONE : IOD_END_CLEAN;
    return c;
}

Test(stats, fresh_daemon_one_client)
{
    struct iod_stats_totals tot;
    memset(&tot, 0, sizeof tot);
    struct iod_worker_counters a = mk(0, 0, 0, 0, 0, 32, true);
    const struct iod_worker_counters *live[] = {&a};
    struct iouringd_stats_result s;
    memset(&s, 0xEE, sizeof s);
    iod_stats_aggregate(&tot, live, 1, 32, &s, NULL);
    cr_assert_eq(s.active_clients, 1);
    cr_assert_eq(s.available_credits, 32);
    cr_assert_eq(s.per_client_credit_limit, 32);
    cr_assert_eq(s.outstanding_tasks, 0);
    cr_assert_eq(s.outstanding_credit_tasks, 0);
    cr_assert_eq(s.registered_files, 0);
    cr_assert_eq(s.registered_buffers, 0);
    cr_assert_eq(s.accepted_submits, 0);
    cr_assert_eq(s.rejected_submits, 0);
    cr_assert_eq(s.completions, 0);
    cr_assert_eq(s.clients_at_credit_limit, 0);
}

Test(stats, no_workers_is_all_zero_but_the_limit)
{
    struct iod_stats_totals tot;
    memset(&tot, 0, sizeof tot);
    struct iouringd_stats_result s;
    memset(&s, 0xEE, sizeof s);
    iod_stats_aggregate(&tot, NULL, 0, 7, &s, NULL);
    struct iouringd_stats_result want;
    memset(&want, 0, sizeof want);
    want.per_client_credit_limit = 7;
    cr_assert_arr_eq(&s, &want, sizeof s);
}

Test(stats, example_two_clients_at_their_limit)
{
    /* --ring-entries 4 --max-clients 2 --per-client-credits 1: two clients
     * each holding a TIMEOUT, plus one rejected TIMEOUT (§14). */
    struct iod_stats_totals tot;
    memset(&tot, 0, sizeof tot);
    struct iod_worker_counters a = mk(1, 1, 0, 1, 1, 1, true);
    struct iod_worker_counters b = mk(1, 0, 0, 1, 1, 1, true);
    const struct iod_worker_counters *live[] = {&a, &b};
    struct iouringd_stats_result s;
    iod_stats_aggregate(&tot, live, 2, 1, &s, NULL);
    cr_assert_eq(s.active_clients, 2);
    cr_assert_eq(s.outstanding_credit_tasks, 2);
    cr_assert_eq(s.outstanding_tasks, 2);
    cr_assert_eq(s.clients_at_credit_limit, 2);
    cr_assert_eq(s.available_credits, 0);
    cr_assert_eq(s.rejected_submits, 1);
    cr_assert_eq(s.accepted_submits, 2);
    cr_assert_eq(s.completions, 0);
    cr_assert_eq(s.per_client_credit_limit, 1);
}

Test(stats, connected_only_fields_versus_all_live_gauges)
{
    struct iod_stats_totals tot;
    memset(&tot, 0, sizeof tot);
    /* A: connected, at its limit. B: connected, 5 of 8 left, with resources.
     * D: client gone, worker finishing, no credit left and resources held. */
    struct iod_worker_counters a = mk(10, 0, 2, 8, 8, 8, true);
    struct iod_worker_counters b = mk(4, 1, 1, 3, 3, 8, true);
    b.registered_files = 2;
    b.registered_buffers = 1;
    struct iod_worker_counters d = mk(20, 3, 11, 9, 8, 8, false);
    d.registered_files = 5;
    d.registered_buffers = 2;
    const struct iod_worker_counters *live[] = {&a, &b, &d};
    struct iouringd_stats_result s;
    iod_stats_aggregate(&tot, live, 3, 8, &s, NULL);
    cr_assert_eq(s.active_clients, 2, "only connected clients are active");
    cr_assert_eq(s.available_credits, 0 + 5, "sum over connected clients only");
    cr_assert_eq(s.clients_at_credit_limit, 1, "the finishing worker does not count");
    cr_assert_eq(s.outstanding_tasks, 8 + 3 + 9, "finishing workers included");
    cr_assert_eq(s.outstanding_credit_tasks, 8 + 3 + 8);
    cr_assert_eq(s.registered_files, 7);
    cr_assert_eq(s.registered_buffers, 3);
    cr_assert_eq(s.accepted_submits, 34);
    cr_assert_eq(s.rejected_submits, 4);
    cr_assert_eq(s.completions, 14);
    cr_assert_eq(s.accepted_submits, s.completions + s.outstanding_tasks, "§14 invariant");
}

Test(stats, lifetime_is_exited_totals_plus_live)
{
    struct iod_stats_totals tot;
    memset(&tot, 0, sizeof tot);
    struct iod_worker_counters e1 = mk(100, 7, 100, 0, 0, 4, false);
    e1.bytes_read = 1000;
    e1.bytes_written = 10;
    struct iod_worker_counters e2 = mk(5, 2, 5, 0, 0, 4, false);
    e2.registered_files = 3; /* gauges of exited workers never count */
    iod_stats_add_exited(&tot, &e1, false);
    iod_stats_add_exited(&tot, &e2, false);
    struct iod_worker_counters l = mk(9, 1, 6, 3, 2, 4, true);
    l.bytes_read = 5;
    const struct iod_worker_counters *live[] = {&l};
    struct iouringd_stats_result s;
    struct iod_worker_counters lt;
    memset(&lt, 0xEE, sizeof lt);
    iod_stats_aggregate(&tot, live, 1, 4, &s, &lt);
    cr_assert_eq(s.accepted_submits, 114);
    cr_assert_eq(s.rejected_submits, 10);
    cr_assert_eq(s.completions, 111);
    cr_assert_eq(s.outstanding_tasks, 3);
    cr_assert_eq(s.registered_files, 0);
    cr_assert_eq(s.active_clients, 1);
    cr_assert_eq(s.available_credits, 2);
    cr_assert_eq(s.accepted_submits, s.completions + s.outstanding_tasks);
    cr_assert_eq(lt.accepted_submits, 114);
    cr_assert_eq(lt.rejected_submits, 10);
    cr_assert_eq(lt.completions, 111);
    cr_assert_eq(lt.bytes_read, 1005);
    cr_assert_eq(lt.bytes_written, 10);
    /* Aggregating does not change the totals. */
    iod_stats_aggregate(&tot, NULL, 0, 4, &s, NULL);
    cr_assert_eq(s.accepted_submits, 105);
    cr_assert_eq(s.completions, 105);
}

Test(stats, abnormal_exit_raises_completions_to_accepted)
{
    struct iod_stats_totals tot;
    memset(&tot, 0, sizeof tot);
    /* Its last report: 10 accepted, 7 completed, 3 outstanding. */
    struct iod_worker_counters k = mk(10, 1, 7, 3, 3, 4, true);
    iod_stats_add_exited(&tot, &k, true);
    struct iouringd_stats_result s;
    iod_stats_aggregate(&tot, NULL, 0, 4, &s, NULL);
    cr_assert_eq(s.accepted_submits, 10);
    cr_assert_eq(s.completions, 10);
    cr_assert_eq(s.rejected_submits, 1);
    cr_assert_eq(s.outstanding_tasks, 0);
    cr_assert_eq(s.accepted_submits, s.completions + s.outstanding_tasks);
}

Test(stats, abnormal_exit_with_nothing_outstanding_is_unchanged)
{
    struct iod_stats_totals tot;
    memset(&tot, 0, sizeof tot);
    struct iod_worker_counters k = mk(6, 0, 6, 0, 0, 4, false);
    iod_stats_add_exited(&tot, &k, true);
    struct iouringd_stats_result s;
    iod_stats_aggregate(&tot, NULL, 0, 4, &s, NULL);
    cr_assert_eq(s.accepted_submits, 6);
    cr_assert_eq(s.completions, 6);
}

Test(stats, clean_exit_keeps_completions_as_reported)
{
    struct iod_stats_totals tot;
    memset(&tot, 0, sizeof tot);
    struct iod_worker_counters k = mk(10, 0, 7, 3, 3, 4, false);
    iod_stats_add_exited(&tot, &k, false);
    struct iouringd_stats_result s;
    iod_stats_aggregate(&tot, NULL, 0, 4, &s, NULL);
    cr_assert_eq(s.completions, 7);
}

Test(stats, metrics_line_exact_format)
{
    struct iod_metrics_fields m = {
        .phase = "shutdown",
        .pid = 4242,
        .job_field = " job_id=7",
        .socket = "/tmp/iod.sock",
        .ring_entries = 64,
        .registered_fd_slots = 32,
        .registered_buffer_slots = 1,
        .io_bytes_max = 4096,
        .credits = 32,
    };
    struct iouringd_stats_result s = {
        .active_clients = 2,
        .outstanding_tasks = 3,
        .outstanding_credit_tasks = 1,
        .available_credits = 63,
        .registered_files = 4,
        .registered_buffers = 5,
        .accepted_submits = 12345678901ull,
        .rejected_submits = 6,
        .completions = 12345678898ull,
        .per_client_credit_limit = 32,
        .clients_at_credit_limit = 0,
    };
    char buf[4096];
    size_t n = iod_stats_format_metrics(buf, sizeof buf, &m, &s);
    const char *want =
        "iouringd metrics phase=shutdown pid=4242 job_id=7 socket=/tmp/iod.sock "
        "active_clients=2 outstanding_tasks=3 outstanding_credit_tasks=1 "
        "available_credits=63 registered_files=4 registered_buffers=5 "
        "accepted_submits=12345678901 rejected_submits=6 completions=12345678898 "
        "ring_entries=64 registered_fd_slots=32 registered_buffer_slots=1 "
        "io_bytes_max=4096 per_client_credit_limit=32 clients_at_credit_limit=0\n";
    cr_assert_str_eq(buf, want);
    cr_assert_eq(n, strlen(want));
}

Test(stats, metrics_line_ready_without_job_id)
{
    struct iod_metrics_fields m = {
        .phase = "ready",
        .pid = 1,
        .job_field = " job_id=-",
        .socket = "--trace-stderr",
        .ring_entries = 2,
        .registered_fd_slots = 1024,
        .registered_buffer_slots = 64,
        .io_bytes_max = 65535,
        .credits = 1,
    };
    struct iouringd_stats_result s;
    memset(&s, 0, sizeof s);
    s.per_client_credit_limit = 1;
    s.accepted_submits = UINT64_MAX;
    s.clients_at_credit_limit = UINT32_MAX;
    char buf[4096];
    size_t n = iod_stats_format_metrics(buf, sizeof buf, &m, &s);
    const char *want =
        "iouringd metrics phase=ready pid=1 job_id=- socket=--trace-stderr "
        "active_clients=0 outstanding_tasks=0 outstanding_credit_tasks=0 "
        "available_credits=0 registered_files=0 registered_buffers=0 "
        "accepted_submits=18446744073709551615 rejected_submits=0 completions=0 "
        "ring_entries=2 registered_fd_slots=1024 registered_buffer_slots=64 "
        "io_bytes_max=65535 per_client_credit_limit=1 clients_at_credit_limit=4294967295\n";
    cr_assert_str_eq(buf, want);
    cr_assert_eq(n, strlen(want));
}
