/* Pure encode/decode/validation of protocol v1 records: the staged framing
 * checks of §2.2 and the per-kind framing rules of §4.4/§5. No I/O here. */
#include "wire.h"

#include <errno.h>
#include <string.h>

static const struct iod_kind_info kinds[] = {
    {IOURINGD_TASK_NOP, 16, 0, true, "nop"},
    {IOURINGD_TASK_TIMEOUT, 24, 0, true, "timeout"},
    {IOURINGD_TASK_CANCEL, 24, IOURINGD_OP_ASYNC_CANCEL, false, "cancel"},
    {IOURINGD_TASK_SOCK_READ, 24, IOURINGD_OP_READV, true, "sock_read"},
    {IOURINGD_TASK_SOCK_WRITE, 24, IOURINGD_OP_WRITEV, true, "sock_write"},
    {IOURINGD_TASK_SOCK_READ_FIXED, 28, IOURINGD_OP_READ_FIXED, true, "sock_read_fixed"},
    {IOURINGD_TASK_SOCK_WRITE_FIXED, 28, IOURINGD_OP_WRITE_FIXED, true, "sock_write_fixed"},
    {IOURINGD_TASK_FILE_READ, 24, IOURINGD_OP_READV, true, "file_read"},
    {IOURINGD_TASK_FILE_WRITE, 24, IOURINGD_OP_WRITEV, true, "file_write"},
    {IOURINGD_TASK_POLL, 24, IOURINGD_OP_POLL, true, "poll"},
    {IOURINGD_TASK_CONNECT, 24, IOURINGD_OP_CONNECT, true, "connect"},
    {IOURINGD_TASK_ACCEPT, 24, IOURINGD_OP_ACCEPT, true, "accept"},
    {IOURINGD_TASK_OPENAT, 28, IOURINGD_OP_OPENAT, true, "openat"},
    {IOURINGD_TASK_CLOSE, 24, IOURINGD_OP_CLOSE, true, "close"},
    {IOURINGD_CONTROL_REGISTER_FD, 16, 0, false, "control"},
    {IOURINGD_CONTROL_RELEASE_RESOURCE, 24, 0, false, "control"},
    {IOURINGD_CONTROL_REGISTER_BUFFER, 24, 0, false, "control"},
    {IOURINGD_CONTROL_GET_STATS, 16, 0, false, "control"},
    {IOURINGD_CONTROL_GET_TRACE, 32, 0, false, "control"},
};

/* The supervisor-answered extension (protocol.h), outside the v1 ranges. */
static const struct iod_kind_info ext_counters = {IOURINGD_EXT_GET_DAEMON_COUNTERS, 16, 0,
                                                  false, "control"};

const struct iod_kind_info *iod_kind_lookup(uint16_t kind)
{
    if (kind >= IOURINGD_TASK_NOP && kind < IOURINGD_TASK_KIND_MAX)
        return &kinds[kind - 1];
    if (kind >= IOURINGD_CONTROL_KIND_MIN && kind < IOURINGD_CONTROL_KIND_MAX)
        return &kinds[IOURINGD_TASK_KIND_MAX - 1 + (kind - IOURINGD_CONTROL_KIND_MIN)];
    if (kind == IOURINGD_EXT_GET_DAEMON_COUNTERS)
        return &ext_counters;
    return NULL;
}

bool iod_kind_is_task(uint16_t kind)
{
    return kind >= IOURINGD_TASK_NOP && kind < IOURINGD_TASK_KIND_MAX;
}

const char *iod_kind_name(uint16_t kind)
{
    if (kind == 0)
        return "control";
    if (iod_kind_is_task(kind))
        return kinds[kind - 1].name;
    return "unknown";
}

const char *iod_priority_name(uint16_t priority)
{
    switch (priority) {
    case IOURINGD_PRIORITY_NORMAL: return "normal";
    case IOURINGD_PRIORITY_LOW: return "low";
    case IOURINGD_PRIORITY_HIGH: return "high";
    default: return "unknown";
    }
}

const char *iod_event_name(uint16_t event_kind)
{
    switch (event_kind) {
    case IOURINGD_TRACE_SUBMIT_ACCEPT: return "submit_accept";
    case IOURINGD_TRACE_SUBMIT_REJECT: return "submit_reject";
    case IOURINGD_TRACE_COMPLETION: return "completion";
    case IOURINGD_TRACE_RESOURCE_REGISTER: return "resource_register";
    case IOURINGD_TRACE_RESOURCE_RELEASE: return "resource_release";
    default: return "unknown";
    }
}

uint32_t iod_input_bound(uint32_t io_bytes_max)
{
    uint64_t b = 24u + (uint64_t)io_bytes_max;
    return b > IOURINGD_INPUT_BOUND_MIN ? (uint32_t)b : IOURINGD_INPUT_BOUND_MIN;
}

void iod_wire_protocol_header(struct iouringd_protocol_header *h)
{
    h->magic = IOURINGD_WIRE_MAGIC;
    h->version_major = IOURINGD_PROTOCOL_VERSION_MAJOR;
    h->version_minor = IOURINGD_PROTOCOL_VERSION_MINOR;
}

static bool header_ok(const struct iouringd_protocol_header *h)
{
    return h->magic == IOURINGD_WIRE_MAGIC &&
           h->version_major == IOURINGD_PROTOCOL_VERSION_MAJOR &&
           h->version_minor == IOURINGD_PROTOCOL_VERSION_MINOR;
}

bool iod_wire_handshake_acceptable(const void *req16)
{
    struct iouringd_handshake_request r;
    memcpy(&r, req16, sizeof r);
    return header_ok(&r.header) && r.abi_major == IOURINGD_ABI_VERSION_MAJOR &&
           r.abi_minor == IOURINGD_ABI_VERSION_MINOR && r.reserved == 0;
}

void iod_wire_encode_handshake_result(void *out52, bool accept,
                                      const struct iouringd_capability_descriptor *caps)
{
    struct iouringd_handshake_result r;
    memset(&r, 0, sizeof r);
    iod_wire_protocol_header(&r.response.header);
    r.response.abi_major = IOURINGD_ABI_VERSION_MAJOR;
    r.response.abi_minor = IOURINGD_ABI_VERSION_MINOR;
    r.response.status = (uint16_t)(accept ? IOURINGD_HANDSHAKE_ACCEPT : IOURINGD_HANDSHAKE_REJECT);
    if (accept)
        r.capabilities = *caps;
    memcpy(out52, &r, sizeof r);
}

int iod_wire_stage_h(const void *hdr16, uint16_t *kind)
{
    struct iouringd_request_header h;
    memcpy(&h, hdr16, sizeof h);
    if (!header_ok(&h.header) || h.reserved1 != 0)
        return -EPROTO;
    if (iod_kind_lookup(h.kind) == NULL)
        return -EPROTO;
    *kind = h.kind;
    return 0;
}

int iod_wire_stage_f(const void *fixed, uint16_t kind, uint32_t io_bytes_max,
                     uint32_t *payload_length)
{
    *payload_length = 0;
    switch (kind) {
    case IOURINGD_TASK_SOCK_WRITE:
    case IOURINGD_TASK_FILE_WRITE: {
        struct iouringd_io_request r;
        memcpy(&r, fixed, sizeof r);
        if (r.length < 1 || r.length > io_bytes_max)
            return -EPROTO;
        *payload_length = r.length;
        return 0;
    }
    case IOURINGD_TASK_POLL: {
        struct iouringd_poll_request r;
        memcpy(&r, fixed, sizeof r);
        return r.reserved2 == 0 ? 0 : -EPROTO;
    }
    case IOURINGD_TASK_CONNECT: {
        struct iouringd_sockaddr_request r;
        memcpy(&r, fixed, sizeof r);
        if (r.sockaddr_length < 1 || r.sockaddr_length > io_bytes_max)
            return -EPROTO;
        *payload_length = r.sockaddr_length;
        return 0;
    }
    case IOURINGD_TASK_ACCEPT: {
        struct iouringd_sockaddr_request r;
        memcpy(&r, fixed, sizeof r);
        return r.sockaddr_length <= io_bytes_max ? 0 : -EPROTO;
    }
    case IOURINGD_TASK_OPENAT: {
        struct iouringd_openat_request r;
        memcpy(&r, fixed, sizeof r);
        if (r.path_length < 2 || r.path_length > io_bytes_max ||
            28u + (uint64_t)r.path_length > iod_input_bound(io_bytes_max))
            return -EPROTO;
        *payload_length = r.path_length;
        return 0;
    }
    case IOURINGD_TASK_CLOSE: {
        struct iouringd_resource_request r;
        memcpy(&r, fixed, sizeof r);
        return r.reserved2 == 0 ? 0 : -EPROTO;
    }
    case IOURINGD_CONTROL_REGISTER_BUFFER: {
        struct iouringd_register_buffer_request r;
        memcpy(&r, fixed, sizeof r);
        if (r.length > io_bytes_max || r.reserved2 != 0)
            return -EPROTO;
        *payload_length = r.length;
        return 0;
    }
    case IOURINGD_CONTROL_GET_TRACE: {
        struct iouringd_get_trace_request r;
        memcpy(&r, fixed, sizeof r);
        if (r.max_events > IOURINGD_TRACE_RING_EVENTS || r.reserved2 != 0)
            return -EPROTO;
        return 0;
    }
    default:
        /* RELEASE_RESOURCE's reserved2 is ignored, as in 0.1 (§5.3). */
        return iod_kind_lookup(kind) ? 0 : -EPROTO;
    }
}

int iod_wire_stage_m(const void *msg, size_t len, uint16_t kind)
{
    struct iouringd_request_header h;
    if (len < sizeof h)
        return -EPROTO;
    memcpy(&h, msg, sizeof h);
    if (iod_kind_is_task(kind)) {
        if (h.priority >= IOURINGD_PRIORITY_MAX)
            return -EPROTO;
    } else if (h.priority != 0) {
        return -EPROTO;
    }
    if (kind == IOURINGD_TASK_OPENAT) {
        if (len <= sizeof(struct iouringd_openat_request) ||
            ((const uint8_t *)msg)[len - 1] != 0)
            return -EPROTO;
    }
    return 0;
}

uint16_t iod_wire_ioprio(uint16_t kind, uint16_t priority)
{
    switch (kind) {
    case IOURINGD_TASK_SOCK_READ:
    case IOURINGD_TASK_SOCK_WRITE:
    case IOURINGD_TASK_SOCK_READ_FIXED:
    case IOURINGD_TASK_SOCK_WRITE_FIXED:
    case IOURINGD_TASK_FILE_READ:
    case IOURINGD_TASK_FILE_WRITE:
        break;
    default:
        return 0;
    }
    /* best-effort class (2 << 13) with level 0 (HIGH) or 7 (LOW) */
    if (priority == IOURINGD_PRIORITY_HIGH)
        return 0x4000;
    if (priority == IOURINGD_PRIORITY_LOW)
        return 0x4007;
    return 0;
}
