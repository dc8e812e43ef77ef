/* OPENAT and CLOSE (§4.4, §10 slot states): new ids for opened files, failures that
 * leak neither ids nor descriptors, CLOSE ending an id. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(io_openat, .fini = h_cleanup, .timeout = 30);

#define K_SREAD IOURINGD_TASK_SOCK_READ
#define K_SWRITE IOURINGD_TASK_SOCK_WRITE
#define K_FREAD IOURINGD_TASK_FILE_READ
#define K_FWRITE IOURINGD_TASK_FILE_WRITE
#define K_OPENAT IOURINGD_TASK_OPENAT
#define K_CLOSE IOURINGD_TASK_CLOSE

Test(io_openat, open_existing_file_and_read_it)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    pid_t w = io_worker_pid(d);
    int base = h_count_fds(w);
    char *path = io_make_file(h_tmpdir(), "existing.txt", "file contents here", 18);

    h_assert_submit(io_openat(c, 0, path, O_RDONLY, 0), 1, 0, C - 1);
    io_expect_completion(c, 1, 1, K_OPENAT, 0);
    /* Installed directly into the fixed table: no process descriptor (notes). */
    cr_assert_eq(h_count_fds(w), base, "worker fds %d, was %d", h_count_fds(w), base);

    h_assert_submit(io_read(c, K_FREAD, 0, 1, 100), 2, 0, C - 1);
    struct h_completion comp = io_completion(c, 2, 18, K_FREAD, 18);
    cr_assert_arr_eq(comp.payload, "file contents here", 18);
    h_free_completion(&comp);
    /* It occupies a slot like any registered file. */
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(c, sv[0]), 2, 0, 30);
    free(path);
}

Test(io_openat, open_create_and_write)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    const char *dir = h_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/created.bin", dir);

    h_assert_submit(io_openat(c, 0, path, O_RDWR | O_CREAT | O_EXCL, 0600), 1, 0, C - 1);
    io_expect_completion(c, 1, 1, K_OPENAT, 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "OPENAT did not create %s", path);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_mode & 0077, 0, "mode %o", st.st_mode & 0777);

    h_assert_submit(io_write(c, K_FWRITE, 0, 1, "created!", 8), 2, 0, C - 1);
    io_expect_completion(c, 2, 8, K_FWRITE, 0);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char buf[16];
    cr_assert_eq(read(fd, buf, sizeof buf), 8);
    cr_assert_arr_eq(buf, "created!", 8);
    close(fd);

    /* O_EXCL on the existing file: a kernel error. */
    h_assert_submit(io_openat(c, 0, path, O_RDWR | O_CREAT | O_EXCL, 0600), 3, 0, C - 1);
    io_expect_completion(c, 3, -EEXIST, K_OPENAT, 0);
}

Test(io_openat, open_missing_file_is_enoent_and_id_not_reused)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    pid_t w = io_worker_pid(d);
    int base = h_count_fds(w);
    char path[256];
    snprintf(path, sizeof path, "%s/does-not-exist", h_tmpdir());

    h_assert_submit(io_openat(c, 0, path, O_RDONLY, 0), 1, 0, C - 1);
    io_expect_completion(c, 1, -ENOENT, K_OPENAT, 0);
    cr_assert_eq(-ENOENT, -2);
    cr_assert_eq(h_count_fds(w), base);
    /* The reserved id 1 is not reused, the slot is free again (§4.4). */
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(c, sv[0]), 2, 0, 31);
    io_assert_resource(io_release(c, 1), 0, -ENOENT, 0);
}

Test(io_openat, path_without_trailing_nul_disconnects)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    const char path[] = "/tmp/x"; /* sent without its NUL */
    struct iouringd_openat_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(K_OPENAT, 0);
    r.open_flags = O_RDONLY;
    r.path_length = (uint32_t)strlen(path);
    uint8_t buf[sizeof r + sizeof path];
    memcpy(buf, &r, sizeof r);
    memcpy(buf + sizeof r, path, strlen(path));
    h_send(c, buf, sizeof r + strlen(path));
    io_expect_disconnect(c, "OPENAT path without NUL");
}

Test(io_openat, path_length_limits_disconnect)
{
    struct h_daemon *d = h_start(NULL);
    uint32_t bad[] = {0, 1, 4093, 4097};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct h_conn *c = h_client(d, NULL);
        struct iouringd_openat_request r;
        memset(&r, 0, sizeof r);
        r.hdr = h_header(K_OPENAT, 0);
        r.path_length = bad[i];
        h_send(c, &r, sizeof r);
        char what[64];
        snprintf(what, sizeof what, "OPENAT path_length %u", bad[i]);
        io_expect_disconnect(c, what);
        h_close(c);
    }
    /* The largest accepted path (4092 with the default bound 4120): framing passes,
     * the kernel says ENAMETOOLONG. */
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    char *longp = malloc(4092);
    cr_assert(longp != NULL);
    memset(longp, 'a', 4091);
    longp[0] = '/';
    longp[4091] = '\0';
    h_assert_submit(io_openat(c, 0, longp, O_RDONLY, 0), 1, 0, caps.submit_credits - 1);
    io_expect_completion(c, 1, -ENAMETOOLONG, K_OPENAT, 0);
    free(longp);
}

Test(io_openat, close_then_id_is_gone)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(c, sv[0]), 1, 0, 31);
    close(sv[0]);

    h_assert_submit(io_close(c, 0, 1), 1, 0, C - 1);
    io_expect_completion(c, 1, 0, K_CLOSE, 0);
    /* The descriptor is really closed: the peer sees EOF. */
    cr_assert(io_peer_sees_eof(sv[1], H_TIMEOUT_MS), "CLOSE left the socket open");
    h_assert_submit(io_read(c, K_SREAD, 0, 1, 8), 0, -ENOENT, C);
    h_assert_submit(io_close(c, 0, 1), 0, -ENOENT, C);
    io_assert_resource(io_release(c, 1), 0, -ENOENT, 0);
    /* The slot is free again; ids continue. */
    io_assert_resource(io_register_fd(c, sv[1]), 2, 0, 31);
}

Test(io_openat, close_opened_file_and_rejects)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    pid_t w = io_worker_pid(d);
    int base = h_count_fds(w);
    char *path = io_make_file(h_tmpdir(), "f", "abc", 3);
    h_assert_submit(io_openat(c, 0, path, O_RDONLY, 0), 1, 0, C - 1);
    io_expect_completion(c, 1, 1, K_OPENAT, 0);
    h_assert_submit(io_close(c, 0, 0), 0, -EINVAL, C);
    h_assert_submit(io_close(c, 0, 1), 2, 0, C - 1);
    io_expect_completion(c, 2, 0, K_CLOSE, 0);
    cr_assert_eq(h_count_fds(w), base);
    h_assert_submit(io_read(c, K_FREAD, 0, 1, 3), 0, -ENOENT, C);
    free(path);
}

Test(io_openat, close_reserved2_nonzero_disconnects)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(c, sv[0]), 1, 0, 31);
    struct iouringd_resource_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(K_CLOSE, 0);
    r.resource_id = 1;
    r.reserved2 = 1;
    h_send(c, &r, sizeof r);
    io_expect_disconnect(c, "CLOSE reserved2 1");
}

Test(io_openat, openat_and_close_with_priorities)
{
    /* OPENAT and CLOSE get no ioprio (§9, §21.1.8): LOW/HIGH still work. */
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    char *path = io_make_file(h_tmpdir(), "prio", "p", 1);
    h_assert_submit(io_openat(c, IOURINGD_PRIORITY_HIGH, path, O_RDONLY, 0), 1, 0, C - 1);
    io_expect_completion(c, 1, 1, K_OPENAT, 0);
    h_assert_submit(io_openat(c, IOURINGD_PRIORITY_LOW, path, O_RDONLY, 0), 2, 0, C - 1);
    io_expect_completion(c, 2, 2, K_OPENAT, 0);
    h_assert_submit(io_close(c, IOURINGD_PRIORITY_LOW, 1), 3, 0, C - 1);
    io_expect_completion(c, 3, 0, K_CLOSE, 0);
    h_assert_submit(io_close(c, IOURINGD_PRIORITY_HIGH, 2), 4, 0, C - 1);
    io_expect_completion(c, 4, 0, K_CLOSE, 0);
    int mfd = io_memfd(NULL, 0);
    io_assert_resource(io_register_fd(c, mfd), 3, 0, 31);
    free(path);
}

Test(io_openat, openat_without_free_slot_is_eagain)
{
    struct h_daemon *d = h_start("--registered-fds", "1", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    char *path = io_make_file(h_tmpdir(), "f", "abc", 3);
    h_assert_submit(io_openat(c, 0, path, O_RDONLY, 0), 1, 0, C - 1);
    io_expect_completion(c, 1, 1, K_OPENAT, 0);
    h_assert_submit(io_openat(c, 0, path, O_RDONLY, 0), 0, -EAGAIN, C);
    h_assert_submit(io_close(c, 0, 1), 2, 0, C - 1);
    io_expect_completion(c, 2, 0, K_CLOSE, 0);
    /* After the CLOSE completes the slot is free. */
    h_assert_submit(io_openat(c, 0, path, O_RDONLY, 0), 3, 0, C - 1);
    io_expect_completion(c, 3, 2, K_OPENAT, 0);
    free(path);
}
