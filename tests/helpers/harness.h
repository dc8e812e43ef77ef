/* Integration-test harness: starts the real daemon on a fresh socket, speaks the raw
 * v1 protocol (no client library), and inspects processes through /proc.
 * Every h_* function that "asserts" fails the current criterion test on error;
 * the raw ones return 0 / -errno instead. Register h_cleanup as .fini so daemons
 * are stopped (SIGTERM + wait) and temp dirs removed even when an assertion fails. */
#ifndef IOURINGD_TEST_HARNESS_H
#define IOURINGD_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iouringd/protocol.h"

#define H_TIMEOUT_MS 5000 /* default bound for every wait */
#define H_QUIET_MS 200    /* "nothing happens" window */
#define H_GOT_DATA 1      /* h_expect_eof: bytes arrived instead of EOF */

/* ---- daemon lifecycle ------------------------------------------------------ */

struct h_daemon {
    pid_t pid;
    bool reaped;
    int wait_status;
    char dir[64];      /* private mkdtemp directory */
    char sock[256];    /* socket path */
    char err_path[96]; /* the daemon's stderr */
    char out_path[96]; /* the daemon's stdout */
    int pending_fd;    /* connection that proved readiness; handed out first */
};

/* Path of the daemon binary (IOURINGD_BIN, default build/bin/iouringd) and of the
 * seccomp wrapper (IOURINGD_SECCOMP_RUN, default build/tests/seccomp-run). */
const char *h_daemon_bin(void);
const char *h_seccomp_run_bin(void);

/* Start `iouringd OPTS... SOCK` and wait (polling connect, bounded) until it
 * accepts connections. Options are a NULL-terminated list. Asserts readiness. */
struct h_daemon *h_start(const char *first_opt, ...);
/* Same with an option vector; `sock` NULL means a fresh path in a fresh dir. */
struct h_daemon *h_start_argv(const char *sock, const char *const *opts);
/* SIGTERM + waitpid (SIGKILL after the bound); returns the wait status. */
int h_stop(struct h_daemon *d);
/* Send `sig` and wait for the exit, bounded; returns the wait status or -1. */
int h_signal_wait(struct h_daemon *d, int sig, int timeout_ms);
/* True while the daemon process has not exited (reaps it if it has). */
bool h_alive(struct h_daemon *d);
/* Stops every daemon, closes every connection, removes every temp dir. */
void h_cleanup(void);

/* A fresh temp dir removed by h_cleanup. */
const char *h_tmpdir(void);

/* Run a program to completion, bounded; stdout/stderr captured. */
struct h_run_result {
    int status;     /* wait status, valid unless timed_out */
    bool timed_out; /* killed after the bound */
    char *out;      /* NUL-terminated, malloc'ed */
    char *err;
};
void h_run(const char *const *argv, int timeout_ms, struct h_run_result *r);
void h_run_free(struct h_run_result *r);
/* "exited with code": false if signalled or timed out. */
bool h_exited_with(const struct h_run_result *r, int code);

/* ---- daemon stderr --------------------------------------------------------- */

/* Whole stderr so far (malloc'ed, NUL-terminated). */
char *h_stderr(const struct h_daemon *d);
/* Poll stderr until a line starting with `prefix` appears (the `nth`, 1-based);
 * returns it without '\n' (malloc'ed) or NULL at the bound. */
char *h_wait_stderr_line(const struct h_daemon *d, const char *prefix, int nth, int timeout_ms);
/* Parse `PREFIX k1=v1 k2=v2 ...` with exactly `keys`, in order, nothing else.
 * Values (no spaces) are copied into vals[i] (each `vcap` bytes). 0 or -1. */
int h_parse_fields(const char *line, const char *prefix, const char *const *keys, size_t nkeys,
                   char (*vals)[128]);
/* Asserting form: returns nothing, fails the test with the line on mismatch. */
void h_expect_fields(const char *line, const char *prefix, const char *const *keys,
                     size_t nkeys, char (*vals)[128]);

/* ---- connections and raw bytes -------------------------------------------- */

struct h_completion {
    struct iouringd_completion c;
    uint8_t *payload; /* malloc'ed when payload_length > 0 */
};

#define H_QUEUE_MAX 64
struct h_conn {
    int fd;
    struct h_completion q[H_QUEUE_MAX]; /* completions read while looking for a reply */
    size_t qhead, qlen;
};

/* Connect to the daemon (the readiness connection first); asserts. */
struct h_conn *h_connect(struct h_daemon *d);
/* Raw connect; returns the fd or -errno. */
int h_connect_path(const char *path);
void h_close(struct h_conn *c);

/* 0 or -errno; never blocks longer than the bound. */
int h_write_all(int fd, const void *buf, size_t len, int timeout_ms);
/* 0, -ETIMEDOUT, -EPIPE (EOF before n bytes; *got says how many), or -errno. */
int h_read_exact(int fd, void *buf, size_t n, size_t *got, int timeout_ms);
/* 0 on EOF or ECONNRESET with no bytes; H_GOT_DATA if bytes came; -ETIMEDOUT. */
int h_expect_eof(int fd, int timeout_ms);
/* True if nothing (no byte, no EOF) arrives within ms. */
bool h_quiet(int fd, int ms);
/* sendmsg with one SCM_RIGHTS fd; 0 or -errno. */
int h_send_with_fd(int sock, const void *buf, size_t len, int fd);

/* Asserting send. */
void h_send(struct h_conn *c, const void *buf, size_t len);

/* ---- request builders ------------------------------------------------------ */

struct iouringd_handshake_request h_hs_request(void);
struct iouringd_request_header h_header(uint16_t kind, uint16_t priority);
struct iouringd_request_header h_nop(void);
struct iouringd_timeout_request h_timeout(uint64_t nsec);
struct iouringd_cancel_request h_cancel(uint64_t target);
struct iouringd_request_header h_get_stats(void);
struct iouringd_get_trace_request h_get_trace(uint64_t after, uint32_t max_events);
struct iouringd_resource_request h_release(uint32_t resource_id);
struct iouringd_register_buffer_request h_register_buffer(uint32_t length);

/* ---- handshake and replies ------------------------------------------------- */

/* Send `req`, read the 52-byte result; 0 or -errno. */
int h_handshake_raw(struct h_conn *c, const struct iouringd_handshake_request *req,
                    struct iouringd_handshake_result *out);
/* Standard 1.12 handshake, asserting ACCEPT; returns the capabilities. */
struct iouringd_capability_descriptor h_handshake(struct h_conn *c);
/* Connect + handshake. */
struct h_conn *h_client(struct h_daemon *d, struct iouringd_capability_descriptor *caps);

/* Read the next reply of `size` bytes, queueing completions that come first. */
void h_read_reply(struct h_conn *c, void *buf, size_t size);
struct iouringd_submit_result h_read_submit(struct h_conn *c);
struct iouringd_stats_result h_read_stats(struct h_conn *c);
/* Next completion: queued first, else read; a reply in its place fails. */
struct h_completion h_next_completion(struct h_conn *c);
size_t h_queued_completions(const struct h_conn *c);

/* Send + read the submit result. */
struct iouringd_submit_result h_submit(struct h_conn *c, const void *req, size_t len);
struct iouringd_stats_result h_stats(struct h_conn *c);

void h_assert_submit(struct iouringd_submit_result r, uint64_t id, int32_t res,
                     uint32_t credits);
void h_assert_completion(const struct h_completion *c, uint64_t id, int32_t res,
                         uint16_t kind, uint16_t payload_length);
void h_assert_stats(const struct iouringd_stats_result *got,
                    const struct iouringd_stats_result *want);
void h_free_completion(struct h_completion *c);

/* ---- /proc ----------------------------------------------------------------- */

/* Children of `parent` (ppid match); returns the count (fills up to cap). */
size_t h_children(pid_t parent, pid_t *out, size_t cap);
/* Poll until `parent` has exactly n children; returns the last count seen. */
size_t h_wait_children(pid_t parent, size_t n, pid_t *out, size_t cap, int timeout_ms);
/* Open fds of pid, or -1. */
int h_count_fds(pid_t pid);
/* Number of anon_inode:[io_uring] fds of pid, or -1. */
int h_count_io_uring_fds(pid_t pid);
/* Field 22 of /proc/PID/stat (start time), 0 if the process is gone. */
unsigned long long h_pid_starttime(pid_t pid);
/* True if the process (pid + its starttime) is gone from /proc, i.e. it has been
 * reaped, or the pid now names another process. */
bool h_pid_gone(pid_t pid, unsigned long long starttime);
bool h_wait_pid_gone(pid_t pid, unsigned long long starttime, int timeout_ms);

/* Monotonic milliseconds. */
long long h_now_ms(void);
void h_sleep_ms(int ms);

#endif
