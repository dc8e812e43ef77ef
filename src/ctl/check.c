/* `iouringctl check` is `iouringd --check`: the posture check lives in the
 * daemon, so iouringctl execs the daemon binary installed beside it (else the
 * one on PATH) and its output and exit status are the command's own. */
#include "ctl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int ctl_exec_check(void)
{
    char self[PATH_MAX];
    char sibling[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    int sibling_err = 0;
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(sibling, sizeof sibling, "%s/iouringd", self);
            if (access(sibling, X_OK) == 0) {
                char *const argv[] = {sibling, (char *)"--check", NULL};
                execv(sibling, argv);
                sibling_err = errno; /* present but not runnable: try PATH */
            }
        }
    }
    char *const argv[] = {(char *)"iouringd", (char *)"--check", NULL};
    execvp("iouringd", argv);
    int err = errno;
    if (sibling_err != 0)
        fprintf(stderr, "iouringctl: %s: %s\n", sibling, strerror(sibling_err));
    if (err == ENOENT)
        fprintf(stderr, "iouringctl: check: iouringd not found next to iouringctl or on PATH\n");
    else
        fprintf(stderr, "iouringctl: check: cannot run iouringd: %s\n", strerror(err));
    return 1;
}
