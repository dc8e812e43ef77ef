/* /proc readers shared by the unit and integration suites. */
#include "proc.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

bool proc_status_field(pid_t pid, const char *key, char *out, size_t cap)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    bool found = false;
    size_t klen = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ':')
            continue;
        size_t o = 0;
        bool space = false;
        for (const char *s = line + klen + 1; *s && *s != '\n'; s++) {
            if (*s == ' ' || *s == '\t') {
                space = o > 0;
                continue;
            }
            if (space && o + 1 < cap)
                out[o++] = ' ';
            space = false;
            if (o + 1 < cap)
                out[o++] = *s;
        }
        out[o] = '\0';
        found = true;
    }
    fclose(f);
    return found;
}

void proc_assert_status(pid_t pid, const char *key, const char *want)
{
    char got[256];
    cr_assert(proc_status_field(pid, key, got, sizeof got), "no %s: in /proc/%d/status", key,
              (int)pid);
    cr_assert_str_eq(got, want, "/proc/%d/status %s: \"%s\", want \"%s\"", (int)pid, key, got,
                     want);
}

void proc_limit(pid_t pid, const char *row, long long *soft, long long *hard)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "re");
    cr_assert(f != NULL, "%s: %s", path, strerror(errno));
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, row, strlen(row)) != 0)
            continue;
        char s[32], h[32];
        cr_assert_eq(sscanf(line + strlen(row), " %31s %31s", s, h), 2, "limits row: %s", line);
        *soft = strcmp(s, "unlimited") == 0 ? -1 : atoll(s);
        *hard = strcmp(h, "unlimited") == 0 ? -1 : atoll(h);
        found = true;
    }
    fclose(f);
    cr_assert(found, "no \"%s\" row in %s", row, path);
}

void proc_assert_limit(pid_t pid, const char *row, long long want)
{
    long long soft, hard;
    proc_limit(pid, row, &soft, &hard);
    cr_assert(soft == want && hard == want, "%s of %d: %lld/%lld, want %lld/%lld", row,
              (int)pid, soft, hard, want, want);
}

long long proc_expected_limit(int resource, unsigned long long value)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(resource, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && value > rl.rlim_max)
        value = rl.rlim_max;
    return (long long)value;
}
