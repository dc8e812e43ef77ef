/* Command line (§16) and its exit codes (§17). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../helpers/harness.h"

TestSuite(cli, .fini = h_cleanup, .timeout = 30);

static bool path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

Test(cli, no_arguments_exit_2_silently)
{
    const char *argv[] = {h_daemon_bin(), NULL};
    struct h_run_result r;
    h_run(argv, H_TIMEOUT_MS, &r);
    cr_assert(h_exited_with(&r, 2), "status 0x%x", (unsigned)r.status);
    cr_assert_str_eq(r.out, "", "stdout: %s", r.out);
    cr_assert_str_eq(r.err, "", "stderr: %s", r.err);
    h_run_free(&r);
}

static void expect_usage_on_stdout(const char *const *argv)
{
    struct h_run_result r;
    h_run(argv, H_TIMEOUT_MS, &r);
    cr_assert(h_exited_with(&r, 0), "status 0x%x", (unsigned)r.status);
    cr_assert(strncmp(r.out, "usage: iouringd", 15) == 0, "stdout: %s", r.out);
    const char *opts[] = {"--ring-entries",     "--per-client-credits", "--max-clients",
                          "--max-clients-per-uid", "--registered-fds",  "--registered-buffers",
                          "--io-bytes-max",     "--job-id",             "--trace-stderr"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        cr_assert(strstr(r.out, opts[i]) != NULL, "usage does not list %s:\n%s", opts[i], r.out);
    h_run_free(&r);
}

Test(cli, help)
{
    const char *argv[] = {h_daemon_bin(), "--help", NULL};
    expect_usage_on_stdout(argv);
}

Test(cli, help_wins_over_bad_arguments)
{
    /* Rule 2: an argument that is exactly --help decides; nothing else is checked. */
    const char *dir = h_tmpdir();
    char sock[128];
    snprintf(sock, sizeof sock, "%s/sock", dir);
    const char *argv[] = {h_daemon_bin(), "--ring-entries", "1", "--help", sock, NULL};
    expect_usage_on_stdout(argv);
    cr_assert(!path_exists(sock));
}

static void expect_version(const char *const *argv)
{
    struct h_run_result r;
    h_run(argv, H_TIMEOUT_MS, &r);
    cr_assert(h_exited_with(&r, 0), "status 0x%x", (unsigned)r.status);
    unsigned major, minor, patch;
    int consumed = 0;
    int n = sscanf(r.out, "iouringd %u.%u.%u (protocol 1.12)\n%n", &major, &minor, &patch,
                   &consumed);
    cr_assert(n == 3 && consumed > 0 && (size_t)consumed == strlen(r.out) &&
                  r.out[consumed - 1] == '\n',
              "version output: '%s'", r.out);
    char expect[96];
    snprintf(expect, sizeof expect, "iouringd %u.%u.%u (protocol 1.12)\n", major, minor, patch);
    cr_assert_str_eq(r.out, expect);
    cr_assert(!(major == 0 && minor == 1 && patch == 0), "version is 0.1.0");
    h_run_free(&r);
}

Test(cli, version)
{
    const char *argv[] = {h_daemon_bin(), "--version", NULL};
    expect_version(argv);
}

Test(cli, first_of_help_and_version_decides)
{
    const char *argv[] = {h_daemon_bin(), "--version", "--help", NULL};
    expect_version(argv);
    const char *argv2[] = {h_daemon_bin(), "--help", "--version", NULL};
    expect_usage_on_stdout(argv2);
}

/* Runs iouringd ARGS... SOCK and expects exit 2 with the usage on stderr. */
static void expect_usage_error(const char *a1, const char *a2, const char *a3)
{
    const char *dir = h_tmpdir();
    char sock[128];
    snprintf(sock, sizeof sock, "%s/sock", dir);
    const char *argv[6];
    size_t n = 0;
    argv[n++] = h_daemon_bin();
    if (a1 != NULL)
        argv[n++] = a1;
    if (a2 != NULL)
        argv[n++] = a2;
    if (a3 != NULL)
        argv[n++] = a3;
    argv[n++] = sock;
    argv[n] = NULL;
    struct h_run_result r;
    h_run(argv, H_TIMEOUT_MS, &r);
    cr_assert(h_exited_with(&r, 2), "%s %s %s: want exit 2, got status 0x%x%s", a1,
              a2 ? a2 : "", a3 ? a3 : "", (unsigned)r.status, r.timed_out ? " (timed out)" : "");
    cr_assert(strstr(r.err, "usage: iouringd") != NULL, "%s %s: no usage on stderr:\n%s", a1,
              a2 ? a2 : "", r.err);
    cr_assert(!path_exists(sock), "%s %s: socket file created", a1, a2 ? a2 : "");
    h_run_free(&r);
}

Test(cli, bad_ring_entries_values)
{
    const char *bad[] = {"1", "4097", "-1", "+5", "0x10", "", " 5", "5 ", "0", "1e3",
                         "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_usage_error("--ring-entries", bad[i], NULL);
}

Test(cli, bad_values_of_other_options)
{
    expect_usage_error("--per-client-credits", "0", NULL);
    expect_usage_error("--per-client-credits", "4096", NULL);
    expect_usage_error("--max-clients", "0", NULL);
    expect_usage_error("--max-clients", "4097", NULL);
    expect_usage_error("--max-clients-per-uid", "0", NULL);
    expect_usage_error("--max-clients-per-uid", "4097", NULL);
    expect_usage_error("--registered-fds", "0", NULL);
    expect_usage_error("--registered-fds", "1025", NULL);
    expect_usage_error("--registered-buffers", "0", NULL);
    expect_usage_error("--registered-buffers", "65", NULL);
    expect_usage_error("--io-bytes-max", "0", NULL);
    expect_usage_error("--io-bytes-max", "65536", NULL);
    expect_usage_error("--job-id", "18446744073709551616", NULL);
    expect_usage_error("--job-id", "-1", NULL);
}

Test(cli, unknown_option_and_missing_value)
{
    expect_usage_error("--bogus", NULL, NULL);
    expect_usage_error("--bogus", "5", NULL);
    expect_usage_error("-h", NULL, NULL);
    /* Rule 4: the value may not be the last argument (that is SOCKET_PATH). */
    expect_usage_error("--ring-entries", NULL, NULL);
    expect_usage_error("--trace-stderr", "--ring-entries", NULL);
    expect_usage_error("--trace-stderr=1", NULL, NULL);
}

Test(cli, empty_socket_path)
{
    const char *argv[] = {h_daemon_bin(), "", NULL};
    struct h_run_result r;
    h_run(argv, H_TIMEOUT_MS, &r);
    cr_assert(h_exited_with(&r, 2), "status 0x%x", (unsigned)r.status);
    cr_assert(strstr(r.err, "usage: iouringd") != NULL, "stderr:\n%s", r.err);
    h_run_free(&r);
    const char *argv2[] = {h_daemon_bin(), "--trace-stderr", "", NULL};
    h_run(argv2, H_TIMEOUT_MS, &r);
    cr_assert(h_exited_with(&r, 2), "status 0x%x", (unsigned)r.status);
    cr_assert(strstr(r.err, "usage: iouringd") != NULL, "stderr:\n%s", r.err);
    h_run_free(&r);
}

Test(cli, socket_path_of_108_bytes_too_long)
{
    const char *dir = h_tmpdir();
    char sock[200];
    size_t n = (size_t)snprintf(sock, sizeof sock, "%s/", dir);
    while (n < 108)
        sock[n++] = 's';
    sock[n] = '\0';
    const char *argv[] = {h_daemon_bin(), sock, NULL};
    struct h_run_result r;
    h_run(argv, H_TIMEOUT_MS, &r);
    cr_assert(h_exited_with(&r, 2), "status 0x%x%s", (unsigned)r.status,
              r.timed_out ? " (timed out)" : "");
    cr_assert(strstr(r.err, "iouringd: socket path is too long") != NULL, "stderr:\n%s", r.err);
    cr_assert(!path_exists(sock));
    h_run_free(&r);
}

Test(cli, leading_zeros_and_repeated_options)
{
    /* Rule 5: leading zeros allowed; rule 6: the last repetition wins. */
    struct h_daemon *d = h_start("--ring-entries", "2", "--ring-entries", "0008",
                                 "--per-client-credits", "007", NULL);
    struct iouringd_capability_descriptor caps;
    h_client(d, &caps);
    cr_assert_eq(caps.submit_credits, 7);
    cr_assert_eq(caps.ring_entries, 8);
}

Test(cli, limits_at_range_edges_start)
{
    struct h_daemon *d =
        h_start("--ring-entries", "4096", "--per-client-credits", "4095", "--max-clients", "4096",
                "--max-clients-per-uid", "4096", "--registered-fds", "1024",
                "--registered-buffers", "64", "--io-bytes-max", "65535", "--job-id", "0", NULL);
    struct iouringd_capability_descriptor caps;
    h_client(d, &caps);
    cr_assert_eq(caps.submit_credits, 4095);
    cr_assert_eq(caps.ring_entries, 4096);
    cr_assert_eq(caps.cq_entries, 8192);
    cr_assert_eq(caps.registered_fd_slots, 1024);
    cr_assert_eq(caps.registered_buffer_slots, 64);
    cr_assert_eq(caps.io_bytes_max, 65535);
}
