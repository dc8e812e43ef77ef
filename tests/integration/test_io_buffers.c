/* Registered buffers and fixed I/O (§2.3, §4.4 READ_FIXED/WRITE_FIXED, §5.2, §5.3,
 * §10 Buffers): initial contents, valid_length, busy buffers. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(io_buffers, .fini = h_cleanup, .timeout = 30);

#define K_RFIX IOURINGD_TASK_SOCK_READ_FIXED
#define K_WFIX IOURINGD_TASK_SOCK_WRITE_FIXED

struct fixture {
    struct h_daemon *d;
    struct h_conn *c;
    uint32_t C;
    int peer;      /* the test's end of the registered socketpair */
    uint32_t file; /* registered id of the other end */
};

static struct fixture setup(const char *buffers)
{
    struct fixture f;
    f.d = h_start("--registered-buffers", buffers, NULL);
    struct iouringd_capability_descriptor caps;
    f.c = h_client(f.d, &caps);
    f.C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    f.file = io_register_fd_ok(f.c, sv[0]);
    close(sv[0]);
    f.peer = sv[1];
    return f;
}

Test(io_buffers, write_fixed_sends_initial_contents)
{
    struct fixture f = setup("1");
    uint8_t data[3000];
    io_pattern(data, sizeof data, 10);
    io_assert_resource(io_register_buffer(f.c, data, sizeof data), 2, 0, 0);

    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, sizeof data), 1, 0, f.C - 1);
    io_expect_completion(f.c, 1, (int32_t)sizeof data, K_WFIX, 0);
    uint8_t got[sizeof data];
    io_read_exact(f.peer, got, sizeof got);
    cr_assert_arr_eq(got, data, sizeof data, "peer got different bytes");

    /* A prefix, from the start of the buffer, as often as wanted. */
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, 10), 2, 0, f.C - 1);
    io_expect_completion(f.c, 2, 10, K_WFIX, 0);
    io_read_exact(f.peer, got, 10);
    cr_assert_arr_eq(got, data, 10);
    cr_assert(h_quiet(f.peer, 50), "extra bytes at the peer");

    /* Longer than valid_length: rejected, nothing sent (§4.3 S4). */
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, sizeof data + 1), 0, -EINVAL, f.C);
    /* Framing of S3: length 0. */
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, 0), 0, -EINVAL, f.C);
    cr_assert(h_quiet(f.peer, 50));
}

Test(io_buffers, read_fixed_then_write_fixed_of_that_length)
{
    struct fixture f = setup("1");
    io_assert_resource(io_register_buffer(f.c, "initial", 7), 2, 0, 0);

    uint8_t data[1500];
    io_pattern(data, sizeof data, 11);
    io_write_all(f.peer, data, sizeof data);
    h_assert_submit(io_fixed(f.c, K_RFIX, 0, f.file, 2, 4096), 1, 0, f.C - 1);
    struct h_completion comp = io_completion(f.c, 1, (int32_t)sizeof data, K_RFIX, sizeof data);
    cr_assert_arr_eq(comp.payload, data, sizeof data, "READ_FIXED payload differs");
    h_free_completion(&comp);

    /* valid_length is now 1500: exactly that works, one more is -EINVAL. */
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, sizeof data + 1), 0, -EINVAL, f.C);
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, sizeof data), 2, 0, f.C - 1);
    io_expect_completion(f.c, 2, (int32_t)sizeof data, K_WFIX, 0);
    uint8_t got[sizeof data];
    io_read_exact(f.peer, got, sizeof got);
    cr_assert_arr_eq(got, data, sizeof data, "WRITE_FIXED did not send the bytes read");

    /* A shorter read lowers valid_length; the buffer start is overwritten. */
    io_write_all(f.peer, "xyz", 3);
    h_assert_submit(io_fixed(f.c, K_RFIX, 0, f.file, 2, 3), 3, 0, f.C - 1);
    comp = io_completion(f.c, 3, 3, K_RFIX, 3);
    cr_assert_arr_eq(comp.payload, "xyz", 3);
    h_free_completion(&comp);
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, 4), 0, -EINVAL, f.C);
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, 3), 4, 0, f.C - 1);
    io_expect_completion(f.c, 4, 3, K_WFIX, 0);
    io_read_exact(f.peer, got, 3);
    cr_assert_arr_eq(got, "xyz", 3);
}

Test(io_buffers, read_fixed_eof_sets_valid_length_0)
{
    struct fixture f = setup("1");
    io_assert_resource(io_register_buffer(f.c, "abc", 3), 2, 0, 0);
    shutdown(f.peer, SHUT_WR);
    h_assert_submit(io_fixed(f.c, K_RFIX, 0, f.file, 2, 16), 1, 0, f.C - 1);
    io_expect_completion(f.c, 1, 0, K_RFIX, 0);
    /* "even of 0 bytes" (§10): nothing can be written from the buffer now. */
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, 1), 0, -EINVAL, f.C);
}

Test(io_buffers, empty_registration_has_valid_length_0)
{
    struct fixture f = setup("1");
    io_assert_resource(io_register_buffer(f.c, NULL, 0), 2, 0, 0);
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, 1), 0, -EINVAL, f.C);
}

Test(io_buffers, full_size_buffer_round_trip)
{
    struct fixture f = setup("1");
    uint8_t data[4096];
    io_pattern(data, sizeof data, 12);
    io_assert_resource(io_register_buffer(f.c, data, sizeof data), 2, 0, 0);
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, 4096), 1, 0, f.C - 1);
    io_expect_completion(f.c, 1, 4096, K_WFIX, 0);
    uint8_t got[4096];
    io_read_exact(f.peer, got, sizeof got);
    cr_assert_arr_eq(got, data, sizeof data);
    /* length > io_bytes_max is an S3 reject for both fixed kinds. */
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, 4097), 0, -EINVAL, f.C);
    h_assert_submit(io_fixed(f.c, K_RFIX, 0, f.file, 2, 4097), 0, -EINVAL, f.C);
    h_assert_submit(io_fixed(f.c, K_RFIX, 0, f.file, 2, 0), 0, -EINVAL, f.C);
}

Test(io_buffers, fixed_id_checks)
{
    struct fixture f = setup("2");
    io_assert_resource(io_register_buffer(f.c, "abc", 3), 2, 0, 1);
    /* S3: either id 0. */
    h_assert_submit(io_fixed(f.c, K_RFIX, 0, 0, 2, 3), 0, -EINVAL, f.C);
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 0, 3), 0, -EINVAL, f.C);
    /* S4: unknown file, then unknown buffer, then valid_length. */
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, 9, 9, 100), 0, -ENOENT, f.C);
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 9, 100), 0, -ENOENT, f.C);
    h_assert_submit(io_fixed(f.c, K_RFIX, 0, f.file, 9, 3), 0, -ENOENT, f.C);
    /* A buffer id is not a file, a file id is not a buffer. */
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, 2, 2, 3), 0, -ENOENT, f.C);
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, f.file, 3), 0, -ENOENT, f.C);
    h_assert_submit(io_close(f.c, 0, 2), 0, -ENOENT, f.C);
    /* Nothing consumed a task id. */
    io_expect_alive(f.c, 1, f.C - 1);
}

Test(io_buffers, release_busy_buffer_then_idle)
{
    struct fixture f = setup("2");
    io_assert_resource(io_register_buffer(f.c, "abc", 3), 2, 0, 1);
    io_assert_resource(io_register_buffer(f.c, "def", 3), 3, 0, 0);
    h_assert_submit(io_fixed(f.c, K_RFIX, 0, f.file, 2, 8), 1, 0, f.C - 1);
    /* The buffer and the file are busy; the other buffer is not. */
    io_assert_resource(io_release(f.c, 2), 0, -EBUSY, 0);
    io_assert_resource(io_release(f.c, f.file), 0, -EBUSY, 31);
    io_assert_resource(io_release(f.c, 3), 3, 0, 1);
    /* Concurrent fixed tasks on one buffer are allowed. */
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, 3), 2, 0, f.C - 2);
    io_expect_completion(f.c, 2, 3, K_WFIX, 0);
    char got[8];
    io_read_exact(f.peer, got, 3);
    cr_assert_arr_eq(got, "abc", 3);

    io_write_all(f.peer, "12345678", 8);
    struct h_completion comp = io_completion(f.c, 1, 8, K_RFIX, 8);
    cr_assert_arr_eq(comp.payload, "12345678", 8);
    h_free_completion(&comp);
    io_assert_resource(io_release(f.c, 2), 2, 0, 2);
    /* Released: fixed I/O on it is -ENOENT, so is a second release. */
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 2, 1), 0, -ENOENT, f.C);
    io_assert_resource(io_release(f.c, 2), 0, -ENOENT, 0);
    /* A new registration starts with its own contents and valid_length. */
    io_assert_resource(io_register_buffer(f.c, "Q", 1), 4, 0, 1);
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 4, 2), 0, -EINVAL, f.C);
    h_assert_submit(io_fixed(f.c, K_WFIX, 0, f.file, 4, 1), 3, 0, f.C - 1);
    io_expect_completion(f.c, 3, 1, K_WFIX, 0);
    io_read_exact(f.peer, got, 1);
    cr_assert_eq(got[0], 'Q');
}
