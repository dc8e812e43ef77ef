/* seccomp-run ENOSYS|EPERM -- PROG ARGS...
 * Runs PROG under a seccomp filter that allows everything except io_uring_setup,
 * which fails with the given errno: what a container runtime that blocks io_uring
 * does. Tests use it to produce the daemon's startup failures for real. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: seccomp-run ENOSYS|EPERM -- PROG [ARGS...]\n");
    return 125;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--") != 0)
        return usage();
    int err;
    if (strcmp(argv[1], "ENOSYS") == 0)
        err = ENOSYS;
    else if (strcmp(argv[1], "EPERM") == 0)
        err = EPERM;
    else
        return usage();

    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL) {
        fprintf(stderr, "seccomp-run: seccomp_init failed\n");
        return 125;
    }
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO((unsigned)err), SCMP_SYS(io_uring_setup), 0);
    if (rc == 0)
        rc = seccomp_load(ctx); /* sets no_new_privs by default */
    seccomp_release(ctx);
    if (rc != 0) {
        fprintf(stderr, "seccomp-run: installing the filter failed: %s\n", strerror(-rc));
        return 125;
    }
    execvp(argv[3], &argv[3]);
    fprintf(stderr, "seccomp-run: exec %s failed: %s\n", argv[3], strerror(errno));
    return 127;
}
