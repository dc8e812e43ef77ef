/* Helpers for the I/O task-kind integration tests (test_io_*.c): request builders
 * with payloads, resource requests, descriptor passing and kernel-object fixtures.
 * Built on harness.h; like it, "asserting" helpers fail the current test. */
#ifndef IOURINGD_TEST_IO_HELPERS_H
#define IOURINGD_TEST_IO_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* ---- kernel objects (all close-on-exec) ------------------------------------ */

/* AF_UNIX SOCK_STREAM socketpair; asserts. */
void io_socketpair(int sv[2]);
/* Same with SO_SNDBUF/SO_RCVBUF raised on both ends (best effort). */
void io_socketpair_big(int sv[2]);
/* memfd with `len` initial bytes; asserts. */
int io_memfd(const void *data, size_t len);
/* Create `dir/name` with `len` bytes; returns the malloc'ed absolute path. */
char *io_make_file(const char *dir, const char *name, const void *data, size_t len);
/* Listening AF_UNIX stream socket bound at `path`; asserts. */
int io_listener(const char *path);
/* Fill a sockaddr_un for `path`; returns the length offsetof(sun_path)+strlen+1. */
uint32_t io_sockaddr_un(const char *path, void *out /* struct sockaddr_un */);
/* Deterministic pattern bytes (seeded) into buf. */
void io_pattern(uint8_t *buf, size_t len, unsigned seed);
/* Read exactly n bytes from a plain fd (bounded); asserts. */
void io_read_exact(int fd, void *buf, size_t n);
/* Write all bytes to a plain fd (bounded); asserts. */
void io_write_all(int fd, const void *buf, size_t n);
/* Poll `fd` until read() returns 0 (EOF) or ECONNRESET, bounded; true if it did.
 * Data arriving instead counts as "no EOF". */
bool io_peer_sees_eof(int fd, int timeout_ms);

/* ---- workers ---------------------------------------------------------------- */

/* The single worker of `d` (asserts exactly one child). */
pid_t io_worker_pid(const struct h_daemon *d);
/* Wait (bounded) for `pid` to disappear; asserts. */
void io_expect_worker_gone(pid_t pid, unsigned long long starttime, int timeout_ms);

/* ---- raw sends -------------------------------------------------------------- */

/* sendmsg of `len` bytes with one SCM_RIGHTS holding `nfds` descriptors; 0/-errno. */
int io_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/* ---- resource requests ------------------------------------------------------ */

struct iouringd_resource_result io_read_resource(struct h_conn *c);
void io_assert_resource(struct iouringd_resource_result r, uint32_t id, int32_t res,
                        uint32_t available);
/* REGISTER_FD with `fd` attached (fd < 0: without a descriptor). */
struct iouringd_resource_result io_register_fd(struct h_conn *c, int fd);
/* REGISTER_FD that must succeed; returns the id. */
uint32_t io_register_fd_ok(struct h_conn *c, int fd);
struct iouringd_resource_result io_register_buffer(struct h_conn *c, const void *data,
                                                   uint32_t len);
struct iouringd_resource_result io_release(struct h_conn *c, uint32_t id);

/* ---- task requests (send, then read the submit result) ---------------------- */

/* SOCK_READ / FILE_READ */
struct iouringd_io_request io_read_req(uint16_t kind, uint16_t prio, uint32_t id, uint32_t len);
struct iouringd_submit_result io_read(struct h_conn *c, uint16_t kind, uint16_t prio,
                                      uint32_t id, uint32_t len);
/* SOCK_WRITE / FILE_WRITE with data in the same write */
struct iouringd_submit_result io_write(struct h_conn *c, uint16_t kind, uint16_t prio,
                                       uint32_t id, const void *data, uint32_t len);
/* SOCK_READ_FIXED / SOCK_WRITE_FIXED */
struct iouringd_submit_result io_fixed(struct h_conn *c, uint16_t kind, uint16_t prio,
                                       uint32_t file, uint32_t buf, uint32_t len);
struct iouringd_submit_result io_poll(struct h_conn *c, uint32_t id, uint16_t mask);
struct iouringd_submit_result io_connect(struct h_conn *c, uint32_t id, const void *addr,
                                         uint32_t len);
struct iouringd_submit_result io_accept(struct h_conn *c, uint32_t id, uint32_t salen);
struct iouringd_submit_result io_openat(struct h_conn *c, uint16_t prio, const char *path,
                                        int32_t flags, uint32_t mode);
struct iouringd_submit_result io_close(struct h_conn *c, uint16_t prio, uint32_t id);

/* Next completion asserted as {id, res, kind, payload_length}; the caller frees. */
struct h_completion io_completion(struct h_conn *c, uint64_t id, int32_t res, uint16_t kind,
                                  uint16_t payload_length);
/* Same, for a completion whose payload is not needed (freed). */
void io_expect_completion(struct h_conn *c, uint64_t id, int32_t res, uint16_t kind,
                          uint16_t payload_length);
/* Expect a silent disconnect (EOF / ECONNRESET, no bytes). */
void io_expect_disconnect(struct h_conn *c, const char *what);
/* A NOP round trip proves the connection is still usable. */
void io_expect_alive(struct h_conn *c, uint64_t task_id, uint32_t credits_after);

/* GET_TRACE of up to `max` events after `after`; returns the count. */
uint32_t io_get_trace(struct h_conn *c, uint64_t after, uint32_t max,
                      struct iouringd_trace_event *events);

#endif
