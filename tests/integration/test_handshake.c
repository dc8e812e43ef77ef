/* Handshake (§3): ACCEPT with the derived capabilities (§1.4, §6), every REJECT case,
 * and the silent outcomes (EOF inside the handshake, a descriptor with it, §2.4). */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../helpers/harness.h"

TestSuite(handshake, .fini = h_cleanup, .timeout = 20);

static void check_accept(const struct iouringd_handshake_result *r)
{
    cr_assert_eq(r->response.header.magic, IOURINGD_WIRE_MAGIC);
    cr_assert_eq(r->response.header.version_major, 1);
    cr_assert_eq(r->response.header.version_minor, 12);
    cr_assert_eq(r->response.abi_major, 1);
    cr_assert_eq(r->response.abi_minor, 12);
    cr_assert_eq(r->response.status, IOURINGD_HANDSHAKE_ACCEPT);
    cr_assert_eq(r->response.reserved, 0);
}

static void check_caps(const struct iouringd_capability_descriptor *c, uint32_t s, uint32_t credits,
                       uint32_t fds, uint32_t bufs, uint32_t io_max)
{
    cr_assert_eq(c->struct_size, 36, "struct_size %u", c->struct_size);
    cr_assert_eq(c->ring_entries, s, "ring_entries %u, want S=%u", c->ring_entries, s);
    cr_assert_eq(c->cq_entries, 2 * s, "cq_entries %u, want %u", c->cq_entries, 2 * s);
    cr_assert_neq(c->op_mask, 0);
    cr_assert_eq(c->op_mask & ~IOURINGD_OP_MASK_V1, 0, "op_mask 0x%x outside 0xFFF", c->op_mask);
    cr_assert_eq(c->op_mask & (IOURINGD_OP_NOP | IOURINGD_OP_TIMEOUT | IOURINGD_OP_ASYNC_CANCEL),
                 IOURINGD_OP_NOP | IOURINGD_OP_TIMEOUT | IOURINGD_OP_ASYNC_CANCEL,
                 "op_mask 0x%x lacks NOP/TIMEOUT/ASYNC_CANCEL", c->op_mask);
    cr_assert_eq(c->submit_credits, credits, "submit_credits %u, want C=%u", c->submit_credits,
                 credits);
    cr_assert_eq(c->registered_fd_slots, fds);
    cr_assert_eq(c->registered_buffer_slots, bufs);
    cr_assert_eq(c->io_bytes_max, io_max);
}

static void accept_case(const char *const *opts, uint32_t s, uint32_t credits, uint32_t fds,
                        uint32_t bufs, uint32_t io_max)
{
    struct h_daemon *d = h_start_argv(NULL, opts);
    struct h_conn *c = h_connect(d);
    struct iouringd_handshake_request req = h_hs_request();
    struct iouringd_handshake_result res;
    cr_assert_eq(h_handshake_raw(c, &req, &res), 0);
    check_accept(&res);
    check_caps(&res.capabilities, s, credits, fds, bufs, io_max);
    /* Exactly 52 bytes: nothing else follows an idle handshake. */
    cr_assert(h_quiet(c->fd, H_QUIET_MS), "bytes after the handshake result");
}

Test(handshake, accept_defaults)
{
    const char *opts[] = {NULL};
    accept_case(opts, 64, 32, 32, 1, 4096);
}

Test(handshake, accept_ring_entries_2)
{
    const char *opts[] = {"--ring-entries", "2", NULL};
    accept_case(opts, 2, 1, 32, 1, 4096);
}

Test(handshake, accept_ring8_credits2)
{
    const char *opts[] = {"--ring-entries", "8", "--per-client-credits", "2", NULL};
    accept_case(opts, 4, 2, 32, 1, 4096);
}

Test(handshake, accept_credits_clamped_to_ring)
{
    /* C = min(100, 16 - 1) = 15, S = 16. */
    const char *opts[] = {"--per-client-credits", "100", "--ring-entries", "16", NULL};
    accept_case(opts, 16, 15, 32, 1, 4096);
}

Test(handshake, accept_reports_resource_options)
{
    const char *opts[] = {"--registered-fds", "5", "--registered-buffers", "3",
                          "--io-bytes-max", "1000", NULL};
    accept_case(opts, 64, 32, 5, 3, 1000);
}

Test(handshake, two_clients_get_the_same_grant)
{
    struct h_daemon *d = h_start("--ring-entries", "8", "--per-client-credits", "2", NULL);
    struct iouringd_capability_descriptor a, b;
    h_client(d, &a);
    h_client(d, &b);
    check_caps(&a, 4, 2, 32, 1, 4096);
    check_caps(&b, 4, 2, 32, 1, 4096);
}

/* §3: REJECT is 52 bytes, header and ABI always 1.12, status 1, caps zero, then EOF. */
static void expect_reject(struct h_daemon *d, const struct iouringd_handshake_request *req,
                          const char *what)
{
    struct h_conn *c = h_connect(d);
    struct iouringd_handshake_result res;
    memset(&res, 0xAA, sizeof res);
    int rc = h_handshake_raw(c, req, &res);
    cr_assert_eq(rc, 0, "%s: no 52-byte handshake result (%s)", what, strerror(-rc));
    cr_assert_eq(res.response.header.magic, IOURINGD_WIRE_MAGIC, "%s: magic", what);
    cr_assert_eq(res.response.header.version_major, 1, "%s: version_major", what);
    cr_assert_eq(res.response.header.version_minor, 12, "%s: version_minor", what);
    cr_assert_eq(res.response.abi_major, 1, "%s: abi_major", what);
    cr_assert_eq(res.response.abi_minor, 12, "%s: abi_minor", what);
    cr_assert_eq(res.response.status, IOURINGD_HANDSHAKE_REJECT, "%s: status %u", what,
                 res.response.status);
    cr_assert_eq(res.response.reserved, 0, "%s: reserved", what);
    static const uint8_t zero[36];
    cr_assert(memcmp(&res.capabilities, zero, sizeof zero) == 0,
              "%s: capability bytes not zero on REJECT", what);
    cr_assert_eq(h_expect_eof(c->fd, H_TIMEOUT_MS), 0, "%s: no EOF after REJECT", what);
    h_close(c);
}

static void reject_case(void (*mutate)(struct iouringd_handshake_request *), const char *what)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_handshake_request req = h_hs_request();
    mutate(&req);
    expect_reject(d, &req, what);
    /* The daemon and later clients are unaffected. */
    struct h_conn *c = h_connect(d);
    h_handshake(c);
}

static void bad_magic(struct iouringd_handshake_request *r)
{
    r->header.magic = 0x31444F48u;
}
static void version_major_2(struct iouringd_handshake_request *r)
{
    r->header.version_major = 2;
}
static void version_major_0(struct iouringd_handshake_request *r)
{
    r->header.version_major = 0;
}
static void version_minor_11(struct iouringd_handshake_request *r)
{
    r->header.version_minor = 11;
}
static void version_minor_13(struct iouringd_handshake_request *r)
{
    r->header.version_minor = 13;
}
static void abi_major_2(struct iouringd_handshake_request *r)
{
    r->abi_major = 2;
}
static void abi_minor_11(struct iouringd_handshake_request *r)
{
    r->abi_minor = 11;
}
static void abi_minor_13(struct iouringd_handshake_request *r)
{
    r->abi_minor = 13;
}
static void reserved_1(struct iouringd_handshake_request *r)
{
    r->reserved = 1;
}
static void reserved_high(struct iouringd_handshake_request *r)
{
    r->reserved = 0x80000000u;
}

Test(handshake, reject_bad_magic) { reject_case(bad_magic, "bad magic"); }
Test(handshake, reject_version_major_2) { reject_case(version_major_2, "version_major 2"); }
Test(handshake, reject_version_major_0) { reject_case(version_major_0, "version_major 0"); }
Test(handshake, reject_version_minor_11) { reject_case(version_minor_11, "version_minor 11"); }
Test(handshake, reject_version_minor_13) { reject_case(version_minor_13, "version_minor 13"); }
Test(handshake, reject_abi_major_2) { reject_case(abi_major_2, "abi_major 2"); }
Test(handshake, reject_abi_minor_11) { reject_case(abi_minor_11, "abi_minor 11"); }
Test(handshake, reject_abi_minor_13) { reject_case(abi_minor_13, "abi_minor 13"); }
Test(handshake, reject_reserved_1) { reject_case(reserved_1, "reserved 1"); }
Test(handshake, reject_reserved_high_bit) { reject_case(reserved_high, "reserved 0x80000000"); }

Test(handshake, reject_then_write_gets_epipe)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_handshake_request req = h_hs_request();
    req.abi_minor = 11;
    expect_reject(d, &req, "abi_minor 11");
    /* A fresh connection, rejected again, then the client writes: EPIPE (or a reset). */
    struct h_conn *c = h_connect(d);
    struct iouringd_handshake_result res;
    cr_assert_eq(h_handshake_raw(c, &req, &res), 0);
    cr_assert_eq(res.response.status, IOURINGD_HANDSHAKE_REJECT);
    cr_assert_eq(h_expect_eof(c->fd, H_TIMEOUT_MS), 0);
    struct iouringd_request_header nop = h_nop();
    int rc = h_write_all(c->fd, &nop, sizeof nop, H_TIMEOUT_MS);
    cr_assert(rc == -EPIPE || rc == -ECONNRESET, "write after REJECT: %s", strerror(-rc));
}

Test(handshake, eof_inside_handshake_is_silent)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_connect(d);
    struct iouringd_handshake_request req = h_hs_request();
    h_send(c, &req, 8);
    cr_assert(h_quiet(c->fd, H_QUIET_MS), "reply to half a handshake");
    cr_assert_eq(shutdown(c->fd, SHUT_WR), 0);
    cr_assert_eq(h_expect_eof(c->fd, H_TIMEOUT_MS), 0, "want EOF and no bytes");
    /* An immediate close without any byte is silent too; the daemon keeps serving. */
    struct h_conn *e = h_connect(d);
    h_close(e);
    h_handshake(h_connect(d));
}

Test(handshake, fragmented_handshake_is_accepted)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_connect(d);
    struct iouringd_handshake_request req = h_hs_request();
    const uint8_t *p = (const uint8_t *)&req;
    for (size_t i = 0; i < sizeof req; i++) {
        h_send(c, p + i, 1);
        if (i + 1 < sizeof req)
            cr_assert(h_quiet(c->fd, 10), "reply before the whole handshake arrived");
    }
    struct iouringd_handshake_result res;
    cr_assert_eq(h_read_exact(c->fd, &res, sizeof res, NULL, H_TIMEOUT_MS), 0);
    check_accept(&res);
}

Test(handshake, descriptor_with_handshake_disconnects)
{
    /* §2.4: an fd with handshake bytes is a disconnect; there is no handshake reply. */
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_connect(d);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    struct iouringd_handshake_request req = h_hs_request();
    cr_assert_eq(h_send_with_fd(c->fd, &req, sizeof req, pfd[0]), 0);
    cr_assert_eq(h_expect_eof(c->fd, H_TIMEOUT_MS), 0, "want EOF and no handshake result");
    close(pfd[0]);
    close(pfd[1]);
    h_handshake(h_connect(d));
}
