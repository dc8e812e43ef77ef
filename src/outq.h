/* A connection's output queue of whole records (§2.6): appended in order,
 * sent without blocking, the rest kept for the next writable event. */
#ifndef IOD_OUTQ_H
#define IOD_OUTQ_H

#include <stddef.h>
#include <stdint.h>

struct iod_outq {
    uint8_t *buf;
    size_t head, tail, cap;
};

void iod_outq_init(struct iod_outq *q);
void iod_outq_free(struct iod_outq *q);
/* Appends a record and its payload as one unit. 0 or -ENOMEM. */
int iod_outq_append(struct iod_outq *q, const void *rec, size_t len, const void *payload,
                    size_t plen);
size_t iod_outq_pending(const struct iod_outq *q);
/* Sends what the socket takes now. 0 (maybe with bytes left) or -errno for
 * an error that ends the connection. */
int iod_outq_flush(struct iod_outq *q, int fd);

#endif
