/* The io_uring probe run once by the supervisor before the socket exists: it
 * builds one ring exactly as a worker would, records the kernel's features and
 * supported opcodes, and turns every failure into the exact message of §17. */
#include "probe.h"
#include "ring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const int opcode_of_bit[12] = {
    IORING_OP_NOP,          IORING_OP_TIMEOUT,    IORING_OP_READV,
    IORING_OP_WRITEV,       IORING_OP_ASYNC_CANCEL, IORING_OP_READ_FIXED,
    IORING_OP_WRITE_FIXED,  IORING_OP_POLL_ADD,   IORING_OP_CONNECT,
    IORING_OP_ACCEPT,       IORING_OP_OPENAT,     IORING_OP_CLOSE,
};

int iod_probe_opcode_of_bit(unsigned bit)
{
    return bit < 12 ? opcode_of_bit[bit] : -1;
}

static int policy_message(int err, char *msg, size_t cap)
{
    snprintf(msg, cap, "io_uring setup blocked by kernel policy or sandbox (%s)", strerror(err));
    return 1;
}

int iod_probe(uint32_t sq_entries, uint32_t nfiles, uint32_t nbufs, uint32_t buf_size,
              struct iod_probe_result *res, char *msg, size_t cap)
{
    struct iod_ring r;
    int ret = iod_ring_create(&r, sq_entries, 0);
    if (ret < 0) {
        int err = -ret;
        if (err == ENOSYS)
            snprintf(msg, cap, "io_uring setup is unavailable on this kernel (ENOSYS)");
        else if (err == EPERM || err == EACCES)
            policy_message(err, msg, cap);
        else
            snprintf(msg, cap, "io_uring initialization failed: %s", strerror(err));
        return 1;
    }

    struct io_uring_probe *p = io_uring_get_probe_ring(&r.ring);
    if (p == NULL) {
        /* liburing hides the errno; ask the kernel again to learn it. */
        union {
            struct io_uring_probe p;
            char room[sizeof(struct io_uring_probe) + sizeof(struct io_uring_probe_op)];
        } one;
        memset(&one, 0, sizeof one);
        int err = -io_uring_register_probe(&r.ring, &one.p, 1);
        iod_ring_destroy(&r);
        if (err == EPERM || err == EACCES)
            return policy_message(err, msg, cap);
        snprintf(msg, cap, "io_uring initialization failed: %s", strerror(err > 0 ? err : ENOMEM));
        return 1;
    }
    uint32_t mask = 0;
    for (unsigned bit = 0; bit < 12; bit++)
        if (io_uring_opcode_supported(p, opcode_of_bit[bit]))
            mask |= 1u << bit;
    res->openat2 = io_uring_opcode_supported(p, IORING_OP_OPENAT2);
    io_uring_free_probe(p);
    if (mask == 0) {
        iod_ring_destroy(&r);
        snprintf(msg, cap, "io_uring probe reported no supported operations (ENOTSUP)");
        return 1;
    }
    if (r.sq_entries != sq_entries) {
        snprintf(msg, cap, "io_uring ring capacity %u is outside the supported range", r.sq_entries);
        iod_ring_destroy(&r);
        return 1;
    }

    enum iod_ring_step step = IOD_RING_STEP_SETUP;
    ret = iod_ring_register_tables(&r, nfiles, nbufs, buf_size, &step);
    if (ret < 0) {
        static const char *const what[] = {
            [IOD_RING_STEP_SETUP] = "io_uring initialization",
            [IOD_RING_STEP_BUFFER_STORAGE] = "allocating registered buffer storage",
            [IOD_RING_STEP_FILE_TABLE] = "registering fixed file table",
            [IOD_RING_STEP_BUFFER_IOVECS] = "allocating registered buffer iovecs",
            [IOD_RING_STEP_BUFFERS] = "registering fixed buffers",
        };
        snprintf(msg, cap, "%s failed: %s", what[step], strerror(-ret));
        iod_ring_destroy(&r);
        return 1;
    }
    res->features = r.features;
    res->op_mask = mask;
    res->sq_entries = r.sq_entries;
    res->cq_entries = r.cq_entries;
    iod_ring_destroy(&r);
    return 0;
}
