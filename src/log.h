/* One line, one write(2) to stderr: lines from the supervisor and from every
 * worker share the same stderr and must never interleave (§15.2). */
#ifndef IOD_LOG_H
#define IOD_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define IOD_LINE_MAX 4096

/* Formats one line (the format must end in "\n") and writes it whole. */
void iod_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* " job_id=N" or " job_id=-" (§15.2 <JOB>), into buf. */
const char *iod_job_field(char *buf, size_t cap, bool has_job_id, uint64_t job_id);
/* Writes all of buf to fd 2 in one write, retrying on EINTR. */
void iod_write_line(const char *buf, size_t len);

#endif
