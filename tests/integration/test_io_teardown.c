/* Connection end with I/O in flight (§12, §21.1.12): a client that leaves while an
 * ACCEPT and a long POLL are pending gets its worker gone promptly, and the
 * worker's registered references to the test's kernel objects are dropped. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(io_teardown, .fini = h_cleanup, .timeout = 30);

struct pending {
    struct h_daemon *d;
    struct h_conn *c;
    pid_t worker;
    unsigned long long start;
    char lpath[256];
    int peer; /* other end of the polled, registered socket (test copy closed) */
};

static struct pending setup_pending(void)
{
    struct pending p;
    p.d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    p.c = h_client(p.d, &caps);
    p.worker = io_worker_pid(p.d);
    p.start = h_pid_starttime(p.worker);
    snprintf(p.lpath, sizeof p.lpath, "%s/listen.sock", h_tmpdir());

    int lfd = io_listener(p.lpath);
    io_assert_resource(io_register_fd(p.c, lfd), 1, 0, 31);
    close(lfd); /* the worker's copy is now the only one */
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(p.c, sv[0]), 2, 0, 30);
    close(sv[0]);
    p.peer = sv[1];

    h_assert_submit(io_accept(p.c, 1, 110), 1, 0, caps.submit_credits - 1);
    h_assert_submit(io_poll(p.c, 2, POLLIN), 2, 0, caps.submit_credits - 2);
    struct iouringd_timeout_request t = h_timeout(60000000000ull);
    h_assert_submit(h_submit(p.c, &t, sizeof t), 3, 0, caps.submit_credits - 3);
    cr_assert(h_quiet(p.c->fd, 50), "a pending task completed early");
    cr_assert(h_quiet(p.peer, 1), "the registered socket was closed early");
    return p;
}

static void expect_references_dropped(struct pending *p)
{
    io_expect_worker_gone(p->worker, p->start, 3000);
    /* The polled socket's only other reference was the worker's. */
    struct pollfd pfd = {p->peer, POLLIN, 0};
    cr_assert_eq(poll(&pfd, 1, H_TIMEOUT_MS), 1);
    cr_assert(pfd.revents & (POLLHUP | POLLIN), "revents 0x%x", pfd.revents);
    cr_assert(io_peer_sees_eof(p->peer, 0), "peer of the polled socket did not get EOF");
    /* The listener is closed: its path now refuses connections. */
    int fd = h_connect_path(p->lpath);
    if (fd >= 0)
        close(fd);
    cr_assert_eq(fd, -ECONNREFUSED, "connect to the abandoned listener: %s",
                 fd >= 0 ? "succeeded" : strerror(-fd));
    cr_assert_eq(h_wait_children(p->d->pid, 0, NULL, 0, H_TIMEOUT_MS), 0);
}

Test(io_teardown, close_with_pending_accept_and_poll)
{
    struct pending p = setup_pending();
    long long t0 = h_now_ms();
    h_close(p.c);
    expect_references_dropped(&p);
    long long dt = h_now_ms() - t0;
    cr_assert_lt(dt, 3000, "teardown took %lld ms", dt);
}

Test(io_teardown, shut_wr_with_pending_accept_and_poll)
{
    /* A half-close ends the connection too (§12); nothing more is sent, then EOF. */
    struct pending p = setup_pending();
    cr_assert_eq(shutdown(p.c->fd, SHUT_WR), 0);
    io_expect_disconnect(p.c, "half-closed client");
    expect_references_dropped(&p);
}

Test(io_teardown, other_client_unaffected)
{
    struct pending p = setup_pending();
    struct iouringd_capability_descriptor caps;
    struct h_conn *b = h_client(p.d, &caps);
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(b, sv[0]);
    h_close(p.c);
    io_expect_worker_gone(p.worker, p.start, 3000);
    h_assert_submit(io_write(b, IOURINGD_TASK_SOCK_WRITE, 0, id, "alive", 5), 1, 0,
                    caps.submit_credits - 1);
    io_expect_completion(b, 1, 5, IOURINGD_TASK_SOCK_WRITE, 0);
    char buf[5];
    io_read_exact(sv[1], buf, 5);
    cr_assert_arr_eq(buf, "alive", 5);
}
