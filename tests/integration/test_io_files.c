/* Registered files and plain I/O (§2.3, §4.4, §5.1, §5.3, §10): REGISTER_FD,
 * SOCK_READ/SOCK_WRITE on socketpairs, FILE_READ/FILE_WRITE at absolute offset 0,
 * RELEASE_RESOURCE, the shared id space, per-connection ids, slot exhaustion. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../helpers/harness.h"
#include "../helpers/io_helpers.h"

TestSuite(io_files, .fini = h_cleanup, .timeout = 30);

#define K_SREAD IOURINGD_TASK_SOCK_READ
#define K_SWRITE IOURINGD_TASK_SOCK_WRITE
#define K_FREAD IOURINGD_TASK_FILE_READ
#define K_FWRITE IOURINGD_TASK_FILE_WRITE

Test(io_files, register_fd_reports_id_and_free_slots)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    cr_assert_eq(caps.registered_fd_slots, 32);
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(c, sv[0]), 1, 0, 31);
    /* Any descriptor type is accepted (§5.1). */
    int mfd = io_memfd("x", 1);
    io_assert_resource(io_register_fd(c, mfd), 2, 0, 30);
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    io_assert_resource(io_register_fd(c, p[1]), 3, 0, 29);
    /* Registration consumes no task id. */
    io_expect_alive(c, 1, caps.submit_credits - 1);
}

Test(io_files, sock_write_round_trip)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    close(sv[0]); /* the worker keeps its own copy (§5.1) */

    uint8_t data[1000];
    io_pattern(data, sizeof data, 1);
    h_assert_submit(io_write(c, K_SWRITE, 0, id, data, sizeof data), 1, 0, C - 1);
    io_expect_completion(c, 1, (int32_t)sizeof data, K_SWRITE, 0);
    uint8_t got[sizeof data];
    io_read_exact(sv[1], got, sizeof got);
    cr_assert_arr_eq(got, data, sizeof data, "peer received different bytes");
    cr_assert(h_quiet(sv[1], 50), "peer received extra bytes");

    /* A second write on the same id: the credit came back. */
    h_assert_submit(io_write(c, K_SWRITE, 0, id, "z", 1), 2, 0, C - 1);
    io_expect_completion(c, 2, 1, K_SWRITE, 0);
    io_read_exact(sv[1], got, 1);
    cr_assert_eq(got[0], 'z');
}

Test(io_files, sock_read_round_trip_and_eof)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    uint32_t id = io_register_fd_ok(c, sv[0]);
    close(sv[0]);

    /* Read submitted before the data exists: it stays pending, then completes. */
    h_assert_submit(io_read(c, K_SREAD, 0, id, 4096), 1, 0, C - 1);
    uint8_t data[777];
    io_pattern(data, sizeof data, 2);
    io_write_all(sv[1], data, sizeof data);
    struct h_completion comp = h_next_completion(c);
    cr_assert(comp.c.res > 0 && comp.c.res <= (int32_t)sizeof data, "res %d", comp.c.res);
    h_assert_completion(&comp, 1, comp.c.res, K_SREAD, (uint16_t)comp.c.res);
    size_t have = (size_t)comp.c.res;
    uint8_t got[sizeof data];
    memcpy(got, comp.payload, have);
    h_free_completion(&comp);
    /* A stream may deliver in pieces: read the rest. */
    for (uint64_t t = 2; have < sizeof data; t++) {
        h_assert_submit(io_read(c, K_SREAD, 0, id, 4096), t, 0, C - 1);
        comp = h_next_completion(c);
        cr_assert(comp.c.res > 0, "res %d", comp.c.res);
        h_assert_completion(&comp, t, comp.c.res, K_SREAD, (uint16_t)comp.c.res);
        cr_assert_leq(have + (size_t)comp.c.res, sizeof data);
        memcpy(got + have, comp.payload, (size_t)comp.c.res);
        have += (size_t)comp.c.res;
        h_free_completion(&comp);
    }
    cr_assert_arr_eq(got, data, sizeof data, "payload differs from what the peer wrote");

    /* Data already waiting: the read returns exactly it. */
    struct iouringd_submit_result sr;
    io_write_all(sv[1], "hello", 5);
    sr = io_read(c, K_SREAD, 0, id, 100);
    cr_assert_eq(sr.res, 0);
    comp = io_completion(c, sr.task_id, 5, K_SREAD, 5);
    cr_assert_arr_eq(comp.payload, "hello", 5);
    h_free_completion(&comp);

    /* EOF: res 0 and no payload. */
    close(sv[1]);
    sr = io_read(c, K_SREAD, 0, id, 100);
    cr_assert_eq(sr.res, 0);
    io_expect_completion(c, sr.task_id, 0, K_SREAD, 0);
    cr_assert_null(comp.payload);
}

Test(io_files, file_write_and_read_at_absolute_offset_0)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int mfd = io_memfd("0123456789abcdef", 16);
    uint32_t id = io_register_fd_ok(c, mfd);

    /* Two FILE_READs both read from the start. */
    for (uint64_t t = 1; t <= 2; t++) {
        h_assert_submit(io_read(c, K_FREAD, 0, id, 10), t, 0, C - 1);
        struct h_completion comp = io_completion(c, t, 10, K_FREAD, 10);
        cr_assert_arr_eq(comp.payload, "0123456789", 10, "read %llu not from offset 0",
                         (unsigned long long)t);
        h_free_completion(&comp);
    }
    /* The file position (shared with our copy) is neither used nor moved. */
    cr_assert_eq(lseek(mfd, 12, SEEK_SET), 12);
    h_assert_submit(io_read(c, K_FREAD, 0, id, 100), 3, 0, C - 1);
    struct h_completion comp = io_completion(c, 3, 16, K_FREAD, 16);
    cr_assert_arr_eq(comp.payload, "0123456789abcdef", 16);
    h_free_completion(&comp);
    cr_assert_eq(lseek(mfd, 0, SEEK_CUR), 12, "FILE_READ moved the file position");

    /* FILE_WRITE writes at offset 0, twice at the same place. */
    h_assert_submit(io_write(c, K_FWRITE, 0, id, "WXYZ", 4), 4, 0, C - 1);
    io_expect_completion(c, 4, 4, K_FWRITE, 0);
    h_assert_submit(io_write(c, K_FWRITE, 0, id, "AB", 2), 5, 0, C - 1);
    io_expect_completion(c, 5, 2, K_FWRITE, 0);
    cr_assert_eq(lseek(mfd, 0, SEEK_CUR), 12, "FILE_WRITE moved the file position");
    char buf[32];
    cr_assert_eq(pread(mfd, buf, sizeof buf, 0), 16);
    cr_assert_arr_eq(buf, "ABYZ456789abcdef", 16, "file content %.16s", buf);

    /* And FILE_READ sees it. */
    h_assert_submit(io_read(c, K_FREAD, 0, id, 4), 6, 0, C - 1);
    comp = io_completion(c, 6, 4, K_FREAD, 4);
    cr_assert_arr_eq(comp.payload, "ABYZ", 4);
    h_free_completion(&comp);
}

Test(io_files, file_write_then_read_temp_file)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    char *path = io_make_file(h_tmpdir(), "data.bin", NULL, 0);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    cr_assert(fd >= 0);
    uint32_t id = io_register_fd_ok(c, fd);
    close(fd);

    uint8_t data[4096];
    io_pattern(data, sizeof data, 3);
    h_assert_submit(io_write(c, K_FWRITE, 0, id, data, sizeof data), 1, 0, C - 1);
    io_expect_completion(c, 1, 4096, K_FWRITE, 0);
    h_assert_submit(io_read(c, K_FREAD, 0, id, 4096), 2, 0, C - 1);
    struct h_completion comp = io_completion(c, 2, 4096, K_FREAD, 4096);
    cr_assert_arr_eq(comp.payload, data, sizeof data);
    h_free_completion(&comp);

    /* The bytes really are in the file. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    uint8_t back[4096];
    cr_assert_eq(read(fd, back, sizeof back), 4096);
    cr_assert_arr_eq(back, data, sizeof data);
    close(fd);
    free(path);

    /* FILE_READ beyond the end of an empty file: 0 = EOF, no payload. */
    int empty = io_memfd(NULL, 0);
    uint32_t id2 = io_register_fd_ok(c, empty);
    h_assert_submit(io_read(c, K_FREAD, 0, id2, 10), 3, 0, C - 1);
    io_expect_completion(c, 3, 0, K_FREAD, 0);
}

Test(io_files, write_through_a_registered_pipe)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    uint32_t wid = io_register_fd_ok(c, p[1]);
    uint32_t rid = io_register_fd_ok(c, p[0]);
    close(p[1]);
    h_assert_submit(io_write(c, K_SWRITE, 0, wid, "pipe!", 5), 1, 0, caps.submit_credits - 1);
    io_expect_completion(c, 1, 5, K_SWRITE, 0);
    char buf[8];
    io_read_exact(p[0], buf, 5);
    cr_assert_arr_eq(buf, "pipe!", 5);
    /* And back through the worker's copy of the read end. */
    h_assert_submit(io_write(c, K_SWRITE, 0, wid, "again", 5), 2, 0, caps.submit_credits - 1);
    io_expect_completion(c, 2, 5, K_SWRITE, 0);
    h_assert_submit(io_read(c, K_SREAD, 0, rid, 5), 3, 0, caps.submit_credits - 1);
    struct h_completion comp = io_completion(c, 3, 5, K_SREAD, 5);
    cr_assert_arr_eq(comp.payload, "again", 5);
    h_free_completion(&comp);
}

Test(io_files, release_busy_then_idle)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    uint32_t C = caps.submit_credits;
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(c, sv[0]), 1, 0, 31);
    close(sv[0]);

    h_assert_submit(io_read(c, K_SREAD, 0, 1, 64), 1, 0, C - 1);
    /* A pending read makes the file busy (§5.3). */
    io_assert_resource(io_release(c, 1), 0, -EBUSY, 31);
    /* CLOSE while busy is a reject (§4.3 S4). */
    h_assert_submit(io_close(c, 0, 1), 0, -EBUSY, C - 1);
    cr_assert_eq(h_queued_completions(c), 0, "the read completed without data");

    io_write_all(sv[1], "done", 4);
    struct h_completion comp = io_completion(c, 1, 4, K_SREAD, 4);
    cr_assert_arr_eq(comp.payload, "done", 4);
    h_free_completion(&comp);

    io_assert_resource(io_release(c, 1), 1, 0, 32);
    /* The worker closed its copy: the only other reference is gone. */
    cr_assert(io_peer_sees_eof(sv[1], H_TIMEOUT_MS), "released socket still open");
    /* The id no longer exists. */
    io_assert_resource(io_release(c, 1), 0, -ENOENT, 0);
    h_assert_submit(io_read(c, K_SREAD, 0, 1, 64), 0, -ENOENT, C);
}

Test(io_files, release_unknown_and_zero)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    io_assert_resource(io_release(c, 7), 0, -ENOENT, 0);
    io_assert_resource(io_release(c, 0), 0, -EINVAL, 0);
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(c, sv[0]), 1, 0, 31);
    io_assert_resource(io_release(c, 2), 0, -ENOENT, 0);
    io_assert_resource(io_release(c, 0), 0, -EINVAL, 0);
    /* reserved2 of RELEASE_RESOURCE is ignored (§5.3). */
    struct iouringd_resource_request r = h_release(1);
    r.reserved2 = 0xdeadbeefu;
    h_send(c, &r, sizeof r);
    io_assert_resource(io_read_resource(c), 1, 0, 32);
    /* Failed control requests take no task id. */
    io_expect_alive(c, 1, caps.submit_credits - 1);
}

Test(io_files, register_fd_without_descriptor_is_einval)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    io_assert_resource(io_register_fd(c, -1), 0, -EINVAL, 32);
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(c, sv[0]), 1, 0, 31);
    io_assert_resource(io_register_fd(c, -1), 0, -EINVAL, 31);
    io_expect_alive(c, 1, caps.submit_credits - 1);
}

Test(io_files, descriptor_split_from_header_bytes)
{
    /* The fd belongs to the message whose bytes arrived with it (§2.4), wherever
     * it falls inside the message. */
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    struct iouringd_request_header h = h_header(IOURINGD_CONTROL_REGISTER_FD, 0);
    int sv[2];
    io_socketpair(sv);
    /* fd with the first half */
    cr_assert_eq(h_send_with_fd(c->fd, &h, 8, sv[0]), 0);
    cr_assert(h_quiet(c->fd, 20));
    h_send(c, (uint8_t *)&h + 8, 8);
    io_assert_resource(io_read_resource(c), 1, 0, 31);
    /* fd with the second half */
    h_send(c, &h, 8);
    cr_assert(h_quiet(c->fd, 20));
    cr_assert_eq(h_send_with_fd(c->fd, (uint8_t *)&h + 8, 8, sv[1]), 0);
    io_assert_resource(io_read_resource(c), 2, 0, 30);
    close(sv[0]);
    close(sv[1]);
    /* Both registered copies are live: write one, read the other. */
    h_assert_submit(io_write(c, K_SWRITE, 0, 1, "ab", 2), 1, 0, 31);
    io_expect_completion(c, 1, 2, K_SWRITE, 0);
    h_assert_submit(io_read(c, K_SREAD, 0, 2, 2), 2, 0, 31);
    struct h_completion comp = io_completion(c, 2, 2, K_SREAD, 2);
    cr_assert_arr_eq(comp.payload, "ab", 2);
    h_free_completion(&comp);
}

Test(io_files, shared_id_space_section10_example)
{
    struct h_daemon *d = h_start("--registered-buffers", "2", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    cr_assert_eq(caps.registered_buffer_slots, 2);
    int sv[2];
    io_socketpair(sv);
    io_assert_resource(io_register_fd(c, sv[0]), 1, 0, 31);
    io_assert_resource(io_register_fd(c, sv[1]), 2, 0, 30);
    io_assert_resource(io_release(c, 1), 1, 0, 31);
    io_assert_resource(io_register_fd(c, sv[0]), 3, 0, 30);
    io_assert_resource(io_register_buffer(c, "abc", 3), 4, 0, 1);
    io_assert_resource(io_register_buffer(c, NULL, 0), 5, 0, 0);
    /* Ids of one kind are not valid as the other. */
    h_assert_submit(io_read(c, K_SREAD, 0, 4, 8), 0, -ENOENT, caps.submit_credits);
    h_assert_submit(io_fixed(c, IOURINGD_TASK_SOCK_WRITE_FIXED, 0, 2, 3, 1), 0, -ENOENT,
                    caps.submit_credits);
    io_assert_resource(io_release(c, 4), 4, 0, 1);
    io_assert_resource(io_release(c, 3), 3, 0, 31);
    /* The counter never goes back. */
    io_assert_resource(io_register_buffer(c, "x", 1), 6, 0, 0);
    io_assert_resource(io_register_fd(c, sv[0]), 7, 0, 30);
}

Test(io_files, two_clients_have_independent_ids)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    struct h_conn *b = h_client(d, NULL);
    uint32_t C = caps.submit_credits;
    int sa[2], sb[2];
    io_socketpair(sa);
    io_socketpair(sb);

    io_assert_resource(io_register_fd(a, sa[0]), 1, 0, 31);
    /* B has no resource 1: A's id means nothing to B (§10). */
    h_assert_submit(io_write(b, K_SWRITE, 0, 1, "B", 1), 0, -ENOENT, C);
    h_assert_submit(io_read(b, K_SREAD, 0, 1, 1), 0, -ENOENT, C);
    io_assert_resource(io_release(b, 1), 0, -ENOENT, 0);
    h_assert_submit(io_close(b, 0, 1), 0, -ENOENT, C);

    io_assert_resource(io_register_fd(b, sb[0]), 1, 0, 31);
    close(sa[0]);
    close(sb[0]);
    h_assert_submit(io_write(a, K_SWRITE, 0, 1, "from A", 6), 1, 0, C - 1);
    h_assert_submit(io_write(b, K_SWRITE, 0, 1, "from B!", 7), 1, 0, C - 1);
    io_expect_completion(a, 1, 6, K_SWRITE, 0);
    io_expect_completion(b, 1, 7, K_SWRITE, 0);
    char buf[16];
    io_read_exact(sa[1], buf, 6);
    cr_assert_arr_eq(buf, "from A", 6);
    io_read_exact(sb[1], buf, 7);
    cr_assert_arr_eq(buf, "from B!", 7);
    cr_assert(h_quiet(sa[1], 50) && h_quiet(sb[1], 1), "data went to the wrong socket");

    /* A releasing its 1 leaves B's 1 untouched. */
    io_assert_resource(io_release(a, 1), 1, 0, 32);
    cr_assert(io_peer_sees_eof(sa[1], H_TIMEOUT_MS));
    h_assert_submit(io_write(b, K_SWRITE, 0, 1, "still", 5), 2, 0, C - 1);
    io_expect_completion(b, 2, 5, K_SWRITE, 0);
    io_read_exact(sb[1], buf, 5);
    cr_assert_arr_eq(buf, "still", 5);
}

Test(io_files, fd_slot_exhaustion_does_not_leak)
{
    struct h_daemon *d = h_start("--registered-fds", "2", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    cr_assert_eq(caps.registered_fd_slots, 2);
    pid_t w = io_worker_pid(d);
    int base = h_count_fds(w);
    cr_assert(base > 0, "cannot read /proc/%d/fd", (int)w);

    int s1[2], s2[2], s3[2];
    io_socketpair(s1);
    io_socketpair(s2);
    io_socketpair(s3);
    io_assert_resource(io_register_fd(c, s1[0]), 1, 0, 1);
    io_assert_resource(io_register_fd(c, s2[0]), 2, 0, 0);
    io_assert_resource(io_register_fd(c, s3[0]), 0, -EAGAIN, 0);
    close(s1[0]);
    close(s2[0]);
    close(s3[0]);
    /* The refused descriptor was closed by the worker: its peer sees EOF while
     * the worker (and the registered ones) stay alive. */
    cr_assert(io_peer_sees_eof(s3[1], H_TIMEOUT_MS), "refused descriptor leaked");
    cr_assert(h_quiet(s1[1], 20) && h_quiet(s2[1], 1), "registered sockets were closed");
    /* Registered descriptors live only in the fixed-file table. */
    cr_assert_eq(h_count_fds(w), base, "worker fd count %d, was %d", h_count_fds(w), base);

    /* Releasing frees a slot; the next id continues the counter. */
    io_assert_resource(io_release(c, 1), 1, 0, 1);
    int s4[2];
    io_socketpair(s4);
    io_assert_resource(io_register_fd(c, s4[0]), 3, 0, 0);
    cr_assert_eq(h_count_fds(w), base);
    io_expect_alive(c, 1, caps.submit_credits - 1);
}

Test(io_files, worker_holds_only_its_six_descriptors)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    pid_t w = io_worker_pid(d);
    cr_assert_eq(h_count_fds(w), 6, "fresh worker has %d fds, want 6 (0,1,2, client, "
                                    "channel, ring)", h_count_fds(w));
    int sv[2];
    io_socketpair(sv);
    for (int i = 0; i < 10; i++)
        io_assert_resource(io_register_fd(c, sv[i % 2]), (uint32_t)i + 1, 0, 31u - (uint32_t)i);
    cr_assert_eq(h_count_fds(w), 6, "worker has %d fds after 10 registrations", h_count_fds(w));
}

Test(io_files, buffer_slot_exhaustion)
{
    struct h_daemon *d = h_start("--registered-buffers", "1", NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    cr_assert_eq(caps.registered_buffer_slots, 1);
    io_assert_resource(io_register_buffer(c, "first", 5), 1, 0, 0);
    io_assert_resource(io_register_buffer(c, "second", 6), 0, -EAGAIN, 0);
    /* The refused buffer's contents were consumed: the stream is still in step. */
    io_expect_alive(c, 1, caps.submit_credits - 1);
    io_assert_resource(io_release(c, 1), 1, 0, 1);
    io_assert_resource(io_register_buffer(c, "third", 5), 2, 0, 0);
}
