/* Observability beyond the contract (README "Lifecycle log",
 * docs/protocol-extensions.md): the `iouringd log` lifecycle lines, --quiet, and the
 * GET_DAEMON_COUNTERS extension (control kind 0x1001) over the raw protocol. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(observe, .fini = h_cleanup, .timeout = 30);

/* ---- helpers ---------------------------------------------------------------- */

static void nop_rt(struct h_conn *c, uint64_t id, uint32_t credits_after)
{
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), id, 0, credits_after);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, id, 0, IOURINGD_TASK_NOP, 0);
    h_free_completion(&comp);
}

static char *fmt_u(unsigned long long v)
{
    static char bufs[8][32];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 32, "%llu", v);
    return b;
}

/* A refused client: nothing is written back; EOF or ECONNRESET. */
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

#define MAX_KEYS 24

/* Wait for the nth `iouringd log level=L event=E ` line and parse it strictly:
 * level, event, pid (= the daemon's), job_id only if `job` is non-NULL, then
 * exactly `keys`. Values of `keys` land in vals. Returns the line (malloc'ed). */
static char *log_line(const struct h_daemon *d, const char *level, const char *event, int nth,
                      const char *job, const char *const *keys, size_t nkeys, char (*vals)[128])
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "iouringd log level=%s event=%s ", level, event);
    char *line = h_wait_stderr_line(d, prefix, nth, H_TIMEOUT_MS);
    cr_assert(line != NULL, "no line #%d starting with '%s'; stderr:\n%s", nth, prefix,
              h_stderr(d));
    const char *all[MAX_KEYS + 4];
    size_t n = 0;
    all[n++] = "level";
    all[n++] = "event";
    all[n++] = "pid";
    if (job != NULL)
        all[n++] = "job_id";
    cr_assert(nkeys <= MAX_KEYS);
    for (size_t i = 0; i < nkeys; i++)
        all[n++] = keys[i];
    char v[MAX_KEYS + 4][128];
    h_expect_fields(line, "iouringd log", all, n, v);
    cr_assert_str_eq(v[2], fmt_u((unsigned long long)d->pid), "pid= in: %s", line);
    if (job != NULL)
        cr_assert_str_eq(v[3], job, "job_id= in: %s", line);
    size_t off = job != NULL ? 4 : 3;
    for (size_t i = 0; i < nkeys; i++)
        memcpy(vals[i], v[off + i], 128);
    return line;
}

static const char *const start_keys[] = {
    "version",        "socket",       "ring_entries",  "credits",
    "sq_entries",     "max_clients",  "max_clients_per_uid", "registered_fds",
    "registered_buffers", "io_bytes_max", "seccomp_mode", "worker_user",
    "openat_root",    "features",     "op_mask"};
#define N_START (sizeof start_keys / sizeof start_keys[0])
static const char *const admitted_keys[] = {"conn", "slot", "worker_pid", "uid", "credits"};
#define N_ADMITTED (sizeof admitted_keys / sizeof admitted_keys[0])
static const char *const refused_keys[] = {"conn", "reason", "uid", "refused_total"};
#define N_REFUSED (sizeof refused_keys / sizeof refused_keys[0])
static const char *const exit_keys[] = {"conn",   "slot", "worker_pid",      "reason",
                                        "signal", "code", "tasks_completed", "duration_ms"};
#define N_EXIT (sizeof exit_keys / sizeof exit_keys[0])
static const char *const shutdown_keys[] = {"signal", "status", "workers"};
#define N_SHUTDOWN (sizeof shutdown_keys / sizeof shutdown_keys[0])

static bool is_decimal(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Check a worker_exit line's values. */
static void check_exit(char (*v)[128], const char *line, uint64_t conn, unsigned slot, pid_t wpid,
                       const char *reason, int sig, uint64_t tasks)
{
    cr_assert_str_eq(v[0], fmt_u(conn), "conn= in: %s", line);
    cr_assert_str_eq(v[1], fmt_u(slot), "slot= in: %s", line);
    cr_assert_str_eq(v[2], fmt_u((unsigned long long)wpid), "worker_pid= in: %s", line);
    cr_assert_str_eq(v[3], reason, "reason= in: %s", line);
    cr_assert_str_eq(v[4], fmt_u((unsigned long long)sig), "signal= in: %s", line);
    cr_assert_str_eq(v[5], "0", "code= in: %s", line);
    cr_assert_str_eq(v[6], fmt_u(tasks), "tasks_completed= in: %s", line);
    cr_assert(is_decimal(v[7]), "duration_ms= in: %s", line);
}

static size_t count_lines(const char *all, const char *prefix)
{
    size_t n = 0, plen = strlen(prefix);
    for (const char *p = all; *p != '\0';) {
        if (strncmp(p, prefix, plen) == 0)
            n++;
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return n;
}

/* The last complete line of stderr (malloc'ed). */
static char *last_line(const struct h_daemon *d)
{
    char *all = h_stderr(d);
    size_t len = strlen(all);
    cr_assert(len > 0 && all[len - 1] == '\n', "stderr does not end with a whole line:\n%s",
              all);
    all[len - 1] = '\0';
    char *p = strrchr(all, '\n');
    char *res = strdup(p == NULL ? all : p + 1);
    free(all);
    return res;
}

/* ---- lifecycle: start ------------------------------------------------------- */

Test(observe, start_line_has_every_key)
{
    /* The version the daemon reports (§16 --version). */
    const char *vargv[] = {h_daemon_bin(), "--version", NULL};
    struct h_run_result vr;
    h_run(vargv, H_TIMEOUT_MS, &vr);
    cr_assert(h_exited_with(&vr, 0), "--version failed");
    char version[64];
    cr_assert_eq(sscanf(vr.out, "iouringd %63s (protocol 1.12)", version), 1,
                 "--version output: %s", vr.out);
    h_run_free(&vr);

    struct h_daemon *d =
        h_start("--trace-stderr", "--ring-entries", "16", "--per-client-credits", "4",
                "--max-clients", "3", "--max-clients-per-uid", "2", "--registered-fds", "5",
                "--registered-buffers", "2", "--io-bytes-max", "8192", "--job-id", "7", NULL);
    struct iouringd_capability_descriptor caps;
    (void)h_client(d, &caps);
    char v[N_START][128];
    char *line = log_line(d, "info", "start", 1, "7", start_keys, N_START, v);
    char features[32], op_mask[32];
    snprintf(features, sizeof features, "0x%x", caps.features);
    snprintf(op_mask, sizeof op_mask, "0x%x", caps.op_mask);
    const char *want[N_START] = {version, d->sock, "16",      "4",   "8",      "3",
                                 "2",     "5",     "2",       "8192", "enforce", "-",
                                 "-",     features, op_mask};
    for (size_t i = 0; i < N_START; i++)
        cr_assert_str_eq(v[i], want[i], "%s=%s, want %s, in: %s", start_keys[i], v[i], want[i],
                         line);
    /* The handshake agrees: S = 8, C = 4. */
    cr_assert_eq(caps.ring_entries, 8);
    cr_assert_eq(caps.submit_credits, 4);

    /* After listen, before the ready metrics line: the very first two lines. */
    char *all = h_stderr(d);
    cr_assert(strncmp(all, line, strlen(line)) == 0 && all[strlen(line)] == '\n',
              "the start line is not first:\n%s", all);
    cr_assert(strncmp(all + strlen(line) + 1, "iouringd metrics phase=ready ", 29) == 0,
              "the ready metrics line does not follow the start line:\n%s", all);
    free(all);
    free(line);
}

Test(observe, start_line_defaults_without_job_id)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    (void)h_client(d, &caps);
    char v[N_START][128];
    char *line = log_line(d, "info", "start", 1, NULL, start_keys, N_START, v);
    cr_assert_str_eq(v[1], d->sock);
    cr_assert_str_eq(v[2], "64", "ring_entries in: %s", line);
    cr_assert_str_eq(v[3], "32", "credits in: %s", line);
    cr_assert_str_eq(v[4], "64", "sq_entries in: %s", line);
    cr_assert_str_eq(v[5], "64", "max_clients in: %s", line);
    cr_assert_str_eq(v[7], "32", "registered_fds in: %s", line);
    cr_assert_str_eq(v[8], "1", "registered_buffers in: %s", line);
    cr_assert_str_eq(v[9], "4096", "io_bytes_max in: %s", line);
    cr_assert_str_eq(v[10], "enforce", "seccomp_mode in: %s", line);
    free(line);
}

/* ---- lifecycle: admissions and worker exits ---------------------------------- */

Test(observe, client_admitted_fields)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps); /* conn 1, slot 0 */
    pid_t wa = io_worker_pid(d);
    char v[N_ADMITTED][128];
    char *line = log_line(d, "info", "client_admitted", 1, NULL, admitted_keys, N_ADMITTED, v);
    const char *want[N_ADMITTED] = {"1", "0", fmt_u((unsigned long long)wa),
                                    fmt_u(getuid()), fmt_u(caps.submit_credits)};
    for (size_t i = 0; i < N_ADMITTED; i++)
        cr_assert_str_eq(v[i], want[i], "%s=%s, want %s, in: %s", admitted_keys[i], v[i],
                         want[i], line);
    cr_assert_str_eq(v[3], "0", "tests run as root: uid= in: %s", line);
    free(line);

    /* A second client: conn 2, slot 1, its own worker. */
    struct h_conn *b = h_client(d, NULL);
    pid_t kids[4];
    cr_assert_eq(h_wait_children(d->pid, 2, kids, 4, H_TIMEOUT_MS), 2);
    pid_t wb = kids[0] == wa ? kids[1] : kids[0];
    line = log_line(d, "info", "client_admitted", 2, NULL, admitted_keys, N_ADMITTED, v);
    cr_assert_str_eq(v[0], "2", "conn= in: %s", line);
    cr_assert_str_eq(v[1], "1", "slot= in: %s", line);
    cr_assert_str_eq(v[2], fmt_u((unsigned long long)wb), "worker_pid= in: %s", line);
    free(line);

    /* A leaves; its slot 0 is reused by conn 3. */
    h_close(a);
    char ev[N_EXIT][128];
    free(log_line(d, "info", "worker_exit", 1, NULL, exit_keys, N_EXIT, ev));
    struct h_conn *c = h_client(d, NULL);
    line = log_line(d, "info", "client_admitted", 3, NULL, admitted_keys, N_ADMITTED, v);
    cr_assert_str_eq(v[0], "3", "conn= in: %s", line);
    cr_assert_str_eq(v[1], "0", "slot= in: %s", line);
    free(line);
    (void)b;
    (void)c;
}

Test(observe, worker_exit_clean)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    pid_t w = io_worker_pid(d);
    uint32_t C = caps.submit_credits;
    for (uint64_t i = 1; i <= 3; i++)
        nop_rt(c, i, C - 1);
    struct iouringd_cancel_request cancel = h_cancel(0);
    h_assert_submit(h_submit(c, &cancel, sizeof cancel), 0, -EINVAL, C); /* not a task */
    h_close(c); /* at a message boundary */
    char v[N_EXIT][128];
    char *line = log_line(d, "info", "worker_exit", 1, NULL, exit_keys, N_EXIT, v);
    check_exit(v, line, 1, 0, w, "clean", 0, 3);
    free(line);
    /* A clean end is not an abnormal one: no contract worker line (§15.3). */
    char *all = h_stderr(d);
    cr_assert_eq(count_lines(all, "iouringd worker "), 0, "worker line for a clean end:\n%s",
                 all);
    cr_assert_eq(count_lines(all, "iouringd log level=warn "), 0, "warn lines:\n%s", all);
    free(all);
}

Test(observe, worker_exit_protocol_violation)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    pid_t w = io_worker_pid(d);
    nop_rt(c, 1, caps.submit_credits - 1);
    struct iouringd_request_header bad = h_nop();
    bad.header.magic = 0x32444F49u; /* "IOD2" */
    h_send(c, &bad, sizeof bad);
    io_expect_disconnect(c, "bad magic");
    char v[N_EXIT][128];
    char *line = log_line(d, "warn", "worker_exit", 1, NULL, exit_keys, N_EXIT, v);
    check_exit(v, line, 1, 0, w, "protocol_violation", 0, 1);
    free(line);
    char *all = h_stderr(d);
    cr_assert_eq(count_lines(all, "iouringd worker "), 0,
                 "a disconnect is a normal end, no worker line:\n%s", all);
    free(all);
}

Test(observe, worker_exit_handshake_reject)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_connect(d);
    pid_t w = io_worker_pid(d);
    struct iouringd_handshake_request req = h_hs_request();
    req.abi_minor = 11;
    struct iouringd_handshake_result res;
    cr_assert_eq(h_handshake_raw(c, &req, &res), 0);
    cr_assert_eq(res.response.status, IOURINGD_HANDSHAKE_REJECT);
    cr_assert_eq(h_expect_eof(c->fd, H_TIMEOUT_MS), 0, "want EOF after REJECT");
    char v[N_EXIT][128];
    char *line = log_line(d, "warn", "worker_exit", 1, NULL, exit_keys, N_EXIT, v);
    check_exit(v, line, 1, 0, w, "handshake_reject", 0, 0);
    free(line);
}

Test(observe, worker_exit_crash_on_sigsegv)
{
    struct h_daemon *d = h_start("--max-clients", "2", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps); /* conn 1, slot 0 */
    pid_t wa = io_worker_pid(d);
    struct h_conn *b = h_client(d, NULL); /* conn 2, slot 1 */
    pid_t kids[4];
    cr_assert_eq(h_wait_children(d->pid, 2, kids, 4, H_TIMEOUT_MS), 2);
    pid_t wb = kids[0] == wa ? kids[1] : kids[0];
    nop_rt(b, 1, caps.submit_credits - 1);
    /* A collection makes B's worker report its NOP: a killed worker's count is its
     * last report (§12). */
    struct iouringd_stats_result s = h_stats(a);
    cr_assert_eq(s.completions, 1);
    cr_assert_eq(kill(wb, SIGSEGV), 0);
    cr_assert_eq(h_expect_eof(b->fd, H_TIMEOUT_MS), 0, "B: want EOF after its worker died");

    char v[N_EXIT][128];
    char *line = log_line(d, "warn", "worker_exit", 1, NULL, exit_keys, N_EXIT, v);
    check_exit(v, line, 2, 1, wb, "crash", SIGSEGV, 1);
    free(line);
    /* The contract's worker line (§15.3). */
    static const char *const worker_keys[] = {"pid",        "job_id", "conn", "client_slot",
                                              "worker_pid", "end",    "code"};
    char *wl = h_wait_stderr_line(d, "iouringd worker ", 1, H_TIMEOUT_MS);
    char wv[7][128];
    h_expect_fields(wl, "iouringd worker", worker_keys, 7, wv);
    const char *want[7] = {fmt_u((unsigned long long)d->pid), "-", "2", "1",
                           fmt_u((unsigned long long)wb), "signal", "11"};
    for (size_t i = 0; i < 7; i++)
        cr_assert_str_eq(wv[i], want[i], "%s=%s, want %s, in: %s", worker_keys[i], wv[i],
                         want[i], wl);
    free(wl);
    /* A is untouched. */
    nop_rt(a, 1, caps.submit_credits - 1);
}

Test(observe, client_refused_max_clients)
{
    struct h_daemon *d = h_start("--max-clients", "1", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps); /* conn 1 */
    struct h_conn *b = h_connect(d);       /* conn 2 */
    expect_refused(b);
    char v[N_REFUSED][128];
    char *line = log_line(d, "warn", "client_refused", 1, NULL, refused_keys, N_REFUSED, v);
    cr_assert_str_eq(v[0], "2", "conn= in: %s", line);
    cr_assert_str_eq(v[1], "max_clients", "reason= in: %s", line);
    cr_assert_str_eq(v[2], fmt_u(getuid()), "uid= in: %s", line);
    cr_assert_str_eq(v[3], "1", "refused_total= in: %s", line);
    free(line);
    /* The contract's admission line is there too. */
    char *al = h_wait_stderr_line(d, "iouringd admission ", 1, H_TIMEOUT_MS);
    cr_assert(al != NULL && strstr(al, " conn=2 event=refused reason=max_clients ") != NULL,
              "admission line: %s", al ? al : "(none)");
    free(al);
    nop_rt(a, 1, caps.submit_credits - 1);
}

Test(observe, shutdown_event_on_sigterm)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    (void)c;
    cr_assert_eq(h_wait_children(d->pid, 1, NULL, 0, H_TIMEOUT_MS), 1);
    int status = h_stop(d);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status 0x%x",
              (unsigned)status);
    char v[N_SHUTDOWN][128];
    char *line = log_line(d, "info", "shutdown", 1, NULL, shutdown_keys, N_SHUTDOWN, v);
    cr_assert_str_eq(v[0], "15", "signal= in: %s", line);
    cr_assert_str_eq(v[1], "0", "status= in: %s", line);
    cr_assert_str_eq(v[2], "1", "workers= in: %s", line);
    /* Without --trace-stderr it is the last line. */
    char *last = last_line(d);
    cr_assert_str_eq(last, line, "last line is not the shutdown line: %s", last);
    free(last);
    free(line);
}

Test(observe, shutdown_event_on_sigint)
{
    struct h_daemon *d = h_start("--trace-stderr", NULL);
    int status = h_signal_wait(d, SIGINT, H_TIMEOUT_MS);
    cr_assert(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGINT,
              "status 0x%x", (unsigned)status);
    char v[N_SHUTDOWN][128];
    char *line = log_line(d, "info", "shutdown", 1, NULL, shutdown_keys, N_SHUTDOWN, v);
    cr_assert_str_eq(v[0], "2", "signal= in: %s", line);
    cr_assert_str_eq(v[1], "0", "status= in: %s", line);
    free(line);
    /* With --trace-stderr the metrics line stays last, counters right before it. */
    char *last = last_line(d);
    cr_assert(strncmp(last, "iouringd metrics phase=shutdown ", 32) == 0, "last line: %s",
              last);
    free(last);
}

/* Every event kind once; `job` is the --job-id value or NULL. */
static void job_id_scenario(const char *job)
{
    struct h_daemon *d = job != NULL ? h_start("--max-clients", "1", "--job-id", job, NULL)
                                     : h_start("--max-clients", "1", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps); /* conn 1 */
    expect_refused(h_connect(d));          /* conn 2 */
    char v[MAX_KEYS][128];
    free(log_line(d, "warn", "client_refused", 1, job, refused_keys, N_REFUSED, v));
    nop_rt(a, 1, caps.submit_credits - 1);
    h_close(a);
    free(log_line(d, "info", "worker_exit", 1, job, exit_keys, N_EXIT, v));
    struct h_conn *b = h_client(d, NULL); /* conn 3 */
    (void)b;
    free(log_line(d, "info", "client_admitted", 2, job, admitted_keys, N_ADMITTED, v));
    h_stop(d);
    free(log_line(d, "info", "start", 1, job, start_keys, N_START, v));
    free(log_line(d, "info", "client_admitted", 1, job, admitted_keys, N_ADMITTED, v));
    free(log_line(d, "info", "shutdown", 1, job, shutdown_keys, N_SHUTDOWN, v));

    /* Every lifecycle line, not just the ones above. */
    char *all = h_stderr(d);
    size_t nlog = 0;
    char want[64];
    snprintf(want, sizeof want, " pid=%d job_id=%s ", (int)d->pid, job != NULL ? job : "");
    for (char *p = all; *p != '\0';) {
        char *nl = strchr(p, '\n');
        cr_assert(nl != NULL, "partial last line: %s", p);
        *nl = '\0';
        if (strncmp(p, "iouringd log ", 13) == 0) {
            nlog++;
            if (job != NULL)
                cr_assert(strstr(p, want) != NULL, "no '%s' in: %s", want, p);
            else
                cr_assert(strstr(p, "job_id") == NULL, "job_id without --job-id: %s", p);
        } else if (job == NULL) {
            /* The contract lines keep their job_id=- (§15.2). */
            cr_assert(strstr(p, " job_id=- ") != NULL, "contract line without job_id=-: %s", p);
        } else {
            cr_assert(strstr(p, " job_id=7 ") != NULL, "contract line without job_id=7: %s", p);
        }
        p = nl + 1;
    }
    cr_assert_eq(nlog, 6, "want 6 lifecycle lines, got %zu:\n%s", nlog, all);
    free(all);
}

Test(observe, job_id_on_every_lifecycle_line) { job_id_scenario("7"); }
Test(observe, no_job_id_key_without_option) { job_id_scenario(NULL); }

Test(observe, quiet_drops_log_keeps_contract_lines)
{
    struct h_daemon *d = h_start("--quiet", "--max-clients", "1", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    pid_t wa = io_worker_pid(d);
    expect_refused(h_connect(d));
    char *al = h_wait_stderr_line(d, "iouringd admission ", 1, H_TIMEOUT_MS);
    cr_assert(al != NULL, "the admission line is missing with --quiet");
    free(al);
    nop_rt(a, 1, caps.submit_credits - 1);
    cr_assert_eq(kill(wa, SIGKILL), 0);
    char *wl = h_wait_stderr_line(d, "iouringd worker ", 1, H_TIMEOUT_MS);
    cr_assert(wl != NULL, "the worker line is missing with --quiet");
    free(wl);
    int status = h_stop(d);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    /* Exactly the two contract lines, nothing else. */
    char *all = h_stderr(d);
    cr_assert_eq(count_lines(all, "iouringd log "), 0, "lifecycle lines with --quiet:\n%s", all);
    cr_assert_eq(count_lines(all, "iouringd admission "), 1, "%s", all);
    cr_assert_eq(count_lines(all, "iouringd worker "), 1, "%s", all);
    cr_assert_eq(count_lines(all, ""), 2, "unexpected lines:\n%s", all);
    free(all);
}

Test(observe, quiet_with_trace_stderr_keeps_trace_metrics_counters)
{
    struct h_daemon *d = h_start("--quiet", "--trace-stderr", "--max-clients", "1", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    expect_refused(h_connect(d));
    nop_rt(a, 1, caps.submit_credits - 1);
    h_close(a);
    cr_assert_eq(h_wait_children(d->pid, 0, NULL, 0, H_TIMEOUT_MS), 0);
    h_stop(d);
    char *all = h_stderr(d);
    cr_assert_eq(count_lines(all, "iouringd log "), 0, "lifecycle lines with --quiet:\n%s", all);
    cr_assert_eq(count_lines(all, "iouringd metrics "), 2, "%s", all);
    cr_assert_eq(count_lines(all, "iouringd trace "), 2, "%s", all);
    cr_assert_eq(count_lines(all, "iouringd counters "), 1, "%s", all);
    cr_assert_eq(count_lines(all, "iouringd admission "), 1, "%s", all);
    cr_assert_eq(count_lines(all, ""), 6, "unexpected lines:\n%s", all);
    cr_assert(strncmp(all, "iouringd metrics phase=ready ", 29) == 0, "first line:\n%s", all);
    free(all);
    char *last = last_line(d);
    cr_assert(strncmp(last, "iouringd metrics phase=shutdown ", 32) == 0, "last line: %s",
              last);
    free(last);
}

/* ---- GET_DAEMON_COUNTERS (0x1001) ---------------------------------------------- */

static struct iouringd_daemon_counters daemon_counters(struct h_conn *c)
{
    struct iouringd_request_header req = h_header(IOURINGD_EXT_GET_DAEMON_COUNTERS, 0);
    h_send(c, &req, sizeof req);
    struct iouringd_daemon_counters dc;
    h_read_reply(c, &dc, sizeof dc);
    cr_assert_eq(dc.struct_size, 256, "struct_size %u", dc.struct_size);
    cr_assert_eq(dc.version, IOURINGD_DAEMON_COUNTERS_VERSION, "version %u", dc.version);
    cr_assert_eq(dc.reserved, 0);
    for (int i = IOURINGD_REFUSED_REASONS; i < 8; i++)
        cr_assert_eq(dc.refused_total[i], 0, "spare refused_total[%d] = %llu", i,
                     (unsigned long long)dc.refused_total[i]);
    return dc;
}

Test(observe, counters_after_another_clients_nop)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    nop_rt(a, 1, C - 1);
    struct iouringd_timeout_request t = h_timeout(0);
    h_assert_submit(h_submit(a, &t, sizeof t), 2, 0, C - 1);
    struct h_completion comp = h_next_completion(a);
    h_assert_completion(&comp, 2, -ETIME, IOURINGD_TASK_TIMEOUT, 0);
    struct h_conn *b = h_client(d, NULL);
    struct iouringd_daemon_counters dc = daemon_counters(b);
    cr_assert(dc.stats.accepted_submits >= 1);
    cr_assert_eq(dc.stats.accepted_submits, 2);
    cr_assert_eq(dc.stats.completions, 2);
    cr_assert_eq(dc.stats.active_clients, 2);
    cr_assert_eq(dc.stats.available_credits, 2 * C);
    cr_assert_eq(dc.stats.per_client_credit_limit, C);
    cr_assert_eq(dc.admitted_total, 2);
    cr_assert_eq(dc.completions_ok_total, 1);
    cr_assert_eq(dc.completions_error_total, 1);
    cr_assert_eq(dc.bytes_read_total, 0);
    cr_assert_eq(dc.bytes_written_total, 0);
    cr_assert_eq(dc.live_workers, 2);
    cr_assert_eq(dc.max_clients, 64);
    cr_assert_eq(dc.seccomp_log_mode, 0);
    cr_assert_gt(dc.uptime_nsec, 0);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(dc.refused_total[i], 0);
        cr_assert_eq(dc.worker_exits_total[i], 0);
    }
    /* Not a task: not counted in submits, not traced, no completion. */
    struct iouringd_daemon_counters dc2 = daemon_counters(b);
    cr_assert_eq(dc2.stats.accepted_submits, 2);
    cr_assert_eq(dc2.stats.rejected_submits, 0);
    cr_assert_geq(dc2.uptime_nsec, dc.uptime_nsec);
    struct iouringd_get_trace_request tr = h_get_trace(0, 256);
    h_send(b, &tr, sizeof tr);
    struct iouringd_trace_result res;
    h_read_reply(b, &res, sizeof res);
    cr_assert(res.oldest_sequence == 0 && res.latest_sequence == 0 && res.count == 0,
              "0x1001 was traced");
    cr_assert(h_quiet(b->fd, H_QUIET_MS));
}

Test(observe, counters_lifetime_totals)
{
    struct h_daemon *d = h_start("--max-clients", "1", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps); /* conn 1 */
    uint32_t C = caps.submit_credits;
    pid_t wa = io_worker_pid(d);
    unsigned long long wa_st = h_pid_starttime(wa);
    nop_rt(a, 1, C - 1);
    static const char content[] = "hello world"; /* 11 bytes */
    int fd = io_memfd(content, 11);
    uint32_t id = io_register_fd_ok(a, fd);
    close(fd);
    h_assert_submit(io_read(a, IOURINGD_TASK_FILE_READ, 0, id, 100), 2, 0, C - 1);
    io_expect_completion(a, 2, 11, IOURINGD_TASK_FILE_READ, 11);
    h_close(a); /* leaves at a message boundary: a clean exit */
    io_expect_worker_gone(wa, wa_st, H_TIMEOUT_MS);

    struct h_conn *b = h_client(d, NULL); /* conn 2 */
    struct h_conn *r = h_connect(d);       /* conn 3: refused, B is live */
    expect_refused(r);
    h_close(r);

    /* Poll until the daemon has counted the refusal and the exit. */
    struct iouringd_daemon_counters dc;
    long long deadline = h_now_ms() + H_TIMEOUT_MS;
    for (;;) {
        dc = daemon_counters(b);
        if (dc.refused_total[IOURINGD_REFUSED_MAX_CLIENTS] >= 1 &&
            dc.worker_exits_total[IOURINGD_EXIT_CLEAN] >= 1)
            break;
        cr_assert(h_now_ms() < deadline, "refusal/exit never counted: refused %llu, clean %llu",
                  (unsigned long long)dc.refused_total[IOURINGD_REFUSED_MAX_CLIENTS],
                  (unsigned long long)dc.worker_exits_total[IOURINGD_EXIT_CLEAN]);
        h_sleep_ms(5);
    }
    cr_assert_eq(dc.admitted_total, 2);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(dc.refused_total[i], i == IOURINGD_REFUSED_MAX_CLIENTS ? 1u : 0u,
                     "refused_total[%d] = %llu", i, (unsigned long long)dc.refused_total[i]);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(dc.worker_exits_total[i], i == IOURINGD_EXIT_CLEAN ? 1u : 0u,
                     "worker_exits_total[%d] = %llu", i,
                     (unsigned long long)dc.worker_exits_total[i]);
    cr_assert_eq(dc.bytes_read_total, 11);
    cr_assert_eq(dc.bytes_written_total, 0);
    cr_assert_eq(dc.completions_ok_total, 2);
    cr_assert_eq(dc.completions_error_total, 0);
    cr_assert_eq(dc.live_workers, 1);
    cr_assert_eq(dc.max_clients, 1);
    cr_assert_eq(dc.seccomp_log_mode, 0);
    /* The embedded stats are GET_STATS's (§14). */
    struct iouringd_stats_result s;
    memset(&s, 0, sizeof s);
    s.active_clients = 1;
    s.available_credits = C;
    s.accepted_submits = 2;
    s.completions = 2;
    s.per_client_credit_limit = C;
    h_assert_stats(&dc.stats, &s);
    struct iouringd_stats_result g = h_stats(b);
    h_assert_stats(&g, &s);
}

Test(observe, counters_reserved0_nonzero_disconnects)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    nop_rt(c, 1, caps.submit_credits - 1);
    struct iouringd_request_header req = h_header(IOURINGD_EXT_GET_DAEMON_COUNTERS, 1);
    h_send(c, &req, sizeof req);
    io_expect_disconnect(c, "0x1001 with reserved0 1");
    char v[N_EXIT][128];
    char *line = log_line(d, "warn", "worker_exit", 1, NULL, exit_keys, N_EXIT, v);
    cr_assert_str_eq(v[3], "protocol_violation", "reason= in: %s", line);
    free(line);
}

Test(observe, counters_reserved1_nonzero_disconnects)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    struct iouringd_request_header req = h_header(IOURINGD_EXT_GET_DAEMON_COUNTERS, 0);
    req.reserved1 = 1;
    h_send(c, &req, sizeof req);
    io_expect_disconnect(c, "0x1001 with reserved1 1");
    /* Others are served. */
    struct h_conn *o = h_client(d, NULL);
    struct iouringd_daemon_counters dc = daemon_counters(o);
    cr_assert_eq(dc.stats.accepted_submits, 0);
}
