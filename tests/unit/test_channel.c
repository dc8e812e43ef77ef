/* channel: supervisor <-> worker records. The supervisor trusts no worker
 * record (DESIGN.md §1): every malformed snapshot must be refused, and the
 * accepted ones must respect the §6/§14 invariants. Also a real SEQPACKET
 * round trip, and a record carrying a descriptor: refused, descriptor closed. */
#include "channel.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* C 4, S 8, 4 file slots, 2 buffer slots, round 5 sent last. */
static const struct iod_chan_limits lim = {
    .credits = 4, .sq_entries = 8, .registered_fds = 4, .registered_buffers = 2,
    .max_round = 5,
};

static union iod_chan_record rec;

/* A valid snapshot: 10 accepted = 7 completions + 3 outstanding (2 holding
 * credits, so 2 of 4 remain). */
static void good(void)
{
    iod_chan_init(&rec, IOD_CHAN_SNAPSHOT);
    rec.snapshot.round = 5;
    struct iod_worker_counters *c = &rec.snapshot.c;
    c->accepted_submits = 10;
    c->rejected_submits = 2;
    c->completions = 7;
    c->completions_ok = 5;
    c->completions_error = 2;
    c->bytes_read = 100;
    c->bytes_written = 50;
    c->outstanding_tasks = 3;
    c->outstanding_credit_tasks = 2;
    c->credits_remaining = 2;
    c->registered_files = 1;
    c->registered_buffers = 1;
    c->connected = 1;
    c->final = 0;
    c->end_reason = IOD_END_NONE;
}

/* Turns the good snapshot into a valid final one of a clean end. */
static void make_final(void)
{
    struct iod_worker_counters *c = &rec.snapshot.c;
    c->connected = 0;
    c->end_reason = IOD_END_CLEAN;
    c->final = 1;
    c->outstanding_tasks = 0;
    c->outstanding_credit_tasks = 0;
    c->credits_remaining = 4;
    c->completions = 10;
    c->completions_ok = 8;
    c->completions_error = 2;
}

static int check(const struct iod_worker_counters *prev)
{
    const char *why = "unset";
    int rc = iod_chan_validate_from_worker(&rec, sizeof rec.snapshot, &lim, prev, &why);
    if (rc == 0)
        cr_assert_null(why);
    else
        cr_assert_not_null(why, "a refusal says why");
    return rc;
}

static int check_len(size_t len)
{
    const char *why;
    return iod_chan_validate_from_worker(&rec, len, &lim, NULL, &why);
}

#define BAD(expr) cr_assert_eq((expr), -EBADMSG, "%s", #expr)

Test(channel, init_sets_type_and_exact_length)
{
    iod_chan_init(&rec, IOD_CHAN_SNAPSHOT);
    cr_assert_eq(rec.hdr.type, IOD_CHAN_SNAPSHOT);
    cr_assert_eq(rec.hdr.length, sizeof(struct iod_chan_snapshot));
    cr_assert_eq(rec.hdr.reserved, 0);
    iod_chan_init(&rec, IOD_CHAN_STATS_QUERY);
    cr_assert_eq(rec.hdr.length, sizeof(struct iod_chan_header));
    iod_chan_init(&rec, IOD_CHAN_COLLECT);
    cr_assert_eq(rec.hdr.length, sizeof(struct iod_chan_collect));
    iod_chan_init(&rec, IOD_CHAN_STATS_ANSWER);
    cr_assert_eq(rec.hdr.length, sizeof(struct iod_chan_stats_answer));
}

Test(channel, accepts_good_snapshots)
{
    good();
    cr_assert_eq(check(NULL), 0);
    rec.snapshot.round = 0; /* unsolicited */
    cr_assert_eq(check(NULL), 0);
    good();
    make_final();
    cr_assert_eq(check(NULL), 0);
    /* Disconnected but not final (finishing): fine with tasks outstanding. */
    good();
    rec.snapshot.c.connected = 0;
    rec.snapshot.c.end_reason = IOD_END_PROTOCOL;
    cr_assert_eq(check(NULL), 0);
}

Test(channel, accepts_boundary_values)
{
    good();
    struct iod_worker_counters *c = &rec.snapshot.c;
    /* S CANCELs + C credit tasks: the most that can be outstanding. */
    c->outstanding_tasks = 12;
    c->outstanding_credit_tasks = 4;
    c->credits_remaining = 0;
    c->accepted_submits = c->completions + 12;
    c->registered_files = 4;
    c->registered_buffers = 2;
    c->end_reason = IOD_END_NONE;
    cr_assert_eq(check(NULL), 0);
    for (uint16_t er = 1; er < IOD_END_REASON_MAX; er++) {
        c->connected = 0;
        c->end_reason = er;
        cr_assert_eq(check(NULL), 0, "end_reason %u", er);
    }
}

Test(channel, accepts_stats_query)
{
    iod_chan_init(&rec, IOD_CHAN_STATS_QUERY);
    cr_assert_eq(check_len(sizeof(struct iod_chan_header)), 0);
}

Test(channel, rejects_wrong_lengths)
{
    good();
    BAD(check_len(0));
    BAD(check_len(4));
    BAD(check_len(sizeof(struct iod_chan_header)));
    BAD(check_len(sizeof rec.snapshot - 1));
    BAD(check_len(sizeof rec.snapshot - 8));
    /* The header's length must agree with what arrived. */
    rec.hdr.length = (uint16_t)(rec.hdr.length - 8);
    BAD(check_len(sizeof rec.snapshot));
    rec.hdr.length = (uint16_t)(sizeof rec.snapshot + 8);
    BAD(check_len(sizeof rec.snapshot));
    iod_chan_init(&rec, IOD_CHAN_STATS_QUERY);
    BAD(check_len(sizeof(struct iod_chan_header) + 8));
    rec.hdr.length = 16;
    BAD(check_len(16));
}

Test(channel, rejects_unknown_and_wrong_direction_types)
{
    static const uint16_t types[] = {0, IOD_CHAN_COLLECT, IOD_CHAN_STATS_ANSWER, 5, 99, 0xFFFF};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        good();
        rec.hdr.type = types[i];
        BAD(check_len(sizeof rec.snapshot));
        cr_assert_eq(check_len(rec.hdr.length), -EBADMSG, "type %u", types[i]);
    }
    iod_chan_init(&rec, IOD_CHAN_COLLECT);
    BAD(check_len(sizeof rec.collect));
    iod_chan_init(&rec, IOD_CHAN_STATS_ANSWER);
    BAD(check_len(sizeof rec.answer));
}

Test(channel, rejects_nonzero_reserved)
{
    good();
    rec.hdr.reserved = 1;
    BAD(check(NULL));
    iod_chan_init(&rec, IOD_CHAN_STATS_QUERY);
    rec.hdr.reserved = 0x80000000u;
    BAD(check_len(sizeof rec.hdr));
}

Test(channel, rejects_future_round)
{
    good();
    rec.snapshot.round = 6;
    BAD(check(NULL));
    rec.snapshot.round = UINT64_MAX;
    BAD(check(NULL));
}

Test(channel, rejects_bad_flags)
{
    good();
    rec.snapshot.c.connected = 2;
    BAD(check(NULL));
    good();
    rec.snapshot.c.connected = 0xFF;
    BAD(check(NULL));
    good();
    make_final();
    rec.snapshot.c.final = 2;
    BAD(check(NULL));
    good();
    rec.snapshot.c.connected = 0;
    rec.snapshot.c.end_reason = IOD_END_REASON_MAX;
    BAD(check(NULL));
    rec.snapshot.c.end_reason = 0xFFFF;
    BAD(check(NULL));
}

Test(channel, rejects_connected_with_end_reason_and_vice_versa)
{
    good();
    rec.snapshot.c.end_reason = IOD_END_CLEAN;
    BAD(check(NULL));
    good();
    rec.snapshot.c.end_reason = IOD_END_INTERNAL;
    BAD(check(NULL));
    good();
    rec.snapshot.c.connected = 0;
    rec.snapshot.c.end_reason = IOD_END_NONE;
    BAD(check(NULL));
}

Test(channel, rejects_bad_final)
{
    /* final while connected */
    good();
    rec.snapshot.c.final = 1;
    BAD(check(NULL));
    /* final with tasks outstanding */
    good();
    rec.snapshot.c.connected = 0;
    rec.snapshot.c.end_reason = IOD_END_CLEAN;
    rec.snapshot.c.final = 1;
    BAD(check(NULL));
    /* final with only a CANCEL outstanding */
    good();
    make_final();
    rec.snapshot.c.outstanding_tasks = 1;
    rec.snapshot.c.completions = 9;
    rec.snapshot.c.completions_ok = 7;
    BAD(check(NULL));
}

Test(channel, rejects_credit_mismatch)
{
    good();
    rec.snapshot.c.credits_remaining = 3;
    BAD(check(NULL));
    rec.snapshot.c.credits_remaining = 1;
    BAD(check(NULL));
    rec.snapshot.c.credits_remaining = 4;
    BAD(check(NULL));
    rec.snapshot.c.credits_remaining = UINT32_MAX;
    BAD(check(NULL));
}

Test(channel, rejects_impossible_outstanding)
{
    /* more than C + S */
    good();
    struct iod_worker_counters *c = &rec.snapshot.c;
    c->outstanding_tasks = 13;
    c->accepted_submits = c->completions + 13;
    BAD(check(NULL));
    /* more credit-holding tasks than credits */
    good();
    c->outstanding_credit_tasks = 5;
    c->outstanding_tasks = 5;
    c->accepted_submits = c->completions + 5;
    c->credits_remaining = (uint32_t)-1;
    BAD(check(NULL));
    c->credits_remaining = 0;
    BAD(check(NULL));
    /* more credit-holding tasks than tasks */
    good();
    c->outstanding_credit_tasks = 3;
    c->outstanding_tasks = 2;
    c->accepted_submits = c->completions + 2;
    c->credits_remaining = 1;
    BAD(check(NULL));
}

Test(channel, rejects_resources_over_slot_counts)
{
    good();
    rec.snapshot.c.registered_files = 5;
    BAD(check(NULL));
    good();
    rec.snapshot.c.registered_buffers = 3;
    BAD(check(NULL));
    good();
    rec.snapshot.c.registered_files = UINT32_MAX;
    BAD(check(NULL));
}

Test(channel, rejects_broken_invariants)
{
    good();
    rec.snapshot.c.accepted_submits = 11; /* != 7 + 3 */
    BAD(check(NULL));
    rec.snapshot.c.accepted_submits = 9;
    BAD(check(NULL));
    good();
    rec.snapshot.c.completions_ok = 6; /* 6 + 2 != 7 */
    BAD(check(NULL));
    good();
    rec.snapshot.c.completions_error = 0;
    BAD(check(NULL));
}

Test(channel, rejects_counters_going_back)
{
    good();
    struct iod_worker_counters prev = rec.snapshot.c;
    cr_assert_eq(check(&prev), 0, "an identical snapshot is fine");
    /* Gauges may go down. */
    prev.outstanding_tasks = 5;
    prev.registered_files = 3;
    cr_assert_eq(check(&prev), 0);

    size_t offs[] = {
        offsetof(struct iod_worker_counters, accepted_submits),
        offsetof(struct iod_worker_counters, rejected_submits),
        offsetof(struct iod_worker_counters, completions),
        offsetof(struct iod_worker_counters, completions_ok),
        offsetof(struct iod_worker_counters, completions_error),
        offsetof(struct iod_worker_counters, bytes_read),
        offsetof(struct iod_worker_counters, bytes_written),
    };
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        good();
        prev = rec.snapshot.c;
        uint64_t v;
        memcpy(&v, (char *)&prev + offs[i], sizeof v);
        v++;
        memcpy((char *)&prev + offs[i], &v, sizeof v);
        cr_assert_eq(check(&prev), -EBADMSG, "counter at offset %zu went back", offs[i]);
    }
}

Test(channel, rejects_reconnect_after_disconnect)
{
    good();
    rec.snapshot.c.connected = 0;
    rec.snapshot.c.end_reason = IOD_END_CLEAN;
    struct iod_worker_counters prev = rec.snapshot.c;
    cr_assert_eq(check(&prev), 0, "staying disconnected is fine");
    good();
    BAD(check(&prev));
}

Test(channel, rejects_anything_after_final)
{
    good();
    make_final();
    struct iod_worker_counters prev = rec.snapshot.c;
    BAD(check(&prev)); /* even the same final snapshot again */
    good();
    rec.snapshot.c.connected = 0;
    rec.snapshot.c.end_reason = IOD_END_CLEAN;
    rec.snapshot.c.accepted_submits = 10;
    BAD(check(&prev));
}

Test(channel, validate_from_supervisor)
{
    iod_chan_init(&rec, IOD_CHAN_COLLECT);
    rec.collect.round = 77;
    cr_assert_eq(iod_chan_validate_from_supervisor(&rec, sizeof rec.collect), 0);
    BAD(iod_chan_validate_from_supervisor(&rec, sizeof rec.collect - 1));
    BAD(iod_chan_validate_from_supervisor(&rec, sizeof rec.collect + 8));
    BAD(iod_chan_validate_from_supervisor(&rec, 0));
    rec.hdr.reserved = 1;
    BAD(iod_chan_validate_from_supervisor(&rec, sizeof rec.collect));

    iod_chan_init(&rec, IOD_CHAN_STATS_ANSWER);
    rec.answer.stats.active_clients = 3;
    cr_assert_eq(iod_chan_validate_from_supervisor(&rec, sizeof rec.answer), 0);
    BAD(iod_chan_validate_from_supervisor(&rec, sizeof rec.collect));
    rec.hdr.length = (uint16_t)sizeof rec.collect;
    BAD(iod_chan_validate_from_supervisor(&rec, sizeof rec.answer));

    iod_chan_init(&rec, IOD_CHAN_SNAPSHOT);
    BAD(iod_chan_validate_from_supervisor(&rec, sizeof rec.snapshot));
    iod_chan_init(&rec, IOD_CHAN_STATS_QUERY);
    BAD(iod_chan_validate_from_supervisor(&rec, sizeof rec.hdr));
    memset(&rec, 0, sizeof rec);
    rec.hdr.length = sizeof rec.hdr;
    BAD(iod_chan_validate_from_supervisor(&rec, sizeof rec.hdr));
    rec.hdr.type = 99;
    BAD(iod_chan_validate_from_supervisor(&rec, sizeof rec.hdr));
}

/* ---- over a real socketpair ------------------------------------------- */

static int sp[2] = {-1, -1};

static void pair_setup(void)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
}

static void pair_teardown(void)
{
    if (sp[0] >= 0)
        close(sp[0]);
    if (sp[1] >= 0)
        close(sp[1]);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

Test(channel, round_trip_every_type, .init = pair_setup, .fini = pair_teardown)
{
    union iod_chan_record in;
    /* worker -> supervisor */
    good();
    cr_assert_eq(iod_chan_send(sp[1], &rec), 0);
    memset(&in, 0, sizeof in);
    ssize_t n = iod_chan_recv(sp[0], &in);
    cr_assert_eq(n, (ssize_t)sizeof rec.snapshot);
    cr_assert_arr_eq(&in, &rec, sizeof rec.snapshot);
    const char *why;
    cr_assert_eq(iod_chan_validate_from_worker(&in, (size_t)n, &lim, NULL, &why), 0);

    iod_chan_init(&rec, IOD_CHAN_STATS_QUERY);
    cr_assert_eq(iod_chan_send(sp[1], &rec), 0);
    n = iod_chan_recv(sp[0], &in);
    cr_assert_eq(n, (ssize_t)sizeof rec.hdr);
    cr_assert_eq(iod_chan_validate_from_worker(&in, (size_t)n, &lim, NULL, &why), 0);

    /* supervisor -> worker */
    iod_chan_init(&rec, IOD_CHAN_COLLECT);
    rec.collect.round = 123456789;
    cr_assert_eq(iod_chan_send(sp[0], &rec), 0);
    n = iod_chan_recv(sp[1], &in);
    cr_assert_eq(n, (ssize_t)sizeof rec.collect);
    cr_assert_eq(in.collect.round, 123456789);
    cr_assert_eq(iod_chan_validate_from_supervisor(&in, (size_t)n), 0);

    iod_chan_init(&rec, IOD_CHAN_STATS_ANSWER);
    rec.answer.stats.completions = 42;
    rec.answer.stats.clients_at_credit_limit = 3;
    cr_assert_eq(iod_chan_send(sp[0], &rec), 0);
    n = iod_chan_recv(sp[1], &in);
    cr_assert_eq(n, (ssize_t)sizeof rec.answer);
    cr_assert_arr_eq(&in, &rec, sizeof rec.answer);
    cr_assert_eq(iod_chan_validate_from_supervisor(&in, (size_t)n), 0);
}

Test(channel, records_keep_their_boundaries, .init = pair_setup, .fini = pair_teardown)
{
    for (uint64_t i = 1; i <= 5; i++) {
        iod_chan_init(&rec, IOD_CHAN_COLLECT);
        rec.collect.round = i;
        cr_assert_eq(iod_chan_send(sp[0], &rec), 0);
    }
    union iod_chan_record in;
    for (uint64_t i = 1; i <= 5; i++) {
        cr_assert_eq(iod_chan_recv(sp[1], &in), (ssize_t)sizeof in.collect);
        cr_assert_eq(in.collect.round, i);
    }
    cr_assert_eq(iod_chan_recv(sp[1], &in), -EAGAIN, "recv never blocks");
}

Test(channel, recv_reports_eof, .init = pair_setup, .fini = pair_teardown)
{
    union iod_chan_record in;
    close(sp[0]);
    sp[0] = -1;
    cr_assert_eq(iod_chan_recv(sp[1], &in), 0);
}

Test(channel, send_to_closed_peer_is_epipe_without_sigpipe, .init = pair_setup,
     .fini = pair_teardown)
{
    /* SIGPIPE keeps its default action here: if it were raised, the test
     * process would die. */
    close(sp[1]);
    sp[1] = -1;
    iod_chan_init(&rec, IOD_CHAN_COLLECT);
    cr_assert_eq(iod_chan_send(sp[0], &rec), -EPIPE);
}

Test(channel, oversized_record_is_refused, .init = pair_setup, .fini = pair_teardown)
{
    char big[sizeof(union iod_chan_record) + 64];
    memset(big, 0, sizeof big);
    cr_assert_eq(send(sp[1], big, sizeof big, 0), (ssize_t)sizeof big);
    union iod_chan_record in;
    cr_assert_eq(iod_chan_recv(sp[0], &in), -EBADMSG);
}

Test(channel, record_with_descriptor_is_refused_and_fd_closed, .init = pair_setup,
     .fini = pair_teardown)
{
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    good();
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {.iov_base = &rec, .iov_len = sizeof rec.snapshot};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
    cr_assert_eq(sendmsg(sp[1], &msg, 0), (ssize_t)sizeof rec.snapshot);
    close(p[0]); /* the only read end left is the one in flight */

    int before = count_fds();
    union iod_chan_record in;
    cr_assert_eq(iod_chan_recv(sp[0], &in), -EBADMSG);
    int after = count_fds();
    cr_assert_eq(after, before, "the received descriptor was closed (%d -> %d)", before,
                 after);
    /* With every read end closed, writing to the pipe fails. */
    char x = 'x';
    cr_assert_eq(write(p[1], &x, 1), -1);
    cr_assert_eq(errno, EPIPE);
    close(p[1]);
    /* The channel stays usable for the next record. */
    good();
    cr_assert_eq(iod_chan_send(sp[1], &rec), 0);
    cr_assert_eq(iod_chan_recv(sp[0], &in), (ssize_t)sizeof rec.snapshot);
}

Test(channel, record_with_several_descriptors_closes_all, .init = pair_setup,
     .fini = pair_teardown)
{
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fds[i], 0);
    }
    iod_chan_init(&rec, IOD_CHAN_STATS_QUERY);
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof fds)];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {.iov_base = &rec, .iov_len = sizeof rec.hdr};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cm), fds, sizeof fds);
    cr_assert_eq(sendmsg(sp[1], &msg, 0), (ssize_t)sizeof rec.hdr);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    int before = count_fds();
    union iod_chan_record in;
    cr_assert_eq(iod_chan_recv(sp[0], &in), -EBADMSG);
    cr_assert_eq(count_fds(), before);
}
