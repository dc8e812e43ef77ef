/* Many concurrent clients: each gets its own worker and ring, whatever uid
 * the workers run as. Locked memory is charged per uid across all of its
 * workers (sandbox.c), which once capped a root daemon at about 85 clients
 * and at 26 with 8 registered buffers. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../helpers/harness.h"

TestSuite(scale, .fini = h_cleanup, .timeout = 60);

#define CLIENTS 150

static int raw_client(const struct h_daemon *d)
{
    int fd = h_connect_path(d->sock);
    cr_assert(fd >= 0, "connect: %d", fd);
    struct iouringd_handshake_request req = h_hs_request();
    cr_assert_eq(h_write_all(fd, &req, sizeof req, H_TIMEOUT_MS), 0);
    struct iouringd_handshake_result res;
    size_t got = 0;
    cr_assert_eq(h_read_exact(fd, &res, sizeof res, &got, H_TIMEOUT_MS), 0,
                 "handshake: %zu of 52 bytes", got);
    cr_assert_eq(res.response.status, IOURINGD_HANDSHAKE_ACCEPT);
    return fd;
}

/* A NOP gives a 16-byte submit result and a 24-byte completion, in either
 * order: 40 bytes, of which the record starting with the magic is the
 * completion. */
static void raw_nop(int fd, int i)
{
    struct iouringd_request_header nop = h_nop();
    cr_assert_eq(h_write_all(fd, &nop, sizeof nop, H_TIMEOUT_MS), 0);
    uint8_t buf[40];
    size_t got = 0;
    cr_assert_eq(h_read_exact(fd, buf, sizeof buf, &got, H_TIMEOUT_MS), 0,
                 "client %d: %zu of 40 bytes", i, got);
    uint32_t magic;
    memcpy(&magic, buf, sizeof magic);
    struct iouringd_submit_result r;
    struct iouringd_completion c;
    if (magic == IOURINGD_WIRE_MAGIC) {
        memcpy(&c, buf, sizeof c);
        memcpy(&r, buf + sizeof c, sizeof r);
    } else {
        memcpy(&r, buf, sizeof r);
        memcpy(&c, buf + sizeof r, sizeof c);
    }
    cr_assert(r.task_id == 1 && r.res == 0, "client %d: submit id %llu res %d", i,
              (unsigned long long)r.task_id, r.res);
    cr_assert(c.task_id == 1 && c.res == 0, "client %d: completion id %llu res %d", i,
              (unsigned long long)c.task_id, c.res);
}

static void many_clients(const char *const *opts)
{
    struct h_daemon *d = h_start_argv(NULL, opts);
    struct h_conn *first = h_client(d, NULL); /* the readiness connection */
    int fd[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        fd[i] = raw_client(d);
    /* Every one of them is served by its own worker. */
    for (int i = 0; i < CLIENTS; i++)
        raw_nop(fd[i], i);
    struct iouringd_stats_result st = h_stats(first);
    cr_assert_eq(st.active_clients, CLIENTS + 1);
    for (int i = 0; i < CLIENTS; i++)
        close(fd[i]);
    h_stop(d);
    char *err = h_stderr(d);
    cr_assert(strstr(err, "reason=worker_setup") == NULL, "a worker failed to set up:\n%s",
              err);
    free(err);
}

Test(scale, root_workers)
{
    static const char *const opts[] = {"--max-clients", "200", NULL};
    many_clients(opts);
}

Test(scale, root_workers_with_eight_buffers)
{
    static const char *const opts[] = {"--max-clients", "200", "--registered-buffers", "8",
                                       NULL};
    many_clients(opts);
}

Test(scale, nobody_workers)
{
    /* One buffer each: nobody's locked memory is shared with the other
     * tests that run workers as nobody at the same time. */
    static const char *const opts[] = {"--max-clients", "200", "--worker-user", "nobody", NULL};
    many_clients(opts);
}
