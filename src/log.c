/* Line output to stderr. Each call formats into a stack buffer and issues a
 * single write(2), so lines written by different processes stay whole. */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void iod_write_line(const char *buf, size_t len)
{
    ssize_t n;
    do {
        n = write(STDERR_FILENO, buf, len);
    } while (n < 0 && errno == EINTR);
}

void iod_line(const char *fmt, ...)
{
    char buf[IOD_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    if (len > 0 && buf[len - 1] != '\n')
        buf[len - 1] = '\n'; /* truncated: still a whole line */
    iod_write_line(buf, len);
}

const char *iod_job_field(char *buf, size_t cap, bool has_job_id, uint64_t job_id)
{
    if (has_job_id)
        snprintf(buf, cap, " job_id=%" PRIu64, job_id);
    else
        snprintf(buf, cap, " job_id=-");
    return buf;
}
