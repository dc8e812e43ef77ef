/* Monotonic time in nanoseconds, for trace timestamps and deadlines. */
#ifndef IOD_CLOCK_H
#define IOD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t iod_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
