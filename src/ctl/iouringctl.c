/* iouringctl: command line, dispatch and exit codes (0 ok, 1 the daemon is
 * unreachable, refused us or failed, 2 usage). Output is built in memory and
 * written at once, so a failed command prints nothing on stdout. */
#include "ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef IOURINGD_VERSION
#define IOURINGD_VERSION "0.2.0"
#endif

#define TIMEOUT_DEFAULT 10u
#define TIMEOUT_MAX 86400u

static const char usage_text[] =
    "usage: iouringctl [-s SOCKET] [-t SECONDS] [--json] COMMAND\n"
    "       iouringctl --help | --version\n"
    "\n"
    "commands:\n"
    "  stats     daemon statistics as a table (GET_STATS plus the daemon counters)\n"
    "  metrics   Prometheus text format 0.0.4, for node_exporter's textfile collector\n"
    "  ping      connect and handshake; prints \"ok rtt_us=N\"\n"
    "  check     run \"iouringd --check\" (the iouringd beside iouringctl, else from PATH)\n"
    "\n"
    "options:\n"
    "  -s, --socket SOCKET     daemon socket; default $IOURINGD_SOCKET, else " CTL_DEFAULT_SOCKET "\n"
    "  -t, --timeout SECONDS   0..86400, default 10: give up after this long (exit 1);\n"
    "                          0 waits forever\n"
    "  --json                  stats, ping: one JSON object on stdout\n"
    "  --help                  this text\n"
    "  --version               version and protocol\n"
    "\n"
    "exit status: 0 ok; 1 daemon unreachable, refused or failing; 2 usage\n";

enum command { CMD_NONE, CMD_STATS, CMD_METRICS, CMD_PING, CMD_CHECK };

static const char *const command_names[] = {NULL, "stats", "metrics", "ping", "check"};

struct args {
    enum command cmd;
    const char *socket;
    unsigned timeout;
    bool json;
    bool help, version; /* the first of them seen */
    char error[160];    /* the first usage error, if any */
};

/* Keeps the first usage error: `before` `what` `after`. */
static void usage_error(struct args *a, const char *before, const char *what, const char *after)
{
    if (a->error[0] == '\0')
        snprintf(a->error, sizeof a->error, "%s%s%s", before, what, after);
}

static bool parse_seconds(const char *s, unsigned *out)
{
    unsigned long v = 0;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > TIMEOUT_MAX)
            return false;
    }
    *out = (unsigned)v;
    return true;
}

/* "--name VALUE" or "--name=VALUE" (long) / "-x VALUE" (short). Returns the value,
 * or NULL if `arg` is not this option; *i advances past a separate value. */
static const char *option_value(struct args *a, int argc, char **argv, int *i, const char *shrt,
                                const char *lng, bool *matched)
{
    const char *arg = argv[*i];
    size_t n = strlen(lng);
    *matched = false;
    if (strncmp(arg, lng, n) == 0 && arg[n] == '=') {
        *matched = true;
        return arg + n + 1;
    }
    if (strcmp(arg, lng) != 0 && strcmp(arg, shrt) != 0)
        return NULL;
    *matched = true;
    if (*i + 1 >= argc) {
        usage_error(a, "", arg, " needs a value");
        return NULL;
    }
    return argv[++*i];
}

static void parse(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->timeout = TIMEOUT_DEFAULT;
    const char *env = getenv("IOURINGD_SOCKET");
    a->socket = env != NULL && env[0] != '\0' ? env : CTL_DEFAULT_SOCKET;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool matched;
        const char *v;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            if (!a->version)
                a->help = true;
        } else if (strcmp(arg, "--version") == 0) {
            if (!a->help)
                a->version = true;
        } else if (strcmp(arg, "--json") == 0) {
            a->json = true;
        } else if ((v = option_value(a, argc, argv, &i, "-s", "--socket", &matched)) || matched) {
            if (v != NULL && v[0] == '\0')
                usage_error(a, "the socket path is empty", "", "");
            else if (v != NULL)
                a->socket = v;
        } else if ((v = option_value(a, argc, argv, &i, "-t", "--timeout", &matched)) || matched) {
            if (v != NULL && !parse_seconds(v, &a->timeout))
                usage_error(a, "bad timeout '", v, "' (0..86400 seconds)");
        } else if (arg[0] == '-') {
            usage_error(a, "unknown option '", arg, "'");
        } else if (a->cmd != CMD_NONE) {
            usage_error(a, "unexpected argument '", arg, "'");
        } else {
            for (int c = CMD_STATS; c <= CMD_CHECK; c++)
                if (strcmp(arg, command_names[c]) == 0)
                    a->cmd = (enum command)c;
            if (a->cmd == CMD_NONE)
                usage_error(a, "unknown command '", arg, "'");
        }
    }
    if (a->cmd == CMD_NONE)
        usage_error(a, "no command", "", "");
    else if (a->json && (a->cmd == CMD_METRICS || a->cmd == CMD_CHECK))
        usage_error(a, "--json does not apply to ", command_names[a->cmd], "");
}

/* ---- the bound on the whole exchange ---------------------------------------------- */

static char timeout_message[512];
static size_t timeout_message_len;

static void on_alarm(int sig)
{
    (void)sig;
    ssize_t ignored = write(STDERR_FILENO, timeout_message, timeout_message_len);
    (void)ignored;
    _exit(1);
}

static void arm_timeout(const char *socket, unsigned seconds)
{
    if (seconds == 0)
        return;
    int n = snprintf(timeout_message, sizeof timeout_message,
                     "iouringctl: %s: %s (no answer within %u s)\n", socket, strerror(ETIMEDOUT),
                     seconds);
    timeout_message_len = n < 0 ? 0 : (size_t)n < sizeof timeout_message ? (size_t)n
                                                                          : sizeof timeout_message - 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

/* ---- commands ------------------------------------------------------------------- */

static int report(const char *socket, const struct ctl_error *e)
{
    const char *why = "";
    if (e->stage == CTL_STAGE_HANDSHAKE && (e->err == EPIPE || e->err == ECONNRESET))
        why = " (the daemon closed the connection during the handshake: refused?)";
    else if (e->stage == CTL_STAGE_HANDSHAKE)
        why = " (handshake)";
    else if (e->stage == CTL_STAGE_QUERY)
        why = " (stats request)";
    fprintf(stderr, "iouringctl: %s: %s%s\n", socket, strerror(e->err), why);
    return 1;
}

static int emit(struct ctl_buf *b)
{
    alarm(0); /* the answer is in; never die half-way through writing it */
    int r = ctl_buf_write(b, STDOUT_FILENO);
    ctl_buf_free(b);
    if (r < 0) {
        fprintf(stderr, "iouringctl: stdout: %s\n", strerror(-r));
        return 1;
    }
    return 0;
}

static int cmd_ping(const struct args *a)
{
    struct ctl_error e;
    uint64_t rtt_ns = 0;
    int fd = ctl_open(a->socket, &rtt_ns, &e);
    if (fd < 0)
        return report(a->socket, &e);
    close(fd);
    struct ctl_buf b = {0};
    unsigned long long us = (unsigned long long)(rtt_ns / 1000u);
    if (a->json)
        ctl_buf_printf(&b, "{\"ok\":true,\"rtt_us\":%llu}\n", us);
    else
        ctl_buf_printf(&b, "ok rtt_us=%llu\n", us);
    return emit(&b);
}

static int cmd_snapshot(const struct args *a)
{
    struct ctl_snapshot s;
    struct ctl_error e;
    int warn_err = 0;
    if (ctl_collect(a->socket, &s, &warn_err, &e) < 0)
        return report(a->socket, &e);
    if (warn_err != 0)
        fprintf(stderr, "iouringctl: %s: daemon counters unusable (%s); GET_STATS only\n",
                a->socket, strerror(warn_err));
    struct ctl_buf b = {0};
    if (a->cmd == CMD_METRICS)
        ctl_render_metrics(&b, &s, IOURINGD_VERSION);
    else if (a->json)
        ctl_render_json(&b, &s);
    else
        ctl_render_table(&b, &s);
    return emit(&b);
}

int main(int argc, char **argv)
{
    struct args a;
    parse(argc, argv, &a);
    if (a.help) {
        fputs(usage_text, stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (a.version) {
        printf("iouringctl %s (protocol %s)\n", IOURINGD_VERSION, CTL_PROTOCOL);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (a.error[0] != '\0') {
        fprintf(stderr, "iouringctl: %s\n%s", a.error, usage_text);
        return 2;
    }
    if (a.cmd == CMD_CHECK)
        return ctl_exec_check(); /* no alarm: it would survive the exec */
    arm_timeout(a.socket, a.timeout);
    if (a.cmd == CMD_PING)
        return cmd_ping(&a);
    return cmd_snapshot(&a);
}
