/* tasks: credits and the S1 room rule (§4.3, §6), task ids (§7), rollback
 * after a failed submission, the reserved id range (§1.3), and the
 * outstanding-task map under random insertions and deletions. */
#include "tasks.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iouringd/protocol.h>

#define CREDIT true
#define NO_CREDIT false

static struct iod_tasks t;

static void setup(uint32_t c, uint32_t s)
{
    cr_assert_eq(iod_tasks_init(&t, c, s), 0);
}

static void teardown(void)
{
    iod_tasks_destroy(&t);
}

static struct iod_task *start(uint16_t kind, bool credit)
{
    struct iod_task *task = iod_tasks_start(&t, kind, 0, credit);
    cr_assert_not_null(task);
    return task;
}

TestSuite(tasks, .fini = teardown);

Test(tasks, fresh_connection_has_all_credits_and_room)
{
    setup(32, 64);
    cr_assert_eq(iod_tasks_credits_remaining(&t), 32);
    cr_assert_eq(iod_tasks_check_room(&t, CREDIT), 0);
    cr_assert_eq(iod_tasks_check_room(&t, NO_CREDIT), 0);
    cr_assert_not(iod_tasks_ids_exhausted(&t));
    cr_assert_null(iod_tasks_find(&t, 1));
    cr_assert_null(iod_tasks_find(&t, 0));
}

Test(tasks, credits_remaining_after_starts_and_finishes)
{
    setup(32, 64);
    struct iod_task *tasks[32];
    for (uint32_t i = 0; i < 32; i++) {
        cr_assert_eq(iod_tasks_check_room(&t, CREDIT), 0, "task %u", i);
        tasks[i] = start(2, CREDIT);
        cr_assert_eq(iod_tasks_credits_remaining(&t), 31 - i);
    }
    cr_assert_eq(iod_tasks_check_room(&t, CREDIT), -EAGAIN);
    /* A saturated client can still cancel (§6, §21.1 item 4). */
    cr_assert_eq(iod_tasks_check_room(&t, NO_CREDIT), 0);
    iod_tasks_finish(&t, tasks[17], CREDIT);
    cr_assert_eq(iod_tasks_credits_remaining(&t), 1);
    cr_assert_eq(iod_tasks_check_room(&t, CREDIT), 0);
    iod_tasks_finish(&t, tasks[0], CREDIT);
    cr_assert_eq(iod_tasks_credits_remaining(&t), 2);
    cr_assert_eq(t.outstanding, 30);
    cr_assert_eq(t.outstanding_credit, 30);
}

Test(tasks, cancel_holds_no_credit)
{
    setup(2, 4);
    start(3, NO_CREDIT);
    start(3, NO_CREDIT);
    cr_assert_eq(iod_tasks_credits_remaining(&t), 2);
    cr_assert_eq(iod_tasks_check_room(&t, CREDIT), 0);
    cr_assert_eq(t.outstanding, 2);
    cr_assert_eq(t.outstanding_credit, 0);
}

Test(tasks, cancel_room_is_outstanding_below_s_counting_all_kinds)
{
    setup(1, 2); /* --ring-entries 2: C 1, S 2 */
    struct iod_task *a = start(2, CREDIT);
    cr_assert_eq(iod_tasks_check_room(&t, CREDIT), -EAGAIN);
    cr_assert_eq(iod_tasks_check_room(&t, NO_CREDIT), 0); /* 1 < 2 */
    struct iod_task *c1 = start(3, NO_CREDIT);
    cr_assert_eq(iod_tasks_check_room(&t, NO_CREDIT), -EAGAIN); /* 2 == S */
    iod_tasks_finish(&t, a, CREDIT);
    cr_assert_eq(iod_tasks_check_room(&t, NO_CREDIT), 0);
    cr_assert_eq(iod_tasks_check_room(&t, CREDIT), 0);
    start(3, NO_CREDIT);
    cr_assert_eq(iod_tasks_check_room(&t, NO_CREDIT), -EAGAIN); /* two CANCELs */
    /* The credit check ignores CANCELs. */
    cr_assert_eq(iod_tasks_check_room(&t, CREDIT), 0);
    iod_tasks_finish(&t, c1, NO_CREDIT);
    cr_assert_eq(iod_tasks_check_room(&t, NO_CREDIT), 0);
}

Test(tasks, pool_holds_s_plus_c_and_no_more)
{
    setup(2, 4);
    /* S CANCELs first (room while outstanding < S), then C credit tasks. */
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(iod_tasks_check_room(&t, NO_CREDIT), 0);
        start(3, NO_CREDIT);
    }
    cr_assert_eq(iod_tasks_check_room(&t, NO_CREDIT), -EAGAIN);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(iod_tasks_check_room(&t, CREDIT), 0);
        start(4, CREDIT);
    }
    cr_assert_eq(iod_tasks_check_room(&t, CREDIT), -EAGAIN);
    cr_assert_eq(t.outstanding, 6);
    /* Past S + C the pool is exhausted. */
    cr_assert_null(iod_tasks_start(&t, 1, 0, NO_CREDIT));
    cr_assert_eq(t.outstanding, 6);
    cr_assert_eq(t.next_id, 7, "a failed start must not use an id");
    for (uint64_t id = 1; id <= 6; id++)
        cr_assert_not_null(iod_tasks_find(&t, id));
}

Test(tasks, ids_start_at_1_and_are_consecutive)
{
    setup(4, 8);
    for (uint64_t want = 1; want <= 100; want++) {
        bool credit = want % 3 != 0; /* CANCELs take ids too */
        struct iod_task *x = iod_tasks_start(&t, credit ? 1 : 3, (uint16_t)(want % 3), credit);
        cr_assert_not_null(x);
        cr_assert_eq(x->id, want);
        cr_assert_eq(x->kind, credit ? 1 : 3);
        cr_assert_eq(x->priority, want % 3);
        cr_assert_eq(iod_tasks_find(&t, want), x);
        iod_tasks_finish(&t, x, credit);
        cr_assert_null(iod_tasks_find(&t, want));
    }
    cr_assert_eq(iod_tasks_credits_remaining(&t), 4);
    cr_assert_eq(t.outstanding, 0);
}

Test(tasks, finished_ids_are_never_reissued)
{
    setup(2, 4);
    struct iod_task *a = start(1, CREDIT);
    struct iod_task *b = start(1, CREDIT);
    cr_assert_eq(a->id, 1);
    cr_assert_eq(b->id, 2);
    iod_tasks_finish(&t, b, CREDIT);
    iod_tasks_finish(&t, a, CREDIT);
    cr_assert_eq(start(1, CREDIT)->id, 3);
}

Test(tasks, rollback_reissues_the_id_and_restores_credit)
{
    setup(2, 4);
    struct iod_task *a = start(1, CREDIT);
    cr_assert_eq(a->id, 1);
    struct iod_task *b = start(5, CREDIT);
    cr_assert_eq(b->id, 2);
    cr_assert_eq(iod_tasks_credits_remaining(&t), 0);
    iod_tasks_rollback(&t, b, CREDIT);
    cr_assert_eq(iod_tasks_credits_remaining(&t), 1);
    cr_assert_eq(t.outstanding, 1);
    cr_assert_null(iod_tasks_find(&t, 2));
    struct iod_task *c = start(1, CREDIT);
    cr_assert_eq(c->id, 2, "rejected submissions consume no id (§7)");
    cr_assert_eq(iod_tasks_find(&t, 2), c);
    /* CANCEL rollback restores outstanding, not a credit. */
    struct iod_task *d = start(3, NO_CREDIT);
    cr_assert_eq(d->id, 3);
    iod_tasks_rollback(&t, d, NO_CREDIT);
    cr_assert_eq(t.outstanding, 2);
    cr_assert_eq(iod_tasks_credits_remaining(&t), 0);
    cr_assert_eq(start(3, NO_CREDIT)->id, 3);
}

Test(tasks, ids_exhausted_at_reserved_range)
{
    setup(4, 8);
    t.next_id = IOURINGD_RESERVED_TASK_ID_MIN - 2; /* 2^64 - 18 */
    cr_assert_not(iod_tasks_ids_exhausted(&t));
    cr_assert_eq(start(1, CREDIT)->id, UINT64_MAX - 17);
    cr_assert_not(iod_tasks_ids_exhausted(&t));
    struct iod_task *last = start(1, CREDIT);
    cr_assert_eq(last->id, UINT64_MAX - 16, "the last issuable id is 2^64-17");
    cr_assert(iod_tasks_ids_exhausted(&t));
    cr_assert_eq(iod_tasks_find(&t, UINT64_MAX - 16), last);
    iod_tasks_finish(&t, last, CREDIT);
    cr_assert(iod_tasks_ids_exhausted(&t), "finishing does not make ids available");
}

Test(tasks, ids_exhausted_when_next_is_uint64_max_minus_15)
{
    setup(4, 8);
    t.next_id = UINT64_MAX - 15;
    cr_assert(iod_tasks_ids_exhausted(&t));
    t.next_id = UINT64_MAX;
    cr_assert(iod_tasks_ids_exhausted(&t));
    t.next_id = UINT64_MAX - 16;
    cr_assert_not(iod_tasks_ids_exhausted(&t));
}

Test(tasks, rollback_of_last_issuable_id_makes_it_available_again)
{
    setup(4, 8);
    t.next_id = UINT64_MAX - 16;
    struct iod_task *x = start(1, CREDIT);
    cr_assert(iod_tasks_ids_exhausted(&t));
    iod_tasks_rollback(&t, x, CREDIT);
    cr_assert_not(iod_tasks_ids_exhausted(&t));
    cr_assert_eq(start(1, CREDIT)->id, UINT64_MAX - 16);
}

Test(tasks, find_rejects_ids_never_issued)
{
    setup(4, 8);
    start(1, CREDIT);
    start(1, CREDIT);
    cr_assert_null(iod_tasks_find(&t, 0));
    cr_assert_null(iod_tasks_find(&t, 3));
    cr_assert_null(iod_tasks_find(&t, UINT64_MAX));
    cr_assert_null(iod_tasks_find(&t, UINT64_MAX - 15));
    cr_assert_null(iod_tasks_find(&t, 1ull << 63));
}

struct count_arg {
    uint32_t n;
    uint64_t idsum;
};

static void count_fn(struct iod_task *task, void *arg)
{
    struct count_arg *a = arg;
    a->n++;
    a->idsum += task->id;
}

Test(tasks, foreach_visits_exactly_the_outstanding_tasks)
{
    setup(8, 16);
    struct iod_task *x[10];
    for (int i = 0; i < 10; i++)
        x[i] = start(1, i < 8 ? CREDIT : NO_CREDIT);
    iod_tasks_finish(&t, x[2], CREDIT);
    iod_tasks_finish(&t, x[9], NO_CREDIT);
    struct count_arg a = {0, 0};
    iod_tasks_foreach(&t, count_fn, &a);
    cr_assert_eq(a.n, 8);
    cr_assert_eq(a.idsum, 55 - 3 - 10);
}

/* Random starts and finishes against a plain reference list. */
static void stress(uint32_t c, uint32_t s, uint64_t first_id, unsigned seed, int steps)
{
    setup(c, s);
    t.next_id = first_id;
    uint32_t cap = c + s;
    uint64_t *live = calloc(cap, sizeof *live);
    bool *live_credit = calloc(cap, sizeof *live_credit);
    uint64_t *gone = calloc((size_t)steps + 1, sizeof *gone);
    cr_assert(live && live_credit && gone);
    uint32_t nlive = 0, ncredit = 0;
    size_t ngone = 0;
    srand(seed);
    for (int step = 0; step < steps; step++) {
        int r = rand() % 100;
        if (r < 55 && nlive < cap) {
            bool credit = (rand() & 1) != 0;
            if (credit && iod_tasks_check_room(&t, CREDIT) != 0)
                credit = false;
            if (!credit && iod_tasks_check_room(&t, NO_CREDIT) != 0) {
                if (iod_tasks_check_room(&t, CREDIT) != 0)
                    continue;
                credit = true;
            }
            uint64_t want = t.next_id;
            struct iod_task *x = iod_tasks_start(&t, credit ? 1 : 3, 0, credit);
            cr_assert_not_null(x, "step %d", step);
            cr_assert_eq(x->id, want);
            live[nlive] = x->id;
            live_credit[nlive] = credit;
            nlive++;
            ncredit += credit;
        } else if (nlive > 0) {
            uint32_t i = (uint32_t)rand() % nlive;
            struct iod_task *x = iod_tasks_find(&t, live[i]);
            cr_assert_not_null(x, "step %d id %llu", step, (unsigned long long)live[i]);
            cr_assert_eq(x->id, live[i]);
            bool credit = live_credit[i];
            if (rand() % 8 == 0 && live[i] + 1 == t.next_id) {
                iod_tasks_rollback(&t, x, credit);
            } else {
                iod_tasks_finish(&t, x, credit);
                gone[ngone++] = live[i];
            }
            ncredit -= credit;
            live[i] = live[nlive - 1];
            live_credit[i] = live_credit[nlive - 1];
            nlive--;
        }
        cr_assert_eq(t.outstanding, nlive);
        cr_assert_eq(t.outstanding_credit, ncredit);
        cr_assert_eq(iod_tasks_credits_remaining(&t), c - ncredit);
        if (step % 97 == 0) {
            for (uint32_t i = 0; i < nlive; i++) {
                struct iod_task *x = iod_tasks_find(&t, live[i]);
                cr_assert_not_null(x);
                cr_assert_eq(x->id, live[i]);
            }
            for (size_t i = ngone > 64 ? ngone - 64 : 0; i < ngone; i++)
                cr_assert_null(iod_tasks_find(&t, gone[i]), "finished id %llu still found",
                               (unsigned long long)gone[i]);
            cr_assert_null(iod_tasks_find(&t, t.next_id));
        }
    }
    for (uint32_t i = 0; i < nlive; i++)
        cr_assert_eq(iod_tasks_find(&t, live[i])->id, live[i]);
    free(live);
    free(live_credit);
    free(gone);
}

Test(tasks, map_stress_small)
{
    stress(1, 2, 1, 1, 20000);
}

Test(tasks, map_stress_default_sizes)
{
    stress(32, 64, 1, 2, 200000);
}

Test(tasks, map_stress_large_ids)
{
    stress(100, 128, (1ull << 40) + 12345, 3, 200000);
}

Test(tasks, map_stress_near_reserved_range)
{
    stress(7, 8, UINT64_MAX - 16 - 50000, 4, 60000);
}

Test(tasks, map_full_then_drain_in_random_order)
{
    setup(63, 64);
    uint64_t ids[127];
    for (int i = 0; i < 64; i++)
        ids[i] = start(3, NO_CREDIT)->id;
    for (int i = 64; i < 127; i++)
        ids[i] = start(1, CREDIT)->id;
    cr_assert_null(iod_tasks_start(&t, 1, 0, NO_CREDIT));
    srand(7);
    for (int n = 127; n > 0; n--) {
        int i = rand() % n;
        struct iod_task *x = iod_tasks_find(&t, ids[i]);
        cr_assert_not_null(x);
        iod_tasks_finish(&t, x, ids[i] > 64);
        cr_assert_null(iod_tasks_find(&t, ids[i]));
        ids[i] = ids[n - 1];
        for (int j = 0; j < n - 1; j++)
            cr_assert_not_null(iod_tasks_find(&t, ids[j]));
    }
    cr_assert_eq(t.outstanding, 0);
    cr_assert_eq(iod_tasks_credits_remaining(&t), 63);
}
