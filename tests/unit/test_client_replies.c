/* Client library, reply side: submit/resource/stats/trace decoding, completions
 * queued ahead of replies, payload rules, EOF, fragmented delivery and EINTR.
 * The fake daemon is the peer end of a socketpair; canned bytes are written before
 * the call, or by a thread where the order of arrival is the point of the test. */
#include <iouringd/client.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

static int sv[2] = {-1, -1};
#define CL sv[0]
#define PEER sv[1]

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

/* Reads and drops one request of `len` bytes the library sent. */
static void peer_skip(size_t len)
{
    unsigned char buf[64];
    cr_assert_leq(len, sizeof(buf));
    cr_assert_eq(recv(PEER, buf, len, MSG_WAITALL), (ssize_t)len);
}

/* Bytes the library has not consumed yet. */
static ssize_t client_unread(void)
{
    unsigned char buf[256];
    return recv(CL, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);
}

static void put(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static size_t submit_bytes(unsigned char *b, uint64_t id, int32_t res, uint32_t credits)
{
    put(b, id, 8);
    put(b + 8, (uint32_t)res, 4);
    put(b + 12, credits, 4);
    return 16;
}

static void send_submit(uint64_t id, int32_t res, uint32_t credits)
{
    unsigned char b[16];
    peer_send(b, submit_bytes(b, id, res, credits));
}

static void send_resource(uint32_t id, int32_t res, uint32_t avail, uint32_t reserved)
{
    unsigned char b[16];
    put(b, id, 4);
    put(b + 4, (uint32_t)res, 4);
    put(b + 8, avail, 4);
    put(b + 12, reserved, 4);
    peer_send(b, sizeof(b));
}

static size_t completion_bytes(unsigned char *b, uint64_t id, int32_t res, uint16_t kind,
                               const char *payload, uint16_t plen)
{
    memcpy(b, "IOD1\x01\x00\x0c\x00", 8);
    put(b + 8, id, 8);
    put(b + 16, (uint32_t)res, 4);
    put(b + 20, kind, 2);
    put(b + 22, plen, 2);
    if (plen)
        memcpy(b + 24, payload, plen);
    return 24u + plen;
}

static void send_completion(uint64_t id, int32_t res, uint16_t kind, const char *payload,
                            uint16_t plen)
{
    unsigned char b[24 + 64];
    cr_assert_leq(plen, 64);
    peer_send(b, completion_bytes(b, id, res, kind, payload, plen));
}

static uint64_t tid;
static uint32_t rid;
static struct iouringd_submit_result sres;
static struct iouringd_resource_result rres;

TestSuite(client_submit_reply, .init = pair_setup, .fini = pair_teardown);

Test(client_submit_reply, success_returns_id_and_result)
{
    send_submit(42, 0, 31);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), 0, "%s", strerror(errno));
    cr_assert_eq(tid, 42);
    send_submit(0xFFFFFFFFFFFFFFEFu, 0, 30); /* 2^64-17, the largest issuable id */
    cr_assert_eq(iouringd_submit_timeout_result(CL, 5, &sres), 0, "%s", strerror(errno));
    cr_assert_eq(sres.task_id, 0xFFFFFFFFFFFFFFEFu);
    cr_assert_eq(sres.res, 0);
    cr_assert_eq(sres.credits, 30);
}

Test(client_submit_reply, reject_sets_errno_fills_result_and_keeps_stream)
{
    send_submit(0, -EAGAIN, 0);
    tid = 12345;
    cr_assert_eq(iouringd_submit_nop(CL, &tid), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(tid, 12345, "short form writes the id only on success");
    send_submit(0, -ENOENT, 7);
    memset(&sres, 0xAA, sizeof(sres));
    cr_assert_eq(iouringd_submit_sock_read_result(CL, 9, 10, &sres), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(sres.task_id, 0);
    cr_assert_eq(sres.res, -ENOENT);
    cr_assert_eq(sres.credits, 7);
    send_submit(3, 0, 6);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), 0);
    cr_assert_eq(tid, 3);
}

Test(client_submit_reply, malformed_replies_are_eproto)
{
    static const struct {
        uint64_t id;
        int32_t res;
    } bad[] = {
        {0, 0},                       /* no id, no error */
        {5, -EAGAIN},                 /* an id with an error */
        {3, 1},                       /* positive res */
        {0xFFFFFFFFFFFFFFF0u, 0},     /* reserved id 2^64-16 */
        {0xFFFFFFFFFFFFFFFFu, 0},     /* reserved id 2^64-1 */
        {0, -5000},                   /* not an errno */
        {0, INT32_MIN},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        send_submit(bad[i].id, bad[i].res, 1);
        memset(&sres, 0, sizeof(sres));
        errno = 0;
        cr_assert_eq(iouringd_submit_nop_result(CL, &sres), -1, "case %zu", i);
        cr_assert_eq(errno, EPROTO, "case %zu: %s", i, strerror(errno));
        cr_assert_eq(sres.task_id, bad[i].id, "case %zu: result filled", i);
        send_submit(bad[i].id, bad[i].res, 1);
        cr_assert_eq(iouringd_submit_nop(CL, &tid), -1);
        cr_assert_eq(errno, EPROTO, "case %zu short form", i);
    }
}

Test(client_submit_reply, eof_before_reply_is_epipe)
{
    shutdown(PEER, SHUT_WR);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), -1);
    cr_assert_eq(errno, EPIPE);
}

Test(client_submit_reply, eof_inside_reply_is_epipe)
{
    unsigned char b[16];
    submit_bytes(b, 1, 0, 1);
    peer_send(b, 10);
    shutdown(PEER, SHUT_WR);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), -1);
    cr_assert_eq(errno, EPIPE);
}

Test(client_submit_reply, closed_peer_is_epipe_without_sigpipe)
{
    close(PEER);
    sv[1] = -1;
    cr_assert_eq(iouringd_submit_nop(CL, &tid), -1);
    cr_assert_eq(errno, EPIPE);
}

TestSuite(client_resource_reply, .init = pair_setup, .fini = pair_teardown);

Test(client_resource_reply, success_and_reject)
{
    send_resource(4, 0, 30, 0);
    cr_assert_eq(iouringd_register_buffer(CL, "a", 1, &rid), 0, "%s", strerror(errno));
    cr_assert_eq(rid, 4);
    send_resource(0, -EAGAIN, 0, 0);
    memset(&rres, 0xAA, sizeof(rres));
    cr_assert_eq(iouringd_register_buffer_result(CL, "a", 1, &rres), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(rres.resource_id, 0);
    cr_assert_eq(rres.res, -EAGAIN);
    cr_assert_eq(rres.resources_available, 0);
    send_resource(0, -ENOENT, 0, 0);
    rid = 99;
    cr_assert_eq(iouringd_release_resource(CL, 8, &rid), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(rid, 99);
    send_resource(8, 0, 32, 0);
    cr_assert_eq(iouringd_release_resource_result(CL, 8, &rres), 0);
    cr_assert_eq(rres.resource_id, 8);
    cr_assert_eq(rres.resources_available, 32);
}

Test(client_resource_reply, malformed_replies_are_eproto)
{
    static const struct {
        uint32_t id;
        int32_t res;
        uint32_t reserved;
    } bad[] = {
        {4, 0, 1}, {0, -EAGAIN, 1}, {4, -EAGAIN, 0}, {0, 0, 0}, {4, 2, 0}, {0, -4096, 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        send_resource(bad[i].id, bad[i].res, 1, bad[i].reserved);
        errno = 0;
        cr_assert_eq(iouringd_release_resource_result(CL, 1, &rres), -1, "case %zu", i);
        cr_assert_eq(errno, EPROTO, "case %zu: %s", i, strerror(errno));
        cr_assert_eq(rres.reserved, bad[i].reserved);
    }
}

Test(client_stats_reply, copied_unvalidated, .init = pair_setup, .fini = pair_teardown)
{
    unsigned char b[56];
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (unsigned char)(0xF0 - i);
    peer_send(b, sizeof(b));
    struct iouringd_stats_result s;
    cr_assert_eq(iouringd_get_stats(CL, &s), 0, "%s", strerror(errno));
    cr_assert_eq(s.active_clients, 0xEDEEEFF0u);
    cr_assert_eq(s.registered_buffers, 0xD9DADBDCu);
    cr_assert_eq(s.accepted_submits, 0xD1D2D3D4D5D6D7D8u);
    cr_assert_eq(s.clients_at_credit_limit, 0xB9BABBBCu);
    cr_assert_eq(memcmp(&s, b, sizeof(b)), 0);
}

/* ---- trace ---------------------------------------------------------------------- */

static size_t event_bytes(unsigned char *b, uint64_t seq, uint16_t kind, uint16_t task_kind,
                          uint16_t priority, uint32_t reserved1)
{
    memset(b, 0, 48);
    put(b, seq, 8);
    put(b + 8, 1000 + seq, 8);
    put(b + 16, 7, 8);       /* task_id */
    put(b + 24, 3, 4);       /* resource_id */
    put(b + 28, (uint32_t)-EAGAIN, 4);
    put(b + 32, 31, 4);      /* credits */
    put(b + 36, kind, 2);
    put(b + 38, task_kind, 2);
    put(b + 40, 2, 2);       /* client_slot */
    put(b + 42, priority, 2);
    put(b + 44, reserved1, 4);
    return 48;
}

static size_t trace_bytes(unsigned char *b, uint64_t oldest, uint64_t latest, uint32_t count,
                          uint32_t reserved)
{
    put(b, oldest, 8);
    put(b + 8, latest, 8);
    put(b + 16, count, 4);
    put(b + 20, reserved, 4);
    return 24;
}

static struct iouringd_trace_result tres;
static struct iouringd_trace_event ev[4];
static size_t count;

TestSuite(client_trace_reply, .init = pair_setup, .fini = pair_teardown);

Test(client_trace_reply, events_decoded)
{
    unsigned char b[24 + 2 * 48];
    size_t n = trace_bytes(b, 1, 9, 2, 0);
    n += event_bytes(b + n, 8, IOURINGD_TRACE_SUBMIT_REJECT, IOURINGD_TASK_SOCK_READ, 1, 0);
    n += event_bytes(b + n, 9, IOURINGD_TRACE_RESOURCE_RELEASE, 14, 2, 0);
    peer_send(b, n);
    cr_assert_eq(iouringd_get_trace(CL, 7, 4, &tres, ev, 4, &count), 0, "%s", strerror(errno));
    cr_assert_eq(tres.oldest_sequence, 1);
    cr_assert_eq(tres.latest_sequence, 9);
    cr_assert_eq(tres.count, 2);
    cr_assert_eq(count, 2);
    cr_assert_eq(ev[0].sequence, 8);
    cr_assert_eq(ev[0].timestamp_nsec, 1008);
    cr_assert_eq(ev[0].task_id, 7);
    cr_assert_eq(ev[0].resource_id, 3);
    cr_assert_eq(ev[0].res, -EAGAIN);
    cr_assert_eq(ev[0].credits, 31);
    cr_assert_eq(ev[0].event_kind, IOURINGD_TRACE_SUBMIT_REJECT);
    cr_assert_eq(ev[0].task_kind, IOURINGD_TASK_SOCK_READ);
    cr_assert_eq(ev[0].client_slot, 2);
    cr_assert_eq(ev[0].priority, 1);
    cr_assert_eq(ev[1].sequence, 9);
    cr_assert_eq(client_unread(), -1, "nothing left unread");
}

Test(client_trace_reply, empty_trace)
{
    unsigned char b[24];
    peer_send(b, trace_bytes(b, 0, 0, 0, 0));
    count = 99;
    cr_assert_eq(iouringd_get_trace_result(CL, 0, 0, &tres, NULL, 0, &count), 0);
    cr_assert_eq(count, 0);
}

Test(client_trace_reply, reserved_is_eproto)
{
    unsigned char b[24];
    peer_send(b, trace_bytes(b, 1, 1, 0, 1));
    cr_assert_eq(iouringd_get_trace(CL, 0, 4, &tres, ev, 4, &count), -1);
    cr_assert_eq(errno, EPROTO);
    cr_assert_eq(tres.reserved, 1);
}

Test(client_trace_reply, overflow_consumes_events_and_next_reply_decodes)
{
    unsigned char b[24 + 3 * 48];
    size_t n = trace_bytes(b, 1, 3, 3, 0);
    for (uint64_t s = 1; s <= 3; s++)
        n += event_bytes(b + n, s, IOURINGD_TRACE_COMPLETION, 1, 0, 0);
    peer_send(b, n);
    send_submit(17, 0, 5);
    memset(ev, 0xAB, sizeof(ev));
    count = 99;
    cr_assert_eq(iouringd_get_trace(CL, 0, 2, &tres, ev, 2, &count), -1);
    cr_assert_eq(errno, EOVERFLOW);
    cr_assert_eq(tres.count, 3);
    cr_assert_eq(count, 0);
    cr_assert_eq(ev[0].sequence, 0xABABABABABABABABu, "events untouched");
    cr_assert_eq(iouringd_submit_nop(CL, &tid), 0, "%s", strerror(errno));
    cr_assert_eq(tid, 17);
}

Test(client_trace_reply, events_with_null_array_overflow_and_are_consumed)
{
    unsigned char b[24 + 48];
    size_t n = trace_bytes(b, 1, 1, 1, 0);
    n += event_bytes(b + n, 1, IOURINGD_TRACE_COMPLETION, 1, 0, 0);
    peer_send(b, n);
    peer_send(b, n);
    send_submit(18, 0, 5);
    cr_assert_eq(iouringd_get_trace(CL, 0, 0, &tres, NULL, 0, &count), -1);
    cr_assert_eq(errno, EOVERFLOW);
    cr_assert_eq(iouringd_get_trace(CL, 0, 1, &tres, NULL, 1, &count), -1);
    cr_assert_eq(errno, EOVERFLOW);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), 0, "%s", strerror(errno));
    cr_assert_eq(tid, 18);
}

Test(client_trace_reply, invalid_events_are_eproto_after_consuming_all)
{
    static const struct {
        uint16_t kind, task_kind, priority;
        uint32_t reserved1;
    } bad[] = {{0, 1, 0, 0}, {6, 1, 0, 0}, {3, 15, 0, 0}, {3, 1, 3, 0}, {3, 1, 0, 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char b[24 + 2 * 48];
        size_t n = trace_bytes(b, 1, 2, 2, 0);
        n += event_bytes(b + n, 1, bad[i].kind, bad[i].task_kind, bad[i].priority,
                         bad[i].reserved1);
        n += event_bytes(b + n, 2, IOURINGD_TRACE_COMPLETION, 1, 0, 0);
        peer_send(b, n);
        send_submit(i + 1, 0, 5);
        errno = 0;
        cr_assert_eq(iouringd_get_trace(CL, 0, 4, &tres, ev, 4, &count), -1, "case %zu", i);
        cr_assert_eq(errno, EPROTO, "case %zu: %s", i, strerror(errno));
        cr_assert_eq(iouringd_submit_nop(CL, &tid), 0, "case %zu: %s", i, strerror(errno));
        cr_assert_eq(tid, i + 1);
    }
}

Test(client_trace_reply, truncated_events_are_epipe)
{
    unsigned char b[24 + 48];
    size_t n = trace_bytes(b, 1, 1, 1, 0);
    n += event_bytes(b + n, 1, IOURINGD_TRACE_COMPLETION, 1, 0, 0);
    peer_send(b, n - 1);
    shutdown(PEER, SHUT_WR);
    cr_assert_eq(iouringd_get_trace(CL, 0, 1, &tres, ev, 1, &count), -1);
    cr_assert_eq(errno, EPIPE);
}

/* ---- completions ------------------------------------------------------------------ */

static struct iouringd_client_completion comp;

static void expect_completion(uint64_t id, int32_t res, uint16_t kind, uint16_t plen)
{
    errno = 0;
    cr_assert_eq(iouringd_wait_completion(CL, &comp), 0, "task %llu: %s",
                 (unsigned long long)id, strerror(errno));
    cr_assert_eq(comp.record.header.magic, IOURINGD_WIRE_MAGIC);
    cr_assert_eq(comp.record.task_id, id);
    cr_assert_eq(comp.record.res, res);
    cr_assert_eq(comp.record.task_kind, kind);
    cr_assert_eq(comp.record.payload_length, plen);
}

static void expect_payload(const char *want, size_t n)
{
    char buf[64];
    size_t len = 999;
    cr_assert_eq(iouringd_read_completion_payload(CL, &comp, buf, sizeof(buf), &len), 0, "%s",
                 strerror(errno));
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(buf, want, n), 0);
    cr_assert_eq(comp.payload_handle, 0);
}

TestSuite(client_completion, .init = pair_setup, .fini = pair_teardown);

Test(client_completion, queued_before_replies_and_returned_in_order)
{
    send_completion(1, 0, IOURINGD_TASK_NOP, NULL, 0);
    send_completion(2, 5, IOURINGD_TASK_SOCK_READ, "hello", 5);
    send_submit(3, 0, 30);
    send_completion(3, -ETIME, IOURINGD_TASK_TIMEOUT, NULL, 0);
    send_completion(4, 2, IOURINGD_TASK_FILE_READ, "hi", 2);
    send_resource(6, 0, 0, 0);
    cr_assert_eq(iouringd_submit_timeout(CL, 1, &tid), 0, "%s", strerror(errno));
    cr_assert_eq(tid, 3);
    cr_assert_eq(iouringd_register_buffer(CL, NULL, 0, &rid), 0, "%s", strerror(errno));
    cr_assert_eq(rid, 6);
    cr_assert_eq(client_unread(), -1, "everything was read");
    peer_skip(24);
    peer_skip(24);
    expect_completion(1, 0, IOURINGD_TASK_NOP, 0);
    expect_completion(2, 5, IOURINGD_TASK_SOCK_READ, 5);
    struct iouringd_client_completion second = comp;
    expect_completion(3, -ETIME, IOURINGD_TASK_TIMEOUT, 0);
    expect_completion(4, 2, IOURINGD_TASK_FILE_READ, 2);
    expect_payload("hi", 2);
    comp = second;
    expect_payload("hello", 5);
    /* the queue is empty: the next one comes from the socket */
    send_completion(5, 0, IOURINGD_TASK_CLOSE, NULL, 0);
    expect_completion(5, 0, IOURINGD_TASK_CLOSE, 0);
}

Test(client_completion, queued_before_every_reply_kind)
{
    unsigned char b[56] = {0};
    send_completion(1, 0, IOURINGD_TASK_NOP, NULL, 0);
    peer_send(b, 56); /* stats */
    send_completion(2, 0, IOURINGD_TASK_NOP, NULL, 0);
    peer_send(b, trace_bytes(b, 0, 0, 0, 0));
    send_completion(3, 0, IOURINGD_TASK_NOP, NULL, 0);
    send_resource(1, 0, 0, 0);
    struct iouringd_stats_result s;
    cr_assert_eq(iouringd_get_stats(CL, &s), 0);
    cr_assert_eq(iouringd_get_trace(CL, 0, 0, &tres, NULL, 0, &count), 0);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(iouringd_register_fd(CL, p[0], &rid), 0, "%s", strerror(errno));
    close(p[0]);
    close(p[1]);
    expect_completion(1, 0, IOURINGD_TASK_NOP, 0);
    expect_completion(2, 0, IOURINGD_TASK_NOP, 0);
    expect_completion(3, 0, IOURINGD_TASK_NOP, 0);
}

Test(client_completion, queues_are_per_fd)
{
    int other[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
    send_completion(1, 0, IOURINGD_TASK_NOP, NULL, 0);
    send_submit(2, 0, 1);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), 0);
    unsigned char b[24];
    cr_assert_eq(send(other[1], b, completion_bytes(b, 9, 0, IOURINGD_TASK_POLL, NULL, 0), 0),
                 24);
    cr_assert_eq(iouringd_wait_completion(other[0], &comp), 0, "%s", strerror(errno));
    cr_assert_eq(comp.record.task_id, 9, "another fd's queue was used");
    expect_completion(1, 0, IOURINGD_TASK_NOP, 0);
    iouringd_client_close(other[0]);
    close(other[1]);
}

Test(client_completion, next_bytes_not_a_completion_is_eproto_and_not_consumed)
{
    send_submit(1, 0, 1);
    cr_assert_eq(iouringd_wait_completion(CL, &comp), -1);
    cr_assert_eq(errno, EPROTO);
    cr_assert_eq(client_unread(), 16);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), 0, "the reply is still readable");
    cr_assert_eq(tid, 1);
}

Test(client_completion, eof_is_epipe)
{
    shutdown(PEER, SHUT_WR);
    cr_assert_eq(iouringd_wait_completion(CL, &comp), -1);
    cr_assert_eq(errno, EPIPE);
}

Test(client_completion, truncated_payload_is_epipe)
{
    unsigned char b[24 + 5];
    size_t n = completion_bytes(b, 1, 5, IOURINGD_TASK_SOCK_READ, "hello", 5);
    peer_send(b, n - 2);
    shutdown(PEER, SHUT_WR);
    cr_assert_eq(iouringd_wait_completion(CL, &comp), -1);
    cr_assert_eq(errno, EPIPE);
}

Test(client_completion, fewer_than_8_bytes_then_eof_is_epipe)
{
    peer_send("IOD", 3);
    shutdown(PEER, SHUT_WR);
    cr_assert_eq(iouringd_wait_completion(CL, &comp), -1);
    cr_assert_eq(errno, EPIPE);
}

struct wf_case {
    const char *what;
    uint64_t id;
    int32_t res;
    uint16_t kind, plen;
    int ok;
};

static const struct wf_case wf_cases[] = {
    {"task id 0", 0, 0, 1, 0, 0},
    {"reserved task id", 0xFFFFFFFFFFFFFFF0u, 0, 1, 0, 0},
    {"largest issuable id", 0xFFFFFFFFFFFFFFEFu, 0, 1, 0, 1},
    {"kind 0", 1, 0, 0, 0, 0},
    {"kind 15", 1, 0, 15, 0, 0},
    {"kind 256", 1, 0, 256, 0, 0},
    {"read error with payload", 1, -5, IOURINGD_TASK_SOCK_READ, 3, 0},
    {"read payload shorter than res", 1, 3, IOURINGD_TASK_SOCK_READ, 2, 0},
    {"read payload longer than res", 1, 2, IOURINGD_TASK_FILE_READ, 3, 0},
    {"read EOF with payload", 1, 0, IOURINGD_TASK_FILE_READ, 1, 0},
    {"fixed read payload != res", 1, 2, IOURINGD_TASK_SOCK_READ_FIXED, 3, 0},
    {"read EOF", 1, 0, IOURINGD_TASK_SOCK_READ, 0, 1},
    {"read error", 1, -104, IOURINGD_TASK_SOCK_READ, 0, 1},
    {"read 3", 1, 3, IOURINGD_TASK_SOCK_READ_FIXED, 3, 1},
    {"accept res 0", 1, 0, IOURINGD_TASK_ACCEPT, 0, 0},
    {"accept error with payload", 1, -71, IOURINGD_TASK_ACCEPT, 2, 0},
    {"accept without address", 1, 3, IOURINGD_TASK_ACCEPT, 0, 1},
    {"accept with address", 1, 3, IOURINGD_TASK_ACCEPT, 2, 1},
    {"accept error", 1, -71, IOURINGD_TASK_ACCEPT, 0, 1},
    {"nop with payload", 1, 0, IOURINGD_TASK_NOP, 1, 0},
    {"write with payload", 1, 3, IOURINGD_TASK_SOCK_WRITE, 3, 0},
    {"cancel with payload", 1, 0, IOURINGD_TASK_CANCEL, 1, 0},
    {"openat with payload", 1, 1, IOURINGD_TASK_OPENAT, 1, 0},
    {"close with payload", 1, 0, IOURINGD_TASK_CLOSE, 1, 0},
    {"nop error", 1, -125, IOURINGD_TASK_NOP, 0, 1},
    {"poll mask", 1, 5, IOURINGD_TASK_POLL, 0, 1},
};

static void check_well_formedness(int via_reply)
{
    pair_teardown(); /* each case gets a fresh pair */
    for (size_t i = 0; i < sizeof(wf_cases) / sizeof(wf_cases[0]); i++) {
        const struct wf_case *c = &wf_cases[i];
        pair_setup();
        send_completion(c->id, c->res, c->kind, "abc", c->plen);
        errno = 0;
        int rc;
        if (via_reply) {
            send_submit(7, 0, 1);
            rc = iouringd_submit_nop(CL, &tid);
        } else {
            rc = iouringd_wait_completion(CL, &comp);
        }
        if (c->ok) {
            cr_assert_eq(rc, 0, "%s: %s", c->what, strerror(errno));
        } else {
            cr_assert_eq(rc, -1, "%s accepted", c->what);
            cr_assert_eq(errno, EPROTO, "%s: %s", c->what, strerror(errno));
        }
        if (i + 1 < sizeof(wf_cases) / sizeof(wf_cases[0]))
            pair_teardown();
    }
}

Test(client_completion, well_formedness_in_wait)
{
    check_well_formedness(0);
}

Test(client_completion, well_formedness_before_a_reply)
{
    check_well_formedness(1);
}

Test(client_completion, wrong_version_is_eproto)
{
    unsigned char b[24];
    completion_bytes(b, 1, 0, 1, NULL, 0);
    b[6] = 11; /* 1.11: not a 1.12 completion */
    peer_send(b, sizeof(b));
    cr_assert_eq(iouringd_wait_completion(CL, &comp), -1);
    cr_assert_eq(errno, EPROTO);
}

/* ---- payload rules ----------------------------------------------------------------- */

TestSuite(client_payload, .init = pair_setup, .fini = pair_teardown);

Test(client_payload, rules)
{
    char buf[8];
    size_t len;
    send_completion(1, 5, IOURINGD_TASK_SOCK_READ, "hello", 5);
    expect_completion(1, 5, IOURINGD_TASK_SOCK_READ, 5);
    cr_assert_neq(comp.payload_handle, 0);
    cr_assert_eq(iouringd_read_completion_payload(CL, &comp, NULL, 8, &len), -1);
    cr_assert_eq(errno, EMSGSIZE);
    cr_assert_eq(iouringd_read_completion_payload(CL, &comp, buf, 4, &len), -1);
    cr_assert_eq(errno, EMSGSIZE);
    struct iouringd_client_completion copy = comp;
    cr_assert_eq(iouringd_read_completion_payload(CL, &comp, buf, 5, &len), 0, "kept after EMSGSIZE");
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    cr_assert_eq(iouringd_read_completion_payload(CL, &copy, buf, 8, &len), -1);
    cr_assert_eq(errno, EPROTO, "forgotten after the copy");
    cr_assert_eq(iouringd_read_completion_payload(CL, &comp, buf, 8, &len), -1);
    cr_assert_eq(errno, EPROTO);
}

Test(client_payload, empty_payload_is_length_0)
{
    size_t len = 99;
    send_completion(1, 0, IOURINGD_TASK_FILE_READ, NULL, 0);
    expect_completion(1, 0, IOURINGD_TASK_FILE_READ, 0);
    cr_assert_eq(iouringd_read_completion_payload(CL, &comp, NULL, 0, &len), 0);
    cr_assert_eq(len, 0);
}

Test(client_payload, accept_and_fixed_payloads)
{
    send_completion(1, 4, IOURINGD_TASK_ACCEPT, "\x01\x00", 2);
    send_completion(2, 3, IOURINGD_TASK_SOCK_READ_FIXED, "xyz", 3);
    expect_completion(1, 4, IOURINGD_TASK_ACCEPT, 2);
    struct iouringd_client_completion first = comp;
    expect_completion(2, 3, IOURINGD_TASK_SOCK_READ_FIXED, 3);
    expect_payload("xyz", 3);
    comp = first;
    expect_payload("\x01\x00", 2);
}

Test(client_payload, forged_or_foreign_handles_are_eproto)
{
    char buf[8];
    size_t len;
    struct iouringd_client_completion forged;
    memset(&forged, 0, sizeof(forged));
    forged.record.task_kind = IOURINGD_TASK_SOCK_READ;
    forged.record.payload_length = 3;
    cr_assert_eq(iouringd_read_completion_payload(CL, &forged, buf, 8, &len), -1);
    cr_assert_eq(errno, EPROTO);
    send_completion(1, 5, IOURINGD_TASK_SOCK_READ, "hello", 5);
    expect_completion(1, 5, IOURINGD_TASK_SOCK_READ, 5);
    forged.payload_handle = comp.payload_handle; /* right handle, wrong length */
    cr_assert_eq(iouringd_read_completion_payload(CL, &forged, buf, 8, &len), -1);
    cr_assert_eq(errno, EPROTO);
    int other[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
    cr_assert_eq(iouringd_read_completion_payload(other[0], &comp, buf, 8, &len), -1);
    cr_assert_eq(errno, EPROTO, "payloads belong to their fd");
    close(other[0]);
    close(other[1]);
    expect_payload("hello", 5);
}

Test(client_payload, discard_forgets)
{
    char buf[8];
    size_t len;
    send_completion(1, 5, IOURINGD_TASK_SOCK_READ, "hello", 5);
    expect_completion(1, 5, IOURINGD_TASK_SOCK_READ, 5);
    struct iouringd_client_completion copy = comp;
    cr_assert_eq(iouringd_discard_completion_payload(CL, &comp), 0);
    cr_assert_eq(comp.payload_handle, 0);
    cr_assert_eq(iouringd_read_completion_payload(CL, &copy, buf, 8, &len), -1);
    cr_assert_eq(errno, EPROTO);
    cr_assert_eq(iouringd_discard_completion_payload(CL, &copy), 0, "nothing to do");
}

/* ---- forget / close ------------------------------------------------------------------- */

Test(client_state, close_frees_queue_and_closes, .init = pair_setup)
{
    send_completion(1, 5, IOURINGD_TASK_SOCK_READ, "hello", 5);
    send_completion(2, 0, IOURINGD_TASK_NOP, NULL, 0);
    send_submit(3, 0, 1);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), 0);
    expect_completion(1, 5, IOURINGD_TASK_SOCK_READ, 5); /* payload left unread */
    int fd = CL, fresh[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fresh), 0);
    cr_assert_eq(iouringd_client_close(fd), 0);
    cr_assert_eq(fcntl(fd, F_GETFD), -1);
    cr_assert_eq(errno, EBADF);
    /* a new connection under the same number sees none of the old state */
    cr_assert_eq(dup2(fresh[0], fd), fd);
    close(fresh[0]);
    unsigned char b[24];
    cr_assert_eq(send(fresh[1], b, completion_bytes(b, 9, 0, IOURINGD_TASK_NOP, NULL, 0), 0), 24);
    cr_assert_eq(iouringd_wait_completion(fd, &comp), 0);
    cr_assert_eq(comp.record.task_id, 9, "stale completion returned");
    char buf[8];
    size_t len;
    comp.record.task_kind = IOURINGD_TASK_SOCK_READ;
    comp.record.payload_length = 5;
    comp.payload_handle = 1;
    cr_assert_eq(iouringd_read_completion_payload(fd, &comp, buf, 8, &len), -1);
    cr_assert_eq(errno, EPROTO, "stale payload still stored");
    iouringd_client_close(fd);
    close(fresh[1]);
    close(PEER);
}

Test(client_state, handshake_discards_old_state, .init = pair_setup, .fini = pair_teardown)
{
    send_completion(1, 0, IOURINGD_TASK_NOP, NULL, 0);
    send_submit(2, 0, 1);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), 0);
    unsigned char hs[52] = {0};
    memcpy(hs, "IOD1\x01\x00\x0c\x00\x01\x00\x0c\x00", 12);
    put(hs + 16, 36, 4);
    put(hs + 24, 2, 4);
    put(hs + 28, 4, 4);
    put(hs + 32, 1, 4);
    put(hs + 36, 1, 4);
    put(hs + 40, 1, 4);
    put(hs + 48, 1, 4);
    peer_send(hs, sizeof(hs));
    struct iouringd_handshake_result r;
    cr_assert_eq(iouringd_client_handshake_fd(CL, &r), 0, "%s", strerror(errno));
    send_completion(5, 0, IOURINGD_TASK_NOP, NULL, 0);
    expect_completion(5, 0, IOURINGD_TASK_NOP, 0);
}

/* ---- arrival in pieces ------------------------------------------------------------------ */

struct feeder {
    const unsigned char *bytes;
    size_t len, first; /* `first` bytes are sent before the request is read */
    size_t request;    /* request size to read first (0 = none) */
    int wait_consumed; /* then wait until the library consumed the first piece */
    int bytewise;      /* send the rest one byte at a time */
};

static void *feed(void *arg)
{
    struct feeder *f = arg;
    unsigned char req[64];
    if (f->first && send(PEER, f->bytes, f->first, MSG_NOSIGNAL) != (ssize_t)f->first)
        return (void *)1;
    if (f->request && recv(PEER, req, f->request, MSG_WAITALL) != (ssize_t)f->request)
        return (void *)1;
    if (f->wait_consumed) {
        /* SIOCOUTQ counts what we sent that the receiver has not consumed: once it
         * is 0, the library has read the piece (not merely peeked at it). */
        int queued = 1;
        while (queued > 0) {
            if (ioctl(PEER, SIOCOUTQ, &queued) < 0)
                return (void *)1;
            sched_yield();
        }
    }
    for (size_t i = f->first; i < f->len;) {
        size_t n = f->bytewise ? 1 : f->len - i;
        if (send(PEER, f->bytes + i, n, MSG_NOSIGNAL) != (ssize_t)n)
            return (void *)1;
        i += n;
        sched_yield();
    }
    return NULL;
}

static size_t stream_c1_reply_c2(unsigned char *b)
{
    size_t n = completion_bytes(b, 1, 5, IOURINGD_TASK_SOCK_READ, "hello", 5);
    n += submit_bytes(b + n, 2, 0, 1);
    n += completion_bytes(b + n, 2, 0, IOURINGD_TASK_NOP, NULL, 0);
    return n;
}

static void run_fed(struct feeder *f)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, feed, f), 0);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), 0, "%s", strerror(errno));
    cr_assert_eq(tid, 2);
    expect_completion(1, 5, IOURINGD_TASK_SOCK_READ, 5);
    expect_payload("hello", 5);
    expect_completion(2, 0, IOURINGD_TASK_NOP, 0);
    void *bad;
    pthread_join(t, &bad);
    cr_assert_null(bad);
}

TestSuite(client_fragmented, .init = pair_setup, .fini = pair_teardown, .timeout = 20);

Test(client_fragmented, byte_by_byte)
{
    unsigned char b[128];
    struct feeder f = {.bytes = b, .len = stream_c1_reply_c2(b), .request = 16, .bytewise = 1};
    run_fed(&f);
}

Test(client_fragmented, completion_header_split_below_8_bytes)
{
    unsigned char b[128];
    struct feeder f = {.bytes = b, .len = stream_c1_reply_c2(b), .first = 3, .request = 16,
                       .wait_consumed = 1};
    run_fed(&f);
}

Test(client_fragmented, reply_split_below_8_bytes)
{
    unsigned char b[64];
    size_t n = submit_bytes(b, 2, 0, 1);
    n += completion_bytes(b + n, 1, 5, IOURINGD_TASK_SOCK_READ, "hello", 5);
    struct feeder f = {.bytes = b, .len = n, .first = 5, .request = 16, .wait_consumed = 1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, feed, &f), 0);
    cr_assert_eq(iouringd_submit_nop(CL, &tid), 0, "%s", strerror(errno));
    cr_assert_eq(tid, 2);
    expect_completion(1, 5, IOURINGD_TASK_SOCK_READ, 5);
    expect_payload("hello", 5);
    void *bad;
    pthread_join(t, &bad);
    cr_assert_null(bad);
}

Test(client_fragmented, wait_with_header_split_below_8_bytes)
{
    unsigned char b[64];
    size_t n = completion_bytes(b, 4, 2, IOURINGD_TASK_FILE_READ, "ok", 2);
    struct feeder f = {.bytes = b, .len = n, .first = 6, .wait_consumed = 1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, feed, &f), 0);
    expect_completion(4, 2, IOURINGD_TASK_FILE_READ, 2);
    expect_payload("ok", 2);
    void *bad;
    pthread_join(t, &bad);
    cr_assert_null(bad);
}

/* ---- EINTR ---------------------------------------------------------------------------- */

static atomic_int signals_seen;

static void on_signal(int sig)
{
    (void)sig;
    atomic_fetch_add(&signals_seen, 1);
}

struct interrupter {
    pthread_t target;
    atomic_int done;
};

static void *interrupt_then_reply(void *arg)
{
    struct interrupter *in = arg;
    unsigned char req[16], b[16];
    if (recv(PEER, req, sizeof(req), MSG_WAITALL) != 16)
        return (void *)1;
    /* the library is now (or soon) blocked reading the reply */
    for (int i = 0; i < 2000 && !atomic_load(&in->done); i++) {
        pthread_kill(in->target, SIGUSR1);
        sched_yield();
    }
    if (send(PEER, b, submit_bytes(b, 11, 0, 1), MSG_NOSIGNAL) != 16)
        return (void *)1;
    return NULL;
}

Test(client_eintr, interrupted_reads_are_retried, .init = pair_setup, .fini = pair_teardown)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: recv fails with EINTR */
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    struct interrupter in = {.target = pthread_self()};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, interrupt_then_reply, &in), 0);
    int rc = iouringd_submit_nop(CL, &tid);
    int err = errno;
    atomic_store(&in.done, 1);
    void *bad;
    pthread_join(t, &bad);
    cr_assert_null(bad);
    cr_assert_eq(rc, 0, "%s", strerror(err));
    cr_assert_eq(tid, 11);
    cr_assert_gt(atomic_load(&signals_seen), 0);
}
