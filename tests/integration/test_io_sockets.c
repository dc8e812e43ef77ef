/* Socket task kinds (§4.4): POLL, CONNECT and ACCEPT on real AF_UNIX sockets, with
 * the resource-id effects of ACCEPT (§4.4 table, §10). */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(io_sockets, .fini = h_cleanup, .timeout = 30);

#define K_SREAD IOURINGD_TASK_SOCK_READ
#define K_SWRITE IOURINGD_TASK_SOCK_WRITE
#define K_POLL IOURINGD_TASK_POLL
#define K_CONNECT IOURINGD_TASK_CONNECT
#define K_ACCEPT IOURINGD_TASK_ACCEPT

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    cr_assert(p != NULL);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

/* Connect a fresh client socket to `path` (blocking); asserts. */
static int connect_to(const char *path)
{
    int fd = h_connect_path(path);
    cr_assert(fd >= 0, "connect %s: %s", path, strerror(-fd));
    return fd;
}

Test(io_sockets, poll_pollin_completes_when_peer_writes)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    close(sv[0]);

    h_assert_submit(io_poll(c, id, POLLIN), 1, 0, C - 1);
    cr_assert(h_quiet(c->fd, 100), "POLLIN completed with no data");
    io_write_all(sv[1], "!", 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, comp.c.res, K_POLL, 0);
    cr_assert(comp.c.res > 0 && (comp.c.res & POLLIN), "poll res %d", comp.c.res);
    /* Poll consumed nothing: the byte is still there for a read. */
    h_assert_submit(io_read(c, K_SREAD, 0, id, 8), 2, 0, C - 1);
    comp = io_completion(c, 2, 1, K_SREAD, 1);
    cr_assert_eq(comp.payload[0], '!');
    h_free_completion(&comp);

    /* POLLOUT on a writable socket completes at once. */
    h_assert_submit(io_poll(c, id, POLLOUT), 3, 0, C - 1);
    comp = h_next_completion(c);
    h_assert_completion(&comp, 3, comp.c.res, K_POLL, 0);
    cr_assert(comp.c.res > 0 && (comp.c.res & POLLOUT), "poll res %d", comp.c.res);
}

Test(io_sockets, poll_argument_checks)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    h_assert_submit(io_poll(c, id, 0), 0, -EINVAL, C);
    h_assert_submit(io_poll(c, 0, POLLIN), 0, -EINVAL, C);
    h_assert_submit(io_poll(c, 5, POLLIN), 0, -ENOENT, C);
    /* reserved2 ≠ 0 is a framing violation (stage F). */
    struct iouringd_poll_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_TASK_POLL, 0);
    r.resource_id = id;
    r.poll_mask = POLLIN;
    r.reserved2 = 1;
    h_send(c, &r, sizeof r);
    io_expect_disconnect(c, "POLL reserved2 1");
}

Test(io_sockets, connect_to_listening_socket)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    char *lpath = path_in(h_tmpdir(), "listen.sock");
    int lfd = io_listener(lpath);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(s >= 0);
    uint32_t id = io_register_fd_ok(c, s);
    close(s);

    struct sockaddr_un sa;
    uint32_t salen = io_sockaddr_un(lpath, &sa);
    h_assert_submit(io_connect(c, id, &sa, salen), 1, 0, C - 1);
    io_expect_completion(c, 1, 0, K_CONNECT, 0);

    int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    cr_assert(conn >= 0, "accept: %s", strerror(errno));
    h_assert_submit(io_write(c, K_SWRITE, 0, id, "over connect", 12), 2, 0, C - 1);
    io_expect_completion(c, 2, 12, K_SWRITE, 0);
    char buf[16];
    io_read_exact(conn, buf, 12);
    cr_assert_arr_eq(buf, "over connect", 12);
    io_write_all(conn, "reply", 5);
    h_assert_submit(io_read(c, K_SREAD, 0, id, 16), 3, 0, C - 1);
    struct h_completion comp = io_completion(c, 3, 5, K_SREAD, 5);
    cr_assert_arr_eq(comp.payload, "reply", 5);
    h_free_completion(&comp);
    free(lpath);
}

Test(io_sockets, connect_failures_complete_with_errno)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    const char *dir = h_tmpdir();
    struct sockaddr_un sa;

    /* Nothing at the path: -ENOENT. */
    int s1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    uint32_t id1 = io_register_fd_ok(c, s1);
    char *missing = path_in(dir, "nobody.sock");
    uint32_t salen = io_sockaddr_un(missing, &sa);
    h_assert_submit(io_connect(c, id1, &sa, salen), 1, 0, C - 1);
    io_expect_completion(c, 1, -ENOENT, K_CONNECT, 0);

    /* A bound socket nobody listens on: -ECONNREFUSED. */
    char *bound = path_in(dir, "bound.sock");
    int b = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    salen = io_sockaddr_un(bound, &sa);
    cr_assert_eq(bind(b, (struct sockaddr *)&sa, salen), 0);
    int s2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    uint32_t id2 = io_register_fd_ok(c, s2);
    h_assert_submit(io_connect(c, id2, &sa, salen), 2, 0, C - 1);
    io_expect_completion(c, 2, -ECONNREFUSED, K_CONNECT, 0);

    /* S3/S4 rejects. */
    h_assert_submit(io_connect(c, 0, &sa, salen), 0, -EINVAL, C);
    h_assert_submit(io_connect(c, 9, &sa, salen), 0, -ENOENT, C);
    free(missing);
    free(bound);
}

struct accept_fixture {
    struct h_daemon *d;
    struct h_conn *c;
    uint32_t C;
    char *lpath;
    uint32_t lid; /* registered listener */
};

static struct accept_fixture accept_setup(void)
{
    struct accept_fixture f;
    f.d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    f.c = h_client(f.d, &caps);
    f.C = caps.submit_credits;
    f.lpath = path_in(h_tmpdir(), "listen.sock");
    int lfd = io_listener(f.lpath);
    io_assert_resource(io_register_fd(f.c, lfd), 1, 0, 31);
    close(lfd);
    f.lid = 1;
    return f;
}

Test(io_sockets, accept_returns_new_id_and_unnamed_peer_address)
{
    struct accept_fixture f = accept_setup();
    h_assert_submit(io_accept(f.c, f.lid, sizeof(struct sockaddr_un)), 1, 0, f.C - 1);
    cr_assert_eq(sizeof(struct sockaddr_un), 110);
    /* Connect from an unnamed socket: the payload is just the family (2 bytes). */
    int peer = connect_to(f.lpath);
    struct h_completion comp = io_completion(f.c, 1, 2, K_ACCEPT, 2);
    sa_family_t fam;
    memcpy(&fam, comp.payload, sizeof fam);
    cr_assert_eq(fam, AF_UNIX, "peer address family %u", fam);
    h_free_completion(&comp);

    /* Id 2 is a normal registered file: talk to the connecting socket. */
    h_assert_submit(io_write(f.c, K_SWRITE, 0, 2, "welcome", 7), 2, 0, f.C - 1);
    io_expect_completion(f.c, 2, 7, K_SWRITE, 0);
    char buf[16];
    io_read_exact(peer, buf, 7);
    cr_assert_arr_eq(buf, "welcome", 7);
    io_write_all(peer, "thanks", 6);
    h_assert_submit(io_read(f.c, K_SREAD, 0, 2, 16), 3, 0, f.C - 1);
    comp = io_completion(f.c, 3, 6, K_SREAD, 6);
    cr_assert_arr_eq(comp.payload, "thanks", 6);
    h_free_completion(&comp);

    /* Slots: listener + accepted = 2 used; the next id is 3. */
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(f.c, sv[0]), 3, 0, 29);
    /* Releasing the accepted socket closes it: the peer sees EOF. */
    io_assert_resource(io_release(f.c, 2), 2, 0, 30);
    cr_assert(io_peer_sees_eof(peer, H_TIMEOUT_MS), "accepted socket still open");
}

Test(io_sockets, accept_returns_named_peer_address)
{
    struct accept_fixture f = accept_setup();
    h_assert_submit(io_accept(f.c, f.lid, 110), 1, 0, f.C - 1);
    char *cpath = path_in(h_tmpdir(), "client.sock");
    struct sockaddr_un ca, la;
    uint32_t calen = io_sockaddr_un(cpath, &ca);
    uint32_t lalen = io_sockaddr_un(f.lpath, &la);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(bind(s, (struct sockaddr *)&ca, calen), 0);
    cr_assert_eq(connect(s, (struct sockaddr *)&la, lalen), 0, "connect: %s", strerror(errno));
    struct h_completion comp = io_completion(f.c, 1, 2, K_ACCEPT, (uint16_t)calen);
    cr_assert_arr_eq(comp.payload, &ca, calen, "peer address differs");
    h_free_completion(&comp);
    free(cpath);
}

Test(io_sockets, accept_without_address)
{
    struct accept_fixture f = accept_setup();
    h_assert_submit(io_accept(f.c, f.lid, 0), 1, 0, f.C - 1);
    int peer = connect_to(f.lpath);
    io_expect_completion(f.c, 1, 2, K_ACCEPT, 0);
    io_write_all(peer, "hi", 2);
    h_assert_submit(io_read(f.c, K_SREAD, 0, 2, 2), 2, 0, f.C - 1);
    struct h_completion comp = io_completion(f.c, 2, 2, K_SREAD, 2);
    cr_assert_arr_eq(comp.payload, "hi", 2);
    h_free_completion(&comp);
}

Test(io_sockets, accept_buffer_too_small_gives_id_back)
{
    struct accept_fixture f = accept_setup();
    h_assert_submit(io_accept(f.c, f.lid, 1), 1, 0, f.C - 1);
    int peer = connect_to(f.lpath);
    io_expect_completion(f.c, 1, -EPROTO, K_ACCEPT, 0);
    cr_assert_eq(-EPROTO, -71);
    /* The accepted socket was closed. */
    cr_assert(io_peer_sees_eof(peer, H_TIMEOUT_MS), "socket of the failed ACCEPT still open");
    /* Slot freed and id 2 given back: the next allocation reuses it. */
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(f.c, sv[0]), 2, 0, 30);
    io_assert_resource(io_register_fd(f.c, sv[1]), 3, 0, 29);
}

Test(io_sockets, accept_too_small_after_later_id_leaves_it_unused)
{
    struct accept_fixture f = accept_setup();
    h_assert_submit(io_accept(f.c, f.lid, 1), 1, 0, f.C - 1);
    /* The pending ACCEPT reserved id 2 and a slot: a registration gets id 3. */
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(f.c, sv[0]), 3, 0, 29);
    int peer = connect_to(f.lpath);
    io_expect_completion(f.c, 1, -EPROTO, K_ACCEPT, 0);
    cr_assert(io_peer_sees_eof(peer, H_TIMEOUT_MS));
    /* Id 2 stays unused: the counter continues at 4. */
    io_assert_resource(io_register_fd(f.c, sv[1]), 4, 0, 29);
    io_assert_resource(io_release(f.c, 2), 0, -ENOENT, 0);
}

Test(io_sockets, pending_accept_reserves_id_and_makes_listener_busy)
{
    struct accept_fixture f = accept_setup();
    h_assert_submit(io_accept(f.c, f.lid, 110), 1, 0, f.C - 1);
    io_assert_resource(io_release(f.c, f.lid), 0, -EBUSY, 30);
    h_assert_submit(io_close(f.c, 0, f.lid), 0, -EBUSY, f.C - 1);
    /* The reserved id 2 is not usable as a file yet. */
    h_assert_submit(io_read(f.c, K_SREAD, 0, 2, 4), 0, -ENOENT, f.C - 1);
    io_assert_resource(io_release(f.c, 2), 0, -ENOENT, 0);
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(f.c, sv[0]), 3, 0, 29);

    int peer = connect_to(f.lpath);
    struct h_completion comp = io_completion(f.c, 1, 2, K_ACCEPT, 2);
    h_free_completion(&comp);
    io_assert_resource(io_release(f.c, f.lid), 1, 0, 30);
    h_assert_submit(io_write(f.c, K_SWRITE, 0, 2, "ok", 2), 2, 0, f.C - 1);
    io_expect_completion(f.c, 2, 2, K_SWRITE, 0);
    char buf[2];
    io_read_exact(peer, buf, 2);
    cr_assert_arr_eq(buf, "ok", 2);
}

Test(io_sockets, accept_without_free_slot_is_eagain)
{
    struct h_daemon *d = h_start("--registered-fds", "2", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    char *lpath = path_in(h_tmpdir(), "listen.sock");
    int lfd = io_listener(lpath);
    io_assert_resource(io_register_fd(c, lfd), 1, 0, 1);
    h_assert_submit(io_accept(c, 1, 0), 1, 0, caps.submit_credits - 1);
    /* The reserved slot was the last one. */
    h_assert_submit(io_accept(c, 1, 0), 0, -EAGAIN, caps.submit_credits - 1);
    io_assert_resource(io_register_fd(c, lfd), 0, -EAGAIN, 0);
    int peer = connect_to(lpath);
    io_expect_completion(c, 1, 2, K_ACCEPT, 0);
    (void)peer;
    free(lpath);
}
