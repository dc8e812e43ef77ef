/* `iouringd --check` (posture report) and `iouringd --dump-policy`. */
#ifndef IOD_CHECK_H
#define IOD_CHECK_H

#include <stdio.h>

/* Prints the report; returns 0 if io_uring, seccomp and ring restrictions all
 * work here, else 1. */
int iod_check_run(FILE *out);
/* Prints the compiled worker seccomp filter in libseccomp's PFC form. */
int iod_check_dump_policy(FILE *out);

#endif
