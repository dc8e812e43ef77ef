/* iouringd entry point: options, signal set-up, the io_uring probe, then the
 * supervisor. Steps and messages follow §16-§17 in their order. */
#include "check.h"
#include "log.h"
#include "options.h"
#include "probe.h"
#include "supervisor.h"

#include <iouringd/protocol.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#ifndef IOURINGD_VERSION
#define IOURINGD_VERSION "0.0.0"
#endif

static int setup_signals(int *sig_fd)
{
    /* SIGPIPE never kills anything: ignored here, and inherited as ignored. */
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -errno;
    /* Signals become events on a signalfd (DESIGN.md habit 6). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    *sig_fd = fd;
    return 0;
}

int main(int argc, char **argv)
{
    struct iod_options o;
    iod_options_defaults(&o);
    const char *err, *bad;
    switch (iod_options_parse(&o, argc, argv, &err, &bad)) {
    case IOD_PARSE_HELP:
        fputs(iod_usage_text, stdout);
        return 0;
    case IOD_PARSE_VERSION:
        printf("iouringd %s (protocol 1.12)\n", IOURINGD_VERSION);
        return 0;
    case IOD_PARSE_CHECK:
        return iod_check_run(stdout);
    case IOD_PARSE_DUMP_POLICY:
        return iod_check_dump_policy(stdout);
    case IOD_PARSE_NO_ARGS:
        return 2;
    case IOD_PARSE_USAGE:
        if (bad)
            fprintf(stderr, "iouringd: %s %s\n", err, bad);
        else
            fprintf(stderr, "iouringd: %s\n", err);
        fputs(iod_usage_text, stderr);
        return 2;
    case IOD_PARSE_RUN:
        break;
    }

    int sig_fd = -1;
    int ret = setup_signals(&sig_fd);
    if (ret < 0) {
        iod_line("iouringd: installing signal handlers failed: %s\n", strerror(-ret));
        return 1;
    }

    struct iod_probe_result probe;
    char msg[256];
    if (iod_probe(iod_options_sq_entries(&o), o.registered_fds, o.registered_buffers,
                  o.io_bytes_max, &probe, msg, sizeof msg) != 0) {
        iod_line("iouringd: %s\n", msg);
        return 1;
    }
    /* Implementation-specific set-up between steps 6 and 7 (§17). */
    static struct iod_sandbox sandbox;
    const char *what;
    ret = iod_sandbox_prepare(&sandbox, o.seccomp_log, o.trace_stderr, o.worker_user,
                              o.openat_root, &what);
    if (ret < 0) {
        iod_line("iouringd: %s failed: %s\n", what, strerror(-ret));
        return 1;
    }
    if (o.openat_root && !probe.openat2)
        probe.op_mask &= ~IOURINGD_OP_OPENAT; /* OPENAT would need OPENAT2 */
    return iod_supervisor_run(&o, &probe, &sandbox, sig_fd);
}
