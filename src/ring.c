/* Ring construction shared by the startup probe and the workers, so that what
 * the probe proved possible is exactly what a worker will do. */
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int iod_ring_create(struct iod_ring *r, uint32_t entries, unsigned flags)
{
    memset(r, 0, sizeof *r);
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER;
    p.cq_entries = 2 * entries;
    int ret = io_uring_queue_init_params(entries, &r->ring, &p);
    if (ret == -EINVAL) {
        /* Kernels before 6.0 lack SINGLE_ISSUER. */
        memset(&p, 0, sizeof p);
        p.flags = flags | IORING_SETUP_CQSIZE;
        p.cq_entries = 2 * entries;
        ret = io_uring_queue_init_params(entries, &r->ring, &p);
    }
    if (ret < 0)
        return ret;
    r->features = p.features;
    r->sq_entries = p.sq_entries;
    r->cq_entries = p.cq_entries;
    r->live = 1;
    return 0;
}

int iod_ring_register_tables(struct iod_ring *r, uint32_t nfiles, uint32_t nbufs,
                             uint32_t buf_size, enum iod_ring_step *failed)
{
    int ret;
    r->nbufs = nbufs;
    r->buf_size = buf_size;
    r->buf_mem_size = (size_t)nbufs * buf_size;
    void *mem = mmap(NULL, r->buf_mem_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        r->buf_mem = NULL;
        *failed = IOD_RING_STEP_BUFFER_STORAGE;
        return -errno;
    }
    r->buf_mem = mem;
    ret = io_uring_register_files_sparse(&r->ring, nfiles);
    if (ret < 0) {
        *failed = IOD_RING_STEP_FILE_TABLE;
        return ret;
    }
    r->iovs = calloc(nbufs, sizeof *r->iovs);
    if (r->iovs == NULL) {
        *failed = IOD_RING_STEP_BUFFER_IOVECS;
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < nbufs; i++) {
        r->iovs[i].iov_base = r->buf_mem + (size_t)i * buf_size;
        r->iovs[i].iov_len = buf_size;
    }
    ret = io_uring_register_buffers(&r->ring, r->iovs, nbufs);
    if (ret < 0) {
        *failed = IOD_RING_STEP_BUFFERS;
        return ret;
    }
    return 0;
}

uint8_t *iod_ring_buffer(const struct iod_ring *r, uint32_t i)
{
    return r->buf_mem + (size_t)i * r->buf_size;
}

void iod_ring_destroy(struct iod_ring *r)
{
    if (r->live)
        io_uring_queue_exit(&r->ring);
    r->live = 0;
    free(r->iovs);
    r->iovs = NULL;
    if (r->buf_mem)
        munmap(r->buf_mem, r->buf_mem_size);
    r->buf_mem = NULL;
}
