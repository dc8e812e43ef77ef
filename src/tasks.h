/* One connection's outstanding tasks, task ids and credits (§6, §7).
 * Pure bookkeeping: no ring, no socket; unit-tested directly. */
#ifndef IOD_TASKS_H
#define IOD_TASKS_H

#include <linux/time_types.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct iod_task {
    uint64_t id;
    uint16_t kind;
    uint16_t priority;
    uint32_t file_id;   /* resource id of the file named, 0 if none */
    int32_t file_slot;  /* its slot, -1 if none */
    uint32_t buf_id;
    int32_t buf_slot;
    uint32_t new_id;    /* ACCEPT/OPENAT: reserved resource id */
    int32_t new_slot;   /* ACCEPT/OPENAT: reserved file slot */
    uint32_t length;    /* requested length (trace `bytes`) */
    uint8_t *data;      /* owned: read buffer, write data, path, address */
    socklen_t addrlen;  /* ACCEPT: in/out address length */
    struct __kernel_timespec ts;
    struct iovec iov;
};

struct iod_tasks {
    struct iod_task *pool;
    uint32_t cap;          /* S + C: the most tasks ever outstanding */
    uint32_t *free_stack;
    uint32_t nfree;
    uint32_t *map;         /* open addressing: pool index + 1, 0 = empty */
    uint32_t map_mask;
    uint32_t credits;      /* C */
    uint32_t sq_entries;   /* S */
    uint32_t outstanding;  /* all kinds */
    uint32_t outstanding_credit;
    uint64_t next_id;
};

int iod_tasks_init(struct iod_tasks *t, uint32_t credits, uint32_t sq_entries);
void iod_tasks_destroy(struct iod_tasks *t);

/* S1: 0 if a task of this kind may be accepted now, else -EAGAIN. */
int iod_tasks_check_room(const struct iod_tasks *t, bool holds_credit);
/* true once the next id would fall in the reserved range (-EOVERFLOW). */
bool iod_tasks_ids_exhausted(const struct iod_tasks *t);
/* Takes the next id and, if it holds one, a credit. The room and the id must
 * have been checked. */
struct iod_task *iod_tasks_start(struct iod_tasks *t, uint16_t kind, uint16_t priority,
                                 bool holds_credit);
/* Undo iod_tasks_start after a failed submission: the id is issued again. */
void iod_tasks_rollback(struct iod_tasks *t, struct iod_task *task, bool holds_credit);
/* The task completed: returns its credit and frees it (and its data). */
void iod_tasks_finish(struct iod_tasks *t, struct iod_task *task, bool holds_credit);
struct iod_task *iod_tasks_find(const struct iod_tasks *t, uint64_t id);
uint32_t iod_tasks_credits_remaining(const struct iod_tasks *t);
/* Calls fn for every outstanding task. */
void iod_tasks_foreach(struct iod_tasks *t, void (*fn)(struct iod_task *, void *), void *arg);

#endif
