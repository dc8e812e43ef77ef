/* iouringd client library: the iouringd 0.1 client API (protocol-v1.md §20)
 * over protocol 1.12.
 *
 * Conventions, for every function below unless its comment says otherwise:
 * - Return 0 on success (iouringd_client_connect returns a descriptor), or -1 with
 *   errno set. Output structures are written only as documented.
 * - Argument errors give EINVAL before anything is sent or read; this includes
 *   fd < 0 and NULL output pointers.
 * - All I/O blocks, EINTR is retried, sends use MSG_NOSIGNAL (no SIGPIPE), EOF while
 *   reading gives EPIPE; other socket errors (ECONNRESET, ...) pass through.
 * - Before a reply is read, completion records at the head of the stream are read
 *   (payloads in full) and queued per fd, to be returned by iouringd_wait_completion.
 * - The library never prints.
 *
 * Per-fd state. Queued completions and stored payloads live in a small process-wide
 * table keyed by the descriptor number; an fd has an entry only while it holds
 * something. Call iouringd_client_close() (or iouringd_client_forget() before your
 * own close()) so that a later connection reusing the number cannot see stale
 * completions; iouringd_client_handshake_fd() also discards old state for its fd.
 *
 * Thread safety: none. The table is shared by all descriptors and not locked; use
 * the library from one thread, or serialise every call externally.
 *
 * Compiles standalone as C11 or C++11. */
#ifndef IOURINGD_CLIENT_H
#define IOURINGD_CLIENT_H

#include <iouringd/protocol.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ---------------------------------------------------------------- */

/* Both return the library's "MAJOR.MINOR.PATCH" version (a static string, never
 * NULL, never freed); it is independent of the protocol version 1.12. */
const char *iouringd_client_version(void);
const char *iouringd_version_string(void);

/* ---- Connection --------------------------------------------------------------- */

/* Connects to the daemon socket at `path` and returns a blocking, close-on-exec
 * AF_UNIX stream socket. NULL → EINVAL; strlen(path) ≥ 108 → ENAMETOOLONG; an empty
 * path → ENOENT; socket() and connect() errors pass through (ENOENT, ECONNREFUSED,
 * ...). */
int iouringd_client_connect(const char *path);

/* Sends the 16-byte 1.12 handshake request on `fd` and reads the 52-byte result
 * into *result. *result is filled whenever 52 bytes were read, also when the
 * function then fails with EPROTO, which it does unless: magic, version 1.12, ABI
 * 1.12 and reserved 0; status ACCEPT; struct_size 36; ring_entries, cq_entries,
 * op_mask non-zero and op_mask within 0xFFF; 1 ≤ submit_credits ≤ ring_entries;
 * registered_fd_slots and io_bytes_max non-zero; registered_buffer_slots non-zero
 * if READ_FIXED or WRITE_FIXED is advertised. Any state queued for `fd` is
 * discarded first (a handshake starts a new connection). */
int iouringd_client_handshake_fd(int fd, struct iouringd_handshake_result *result);

/* iouringd_client_connect(path), iouringd_client_handshake_fd(), then close. The
 * errno of the first failure is kept. */
int iouringd_client_handshake(const char *path, struct iouringd_handshake_result *result);

/* Frees every completion and payload the library holds for `fd`. Never fails; a
 * negative or unknown fd is a no-op. Does not close `fd`. */
void iouringd_client_forget(int fd);

/* iouringd_client_forget(fd), then close(fd). fd < 0 → EINVAL; close() errors pass
 * through (the state is freed regardless). */
int iouringd_client_close(int fd);

/* ---- Priority and the request builder --------------------------------------- */

/* A task request under construction. Zero it (or use iouringd_submit_request_init),
 * set the fields the kind uses, then send it with iouringd_submit_request_send.
 * This is the only way to send a priority other than NORMAL: the
 * iouringd_submit_<kind> functions below always send NORMAL (as in 0.1). */
struct iouringd_submit_request {
    uint16_t task_kind;       /* enum iouringd_task_kind, 1..14 */
    uint16_t priority;        /* enum iouringd_priority; CANCEL sends it as reserved0 */
    uint32_t resource_id;     /* file resource: kinds 4-12 and 14 (file_resource for 6, 7) */
    uint32_t buffer_id;       /* buffer resource: SOCK_READ_FIXED, SOCK_WRITE_FIXED */
    uint32_t length;          /* bytes: kinds 4-9; address length: CONNECT, ACCEPT */
    uint64_t timeout_nsec;    /* TIMEOUT */
    uint64_t target_task_id;  /* CANCEL */
    uint16_t poll_mask;       /* POLL */
    int32_t open_flags;       /* OPENAT */
    uint32_t open_mode;       /* OPENAT */
    const void *data;         /* SOCK_WRITE/FILE_WRITE data, CONNECT address */
    const char *path;         /* OPENAT: NUL-terminated, sent with its NUL */
};

/* True for NORMAL 0, LOW 1 and HIGH 2 only. */
bool iouringd_submit_priority_is_valid(int priority);

/* Zeroes *req and sets its kind (1..14) and priority NORMAL. NULL req or a kind
 * outside 1..14 → EINVAL. */
int iouringd_submit_request_init(struct iouringd_submit_request *req, uint16_t task_kind);

/* NULL req or an invalid priority → EINVAL, *req unchanged. */
int iouringd_submit_request_set_priority(struct iouringd_submit_request *req, int priority);

/* The request's priority; NORMAL for NULL. */
int iouringd_submit_request_priority(const struct iouringd_submit_request *req);

/* Sends *req with its priority and decodes the submit result exactly like the
 * per-kind functions (same EINVAL checks for the kind; additionally EINVAL for a
 * kind outside 1..14 or an invalid priority). */
int iouringd_submit_request_send(int fd, const struct iouringd_submit_request *req,
                                 uint64_t *task_id);
int iouringd_submit_request_send_result(int fd, const struct iouringd_submit_request *req,
                                        struct iouringd_submit_result *result);

/* ---- Task requests ------------------------------------------------------------ *
 * Short form: *task_id receives the new task id, written only on success.
 * _result form: *result receives the whole 16-byte submit result; it is filled
 * whenever a reply was read, also on failure.
 * Reply decoding: task_id 0 with -4095 ≤ res < 0 → -1 with errno = -res (a
 * reject; the connection stays usable); res 0 with task_id in 1..2^64-17 → 0;
 * anything else → EPROTO. */

int iouringd_submit_nop(int fd, uint64_t *task_id);
int iouringd_submit_nop_result(int fd, struct iouringd_submit_result *result);

int iouringd_submit_timeout(int fd, uint64_t timeout_nsec, uint64_t *task_id);
int iouringd_submit_timeout_result(int fd, uint64_t timeout_nsec,
                                   struct iouringd_submit_result *result);

/* No check on `target` (the daemon rejects 0 and reserved ids); bytes 10-11 = 0. */
int iouringd_submit_cancel(int fd, uint64_t target, uint64_t *task_id);
int iouringd_submit_cancel_result(int fd, uint64_t target,
                                  struct iouringd_submit_result *result);

/* EINVAL: res_id 0, length 0. The bytes read arrive as the completion payload. */
int iouringd_submit_sock_read(int fd, uint32_t res_id, uint32_t length, uint64_t *task_id);
int iouringd_submit_sock_read_result(int fd, uint32_t res_id, uint32_t length,
                                     struct iouringd_submit_result *result);
int iouringd_submit_file_read(int fd, uint32_t res_id, uint32_t length, uint64_t *task_id);
int iouringd_submit_file_read_result(int fd, uint32_t res_id, uint32_t length,
                                     struct iouringd_submit_result *result);

/* EINVAL: buf NULL, res_id 0, length 0. No upper bound: the daemon disconnects
 * writes above its io_bytes_max. Request and data go in one sendmsg. */
int iouringd_submit_sock_write(int fd, uint32_t res_id, const void *buf, uint32_t length,
                               uint64_t *task_id);
int iouringd_submit_sock_write_result(int fd, uint32_t res_id, const void *buf,
                                      uint32_t length, struct iouringd_submit_result *result);
int iouringd_submit_file_write(int fd, uint32_t res_id, const void *buf, uint32_t length,
                               uint64_t *task_id);
int iouringd_submit_file_write_result(int fd, uint32_t res_id, const void *buf,
                                      uint32_t length, struct iouringd_submit_result *result);

/* EINVAL: res_id 0, poll_mask 0. */
int iouringd_submit_poll(int fd, uint32_t res_id, uint16_t poll_mask, uint64_t *task_id);
int iouringd_submit_poll_result(int fd, uint32_t res_id, uint16_t poll_mask,
                                struct iouringd_submit_result *result);

/* EINVAL: sockaddr NULL, res_id 0, sockaddr_len 0 or > 65535. The address bytes
 * are sent as given, in the same sendmsg as the request. */
int iouringd_submit_connect(int fd, uint32_t res_id, const void *sockaddr,
                            socklen_t sockaddr_len, uint64_t *task_id);
int iouringd_submit_connect_result(int fd, uint32_t res_id, const void *sockaddr,
                                   socklen_t sockaddr_len,
                                   struct iouringd_submit_result *result);

/* EINVAL: res_id 0, sockaddr_len > 65535 (0 = don't return the peer address). */
int iouringd_submit_accept(int fd, uint32_t res_id, socklen_t sockaddr_len,
                           uint64_t *task_id);
int iouringd_submit_accept_result(int fd, uint32_t res_id, socklen_t sockaddr_len,
                                  struct iouringd_submit_result *result);

/* EINVAL: path NULL or empty, strlen(path) + 1 > 4096. Sends the path with its NUL;
 * flags and mode are passed to openat(2) unchanged. */
int iouringd_submit_openat(int fd, const char *path, int flags, mode_t mode,
                           uint64_t *task_id);
int iouringd_submit_openat_result(int fd, const char *path, int flags, mode_t mode,
                                  struct iouringd_submit_result *result);

/* EINVAL: res_id 0. */
int iouringd_submit_close(int fd, uint32_t res_id, uint64_t *task_id);
int iouringd_submit_close_result(int fd, uint32_t res_id,
                                 struct iouringd_submit_result *result);

/* EINVAL: file_id 0, buf_id 0, length 0. */
int iouringd_submit_sock_read_fixed(int fd, uint32_t file_id, uint32_t buf_id,
                                    uint32_t length, uint64_t *task_id);
int iouringd_submit_sock_read_fixed_result(int fd, uint32_t file_id, uint32_t buf_id,
                                           uint32_t length,
                                           struct iouringd_submit_result *result);
int iouringd_submit_sock_write_fixed(int fd, uint32_t file_id, uint32_t buf_id,
                                     uint32_t length, uint64_t *task_id);
int iouringd_submit_sock_write_fixed_result(int fd, uint32_t file_id, uint32_t buf_id,
                                            uint32_t length,
                                            struct iouringd_submit_result *result);

/* ---- Control requests --------------------------------------------------------- *
 * Short form: *resource_id receives the new or released id, only on success.
 * _result form: *result is filled whenever a reply was read.
 * Reply decoding: reserved 0, resource_id 0, -4095 ≤ res < 0 → errno = -res;
 * reserved 0, res 0, resource_id ≠ 0 → 0; anything else → EPROTO. */

/* Sends the 16-byte header with `resource_fd` in one SCM_RIGHTS message, in one
 * sendmsg. EINVAL: resource_fd < 0. A short send → EPROTO (the request is then
 * incomplete on the wire). The caller keeps its own copy of resource_fd. */
int iouringd_register_fd(int fd, int resource_fd, uint32_t *resource_id);
int iouringd_register_fd_result(int fd, int resource_fd,
                                struct iouringd_resource_result *result);

/* EINVAL: length > 4096 (0.1's limit), length > 0 with buf NULL. */
int iouringd_register_buffer(int fd, const void *buf, uint32_t length,
                             uint32_t *resource_id);
int iouringd_register_buffer_result(int fd, const void *buf, uint32_t length,
                                    struct iouringd_resource_result *result);

/* EINVAL: res_id 0. */
int iouringd_release_resource(int fd, uint32_t res_id, uint32_t *resource_id);
int iouringd_release_resource_result(int fd, uint32_t res_id,
                                     struct iouringd_resource_result *result);

/* The 56-byte stats result, copied unvalidated. Both forms are identical. */
int iouringd_get_stats(int fd, struct iouringd_stats_result *result);
int iouringd_get_stats_result(int fd, struct iouringd_stats_result *result);

/* GET_TRACE: events with sequence > after, at most max_events (the daemon
 * disconnects max_events > 256; the library does not check it). Both forms are
 * identical. EINVAL: result or count NULL; max_events > 0 with capacity <
 * max_events. On success *result is the trace result, events[0..*count) the events
 * (*count = result->count). Failures, after *result was read (and *count set to 0):
 * reserved ≠ 0 → EPROTO (events not read: the stream cannot be trusted);
 * count > capacity, or count > 0 with events NULL → EOVERFLOW, the events are read
 * and discarded so the next reply still decodes, events[] untouched;
 * an event with event_kind outside 1..5, task_kind ≥ 15, priority ≥ 3 or
 * reserved1 ≠ 0 → EPROTO, after every event was read (events[] may be written). */
int iouringd_get_trace(int fd, uint64_t after, uint32_t max_events,
                       struct iouringd_trace_result *result,
                       struct iouringd_trace_event *events, size_t capacity,
                       size_t *count);
int iouringd_get_trace_result(int fd, uint64_t after, uint32_t max_events,
                              struct iouringd_trace_result *result,
                              struct iouringd_trace_event *events, size_t capacity,
                              size_t *count);

/* ---- Extensions beyond v1.12 ------------------------------------------------------ */

/* IOURINGD_EXT_GET_DAEMON_COUNTERS: sends the 16-byte header (kind 0x1001, reserved
 * fields 0) and reads the 256-byte struct iouringd_daemon_counters into *out, which
 * is filled whenever 256 bytes were read, also when the function then fails with
 * EPROTO: struct_size ≠ 256 or version ≠ IOURINGD_DAEMON_COUNTERS_VERSION (the
 * stream cannot be trusted after that; close the connection).
 * A daemon without the extension (v1-only, or older) disconnects on this kind, which
 * shows up as EPIPE (or ECONNRESET); the connection is then gone, so callers that
 * want a fallback reconnect and use iouringd_get_stats. */
int iouringd_get_daemon_counters(int fd, struct iouringd_daemon_counters *out);

/* ---- Completions -------------------------------------------------------------- */

/* A completion as returned to the caller: the wire record plus a handle to its
 * payload, which the library keeps until read or discarded. */
struct iouringd_client_completion {
    struct iouringd_completion record; /* header, task_id, res, task_kind, payload_length */
    uint64_t payload_handle;           /* library-owned; 0 = no stored payload */
};

/* Returns the oldest completion queued for `fd`, or else reads one from the socket
 * (blocking). EPROTO, with nothing written to *completion, if the record breaks
 * §4.2: wrong magic or version; task_id 0 or reserved (the library cannot know
 * ids issued by requests it did not send, so only the range is checked); task_kind
 * outside 1..14; SOCK_READ/SOCK_READ_FIXED/FILE_READ with res < 0 and a payload or
 * res ≥ 0 and payload_length ≠ res; ACCEPT with res < 0 and a payload, or res 0;
 * any other kind with a payload. When the next bytes on the socket are not a
 * completion (e.g. a reply), EPROTO and, normally, nothing is consumed.
 * A queued completion that was malformed never reaches the queue: the reply call
 * that met it failed with EPROTO instead. */
int iouringd_wait_completion(int fd, struct iouringd_client_completion *completion);

/* Copies the payload of a completion returned for `fd` into buf and forgets it
 * (completion->payload_handle becomes 0). EINVAL: fd < 0, completion or len NULL,
 * task_kind not SOCK_READ, SOCK_READ_FIXED, FILE_READ or ACCEPT. payload_length 0 →
 * *len = 0, success. buf NULL or cap < payload_length → EMSGSIZE (the payload is
 * kept). No stored payload (already read or discarded, or a foreign handle) →
 * EPROTO. Otherwise *len = payload_length. */
int iouringd_read_completion_payload(int fd, struct iouringd_client_completion *completion,
                                     void *buf, size_t cap, size_t *len);

/* Frees a completion's stored payload without reading it (handle becomes 0).
 * EINVAL: fd < 0 or completion NULL. No stored payload → success (nothing to do). */
int iouringd_discard_completion_payload(int fd,
                                        struct iouringd_client_completion *completion);

#ifdef __cplusplus
}
#endif

#endif /* IOURINGD_CLIENT_H */
