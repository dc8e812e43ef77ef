/* A worker-shaped io_uring: created by the startup probe and by every worker,
 * exactly the same way (§17): S entries, CQ = 2 S, SINGLE_ISSUER when the
 * kernel has it, a sparse fixed-file table and the fixed buffers. */
#ifndef IOD_RING_H
#define IOD_RING_H

#include <liburing.h>
#include <stdint.h>
#include <sys/uio.h>

enum iod_ring_step {
    IOD_RING_STEP_SETUP,
    IOD_RING_STEP_BUFFER_STORAGE,
    IOD_RING_STEP_FILE_TABLE,
    IOD_RING_STEP_BUFFER_IOVECS,
    IOD_RING_STEP_BUFFERS,
};

struct iod_ring {
    struct io_uring ring;
    unsigned features;
    unsigned sq_entries, cq_entries;
    uint8_t *buf_mem;
    size_t buf_mem_size;
    struct iovec *iovs;
    uint32_t nbufs;
    uint32_t buf_size;
    int live;
};

/* 0 or -errno. `flags` are added to the setup flags (e.g. R_DISABLED). */
int iod_ring_create(struct iod_ring *r, uint32_t entries, unsigned flags);
/* Sparse file table of nfiles, nbufs buffers of buf_size bytes. 0 or -errno,
 * and *failed names the step. */
int iod_ring_register_tables(struct iod_ring *r, uint32_t nfiles, uint32_t nbufs,
                             uint32_t buf_size, enum iod_ring_step *failed);
void iod_ring_destroy(struct iod_ring *r);
/* Start of buffer i's memory. */
uint8_t *iod_ring_buffer(const struct iod_ring *r, uint32_t i);

#endif
