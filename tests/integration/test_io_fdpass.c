/* Descriptor passing violations (§2.4, §21.1.16): each one disconnects, every
 * received descriptor is closed, the worker leaks nothing and exits, and the
 * daemon keeps serving. The passed descriptor is one end of a socketpair whose
 * other end the test keeps, so "closed everywhere" is observable as EOF.
 *
 * Not covered: a non-SCM_RIGHTS control message. The kernel only delivers
 * SCM_CREDENTIALS/SCM_SECURITY/SCM_PIDFD to a receiver that enabled SO_PASS*,
 * which the daemon never does, so a client cannot produce one. MSG_CTRUNC is
 * produced by sending SCM_MAX_FD (253) descriptors, more than any sane receive
 * buffer for "exactly one fd" holds. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(io_fdpass, .fini = h_cleanup, .timeout = 30);

#define SCM_MAX_FD_COUNT 253

struct vcase {
    struct h_daemon *d;
    struct h_conn *c;
    pid_t worker;
    unsigned long long start;
    int base_fds;
    int sv[2]; /* sv[0] is what gets passed */
};

static struct vcase vsetup(void)
{
    struct vcase v;
    v.d = h_start(NULL);
    v.c = h_client(v.d, NULL);
    v.worker = io_worker_pid(v.d);
    v.start = h_pid_starttime(v.worker);
    v.base_fds = h_count_fds(v.worker);
    cr_assert(v.base_fds > 0, "cannot read /proc/%d/fd", (int)v.worker);
    io_socketpair(v.sv);
    return v;
}

/* After the violation was sent: disconnect, no fd kept, worker gone, descriptor
 * closed everywhere, daemon still serving. */
static void vcheck(struct vcase *v, const char *what)
{
    close(v->sv[0]);
    io_expect_disconnect(v->c, what);
    int n = h_count_fds(v->worker);
    cr_assert(n <= v->base_fds, "%s: worker holds %d fds after the violation, had %d", what, n,
              v->base_fds);
    io_expect_worker_gone(v->worker, v->start, 3000);
    cr_assert(io_peer_sees_eof(v->sv[1], H_TIMEOUT_MS), "%s: passed descriptor still open",
              what);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c2 = h_client(v->d, &caps);
    io_expect_alive(c2, 1, caps.submit_credits - 1);
}

Test(io_fdpass, fd_with_nop_disconnects)
{
    struct vcase v = vsetup();
    struct iouringd_request_header nop = h_nop();
    cr_assert_eq(h_send_with_fd(v.c->fd, &nop, sizeof nop, v.sv[0]), 0);
    vcheck(&v, "NOP with an fd");
}

Test(io_fdpass, fd_with_sock_write_payload_disconnects)
{
    struct vcase v = vsetup();
    int sv2[2];
    io_socketpair(sv2);
    uint32_t id = io_register_fd_ok(v.c, sv2[0]);
    struct iouringd_io_request w = io_read_req(IOURINGD_TASK_SOCK_WRITE, 0, id, 4);
    h_send(v.c, &w, sizeof w);
    cr_assert(h_quiet(v.c->fd, 20));
    /* The fd arrives with the payload of a non-REGISTER_FD message. */
    cr_assert_eq(h_send_with_fd(v.c->fd, "data", 4, v.sv[0]), 0);
    vcheck(&v, "SOCK_WRITE payload with an fd");
    cr_assert(h_quiet(sv2[1], 50), "the write ran despite the violation");
}

Test(io_fdpass, fd_with_register_buffer_fixed_part_disconnects)
{
    struct vcase v = vsetup();
    struct iouringd_register_buffer_request r = h_register_buffer(0);
    h_send(v.c, &r, 16);
    cr_assert(h_quiet(v.c->fd, 20));
    cr_assert_eq(h_send_with_fd(v.c->fd, (uint8_t *)&r + 16, 8, v.sv[0]), 0);
    vcheck(&v, "REGISTER_BUFFER with an fd");
}

Test(io_fdpass, two_fds_in_one_scm_rights_disconnects)
{
    struct vcase v = vsetup();
    int sv2[2];
    io_socketpair(sv2);
    int fds[2] = {v.sv[0], sv2[0]};
    struct iouringd_request_header h = h_header(IOURINGD_CONTROL_REGISTER_FD, 0);
    cr_assert_eq(io_send_fds(v.c->fd, &h, sizeof h, fds, 2), 0);
    close(sv2[0]);
    vcheck(&v, "REGISTER_FD with two fds");
    cr_assert(io_peer_sees_eof(sv2[1], H_TIMEOUT_MS), "second passed descriptor still open");
}

Test(io_fdpass, same_fd_twice_in_one_scm_rights_disconnects)
{
    struct vcase v = vsetup();
    int fds[2] = {v.sv[0], v.sv[0]};
    struct iouringd_request_header h = h_header(IOURINGD_CONTROL_REGISTER_FD, 0);
    cr_assert_eq(io_send_fds(v.c->fd, &h, sizeof h, fds, 2), 0);
    vcheck(&v, "REGISTER_FD with the same fd twice");
}

Test(io_fdpass, many_fds_truncated_control_disconnects)
{
    struct vcase v = vsetup();
    int fds[SCM_MAX_FD_COUNT];
    for (size_t i = 0; i < SCM_MAX_FD_COUNT; i++)
        fds[i] = v.sv[0];
    struct iouringd_request_header h = h_header(IOURINGD_CONTROL_REGISTER_FD, 0);
    cr_assert_eq(io_send_fds(v.c->fd, &h, sizeof h, fds, SCM_MAX_FD_COUNT), 0);
    vcheck(&v, "REGISTER_FD with 253 fds");
}

Test(io_fdpass, second_fd_for_the_same_message_disconnects)
{
    struct vcase v = vsetup();
    int sv2[2];
    io_socketpair(sv2);
    struct iouringd_request_header h = h_header(IOURINGD_CONTROL_REGISTER_FD, 0);
    cr_assert_eq(h_send_with_fd(v.c->fd, &h, 8, v.sv[0]), 0);
    cr_assert(h_quiet(v.c->fd, 20));
    cr_assert_eq(h_send_with_fd(v.c->fd, (uint8_t *)&h + 8, 8, sv2[0]), 0);
    close(sv2[0]);
    vcheck(&v, "REGISTER_FD with an fd in each half");
    cr_assert(io_peer_sees_eof(sv2[1], H_TIMEOUT_MS), "second passed descriptor still open");
}

Test(io_fdpass, violation_also_closes_registered_descriptors)
{
    /* §12: at the end the worker closes every registered descriptor. */
    struct vcase v = vsetup();
    int sv2[2];
    io_socketpair(sv2);
    io_register_fd_ok(v.c, sv2[0]);
    close(sv2[0]);
    cr_assert(h_quiet(sv2[1], 20), "registered descriptor closed early");
    struct iouringd_request_header nop = h_nop();
    cr_assert_eq(h_send_with_fd(v.c->fd, &nop, sizeof nop, v.sv[0]), 0);
    vcheck(&v, "NOP with an fd after a registration");
    cr_assert(io_peer_sees_eof(sv2[1], H_TIMEOUT_MS), "registered descriptor still open");
}

Test(io_fdpass, refused_registration_leaves_worker_fds_unchanged)
{
    /* Not a violation: REGISTER_FD refused for lack of slots closes the fd and the
     * connection lives on (§5.1). */
    struct h_daemon *d = h_start("--registered-fds", "1", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    pid_t w = io_worker_pid(d);
    int base = h_count_fds(w);
    int sv[2], sv2[2];
    io_socketpair(sv);
    io_socketpair(sv2);
    io_assert_resource(io_register_fd(c, sv[0]), 1, 0, 0);
    for (int i = 0; i < 20; i++)
        io_assert_resource(io_register_fd(c, sv2[0]), 0, -EAGAIN, 0);
    close(sv2[0]);
    cr_assert(io_peer_sees_eof(sv2[1], H_TIMEOUT_MS), "refused descriptors leaked");
    cr_assert_eq(h_count_fds(w), base, "worker fds %d, was %d", h_count_fds(w), base);
    io_expect_alive(c, 1, caps.submit_credits - 1);
}
