/* The startup probe (§17 steps 3-6) and its exact failure messages. */
#ifndef IOD_PROBE_H
#define IOD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iod_probe_result {
    uint32_t features;
    uint32_t op_mask;
    uint32_t sq_entries;
    uint32_t cq_entries;
    bool openat2; /* IORING_OP_OPENAT2, needed by --openat-root */
};

/* 0 on success; otherwise the exit status (1) and `msg` holds the message
 * without the "iouringd: " prefix. */
int iod_probe(uint32_t sq_entries, uint32_t nfiles, uint32_t nbufs, uint32_t buf_size,
              struct iod_probe_result *r, char *msg, size_t cap);
/* op bit (§1.3) -> IORING_OP_* code, for i in 0..11 */
int iod_probe_opcode_of_bit(unsigned bit);

#endif
