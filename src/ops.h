/* Task kind -> SQE preparation, and kernel completion -> completion record
 * (§4.4), with the resource effects of each kind. */
#ifndef IOD_OPS_H
#define IOD_OPS_H

#include <liburing.h>
#include <stdint.h>

#include "session.h"

/* What the checks found, for prepare to use without looking again. */
struct iod_op_plan {
    int32_t file_slot;
    uint32_t file_id;
    int32_t buf_slot;
    uint32_t buf_id;
    int32_t new_slot;
};

/* Semantic checks S3 and S4 of §4.3 for a task request whose framing passed.
 * 0 or the -errno of the reject. */
int iod_ops_check(const struct iod_session *s, uint16_t kind, const uint8_t *msg,
                  struct iod_op_plan *plan);
/* Takes the resources the task needs and prepares its SQE. 0 or -errno (the
 * caller then rolls back with iod_ops_unprepare). */
int iod_ops_prepare(struct iod_session *s, struct iod_task *t, const uint8_t *msg,
                    const struct iod_op_plan *plan, struct io_uring_sqe *sqe);
/* Undoes iod_ops_prepare after a failed submission (§4.3 S5). */
void iod_ops_unprepare(struct iod_session *s, struct iod_task *t);
/* Applies the kernel result: transformation and resource effects. Returns the
 * record's res and sets the payload (pointing into task memory) and, for the
 * trace, the resource id. `delivered` is false after the connection ended:
 * a new descriptor is then closed and reported as -ECANCELED. */
int32_t iod_ops_complete(struct iod_session *s, struct iod_task *t, int32_t kres,
                         bool delivered, const void **payload, uint16_t *plen,
                         uint32_t *trace_resource);
/* The requested file resource of a task request, for submit trace events. */
uint32_t iod_ops_request_resource(uint16_t kind, const uint8_t *msg);
/* The requested length (trace `bytes`) of a task request of kinds 4..9. */
uint32_t iod_ops_request_bytes(uint16_t kind, const uint8_t *msg);
/* Removes slot's descriptor from the ring's fixed-file table. 0 or -errno. */
int iod_ops_clear_slot(struct iod_session *s, int32_t slot);

#endif
