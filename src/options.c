/* Command-line parsing by the rules of §16, in their order. Pure: the caller
 * prints and exits. */
#include "options.h"

#include <errno.h>
#include <string.h>

const char iod_usage_text[] =
    "usage: iouringd [--ring-entries N] [--per-client-credits N] [--max-clients N]\n"
    "                [--max-clients-per-uid N] [--registered-fds N] [--registered-buffers N]\n"
    "                [--io-bytes-max N] [--job-id N] [--trace-stderr] [--quiet]\n"
    "                [--seccomp-mode enforce|log] [--worker-user NAME] [--openat-root DIR]\n"
    "                SOCKET_PATH\n"
    "       iouringd --help | --version | --check | --dump-policy\n"
    "\n"
    "  --ring-entries N         2..4096, default 64: caps each worker ring (credits <= N-1)\n"
    "  --per-client-credits N   1..4095, default 32: credits per connection\n"
    "  --max-clients N          1..4096, default 64: most live workers; listen backlog\n"
    "  --max-clients-per-uid N  1..4096, default none: most live workers per peer uid\n"
    "  --registered-fds N       1..1024, default 32: file slots per connection\n"
    "  --registered-buffers N   1..64, default 1: buffer slots per connection\n"
    "  --io-bytes-max N         1..65535, default 4096: largest payload, buffer size\n"
    "  --job-id N               0..18446744073709551615: job_id=N in stderr lines\n"
    "  --trace-stderr           metrics and trace lines on stderr\n"
    "  --quiet                  no lifecycle log (start, admissions, worker exits, shutdown)\n"
    "  --seccomp-mode MODE      enforce (default): a forbidden syscall kills the worker;\n"
    "                           log: it is only logged by the kernel\n"
    "  --worker-user NAME       started as root: workers run as NAME's uid/gid\n"
    "  --openat-root DIR        OPENAT paths resolve beneath DIR only\n"
    "  --help                   this text\n"
    "  --version                version and protocol\n"
    "  --check                  report whether io_uring, seccomp and ring restrictions\n"
    "                           work here; exit 0 if all do, else 1\n"
    "  --dump-policy            print the worker seccomp filter (libseccomp PFC)\n";

struct valued_option {
    const char *name;
    uint64_t min, max;
    size_t offset; /* of a uint32_t field; SIZE_MAX for --job-id */
};

/* Options whose value is a string (any non-empty text). */
static const struct {
    const char *name;
    size_t offset; /* of a const char * field */
} string_options[] = {
    {"--worker-user", offsetof(struct iod_options, worker_user)},
    {"--openat-root", offsetof(struct iod_options, openat_root)},
    {"--seccomp-mode", SIZE_MAX},
};

static const struct valued_option valued[] = {
    {"--ring-entries", 2, 4096, offsetof(struct iod_options, ring_entries)},
    {"--per-client-credits", 1, 4095, offsetof(struct iod_options, per_client_credits)},
    {"--max-clients", 1, 4096, offsetof(struct iod_options, max_clients)},
    {"--max-clients-per-uid", 1, 4096, offsetof(struct iod_options, max_clients_per_uid)},
    {"--registered-fds", 1, 1024, offsetof(struct iod_options, registered_fds)},
    {"--registered-buffers", 1, 64, offsetof(struct iod_options, registered_buffers)},
    {"--io-bytes-max", 1, 65535, offsetof(struct iod_options, io_bytes_max)},
    {"--job-id", 0, UINT64_MAX, SIZE_MAX},
};

void iod_options_defaults(struct iod_options *o)
{
    memset(o, 0, sizeof *o);
    o->ring_entries = 64;
    o->per_client_credits = 32;
    o->max_clients = 64;
    o->max_clients_per_uid = 0;
    o->registered_fds = 32;
    o->registered_buffers = 1;
    o->io_bytes_max = 4096;
}

int iod_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s == NULL || *s == '\0')
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

enum iod_parse_result iod_options_parse(struct iod_options *o, int argc, char *const argv[],
                                        const char **err, const char **bad_arg)
{
    *err = NULL;
    *bad_arg = NULL;
    if (argc < 2)
        return IOD_PARSE_NO_ARGS;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0)
            return IOD_PARSE_HELP;
        if (strcmp(argv[i], "--version") == 0)
            return IOD_PARSE_VERSION;
        if (strcmp(argv[i], "--check") == 0)
            return IOD_PARSE_CHECK;
        if (strcmp(argv[i], "--dump-policy") == 0)
            return IOD_PARSE_DUMP_POLICY;
    }
    const char *path = argv[argc - 1];
    if (*path == '\0') {
        *err = "empty socket path";
        return IOD_PARSE_USAGE;
    }
    for (int i = 1; i < argc - 1; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--trace-stderr") == 0) {
            o->trace_stderr = true;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            o->quiet = true;
            continue;
        }
        int sk = -1;
        for (size_t k = 0; k < sizeof string_options / sizeof string_options[0]; k++)
            if (strcmp(a, string_options[k].name) == 0)
                sk = (int)k;
        if (sk >= 0) {
            *bad_arg = a;
            if (i + 1 >= argc - 1) {
                *err = "missing value for";
                return IOD_PARSE_USAGE;
            }
            const char *v = argv[++i];
            if (*v == '\0') {
                *err = "bad value for";
                return IOD_PARSE_USAGE;
            }
            if (string_options[sk].offset == SIZE_MAX) {
                if (strcmp(v, "enforce") != 0 && strcmp(v, "log") != 0) {
                    *err = "bad value for";
                    return IOD_PARSE_USAGE;
                }
                o->seccomp_log = strcmp(v, "log") == 0;
            } else {
                memcpy((char *)o + string_options[sk].offset, &v, sizeof v);
            }
            continue;
        }
        const struct valued_option *opt = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            if (strcmp(a, valued[k].name) == 0)
                opt = &valued[k];
        *bad_arg = a;
        if (opt == NULL) {
            *err = "unknown option";
            return IOD_PARSE_USAGE;
        }
        /* The value may not be the last argument: that is SOCKET_PATH. */
        if (i + 1 >= argc - 1) {
            *err = "missing value for";
            return IOD_PARSE_USAGE;
        }
        uint64_t v;
        if (iod_parse_u64(argv[i + 1], opt->min, opt->max, &v) != 0) {
            *err = "bad value for";
            return IOD_PARSE_USAGE;
        }
        if (opt->offset == SIZE_MAX) {
            o->job_id = v;
            o->has_job_id = true;
        } else {
            uint32_t v32 = (uint32_t)v;
            memcpy((char *)o + opt->offset, &v32, sizeof v32);
        }
        i++;
    }
    *bad_arg = NULL;
    o->socket_path = path;
    return IOD_PARSE_RUN;
}

uint32_t iod_options_credits(const struct iod_options *o)
{
    uint32_t c = o->per_client_credits;
    return c < o->ring_entries - 1 ? c : o->ring_entries - 1;
}

uint32_t iod_options_sq_entries(const struct iod_options *o)
{
    uint32_t need = iod_options_credits(o) + 1, s = 1;
    while (s < need)
        s <<= 1;
    return s;
}
