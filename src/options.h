/* Command-line options of iouringd (§16): pure parsing, no I/O. */
#ifndef IOD_OPTIONS_H
#define IOD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iod_options {
    uint32_t ring_entries;
    uint32_t per_client_credits;
    uint32_t max_clients;
    uint32_t max_clients_per_uid; /* 0 = no limit */
    uint32_t registered_fds;
    uint32_t registered_buffers;
    uint32_t io_bytes_max;
    uint64_t job_id;
    bool has_job_id;
    bool trace_stderr;
    bool seccomp_log;          /* --seccomp-mode log */
    bool quiet;                /* --quiet: no lifecycle log */
    const char *worker_user;   /* --worker-user NAME, or NULL */
    const char *openat_root;   /* --openat-root DIR, or NULL */
    const char *socket_path;
};

enum iod_parse_result {
    IOD_PARSE_RUN,
    IOD_PARSE_HELP,
    IOD_PARSE_VERSION,
    IOD_PARSE_CHECK,       /* --check: posture report */
    IOD_PARSE_DUMP_POLICY, /* --dump-policy: the seccomp filter as PFC */
    IOD_PARSE_NO_ARGS, /* exit 2, print nothing (as 0.1) */
    IOD_PARSE_USAGE    /* exit 2 with usage; err names the argument */
};

void iod_options_defaults(struct iod_options *o);
/* argv[0] is the program name. On IOD_PARSE_USAGE, *err points to a short
 * static description and *bad_arg to the offending argument (may be NULL). */
enum iod_parse_result iod_options_parse(struct iod_options *o, int argc, char *const argv[],
                                        const char **err, const char **bad_arg);
/* Strict base-10 digits only, within [min, max]. 0 or -EINVAL/-ERANGE. */
int iod_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* C = min(per_client_credits, ring_entries - 1); S = next pow2 >= C + 1. */
uint32_t iod_options_credits(const struct iod_options *o);
uint32_t iod_options_sq_entries(const struct iod_options *o);

extern const char iod_usage_text[];

#endif
