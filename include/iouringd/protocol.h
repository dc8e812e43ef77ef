/* iouringd protocol v1 (1.12): wire records and constants.
 *
 * Every record here is laid out exactly as on the wire: little-endian integers,
 * natural alignment, no implicit padding (checked by static assertions below).
 * This header compiles standalone with C11 or C++11. */
#ifndef IOURINGD_PROTOCOL_H
#define IOURINGD_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "iouringd records are little-endian; a big-endian build is not supported"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* 1.1 Identification */
#define IOURINGD_WIRE_MAGIC 0x31444F49u /* "IOD1" on the wire */
#define IOURINGD_PROTOCOL_VERSION_MAJOR 1u
#define IOURINGD_PROTOCOL_VERSION_MINOR 12u
#define IOURINGD_ABI_VERSION_MAJOR 1u
#define IOURINGD_ABI_VERSION_MINOR 12u
#define IOURINGD_PROTOCOL_GENERATION 1u
#define IOURINGD_ENDIANNESS_LITTLE 1u
#define IOURINGD_PACKING_NONE 1u

#define IOURINGD_HANDSHAKE_ACCEPT 0u
#define IOURINGD_HANDSHAKE_REJECT 1u
#define IOURINGD_HANDSHAKE_DEGRADE 2u /* defined, never sent */

#define IOURINGD_CAPABILITY_STRUCT_SIZE 36u

/* 1.2 Request kinds */
enum iouringd_task_kind {
    IOURINGD_TASK_NOP = 1,
    IOURINGD_TASK_TIMEOUT = 2,
    IOURINGD_TASK_CANCEL = 3,
    IOURINGD_TASK_SOCK_READ = 4,
    IOURINGD_TASK_SOCK_WRITE = 5,
    IOURINGD_TASK_SOCK_READ_FIXED = 6,
    IOURINGD_TASK_SOCK_WRITE_FIXED = 7,
    IOURINGD_TASK_FILE_READ = 8,
    IOURINGD_TASK_FILE_WRITE = 9,
    IOURINGD_TASK_POLL = 10,
    IOURINGD_TASK_CONNECT = 11,
    IOURINGD_TASK_ACCEPT = 12,
    IOURINGD_TASK_OPENAT = 13,
    IOURINGD_TASK_CLOSE = 14,
    IOURINGD_TASK_KIND_MAX = 15 /* exclusive bound */
};

enum iouringd_control_kind {
    IOURINGD_CONTROL_REGISTER_FD = 256,
    IOURINGD_CONTROL_RELEASE_RESOURCE = 257,
    IOURINGD_CONTROL_REGISTER_BUFFER = 258,
    IOURINGD_CONTROL_GET_STATS = 259,
    IOURINGD_CONTROL_GET_TRACE = 260,
    IOURINGD_CONTROL_KIND_MIN = 256,
    IOURINGD_CONTROL_KIND_MAX = 261 /* exclusive bound */
};

/* 1.3 Priority */
enum iouringd_priority {
    IOURINGD_PRIORITY_NORMAL = 0,
    IOURINGD_PRIORITY_LOW = 1,
    IOURINGD_PRIORITY_HIGH = 2,
    IOURINGD_PRIORITY_MAX = 3 /* exclusive bound */
};

/* Capability op bits, each naming an IORING_OP_* opcode. */
#define IOURINGD_OP_NOP (1u << 0)
#define IOURINGD_OP_TIMEOUT (1u << 1)
#define IOURINGD_OP_READV (1u << 2)
#define IOURINGD_OP_WRITEV (1u << 3)
#define IOURINGD_OP_ASYNC_CANCEL (1u << 4)
#define IOURINGD_OP_READ_FIXED (1u << 5)
#define IOURINGD_OP_WRITE_FIXED (1u << 6)
#define IOURINGD_OP_POLL (1u << 7)
#define IOURINGD_OP_CONNECT (1u << 8)
#define IOURINGD_OP_ACCEPT (1u << 9)
#define IOURINGD_OP_OPENAT (1u << 10)
#define IOURINGD_OP_CLOSE (1u << 11)
#define IOURINGD_OP_MASK_V1 0xFFFu

/* Trace event kinds */
enum iouringd_trace_event_kind {
    IOURINGD_TRACE_SUBMIT_ACCEPT = 1,
    IOURINGD_TRACE_SUBMIT_REJECT = 2,
    IOURINGD_TRACE_COMPLETION = 3,
    IOURINGD_TRACE_RESOURCE_REGISTER = 4,
    IOURINGD_TRACE_RESOURCE_RELEASE = 5
};

/* Ids */
#define IOURINGD_INVALID_TASK_ID 0u
#define IOURINGD_RESERVED_TASK_ID_MIN (UINT64_MAX - 15u) /* 2^64-16 .. 2^64-1 */
#define IOURINGD_INVALID_RESOURCE_ID 0u

/* 1.4 Limits */
#define IOURINGD_INPUT_BOUND_MIN 4120u
#define IOURINGD_OUTPUT_HIGH_WATER 65536u
#define IOURINGD_TRACE_RING_EVENTS 256u
#define IOURINGD_SOCKET_PATH_MAX 107u

/* Fixed request sizes, header included. */
#define IOURINGD_HEADER_SIZE 16u
#define IOURINGD_HANDSHAKE_REQUEST_SIZE 16u
#define IOURINGD_HANDSHAKE_RESULT_SIZE 52u
#define IOURINGD_SUBMIT_RESULT_SIZE 16u
#define IOURINGD_RESOURCE_RESULT_SIZE 16u
#define IOURINGD_STATS_RESULT_SIZE 56u
#define IOURINGD_TRACE_RESULT_SIZE 24u
#define IOURINGD_TRACE_EVENT_SIZE 48u
#define IOURINGD_COMPLETION_SIZE 24u

struct iouringd_protocol_header {
    uint32_t magic;
    uint16_t version_major;
    uint16_t version_minor;
};

struct iouringd_handshake_request {
    struct iouringd_protocol_header header;
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t reserved;
};

struct iouringd_handshake_response {
    struct iouringd_protocol_header header;
    uint16_t abi_major;
    uint16_t abi_minor;
    uint16_t status;
    uint16_t reserved;
};

struct iouringd_capability_descriptor {
    uint32_t struct_size;
    uint32_t features;
    uint32_t ring_entries;
    uint32_t cq_entries;
    uint32_t op_mask;
    uint32_t submit_credits;
    uint32_t registered_fd_slots;
    uint32_t registered_buffer_slots;
    uint32_t io_bytes_max;
};

struct iouringd_handshake_result {
    struct iouringd_handshake_response response;
    struct iouringd_capability_descriptor capabilities;
};

/* Common 16-byte request header: task requests call bytes 10-11 priority
 * (CANCEL: reserved0), control requests call them reserved0. */
struct iouringd_request_header {
    struct iouringd_protocol_header header;
    uint16_t kind;
    uint16_t priority;
    uint32_t reserved1;
};

struct iouringd_timeout_request {
    struct iouringd_request_header hdr;
    uint64_t timeout_nsec;
};

struct iouringd_cancel_request {
    struct iouringd_request_header hdr;
    uint64_t target_task_id;
};

/* SOCK_READ, SOCK_WRITE, FILE_READ, FILE_WRITE (writes carry `length` data bytes) */
struct iouringd_io_request {
    struct iouringd_request_header hdr;
    uint32_t resource_id;
    uint32_t length;
};

struct iouringd_fixed_io_request {
    struct iouringd_request_header hdr;
    uint32_t file_resource;
    uint32_t buffer_resource;
    uint32_t length;
};

struct iouringd_poll_request {
    struct iouringd_request_header hdr;
    uint32_t resource_id;
    uint16_t poll_mask;
    uint16_t reserved2;
};

/* CONNECT (followed by the address) and ACCEPT (address buffer size) */
struct iouringd_sockaddr_request {
    struct iouringd_request_header hdr;
    uint32_t resource_id;
    uint32_t sockaddr_length;
};

struct iouringd_openat_request {
    struct iouringd_request_header hdr;
    int32_t open_flags;
    uint32_t open_mode;
    uint32_t path_length;
};

/* CLOSE and RELEASE_RESOURCE */
struct iouringd_resource_request {
    struct iouringd_request_header hdr;
    uint32_t resource_id;
    uint32_t reserved2;
};

struct iouringd_register_buffer_request {
    struct iouringd_request_header hdr;
    uint32_t length;
    uint32_t reserved2;
};

struct iouringd_get_trace_request {
    struct iouringd_request_header hdr;
    uint64_t after_sequence;
    uint32_t max_events;
    uint32_t reserved2;
};

struct iouringd_submit_result {
    uint64_t task_id;
    int32_t res;
    uint32_t credits;
};

struct iouringd_completion {
    struct iouringd_protocol_header header;
    uint64_t task_id;
    int32_t res;
    uint16_t task_kind;
    uint16_t payload_length;
};

struct iouringd_resource_result {
    uint32_t resource_id;
    int32_t res;
    uint32_t resources_available;
    uint32_t reserved;
};

struct iouringd_stats_result {
    uint32_t active_clients;
    uint32_t outstanding_tasks;
    uint32_t outstanding_credit_tasks;
    uint32_t available_credits;
    uint32_t registered_files;
    uint32_t registered_buffers;
    uint64_t accepted_submits;
    uint64_t rejected_submits;
    uint64_t completions;
    uint32_t per_client_credit_limit;
    uint32_t clients_at_credit_limit;
};

struct iouringd_trace_result {
    uint64_t oldest_sequence;
    uint64_t latest_sequence;
    uint32_t count;
    uint32_t reserved;
};

struct iouringd_trace_event {
    uint64_t sequence;
    uint64_t timestamp_nsec;
    uint64_t task_id;
    uint32_t resource_id;
    int32_t res;
    uint32_t credits;
    uint16_t event_kind;
    uint16_t task_kind;
    uint16_t client_slot;
    uint16_t priority;
    uint32_t reserved1;
};


/* ---- Extensions beyond v1.12 (docs/protocol-extensions.md) ----------------
 * A supervisor-answered control kind outside the v1 ranges. A v1-only daemon
 * disconnects on it at stage H, so a client sends it only when it can accept
 * that (iouringctl falls back to GET_STATS). No v1 record changes. */
#define IOURINGD_EXT_GET_DAEMON_COUNTERS 0x1001u /* 4097: header only, reserved0 0 */

enum iouringd_refusal_reason {
    IOURINGD_REFUSED_PEER_CREDENTIALS = 0,
    IOURINGD_REFUSED_MAX_CLIENTS = 1,
    IOURINGD_REFUSED_MAX_CLIENTS_PER_UID = 2,
    IOURINGD_REFUSED_RESOURCES = 3,
    IOURINGD_REFUSED_WORKER_SETUP = 4,
    IOURINGD_REFUSED_REASONS = 5
};

enum iouringd_worker_exit_reason {
    IOURINGD_EXIT_CLEAN = 0,              /* client left at a message boundary */
    IOURINGD_EXIT_PROTOCOL_VIOLATION = 1, /* framing/descriptor violation, EOF mid-message */
    IOURINGD_EXIT_HANDSHAKE_REJECT = 2,
    IOURINGD_EXIT_IO_ERROR = 3,           /* read or write error on the client socket */
    IOURINGD_EXIT_INTERNAL_ERROR = 4,     /* the worker failed and exited non-zero */
    IOURINGD_EXIT_CRASH = 5,              /* killed by a signal the supervisor did not send */
    IOURINGD_EXIT_SANDBOX_VIOLATION = 6,  /* killed by its seccomp filter (SIGSYS) */
    IOURINGD_EXIT_MALFORMED_RECORD = 7,   /* killed by the supervisor for a bad channel record */
    IOURINGD_EXIT_REASONS = 8
};

#define IOURINGD_DAEMON_COUNTERS_VERSION 1u

/* Reply to IOURINGD_EXT_GET_DAEMON_COUNTERS: fresh like GET_STATS (§14). */
struct iouringd_daemon_counters {
    uint32_t struct_size; /* sizeof this record: 256 */
    uint32_t version;     /* IOURINGD_DAEMON_COUNTERS_VERSION */
    struct iouringd_stats_result stats;
    uint64_t admitted_total;
    uint64_t refused_total[8];      /* by enum iouringd_refusal_reason; rest 0 */
    uint64_t worker_exits_total[8]; /* by enum iouringd_worker_exit_reason */
    uint64_t bytes_read_total;      /* payload bytes read by SOCK/FILE_READ(_FIXED) */
    uint64_t bytes_written_total;   /* bytes written by SOCK/FILE_WRITE(_FIXED) */
    uint64_t completions_ok_total;  /* completions with res >= 0 */
    uint64_t completions_error_total;
    uint64_t uptime_nsec;
    uint32_t live_workers;
    uint32_t max_clients;
    uint32_t seccomp_log_mode; /* 1 if --seccomp-mode log */
    uint32_t reserved;
};

#if defined(__cplusplus)
#define IOURINGD_STATIC_ASSERT static_assert
#else
#define IOURINGD_STATIC_ASSERT _Static_assert
#endif
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_handshake_request) == 16, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_handshake_result) == 52, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_capability_descriptor) == 36, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_request_header) == 16, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_timeout_request) == 24, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_cancel_request) == 24, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_io_request) == 24, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_fixed_io_request) == 28, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_poll_request) == 24, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_sockaddr_request) == 24, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_openat_request) == 28, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_resource_request) == 24, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_register_buffer_request) == 24, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_get_trace_request) == 32, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_submit_result) == 16, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_completion) == 24, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_resource_result) == 16, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_stats_result) == 56, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_trace_result) == 24, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_trace_event) == 48, "layout");
IOURINGD_STATIC_ASSERT(offsetof(struct iouringd_completion, payload_length) == 22, "layout");
IOURINGD_STATIC_ASSERT(sizeof(struct iouringd_daemon_counters) == 256, "layout");
IOURINGD_STATIC_ASSERT(offsetof(struct iouringd_trace_event, reserved1) == 44, "layout");

#ifdef __cplusplus
}
#endif

#endif /* IOURINGD_PROTOCOL_H */
