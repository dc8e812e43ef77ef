/* Backpressure (§2.6): a client that pipelines without reading is slowed, never
 * disconnected, and does not affect other connections. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../helpers/harness.h"

TestSuite(backpressure, .fini = h_cleanup, .timeout = 60);

#define N_NOPS 50000u

struct stream {
    uint8_t buf[65536 + 64];
    size_t len;
    uint64_t submits, accepted, rejected, completions;
    uint8_t *done; /* per task id: completion seen */
};

static bool is_completion(const uint8_t *b)
{
    struct iouringd_protocol_header h;
    memcpy(&h, b, sizeof h);
    return h.magic == IOURINGD_WIRE_MAGIC && h.version_major == 1 && h.version_minor == 12;
}

/* Consume every whole record in the buffer. */
static void parse(struct stream *s, uint32_t credits_max)
{
    size_t off = 0;
    for (;;) {
        size_t left = s->len - off;
        if (left < 8)
            break;
        const uint8_t *p = s->buf + off;
        if (is_completion(p)) {
            if (left < IOURINGD_COMPLETION_SIZE)
                break;
            struct iouringd_completion c;
            memcpy(&c, p, sizeof c);
            cr_assert(c.task_id >= 1 && c.task_id <= s->accepted,
                      "completion for unissued id %llu", (unsigned long long)c.task_id);
            cr_assert(!s->done[c.task_id], "duplicate completion %llu",
                      (unsigned long long)c.task_id);
            cr_assert(c.res == 0 && c.task_kind == IOURINGD_TASK_NOP && c.payload_length == 0,
                      "completion {%llu, %d, %u, %u}", (unsigned long long)c.task_id, c.res,
                      c.task_kind, c.payload_length);
            s->done[c.task_id] = 1;
            s->completions++;
            off += IOURINGD_COMPLETION_SIZE;
        } else {
            if (left < IOURINGD_SUBMIT_RESULT_SIZE)
                break;
            struct iouringd_submit_result r;
            memcpy(&r, p, sizeof r);
            cr_assert(r.credits < credits_max, "credits %u", r.credits);
            if (r.task_id != 0) {
                cr_assert_eq(r.task_id, s->accepted + 1, "ids not consecutive: %llu after %llu",
                             (unsigned long long)r.task_id, (unsigned long long)s->accepted);
                cr_assert_eq(r.res, 0);
                s->accepted++;
            } else {
                /* Pipelined NOPs may outrun reaping: a -EAGAIN reject is legal. */
                cr_assert_eq(r.res, -EAGAIN, "reject res %d", r.res);
                s->rejected++;
            }
            s->submits++;
            off += IOURINGD_SUBMIT_RESULT_SIZE;
        }
    }
    memmove(s->buf, s->buf + off, s->len - off);
    s->len -= off;
}

Test(backpressure, non_reading_client_is_slowed_not_disconnected)
{
    struct h_daemon *d = h_start(NULL);
    struct iouringd_capability_descriptor caps;
    struct h_conn *a = h_client(d, &caps);
    struct h_conn *b = h_client(d, NULL);

    size_t total = (size_t)N_NOPS * sizeof(struct iouringd_request_header);
    uint8_t *out = malloc(total);
    cr_assert(out != NULL);
    for (size_t i = 0; i < N_NOPS; i++) {
        struct iouringd_request_header nop = h_nop();
        memcpy(out + i * sizeof nop, &nop, sizeof nop);
    }

    /* Phase 1: write without reading until the daemon stops taking bytes. */
    size_t sent = 0;
    for (;;) {
        ssize_t n = send(a->fd, out + sent, total - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            if (sent == total)
                break;
            continue;
        }
        cr_assert(n < 0 && (errno == EAGAIN || errno == EINTR), "send: %s", strerror(errno));
        struct pollfd pfd = {a->fd, POLLOUT, 0};
        if (poll(&pfd, 1, H_QUIET_MS) == 0)
            break; /* stalled: the daemon has stopped reading A */
    }
    cr_assert(sent < total, "all %zu bytes were taken without reading; backpressure not reached",
              total);

    /* Another client is unaffected meanwhile. */
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(b, &nop, sizeof nop), 1, 0, caps.submit_credits - 1);
    struct h_completion comp = h_next_completion(b);
    h_assert_completion(&comp, 1, 0, IOURINGD_TASK_NOP, 0);
    struct iouringd_stats_result st = h_stats(b);
    cr_assert_eq(st.active_clients, 2, "A was dropped (active_clients %u)", st.active_clients);

    /* Phase 2: read everything (and send the rest). */
    struct stream *s = calloc(1, sizeof *s);
    cr_assert(s != NULL);
    s->done = calloc(N_NOPS + 1, 1);
    cr_assert(s->done != NULL);
    while (s->submits < N_NOPS || s->completions < s->accepted) {
        struct pollfd pfd = {a->fd, POLLIN | (sent < total ? POLLOUT : 0), 0};
        int pr = poll(&pfd, 1, H_TIMEOUT_MS);
        cr_assert(pr > 0, "stalled: %llu submits, %llu completions, %zu/%zu bytes sent",
                  (unsigned long long)s->submits, (unsigned long long)s->completions, sent, total);
        if ((pfd.revents & POLLOUT) != 0 && sent < total) {
            ssize_t n = send(a->fd, out + sent, total - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
        }
        if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            ssize_t n = recv(a->fd, s->buf + s->len, sizeof s->buf - s->len, MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            cr_assert(n > 0, "A disconnected after %llu submits (%s)",
                      (unsigned long long)s->submits, n == 0 ? "EOF" : strerror(errno));
            s->len += (size_t)n;
            parse(s, caps.submit_credits);
        }
    }
    cr_assert_eq(s->submits, N_NOPS);
    cr_assert_eq(s->completions, s->accepted);
    cr_assert_eq(s->len, 0);
    cr_assert(h_quiet(a->fd, H_QUIET_MS), "records after the last completion");
    cr_log_info("backpressure: %llu accepted, %llu rejected with -EAGAIN",
                (unsigned long long)s->accepted, (unsigned long long)s->rejected);

    st = h_stats(b);
    cr_assert_eq(st.accepted_submits, s->accepted + 1);
    cr_assert_eq(st.rejected_submits, s->rejected);
    cr_assert_eq(st.completions, s->accepted + 1);
    cr_assert_eq(st.outstanding_tasks, 0);
    free(s->done);
    free(s);
    free(out);
}
