/* Parser for the reviewable sandbox policy. One rule per line, each with its
 * reason after "--"; a line without a reason, an unknown syscall, opcode,
 * flag or symbol is an error, so the text a reviewer reads is exactly what
 * the kernel enforces. */
#include "policy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct sym {
    const char *name;
    int value;
};

static const struct sym opcodes[] = {
    {"NOP", IORING_OP_NOP}, {"READV", IORING_OP_READV}, {"WRITEV", IORING_OP_WRITEV},
    {"FSYNC", IORING_OP_FSYNC}, {"READ_FIXED", IORING_OP_READ_FIXED},
    {"WRITE_FIXED", IORING_OP_WRITE_FIXED}, {"POLL_ADD", IORING_OP_POLL_ADD},
    {"POLL_REMOVE", IORING_OP_POLL_REMOVE}, {"SENDMSG", IORING_OP_SENDMSG},
    {"RECVMSG", IORING_OP_RECVMSG}, {"TIMEOUT", IORING_OP_TIMEOUT},
    {"TIMEOUT_REMOVE", IORING_OP_TIMEOUT_REMOVE}, {"ACCEPT", IORING_OP_ACCEPT},
    {"ASYNC_CANCEL", IORING_OP_ASYNC_CANCEL}, {"LINK_TIMEOUT", IORING_OP_LINK_TIMEOUT},
    {"CONNECT", IORING_OP_CONNECT}, {"OPENAT", IORING_OP_OPENAT}, {"CLOSE", IORING_OP_CLOSE},
    {"STATX", IORING_OP_STATX}, {"READ", IORING_OP_READ}, {"WRITE", IORING_OP_WRITE},
    {"SEND", IORING_OP_SEND}, {"RECV", IORING_OP_RECV}, {"OPENAT2", IORING_OP_OPENAT2},
    {"SOCKET", IORING_OP_SOCKET}, {"MSG_RING", IORING_OP_MSG_RING},
    {"URING_CMD", IORING_OP_URING_CMD},
};

static const struct sym sqe_flags[] = {
    {"FIXED_FILE", IOSQE_FIXED_FILE}, {"IO_DRAIN", IOSQE_IO_DRAIN},
    {"IO_LINK", IOSQE_IO_LINK}, {"IO_HARDLINK", IOSQE_IO_HARDLINK},
    {"ASYNC", IOSQE_ASYNC}, {"BUFFER_SELECT", IOSQE_BUFFER_SELECT},
};

static const struct sym register_ops[] = {
    {"FILES_UPDATE", IORING_REGISTER_FILES_UPDATE},
    {"FILES_UPDATE2", IORING_REGISTER_FILES_UPDATE2},
    {"BUFFERS_UPDATE", IORING_REGISTER_BUFFERS_UPDATE},
};

static const struct sym values[] = {
    {"WORKER_CLIENT_FD", IOD_WORKER_CLIENT_FD}, {"WORKER_CHAN_FD", IOD_WORKER_CHAN_FD},
    {"WORKER_RING_FD", IOD_WORKER_RING_FD}, {"STDERR", 2}, {"PROT_EXEC", PROT_EXEC},
    {"IORING_REGISTER_FILES_UPDATE", IORING_REGISTER_FILES_UPDATE},
};

static int lookup(const struct sym *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].value;
    return -1;
}

#define LOOKUP(t, name) lookup(t, sizeof t / sizeof t[0], name)

int iod_policy_opcode(const char *name)
{
    return LOOKUP(opcodes, name);
}

static int fail(char *err, size_t cap, unsigned line, const char *what, const char *tok)
{
    snprintf(err, cap, "line %u: %s%s%s", line, what, tok ? " " : "", tok ? tok : "");
    return -EINVAL;
}

static int parse_value(const char *s, uint64_t *out)
{
    int v = LOOKUP(values, s);
    if (v >= 0) {
        *out = (uint64_t)v;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 0);
    if (*s == '\0' || *end != '\0' || errno || *s == '-')
        return -1;
    *out = n;
    return 0;
}

/* argN==V or argN&M==V */
static int parse_cond(const char *tok, struct iod_seccomp_cond *c)
{
    if (strncmp(tok, "arg", 3) != 0 || tok[3] < '0' || tok[3] > '5')
        return -1;
    c->arg = (unsigned)(tok[3] - '0');
    const char *rest = tok + 4;
    const char *eq = strstr(rest, "==");
    if (eq == NULL)
        return -1;
    char lhs[64], rhs[64];
    size_t ln = (size_t)(eq - rest);
    if (ln >= sizeof lhs || strlen(eq + 2) >= sizeof rhs)
        return -1;
    memcpy(lhs, rest, ln);
    lhs[ln] = '\0';
    strcpy(rhs, eq + 2);
    c->mask = UINT64_MAX;
    if (lhs[0] == '&') {
        if (parse_value(lhs + 1, &c->mask) < 0)
            return -1;
    } else if (lhs[0] != '\0') {
        return -1;
    }
    return parse_value(rhs, &c->value);
}

/* Splits `text` into lines; for each rule line calls fn with its tokens
 * before "--" (reason required). */
typedef int (*line_fn)(struct iod_policy *p, char **tok, unsigned ntok,
                       struct iod_policy_when when, unsigned line, char *err, size_t cap);

static const struct sym feature_names[] = {
    {"trace_stderr", IOD_POLICY_TRACE_STDERR},
    {"openat_root", IOD_POLICY_OPENAT_ROOT},
};

/* "if:NAME" or "if:!NAME" */
static int parse_when(const char *tok, struct iod_policy_when *w)
{
    const char *name = tok + 3;
    bool neg = *name == '!';
    int f = LOOKUP(feature_names, name + neg);
    if (f < 0)
        return -1;
    if (neg)
        w->need_clear = (uint8_t)(w->need_clear | f);
    else
        w->need_set = (uint8_t)(w->need_set | f);
    return 0;
}

static int parse_lines(struct iod_policy *p, const char *text, line_fn fn, char *err,
                       size_t cap)
{
    unsigned lineno = 0;
    const char *s = text;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        lineno++;
        char line[512];
        if (len >= sizeof line)
            return fail(err, cap, lineno, "line too long", NULL);
        memcpy(line, s, len);
        line[len] = '\0';
        s += len + (nl ? 1 : 0);

        char *hash = line[0] == '#' ? line : NULL;
        if (hash)
            *hash = '\0';
        char *tok[16];
        unsigned ntok = 0;
        bool reason = false;
        struct iod_policy_when when = {0, 0};
        for (char *save = NULL, *t = strtok_r(line, " \t", &save); t;
             t = strtok_r(NULL, " \t", &save)) {
            if (strcmp(t, "--") == 0) {
                reason = strtok_r(NULL, " \t", &save) != NULL;
                break;
            }
            if (strncmp(t, "if:", 3) == 0) {
                if (parse_when(t, &when) < 0)
                    return fail(err, cap, lineno, "unknown condition", t);
                continue;
            }
            if (ntok == 16)
                return fail(err, cap, lineno, "too many fields", NULL);
            tok[ntok++] = t;
        }
        if (ntok == 0) {
            if (reason || when.need_set || when.need_clear)
                return fail(err, cap, lineno, "reason or condition without a rule", NULL);
            continue;
        }
        if (!reason)
            return fail(err, cap, lineno, "rule without a reason after --:", tok[0]);
        int ret = fn(p, tok, ntok, when, lineno, err, cap);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int seccomp_line(struct iod_policy *p, char **tok, unsigned ntok,
                        struct iod_policy_when when, unsigned line, char *err, size_t cap)
{
    if (p->nrules == IOD_POLICY_MAX_RULES)
        return fail(err, cap, line, "too many rules", NULL);
    struct iod_seccomp_rule *r = &p->rules[p->nrules];
    memset(r, 0, sizeof *r);
    /* Negative numbers are libseccomp pseudo-syscalls (send, waitpid, ...)
     * that do not exist on this architecture: a rule for one allows nothing. */
    int nr = seccomp_syscall_resolve_name(tok[0]);
    if (nr < 0 || strlen(tok[0]) >= sizeof r->name)
        return fail(err, cap, line, "unknown syscall", tok[0]);
    r->nr = nr;
    r->when = when;
    strcpy(r->name, tok[0]);
    for (unsigned i = 1; i < ntok; i++) {
        if (r->ncond == IOD_POLICY_MAX_COND || parse_cond(tok[i], &r->cond[r->ncond]) < 0)
            return fail(err, cap, line, "bad condition", tok[i]);
        r->ncond++;
    }
    p->nrules++;
    return 0;
}

static int uring_line(struct iod_policy *p, char **tok, unsigned ntok,
                      struct iod_policy_when when, unsigned line, char *err, size_t cap)
{
    if (ntok != 2)
        return fail(err, cap, line, "expected KIND NAME --", NULL);
    if (p->nres == IOD_POLICY_MAX_RESTRICTIONS)
        return fail(err, cap, line, "too many restrictions", NULL);
    struct io_uring_restriction *r = &p->res[p->nres];
    memset(r, 0, sizeof *r);
    p->res_when[p->nres] = when;
    int v;
    if (strcmp(tok[0], "op") == 0) {
        if ((v = LOOKUP(opcodes, tok[1])) < 0)
            return fail(err, cap, line, "unknown opcode", tok[1]);
        r->opcode = IORING_RESTRICTION_SQE_OP;
        r->sqe_op = (uint8_t)v;
    } else if (strcmp(tok[0], "sqe_flag") == 0) {
        if ((v = LOOKUP(sqe_flags, tok[1])) < 0)
            return fail(err, cap, line, "unknown SQE flag", tok[1]);
        /* All flags share one restriction, which cannot be conditional. */
        if (when.need_set || when.need_clear)
            return fail(err, cap, line, "sqe_flag lines take no condition", NULL);
        /* All allowed flags go into one SQE_FLAGS_ALLOWED restriction. */
        for (size_t i = 0; i < p->nres; i++)
            if (p->res[i].opcode == IORING_RESTRICTION_SQE_FLAGS_ALLOWED) {
                p->res[i].sqe_flags = (uint8_t)(p->res[i].sqe_flags | v);
                return 0;
            }
        r->opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
        r->sqe_flags = (uint8_t)v;
    } else if (strcmp(tok[0], "register") == 0) {
        if ((v = LOOKUP(register_ops, tok[1])) < 0)
            return fail(err, cap, line, "unknown register opcode", tok[1]);
        r->opcode = IORING_RESTRICTION_REGISTER_OP;
        r->register_op = (uint8_t)v;
    } else {
        return fail(err, cap, line, "unknown kind", tok[0]);
    }
    p->nres++;
    return 0;
}

int iod_policy_parse_seccomp(struct iod_policy *p, const char *text, char *err, size_t cap)
{
    p->nrules = 0;
    int ret = parse_lines(p, text, seccomp_line, err, cap);
    if (ret == 0 && p->nrules == 0)
        return fail(err, cap, 0, "no rules", NULL);
    return ret;
}

int iod_policy_parse_uring(struct iod_policy *p, const char *text, char *err, size_t cap)
{
    p->nres = 0;
    int ret = parse_lines(p, text, uring_line, err, cap);
    if (ret == 0 && p->nres == 0)
        return fail(err, cap, 0, "no restrictions", NULL);
    return ret;
}

int iod_policy_load(struct iod_policy *p, char *err, size_t cap)
{
    int ret = iod_policy_parse_seccomp(p, iod_policy_seccomp_text, err, cap);
    if (ret == 0)
        ret = iod_policy_parse_uring(p, iod_policy_uring_text, err, cap);
    return ret;
}

static bool applies(struct iod_policy_when w, unsigned feats)
{
    return (feats & w.need_set) == w.need_set && (feats & w.need_clear) == 0;
}

void iod_policy_select(const struct iod_policy *all, unsigned feats, struct iod_policy *out)
{
    out->nrules = out->nres = 0;
    for (size_t i = 0; i < all->nrules; i++)
        if (applies(all->rules[i].when, feats))
            out->rules[out->nrules++] = all->rules[i];
    for (size_t i = 0; i < all->nres; i++)
        if (applies(all->res_when[i], feats)) {
            out->res_when[out->nres] = all->res_when[i];
            out->res[out->nres++] = all->res[i];
        }
}

int iod_policy_build_filter(const struct iod_policy *p, uint32_t default_action,
                            scmp_filter_ctx *out)
{
    scmp_filter_ctx ctx = seccomp_init(default_action);
    if (ctx == NULL)
        return -ENOMEM;
    /* A foreign architecture's syscall numbers must not slip through. */
    int ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    for (size_t i = 0; ret == 0 && i < p->nrules; i++) {
        const struct iod_seccomp_rule *r = &p->rules[i];
        struct scmp_arg_cmp cmp[IOD_POLICY_MAX_COND];
        for (unsigned c = 0; c < r->ncond; c++) {
            const struct iod_seccomp_cond *k = &r->cond[c];
            if (k->mask == UINT64_MAX)
                cmp[c] = (struct scmp_arg_cmp){k->arg, SCMP_CMP_EQ, k->value, 0};
            else
                cmp[c] = (struct scmp_arg_cmp){k->arg, SCMP_CMP_MASKED_EQ, k->mask, k->value};
        }
        ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, r->nr, r->ncond, cmp);
    }
    if (ret < 0) {
        seccomp_release(ctx);
        return ret;
    }
    *out = ctx;
    return 0;
}
