/* Client library, request side: version, connect, handshake, priority helpers, the
 * EINVAL argument checks (nothing may reach the peer) and the byte-exact encoding of
 * every request. A socketpair plays the daemon: canned replies are written to the
 * peer end before the call, so no test needs a second thread or a sleep. */
#include <iouringd/client.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef IOURINGD_VERSION
#define IOURINGD_VERSION "0.2.0"
#endif

static int sv[2] = {-1, -1};
#define CL sv[0] /* the library's end */
#define PEER sv[1] /* the fake daemon's end */

static void pair_setup(void)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void pair_teardown(void)
{
    iouringd_client_forget(sv[0]);
    close(sv[0]);
    close(sv[1]);
}

static void peer_send(const void *buf, size_t len)
{
    cr_assert_eq(send(PEER, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void peer_recv(void *buf, size_t len)
{
    cr_assert_eq(recv(PEER, buf, len, MSG_WAITALL), (ssize_t)len);
}

static int peer_has_bytes(void)
{
    struct pollfd p = {.fd = PEER, .events = POLLIN};
    return poll(&p, 1, 0);
}

static void put(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- version -------------------------------------------------------------------- */

Test(client_version, both_names_report_the_library_version)
{
    cr_assert_str_eq(iouringd_client_version(), IOURINGD_VERSION);
    cr_assert_str_eq(iouringd_version_string(), IOURINGD_VERSION);
    cr_assert_str_neq(iouringd_client_version(), "0.1.0");
    unsigned a, b, c;
    char tail;
    cr_assert_eq(sscanf(iouringd_client_version(), "%u.%u.%u%c", &a, &b, &c, &tail), 3);
}

/* ---- connect -------------------------------------------------------------------- */

static char tmpdir[64];
static char sockpath[128];

static int listen_at(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s, 0);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
    cr_assert_eq(listen(s, 4), 0);
    return s;
}

static void dir_setup(void)
{
    strcpy(tmpdir, "/tmp/iouringd-client-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(sockpath, sizeof(sockpath), "%s/sock", tmpdir);
}

static void dir_teardown(void)
{
    unlink(sockpath);
    rmdir(tmpdir);
}

Test(client_connect, null_path_is_einval)
{
    errno = 0;
    cr_assert_eq(iouringd_client_connect(NULL), -1);
    cr_assert_eq(errno, EINVAL);
}

Test(client_connect, path_of_108_bytes_is_enametoolong)
{
    char path[109];
    memset(path, 'a', 108);
    path[108] = '\0';
    cr_assert_eq(iouringd_client_connect(path), -1);
    cr_assert_eq(errno, ENAMETOOLONG);
    path[107] = '\0'; /* 107 bytes fits; it just does not exist */
    path[0] = '/';
    cr_assert_eq(iouringd_client_connect(path), -1);
    cr_assert_eq(errno, ENOENT);
}

Test(client_connect, empty_path_is_enoent)
{
    cr_assert_eq(iouringd_client_connect(""), -1);
    cr_assert_eq(errno, ENOENT);
}

Test(client_connect, connect_errors_pass_through, .init = dir_setup, .fini = dir_teardown)
{
    cr_assert_eq(iouringd_client_connect(sockpath), -1);
    cr_assert_eq(errno, ENOENT);
    int s = listen_at(sockpath);
    close(s); /* the file stays, nobody listens */
    cr_assert_eq(iouringd_client_connect(sockpath), -1);
    cr_assert_eq(errno, ECONNREFUSED);
}

Test(client_connect, returns_blocking_cloexec_stream_socket, .init = dir_setup,
     .fini = dir_teardown)
{
    int s = listen_at(sockpath);
    int fd = iouringd_client_connect(sockpath);
    cr_assert_geq(fd, 0, "%s", strerror(errno));
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    int v;
    socklen_t len = sizeof(v);
    cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), 0);
    cr_assert_eq(v, SOCK_STREAM);
    cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len), 0);
    cr_assert_eq(v, AF_UNIX);
    int a = accept(s, NULL, NULL);
    cr_assert_geq(a, 0);
    cr_assert_eq(write(fd, "x", 1), 1);
    char c;
    cr_assert_eq(read(a, &c, 1), 1);
    close(a);
    close(fd);
    close(s);
}

/* ---- handshake ------------------------------------------------------------------ */

static const unsigned char handshake_request[16] = {0x49, 0x4F, 0x44, 0x31, 0x01, 0x00, 0x0C, 0x00,
                                                    0x01, 0x00, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00};

/* A valid ACCEPT: ring 64, cq 128, ops 0xFFF, credits 32, 32 fds, 1 buffer, 4096. */
static void handshake_bytes(unsigned char b[52])
{
    memset(b, 0, 52);
    memcpy(b, "IOD1\x01\x00\x0c\x00\x01\x00\x0c\x00", 12);
    put(b + 16, 36, 4);
    put(b + 20, 0x1fff, 4);
    put(b + 24, 64, 4);
    put(b + 28, 128, 4);
    put(b + 32, 0xfff, 4);
    put(b + 36, 32, 4);
    put(b + 40, 32, 4);
    put(b + 44, 1, 4);
    put(b + 48, 4096, 4);
}

Test(client_handshake, accept_fills_result_and_sends_exact_request, .init = pair_setup,
     .fini = pair_teardown)
{
    unsigned char b[52];
    handshake_bytes(b);
    peer_send(b, sizeof(b));
    struct iouringd_handshake_result r;
    cr_assert_eq(iouringd_client_handshake_fd(CL, &r), 0, "%s", strerror(errno));
    unsigned char req[16];
    peer_recv(req, sizeof(req));
    cr_assert_arr_eq(req, handshake_request, 16);
    cr_assert_eq(peer_has_bytes(), 0);
    cr_assert_eq(r.response.status, IOURINGD_HANDSHAKE_ACCEPT);
    cr_assert_eq(r.capabilities.struct_size, 36);
    cr_assert_eq(r.capabilities.features, 0x1fff);
    cr_assert_eq(r.capabilities.ring_entries, 64);
    cr_assert_eq(r.capabilities.cq_entries, 128);
    cr_assert_eq(r.capabilities.op_mask, 0xfff);
    cr_assert_eq(r.capabilities.submit_credits, 32);
    cr_assert_eq(r.capabilities.registered_fd_slots, 32);
    cr_assert_eq(r.capabilities.registered_buffer_slots, 1);
    cr_assert_eq(r.capabilities.io_bytes_max, 4096);
}

struct hs_case {
    const char *what;
    size_t offset, size;
    uint32_t value;
    size_t offset2;
    uint32_t value2; /* second mutation when offset2 != 0 */
    int ok;
};

static const struct hs_case hs_cases[] = {
    {"magic", 0, 1, 0x48, 0, 0, 0},
    {"version_major", 4, 2, 2, 0, 0, 0},
    {"version_minor", 6, 2, 11, 0, 0, 0},
    {"abi_major", 8, 2, 0, 0, 0, 0},
    {"abi_minor", 10, 2, 13, 0, 0, 0},
    {"status REJECT", 12, 2, 1, 0, 0, 0},
    {"status DEGRADE", 12, 2, 2, 0, 0, 0},
    {"response reserved", 14, 2, 1, 0, 0, 0},
    {"struct_size", 16, 4, 35, 0, 0, 0},
    {"ring_entries 0", 24, 4, 0, 0, 0, 0},
    {"cq_entries 0", 28, 4, 0, 0, 0, 0},
    {"op_mask 0", 32, 4, 0, 0, 0, 0},
    {"op_mask bit outside 0xFFF", 32, 4, 0x1001, 0, 0, 0},
    {"submit_credits 0", 36, 4, 0, 0, 0, 0},
    {"submit_credits > ring_entries", 36, 4, 65, 0, 0, 0},
    {"submit_credits == ring_entries", 36, 4, 64, 0, 0, 1},
    {"registered_fd_slots 0", 40, 4, 0, 0, 0, 0},
    {"io_bytes_max 0", 48, 4, 0, 0, 0, 0},
    {"no buffer slots with READ_FIXED", 44, 4, 0, 32, IOURINGD_OP_READ_FIXED | 1u, 0},
    {"no buffer slots with WRITE_FIXED", 44, 4, 0, 32, IOURINGD_OP_WRITE_FIXED | 1u, 0},
    {"no buffer slots, no fixed op", 44, 4, 0, 32,
     IOURINGD_OP_MASK_V1 & ~(IOURINGD_OP_READ_FIXED | IOURINGD_OP_WRITE_FIXED), 1},
    {"features are not checked", 20, 4, 0, 0, 0, 1},
};

Test(client_handshake, validates_every_listed_field)
{
    for (size_t i = 0; i < sizeof(hs_cases) / sizeof(hs_cases[0]); i++) {
        const struct hs_case *c = &hs_cases[i];
        pair_setup();
        unsigned char b[52];
        handshake_bytes(b);
        put(b + c->offset, c->value, c->size);
        if (c->offset2)
            put(b + c->offset2, c->value2, 4);
        peer_send(b, sizeof(b));
        struct iouringd_handshake_result r;
        errno = 0;
        int rc = iouringd_client_handshake_fd(CL, &r);
        if (c->ok) {
            cr_assert_eq(rc, 0, "%s: %s", c->what, strerror(errno));
        } else {
            cr_assert_eq(rc, -1, "%s accepted", c->what);
            cr_assert_eq(errno, EPROTO, "%s: %s", c->what, strerror(errno));
            cr_assert_eq(memcmp(&r, b, sizeof(b)), 0, "%s: result not filled", c->what);
        }
        pair_teardown();
    }
}

Test(client_handshake, short_result_then_eof_is_epipe, .init = pair_setup, .fini = pair_teardown)
{
    unsigned char b[52];
    handshake_bytes(b);
    peer_send(b, 30);
    shutdown(PEER, SHUT_WR);
    struct iouringd_handshake_result r;
    cr_assert_eq(iouringd_client_handshake_fd(CL, &r), -1);
    cr_assert_eq(errno, EPIPE);
}

static void *serve_one_handshake(void *arg)
{
    int s = *(int *)arg;
    int a = accept(s, NULL, NULL);
    if (a < 0)
        return (void *)1;
    unsigned char req[16], b[52];
    handshake_bytes(b);
    int bad = recv(a, req, 16, MSG_WAITALL) != 16 || memcmp(req, handshake_request, 16) != 0 ||
              send(a, b, 52, MSG_NOSIGNAL) != 52;
    char c;
    bad |= recv(a, &c, 1, 0) != 0; /* the library closes after the handshake */
    close(a);
    return bad ? (void *)1 : NULL;
}

Test(client_handshake, by_path_connects_handshakes_and_closes, .init = dir_setup,
     .fini = dir_teardown)
{
    int s = listen_at(sockpath);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, serve_one_handshake, &s), 0);
    struct iouringd_handshake_result r;
    cr_assert_eq(iouringd_client_handshake(sockpath, &r), 0, "%s", strerror(errno));
    cr_assert_eq(r.capabilities.submit_credits, 32);
    void *bad;
    pthread_join(t, &bad);
    cr_assert_null(bad);
    /* no descriptor leaked: the next one is the lowest free */
    int probe = dup(0);
    cr_assert_eq(probe, s + 1);
    close(probe);
    close(s);
}

Test(client_handshake, by_path_passes_connect_errors, .init = dir_setup, .fini = dir_teardown)
{
    struct iouringd_handshake_result r;
    cr_assert_eq(iouringd_client_handshake(sockpath, &r), -1);
    cr_assert_eq(errno, ENOENT);
}

/* ---- priority helpers ------------------------------------------------------------ */

Test(client_priority, validity)
{
    cr_assert(iouringd_submit_priority_is_valid(IOURINGD_PRIORITY_NORMAL));
    cr_assert(iouringd_submit_priority_is_valid(IOURINGD_PRIORITY_LOW));
    cr_assert(iouringd_submit_priority_is_valid(IOURINGD_PRIORITY_HIGH));
    cr_assert_not(iouringd_submit_priority_is_valid(3));
    cr_assert_not(iouringd_submit_priority_is_valid(-1));
    cr_assert_not(iouringd_submit_priority_is_valid(65536));
}

Test(client_priority, set_and_get)
{
    struct iouringd_submit_request req;
    cr_assert_eq(iouringd_submit_request_init(&req, IOURINGD_TASK_SOCK_READ), 0);
    cr_assert_eq(req.task_kind, IOURINGD_TASK_SOCK_READ);
    cr_assert_eq(iouringd_submit_request_priority(&req), IOURINGD_PRIORITY_NORMAL);
    cr_assert_eq(iouringd_submit_request_set_priority(&req, IOURINGD_PRIORITY_HIGH), 0);
    cr_assert_eq(iouringd_submit_request_priority(&req), IOURINGD_PRIORITY_HIGH);
    cr_assert_eq(iouringd_submit_request_set_priority(&req, 3), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(iouringd_submit_request_set_priority(&req, -1), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(iouringd_submit_request_priority(&req), IOURINGD_PRIORITY_HIGH, "unchanged");
    cr_assert_eq(iouringd_submit_request_set_priority(NULL, 1), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(iouringd_submit_request_priority(NULL), IOURINGD_PRIORITY_NORMAL);
}

Test(client_priority, init_rejects_bad_kinds)
{
    struct iouringd_submit_request req;
    cr_assert_eq(iouringd_submit_request_init(NULL, 1), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(iouringd_submit_request_init(&req, 0), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(iouringd_submit_request_init(&req, 15), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(iouringd_submit_request_init(&req, IOURINGD_CONTROL_GET_STATS), -1);
    cr_assert_eq(errno, EINVAL);
}

/* ---- EINVAL before anything is sent ---------------------------------------------- */

static int einval_checks;

static void expect_einval(int rc, const char *what)
{
    cr_assert_eq(rc, -1, "%s: returned %d", what, rc);
    cr_assert_eq(errno, EINVAL, "%s: errno %s", what, strerror(errno));
    cr_assert_eq(peer_has_bytes(), 0, "%s: bytes reached the peer", what);
    einval_checks++;
}

#define EINVAL_OF(call)                                                                       \
    do {                                                                                      \
        errno = 0;                                                                            \
        expect_einval((call), #call);                                                         \
    } while (0)

static uint64_t tid;
static uint32_t rid;
static struct iouringd_submit_result sres;
static struct iouringd_resource_result rres;
static struct iouringd_stats_result stats;
static struct iouringd_trace_result tres;
static struct iouringd_trace_event events[8];
static size_t count;
static const char data[4] = "abc";

TestSuite(client_einval, .init = pair_setup, .fini = pair_teardown);

Test(client_einval, connection_and_handshake)
{
    struct iouringd_handshake_result hr;
    EINVAL_OF(iouringd_client_handshake_fd(-1, &hr));
    EINVAL_OF(iouringd_client_handshake_fd(CL, NULL));
    EINVAL_OF(iouringd_client_handshake(NULL, &hr));
    EINVAL_OF(iouringd_client_handshake("/nonexistent", NULL));
    EINVAL_OF(iouringd_client_close(-1));
}

Test(client_einval, nop_timeout_cancel)
{
    EINVAL_OF(iouringd_submit_nop(-1, &tid));
    EINVAL_OF(iouringd_submit_nop(CL, NULL));
    EINVAL_OF(iouringd_submit_nop_result(-1, &sres));
    EINVAL_OF(iouringd_submit_nop_result(CL, NULL));
    EINVAL_OF(iouringd_submit_timeout(-1, 1, &tid));
    EINVAL_OF(iouringd_submit_timeout(CL, 1, NULL));
    EINVAL_OF(iouringd_submit_timeout_result(-1, 1, &sres));
    EINVAL_OF(iouringd_submit_timeout_result(CL, 1, NULL));
    EINVAL_OF(iouringd_submit_cancel(-1, 1, &tid));
    EINVAL_OF(iouringd_submit_cancel(CL, 1, NULL));
    EINVAL_OF(iouringd_submit_cancel_result(-1, 1, &sres));
    EINVAL_OF(iouringd_submit_cancel_result(CL, 1, NULL));
}

Test(client_einval, reads)
{
    EINVAL_OF(iouringd_submit_sock_read(-1, 1, 1, &tid));
    EINVAL_OF(iouringd_submit_sock_read(CL, 0, 1, &tid));
    EINVAL_OF(iouringd_submit_sock_read(CL, 1, 0, &tid));
    EINVAL_OF(iouringd_submit_sock_read(CL, 1, 1, NULL));
    EINVAL_OF(iouringd_submit_sock_read_result(-1, 1, 1, &sres));
    EINVAL_OF(iouringd_submit_sock_read_result(CL, 0, 1, &sres));
    EINVAL_OF(iouringd_submit_sock_read_result(CL, 1, 0, &sres));
    EINVAL_OF(iouringd_submit_sock_read_result(CL, 1, 1, NULL));
    EINVAL_OF(iouringd_submit_file_read(-1, 1, 1, &tid));
    EINVAL_OF(iouringd_submit_file_read(CL, 0, 1, &tid));
    EINVAL_OF(iouringd_submit_file_read(CL, 1, 0, &tid));
    EINVAL_OF(iouringd_submit_file_read(CL, 1, 1, NULL));
    EINVAL_OF(iouringd_submit_file_read_result(-1, 1, 1, &sres));
    EINVAL_OF(iouringd_submit_file_read_result(CL, 0, 1, &sres));
    EINVAL_OF(iouringd_submit_file_read_result(CL, 1, 0, &sres));
    EINVAL_OF(iouringd_submit_file_read_result(CL, 1, 1, NULL));
}

Test(client_einval, writes)
{
    EINVAL_OF(iouringd_submit_sock_write(-1, 1, data, 3, &tid));
    EINVAL_OF(iouringd_submit_sock_write(CL, 1, NULL, 3, &tid));
    EINVAL_OF(iouringd_submit_sock_write(CL, 0, data, 3, &tid));
    EINVAL_OF(iouringd_submit_sock_write(CL, 1, data, 0, &tid));
    EINVAL_OF(iouringd_submit_sock_write(CL, 1, data, 3, NULL));
    EINVAL_OF(iouringd_submit_sock_write_result(-1, 1, data, 3, &sres));
    EINVAL_OF(iouringd_submit_sock_write_result(CL, 1, NULL, 3, &sres));
    EINVAL_OF(iouringd_submit_sock_write_result(CL, 0, data, 3, &sres));
    EINVAL_OF(iouringd_submit_sock_write_result(CL, 1, data, 0, &sres));
    EINVAL_OF(iouringd_submit_sock_write_result(CL, 1, data, 3, NULL));
    EINVAL_OF(iouringd_submit_file_write(-1, 1, data, 3, &tid));
    EINVAL_OF(iouringd_submit_file_write(CL, 1, NULL, 3, &tid));
    EINVAL_OF(iouringd_submit_file_write(CL, 0, data, 3, &tid));
    EINVAL_OF(iouringd_submit_file_write(CL, 1, data, 0, &tid));
    EINVAL_OF(iouringd_submit_file_write(CL, 1, data, 3, NULL));
    EINVAL_OF(iouringd_submit_file_write_result(-1, 1, data, 3, &sres));
    EINVAL_OF(iouringd_submit_file_write_result(CL, 1, NULL, 3, &sres));
    EINVAL_OF(iouringd_submit_file_write_result(CL, 0, data, 3, &sres));
    EINVAL_OF(iouringd_submit_file_write_result(CL, 1, data, 0, &sres));
    EINVAL_OF(iouringd_submit_file_write_result(CL, 1, data, 3, NULL));
}

Test(client_einval, poll_connect_accept)
{
    EINVAL_OF(iouringd_submit_poll(-1, 1, 1, &tid));
    EINVAL_OF(iouringd_submit_poll(CL, 0, 1, &tid));
    EINVAL_OF(iouringd_submit_poll(CL, 1, 0, &tid));
    EINVAL_OF(iouringd_submit_poll(CL, 1, 1, NULL));
    EINVAL_OF(iouringd_submit_poll_result(-1, 1, 1, &sres));
    EINVAL_OF(iouringd_submit_poll_result(CL, 0, 1, &sres));
    EINVAL_OF(iouringd_submit_poll_result(CL, 1, 0, &sres));
    EINVAL_OF(iouringd_submit_poll_result(CL, 1, 1, NULL));
    EINVAL_OF(iouringd_submit_connect(-1, 1, data, 3, &tid));
    EINVAL_OF(iouringd_submit_connect(CL, 1, NULL, 3, &tid));
    EINVAL_OF(iouringd_submit_connect(CL, 0, data, 3, &tid));
    EINVAL_OF(iouringd_submit_connect(CL, 1, data, 0, &tid));
    EINVAL_OF(iouringd_submit_connect(CL, 1, data, 65536, &tid));
    EINVAL_OF(iouringd_submit_connect(CL, 1, data, 3, NULL));
    EINVAL_OF(iouringd_submit_connect_result(-1, 1, data, 3, &sres));
    EINVAL_OF(iouringd_submit_connect_result(CL, 1, NULL, 3, &sres));
    EINVAL_OF(iouringd_submit_connect_result(CL, 0, data, 3, &sres));
    EINVAL_OF(iouringd_submit_connect_result(CL, 1, data, 0, &sres));
    EINVAL_OF(iouringd_submit_connect_result(CL, 1, data, 65536, &sres));
    EINVAL_OF(iouringd_submit_connect_result(CL, 1, data, 3, NULL));
    EINVAL_OF(iouringd_submit_accept(-1, 1, 16, &tid));
    EINVAL_OF(iouringd_submit_accept(CL, 0, 16, &tid));
    EINVAL_OF(iouringd_submit_accept(CL, 1, 65536, &tid));
    EINVAL_OF(iouringd_submit_accept(CL, 1, 16, NULL));
    EINVAL_OF(iouringd_submit_accept_result(-1, 1, 16, &sres));
    EINVAL_OF(iouringd_submit_accept_result(CL, 0, 16, &sres));
    EINVAL_OF(iouringd_submit_accept_result(CL, 1, 65536, &sres));
    EINVAL_OF(iouringd_submit_accept_result(CL, 1, 16, NULL));
}

Test(client_einval, openat_close)
{
    char long_path[4097];
    memset(long_path, 'p', 4096);
    long_path[4096] = '\0'; /* strlen + 1 = 4097 */
    EINVAL_OF(iouringd_submit_openat(-1, "/x", 0, 0, &tid));
    EINVAL_OF(iouringd_submit_openat(CL, NULL, 0, 0, &tid));
    EINVAL_OF(iouringd_submit_openat(CL, "", 0, 0, &tid));
    EINVAL_OF(iouringd_submit_openat(CL, long_path, 0, 0, &tid));
    EINVAL_OF(iouringd_submit_openat(CL, "/x", 0, 0, NULL));
    EINVAL_OF(iouringd_submit_openat_result(-1, "/x", 0, 0, &sres));
    EINVAL_OF(iouringd_submit_openat_result(CL, NULL, 0, 0, &sres));
    EINVAL_OF(iouringd_submit_openat_result(CL, "", 0, 0, &sres));
    EINVAL_OF(iouringd_submit_openat_result(CL, long_path, 0, 0, &sres));
    EINVAL_OF(iouringd_submit_openat_result(CL, "/x", 0, 0, NULL));
    EINVAL_OF(iouringd_submit_close(-1, 1, &tid));
    EINVAL_OF(iouringd_submit_close(CL, 0, &tid));
    EINVAL_OF(iouringd_submit_close(CL, 1, NULL));
    EINVAL_OF(iouringd_submit_close_result(-1, 1, &sres));
    EINVAL_OF(iouringd_submit_close_result(CL, 0, &sres));
    EINVAL_OF(iouringd_submit_close_result(CL, 1, NULL));
}

Test(client_einval, fixed)
{
    EINVAL_OF(iouringd_submit_sock_read_fixed(-1, 1, 1, 1, &tid));
    EINVAL_OF(iouringd_submit_sock_read_fixed(CL, 0, 1, 1, &tid));
    EINVAL_OF(iouringd_submit_sock_read_fixed(CL, 1, 0, 1, &tid));
    EINVAL_OF(iouringd_submit_sock_read_fixed(CL, 1, 1, 0, &tid));
    EINVAL_OF(iouringd_submit_sock_read_fixed(CL, 1, 1, 1, NULL));
    EINVAL_OF(iouringd_submit_sock_read_fixed_result(-1, 1, 1, 1, &sres));
    EINVAL_OF(iouringd_submit_sock_read_fixed_result(CL, 0, 1, 1, &sres));
    EINVAL_OF(iouringd_submit_sock_read_fixed_result(CL, 1, 0, 1, &sres));
    EINVAL_OF(iouringd_submit_sock_read_fixed_result(CL, 1, 1, 0, &sres));
    EINVAL_OF(iouringd_submit_sock_read_fixed_result(CL, 1, 1, 1, NULL));
    EINVAL_OF(iouringd_submit_sock_write_fixed(-1, 1, 1, 1, &tid));
    EINVAL_OF(iouringd_submit_sock_write_fixed(CL, 0, 1, 1, &tid));
    EINVAL_OF(iouringd_submit_sock_write_fixed(CL, 1, 0, 1, &tid));
    EINVAL_OF(iouringd_submit_sock_write_fixed(CL, 1, 1, 0, &tid));
    EINVAL_OF(iouringd_submit_sock_write_fixed(CL, 1, 1, 1, NULL));
    EINVAL_OF(iouringd_submit_sock_write_fixed_result(-1, 1, 1, 1, &sres));
    EINVAL_OF(iouringd_submit_sock_write_fixed_result(CL, 0, 1, 1, &sres));
    EINVAL_OF(iouringd_submit_sock_write_fixed_result(CL, 1, 0, 1, &sres));
    EINVAL_OF(iouringd_submit_sock_write_fixed_result(CL, 1, 1, 0, &sres));
    EINVAL_OF(iouringd_submit_sock_write_fixed_result(CL, 1, 1, 1, NULL));
}

Test(client_einval, control)
{
    unsigned char big[4097] = {0};
    EINVAL_OF(iouringd_register_fd(-1, 0, &rid));
    EINVAL_OF(iouringd_register_fd(CL, -1, &rid));
    EINVAL_OF(iouringd_register_fd(CL, 0, NULL));
    EINVAL_OF(iouringd_register_fd_result(-1, 0, &rres));
    EINVAL_OF(iouringd_register_fd_result(CL, -1, &rres));
    EINVAL_OF(iouringd_register_fd_result(CL, 0, NULL));
    EINVAL_OF(iouringd_register_buffer(-1, big, 1, &rid));
    EINVAL_OF(iouringd_register_buffer(CL, big, 4097, &rid));
    EINVAL_OF(iouringd_register_buffer(CL, NULL, 1, &rid));
    EINVAL_OF(iouringd_register_buffer(CL, big, 1, NULL));
    EINVAL_OF(iouringd_register_buffer_result(-1, big, 1, &rres));
    EINVAL_OF(iouringd_register_buffer_result(CL, big, 4097, &rres));
    EINVAL_OF(iouringd_register_buffer_result(CL, NULL, 1, &rres));
    EINVAL_OF(iouringd_register_buffer_result(CL, big, 1, NULL));
    EINVAL_OF(iouringd_release_resource(-1, 1, &rid));
    EINVAL_OF(iouringd_release_resource(CL, 0, &rid));
    EINVAL_OF(iouringd_release_resource(CL, 1, NULL));
    EINVAL_OF(iouringd_release_resource_result(-1, 1, &rres));
    EINVAL_OF(iouringd_release_resource_result(CL, 0, &rres));
    EINVAL_OF(iouringd_release_resource_result(CL, 1, NULL));
    EINVAL_OF(iouringd_get_stats(-1, &stats));
    EINVAL_OF(iouringd_get_stats(CL, NULL));
    EINVAL_OF(iouringd_get_stats_result(-1, &stats));
    EINVAL_OF(iouringd_get_stats_result(CL, NULL));
}

Test(client_einval, trace)
{
    EINVAL_OF(iouringd_get_trace(-1, 0, 1, &tres, events, 8, &count));
    EINVAL_OF(iouringd_get_trace(CL, 0, 1, NULL, events, 8, &count));
    EINVAL_OF(iouringd_get_trace(CL, 0, 1, &tres, events, 8, NULL));
    EINVAL_OF(iouringd_get_trace(CL, 0, 9, &tres, events, 8, &count));
    EINVAL_OF(iouringd_get_trace(CL, 0, 1, &tres, events, 0, &count));
    EINVAL_OF(iouringd_get_trace_result(-1, 0, 1, &tres, events, 8, &count));
    EINVAL_OF(iouringd_get_trace_result(CL, 0, 1, NULL, events, 8, &count));
    EINVAL_OF(iouringd_get_trace_result(CL, 0, 1, &tres, events, 8, NULL));
    EINVAL_OF(iouringd_get_trace_result(CL, 0, 9, &tres, events, 8, &count));
}

Test(client_einval, builder_and_completions)
{
    struct iouringd_submit_request req;
    cr_assert_eq(iouringd_submit_request_init(&req, IOURINGD_TASK_NOP), 0);
    EINVAL_OF(iouringd_submit_request_send(-1, &req, &tid));
    EINVAL_OF(iouringd_submit_request_send(CL, NULL, &tid));
    EINVAL_OF(iouringd_submit_request_send(CL, &req, NULL));
    EINVAL_OF(iouringd_submit_request_send_result(CL, &req, NULL));
    req.priority = 3;
    EINVAL_OF(iouringd_submit_request_send(CL, &req, &tid));
    req.priority = 0;
    req.task_kind = 15;
    EINVAL_OF(iouringd_submit_request_send(CL, &req, &tid));
    req.task_kind = 0;
    EINVAL_OF(iouringd_submit_request_send_result(CL, &req, &sres));
    cr_assert_eq(iouringd_submit_request_init(&req, IOURINGD_TASK_SOCK_READ), 0);
    EINVAL_OF(iouringd_submit_request_send(CL, &req, &tid)); /* res_id 0, length 0 */

    struct iouringd_client_completion c;
    size_t len;
    char buf[8];
    memset(&c, 0, sizeof(c));
    c.record.task_kind = IOURINGD_TASK_SOCK_READ;
    EINVAL_OF(iouringd_wait_completion(-1, &c));
    EINVAL_OF(iouringd_wait_completion(CL, NULL));
    EINVAL_OF(iouringd_read_completion_payload(-1, &c, buf, sizeof(buf), &len));
    EINVAL_OF(iouringd_read_completion_payload(CL, NULL, buf, sizeof(buf), &len));
    EINVAL_OF(iouringd_read_completion_payload(CL, &c, buf, sizeof(buf), NULL));
    EINVAL_OF(iouringd_discard_completion_payload(-1, &c));
    EINVAL_OF(iouringd_discard_completion_payload(CL, NULL));
    static const uint16_t no_payload_kinds[] = {1, 2, 3, 5, 7, 9, 10, 11, 13, 14, 0, 15};
    for (size_t i = 0; i < sizeof(no_payload_kinds) / sizeof(no_payload_kinds[0]); i++) {
        c.record.task_kind = no_payload_kinds[i];
        c.record.payload_length = 0;
        EINVAL_OF(iouringd_read_completion_payload(CL, &c, buf, sizeof(buf), &len));
    }
}

/* ---- byte-exact encoding ------------------------------------------------------------ */

#define HDR(k0, k1, prio)                                                                     \
    0x49, 0x4F, 0x44, 0x31, 0x01, 0x00, 0x0C, 0x00, k0, k1, prio, 0x00, 0x00, 0x00, 0x00, 0x00

static void reply_submit(void)
{
    unsigned char b[16] = {0};
    put(b, 7, 8);
    put(b + 12, 3, 4);
    peer_send(b, sizeof(b));
}

static void reply_resource(void)
{
    unsigned char b[16] = {0};
    put(b, 5, 4);
    put(b + 8, 1, 4);
    peer_send(b, sizeof(b));
}

static void reply_stats(void)
{
    unsigned char b[56] = {0};
    peer_send(b, sizeof(b));
}

static void reply_trace(void)
{
    unsigned char b[24] = {0};
    peer_send(b, sizeof(b));
}

static void check_request(const unsigned char *expected, size_t len)
{
    unsigned char got[128];
    cr_assert_leq(len, sizeof(got));
    peer_recv(got, len);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(got[i], expected[i], "byte %zu: got 0x%02x, want 0x%02x", i, got[i],
                     expected[i]);
    cr_assert_eq(peer_has_bytes(), 0, "extra bytes after the request");
}

static const unsigned char sockaddr_bytes[4] = {0x01, 0x00, 'x', 'y'};

#define ENC_TEST(name, reply, call, ...)                                                      \
    Test(client_encoding, name, .init = pair_setup, .fini = pair_teardown)                   \
    {                                                                                         \
        static const unsigned char expected[] = {__VA_ARGS__};                                \
        reply();                                                                              \
        errno = 0;                                                                            \
        cr_assert_eq((call), 0, "%s: %s", #call, strerror(errno));                            \
        check_request(expected, sizeof(expected));                                            \
    }

#define TIMEOUT_BODY 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01
#define TARGET_BODY 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11

ENC_TEST(nop, reply_submit, iouringd_submit_nop(CL, &tid), HDR(1, 0, 0))
ENC_TEST(nop_result, reply_submit, iouringd_submit_nop_result(CL, &sres), HDR(1, 0, 0))
ENC_TEST(timeout, reply_submit, iouringd_submit_timeout(CL, 0x0102030405060708u, &tid),
         HDR(2, 0, 0), TIMEOUT_BODY)
ENC_TEST(timeout_result, reply_submit,
         iouringd_submit_timeout_result(CL, 0x0102030405060708u, &sres), HDR(2, 0, 0),
         TIMEOUT_BODY)
ENC_TEST(cancel, reply_submit, iouringd_submit_cancel(CL, 0x1122334455667788u, &tid),
         HDR(3, 0, 0), TARGET_BODY)
ENC_TEST(cancel_result_target_0_unchecked, reply_submit,
         iouringd_submit_cancel_result(CL, 0, &sres), HDR(3, 0, 0), 0, 0, 0, 0, 0, 0, 0, 0)
ENC_TEST(sock_read, reply_submit, iouringd_submit_sock_read(CL, 3, 0x1000, &tid), HDR(4, 0, 0),
         0x03, 0, 0, 0, 0x00, 0x10, 0, 0)
ENC_TEST(sock_read_result, reply_submit, iouringd_submit_sock_read_result(CL, 3, 0x1000, &sres),
         HDR(4, 0, 0), 0x03, 0, 0, 0, 0x00, 0x10, 0, 0)
ENC_TEST(file_read, reply_submit, iouringd_submit_file_read(CL, 0x01020304, 70000, &tid),
         HDR(8, 0, 0), 0x04, 0x03, 0x02, 0x01, 0x70, 0x11, 0x01, 0x00)
ENC_TEST(file_read_result, reply_submit, iouringd_submit_file_read_result(CL, 3, 1, &sres),
         HDR(8, 0, 0), 0x03, 0, 0, 0, 0x01, 0, 0, 0)
ENC_TEST(sock_write, reply_submit, iouringd_submit_sock_write(CL, 2, "abc", 3, &tid),
         HDR(5, 0, 0), 0x02, 0, 0, 0, 0x03, 0, 0, 0, 'a', 'b', 'c')
ENC_TEST(sock_write_result, reply_submit, iouringd_submit_sock_write_result(CL, 2, "ab", 2, &sres),
         HDR(5, 0, 0), 0x02, 0, 0, 0, 0x02, 0, 0, 0, 'a', 'b')
ENC_TEST(file_write, reply_submit, iouringd_submit_file_write(CL, 9, "xyz", 3, &tid),
         HDR(9, 0, 0), 0x09, 0, 0, 0, 0x03, 0, 0, 0, 'x', 'y', 'z')
ENC_TEST(file_write_result, reply_submit, iouringd_submit_file_write_result(CL, 9, "q", 1, &sres),
         HDR(9, 0, 0), 0x09, 0, 0, 0, 0x01, 0, 0, 0, 'q')
ENC_TEST(poll, reply_submit, iouringd_submit_poll(CL, 4, 0x0005, &tid), HDR(10, 0, 0), 0x04, 0,
         0, 0, 0x05, 0x00, 0x00, 0x00)
ENC_TEST(poll_result, reply_submit, iouringd_submit_poll_result(CL, 4, 0xABCD, &sres),
         HDR(10, 0, 0), 0x04, 0, 0, 0, 0xCD, 0xAB, 0x00, 0x00)
ENC_TEST(connect, reply_submit, iouringd_submit_connect(CL, 6, sockaddr_bytes, 4, &tid),
         HDR(11, 0, 0), 0x06, 0, 0, 0, 0x04, 0, 0, 0, 0x01, 0x00, 'x', 'y')
ENC_TEST(connect_result, reply_submit,
         iouringd_submit_connect_result(CL, 6, sockaddr_bytes, 2, &sres), HDR(11, 0, 0), 0x06,
         0, 0, 0, 0x02, 0, 0, 0, 0x01, 0x00)
ENC_TEST(accept, reply_submit, iouringd_submit_accept(CL, 6, 110, &tid), HDR(12, 0, 0), 0x06, 0,
         0, 0, 0x6E, 0, 0, 0)
ENC_TEST(accept_len_0, reply_submit, iouringd_submit_accept(CL, 6, 0, &tid), HDR(12, 0, 0), 0x06,
         0, 0, 0, 0, 0, 0, 0)
ENC_TEST(accept_result_len_65535, reply_submit, iouringd_submit_accept_result(CL, 6, 65535, &sres),
         HDR(12, 0, 0), 0x06, 0, 0, 0, 0xFF, 0xFF, 0, 0)
ENC_TEST(openat, reply_submit, iouringd_submit_openat(CL, "/tmp/x", 0x42, 0644, &tid),
         HDR(13, 0, 0), 0x42, 0, 0, 0, 0xA4, 0x01, 0, 0, 0x07, 0, 0, 0, '/', 't', 'm', 'p', '/',
         'x', 0)
ENC_TEST(openat_result_negative_flags, reply_submit,
         iouringd_submit_openat_result(CL, "a", -2, 0, &sres), HDR(13, 0, 0), 0xFE, 0xFF, 0xFF,
         0xFF, 0, 0, 0, 0, 0x02, 0, 0, 0, 'a', 0)
ENC_TEST(close, reply_submit, iouringd_submit_close(CL, 9, &tid), HDR(14, 0, 0), 0x09, 0, 0, 0, 0,
         0, 0, 0)
ENC_TEST(close_result, reply_submit, iouringd_submit_close_result(CL, 0x10000, &sres),
         HDR(14, 0, 0), 0x00, 0x00, 0x01, 0x00, 0, 0, 0, 0)
ENC_TEST(sock_read_fixed, reply_submit, iouringd_submit_sock_read_fixed(CL, 1, 2, 100, &tid),
         HDR(6, 0, 0), 0x01, 0, 0, 0, 0x02, 0, 0, 0, 0x64, 0, 0, 0)
ENC_TEST(sock_read_fixed_result, reply_submit,
         iouringd_submit_sock_read_fixed_result(CL, 1, 2, 100, &sres), HDR(6, 0, 0), 0x01, 0,
         0, 0, 0x02, 0, 0, 0, 0x64, 0, 0, 0)
ENC_TEST(sock_write_fixed, reply_submit, iouringd_submit_sock_write_fixed(CL, 3, 4, 5, &tid),
         HDR(7, 0, 0), 0x03, 0, 0, 0, 0x04, 0, 0, 0, 0x05, 0, 0, 0)
ENC_TEST(sock_write_fixed_result, reply_submit,
         iouringd_submit_sock_write_fixed_result(CL, 3, 4, 5, &sres), HDR(7, 0, 0), 0x03, 0, 0,
         0, 0x04, 0, 0, 0, 0x05, 0, 0, 0)
ENC_TEST(register_buffer, reply_resource, iouringd_register_buffer(CL, "xyz", 3, &rid),
         HDR(0x02, 0x01, 0), 0x03, 0, 0, 0, 0, 0, 0, 0, 'x', 'y', 'z')
ENC_TEST(register_buffer_empty_null, reply_resource, iouringd_register_buffer(CL, NULL, 0, &rid),
         HDR(0x02, 0x01, 0), 0, 0, 0, 0, 0, 0, 0, 0)
ENC_TEST(register_buffer_result, reply_resource,
         iouringd_register_buffer_result(CL, "ab", 2, &rres), HDR(0x02, 0x01, 0), 0x02, 0, 0, 0,
         0, 0, 0, 0, 'a', 'b')
ENC_TEST(release_resource, reply_resource, iouringd_release_resource(CL, 9, &rid),
         HDR(0x01, 0x01, 0), 0x09, 0, 0, 0, 0, 0, 0, 0)
ENC_TEST(release_resource_result, reply_resource,
         iouringd_release_resource_result(CL, 0x0A0B0C0D, &rres), HDR(0x01, 0x01, 0), 0x0D, 0x0C,
         0x0B, 0x0A, 0, 0, 0, 0)
ENC_TEST(get_stats, reply_stats, iouringd_get_stats(CL, &stats), HDR(0x03, 0x01, 0))
ENC_TEST(get_stats_result, reply_stats, iouringd_get_stats_result(CL, &stats), HDR(0x03, 0x01, 0))
ENC_TEST(get_trace, reply_trace, iouringd_get_trace(CL, 0x0102030405060708u, 256, &tres, NULL, 256, &count),
         HDR(0x04, 0x01, 0), TIMEOUT_BODY, 0x00, 0x01, 0x00, 0x00, 0, 0, 0, 0)
ENC_TEST(get_trace_result_max_0, reply_trace,
         iouringd_get_trace_result(CL, 5, 0, &tres, NULL, 0, &count), HDR(0x04, 0x01, 0), 0x05, 0,
         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

static int send_builder(int priority, uint16_t kind)
{
    struct iouringd_submit_request req;
    cr_assert_eq(iouringd_submit_request_init(&req, kind), 0);
    req.resource_id = 3;
    req.length = 8;
    req.target_task_id = 2;
    cr_assert_eq(iouringd_submit_request_set_priority(&req, priority), 0);
    return iouringd_submit_request_send(CL, &req, &tid);
}

ENC_TEST(builder_high_sock_read, reply_submit, send_builder(IOURINGD_PRIORITY_HIGH, 4),
         HDR(4, 0, 2), 0x03, 0, 0, 0, 0x08, 0, 0, 0)
ENC_TEST(builder_low_cancel, reply_submit, send_builder(IOURINGD_PRIORITY_LOW, 3), HDR(3, 0, 1),
         0x02, 0, 0, 0, 0, 0, 0, 0)

Test(client_encoding, openat_path_of_4095_bytes_is_sent, .init = pair_setup,
     .fini = pair_teardown)
{
    static char path[4096];
    memset(path, 'p', 4095);
    reply_submit();
    cr_assert_eq(iouringd_submit_openat(CL, path, 0, 0, &tid), 0, "%s", strerror(errno));
    static unsigned char got[28 + 4096];
    peer_recv(got, sizeof(got));
    cr_assert_eq(got[24] | got[25] << 8, 4096);
    cr_assert_eq(memcmp(got + 28, path, 4096), 0);
    cr_assert_eq(peer_has_bytes(), 0);
}

Test(client_encoding, register_buffer_of_4096_bytes_is_sent, .init = pair_setup,
     .fini = pair_teardown)
{
    static unsigned char buf[4096], got[24 + 4096];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)i;
    reply_resource();
    cr_assert_eq(iouringd_register_buffer(CL, buf, 4096, &rid), 0, "%s", strerror(errno));
    peer_recv(got, sizeof(got));
    cr_assert_eq(got[16] | got[17] << 8, 4096);
    cr_assert_eq(memcmp(got + 24, buf, 4096), 0);
    cr_assert_eq(peer_has_bytes(), 0);
}

struct big_read {
    unsigned char *buf;
    size_t len;
};

static void *read_big_request(void *arg)
{
    struct big_read *r = arg;
    return recv(PEER, r->buf, r->len, MSG_WAITALL) == (ssize_t)r->len ? NULL : (void *)1;
}

Test(client_encoding, large_write_is_sent_whole, .init = pair_setup, .fini = pair_teardown)
{
    /* larger than the socket buffer: the peer must read while the library sends */
    const uint32_t n = 1u << 20;
    unsigned char *buf = malloc(n);
    struct big_read r = {.buf = malloc(24 + (size_t)n), .len = 24 + (size_t)n};
    cr_assert(buf && r.buf);
    for (uint32_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 7);
    reply_submit();
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, read_big_request, &r), 0);
    int rc = iouringd_submit_sock_write(CL, 1, buf, n, &tid);
    int err = errno;
    void *bad;
    pthread_join(t, &bad);
    cr_assert_eq(rc, 0, "%s", strerror(err));
    cr_assert_eq(tid, 7);
    cr_assert_null(bad);
    cr_assert_eq(r.buf[20] | r.buf[21] << 8 | r.buf[22] << 16, (int)n);
    cr_assert_eq(memcmp(r.buf + 24, buf, n), 0);
    cr_assert_eq(peer_has_bytes(), 0);
    free(buf);
    free(r.buf);
}

/* ---- register_fd passes a working descriptor ---------------------------------------- */

static int peer_recv_fd(unsigned char hdr[16])
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = hdr, .iov_len = 16};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof(u.buf)};
    cr_assert_eq(recvmsg(PEER, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC), 16);
    cr_assert_eq(msg.msg_flags & MSG_CTRUNC, 0);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cr_assert_not_null(cm, "no control message");
    cr_assert_eq(cm->cmsg_level, SOL_SOCKET);
    cr_assert_eq(cm->cmsg_type, SCM_RIGHTS);
    cr_assert_eq(cm->cmsg_len, CMSG_LEN(sizeof(int)), "exactly one fd");
    cr_assert_null(CMSG_NXTHDR(&msg, cm));
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
    return fd;
}

static void check_register_fd(int result_form)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    reply_resource();
    if (result_form) {
        cr_assert_eq(iouringd_register_fd_result(CL, p[1], &rres), 0, "%s", strerror(errno));
        cr_assert_eq(rres.resource_id, 5);
        cr_assert_eq(rres.resources_available, 1);
    } else {
        cr_assert_eq(iouringd_register_fd(CL, p[1], &rid), 0, "%s", strerror(errno));
        cr_assert_eq(rid, 5);
    }
    unsigned char hdr[16];
    static const unsigned char expected[16] = {HDR(0x00, 0x01, 0)};
    int got = peer_recv_fd(hdr);
    cr_assert_arr_eq(hdr, expected, 16);
    cr_assert_eq(peer_has_bytes(), 0);
    close(p[1]); /* the caller's copy; the passed one must still work */
    cr_assert_eq(write(got, "ping", 4), 4);
    close(got);
    char buf[8];
    cr_assert_eq(read(p[0], buf, sizeof(buf)), 4);
    cr_assert_eq(memcmp(buf, "ping", 4), 0);
    cr_assert_eq(read(p[0], buf, sizeof(buf)), 0, "every write end closed");
    close(p[0]);
}

Test(client_register_fd, passes_a_working_fd, .init = pair_setup, .fini = pair_teardown)
{
    check_register_fd(0);
}

Test(client_register_fd, result_form_passes_a_working_fd, .init = pair_setup,
     .fini = pair_teardown)
{
    check_register_fd(1);
}

Test(client_register_fd, unopened_fd_fails_before_sending, .init = pair_setup,
     .fini = pair_teardown)
{
    int fd = dup(0);
    close(fd);
    cr_assert_eq(iouringd_register_fd(CL, fd, &rid), -1);
    cr_assert_eq(errno, EBADF);
    cr_assert_eq(peer_has_bytes(), 0);
}
