/* Output queue: a flat byte buffer compacted on demand. Its size is bounded
 * by §2.6 (high-water mark + largest reply + outstanding completions), so it
 * never grows without limit. */
#include "outq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void iod_outq_init(struct iod_outq *q)
{
    memset(q, 0, sizeof *q);
}

void iod_outq_free(struct iod_outq *q)
{
    free(q->buf);
    memset(q, 0, sizeof *q);
}

size_t iod_outq_pending(const struct iod_outq *q)
{
    return q->tail - q->head;
}

int iod_outq_append(struct iod_outq *q, const void *rec, size_t len, const void *payload,
                    size_t plen)
{
    size_t need = len + plen;
    if (q->cap - q->tail < need) {
        size_t used = q->tail - q->head;
        if (q->head > 0) {
            memmove(q->buf, q->buf + q->head, used);
            q->head = 0;
            q->tail = used;
        }
        if (q->cap - q->tail < need) {
            size_t ncap = q->cap ? q->cap : 4096;
            while (ncap - used < need)
                ncap *= 2;
            uint8_t *nb = realloc(q->buf, ncap);
            if (nb == NULL)
                return -ENOMEM;
            q->buf = nb;
            q->cap = ncap;
        }
    }
    memcpy(q->buf + q->tail, rec, len);
    if (plen)
        memcpy(q->buf + q->tail + len, payload, plen);
    q->tail += need;
    return 0;
}

int iod_outq_flush(struct iod_outq *q, int fd)
{
    while (q->head < q->tail) {
        ssize_t n = send(fd, q->buf + q->head, q->tail - q->head, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        q->head += (size_t)n;
    }
    q->head = q->tail = 0;
    return 0;
}
