/* iouringctl against the real daemon: stats (table and JSON), metrics (Prometheus
 * text format parsed back line by line), ping, check; exit code 1 for a missing,
 * refusing or silent daemon; exit code 2 for usage errors; and the GET_STATS
 * fallback against a fake v1-only daemon that disconnects on the extension. */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../helpers/harness.h"

#ifndef IOURINGD_VERSION
#define IOURINGD_VERSION "0.2.0"
#endif

TestSuite(ctl, .fini = h_cleanup, .timeout = 30);

static const char *ctl_bin(void)
{
    const char *p = getenv("IOURINGCTL_BIN");
    return p != NULL && p[0] != '\0' ? p : "build/bin/iouringctl";
}

/* Runs iouringctl with the arguments up to the first NULL (at most 8). */
static void run_ctl(struct h_run_result *r, ...)
{
    const char *argv[10] = {ctl_bin()};
    size_t n = 1;
    va_list ap;
    va_start(ap, r);
    for (const char *a; n < 9 && (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    h_run(argv, H_TIMEOUT_MS, r);
    cr_assert(!r->timed_out, "iouringctl timed out");
}

#define CTL(r, ...) run_ctl((r), __VA_ARGS__, (const char *)NULL)

/* ---- a small JSON reader: flattens one object into "a.b" → raw token ------------- */

#define J_MAX 96
struct json {
    size_t n;
    char key[J_MAX][160];
    char val[J_MAX][256]; /* strings unquoted (no escapes expected), else raw */
    char kind[J_MAX];     /* 's' string, 'n' number, 'b' bool, 'z' null, 'o' object */
};

static const char *j_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static const char *j_string(const char *p, char *out, size_t cap)
{
    if (*p != '"')
        return NULL;
    size_t n = 0;
    for (p++; *p != '"'; p++) {
        if (*p == '\0' || (unsigned char)*p < 0x20 || n + 1 >= cap)
            return NULL;
        if (*p == '\\') {
            p++;
            if (strchr("\"\\/bfnrtu", *p) == NULL || *p == '\0')
                return NULL;
        }
        out[n++] = *p;
    }
    out[n] = '\0';
    return p + 1;
}

static const char *j_object(const char *p, const char *prefix, struct json *j);

static const char *j_value(const char *p, const char *key, struct json *j)
{
    cr_assert_lt(j->n, J_MAX);
    size_t i = j->n++;
    snprintf(j->key[i], sizeof j->key[i], "%s", key);
    if (*p == '{') {
        j->kind[i] = 'o';
        return j_object(p, key, j);
    }
    if (*p == '"') {
        j->kind[i] = 's';
        return j_string(p, j->val[i], sizeof j->val[i]);
    }
    const char *lits[] = {"true", "false", "null"};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(lits[k]);
        if (strncmp(p, lits[k], n) == 0) {
            j->kind[i] = k < 2 ? 'b' : 'z';
            snprintf(j->val[i], sizeof j->val[i], "%s", lits[k]);
            return p + n;
        }
    }
    /* number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    const char *s = p;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    j->kind[i] = 'n';
    snprintf(j->val[i], sizeof j->val[i], "%.*s", (int)(p - s), s);
    return p;
}

static const char *j_object(const char *p, const char *prefix, struct json *j)
{
    if (*p != '{')
        return NULL;
    p = j_ws(p + 1);
    if (*p == '}')
        return p + 1;
    for (;;) {
        char k[64], full[160];
        p = j_string(p, k, sizeof k);
        if (p == NULL)
            return NULL;
        snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", k);
        for (size_t i = 0; i < j->n; i++)
            cr_assert_str_neq(j->key[i], full, "duplicate JSON key %s", full);
        p = j_ws(p);
        if (*p != ':')
            return NULL;
        p = j_value(j_ws(p + 1), full, j);
        if (p == NULL)
            return NULL;
        p = j_ws(p);
        if (*p == '}')
            return p + 1;
        if (*p != ',')
            return NULL;
        p = j_ws(p + 1);
    }
}

static void json_parse(const char *text, struct json *j)
{
    memset(j, 0, sizeof *j);
    const char *p = j_object(j_ws(text), "", j);
    cr_assert(p != NULL, "not a JSON object: %s", text);
    cr_assert_str_eq(p, "\n", "one object and a newline expected: %s", text);
}

static const char *json_get(const struct json *j, const char *key, char kind)
{
    for (size_t i = 0; i < j->n; i++)
        if (strcmp(j->key[i], key) == 0) {
            cr_assert_eq(j->kind[i], kind, "%s has kind %c, not %c", key, j->kind[i], kind);
            return j->val[i];
        }
    cr_assert_fail("JSON key %s missing", key);
    return NULL;
}

static bool json_has(const struct json *j, const char *key)
{
    for (size_t i = 0; i < j->n; i++)
        if (strcmp(j->key[i], key) == 0)
            return true;
    return false;
}

static unsigned long long json_uint(const struct json *j, const char *key)
{
    const char *v = json_get(j, key, 'n');
    char *end;
    cr_assert(v[0] != '-' && strchr(v, '.') == NULL, "%s is not an integer: %s", key, v);
    unsigned long long n = strtoull(v, &end, 10);
    cr_assert(*end == '\0', "%s: %s", key, v);
    return n;
}

static const char *const stats_keys[] = {
    "active_clients",   "outstanding_tasks", "outstanding_credit_tasks", "available_credits",
    "registered_files", "registered_buffers", "accepted_submits",       "rejected_submits",
    "completions",      "per_client_credit_limit", "clients_at_credit_limit",
};
static const char *const refusal_reasons[] = {"peer_credentials", "max_clients",
                                              "max_clients_per_uid", "resources", "worker_setup"};
static const char *const exit_reasons[] = {"clean",          "protocol_violation",
                                           "handshake_reject", "io_error",
                                           "internal_error", "crash",
                                           "sandbox_violation", "malformed_record"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a Prometheus text-format (0.0.4) reader ---------------------------------------- */

#define P_MAX 64
struct prom {
    size_t nfam;
    char fam[P_MAX][64];
    char type[P_MAX][32];
    size_t nsamples;
    char sample[P_MAX][160]; /* name{labels} exactly as written */
    double value[P_MAX];
};

static bool name_ok(const char *name)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, "^iouringd_[a-z_]+$", REG_EXTENDED | REG_NOSUB), 0);
    bool ok = regexec(&re, name, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Labels: {k="v",k="v"} with k in [a-z_]+ and v free of unescaped quotes. */
static void check_labels(const char *l, const char *line)
{
    cr_assert_eq(*l, '{', "%s", line);
    l++;
    for (;;) {
        const char *k = l;
        while (*l >= 'a' && *l <= 'z')
            l++;
        while ((*l >= 'a' && *l <= 'z') || *l == '_')
            l++;
        cr_assert(l > k && l[0] == '=' && l[1] == '"', "bad label in: %s", line);
        for (l += 2; *l != '"'; l++) {
            cr_assert(*l != '\0' && *l != '\n', "unterminated label value: %s", line);
            if (*l == '\\')
                l++;
        }
        l++;
        if (*l == '}')
            break;
        cr_assert_eq(*l, ',', "%s", line);
        l++;
    }
    cr_assert_eq(l[1], '\0', "text after the labels: %s", line);
}

static void prom_parse(const char *text, struct prom *p)
{
    memset(p, 0, sizeof *p);
    cr_assert(text[0] != '\0', "no metrics output");
    cr_assert(ends_with(text, "\n"), "output does not end in a newline");
    char *copy = strdup(text);
    char *save = NULL;
    const char *current = NULL; /* family whose TYPE was the last metadata */
    bool help_pending = false;
    char help_for[64] = "";
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[64], rest[256];
        if (strncmp(line, "# HELP ", 7) == 0) {
            cr_assert_eq(sscanf(line + 7, "%63s %255[^\n]", name, rest), 2, "%s", line);
            cr_assert(name_ok(name), "bad metric name in: %s", line);
            for (size_t i = 0; i < p->nfam; i++)
                cr_assert_str_neq(p->fam[i], name, "family %s appears twice", name);
            snprintf(help_for, sizeof help_for, "%s", name);
            help_pending = true;
            current = NULL;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char type[32];
            cr_assert_eq(sscanf(line + 7, "%63s %31s", name, type), 2, "%s", line);
            cr_assert(help_pending && strcmp(help_for, name) == 0,
                      "TYPE without a preceding HELP: %s", line);
            cr_assert(strcmp(type, "gauge") == 0 || strcmp(type, "counter") == 0,
                      "type %s in: %s", type, line);
            if (strcmp(type, "counter") == 0)
                cr_assert(ends_with(name, "_total"), "counter without _total: %s", name);
            else
                cr_assert(!ends_with(name, "_total"), "gauge named _total: %s", name);
            cr_assert_lt(p->nfam, P_MAX);
            snprintf(p->fam[p->nfam], sizeof p->fam[0], "%s", name);
            snprintf(p->type[p->nfam], sizeof p->type[0], "%s", type);
            current = p->fam[p->nfam++];
            help_pending = false;
            continue;
        }
        cr_assert(line[0] != '#', "unexpected comment: %s", line);
        cr_assert(line[0] != '\0', "empty line");
        /* sample: NAME[{labels}] VALUE */
        char *space = strrchr(line, ' ');
        cr_assert(space != NULL, "no value: %s", line);
        *space = '\0';
        const char *value = space + 1;
        size_t nlen = strcspn(line, "{");
        cr_assert_lt(nlen, sizeof name);
        memcpy(name, line, nlen);
        name[nlen] = '\0';
        cr_assert(name_ok(name), "bad sample name: %s", name);
        cr_assert(current != NULL && strcmp(current, name) == 0,
                  "sample %s without HELP and TYPE for its family right before", name);
        if (line[nlen] == '{')
            check_labels(line + nlen, line);
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        cr_assert(*value != '\0' && *end == '\0' && errno == 0 && isfinite(v),
                  "value is not a number: '%s' in %s", value, line);
        cr_assert_lt(p->nsamples, P_MAX);
        snprintf(p->sample[p->nsamples], sizeof p->sample[0], "%s", line);
        p->value[p->nsamples++] = v;
    }
    free(copy);
}

static bool prom_find(const struct prom *p, const char *sample, double *v)
{
    for (size_t i = 0; i < p->nsamples; i++)
        if (strcmp(p->sample[i], sample) == 0) {
            *v = p->value[i];
            return true;
        }
    return false;
}

static double prom_value(const struct prom *p, const char *sample)
{
    double v = 0;
    cr_assert(prom_find(p, sample, &v), "sample %s missing", sample);
    return v;
}

static const char *prom_type(const struct prom *p, const char *family)
{
    for (size_t i = 0; i < p->nfam; i++)
        if (strcmp(p->fam[i], family) == 0)
            return p->type[i];
    return NULL;
}

/* ---- helpers ------------------------------------------------------------------ */

static void nop_round_trip(struct h_daemon *d)
{
    struct h_conn *c = h_client(d, NULL);
    struct iouringd_request_header nop = h_nop();
    struct iouringd_submit_result s = h_submit(c, &nop, sizeof nop);
    cr_assert_eq(s.res, 0);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, s.task_id, 0, IOURINGD_TASK_NOP, 0);
    h_free_completion(&comp);
}

static void expect_exit(const struct h_run_result *r, int code)
{
    cr_assert(h_exited_with(r, code), "status 0x%x (want exit %d)\nstdout: %s\nstderr: %s",
              (unsigned)r->status, code, r->out, r->err);
}

/* ---- stats -------------------------------------------------------------------- */

/* The value on the table row "  NAME   VALUE". */
static const char *table_value(const char *table, const char *name, char *buf, size_t cap)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\n  %s ", name);
    const char *p = strstr(table, pat);
    cr_assert(p != NULL, "row %s missing in:\n%s", name, table);
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\n");
    cr_assert_lt(n, cap);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

Test(ctl, stats_table)
{
    struct h_daemon *d = h_start(NULL);
    nop_round_trip(d);
    struct h_run_result r;
    CTL(&r, "-s", d->sock, "stats");
    expect_exit(&r, 0);
    cr_assert_str_eq(r.err, "", "stderr: %s", r.err);
    cr_assert(strstr(r.out, d->sock) != NULL, "the table does not name the socket");
    char v[64];
    for (size_t i = 0; i < COUNT(stats_keys); i++)
        table_value(r.out, stats_keys[i], v, sizeof v);
    cr_assert_str_eq(table_value(r.out, "accepted_submits", v, sizeof v), "1");
    cr_assert_str_eq(table_value(r.out, "completions", v, sizeof v), "1");
    cr_assert_str_eq(table_value(r.out, "completions_ok_total", v, sizeof v), "1");
    cr_assert_str_eq(table_value(r.out, "seccomp_mode", v, sizeof v), "enforce");
    table_value(r.out, "uptime_seconds", v, sizeof v);
    for (size_t i = 0; i < COUNT(exit_reasons); i++)
        table_value(r.out, exit_reasons[i], v, sizeof v);
    for (size_t i = 0; i < COUNT(refusal_reasons); i++)
        table_value(r.out, refusal_reasons[i], v, sizeof v);
    h_run_free(&r);
}

Test(ctl, stats_json)
{
    struct h_daemon *d = h_start(NULL);
    nop_round_trip(d);
    struct h_run_result r;
    CTL(&r, "--json", "-s", d->sock, "stats");
    expect_exit(&r, 0);
    cr_assert_str_eq(r.err, "", "stderr: %s", r.err);
    struct json j;
    json_parse(r.out, &j);
    cr_assert_str_eq(json_get(&j, "socket", 's'), d->sock);
    cr_assert_str_eq(json_get(&j, "daemon_counters", 'b'), "true");
    for (size_t i = 0; i < COUNT(stats_keys); i++)
        json_uint(&j, stats_keys[i]);
    cr_assert_eq(json_uint(&j, "accepted_submits"), 1);
    cr_assert_eq(json_uint(&j, "completions"), 1);
    cr_assert_eq(json_uint(&j, "rejected_submits"), 0);
    cr_assert_geq(json_uint(&j, "active_clients"), 1, "iouringctl's own connection counts");
    cr_assert_eq(json_uint(&j, "per_client_credit_limit"), 32);
    cr_assert_eq(json_uint(&j, "completions_ok_total"), 1);
    cr_assert_eq(json_uint(&j, "completions_error_total"), 0);
    cr_assert_geq(json_uint(&j, "admitted_total"), 2);
    cr_assert_geq(json_uint(&j, "live_workers"), 1);
    cr_assert_eq(json_uint(&j, "max_clients"), 64);
    json_uint(&j, "bytes_read_total");
    json_uint(&j, "bytes_written_total");
    cr_assert_str_eq(json_get(&j, "seccomp_mode", 's'), "enforce");
    double up = strtod(json_get(&j, "uptime_seconds", 'n'), NULL);
    cr_assert(up > 0 && up < 60, "uptime_seconds %f", up);
    json_get(&j, "refused_total", 'o');
    json_get(&j, "worker_exits_total", 'o');
    char key[96];
    for (size_t i = 0; i < COUNT(refusal_reasons); i++) {
        snprintf(key, sizeof key, "refused_total.%s", refusal_reasons[i]);
        cr_assert_eq(json_uint(&j, key), 0);
    }
    for (size_t i = 0; i < COUNT(exit_reasons); i++) {
        snprintf(key, sizeof key, "worker_exits_total.%s", exit_reasons[i]);
        json_uint(&j, key);
    }
    /* Exactly these keys: stable names, nothing unlisted. */
    cr_assert_eq(j.n, 2 + COUNT(stats_keys) + 9 + 2 + COUNT(refusal_reasons) + COUNT(exit_reasons),
                 "unexpected key count %zu:\n%s", j.n, r.out);
    h_run_free(&r);
}

/* ---- metrics ------------------------------------------------------------------- */

static const char *const gauges[] = {
    "iouringd_build_info",        "iouringd_active_clients",
    "iouringd_outstanding_tasks", "iouringd_outstanding_credit_tasks",
    "iouringd_available_credits", "iouringd_registered_files",
    "iouringd_registered_buffers", "iouringd_per_client_credit_limit",
    "iouringd_clients_at_credit_limit", "iouringd_live_workers",
    "iouringd_uptime_seconds",
};
static const char *const counters[] = {
    "iouringd_accepted_submits_total", "iouringd_rejected_submits_total",
    "iouringd_completions_total",      "iouringd_admissions_total",
    "iouringd_admissions_refused_total", "iouringd_worker_exits_total",
    "iouringd_read_bytes_total",       "iouringd_written_bytes_total",
};

Test(ctl, metrics_parse_back_line_by_line)
{
    struct h_daemon *d = h_start(NULL);
    nop_round_trip(d);
    struct h_run_result r;
    CTL(&r, "-s", d->sock, "metrics");
    expect_exit(&r, 0);
    cr_assert_str_eq(r.err, "", "stderr: %s", r.err);
    struct prom p;
    prom_parse(r.out, &p);
    for (size_t i = 0; i < COUNT(gauges); i++) {
        const char *t = prom_type(&p, gauges[i]);
        cr_assert(t != NULL && strcmp(t, "gauge") == 0, "gauge %s missing", gauges[i]);
    }
    for (size_t i = 0; i < COUNT(counters); i++) {
        const char *t = prom_type(&p, counters[i]);
        cr_assert(t != NULL && strcmp(t, "counter") == 0, "counter %s missing", counters[i]);
    }
    cr_assert_eq(prom_value(&p, "iouringd_build_info{version=\"" IOURINGD_VERSION
                                "\",protocol=\"1.12\"}"),
                 1);
    cr_assert_eq(prom_value(&p, "iouringd_accepted_submits_total"), 1);
    cr_assert_eq(prom_value(&p, "iouringd_rejected_submits_total"), 0);
    cr_assert_eq(prom_value(&p, "iouringd_completions_total{result=\"ok\"}"), 1);
    cr_assert_eq(prom_value(&p, "iouringd_completions_total{result=\"error\"}"), 0);
    cr_assert_geq(prom_value(&p, "iouringd_active_clients"), 1);
    cr_assert_eq(prom_value(&p, "iouringd_per_client_credit_limit"), 32);
    cr_assert_gt(prom_value(&p, "iouringd_uptime_seconds"), 0);
    cr_assert_geq(prom_value(&p, "iouringd_admissions_total"), 2);
    char s[160];
    for (size_t i = 0; i < COUNT(refusal_reasons); i++) {
        snprintf(s, sizeof s, "iouringd_admissions_refused_total{reason=\"%s\"}",
                 refusal_reasons[i]);
        cr_assert_eq(prom_value(&p, s), 0);
    }
    for (size_t i = 0; i < COUNT(exit_reasons); i++) {
        snprintf(s, sizeof s, "iouringd_worker_exits_total{reason=\"%s\"}", exit_reasons[i]);
        prom_value(&p, s);
    }
    double unlabelled;
    cr_assert(!prom_find(&p, "iouringd_completions_total", &unlabelled),
              "with the extension, completions carry the result label");
    h_run_free(&r);
}

Test(ctl, metrics_count_errors_by_result)
{
    struct h_daemon *d = h_start(NULL);
    nop_round_trip(d);
    struct h_conn *c = h_client(d, NULL);
    struct iouringd_timeout_request t = h_timeout(1000);
    struct iouringd_submit_result s = h_submit(c, &t, sizeof t);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, s.task_id, -ETIME, IOURINGD_TASK_TIMEOUT, 0);
    h_free_completion(&comp);
    struct h_run_result r;
    CTL(&r, "-s", d->sock, "metrics");
    expect_exit(&r, 0);
    struct prom p;
    prom_parse(r.out, &p);
    cr_assert_eq(prom_value(&p, "iouringd_accepted_submits_total"), 2);
    cr_assert_eq(prom_value(&p, "iouringd_completions_total{result=\"ok\"}"), 1);
    cr_assert_eq(prom_value(&p, "iouringd_completions_total{result=\"error\"}"), 1);
    h_run_free(&r);
}

/* ---- ping ---------------------------------------------------------------------- */

static bool matches(const char *text, const char *pattern)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    bool ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

Test(ctl, ping)
{
    struct h_daemon *d = h_start(NULL);
    struct h_run_result r;
    CTL(&r, "-s", d->sock, "ping");
    expect_exit(&r, 0);
    cr_assert(matches(r.out, "^ok rtt_us=[0-9]+\n$"), "stdout: '%s'", r.out);
    cr_assert_str_eq(r.err, "");
    h_run_free(&r);
    CTL(&r, "-s", d->sock, "ping", "--json");
    expect_exit(&r, 0);
    struct json j;
    json_parse(r.out, &j);
    cr_assert_str_eq(json_get(&j, "ok", 'b'), "true");
    json_uint(&j, "rtt_us");
    h_run_free(&r);
}

Test(ctl, socket_from_environment_and_flag_wins)
{
    struct h_daemon *d = h_start(NULL);
    cr_assert_eq(setenv("IOURINGD_SOCKET", d->sock, 1), 0);
    struct h_run_result r;
    CTL(&r, "ping");
    expect_exit(&r, 0);
    h_run_free(&r);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/absent.sock", h_tmpdir());
    CTL(&r, "--socket", missing, "ping");
    expect_exit(&r, 1);
    cr_assert(strstr(r.err, missing) != NULL, "stderr: %s", r.err);
    h_run_free(&r);
    unsetenv("IOURINGD_SOCKET");
}

Test(ctl, default_socket_is_tmp_iouringd_sock)
{
    unsetenv("IOURINGD_SOCKET");
    struct h_run_result r;
    CTL(&r, "ping");
    /* A developer may have `make run` up; then it answers. Otherwise the message
     * names the default path. */
    if (!h_exited_with(&r, 0)) {
        expect_exit(&r, 1);
        cr_assert(strncmp(r.err, "iouringctl: /tmp/iouringd.sock: ", 32) == 0, "stderr: %s",
                  r.err);
    }
    h_run_free(&r);
}

/* ---- unreachable, refused, silent ------------------------------------------------ */

Test(ctl, missing_socket_exit_1_naming_it)
{
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no-daemon.sock", h_tmpdir());
    const char *cmds[][2] = {{"stats", NULL}, {"stats", "--json"}, {"metrics", NULL},
                             {"ping", NULL}};
    for (size_t i = 0; i < COUNT(cmds); i++) {
        struct h_run_result r;
        CTL(&r, "-s", missing, cmds[i][0], cmds[i][1]);
        expect_exit(&r, 1);
        cr_assert_str_eq(r.out, "", "%s wrote to stdout: %s", cmds[i][0], r.out);
        char want[256];
        snprintf(want, sizeof want, "iouringctl: %s: %s\n", missing, strerror(ENOENT));
        cr_assert_str_eq(r.err, want, "%s", cmds[i][0]);
        h_run_free(&r);
    }
}

Test(ctl, refused_by_admission_exit_1)
{
    struct h_daemon *d = h_start("--max-clients", "1", NULL);
    struct h_conn *c = h_client(d, NULL); /* holds the only slot */
    (void)c;
    const char *cmds[] = {"ping", "stats", "metrics"};
    for (size_t i = 0; i < COUNT(cmds); i++) {
        struct h_run_result r;
        CTL(&r, "-s", d->sock, cmds[i]);
        expect_exit(&r, 1);
        cr_assert_str_eq(r.out, "");
        char want[300];
        snprintf(want, sizeof want, "iouringctl: %s: ", d->sock);
        cr_assert(strncmp(r.err, want, strlen(want)) == 0, "stderr: %s", r.err);
        h_run_free(&r);
    }
}

static int listen_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", strerror(errno));
    cr_assert_eq(listen(fd, 8), 0);
    return fd;
}

Test(ctl, silent_daemon_times_out_exit_1)
{
    char path[160];
    snprintf(path, sizeof path, "%s/silent.sock", h_tmpdir());
    int l = listen_unix(path); /* connects complete in the backlog; nobody answers */
    struct h_run_result r;
    long long t0 = h_now_ms();
    CTL(&r, "-t", "1", "-s", path, "stats");
    long long took = h_now_ms() - t0;
    expect_exit(&r, 1);
    cr_assert_str_eq(r.out, "");
    char want[300];
    snprintf(want, sizeof want, "iouringctl: %s: %s", path, strerror(ETIMEDOUT));
    cr_assert(strncmp(r.err, want, strlen(want)) == 0, "stderr: %s", r.err);
    cr_assert(took < 4000, "took %lld ms", took);
    h_run_free(&r);
    close(l);
}

/* ---- fallback: a fake v1-only daemon ------------------------------------------------ */

struct fake {
    int lfd;
    int conns;
    uint16_t kinds[4];
};

static bool read_full(int fd, void *buf, size_t n)
{
    return h_read_exact(fd, buf, n, NULL, H_TIMEOUT_MS) == 0;
}

/* Serves two connections like a v1.12 daemon that knows no extension: handshake,
 * then GET_STATS is answered and any other kind disconnects. */
static void *fake_v1(void *arg)
{
    struct fake *f = arg;
    for (f->conns = 0; f->conns < 2; f->conns++) {
        int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return NULL;
        struct iouringd_handshake_request hs;
        struct iouringd_handshake_result res;
        memset(&res, 0, sizeof res);
        res.response.header = h_hs_request().header;
        res.response.abi_major = 1;
        res.response.abi_minor = 12;
        res.capabilities = (struct iouringd_capability_descriptor){
            .struct_size = 36, .ring_entries = 4, .cq_entries = 8, .op_mask = 1,
            .submit_credits = 3, .registered_fd_slots = 1, .registered_buffer_slots = 1,
            .io_bytes_max = 4096};
        struct iouringd_request_header req;
        if (!read_full(fd, &hs, sizeof hs) || h_write_all(fd, &res, sizeof res, H_TIMEOUT_MS) ||
            !read_full(fd, &req, sizeof req)) {
            close(fd);
            return NULL;
        }
        f->kinds[f->conns] = req.kind;
        if (req.kind == IOURINGD_CONTROL_GET_STATS) {
            struct iouringd_stats_result st = {.active_clients = 1, .available_credits = 3,
                                               .accepted_submits = 7, .completions = 5,
                                               .outstanding_tasks = 2,
                                               .per_client_credit_limit = 3};
            h_write_all(fd, &st, sizeof st, H_TIMEOUT_MS);
            h_expect_eof(fd, H_TIMEOUT_MS);
        }
        close(fd);
    }
    return NULL;
}

static void run_against_fake(const char *cmd, const char *opt, struct h_run_result *r,
                             struct fake *f)
{
    char path[160];
    snprintf(path, sizeof path, "%s/v1.sock", h_tmpdir());
    memset(f, 0, sizeof *f);
    f->lfd = listen_unix(path);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fake_v1, f), 0);
    CTL(r, "-s", path, cmd, opt);
    shutdown(f->lfd, SHUT_RDWR); /* unblocks accept if iouringctl connected less */
    pthread_join(t, NULL);
    close(f->lfd);
    cr_assert_eq(f->conns, 2, "iouringctl should connect twice");
    cr_assert_eq(f->kinds[0], IOURINGD_EXT_GET_DAEMON_COUNTERS);
    cr_assert_eq(f->kinds[1], IOURINGD_CONTROL_GET_STATS);
}

Test(ctl, stats_falls_back_to_get_stats)
{
    struct h_run_result r;
    struct fake f;
    run_against_fake("stats", "--json", &r, &f);
    expect_exit(&r, 0);
    cr_assert_str_eq(r.err, "", "a missing extension is no error: %s", r.err);
    struct json j;
    json_parse(r.out, &j);
    cr_assert_str_eq(json_get(&j, "daemon_counters", 'b'), "false");
    cr_assert_eq(json_uint(&j, "accepted_submits"), 7);
    cr_assert_eq(json_uint(&j, "completions"), 5);
    cr_assert_eq(json_uint(&j, "outstanding_tasks"), 2);
    cr_assert(!json_has(&j, "live_workers") && !json_has(&j, "worker_exits_total"));
    cr_assert_eq(j.n, 2 + COUNT(stats_keys));
    h_run_free(&r);

    run_against_fake("stats", NULL, &r, &f);
    expect_exit(&r, 0);
    cr_assert(strstr(r.out, "accepted_submits") != NULL);
    cr_assert(strstr(r.out, "not offered") != NULL, "stdout: %s", r.out);
    h_run_free(&r);
}

Test(ctl, metrics_fall_back_to_get_stats)
{
    struct h_run_result r;
    struct fake f;
    run_against_fake("metrics", NULL, &r, &f);
    expect_exit(&r, 0);
    cr_assert_str_eq(r.err, "");
    struct prom p;
    prom_parse(r.out, &p);
    cr_assert_eq(prom_value(&p, "iouringd_completions_total"), 5);
    cr_assert_eq(prom_value(&p, "iouringd_accepted_submits_total"), 7);
    cr_assert_eq(prom_value(&p, "iouringd_available_credits"), 3);
    cr_assert_eq(prom_value(&p, "iouringd_build_info{version=\"" IOURINGD_VERSION
                                "\",protocol=\"1.12\"}"),
                 1);
    const char *absent[] = {"iouringd_live_workers", "iouringd_uptime_seconds",
                            "iouringd_admissions_total", "iouringd_worker_exits_total",
                            "iouringd_read_bytes_total"};
    for (size_t i = 0; i < COUNT(absent); i++)
        cr_assert(prom_type(&p, absent[i]) == NULL, "%s without the extension", absent[i]);
    h_run_free(&r);
}

/* ---- check --------------------------------------------------------------------- */

Test(ctl, check_is_the_daemons_check)
{
    /* iouringctl runs the iouringd beside it; compare with running that directly. */
    char sibling[512];
    snprintf(sibling, sizeof sibling, "%s", ctl_bin());
    char *slash = strrchr(sibling, '/');
    if (slash == NULL)
        cr_skip_test("IOURINGCTL_BIN has no directory part");
    snprintf(slash + 1, sizeof sibling - (size_t)(slash + 1 - sibling), "iouringd");
    if (access(sibling, X_OK) != 0)
        cr_skip_test("no iouringd beside %s", ctl_bin());
    const char *direct[] = {sibling, "--check", NULL};
    struct h_run_result want, got;
    h_run(direct, H_TIMEOUT_MS, &want);
    CTL(&got, "check");
    cr_assert(!want.timed_out && WIFEXITED(want.status));
    cr_assert(h_exited_with(&got, WEXITSTATUS(want.status)), "status 0x%x vs 0x%x",
              (unsigned)got.status, (unsigned)want.status);
    cr_assert_str_eq(got.out, want.out);
    cr_assert_str_eq(got.err, want.err);
    cr_assert(strstr(got.out, "posture check") != NULL, "stdout: %s", got.out);
    h_run_free(&want);
    h_run_free(&got);
}

/* ---- usage ----------------------------------------------------------------------- */

static void expect_usage_error(const char *a1, const char *a2, const char *a3)
{
    struct h_run_result r;
    CTL(&r, a1, a2, a3);
    expect_exit(&r, 2);
    cr_assert_str_eq(r.out, "", "stdout: %s", r.out);
    cr_assert(strstr(r.err, "usage: iouringctl") != NULL, "stderr: %s", r.err);
    cr_assert(strncmp(r.err, "iouringctl: ", 12) == 0, "no reason line: %s", r.err);
    h_run_free(&r);
}

Test(ctl, usage_errors_exit_2)
{
    const char *argv[] = {ctl_bin(), NULL};
    struct h_run_result r;
    h_run(argv, H_TIMEOUT_MS, &r);
    expect_exit(&r, 2);
    cr_assert(strstr(r.err, "usage: iouringctl") != NULL);
    h_run_free(&r);
    expect_usage_error("frobnicate", NULL, NULL);
    expect_usage_error("--bogus", "stats", NULL);
    expect_usage_error("stats", "ping", NULL);
    expect_usage_error("stats", "-s", NULL);
    expect_usage_error("-s", "", "stats");
    expect_usage_error("-t", "soon", "stats");
    expect_usage_error("-t", "-1", "ping");
    expect_usage_error("--json", "metrics", NULL);
    expect_usage_error("--json", "check", NULL);
    expect_usage_error("--json", NULL, NULL);
}

Test(ctl, help_and_version)
{
    struct h_run_result r;
    CTL(&r, "--help");
    expect_exit(&r, 0);
    cr_assert(strncmp(r.out, "usage: iouringctl", 17) == 0, "stdout: %s", r.out);
    const char *words[] = {"stats", "metrics", "ping", "check", "--json", "-s", "--socket",
                           "--timeout", "IOURINGD_SOCKET", "/tmp/iouringd.sock"};
    for (size_t i = 0; i < COUNT(words); i++)
        cr_assert(strstr(r.out, words[i]) != NULL, "help lacks %s", words[i]);
    cr_assert_str_eq(r.err, "");
    h_run_free(&r);
    CTL(&r, "--bogus", "--help"); /* --help wins over usage errors */
    expect_exit(&r, 0);
    h_run_free(&r);
    CTL(&r, "--version");
    expect_exit(&r, 0);
    unsigned a, b, c;
    int end = 0;
    cr_assert_eq(sscanf(r.out, "iouringctl %u.%u.%u (protocol 1.12)\n%n", &a, &b, &c, &end), 3,
                 "stdout: %s", r.out);
    cr_assert_eq((size_t)end, strlen(r.out), "stdout: %s", r.out);
    h_run_free(&r);
}
