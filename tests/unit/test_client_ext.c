/* Client library, extensions: iouringd_get_daemon_counters. Byte-exact request,
 * reply decoding and validation, completions queued ahead of the reply, and the
 * disconnect of a daemon without the extension. A socketpair plays the daemon. */
#include <iouringd/client.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sv[2] = {-1, -1};
#define CL sv[0]   /* the library's end */
#define PEER sv[1] /* the fake daemon's end */

static void pair_setup(void)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void pair_teardown(void)
{
    iouringd_client_forget(sv[0]);
    close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
}

static void peer_send(const void *buf, size_t len)
{
    cr_assert_eq(send(PEER, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static int peer_has_bytes(void)
{
    struct pollfd p = {.fd = PEER, .events = POLLIN};
    return poll(&p, 1, 0);
}

static ssize_t client_unread(void)
{
    unsigned char buf[512];
    return recv(CL, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);
}

static void put(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The exact request: magic, 1, 12, kind 0x1001, reserved0 0, reserved1 0. */
static const unsigned char request_bytes[16] = {0x49, 0x4F, 0x44, 0x31, 0x01, 0x00, 0x0C, 0x00,
                                                0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

/* A reply with a distinct value in every field, built byte by byte (offsets from
 * the 256-byte layout, not from the struct, so the test checks the layout too). */
static void counters_bytes(unsigned char *b, uint32_t struct_size, uint32_t version)
{
    memset(b, 0, 256);
    put(b + 0, struct_size, 4);
    put(b + 4, version, 4);
    for (size_t i = 0; i < 6; i++) /* stats: six u32 gauges */
        put(b + 8 + 4 * i, 100 + i, 4);
    put(b + 32, 0x1111111111ull, 8); /* accepted_submits */
    put(b + 40, 7, 8);               /* rejected_submits */
    put(b + 48, 0x1111111110ull, 8); /* completions */
    put(b + 56, 32, 4);              /* per_client_credit_limit */
    put(b + 60, 2, 4);               /* clients_at_credit_limit */
    put(b + 64, 41, 8);              /* admitted_total */
    for (size_t i = 0; i < 8; i++)
        put(b + 72 + 8 * i, i < 5 ? 200 + i : 0, 8); /* refused_total */
    for (size_t i = 0; i < 8; i++)
        put(b + 136 + 8 * i, 300 + i, 8); /* worker_exits_total */
    put(b + 200, 0xAABBCCDDEEull, 8);       /* bytes_read_total */
    put(b + 208, 0x0102030405ull, 8);       /* bytes_written_total */
    put(b + 216, 0x1111111100ull, 8);       /* completions_ok_total */
    put(b + 224, 16, 8);                    /* completions_error_total */
    put(b + 232, 123456789012345ull, 8);    /* uptime_nsec */
    put(b + 240, 3, 4);                     /* live_workers */
    put(b + 244, 64, 4);                    /* max_clients */
    put(b + 248, 1, 4);                     /* seccomp_log_mode */
    put(b + 252, 0, 4);                     /* reserved */
}

static void send_counters(uint32_t struct_size, uint32_t version)
{
    unsigned char b[256];
    counters_bytes(b, struct_size, version);
    peer_send(b, sizeof(b));
}

static void expect_request(void)
{
    unsigned char got[sizeof(request_bytes) + 1];
    cr_assert_eq(recv(PEER, got, sizeof(request_bytes), MSG_WAITALL),
                 (ssize_t)sizeof(request_bytes));
    cr_assert_arr_eq(got, request_bytes, sizeof(request_bytes), "request bytes differ");
    cr_assert_eq(peer_has_bytes(), 0, "the request is longer than 16 bytes");
}

static void expect_decoded(const struct iouringd_daemon_counters *c)
{
    cr_assert_eq(c->struct_size, 256);
    cr_assert_eq(c->version, 1);
    cr_assert_eq(c->stats.active_clients, 100);
    cr_assert_eq(c->stats.outstanding_tasks, 101);
    cr_assert_eq(c->stats.outstanding_credit_tasks, 102);
    cr_assert_eq(c->stats.available_credits, 103);
    cr_assert_eq(c->stats.registered_files, 104);
    cr_assert_eq(c->stats.registered_buffers, 105);
    cr_assert_eq(c->stats.accepted_submits, 0x1111111111ull);
    cr_assert_eq(c->stats.rejected_submits, 7);
    cr_assert_eq(c->stats.completions, 0x1111111110ull);
    cr_assert_eq(c->stats.per_client_credit_limit, 32);
    cr_assert_eq(c->stats.clients_at_credit_limit, 2);
    cr_assert_eq(c->admitted_total, 41);
    for (size_t i = 0; i < 8; i++) {
        cr_assert_eq(c->refused_total[i], i < 5 ? 200 + i : 0, "refused_total[%zu]", i);
        cr_assert_eq(c->worker_exits_total[i], 300 + i, "worker_exits_total[%zu]", i);
    }
    cr_assert_eq(c->bytes_read_total, 0xAABBCCDDEEull);
    cr_assert_eq(c->bytes_written_total, 0x0102030405ull);
    cr_assert_eq(c->completions_ok_total, 0x1111111100ull);
    cr_assert_eq(c->completions_error_total, 16);
    cr_assert_eq(c->uptime_nsec, 123456789012345ull);
    cr_assert_eq(c->live_workers, 3);
    cr_assert_eq(c->max_clients, 64);
    cr_assert_eq(c->seccomp_log_mode, 1);
    cr_assert_eq(c->reserved, 0);
}

static struct iouringd_daemon_counters dc;

TestSuite(client_ext_counters, .init = pair_setup, .fini = pair_teardown, .timeout = 10);

Test(client_ext_counters, layout_matches_the_wire)
{
    cr_assert_eq(sizeof(struct iouringd_daemon_counters), 256);
    cr_assert_eq(offsetof(struct iouringd_daemon_counters, stats), 8);
    cr_assert_eq(offsetof(struct iouringd_daemon_counters, admitted_total), 64);
    cr_assert_eq(offsetof(struct iouringd_daemon_counters, refused_total), 72);
    cr_assert_eq(offsetof(struct iouringd_daemon_counters, worker_exits_total), 136);
    cr_assert_eq(offsetof(struct iouringd_daemon_counters, bytes_read_total), 200);
    cr_assert_eq(offsetof(struct iouringd_daemon_counters, uptime_nsec), 232);
    cr_assert_eq(offsetof(struct iouringd_daemon_counters, live_workers), 240);
    cr_assert_eq(offsetof(struct iouringd_daemon_counters, reserved), 252);
    cr_assert_eq(IOURINGD_EXT_GET_DAEMON_COUNTERS, 0x1001);
}

Test(client_ext_counters, sends_the_exact_request_and_decodes_every_field)
{
    send_counters(256, 1);
    memset(&dc, 0xAA, sizeof(dc));
    cr_assert_eq(iouringd_get_daemon_counters(CL, &dc), 0, "%s", strerror(errno));
    expect_request();
    expect_decoded(&dc);
    cr_assert_eq(client_unread(), -1, "the reply was not consumed exactly");
}

Test(client_ext_counters, einval_before_anything_is_sent)
{
    errno = 0;
    cr_assert_eq(iouringd_get_daemon_counters(-1, &dc), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(iouringd_get_daemon_counters(CL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(peer_has_bytes(), 0, "an argument error reached the peer");
}

Test(client_ext_counters, daemon_without_the_extension_disconnects_epipe)
{
    /* A v1-only daemon reads the header, finds an unknown kind and closes. */
    shutdown(PEER, SHUT_WR);
    errno = 0;
    cr_assert_eq(iouringd_get_daemon_counters(CL, &dc), -1);
    cr_assert_eq(errno, EPIPE, "%s", strerror(errno));
    expect_request();
}

Test(client_ext_counters, eof_mid_reply_is_epipe)
{
    unsigned char b[256];
    counters_bytes(b, 256, 1);
    peer_send(b, 100);
    shutdown(PEER, SHUT_WR);
    errno = 0;
    cr_assert_eq(iouringd_get_daemon_counters(CL, &dc), -1);
    cr_assert_eq(errno, EPIPE);
}

Test(client_ext_counters, wrong_struct_size_is_eproto_and_filled)
{
    send_counters(248, 1);
    memset(&dc, 0, sizeof(dc));
    errno = 0;
    cr_assert_eq(iouringd_get_daemon_counters(CL, &dc), -1);
    cr_assert_eq(errno, EPROTO);
    cr_assert_eq(dc.struct_size, 248, "*out is filled when 256 bytes were read");
    cr_assert_eq(dc.admitted_total, 41);
}

Test(client_ext_counters, wrong_version_is_eproto)
{
    send_counters(256, 2);
    errno = 0;
    cr_assert_eq(iouringd_get_daemon_counters(CL, &dc), -1);
    cr_assert_eq(errno, EPROTO);
    cr_assert_eq(dc.version, 2);
    send_counters(256, 0);
    errno = 0;
    cr_assert_eq(iouringd_get_daemon_counters(CL, &dc), -1);
    cr_assert_eq(errno, EPROTO);
}

static void send_completion(uint64_t id, int32_t res, uint16_t kind, const char *payload,
                            uint16_t plen)
{
    unsigned char b[24 + 16];
    cr_assert_leq(plen, 16);
    memcpy(b, "IOD1\x01\x00\x0c\x00", 8);
    put(b + 8, id, 8);
    put(b + 16, (uint32_t)res, 4);
    put(b + 20, kind, 2);
    put(b + 22, plen, 2);
    memcpy(b + 24, payload, plen);
    peer_send(b, 24u + plen);
}

Test(client_ext_counters, completions_ahead_of_the_reply_are_queued)
{
    send_completion(1, 0, IOURINGD_TASK_NOP, "", 0);
    send_completion(2, 3, IOURINGD_TASK_SOCK_READ, "abc", 3);
    send_counters(256, 1);
    cr_assert_eq(iouringd_get_daemon_counters(CL, &dc), 0, "%s", strerror(errno));
    expect_decoded(&dc);
    struct iouringd_client_completion c;
    cr_assert_eq(iouringd_wait_completion(CL, &c), 0);
    cr_assert_eq(c.record.task_id, 1);
    cr_assert_eq(iouringd_wait_completion(CL, &c), 0);
    cr_assert_eq(c.record.task_id, 2);
    char buf[8];
    size_t len = 0;
    cr_assert_eq(iouringd_read_completion_payload(CL, &c, buf, sizeof(buf), &len), 0);
    cr_assert_eq(len, 3);
    cr_assert_arr_eq(buf, "abc", 3);
    cr_assert_eq(client_unread(), -1);
}

/* The reply arriving one byte at a time still decodes. */
static void *dribble(void *arg)
{
    (void)arg;
    unsigned char b[256];
    unsigned char req[16];
    if (recv(PEER, req, sizeof(req), MSG_WAITALL) != (ssize_t)sizeof(req))
        return NULL;
    counters_bytes(b, 256, 1);
    for (size_t i = 0; i < sizeof(b); i++) {
        if (send(PEER, b + i, 1, MSG_NOSIGNAL) != 1)
            return NULL;
        if (i % 37 == 0)
            usleep(1000);
    }
    return arg;
}

Test(client_ext_counters, fragmented_reply)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, dribble, NULL), 0);
    int r = iouringd_get_daemon_counters(CL, &dc);
    int err = errno;
    pthread_join(t, NULL);
    cr_assert_eq(r, 0, "%s", strerror(err));
    expect_decoded(&dc);
}

Test(client_ext_counters, connection_stays_usable_for_get_stats)
{
    send_counters(256, 1);
    cr_assert_eq(iouringd_get_daemon_counters(CL, &dc), 0);
    unsigned char s[56] = {0};
    put(s, 9, 4);
    peer_send(s, sizeof(s));
    struct iouringd_stats_result st;
    cr_assert_eq(iouringd_get_stats(CL, &st), 0);
    cr_assert_eq(st.active_clients, 9);
    unsigned char got[32];
    cr_assert_eq(recv(PEER, got, sizeof(got), MSG_WAITALL), 32);
    cr_assert_arr_eq(got, request_bytes, 16);
    cr_assert_eq(got[16 + 8], 0x03); /* GET_STATS 259 */
    cr_assert_eq(got[16 + 9], 0x01);
}
