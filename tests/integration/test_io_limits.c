/* io_bytes_max and size limits (§11, §4.4 framing checks, §5.2): the largest
 * accepted sizes round-trip byte for byte; one more disconnects or is rejected
 * exactly as the table says. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(io_limits, .fini = h_cleanup, .timeout = 30);

#define K_SREAD IOURINGD_TASK_SOCK_READ
#define K_SWRITE IOURINGD_TASK_SOCK_WRITE
#define K_FREAD IOURINGD_TASK_FILE_READ
#define K_FWRITE IOURINGD_TASK_FILE_WRITE

/* Send just a fixed part (a payload would never be read) and expect a disconnect;
 * the daemon must then still serve a fresh client. */
static void fixed_part_disconnects(struct h_daemon *d, const void *req, size_t len,
                                   const char *what)
{
    struct h_conn *c = h_client(d, NULL);
    h_send(c, req, len);
    io_expect_disconnect(c, what);
    h_close(c);
}

static void still_serving(struct h_daemon *d)
{
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    io_expect_alive(c, 1, caps.submit_credits - 1);
}

/* Write `len` bytes with SOCK_WRITE on a registered socketpair and check the peer. */
static void sock_write_exact(struct h_conn *c, uint32_t C, uint32_t max_len)
{
    int sv[2];
    io_socketpair_big(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    close(sv[0]);
    uint8_t *data = malloc(max_len), *got = malloc(max_len);
    cr_assert(data != NULL && got != NULL);
    io_pattern(data, max_len, max_len);
    struct iouringd_submit_result sr = io_write(c, K_SWRITE, 0, id, data, max_len);
    h_assert_submit(sr, sr.task_id, 0, C - 1);
    io_read_exact(sv[1], got, max_len);
    io_expect_completion(c, sr.task_id, (int32_t)max_len, K_SWRITE, 0);
    cr_assert_arr_eq(got, data, max_len, "peer got different bytes");
    free(data);
    free(got);
    close(sv[1]);
}

Test(io_limits, sock_write_of_io_bytes_max_accepted_one_more_disconnects)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    cr_assert_eq(caps.io_bytes_max, 4096);
    sock_write_exact(c, caps.submit_credits, 4096);

    struct iouringd_io_request w = io_read_req(K_SWRITE, 0, 1, 4097);
    fixed_part_disconnects(d, &w, sizeof w, "SOCK_WRITE 4097");
    w = io_read_req(K_SWRITE, 0, 1, 0);
    fixed_part_disconnects(d, &w, sizeof w, "SOCK_WRITE 0");
    w = io_read_req(K_FWRITE, 0, 1, 4097);
    fixed_part_disconnects(d, &w, sizeof w, "FILE_WRITE 4097");
    still_serving(d);
}

Test(io_limits, oversize_write_with_its_data_disconnects)
{
    /* The same with the data actually sent: still a silent disconnect. */
    struct h_daemon *d = h_start("--io-bytes-max", "100", NULL);
    struct h_conn *c = h_client(d, NULL);
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    uint8_t buf[24 + 101];
    struct iouringd_io_request w = io_read_req(K_SWRITE, 0, id, 101);
    memcpy(buf, &w, sizeof w);
    memset(buf + sizeof w, 'x', 101);
    (void)h_write_all(c->fd, buf, sizeof buf, H_TIMEOUT_MS); /* may see EPIPE */
    io_expect_disconnect(c, "SOCK_WRITE 101 with io_bytes_max 100");
    cr_assert(h_quiet(sv[1], 50), "oversize write reached the socket");
}

Test(io_limits, read_length_0_and_over_max_rejected)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    h_assert_submit(io_read(c, K_SREAD, 0, id, 0), 0, -EINVAL, C);
    h_assert_submit(io_read(c, K_SREAD, 0, id, 4097), 0, -EINVAL, C);
    h_assert_submit(io_read(c, K_FREAD, 0, id, 0), 0, -EINVAL, C);
    h_assert_submit(io_read(c, K_FREAD, 0, id, 0xFFFFFFFFu), 0, -EINVAL, C);
    /* The limit itself is fine. */
    io_write_all(sv[1], "q", 1);
    h_assert_submit(io_read(c, K_SREAD, 0, id, 4096), 1, 0, C - 1);
    struct h_completion comp = io_completion(c, 1, 1, K_SREAD, 1);
    cr_assert_eq(comp.payload[0], 'q');
    h_free_completion(&comp);
}

Test(io_limits, max_65535_sock_write_and_read_round_trip)
{
    struct h_daemon *d = h_start("--io-bytes-max", "65535", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    cr_assert_eq(caps.io_bytes_max, 65535);
    sock_write_exact(c, C, 65535);

    /* SOCK_READ of 65535 with all of it already waiting. */
    int sv[2];
    io_socketpair_big(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    close(sv[0]);
    static uint8_t data[65535];
    io_pattern(data, sizeof data, 99);
    io_write_all(sv[1], data, sizeof data);
    struct iouringd_submit_result sr = io_read(c, K_SREAD, 0, id, 65535);
    h_assert_submit(sr, sr.task_id, 0, C - 1);
    struct h_completion comp = h_next_completion(c);
    cr_assert(comp.c.res > 0, "res %d", comp.c.res);
    h_assert_completion(&comp, sr.task_id, comp.c.res, K_SREAD, (uint16_t)comp.c.res);
    static uint8_t got[65535];
    size_t have = (size_t)comp.c.res;
    memcpy(got, comp.payload, have);
    h_free_completion(&comp);
    /* A stream socket may split the bytes; the rest comes with further reads. */
    while (have < sizeof data) {
        sr = io_read(c, K_SREAD, 0, id, 65535);
        h_assert_submit(sr, sr.task_id, 0, C - 1);
        comp = h_next_completion(c);
        cr_assert(comp.c.res > 0, "res %d", comp.c.res);
        h_assert_completion(&comp, sr.task_id, comp.c.res, K_SREAD, (uint16_t)comp.c.res);
        cr_assert_leq(have + (size_t)comp.c.res, sizeof data);
        memcpy(got + have, comp.payload, (size_t)comp.c.res);
        have += (size_t)comp.c.res;
        h_free_completion(&comp);
    }
    cr_assert_arr_eq(got, data, sizeof data, "SOCK_READ payload differs");

    h_assert_submit(io_read(c, K_SREAD, 0, id, 65536), 0, -EINVAL, C);
    struct iouringd_io_request w = io_read_req(K_SWRITE, 0, id, 65536);
    h_send(c, &w, sizeof w);
    io_expect_disconnect(c, "SOCK_WRITE 65536");
}

Test(io_limits, max_65535_file_write_and_read_exact)
{
    struct h_daemon *d = h_start("--io-bytes-max", "65535", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int mfd = io_memfd(NULL, 0);
    uint32_t id = io_register_fd_ok(c, mfd);
    static uint8_t data[65535];
    io_pattern(data, sizeof data, 7);
    h_assert_submit(io_write(c, K_FWRITE, 0, id, data, sizeof data), 1, 0, C - 1);
    io_expect_completion(c, 1, 65535, K_FWRITE, 0);
    static uint8_t back[65535];
    cr_assert_eq(pread(mfd, back, sizeof back, 0), 65535);
    cr_assert_arr_eq(back, data, sizeof data, "file content differs");
    h_assert_submit(io_read(c, K_FREAD, 0, id, 65535), 2, 0, C - 1);
    struct h_completion comp = io_completion(c, 2, 65535, K_FREAD, 65535);
    cr_assert_arr_eq(comp.payload, data, sizeof data, "FILE_READ payload differs");
    h_free_completion(&comp);
}

Test(io_limits, max_65535_registered_buffer)
{
    struct h_daemon *d = h_start("--io-bytes-max", "65535", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    static uint8_t data[65535];
    io_pattern(data, sizeof data, 8);
    int mfd = io_memfd(NULL, 0);
    uint32_t fid = io_register_fd_ok(c, mfd);
    io_assert_resource(io_register_buffer(c, data, sizeof data), 2, 0, 0);
    h_assert_submit(io_fixed(c, IOURINGD_TASK_SOCK_WRITE_FIXED, 0, fid, 2, 65535), 1, 0, C - 1);
    io_expect_completion(c, 1, 65535, IOURINGD_TASK_SOCK_WRITE_FIXED, 0);
    static uint8_t back[65535];
    cr_assert_eq(pread(mfd, back, sizeof back, 0), 65535);
    cr_assert_arr_eq(back, data, sizeof data);
    h_assert_submit(io_fixed(c, IOURINGD_TASK_SOCK_READ_FIXED, 0, fid, 2, 65535), 2, 0, C - 1);
    struct h_completion comp =
        io_completion(c, 2, 65535, IOURINGD_TASK_SOCK_READ_FIXED, 65535);
    cr_assert_arr_eq(comp.payload, data, sizeof data);
    h_free_completion(&comp);
    h_assert_submit(io_fixed(c, IOURINGD_TASK_SOCK_READ_FIXED, 0, fid, 2, 65536), 0, -EINVAL, C);
}

Test(io_limits, register_buffer_limits)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    static uint8_t data[4096];
    io_pattern(data, sizeof data, 5);
    io_assert_resource(io_register_buffer(c, data, 4096), 1, 0, 0);
    io_assert_resource(io_release(c, 1), 1, 0, 1);
    struct iouringd_register_buffer_request r = h_register_buffer(4097);
    fixed_part_disconnects(d, &r, sizeof r, "REGISTER_BUFFER 4097");
    r = h_register_buffer(1);
    r.reserved2 = 1;
    fixed_part_disconnects(d, &r, sizeof r, "REGISTER_BUFFER reserved2 1");
    still_serving(d);
}

Test(io_limits, connect_and_accept_sockaddr_length_limits)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_sockaddr_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_TASK_CONNECT, 0);
    r.resource_id = 1;
    r.sockaddr_length = 0;
    fixed_part_disconnects(d, &r, sizeof r, "CONNECT sockaddr_length 0");
    r.sockaddr_length = 4097;
    fixed_part_disconnects(d, &r, sizeof r, "CONNECT sockaddr_length 4097");
    r.hdr = h_header(IOURINGD_TASK_ACCEPT, 0);
    fixed_part_disconnects(d, &r, sizeof r, "ACCEPT sockaddr_length 4097");
    /* ACCEPT up to io_bytes_max is fine (S4 decides: unknown id). */
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    h_assert_submit(io_accept(c, 1, 4096), 0, -ENOENT, caps.submit_credits);
    /* CONNECT with a 4096-byte address passes framing too. */
    uint8_t addr[4096];
    memset(addr, 0, sizeof addr);
    h_assert_submit(io_connect(c, 1, addr, sizeof addr), 0, -ENOENT, caps.submit_credits);
    io_expect_alive(c, 1, caps.submit_credits - 1);
}
