/* outq: the connection's output queue (§2.6): whole records in order,
 * non-blocking sends that may stop part-way and resume, pending byte counts
 * for backpressure, and send errors that end the connection without SIGPIPE. */
#include "outq.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sv[2] = {-1, -1};
static struct iod_outq q;

static void setup(void)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int small = 4096;
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    iod_outq_init(&q);
}

static void teardown(void)
{
    iod_outq_free(&q);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
}

TestSuite(outq, .init = setup, .fini = teardown);

/* Reads whatever the peer has now, without blocking; returns the count. */
static size_t drain(uint8_t *dst, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(sv[1], dst + got, cap - got, MSG_DONTWAIT);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == cap)
            break;
    }
    return got;
}

/* Byte i of the test stream. */
static uint8_t pat(size_t i)
{
    return (uint8_t)((i * 131u + (i >> 8) * 7u) & 0xFF);
}

Test(outq, empty_queue)
{
    cr_assert_eq(iod_outq_pending(&q), 0);
    cr_assert_eq(iod_outq_flush(&q, sv[0]), 0);
    cr_assert_eq(iod_outq_pending(&q), 0);
    uint8_t b[4];
    cr_assert_eq(drain(b, sizeof b), 0);
}

Test(outq, record_and_payload_go_out_as_one_unit_in_order)
{
    const char rec1[16] = "0123456789abcdef";
    const char pay1[5] = "PAYLD";
    const char rec2[24] = "ABCDEFGHIJKLMNOPQRSTUVWX";
    cr_assert_eq(iod_outq_append(&q, rec1, 16, pay1, 5), 0);
    cr_assert_eq(iod_outq_pending(&q), 21);
    cr_assert_eq(iod_outq_append(&q, rec2, 24, NULL, 0), 0);
    cr_assert_eq(iod_outq_pending(&q), 45);
    cr_assert_eq(iod_outq_flush(&q, sv[0]), 0);
    cr_assert_eq(iod_outq_pending(&q), 0);
    uint8_t got[64];
    cr_assert_eq(drain(got, sizeof got), 45);
    cr_assert_arr_eq(got, rec1, 16);
    cr_assert_arr_eq(got + 16, pay1, 5);
    cr_assert_arr_eq(got + 21, rec2, 24);
}

Test(outq, partial_sends_resume_and_preserve_order)
{
    /* 300 records of 1000 bytes: far more than a 4 KiB send buffer takes. */
    const size_t nrec = 300, rlen = 1000, total = nrec * rlen;
    uint8_t *rec = malloc(rlen);
    uint8_t *got = malloc(total);
    cr_assert(rec && got);
    for (size_t r = 0; r < nrec; r++) {
        for (size_t i = 0; i < rlen; i++)
            rec[i] = pat(r * rlen + i);
        /* Split each record into a 16-byte header part and a payload. */
        cr_assert_eq(iod_outq_append(&q, rec, 16, rec + 16, rlen - 16), 0);
        cr_assert_eq(iod_outq_pending(&q), (r + 1) * rlen);
    }
    cr_assert_eq(iod_outq_flush(&q, sv[0]), 0, "EAGAIN is not an error");
    size_t left = iod_outq_pending(&q);
    cr_assert_gt(left, 0, "a small send buffer forces a partial send");
    cr_assert_lt(left, total, "something was sent");
    size_t received = 0;
    int rounds = 0;
    while (iod_outq_pending(&q) > 0 || received < total) {
        size_t before = iod_outq_pending(&q);
        received += drain(got + received, total - received);
        cr_assert_eq(iod_outq_flush(&q, sv[0]), 0);
        cr_assert_leq(iod_outq_pending(&q), before, "pending never grows by flushing");
        cr_assert_leq(iod_outq_pending(&q) + received, total);
        cr_assert_lt(++rounds, 100000, "no progress");
    }
    cr_assert_gt(rounds, 2, "several partial flushes happened");
    cr_assert_eq(received, total);
    for (size_t i = 0; i < total; i++)
        cr_assert_eq(got[i], pat(i), "byte %zu out of order", i);
    free(rec);
    free(got);
}

Test(outq, appends_while_partially_sent_keep_order)
{
    /* Mix appends and flushes so the queue compacts and grows while part of
     * it is unsent. Every record carries its running byte offset pattern. */
    const size_t total_target = 400000;
    uint8_t *got = malloc(total_target + 70000);
    uint8_t *tmp = malloc(70000);
    cr_assert(got && tmp);
    size_t appended = 0, received = 0;
    srand(11);
    int rounds = 0;
    while (appended < total_target) {
        size_t len = 1 + (size_t)rand() % 9000;
        size_t plen = (size_t)rand() % 3 == 0 ? (size_t)rand() % 60000 : 0;
        for (size_t i = 0; i < len + plen; i++)
            tmp[i] = pat(appended + i);
        size_t before = iod_outq_pending(&q);
        cr_assert_eq(iod_outq_append(&q, tmp, len, tmp + len, plen), 0);
        cr_assert_eq(iod_outq_pending(&q), before + len + plen);
        appended += len + plen;
        cr_assert_eq(iod_outq_flush(&q, sv[0]), 0);
        received += drain(got + received, appended - received);
        cr_assert_eq(iod_outq_pending(&q) + received, appended,
                     "pending counts exactly the unsent bytes");
        rounds++;
    }
    while (received < appended) {
        cr_assert_eq(iod_outq_flush(&q, sv[0]), 0);
        received += drain(got + received, appended - received);
        cr_assert_lt(++rounds, 1000000);
    }
    cr_assert_eq(iod_outq_pending(&q), 0);
    for (size_t i = 0; i < appended; i++)
        cr_assert_eq(got[i], pat(i), "byte %zu out of order", i);
    free(got);
    free(tmp);
}

Test(outq, zero_length_payload_pointer_may_be_null)
{
    const uint8_t rec[16] = {1, 2, 3};
    cr_assert_eq(iod_outq_append(&q, rec, sizeof rec, NULL, 0), 0);
    cr_assert_eq(iod_outq_pending(&q), 16);
}

Test(outq, send_to_closed_peer_is_epipe_without_sigpipe)
{
    /* SIGPIPE keeps its default action: if the queue sent without
     * MSG_NOSIGNAL, this test process would be killed. */
    close(sv[1]);
    sv[1] = -1;
    const uint8_t rec[16] = {0};
    cr_assert_eq(iod_outq_append(&q, rec, sizeof rec, NULL, 0), 0);
    cr_assert_eq(iod_outq_flush(&q, sv[0]), -EPIPE);
}

Test(outq, peer_closing_mid_stream_is_an_error_not_a_stall)
{
    uint8_t *big = malloc(200000);
    cr_assert_not_null(big);
    memset(big, 'x', 200000);
    cr_assert_eq(iod_outq_append(&q, big, 200000, NULL, 0), 0);
    cr_assert_eq(iod_outq_flush(&q, sv[0]), 0);
    cr_assert_gt(iod_outq_pending(&q), 0);
    close(sv[1]);
    sv[1] = -1;
    int rc = iod_outq_flush(&q, sv[0]);
    cr_assert(rc == -EPIPE || rc == -ECONNRESET, "rc %d", rc);
    free(big);
}

Test(outq, bad_descriptor_is_reported)
{
    const uint8_t rec[16] = {0};
    cr_assert_eq(iod_outq_append(&q, rec, sizeof rec, NULL, 0), 0);
    int fd = sv[0];
    close(fd);
    sv[0] = -1;
    cr_assert_eq(iod_outq_flush(&q, fd), -EBADF);
}

Test(outq, free_resets_the_queue)
{
    const uint8_t rec[16] = {0};
    cr_assert_eq(iod_outq_append(&q, rec, sizeof rec, rec, 8), 0);
    iod_outq_free(&q);
    cr_assert_eq(iod_outq_pending(&q), 0);
    cr_assert_eq(iod_outq_append(&q, rec, sizeof rec, NULL, 0), 0);
    cr_assert_eq(iod_outq_pending(&q), 16);
}
