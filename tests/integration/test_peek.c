/* The worker peeks ahead at pipelined requests and falls back to exact reads
 * wherever a descriptor rides (session.c). These tests pin down that the
 * descriptor rules of §2.4 hold across that boundary: a descriptor still
 * belongs to the message whose first byte it came with. */
#include <criterion/criterion.h>

#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(peek, .fini = h_cleanup, .timeout = 30);

#define BATCH 20

static void send_nops(struct h_conn *c)
{
    struct iouringd_request_header nops[BATCH];
    for (int i = 0; i < BATCH; i++)
        nops[i] = h_nop();
    cr_assert_eq(h_write_all(c->fd, nops, sizeof nops, H_TIMEOUT_MS), 0);
}

static void expect_nops(struct h_conn *c, uint64_t first_id)
{
    for (uint64_t id = first_id; id < first_id + BATCH; id++) {
        struct iouringd_submit_result r = h_read_submit(c);
        cr_assert_eq(r.task_id, id, "submit %llu: got id %llu res %d",
                     (unsigned long long)id, (unsigned long long)r.task_id, r.res);
        cr_assert_eq(r.res, 0);
    }
}

/* NOPs, then REGISTER_FD with its descriptor in its own sendmsg, then NOPs:
 * all written before the worker reads anything. */
Test(peek, descriptor_between_pipelined_requests)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    int sv[2];
    io_socketpair(sv);

    send_nops(c);
    struct iouringd_request_header reg = h_header(IOURINGD_CONTROL_REGISTER_FD, 0);
    cr_assert_eq(h_send_with_fd(c->fd, &reg, sizeof reg, sv[0]), 0);
    send_nops(c);
    close(sv[0]);

    expect_nops(c, 1);
    io_assert_resource(io_read_resource(c), 1, 0, 31);
    expect_nops(c, BATCH + 1);

    /* The descriptor registered is the one sent: write through it. */
    const char msg[] = "through the peeked stream";
    struct iouringd_submit_result w =
        io_write(c, IOURINGD_TASK_SOCK_WRITE, 0, 1, msg, (uint32_t)sizeof msg);
    cr_assert_eq(w.res, 0);
    char got[sizeof msg];
    io_read_exact(sv[1], got, sizeof got);
    cr_assert_eq(memcmp(got, msg, sizeof msg), 0);
    close(sv[1]);
    h_stop(d);
}

/* One sendmsg carrying NOP, NOP, REGISTER_FD and a descriptor: the kernel
 * delivers it with the first byte, i.e. with the first NOP → disconnect,
 * and no reply at all, even though the REGISTER_FD follows in the window. */
Test(peek, descriptor_with_first_of_a_batch_disconnects)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    int sv[2];
    io_socketpair(sv);
    struct iouringd_request_header batch[3] = {h_nop(), h_nop(),
                                               h_header(IOURINGD_CONTROL_REGISTER_FD, 0)};
    cr_assert_eq(h_send_with_fd(c->fd, batch, sizeof batch, sv[0]), 0);
    close(sv[0]);
    io_expect_disconnect(c, "fd with the first NOP of a batch");
    cr_assert(io_peer_sees_eof(sv[1], H_TIMEOUT_MS), "the passed descriptor leaked");
    close(sv[1]);
    h_stop(d);
}

/* Requests of the largest size, pipelined in one write, cross the peek
 * window's end and still arrive whole and in order. */
Test(peek, largest_writes_pipelined)
{
    struct h_daemon *d = h_start("--io-bytes-max", "65535", NULL);
    struct h_conn *c = h_client(d, NULL);
    int sv[2];
    io_socketpair_big(sv);
    cr_assert_eq(io_register_fd_ok(c, sv[0]), 1);
    close(sv[0]);

    enum { N = 3, LEN = 65535 };
    size_t one = sizeof(struct iouringd_io_request) + LEN;
    uint8_t *buf = malloc(one * N);
    cr_assert(buf != NULL);
    for (int i = 0; i < N; i++) {
        struct iouringd_io_request r;
        r.hdr = h_header(IOURINGD_TASK_SOCK_WRITE, 0);
        r.resource_id = 1;
        r.length = LEN;
        memcpy(buf + one * (size_t)i, &r, sizeof r);
        io_pattern(buf + one * (size_t)i + sizeof r, LEN, (unsigned)i);
    }
    /* Read the peer concurrently so the writes can complete. */
    pid_t reader = fork();
    cr_assert(reader >= 0);
    if (reader == 0) {
        uint8_t *got = malloc(LEN), *want = malloc(LEN);
        for (int i = 0; i < N; i++) {
            io_read_exact(sv[1], got, LEN);
            io_pattern(want, LEN, (unsigned)i);
            if (memcmp(got, want, LEN) != 0)
                _exit(1);
        }
        _exit(0);
    }
    cr_assert_eq(h_write_all(c->fd, buf, one * N, H_TIMEOUT_MS), 0);
    for (uint64_t id = 1; id <= N; id++) { /* control requests take no task id */
        struct iouringd_submit_result r = h_read_submit(c);
        cr_assert_eq(r.task_id, id);
    }
    for (int i = 0; i < N; i++) {
        struct h_completion comp = h_next_completion(c);
        cr_assert_eq(comp.c.res, LEN, "write %d completed with %d", i, comp.c.res);
        h_free_completion(&comp);
    }
    int st;
    cr_assert_eq(waitpid(reader, &st, 0), reader);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "peer got wrong bytes");
    free(buf);
    close(sv[1]);
    h_stop(d);
}
