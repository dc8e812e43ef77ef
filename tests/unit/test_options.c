/* options: the §16 parsing rules in their order, every option's range, the
 * strict number syntax, and the credits / SQ size derivation of §1.4 and §6. */
#include "options.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <string.h>

static struct iod_options o;
static const char *err;
static const char *bad_arg;

/* parse("a", "b", NULL) runs iod_options_parse on {"iouringd", "a", "b"}. */
static enum iod_parse_result parse(const char *first, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"iouringd";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
        cr_assert_lt(argc, 63);
        argv[argc++] = (char *)a;
    }
    va_end(ap);
    argv[argc] = NULL;
    iod_options_defaults(&o);
    err = bad_arg = "unset";
    return iod_options_parse(&o, argc, argv, &err, &bad_arg);
}

#define RUN IOD_PARSE_RUN
#define USAGE IOD_PARSE_USAGE
#define HELP IOD_PARSE_HELP
#define VERSION IOD_PARSE_VERSION

/* ---- rule 1: no arguments --------------------------------------------- */

Test(options, no_arguments)
{
    char *argv[] = {(char *)"iouringd", NULL};
    iod_options_defaults(&o);
    cr_assert_eq(iod_options_parse(&o, 1, argv, &err, &bad_arg), IOD_PARSE_NO_ARGS);
}

/* ---- rule 2: --help / --version anywhere, first one decides ------------- */

Test(options, help_and_version_alone)
{
    cr_assert_eq(parse("--help", NULL), HELP);
    cr_assert_eq(parse("--version", NULL), VERSION);
}

Test(options, first_of_help_or_version_decides)
{
    cr_assert_eq(parse("--help", "--version", NULL), HELP);
    cr_assert_eq(parse("--version", "--help", NULL), VERSION);
    cr_assert_eq(parse("--trace-stderr", "--version", "sock", "--help", NULL), VERSION);
}

Test(options, help_or_version_wins_over_bad_arguments)
{
    cr_assert_eq(parse("--bogus", "--help", NULL), HELP);
    cr_assert_eq(parse("--ring-entries", "0", "--version", "sock", NULL), VERSION);
    cr_assert_eq(parse("--ring-entries", "--help", NULL), HELP, "even in a value position");
    cr_assert_eq(parse("--trace-stderr", "--help", NULL), HELP, "even as the last argument");
    cr_assert_eq(parse("x", "y", "z", "--version", "", NULL), VERSION, "even with an empty path");
    cr_assert_eq(parse("--io-bytes-max", "--version", "sock", NULL), VERSION);
}

Test(options, only_exact_help_and_version_count)
{
    cr_assert_eq(parse("--helpx", NULL), RUN);
    cr_assert_str_eq(o.socket_path, "--helpx");
    cr_assert_eq(parse("--HELP", NULL), RUN);
    cr_assert_eq(parse("-h", NULL), RUN);
    cr_assert_eq(parse("--version=1", NULL), RUN);
    cr_assert_eq(parse("-help", NULL), RUN);
    cr_assert_eq(parse("--versio", NULL), RUN);
    cr_assert_str_eq(o.socket_path, "--versio");
}

/* ---- rule 3: the last argument is SOCKET_PATH -------------------------- */

Test(options, socket_path_only_keeps_defaults)
{
    cr_assert_eq(parse("/tmp/iod.sock", NULL), RUN);
    cr_assert_str_eq(o.socket_path, "/tmp/iod.sock");
    cr_assert_eq(o.ring_entries, 64);
    cr_assert_eq(o.per_client_credits, 32);
    cr_assert_eq(o.max_clients, 64);
    cr_assert_eq(o.max_clients_per_uid, 0, "no per-uid limit by default");
    cr_assert_eq(o.registered_fds, 32);
    cr_assert_eq(o.registered_buffers, 1);
    cr_assert_eq(o.io_bytes_max, 4096);
    cr_assert_not(o.has_job_id);
    cr_assert_not(o.trace_stderr);
}

Test(options, last_argument_is_the_path_even_if_it_looks_like_an_option)
{
    cr_assert_eq(parse("--trace-stderr", NULL), RUN);
    cr_assert_str_eq(o.socket_path, "--trace-stderr");
    cr_assert_not(o.trace_stderr);
    cr_assert_eq(parse("--ring-entries", NULL), RUN);
    cr_assert_str_eq(o.socket_path, "--ring-entries");
    cr_assert_eq(o.ring_entries, 64);
    cr_assert_eq(parse("--ring-entries", "8", "--trace-stderr", NULL), RUN);
    cr_assert_str_eq(o.socket_path, "--trace-stderr");
    cr_assert_eq(o.ring_entries, 8);
    cr_assert_not(o.trace_stderr);
    cr_assert_eq(parse("--bogus", NULL), RUN);
    cr_assert_str_eq(o.socket_path, "--bogus");
    cr_assert_eq(parse("12", NULL), RUN);
    cr_assert_str_eq(o.socket_path, "12");
}

Test(options, empty_socket_path_is_usage)
{
    cr_assert_eq(parse("", NULL), USAGE);
    cr_assert_eq(parse("--trace-stderr", "", NULL), USAGE);
    cr_assert_eq(parse("--ring-entries", "8", "", NULL), USAGE);
    cr_assert_not_null(err);
}

/* ---- rule 4: earlier arguments are flags or option + value ------------- */

Test(options, trace_stderr_flag)
{
    cr_assert_eq(parse("--trace-stderr", "sock", NULL), RUN);
    cr_assert(o.trace_stderr);
    cr_assert_str_eq(o.socket_path, "sock");
    cr_assert_eq(parse("--trace-stderr", "--trace-stderr", "sock", NULL), RUN);
    cr_assert(o.trace_stderr);
}

Test(options, unknown_options_are_usage)
{
    cr_assert_eq(parse("--bogus", "sock", NULL), USAGE);
    cr_assert_not_null(err);
    cr_assert_eq(parse("-v", "sock", NULL), USAGE);
    cr_assert_eq(parse("--ring-entries=8", "sock", NULL), USAGE);
    cr_assert_eq(parse("--Ring-Entries", "8", "sock", NULL), USAGE);
    cr_assert_eq(parse("--trace-stderr=1", "sock", NULL), USAGE);
    cr_assert_eq(parse("extra", "sock", NULL), USAGE);
    cr_assert_eq(parse("", "sock", NULL), USAGE);
    cr_assert_eq(parse("--", "sock", NULL), USAGE);
    cr_assert_eq(parse("--ring-entries", "8", "--bogus", "sock", NULL), USAGE);
}

Test(options, missing_value_when_the_value_would_be_the_path)
{
    static const char *const opts[] = {
        "--ring-entries", "--per-client-credits", "--max-clients", "--max-clients-per-uid",
        "--registered-fds", "--registered-buffers", "--io-bytes-max", "--job-id",
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        cr_assert_eq(parse(opts[i], "8", NULL), USAGE, "%s 8 (8 is the path)", opts[i]);
        cr_assert_eq(parse("--trace-stderr", opts[i], "8", NULL), USAGE, "%s", opts[i]);
        cr_assert_eq(parse(opts[i], "8", opts[i], "9", NULL), USAGE, "%s", opts[i]);
    }
}

Test(options, a_value_is_not_taken_as_an_option)
{
    /* "--trace-stderr" as a value is a bad value, not the flag. */
    cr_assert_eq(parse("--ring-entries", "--trace-stderr", "sock", NULL), USAGE);
}

/* ---- rule 5: value syntax and ranges ----------------------------------- */

struct range {
    const char *name;
    const char *below, *min, *max, *above;
    uint32_t vmin, vmax;
    size_t off;
};

static const struct range ranges[] = {
    {"--ring-entries", "1", "2", "4096", "4097", 2, 4096,
     offsetof(struct iod_options, ring_entries)},
    {"--per-client-credits", "0", "1", "4095", "4096", 1, 4095,
     offsetof(struct iod_options, per_client_credits)},
    {"--max-clients", "0", "1", "4096", "4097", 1, 4096,
     offsetof(struct iod_options, max_clients)},
    {"--max-clients-per-uid", "0", "1", "4096", "4097", 1, 4096,
     offsetof(struct iod_options, max_clients_per_uid)},
    {"--registered-fds", "0", "1", "1024", "1025", 1, 1024,
     offsetof(struct iod_options, registered_fds)},
    {"--registered-buffers", "0", "1", "64", "65", 1, 64,
     offsetof(struct iod_options, registered_buffers)},
    {"--io-bytes-max", "0", "1", "65535", "65536", 1, 65535,
     offsetof(struct iod_options, io_bytes_max)},
};

static uint32_t field(size_t off)
{
    uint32_t v;
    memcpy(&v, (const char *)&o + off, sizeof v);
    return v;
}

Test(options, every_option_range_boundary)
{
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        const struct range *r = &ranges[i];
        cr_assert_eq(parse(r->name, r->below, "sock", NULL), USAGE, "%s %s", r->name, r->below);
        cr_assert_not_null(err);
        cr_assert_eq(parse(r->name, r->min, "sock", NULL), RUN, "%s %s", r->name, r->min);
        cr_assert_eq(field(r->off), r->vmin, "%s", r->name);
        cr_assert_str_eq(o.socket_path, "sock");
        cr_assert_eq(parse(r->name, r->max, "sock", NULL), RUN, "%s %s", r->name, r->max);
        cr_assert_eq(field(r->off), r->vmax, "%s", r->name);
        cr_assert_eq(parse(r->name, r->above, "sock", NULL), USAGE, "%s %s", r->name, r->above);
        cr_assert_eq(parse(r->name, "4294967296", "sock", NULL), USAGE, "%s 2^32", r->name);
        cr_assert_eq(parse(r->name, "4294967298", "sock", NULL), USAGE, "%s 2^32+2", r->name);
        cr_assert_eq(parse(r->name, "18446744073709551616", "sock", NULL), USAGE);
    }
}

Test(options, job_id_full_64_bit_range)
{
    cr_assert_eq(parse("--job-id", "0", "sock", NULL), RUN);
    cr_assert(o.has_job_id);
    cr_assert_eq(o.job_id, 0);
    cr_assert_eq(parse("--job-id", "7", "sock", NULL), RUN);
    cr_assert_eq(o.job_id, 7);
    cr_assert_eq(parse("--job-id", "4294967296", "sock", NULL), RUN, "wider than 0.1's 32 bits");
    cr_assert_eq(o.job_id, 4294967296ull);
    cr_assert_eq(parse("--job-id", "18446744073709551615", "sock", NULL), RUN);
    cr_assert_eq(o.job_id, UINT64_MAX);
    cr_assert_eq(parse("--job-id", "000018446744073709551615", "sock", NULL), RUN);
    cr_assert_eq(o.job_id, UINT64_MAX);
    cr_assert_eq(parse("--job-id", "18446744073709551616", "sock", NULL), USAGE);
    cr_assert_eq(parse("--job-id", "18446744073709551620", "sock", NULL), USAGE);
    cr_assert_eq(parse("--job-id", "99999999999999999999", "sock", NULL), USAGE);
    cr_assert_eq(parse("--job-id", "184467440737095516150", "sock", NULL), USAGE);
    cr_assert_eq(parse("--job-id", "-1", "sock", NULL), USAGE);
}

Test(options, leading_zeros_are_allowed)
{
    cr_assert_eq(parse("--ring-entries", "0008", "sock", NULL), RUN);
    cr_assert_eq(o.ring_entries, 8);
    cr_assert_eq(parse("--ring-entries", "000000000000000000000000000000064", "sock", NULL), RUN);
    cr_assert_eq(o.ring_entries, 64);
    cr_assert_eq(parse("--io-bytes-max", "065535", "sock", NULL), RUN);
    cr_assert_eq(o.io_bytes_max, 65535);
    cr_assert_eq(parse("--job-id", "00", "sock", NULL), RUN);
    cr_assert_eq(o.job_id, 0);
    cr_assert_eq(parse("--per-client-credits", "00", "sock", NULL), USAGE, "still 0");
}

Test(options, non_digit_values_are_rejected)
{
    static const char *const vals[] = {
        "",   "+8",  "-8",   " 8",  "8 ",   "\t8", "8\n", "0x10", "0X10", "1e2",
        "8.0", "8a", "a8",   "eight", "8,0", "0b11", "08x", "--8", "+", "-",
        "\xd9\xa3", /* ARABIC-INDIC DIGIT THREE */
    };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        cr_assert_eq(parse("--ring-entries", vals[i], "sock", NULL), USAGE, "value '%s'",
                     vals[i]);
        cr_assert_eq(parse("--job-id", vals[i], "sock", NULL), USAGE, "job-id '%s'", vals[i]);
    }
}

/* ---- rule 6: repeated options ------------------------------------------ */

Test(options, repeated_option_last_wins)
{
    cr_assert_eq(parse("--ring-entries", "8", "--ring-entries", "16", "sock", NULL), RUN);
    cr_assert_eq(o.ring_entries, 16);
    cr_assert_eq(parse("--job-id", "5", "--trace-stderr", "--job-id", "6", "sock", NULL), RUN);
    cr_assert_eq(o.job_id, 6);
    cr_assert(o.trace_stderr);
    cr_assert_eq(parse("--io-bytes-max", "100", "--registered-fds", "3", "--io-bytes-max",
                       "200", "sock", NULL),
                 RUN);
    cr_assert_eq(o.io_bytes_max, 200);
    cr_assert_eq(o.registered_fds, 3);
}

Test(options, every_value_is_checked_even_if_later_repeated)
{
    cr_assert_eq(parse("--ring-entries", "1", "--ring-entries", "8", "sock", NULL), USAGE);
    cr_assert_eq(parse("--ring-entries", "8", "--ring-entries", "x", "sock", NULL), USAGE);
}

Test(options, all_options_together)
{
    cr_assert_eq(parse("--ring-entries", "128", "--per-client-credits", "100", "--max-clients",
                       "10", "--max-clients-per-uid", "2", "--registered-fds", "1024",
                       "--registered-buffers", "64", "--io-bytes-max", "65535", "--job-id",
                       "42", "--trace-stderr", "/run/iod.sock", NULL),
                 RUN);
    cr_assert_eq(o.ring_entries, 128);
    cr_assert_eq(o.per_client_credits, 100);
    cr_assert_eq(o.max_clients, 10);
    cr_assert_eq(o.max_clients_per_uid, 2);
    cr_assert_eq(o.registered_fds, 1024);
    cr_assert_eq(o.registered_buffers, 64);
    cr_assert_eq(o.io_bytes_max, 65535);
    cr_assert(o.has_job_id);
    cr_assert_eq(o.job_id, 42);
    cr_assert(o.trace_stderr);
    cr_assert_str_eq(o.socket_path, "/run/iod.sock");
}

/* ---- iod_parse_u64 directly -------------------------------------------- */

Test(options, parse_u64)
{
    uint64_t v = 99;
    cr_assert_eq(iod_parse_u64("0", 0, 10, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(iod_parse_u64("10", 0, 10, &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_neq(iod_parse_u64("11", 0, 10, &v), 0);
    cr_assert_neq(iod_parse_u64("4", 5, 10, &v), 0);
    cr_assert_eq(iod_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_neq(iod_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), 0);
    cr_assert_neq(iod_parse_u64("", 0, 10, &v), 0);
    cr_assert_neq(iod_parse_u64(NULL, 0, 10, &v), 0);
    cr_assert_neq(iod_parse_u64(" 1", 0, 10, &v), 0);
    cr_assert_neq(iod_parse_u64("+1", 0, 10, &v), 0);
}

/* ---- credits C and SQ size S (§1.4, §6) --------------------------------- */

static void cs(const char *ring, const char *credits, uint32_t want_c, uint32_t want_s)
{
    enum iod_parse_result pr;
    if (ring && credits)
        pr = parse("--ring-entries", ring, "--per-client-credits", credits, "sock", NULL);
    else if (ring)
        pr = parse("--ring-entries", ring, "sock", NULL);
    else if (credits)
        pr = parse("--per-client-credits", credits, "sock", NULL);
    else
        pr = parse("sock", NULL);
    cr_assert_eq(pr, RUN);
    cr_assert_eq(iod_options_credits(&o), want_c, "ring %s credits %s: C", ring ? ring : "-",
                 credits ? credits : "-");
    cr_assert_eq(iod_options_sq_entries(&o), want_s, "ring %s credits %s: S",
                 ring ? ring : "-", credits ? credits : "-");
}

Test(options, credits_and_sq_table_of_section_6)
{
    cs(NULL, NULL, 32, 64);
    cs("2", NULL, 1, 2);
    cs("8", "2", 2, 4);
}

Test(options, credits_are_clamped_not_refused)
{
    cs("16", "100", 15, 16);
    cs("4096", "4095", 4095, 4096);
    cs("64", "64", 63, 64);
    cs("64", "63", 63, 64);
    cs(NULL, "4095", 63, 64);
    cs("3", NULL, 2, 4);
    cs("4", "1", 1, 2);
    cs("4096", NULL, 32, 64);
}

Test(options, sq_is_smallest_power_of_two_at_least_c_plus_1)
{
    cs(NULL, "1", 1, 2);
    cs(NULL, "2", 2, 4);
    cs(NULL, "3", 3, 4);
    cs(NULL, "4", 4, 8);
    cs(NULL, "7", 7, 8);
    cs(NULL, "31", 31, 32);
    cs("4096", "33", 33, 64);
    cs("4096", "63", 63, 64);
    cs("4096", "64", 64, 128);
    cs("4096", "2048", 2048, 4096);
    cs("4096", "2047", 2047, 2048);
}

Test(options, usage_text_lists_every_option)
{
    cr_assert_eq(strncmp(iod_usage_text, "usage: iouringd", 15), 0);
    static const char *const names[] = {
        "--ring-entries", "--per-client-credits", "--max-clients", "--max-clients-per-uid",
        "--registered-fds", "--registered-buffers", "--io-bytes-max", "--job-id",
        "--trace-stderr", "--help", "--version", "SOCKET_PATH",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert_not_null(strstr(iod_usage_text, names[i]), "%s", names[i]);
}
