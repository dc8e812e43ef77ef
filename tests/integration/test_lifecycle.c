/* Start-up and shutdown: signals (§18), metrics lines (§15.2), startup failures
 * produced for real under seccomp (§17), the socket file (§2.1). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../helpers/harness.h"

TestSuite(lifecycle, .fini = h_cleanup, .timeout = 20);

#define LONG_NS 60000000000ull

static const char *const metrics_keys[] = {
    "phase",          "pid",
    "job_id",         "socket",
    "active_clients", "outstanding_tasks",
    "outstanding_credit_tasks", "available_credits",
    "registered_files", "registered_buffers",
    "accepted_submits", "rejected_submits",
    "completions",    "ring_entries",
    "registered_fd_slots", "registered_buffer_slots",
    "io_bytes_max",   "per_client_credit_limit",
    "clients_at_credit_limit"};
#define N_METRICS_KEYS (sizeof metrics_keys / sizeof metrics_keys[0])

static bool path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static void signal_case(int sig)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_connect(d); /* connected, never handshakes */
    pid_t kids[4];
    cr_assert_eq(h_wait_children(d->pid, 1, kids, 4, H_TIMEOUT_MS), 1, "no worker appeared");
    unsigned long long st = h_pid_starttime(kids[0]);
    cr_assert_neq(st, 0);

    int status = h_signal_wait(d, sig, H_TIMEOUT_MS);
    cr_assert_neq(status, -1, "daemon did not exit after signal %d", sig);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == sig,
              "daemon status 0x%x: want death by signal %d", (unsigned)status, sig);
    cr_assert(!path_exists(d->sock), "socket file %s left behind", d->sock);
    /* §18 step 4: every worker was reaped before the supervisor died. */
    cr_assert(h_pid_gone(kids[0], st), "worker %d outlived the supervisor", (int)kids[0]);
    cr_assert_eq(h_expect_eof(c->fd, H_TIMEOUT_MS), 0, "client: want EOF, no bytes");
}

Test(lifecycle, sigterm_with_unhandshaken_client) { signal_case(SIGTERM); }
Test(lifecycle, sigint_with_unhandshaken_client) { signal_case(SIGINT); }

Test(lifecycle, sigterm_with_busy_client)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_timeout_request t = h_timeout(LONG_NS);
    h_assert_submit(h_submit(c, &t, sizeof t), 1, 0, caps.submit_credits - 1);
    int status = h_signal_wait(d, SIGTERM, H_TIMEOUT_MS);
    cr_assert(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
              "status 0x%x", (unsigned)status);
    cr_assert_eq(h_expect_eof(c->fd, H_TIMEOUT_MS), 0, "want EOF and no further records");
    cr_assert_eq(h_children(d->pid, NULL, 0), 0);
}

static void check_metrics(const char *line, char (*v)[128], const struct h_daemon *d,
                          const char *phase, const char *job, const char *ring_entries,
                          const char *limit)
{
    h_expect_fields(line, "iouringd metrics", metrics_keys, N_METRICS_KEYS, v);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)d->pid);
    cr_assert_str_eq(v[0], phase, "phase= in: %s", line);
    cr_assert_str_eq(v[1], pid, "pid= in: %s", line);
    cr_assert_str_eq(v[2], job, "job_id= in: %s", line);
    cr_assert_str_eq(v[3], d->sock, "socket= in: %s", line);
    cr_assert_str_eq(v[13], ring_entries, "ring_entries= in: %s", line);
    cr_assert_str_eq(v[14], "32", "registered_fd_slots= in: %s", line);
    cr_assert_str_eq(v[15], "1", "registered_buffer_slots= in: %s", line);
    cr_assert_str_eq(v[16], "4096", "io_bytes_max= in: %s", line);
    cr_assert_str_eq(v[17], limit, "per_client_credit_limit= in: %s", line);
}

static void ready_line_case(const char *job_opt, const char *job)
{
    struct h_daemon *d;
    /* --quiet: the lifecycle log is our addition; without it the contract's
     * output (§15) is exact. */
    if (job_opt != NULL)
        d = h_start("--quiet", "--trace-stderr", "--ring-entries", "8", "--per-client-credits",
                    "2", "--job-id", job_opt, NULL);
    else
        d = h_start("--quiet", "--trace-stderr", "--ring-entries", "8", "--per-client-credits",
                    "2", NULL);
    char *line = h_wait_stderr_line(d, "iouringd metrics ", 1, H_TIMEOUT_MS);
    char v[N_METRICS_KEYS][128];
    check_metrics(line, v, d, "ready", job, "4", "2");
    const size_t counters[] = {4, 5, 6, 7, 8, 9, 10, 11, 12, 18};
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        cr_assert_str_eq(v[counters[i]], "0", "%s= is not 0 at ready: %s",
                         metrics_keys[counters[i]], line);
    /* It is the first line: nothing precedes it. */
    char *all = h_stderr(d);
    cr_assert(strncmp(all, line, strlen(line)) == 0, "ready line is not first:\n%s", all);
    free(all);
    free(line);
}

Test(lifecycle, trace_stderr_ready_line) { ready_line_case(NULL, "-"); }
Test(lifecycle, trace_stderr_ready_line_job_id) { ready_line_case("7", "7"); }
Test(lifecycle, trace_stderr_job_id_64bit)
{
    ready_line_case("18446744073709551615", "18446744073709551615");
}

Test(lifecycle, trace_stderr_shutdown_line_is_last)
{
    struct h_daemon *d = h_start("--trace-stderr", "--job-id", "7", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), 1, 0, caps.submit_credits - 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
    /* Closed before the signal: the final collection no longer counts it (§14). */
    h_close(c);
    int status = h_stop(d);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status 0x%x",
              (unsigned)status);
    char *all = h_stderr(d);
    size_t len = strlen(all);
    cr_assert(len > 0 && all[len - 1] == '\n', "stderr does not end with a full line");
    all[len - 1] = '\0';
    char *last = strrchr(all, '\n');
    last = last == NULL ? all : last + 1;
    char v[N_METRICS_KEYS][128];
    check_metrics(last, v, d, "shutdown", "7", "64", "32");
    cr_assert_str_eq(v[4], "0", "active_clients at shutdown: %s", last);
    cr_assert_str_eq(v[5], "0", "outstanding_tasks at shutdown: %s", last);
    cr_assert_str_eq(v[10], "1", "accepted_submits at shutdown: %s", last);
    cr_assert_str_eq(v[12], "1", "completions at shutdown: %s", last);
    free(all);
}

Test(lifecycle, quiet_without_trace_stderr)
{
    /* §15.3: without --trace-stderr a healthy daemon prints nothing; our
     * lifecycle log is off with --quiet. */
    struct h_daemon *d = h_start("--quiet", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), 1, 0, caps.submit_credits - 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
    h_close(c);
    h_stop(d);
    char *err = h_stderr(d);
    cr_assert_str_eq(err, "", "unexpected stderr:\n%s", err);
    free(err);
    FILE *f = fopen(d->out_path, "r");
    cr_assert(f != NULL);
    cr_assert_eq(fgetc(f), EOF, "unexpected stdout");
    fclose(f);
}

static void startup_failure_case(const char *err_name, const char *message)
{
    const char *dir = h_tmpdir();
    char sock[128];
    snprintf(sock, sizeof sock, "%s/sock", dir);
    const char *argv[] = {h_seccomp_run_bin(), err_name, "--", h_daemon_bin(), sock, NULL};
    struct h_run_result r;
    h_run(argv, H_TIMEOUT_MS, &r);
    cr_assert(h_exited_with(&r, 1), "want exit 1, got status 0x%x%s; stderr:\n%s",
              (unsigned)r.status, r.timed_out ? " (timed out)" : "", r.err);
    cr_assert(strstr(r.err, message) != NULL, "stderr lacks '%s':\n%s", message, r.err);
    cr_assert(!path_exists(sock), "socket file created despite the failure");
    h_run_free(&r);

    /* Failures before bind leave an existing file untouched (§17, §21.2.6). */
    int fd = open(sock, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "keep", 4), 4);
    close(fd);
    h_run(argv, H_TIMEOUT_MS, &r);
    cr_assert(h_exited_with(&r, 1));
    struct stat st;
    cr_assert(lstat(sock, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4,
              "the existing file at the socket path was touched");
    h_run_free(&r);
}

Test(lifecycle, startup_enosys)
{
    startup_failure_case("ENOSYS",
                         "iouringd: io_uring setup is unavailable on this kernel (ENOSYS)");
}

Test(lifecycle, startup_eperm)
{
    startup_failure_case(
        "EPERM",
        "iouringd: io_uring setup blocked by kernel policy or sandbox (Operation not permitted)");
}

Test(lifecycle, stale_socket_file_is_replaced)
{
    const char *dir = h_tmpdir();
    char sock[128];
    snprintf(sock, sizeof sock, "%s/sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, sock, strlen(sock));
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd); /* bound, never listened, closed: a stale socket file */
    cr_assert(path_exists(sock));
    cr_assert_eq(h_connect_path(sock), -ECONNREFUSED);

    struct h_daemon *d = h_start_argv(sock, NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), 1, 0, caps.submit_credits - 1);
}

Test(lifecycle, second_daemon_on_live_path_is_refused)
{
    /* Project decision beyond §2.1's "unlink any existing file": a live daemon's
     * socket is not stolen. */
    struct h_daemon *d = h_start(NULL);
    struct h_conn *a = h_client(d, NULL);
    const char *argv[] = {h_daemon_bin(), d->sock, NULL};
    struct h_run_result r;
    h_run(argv, 3000, &r);
    cr_assert(h_exited_with(&r, 1), "second daemon: want exit 1, got status 0x%x%s; stderr:\n%s",
              (unsigned)r.status, r.timed_out ? " (still running, killed)" : "", r.err);
    h_run_free(&r);
    /* The first keeps working, for old and new clients. */
    struct iouringd_request_header nop = h_nop();
    struct iouringd_submit_result s = h_submit(a, &nop, sizeof nop);
    cr_assert_eq(s.task_id, 1);
    struct iouringd_capability_descriptor caps;
    struct h_conn *b = h_client(d, &caps);
    h_assert_submit(h_submit(b, &nop, sizeof nop), 1, 0, caps.submit_credits - 1);
}

Test(lifecycle, path_of_107_bytes_works)
{
    const char *dir = h_tmpdir();
    char sock[200];
    size_t n = (size_t)snprintf(sock, sizeof sock, "%s/", dir);
    while (n < 107)
        sock[n++] = 's';
    sock[n] = '\0';
    cr_assert_eq(strlen(sock), 107);
    struct h_daemon *d = h_start_argv(sock, NULL);
    h_client(d, NULL);
}

/* A client that leaves just before SIGTERM: its worker may exit while the
 * final collection runs, with the supervisor's COLLECT unread. Its last
 * reports still wait in the channel (behind a pending ECONNRESET) and must be
 * the ones counted. The race is narrow, so it is run many times. */
Test(lifecycle, shutdown_counts_a_client_that_just_left, .timeout = 60)
{
    for (int i = 0; i < 300; i++) {
        struct h_daemon *d = h_start("--quiet", "--trace-stderr", NULL);
        struct h_conn *c = h_client(d, NULL);
        struct iouringd_request_header nop = h_nop();
        h_assert_submit(h_submit(c, &nop, sizeof nop), 1, 0, 31);
        struct h_completion comp = h_next_completion(c);
        h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
        h_close(c);
        h_stop(d);
        char *all = h_stderr(d);
        const char *last = strstr(all, "iouringd metrics phase=shutdown ");
        cr_assert(last != NULL, "run %d: no shutdown line:\n%s", i, all);
        cr_assert(strstr(last, " active_clients=0 ") != NULL &&
                      strstr(last, " accepted_submits=1 rejected_submits=0 completions=1 ") != NULL,
                  "run %d lost the client's counters:\n%s", i, all);
        cr_assert(strstr(all, "event=malformed_record") == NULL, "run %d:\n%s", i, all);
        free(all);
        h_cleanup(); /* frees the harness slots for the next round */
    }
}
