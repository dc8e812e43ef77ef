/* The worker sandbox as data: policy/worker.seccomp and policy/worker.uring,
 * embedded at build time, parsed into seccomp rules and io_uring restrictions.
 * Parsing is pure and reports the first bad line. */
#ifndef IOD_POLICY_H
#define IOD_POLICY_H

#include <liburing.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

#define IOD_POLICY_MAX_RULES 128
#define IOD_POLICY_MAX_COND 6
#define IOD_POLICY_MAX_RESTRICTIONS 64

/* Fixed descriptor numbers inside a worker (see sandbox.h). */
#define IOD_WORKER_CLIENT_FD 3
#define IOD_WORKER_CHAN_FD 4
#define IOD_WORKER_RING_FD 5
#define IOD_WORKER_ROOT_FD 6

struct iod_seccomp_cond {
    unsigned arg;
    uint64_t mask; /* UINT64_MAX for plain equality */
    uint64_t value;
};

/* Daemon features a policy line may depend on ("if:NAME" / "if:!NAME"). */
#define IOD_POLICY_TRACE_STDERR 1u /* if:trace_stderr */
#define IOD_POLICY_OPENAT_ROOT 2u  /* if:openat_root */

/* A line applies when all `need_set` features are on and all `need_clear`
 * features are off. */
struct iod_policy_when {
    uint8_t need_set, need_clear;
};

struct iod_seccomp_rule {
    int nr;
    char name[40];
    unsigned ncond;
    struct iod_seccomp_cond cond[IOD_POLICY_MAX_COND];
    struct iod_policy_when when;
};

struct iod_policy {
    struct iod_seccomp_rule rules[IOD_POLICY_MAX_RULES];
    size_t nrules;
    struct io_uring_restriction res[IOD_POLICY_MAX_RESTRICTIONS];
    struct iod_policy_when res_when[IOD_POLICY_MAX_RESTRICTIONS];
    size_t nres;
};

extern const char iod_policy_seccomp_text[];
extern const char iod_policy_uring_text[];

/* 0, or -EINVAL with "line N: what" in err. */
int iod_policy_parse_seccomp(struct iod_policy *p, const char *text, char *err, size_t cap);
int iod_policy_parse_uring(struct iod_policy *p, const char *text, char *err, size_t cap);
/* Both embedded files. */
int iod_policy_load(struct iod_policy *p, char *err, size_t cap);
/* Copies into `out` only the lines that apply with these features. */
void iod_policy_select(const struct iod_policy *all, unsigned features, struct iod_policy *out);
/* A libseccomp filter: the rules allowed, everything else `default_action`
 * (SCMP_ACT_KILL_PROCESS or SCMP_ACT_LOG). 0 or -errno. */
int iod_policy_build_filter(const struct iod_policy *p, uint32_t default_action,
                            scmp_filter_ctx *out);
/* IORING_OP_* code of an opcode name such as "READV", or -1. */
int iod_policy_opcode(const char *name);

#endif
