/* Outstanding tasks of one connection: a fixed pool of S + C entries (the
 * most that can be outstanding), found by task id through an open-addressing
 * map, plus the id counter and credit accounting. */
#include "tasks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iouringd/protocol.h>

static uint32_t hash_id(uint64_t id, uint32_t mask)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (uint32_t)id & mask;
}

int iod_tasks_init(struct iod_tasks *t, uint32_t credits, uint32_t sq_entries)
{
    memset(t, 0, sizeof *t);
    t->credits = credits;
    t->sq_entries = sq_entries;
    t->cap = credits + sq_entries;
    uint32_t msize = 1;
    while (msize < 2 * t->cap)
        msize <<= 1;
    t->map_mask = msize - 1;
    t->pool = calloc(t->cap, sizeof *t->pool);
    t->free_stack = calloc(t->cap, sizeof *t->free_stack);
    t->map = calloc(msize, sizeof *t->map);
    if (!t->pool || !t->free_stack || !t->map) {
        iod_tasks_destroy(t);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < t->cap; i++)
        t->free_stack[i] = t->cap - 1 - i;
    t->nfree = t->cap;
    t->next_id = 1;
    return 0;
}

void iod_tasks_destroy(struct iod_tasks *t)
{
    if (t->pool)
        for (uint32_t i = 0; i < t->cap; i++)
            free(t->pool[i].data);
    free(t->pool);
    free(t->free_stack);
    free(t->map);
    memset(t, 0, sizeof *t);
}

int iod_tasks_check_room(const struct iod_tasks *t, bool holds_credit)
{
    if (holds_credit)
        return t->outstanding_credit < t->credits ? 0 : -EAGAIN;
    return t->outstanding < t->sq_entries ? 0 : -EAGAIN;
}

bool iod_tasks_ids_exhausted(const struct iod_tasks *t)
{
    return t->next_id >= IOURINGD_RESERVED_TASK_ID_MIN;
}

static void map_insert(struct iod_tasks *t, uint64_t id, uint32_t idx)
{
    uint32_t h = hash_id(id, t->map_mask);
    while (t->map[h] != 0)
        h = (h + 1) & t->map_mask;
    t->map[h] = idx + 1;
}

static uint32_t map_slot(const struct iod_tasks *t, uint64_t id)
{
    uint32_t h = hash_id(id, t->map_mask);
    while (t->map[h] != 0) {
        if (t->pool[t->map[h] - 1].id == id)
            return h;
        h = (h + 1) & t->map_mask;
    }
    return UINT32_MAX;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void map_remove(struct iod_tasks *t, uint32_t h)
{
    uint32_t hole = h;
    uint32_t j = h;
    for (;;) {
        j = (j + 1) & t->map_mask;
        if (t->map[j] == 0)
            break;
        uint32_t home = hash_id(t->pool[t->map[j] - 1].id, t->map_mask);
        /* Can the entry at j move into the hole? Only if its home is not in
         * the cyclic range (hole, j]. */
        bool in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            t->map[hole] = t->map[j];
            hole = j;
        }
    }
    t->map[hole] = 0;
}

struct iod_task *iod_tasks_start(struct iod_tasks *t, uint16_t kind, uint16_t priority,
                                 bool holds_credit)
{
    if (t->nfree == 0)
        return NULL;
    uint32_t idx = t->free_stack[--t->nfree];
    struct iod_task *task = &t->pool[idx];
    memset(task, 0, sizeof *task);
    task->id = t->next_id++;
    task->kind = kind;
    task->priority = priority;
    task->file_slot = task->buf_slot = task->new_slot = -1;
    map_insert(t, task->id, idx);
    t->outstanding++;
    if (holds_credit)
        t->outstanding_credit++;
    return task;
}

static void task_free(struct iod_tasks *t, struct iod_task *task, bool holds_credit)
{
    uint32_t h = map_slot(t, task->id);
    if (h != UINT32_MAX)
        map_remove(t, h);
    free(task->data);
    task->data = NULL;
    task->id = 0;
    t->free_stack[t->nfree++] = (uint32_t)(task - t->pool);
    t->outstanding--;
    if (holds_credit)
        t->outstanding_credit--;
}

void iod_tasks_rollback(struct iod_tasks *t, struct iod_task *task, bool holds_credit)
{
    uint64_t id = task->id;
    task_free(t, task, holds_credit);
    if (t->next_id == id + 1)
        t->next_id = id;
}

void iod_tasks_finish(struct iod_tasks *t, struct iod_task *task, bool holds_credit)
{
    task_free(t, task, holds_credit);
}

struct iod_task *iod_tasks_find(const struct iod_tasks *t, uint64_t id)
{
    if (id == 0)
        return NULL;
    uint32_t h = map_slot(t, id);
    return h == UINT32_MAX ? NULL : &t->pool[t->map[h] - 1];
}

uint32_t iod_tasks_credits_remaining(const struct iod_tasks *t)
{
    return t->credits - t->outstanding_credit;
}

void iod_tasks_foreach(struct iod_tasks *t, void (*fn)(struct iod_task *, void *), void *arg)
{
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->pool[i].id != 0)
            fn(&t->pool[i], arg);
}
