/* /proc readers shared by the unit and integration suites (criterion
 * asserts on failure where noted). */
#ifndef IOD_TEST_PROC_H
#define IOD_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The value of "Key:" in /proc/pid/status, blank runs collapsed to one space;
 * false if the process or the key is missing. */
bool proc_status_field(pid_t pid, const char *key, char *out, size_t cap);
/* Asserts "Key:" is exactly `want`. */
void proc_assert_status(pid_t pid, const char *key, const char *want);
/* Soft and hard value of a /proc/pid/limits row ("Max open files"); -1 means
 * unlimited. Asserts the row exists. */
void proc_limit(pid_t pid, const char *row, long long *soft, long long *hard);
/* Asserts soft and hard of the row are both `want`. */
void proc_assert_limit(pid_t pid, const char *row, long long want);
/* What a worker's bring-up sets for `value`, given this process's own hard
 * limit: it never raises one. */
long long proc_expected_limit(int resource, unsigned long long value);

#endif
