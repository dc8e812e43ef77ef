/* policy: the parser of policy/worker.seccomp and policy/worker.uring. A malformed
 * line, an unknown syscall, opcode, flag or symbol fails the whole file with the line
 * number; the embedded policy files parse, every rule line of them is needed, and
 * what they allow is pinned against a list of things a worker must never get. */
#include "check.h"
#include "policy.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

TestSuite(policy, .timeout = 10);

static struct iod_policy P;
static char err[256];

static int seccomp_text(const char *text)
{
    strcpy(err, "unset");
    memset(&P, 0, sizeof P);
    return iod_policy_parse_seccomp(&P, text, err, sizeof err);
}

static int uring_text(const char *text)
{
    strcpy(err, "unset");
    memset(&P, 0, sizeof P);
    return iod_policy_parse_uring(&P, text, err, sizeof err);
}

static const struct iod_seccomp_rule *rule_named(const struct iod_policy *p, const char *name,
                                                 size_t nth)
{
    for (size_t i = 0; i < p->nrules; i++)
        if (strcmp(p->rules[i].name, name) == 0 && nth-- == 0)
            return &p->rules[i];
    return NULL;
}

static bool op_allowed(const struct iod_policy *p, unsigned op)
{
    for (size_t i = 0; i < p->nres; i++)
        if (p->res[i].opcode == IORING_RESTRICTION_SQE_OP && p->res[i].sqe_op == op)
            return true;
    return false;
}

/* Rule lines of a policy text: neither blank nor a comment. */
static size_t rule_lines(const char *text)
{
    size_t n = 0;
    for (const char *s = text; *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        bool blank = true;
        for (size_t i = 0; i < len; i++)
            if (s[i] != ' ' && s[i] != '\t')
                blank = false;
        if (!blank && s[0] != '#')
            n++;
        s += len + (nl ? 1 : 0);
    }
    return n;
}

/* ---- the real policy files ----------------------------------------------- */

Test(policy, real_policy_files_parse, .timeout = 10)
{
    static struct iod_policy p;
    char e[128] = "";
    cr_assert_eq(iod_policy_load(&p, e, sizeof e), 0, "embedded policy: %s", e);
    /* Every rule line became exactly one rule (the sqe_flag lines fold into one
     * restriction, so count those separately). */
    cr_assert_eq(p.nrules, rule_lines(iod_policy_seccomp_text), "%zu rules for %zu lines",
                 p.nrules, rule_lines(iod_policy_seccomp_text));
    size_t flags_lines = 0;
    for (const char *s = iod_policy_uring_text; (s = strstr(s, "\nsqe_flag ")) != NULL; s++)
        flags_lines++;
    cr_assert_eq(p.nres + (flags_lines ? flags_lines - 1 : 0),
                 rule_lines(iod_policy_uring_text));
    /* And the text is what was compiled in: the first rule of each file. */
    cr_assert(strstr(iod_policy_seccomp_text, "\nrecvmsg arg0==WORKER_CLIENT_FD -- ") != NULL);
    cr_assert(strstr(iod_policy_uring_text, "\nop NOP -- ") != NULL);
}

/* A worker must never get these syscalls (DESIGN.md §1; policy/README.md). */
static const char *const never_syscalls[] = {
    "io_uring_setup", "execve", "execveat", "fork", "vfork", "clone", "clone3", "socket",
    "socketpair", "connect", "bind", "listen", "accept", "accept4", "sendmsg", "sendmmsg",
    "open", "openat", "openat2", "creat", "open_by_handle_at", "name_to_handle_at", "ptrace",
    "process_vm_readv", "process_vm_writev", "kill", "tkill", "tgkill", "rt_sigqueueinfo",
    "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "mprotect", "pkey_mprotect", "prctl",
    "seccomp", "bpf", "setuid", "setgid", "setreuid", "setresuid", "setgroups", "capset",
    "mount", "umount2", "pivot_root", "chroot", "chdir", "unshare", "setns", "ioctl",
    "memfd_create", "userfaultfd", "perf_event_open", "setrlimit", "prlimit64", "dup",
    "dup2", "dup3", "fcntl", "mknod", "mknodat", "unlink", "unlinkat", "rename", "symlink",
    "link", "keyctl", "add_key", "request_key", "init_module", "finit_module", "kexec_load",
    "reboot", "iopl", "ioperm", "modify_ldt", "personality", "read", "readv", "writev",
    "recvfrom", "getdents64", "statx", "newfstatat",
};

Test(policy, dangerous_syscalls_are_not_allowed, .timeout = 10)
{
    static struct iod_policy p;
    char e[128] = "";
    cr_assert_eq(iod_policy_load(&p, e, sizeof e), 0, "%s", e);
    for (size_t i = 0; i < sizeof never_syscalls / sizeof never_syscalls[0]; i++) {
        cr_expect(rule_named(&p, never_syscalls[i], 0) == NULL,
                  "policy/worker.seccomp allows %s", never_syscalls[i]);
        int nr = seccomp_syscall_resolve_name(never_syscalls[i]);
        for (size_t r = 0; r < p.nrules; r++)
            cr_expect(nr < 0 || p.rules[r].nr != nr, "rule %s has the number of %s",
                      p.rules[r].name, never_syscalls[i]);
    }
}

/* Syscalls that name a descriptor are tied to the worker's own descriptors. */
Test(policy, descriptor_syscalls_are_bound_to_worker_fds, .timeout = 10)
{
    static struct iod_policy p;
    char e[128] = "";
    cr_assert_eq(iod_policy_load(&p, e, sizeof e), 0, "%s", e);
    static const struct {
        const char *name;
        uint64_t fds[2];
        size_t n;
    } bound[] = {
        {"recvmsg", {IOD_WORKER_CLIENT_FD, IOD_WORKER_CHAN_FD}, 2},
        {"sendto", {IOD_WORKER_CLIENT_FD, IOD_WORKER_CHAN_FD}, 2},
        {"write", {2, 0}, 1},
        {"io_uring_enter", {IOD_WORKER_RING_FD, 0}, 1},
        {"io_uring_register", {IOD_WORKER_RING_FD, 0}, 1},
    };
    for (size_t b = 0; b < sizeof bound / sizeof bound[0]; b++) {
        size_t seen = 0;
        for (const struct iod_seccomp_rule *r; (r = rule_named(&p, bound[b].name, seen));
             seen++) {
            cr_assert(r->ncond >= 1, "%s allowed without conditions", r->name);
            cr_assert_eq(r->cond[0].arg, 0, "%s: first condition is not on arg0", r->name);
            cr_assert_eq(r->cond[0].mask, UINT64_MAX, "%s: arg0 is masked", r->name);
            bool known = false;
            for (size_t k = 0; k < bound[b].n; k++)
                known = known || r->cond[0].value == bound[b].fds[k];
            cr_assert(known, "%s allowed on fd %llu", r->name,
                      (unsigned long long)r->cond[0].value);
        }
        cr_assert_eq(seen, bound[b].n, "%s: %zu rules, want %zu", bound[b].name, seen,
                     bound[b].n);
    }
    const struct iod_seccomp_rule *reg = rule_named(&p, "io_uring_register", 0);
    cr_assert_eq(reg->ncond, 2);
    cr_assert(reg->cond[1].arg == 1 && reg->cond[1].mask == UINT64_MAX &&
              reg->cond[1].value == IORING_REGISTER_FILES_UPDATE,
              "io_uring_register is not limited to FILES_UPDATE");
    const struct iod_seccomp_rule *mm = rule_named(&p, "mmap", 0);
    cr_assert(mm != NULL && rule_named(&p, "mmap", 1) == NULL);
    cr_assert(mm->ncond == 1 && mm->cond[0].arg == 2 && mm->cond[0].mask == PROT_EXEC &&
                  mm->cond[0].value == 0,
              "mmap may map executable memory");
}

Test(policy, ring_policy_allows_only_the_task_opcodes, .timeout = 10)
{
    static struct iod_policy p;
    char e[128] = "";
    cr_assert_eq(iod_policy_load(&p, e, sizeof e), 0, "%s", e);
    static const char *const denied[] = {"SOCKET", "MSG_RING", "URING_CMD", "SENDMSG",
                                         "RECVMSG", "SEND", "RECV", "READ", "WRITE", "STATX",
                                         "FSYNC", "LINK_TIMEOUT", "POLL_REMOVE",
                                         "TIMEOUT_REMOVE"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        int op = iod_policy_opcode(denied[i]);
        cr_assert(op >= 0, "no opcode %s", denied[i]);
        cr_expect(!op_allowed(&p, (unsigned)op), "worker.uring allows %s", denied[i]);
    }
    unsigned flags_rules = 0, register_rules = 0;
    for (size_t i = 0; i < p.nres; i++) {
        const struct io_uring_restriction *r = &p.res[i];
        if (r->opcode == IORING_RESTRICTION_SQE_FLAGS_ALLOWED) {
            flags_rules++;
            cr_assert_eq(r->sqe_flags, IOSQE_FIXED_FILE, "allowed SQE flags 0x%x",
                         r->sqe_flags);
        } else if (r->opcode == IORING_RESTRICTION_REGISTER_OP) {
            register_rules++;
            cr_assert_eq(r->register_op, IORING_REGISTER_FILES_UPDATE, "register op %u",
                         r->register_op);
        } else {
            cr_assert_eq(r->opcode, IORING_RESTRICTION_SQE_OP, "restriction kind %u",
                         r->opcode);
        }
    }
    cr_assert_eq(flags_rules, 1);
    cr_assert_eq(register_rules, 1);
}

/* Mutation: removing the reason of any rule line, or misspelling its name, fails
 * with that line's number. */
Test(policy, every_real_rule_line_is_checked, .timeout = 10)
{
    const char *const texts[] = {iod_policy_seccomp_text, iod_policy_uring_text};
    for (size_t t = 0; t < 2; t++) {
        size_t len = strlen(texts[t]);
        char *copy = malloc(len + 16);
        cr_assert(copy != NULL);
        unsigned lineno = 0;
        for (const char *s = texts[t]; *s;) {
            const char *nl = strchr(s, '\n');
            size_t l = nl ? (size_t)(nl - s) + 1 : strlen(s);
            lineno++;
            const char *dash = strstr(s, " -- ");
            if (s[0] != '#' && s[0] != '\n' && dash && dash < s + l) {
                char want[32];
                snprintf(want, sizeof want, "line %u: ", lineno);
                /* 1: cut the reason */
                size_t pre = (size_t)(dash - texts[t]);
                memcpy(copy, texts[t], pre);
                strcpy(copy + pre, s + l - 1); /* keep the newline and the rest */
                int ret = t == 0 ? seccomp_text(copy) : uring_text(copy);
                cr_expect(ret == -EINVAL && strncmp(err, want, strlen(want)) == 0,
                          "file %zu line %u without reason: ret %d err \"%s\"", t, lineno, ret,
                          err);
                /* 2: misspell the first token (syscall or KIND) */
                const char *sp = strpbrk(s, " \t");
                size_t at = (size_t)(sp - texts[t]);
                memcpy(copy, texts[t], at);
                memcpy(copy + at, "_x", 2);
                strcpy(copy + at + 2, texts[t] + at);
                ret = t == 0 ? seccomp_text(copy) : uring_text(copy);
                cr_expect(ret == -EINVAL && strncmp(err, want, strlen(want)) == 0,
                          "file %zu line %u misspelled: ret %d err \"%s\"", t, lineno, ret,
                          err);
            }
            s += l;
        }
        free(copy);
    }
}

Test(policy, real_policy_with_one_bad_line_appended_fails, .timeout = 10)
{
    size_t len = strlen(iod_policy_seccomp_text);
    char *text = malloc(len + 64);
    cr_assert(text != NULL);
    memcpy(text, iod_policy_seccomp_text, len);
    strcpy(text + len, "frobnicate -- not a syscall\n");
    char want[48];
    cr_assert_eq(seccomp_text(text), -EINVAL);
    unsigned lines = 0;
    for (const char *s = iod_policy_seccomp_text; *s; s++)
        lines += *s == '\n';
    snprintf(want, sizeof want, "line %u: unknown syscall frobnicate", lines + 1);
    cr_assert_str_eq(err, want);
    free(text);

    len = strlen(iod_policy_uring_text);
    text = malloc(len + 64);
    cr_assert(text != NULL);
    memcpy(text, iod_policy_uring_text, len);
    strcpy(text + len, "op SOCKETS -- typo\n");
    cr_assert_eq(uring_text(text), -EINVAL);
    cr_assert(strstr(err, "unknown opcode SOCKETS") != NULL, "err \"%s\"", err);
    free(text);
}

/* ---- malformed seccomp lines ---------------------------------------------- */

struct bad_case {
    const char *text;
    const char *err; /* exact message */
};

static const struct bad_case bad_seccomp[] = {
    {"close\n", "line 1: rule without a reason after --: close"},
    {"close --\n", "line 1: rule without a reason after --: close"},
    {"close --   \n", "line 1: rule without a reason after --: close"},
    {"  # an indented comment is not a comment\n",
     "line 1: rule without a reason after --: #"},
    {"close -- ok\nfrobnicate -- not a syscall\n", "line 2: unknown syscall frobnicate"},
    {"Close -- names are case-sensitive\n", "line 1: unknown syscall Close"},
    {"close_range_and_a_name_longer_than_forty_chars -- x\n",
     "line 1: unknown syscall close_range_and_a_name_longer_than_forty_chars"},
    {"# c\n\nrecvmsg arg6==3 -- only arg0..arg5\n", "line 3: bad condition arg6==3"},
    {"recvmsg argX==3 -- x\n", "line 1: bad condition argX==3"},
    {"recvmsg arg0=3 -- x\n", "line 1: bad condition arg0=3"},
    {"recvmsg arg0 -- x\n", "line 1: bad condition arg0"},
    {"recvmsg arg0== -- x\n", "line 1: bad condition arg0=="},
    {"recvmsg arg0==-1 -- x\n", "line 1: bad condition arg0==-1"},
    {"recvmsg arg0==3x -- x\n", "line 1: bad condition arg0==3x"},
    {"recvmsg arg0==WORKER_FD -- unknown symbol\n", "line 1: bad condition arg0==WORKER_FD"},
    {"recvmsg arg0==99999999999999999999999 -- overflow\n",
     "line 1: bad condition arg0==99999999999999999999999"},
    {"mmap arg2&==0 -- x\n", "line 1: bad condition arg2&==0"},
    {"mmap arg2|PROT_EXEC==0 -- x\n", "line 1: bad condition arg2|PROT_EXEC==0"},
    {"mmap arg2&PROT_EXECX==0 -- x\n", "line 1: bad condition arg2&PROT_EXECX==0"},
    {"recvmsg arg00==3 -- x\n", "line 1: bad condition arg00==3"},
    {"recvmsg arg0==1 arg1==1 arg2==1 arg3==1 arg4==1 arg5==1 arg0==2 -- seven\n",
     "line 1: bad condition arg0==2"},
    {"", "line 0: no rules"},
    {"# only comments\n\n   \n", "line 0: no rules"},
};

Test(policy, malformed_seccomp_lines_fail_with_their_line, .timeout = 10)
{
    for (size_t i = 0; i < sizeof bad_seccomp / sizeof bad_seccomp[0]; i++) {
        int ret = seccomp_text(bad_seccomp[i].text);
        cr_expect_eq(ret, -EINVAL, "\"%s\" parsed (ret %d)", bad_seccomp[i].text, ret);
        cr_expect_str_eq(err, bad_seccomp[i].err, "\"%s\": err \"%s\", want \"%s\"",
                         bad_seccomp[i].text, err, bad_seccomp[i].err);
    }
}

Test(policy, overlong_line_and_too_many_fields_fail, .timeout = 10)
{
    char text[700];
    memset(text, 'a', 600);
    strcpy(text + 600, " -- x\n");
    cr_assert_eq(seccomp_text(text), -EINVAL);
    cr_assert_str_eq(err, "line 1: line too long");
    cr_assert_eq(seccomp_text("close a b c d e f g h i j k l m n o p q -- x\n"), -EINVAL);
    cr_assert_str_eq(err, "line 1: too many fields");
}

Test(policy, more_rules_than_the_table_fail, .timeout = 10)
{
    size_t n = IOD_POLICY_MAX_RULES + 1;
    char *text = malloc(n * 16 + 1);
    cr_assert(text != NULL);
    text[0] = '\0';
    for (size_t i = 0; i < n; i++)
        strcat(text, "close -- x\n");
    cr_assert_eq(seccomp_text(text), -EINVAL);
    char want[48];
    snprintf(want, sizeof want, "line %zu: too many rules", n);
    cr_assert_str_eq(err, want);
    free(text);
}

/* libseccomp resolves names of syscalls that do not exist on this architecture
 * (socketcall multiplexer names such as "send", "recv", or "waitpid") to negative
 * pseudo numbers. Such a rule would allow nothing while the reviewer reads an
 * allowance, so the parser refuses them as unknown. */
Test(policy, pseudo_syscall_names_fail, .timeout = 10)
{
    static const char *const texts[] = {"send -- x\n", "recv -- x\n", "waitpid -- x\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        cr_expect_eq(seccomp_text(texts[i]), -EINVAL, "\"%s\" parsed", texts[i]);
        cr_expect(strstr(err, "unknown syscall") != NULL, "err \"%s\"", err);
    }
}

/* ---- well-formed seccomp lines --------------------------------------------- */

Test(policy, seccomp_conditions_parse, .timeout = 10)
{
    cr_assert_eq(seccomp_text("# comment\n"
                              "\n"
                              "recvmsg\targ0==WORKER_CLIENT_FD -- tabs separate too\n"
                              "mmap arg2&PROT_EXEC==0 -- masked\n"
                              "io_uring_register arg0==WORKER_RING_FD "
                              "arg1==IORING_REGISTER_FILES_UPDATE -- two conditions\n"
                              "write arg0==0x2 -- hex\n"
                              "close -- no condition; a reason with -- inside -- is fine\n"
                              "exit_group -- last line without newline"),
                 0, "err \"%s\"", err);
    cr_assert_eq(P.nrules, 6);
    const struct iod_seccomp_rule *r = &P.rules[0];
    cr_assert_str_eq(r->name, "recvmsg");
    cr_assert_eq(r->nr, seccomp_syscall_resolve_name("recvmsg"));
    cr_assert_eq(r->ncond, 1);
    cr_assert(r->cond[0].arg == 0 && r->cond[0].mask == UINT64_MAX &&
              r->cond[0].value == IOD_WORKER_CLIENT_FD);
    r = &P.rules[1];
    cr_assert(r->ncond == 1 && r->cond[0].arg == 2 && r->cond[0].mask == PROT_EXEC &&
              r->cond[0].value == 0);
    r = &P.rules[2];
    cr_assert(r->ncond == 2 && r->cond[0].value == IOD_WORKER_RING_FD && r->cond[1].arg == 1 &&
              r->cond[1].value == IORING_REGISTER_FILES_UPDATE);
    cr_assert_eq(P.rules[3].cond[0].value, 2);
    cr_assert_eq(P.rules[4].ncond, 0);
    cr_assert_str_eq(P.rules[5].name, "exit_group");
}

/* ---- ring restrictions ------------------------------------------------------ */

static const struct bad_case bad_uring[] = {
    {"op NOP\n", "line 1: rule without a reason after --: op"},
    {"op FROB -- x\n", "line 1: unknown opcode FROB"},
    {"op nop -- case-sensitive\n", "line 1: unknown opcode nop"},
    {"op NOP -- ok\nop -- missing name\n", "line 2: expected KIND NAME --"},
    {"op NOP READV -- two names\n", "line 1: expected KIND NAME --"},
    {"opcode NOP -- x\n", "line 1: unknown kind opcode"},
    {"sqe_flag FOO -- x\n", "line 1: unknown SQE flag FOO"},
    {"sqe_flag NOP -- an opcode is not a flag\n", "line 1: unknown SQE flag NOP"},
    {"register PROBE -- x\n", "line 1: unknown register opcode PROBE"},
    {"register RESTRICTIONS -- x\n", "line 1: unknown register opcode RESTRICTIONS"},
    {"", "line 0: no restrictions"},
    {"# nothing\n", "line 0: no restrictions"},
};

Test(policy, malformed_uring_lines_fail_with_their_line, .timeout = 10)
{
    for (size_t i = 0; i < sizeof bad_uring / sizeof bad_uring[0]; i++) {
        int ret = uring_text(bad_uring[i].text);
        cr_expect_eq(ret, -EINVAL, "\"%s\" parsed (ret %d)", bad_uring[i].text, ret);
        cr_expect_str_eq(err, bad_uring[i].err, "\"%s\": err \"%s\", want \"%s\"",
                         bad_uring[i].text, err, bad_uring[i].err);
    }
}

Test(policy, uring_lines_parse_and_flags_fold, .timeout = 10)
{
    cr_assert_eq(uring_text("op NOP -- a\n"
                            "sqe_flag FIXED_FILE -- b\n"
                            "op SOCKET -- c\n"
                            "sqe_flag IO_LINK -- d\n"
                            "register FILES_UPDATE -- e\n"),
                 0, "err \"%s\"", err);
    cr_assert_eq(P.nres, 4);
    cr_assert(P.res[0].opcode == IORING_RESTRICTION_SQE_OP && P.res[0].sqe_op == IORING_OP_NOP);
    cr_assert_eq(P.res[1].opcode, IORING_RESTRICTION_SQE_FLAGS_ALLOWED);
    cr_assert_eq(P.res[1].sqe_flags, IOSQE_FIXED_FILE | IOSQE_IO_LINK);
    cr_assert_eq(P.res[2].sqe_op, IORING_OP_SOCKET);
    cr_assert(P.res[3].opcode == IORING_RESTRICTION_REGISTER_OP &&
              P.res[3].register_op == IORING_REGISTER_FILES_UPDATE);
}

Test(policy, opcode_names, .timeout = 10)
{
    cr_assert_eq(iod_policy_opcode("NOP"), IORING_OP_NOP);
    cr_assert_eq(iod_policy_opcode("SOCKET"), IORING_OP_SOCKET);
    cr_assert_eq(iod_policy_opcode("MSG_RING"), IORING_OP_MSG_RING);
    cr_assert_eq(iod_policy_opcode("URING_CMD"), IORING_OP_URING_CMD);
    cr_assert_eq(iod_policy_opcode("OPENAT2"), IORING_OP_OPENAT2);
    cr_assert_eq(iod_policy_opcode("IORING_OP_NOP"), -1);
    cr_assert_eq(iod_policy_opcode(""), -1);
}

/* ---- the filter and its PFC dump ------------------------------------------------ */

static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    cr_assert(n > 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert(buf != NULL);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    return buf;
}

static char *export_pfc(uint32_t action)
{
    static struct iod_policy p;
    char e[128] = "";
    cr_assert_eq(iod_policy_load(&p, e, sizeof e), 0, "%s", e);
    scmp_filter_ctx ctx;
    cr_assert_eq(iod_policy_build_filter(&p, action, &ctx), 0);
    FILE *f = tmpfile();
    cr_assert(f != NULL);
    cr_assert_eq(seccomp_export_pfc(ctx, fileno(f)), 0);
    seccomp_release(ctx);
    fseek(f, 0, SEEK_END);
    char *pfc = slurp(f);
    fclose(f);
    return pfc;
}

Test(policy, dump_policy_lists_every_rule_and_kills_by_default, .timeout = 10)
{
    static struct iod_policy p;
    char e[128] = "";
    cr_assert_eq(iod_policy_load(&p, e, sizeof e), 0, "%s", e);
    FILE *f = tmpfile();
    cr_assert(f != NULL);
    cr_assert_eq(iod_check_dump_policy(f), 0);
    fflush(f);
    fseek(f, 0, SEEK_END);
    char *pfc = slurp(f);
    fclose(f);
    cr_assert(strstr(pfc, "# pseudo filter code start") != NULL, "not PFC:\n%s", pfc);
    for (size_t i = 0; i < p.nrules; i++) {
        char want[96];
        snprintf(want, sizeof want, "# filter for syscall \"%s\" (%d)", p.rules[i].name,
                 p.rules[i].nr);
        cr_expect(strstr(pfc, want) != NULL, "PFC lacks %s", want);
    }
    cr_assert(strstr(pfc, "  # default action\n  action KILL_PROCESS;\n") != NULL,
              "default action is not KILL_PROCESS:\n%s", pfc);
    cr_assert(strstr(pfc, "# invalid architecture action\naction KILL_PROCESS;\n") != NULL,
              "a foreign architecture is not killed:\n%s", pfc);
    cr_assert(strstr(pfc, "\"io_uring_setup\"") == NULL);
    free(pfc);
}

Test(policy, log_mode_filter_logs_by_default, .timeout = 10)
{
    char *pfc = export_pfc(SCMP_ACT_LOG);
    cr_assert(strstr(pfc, "  # default action\n  action LOG;\n") != NULL, "%s", pfc);
    /* A foreign ABI is killed even in log mode. */
    cr_assert(strstr(pfc, "# invalid architecture action\naction KILL_PROCESS;\n") != NULL,
              "%s", pfc);
    free(pfc);
}

/* ---- option-dependent lines: if:FEATURE / if:!FEATURE ------------------------ */

static bool rule_present(const struct iod_policy *p, const char *name)
{
    return rule_named(p, name, 0) != NULL;
}

Test(policy, if_conditions_parse, .timeout = 10)
{
    cr_assert_eq(seccomp_text("write arg0==STDERR if:trace_stderr -- a\n"
                              "close if:!openat_root -- b\n"
                              "poll if:openat_root if:!trace_stderr -- c\n"
                              "brk -- d\n"
                              "if:trace_stderr munmap -- e, the condition may come first\n"),
                 0, "err \"%s\"", err);
    cr_assert_eq(P.nrules, 5);
    cr_assert_str_eq(P.rules[0].name, "write");
    cr_assert_eq(P.rules[0].ncond, 1, "if: counted as an argument condition");
    cr_assert_eq(P.rules[0].cond[0].value, 2);
    cr_assert(P.rules[0].when.need_set == IOD_POLICY_TRACE_STDERR &&
              P.rules[0].when.need_clear == 0);
    cr_assert(P.rules[1].ncond == 0 && P.rules[1].when.need_set == 0 &&
              P.rules[1].when.need_clear == IOD_POLICY_OPENAT_ROOT);
    cr_assert(P.rules[2].when.need_set == IOD_POLICY_OPENAT_ROOT &&
              P.rules[2].when.need_clear == IOD_POLICY_TRACE_STDERR);
    cr_assert(P.rules[3].when.need_set == 0 && P.rules[3].when.need_clear == 0);
    cr_assert(P.rules[4].ncond == 0 && P.rules[4].when.need_set == IOD_POLICY_TRACE_STDERR);

    cr_assert_eq(uring_text("op OPENAT if:!openat_root -- a\n"
                            "op OPENAT2 if:openat_root -- b\n"
                            "op NOP -- c\n"
                            "register FILES_UPDATE if:trace_stderr -- d\n"),
                 0, "err \"%s\"", err);
    cr_assert_eq(P.nres, 4);
    cr_assert(P.res[0].sqe_op == IORING_OP_OPENAT && P.res_when[0].need_set == 0 &&
              P.res_when[0].need_clear == IOD_POLICY_OPENAT_ROOT);
    cr_assert(P.res[1].sqe_op == IORING_OP_OPENAT2 &&
              P.res_when[1].need_set == IOD_POLICY_OPENAT_ROOT && P.res_when[1].need_clear == 0);
    cr_assert(P.res_when[2].need_set == 0 && P.res_when[2].need_clear == 0);
    cr_assert(P.res[3].opcode == IORING_RESTRICTION_REGISTER_OP &&
              P.res_when[3].need_set == IOD_POLICY_TRACE_STDERR);
}

static const struct bad_case bad_when_seccomp[] = {
    {"close -- ok\nclose if:frob -- x\n", "line 2: unknown condition if:frob"},
    {"close if: -- empty\n", "line 1: unknown condition if:"},
    {"close if:! -- empty\n", "line 1: unknown condition if:!"},
    {"close if:!!trace_stderr -- double\n", "line 1: unknown condition if:!!trace_stderr"},
    {"close if:TRACE_STDERR -- case\n", "line 1: unknown condition if:TRACE_STDERR"},
    {"close if:trace-stderr -- spelling\n", "line 1: unknown condition if:trace-stderr"},
    {"close if:trace_stderr\n", "line 1: rule without a reason after --: close"},
    {"-- a reason alone\n", "line 1: reason or condition without a rule"},
    {"close -- ok\n  -- indented reason alone\n", "line 2: reason or condition without a rule"},
    {"if:trace_stderr -- a condition alone\n", "line 1: reason or condition without a rule"},
    {"if:!openat_root\n", "line 1: reason or condition without a rule"},
};

static const struct bad_case bad_when_uring[] = {
    {"op NOP -- ok\nop OPENAT if:openatroot -- x\n", "line 2: unknown condition if:openatroot"},
    {"sqe_flag FIXED_FILE if:openat_root -- x\n", "line 1: sqe_flag lines take no condition"},
    {"sqe_flag FIXED_FILE if:!trace_stderr -- x\n", "line 1: sqe_flag lines take no condition"},
    {"op NOP -- ok\nsqe_flag FIXED_FILE if:x -- x\n", "line 2: unknown condition if:x"},
    {"-- a reason alone\n", "line 1: reason or condition without a rule"},
    {"if:openat_root -- alone\n", "line 1: reason or condition without a rule"},
    {"op if:openat_root -- no name\n", "line 1: expected KIND NAME --"},
};

Test(policy, malformed_if_conditions_fail_with_their_line, .timeout = 10)
{
    for (size_t i = 0; i < sizeof bad_when_seccomp / sizeof bad_when_seccomp[0]; i++) {
        int ret = seccomp_text(bad_when_seccomp[i].text);
        cr_expect_eq(ret, -EINVAL, "\"%s\" parsed (ret %d)", bad_when_seccomp[i].text, ret);
        cr_expect_str_eq(err, bad_when_seccomp[i].err, "\"%s\": err \"%s\", want \"%s\"",
                         bad_when_seccomp[i].text, err, bad_when_seccomp[i].err);
    }
    for (size_t i = 0; i < sizeof bad_when_uring / sizeof bad_when_uring[0]; i++) {
        int ret = uring_text(bad_when_uring[i].text);
        cr_expect_eq(ret, -EINVAL, "\"%s\" parsed (ret %d)", bad_when_uring[i].text, ret);
        cr_expect_str_eq(err, bad_when_uring[i].err, "\"%s\": err \"%s\", want \"%s\"",
                         bad_when_uring[i].text, err, bad_when_uring[i].err);
    }
}

Test(policy, select_keeps_the_lines_that_apply, .timeout = 10)
{
    static const char seccomp[] = "brk -- always\n"
                                  "write if:trace_stderr -- a\n"
                                  "poll if:!trace_stderr -- b\n"
                                  "close if:openat_root -- c\n"
                                  "munmap if:!openat_root -- d\n"
                                  "madvise if:trace_stderr if:!openat_root -- e\n"
                                  "mremap if:trace_stderr if:openat_root -- f\n";
    static const char uring[] = "op NOP -- always\n"
                                "op OPENAT if:!openat_root -- a\n"
                                "op OPENAT2 if:openat_root -- b\n"
                                "sqe_flag FIXED_FILE -- c\n"
                                "register FILES_UPDATE if:trace_stderr -- d\n";
    static struct iod_policy all, out;
    char e[128] = "";
    memset(&all, 0, sizeof all);
    cr_assert_eq(iod_policy_parse_seccomp(&all, seccomp, e, sizeof e), 0, "%s", e);
    cr_assert_eq(iod_policy_parse_uring(&all, uring, e, sizeof e), 0, "%s", e);
    cr_assert_eq(all.nrules, 7);
    cr_assert_eq(all.nres, 5);
    static const struct {
        unsigned feats;
        const char *rules; /* names kept, in order */
        bool openat, openat2, files_update;
    } cases[] = {
        {0, "brk poll munmap", true, false, false},
        {IOD_POLICY_TRACE_STDERR, "brk write munmap madvise", true, false, true},
        {IOD_POLICY_OPENAT_ROOT, "brk poll close", false, true, false},
        {IOD_POLICY_TRACE_STDERR | IOD_POLICY_OPENAT_ROOT, "brk write close mremap", false,
         true, true},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memset(&out, 0xa5, sizeof out); /* select must not depend on `out` */
        iod_policy_select(&all, cases[c].feats, &out);
        char names[128] = "";
        for (size_t i = 0; i < out.nrules; i++) {
            if (i)
                strcat(names, " ");
            strcat(names, out.rules[i].name);
        }
        cr_expect_str_eq(names, cases[c].rules, "features 0x%x: rules \"%s\", want \"%s\"",
                         cases[c].feats, names, cases[c].rules);
        cr_expect_eq(op_allowed(&out, IORING_OP_NOP), true, "features 0x%x: NOP", cases[c].feats);
        cr_expect_eq(op_allowed(&out, IORING_OP_OPENAT), cases[c].openat,
                     "features 0x%x: OPENAT", cases[c].feats);
        cr_expect_eq(op_allowed(&out, IORING_OP_OPENAT2), cases[c].openat2,
                     "features 0x%x: OPENAT2", cases[c].feats);
        bool fu = false, flags = false;
        for (size_t i = 0; i < out.nres; i++) {
            fu = fu || (out.res[i].opcode == IORING_RESTRICTION_REGISTER_OP &&
                        out.res[i].register_op == IORING_REGISTER_FILES_UPDATE);
            flags = flags || (out.res[i].opcode == IORING_RESTRICTION_SQE_FLAGS_ALLOWED &&
                              out.res[i].sqe_flags == IOSQE_FIXED_FILE);
        }
        cr_expect_eq(fu, cases[c].files_update, "features 0x%x: FILES_UPDATE", cases[c].feats);
        cr_expect(flags, "features 0x%x: the SQE flags restriction was dropped", cases[c].feats);
        cr_expect_eq(out.nres, 3u + cases[c].files_update, "features 0x%x: %zu restrictions",
                     cases[c].feats, out.nres);
    }
}

/* The embedded files: write(2) only with --trace-stderr; OPENAT without
 * --openat-root, OPENAT2 only with it; nothing else depends on an option. */
Test(policy, real_policy_depends_on_options_only_where_documented, .timeout = 10)
{
    static struct iod_policy all, out;
    char e[128] = "";
    cr_assert_eq(iod_policy_load(&all, e, sizeof e), 0, "%s", e);
    for (size_t i = 0; i < all.nrules; i++) {
        bool conditional = all.rules[i].when.need_set || all.rules[i].when.need_clear;
        bool is_write = strcmp(all.rules[i].name, "write") == 0;
        cr_expect_eq(conditional, is_write, "seccomp rule %s: conditional=%d", all.rules[i].name,
                     conditional);
        if (is_write)
            cr_expect(all.rules[i].when.need_set == IOD_POLICY_TRACE_STDERR &&
                          all.rules[i].when.need_clear == 0,
                      "write is not if:trace_stderr");
    }
    for (size_t i = 0; i < all.nres; i++) {
        bool conditional = all.res_when[i].need_set || all.res_when[i].need_clear;
        bool is_open = all.res[i].opcode == IORING_RESTRICTION_SQE_OP &&
                       (all.res[i].sqe_op == IORING_OP_OPENAT ||
                        all.res[i].sqe_op == IORING_OP_OPENAT2);
        cr_expect_eq(conditional, is_open, "restriction %zu: conditional=%d", i, conditional);
    }
    for (unsigned feats = 0; feats < 4; feats++) {
        iod_policy_select(&all, feats, &out);
        bool trace = feats & IOD_POLICY_TRACE_STDERR, root = feats & IOD_POLICY_OPENAT_ROOT;
        cr_expect_eq(rule_present(&out, "write"), trace, "features 0x%x: write", feats);
        cr_expect_eq(op_allowed(&out, IORING_OP_OPENAT), !root, "features 0x%x: OPENAT", feats);
        cr_expect_eq(op_allowed(&out, IORING_OP_OPENAT2), root, "features 0x%x: OPENAT2", feats);
        cr_expect_eq(out.nrules, all.nrules - !trace, "features 0x%x: %zu rules", feats,
                     out.nrules);
        cr_expect_eq(out.nres, all.nres - 1, "features 0x%x: %zu restrictions", feats, out.nres);
    }
}

/* --dump-policy prints the widest filter: the one with write(2) (--trace-stderr). */
Test(policy, dump_policy_is_the_widest_filter, .timeout = 10)
{
    FILE *f = tmpfile();
    cr_assert(f != NULL);
    cr_assert_eq(iod_check_dump_policy(f), 0);
    fseek(f, 0, SEEK_END);
    char *pfc = slurp(f);
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "# filter for syscall \"write\" (%d)",
             seccomp_syscall_resolve_name("write"));
    cr_assert(strstr(pfc, want) != NULL, "--dump-policy lacks write(2):\n%s", pfc);
    free(pfc);
}
