/* The examples in examples/ run against a real daemon and succeed: a newcomer
 * who copies one gets a program that works. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../helpers/harness.h"

TestSuite(examples, .fini = h_cleanup, .timeout = 30);

static const char *example(const char *name)
{
    static char path[512];
    const char *dir = getenv("IOURINGD_EXAMPLES_DIR");
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "build/examples", name);
    return path;
}

Test(examples, socket_roundtrip)
{
    struct h_daemon *d = h_start(NULL);
    const char *argv[] = {example("socket_roundtrip"), d->sock, NULL};
    struct h_run_result r;
    h_run(argv, 10000, &r);
    cr_assert(h_exited_with(&r, 0), "exit status %d, stderr: %s", r.status, r.err);
    cr_assert(strstr(r.out, "daemon wrote: hello from iouringd") != NULL, "stdout: %s", r.out);
    cr_assert(strstr(r.out, "daemon read:  and back again") != NULL, "stdout: %s", r.out);
    h_run_free(&r);
    h_stop(d);
}

Test(examples, socket_roundtrip_without_daemon_fails)
{
    const char *argv[] = {example("socket_roundtrip"), "/nonexistent/iouringd.sock", NULL};
    struct h_run_result r;
    h_run(argv, 10000, &r);
    cr_assert(h_exited_with(&r, 1), "exit status %d", r.status);
    cr_assert(strstr(r.err, "/nonexistent/iouringd.sock") != NULL, "stderr: %s", r.err);
    h_run_free(&r);
}
