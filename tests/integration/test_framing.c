/* Framing and staged validation (§2.2, §2.4, §12): every disconnect case sends
 * nothing for the offending message and ends the connection, at the right stage. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../helpers/harness.h"

TestSuite(framing, .fini = h_cleanup, .timeout = 20);

static void expect_disconnect(struct h_conn *c, const char *what)
{
    int rc = h_expect_eof(c->fd, H_TIMEOUT_MS);
    cr_assert(rc != H_GOT_DATA, "%s: got bytes, want a silent disconnect", what);
    cr_assert_eq(rc, 0, "%s: no EOF (%s)", what, strerror(-rc));
}

/* Send `len` bytes after a handshake and expect a silent disconnect; then check
 * that a fresh client of the same daemon still works. */
static void disconnect_case(struct h_daemon *d, const void *msg, size_t len, const char *what)
{
    struct h_conn *c = h_client(d, NULL);
    h_send(c, msg, len);
    expect_disconnect(c, what);
    h_close(c);
}

static void daemon_still_works(struct h_daemon *d)
{
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), 1, 0, caps.submit_credits - 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
}

Test(framing, bad_magic_after_handshake)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_request_header h = h_nop();
    h.header.magic = 0x31444F48u;
    disconnect_case(d, &h, sizeof h, "bad magic");
    daemon_still_works(d);
}

Test(framing, bad_version_after_handshake)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_request_header h = h_nop();
    h.header.version_major = 2;
    disconnect_case(d, &h, sizeof h, "version_major 2");
    h = h_nop();
    h.header.version_minor = 11;
    disconnect_case(d, &h, sizeof h, "version_minor 11");
    h = h_nop();
    h.header.version_minor = 13;
    disconnect_case(d, &h, sizeof h, "version_minor 13");
    daemon_still_works(d);
}

Test(framing, reserved1_nonzero)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_request_header h = h_nop();
    h.reserved1 = 1;
    disconnect_case(d, &h, sizeof h, "NOP reserved1 1");
    /* Stage H: a TIMEOUT with reserved1 != 0 ends after its first 16 bytes. */
    struct iouringd_timeout_request t = h_timeout(0);
    t.hdr.reserved1 = 0x100;
    disconnect_case(d, &t, 16, "TIMEOUT reserved1, 16 bytes");
    daemon_still_works(d);
}

Test(framing, unknown_kinds_disconnect_after_16_bytes)
{
    struct h_daemon *d = h_start(NULL);
    const uint16_t kinds[] = {0, 15, 99, 255, 261, 0xFFFF};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        struct iouringd_request_header h = h_header(kinds[i], 0);
        char what[32];
        snprintf(what, sizeof what, "kind %u", kinds[i]);
        disconnect_case(d, &h, sizeof h, what);
    }
    daemon_still_works(d);
}

Test(framing, priority_3_timeout_disconnects_after_24_bytes)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    struct iouringd_timeout_request t = h_timeout(0);
    t.hdr.priority = 3;
    h_send(c, &t, 16);
    cr_assert(h_quiet(c->fd, H_QUIET_MS),
              "TIMEOUT with priority 3 ended (or answered) after 16 bytes; stage M needs 24");
    h_send(c, (const uint8_t *)&t + 16, 8);
    expect_disconnect(c, "TIMEOUT priority 3");
    daemon_still_works(d);
}

Test(framing, priority_3_nop_disconnects)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_request_header h = h_header(IOURINGD_TASK_NOP, 3);
    disconnect_case(d, &h, sizeof h, "NOP priority 3");
    h = h_header(IOURINGD_TASK_NOP, 0xFFFF);
    disconnect_case(d, &h, sizeof h, "NOP priority 0xFFFF");
    daemon_still_works(d);
}

Test(framing, cancel_reserved0_3_disconnects_after_24_bytes)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    struct iouringd_cancel_request x = h_cancel(999);
    x.hdr.priority = 3;
    h_send(c, &x, 16);
    cr_assert(h_quiet(c->fd, H_QUIET_MS), "CANCEL reserved0 3 ended after 16 bytes");
    h_send(c, (const uint8_t *)&x + 16, 8);
    expect_disconnect(c, "CANCEL reserved0 3");
}

Test(framing, control_reserved0_nonzero_disconnects)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_request_header h = h_get_stats();
    h.priority = 1;
    disconnect_case(d, &h, sizeof h, "GET_STATS reserved0 1");
    daemon_still_works(d);
}

Test(framing, truncated_message_then_shut_wr)
{
    struct h_daemon *d = h_start(NULL);
    /* Inside the 16-byte header ... */
    struct h_conn *c = h_client(d, NULL);
    struct iouringd_request_header nop = h_nop();
    h_send(c, &nop, 10);
    cr_assert(h_quiet(c->fd, H_QUIET_MS), "reply to 10 bytes of a NOP");
    cr_assert_eq(shutdown(c->fd, SHUT_WR), 0);
    expect_disconnect(c, "10 bytes of a NOP then SHUT_WR");
    /* ... and inside a TIMEOUT body. */
    c = h_client(d, NULL);
    struct iouringd_timeout_request t = h_timeout(0);
    h_send(c, &t, 20);
    cr_assert(h_quiet(c->fd, H_QUIET_MS), "reply to 20 bytes of a TIMEOUT");
    cr_assert_eq(shutdown(c->fd, SHUT_WR), 0);
    expect_disconnect(c, "20 bytes of a TIMEOUT then SHUT_WR");
    daemon_still_works(d);
}

Test(framing, fragmented_requests_are_reassembled)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_timeout_request t = h_timeout(0);
    const uint8_t *p = (const uint8_t *)&t;
    for (size_t i = 0; i < sizeof t; i++) {
        h_send(c, p + i, 1);
        if (i + 1 < sizeof t)
            cr_assert(h_quiet(c->fd, 5), "reply before the whole TIMEOUT arrived");
    }
    h_assert_submit(h_read_submit(c), 1, 0, caps.submit_credits - 1);
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, 1, -ETIME, IOURINGD_TASK_TIMEOUT, 0);
}

Test(framing, replies_before_a_violation_are_delivered)
{
    /* §12 step 2 / §19.1: the NOP's reply was queued before the bad message. */
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *c = h_client(d, &caps);
    struct iouringd_request_header msgs[2] = {h_nop(), h_header(99, 0)};
    h_send(c, msgs, sizeof msgs);
    struct iouringd_submit_result r;
    cr_assert_eq(h_read_exact(c->fd, &r, sizeof r, NULL, H_TIMEOUT_MS), 0);
    h_assert_submit(r, 1, 0, caps.submit_credits - 1);
    uint8_t rec[24];
    size_t got = 0;
    int rc = h_read_exact(c->fd, rec, sizeof rec, &got, H_TIMEOUT_MS);
    if (rc == 0) {
        struct h_completion comp;
        memset(&comp, 0, sizeof comp);
        memcpy(&comp.c, rec, sizeof rec);
        h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
        expect_disconnect(c, "kind 99 after a NOP");
    } else {
        cr_assert(rc == -EPIPE || rc == -ECONNRESET, "%s", strerror(-rc));
        cr_assert_eq(got, 0, "partial record before EOF");
    }
}

Test(framing, descriptor_with_non_register_message_disconnects)
{
    struct h_daemon *d = h_start(NULL);
    struct h_conn *c = h_client(d, NULL);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    struct iouringd_request_header nop = h_nop();
    cr_assert_eq(h_send_with_fd(c->fd, &nop, sizeof nop, pfd[0]), 0);
    expect_disconnect(c, "NOP with an fd");
    close(pfd[0]);
    close(pfd[1]);
    daemon_still_works(d);
}

Test(framing, client_closing_with_unread_replies)
{
    /* §2.6, §18: send errors end only that connection; SIGPIPE never kills. */
    struct h_daemon *d = h_start(NULL);
    for (int round = 0; round < 3; round++) {
        struct h_conn *c = h_client(d, NULL);
        struct iouringd_request_header nops[64];
        for (size_t i = 0; i < 64; i++)
            nops[i] = h_nop();
        h_send(c, nops, sizeof nops);
        h_close(c);
    }
    daemon_still_works(d);
    cr_assert(h_alive(d), "the daemon exited");
}
