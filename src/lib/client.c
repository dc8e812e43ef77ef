/* iouringd client library: the 0.1 API of protocol-v1.md §20.
 * Pure encoding/validation helpers come first, then the blocking socket shell,
 * then the per-fd completion table, then the public functions. Internal helpers
 * return 0 or -errno; only public functions touch errno. */
#include <iouringd/client.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef IOURINGD_VERSION
#define IOURINGD_VERSION "0.2.0"
#endif

#define LIMIT_01 4096u          /* 0.1's OPENAT path and REGISTER_BUFFER limit */
#define SOCKADDR_LEN_MAX 65535u /* payload_length is 16 bits */
#define ERRNO_MAX 4095          /* a reply res below -ERRNO_MAX is not an errno */

static int fail(int err)
{
    errno = err;
    return -1;
}

/* ---- Pure wire helpers ---------------------------------------------------------- */

static struct iouringd_protocol_header wire_header(void)
{
    struct iouringd_protocol_header h;
    h.magic = IOURINGD_WIRE_MAGIC;
    h.version_major = (uint16_t)IOURINGD_PROTOCOL_VERSION_MAJOR;
    h.version_minor = (uint16_t)IOURINGD_PROTOCOL_VERSION_MINOR;
    return h;
}

static int header_is_v1_12(const struct iouringd_protocol_header *h)
{
    return h->magic == IOURINGD_WIRE_MAGIC && h->version_major == IOURINGD_PROTOCOL_VERSION_MAJOR &&
           h->version_minor == IOURINGD_PROTOCOL_VERSION_MINOR;
}

static struct iouringd_request_header request_header(uint16_t kind, uint16_t priority)
{
    struct iouringd_request_header h;
    h.header = wire_header();
    h.kind = kind;
    h.priority = priority;
    h.reserved1 = 0;
    return h;
}

/* A request ready to send: fixed part plus an optional trailing payload. */
struct encoded {
    union {
        struct iouringd_request_header hdr;
        struct iouringd_timeout_request timeout;
        struct iouringd_cancel_request cancel;
        struct iouringd_io_request io;
        struct iouringd_fixed_io_request fixed;
        struct iouringd_poll_request poll;
        struct iouringd_sockaddr_request addr;
        struct iouringd_openat_request openat;
        struct iouringd_resource_request resource;
        struct iouringd_register_buffer_request buffer;
        struct iouringd_get_trace_request trace;
    } u;
    size_t size;
    const void *tail;
    size_t tail_size;
};

/* Validates a task request (the §20 EINVAL checks) and encodes it. */
static int encode_task(const struct iouringd_submit_request *req, struct encoded *out)
{
    if (req->task_kind < IOURINGD_TASK_NOP || req->task_kind >= IOURINGD_TASK_KIND_MAX ||
        req->priority >= IOURINGD_PRIORITY_MAX)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->u.hdr = request_header(req->task_kind, req->priority);
    switch (req->task_kind) {
    case IOURINGD_TASK_NOP:
        out->size = sizeof(out->u.hdr);
        break;
    case IOURINGD_TASK_TIMEOUT:
        out->u.timeout.timeout_nsec = req->timeout_nsec;
        out->size = sizeof(out->u.timeout);
        break;
    case IOURINGD_TASK_CANCEL:
        out->u.cancel.target_task_id = req->target_task_id;
        out->size = sizeof(out->u.cancel);
        break;
    case IOURINGD_TASK_SOCK_READ:
    case IOURINGD_TASK_FILE_READ:
        if (req->resource_id == 0 || req->length == 0)
            return -EINVAL;
        out->u.io.resource_id = req->resource_id;
        out->u.io.length = req->length;
        out->size = sizeof(out->u.io);
        break;
    case IOURINGD_TASK_SOCK_WRITE:
    case IOURINGD_TASK_FILE_WRITE:
        if (req->data == NULL || req->resource_id == 0 || req->length == 0)
            return -EINVAL;
        out->u.io.resource_id = req->resource_id;
        out->u.io.length = req->length;
        out->size = sizeof(out->u.io);
        out->tail = req->data;
        out->tail_size = req->length;
        break;
    case IOURINGD_TASK_SOCK_READ_FIXED:
    case IOURINGD_TASK_SOCK_WRITE_FIXED:
        if (req->resource_id == 0 || req->buffer_id == 0 || req->length == 0)
            return -EINVAL;
        out->u.fixed.file_resource = req->resource_id;
        out->u.fixed.buffer_resource = req->buffer_id;
        out->u.fixed.length = req->length;
        out->size = sizeof(out->u.fixed);
        break;
    case IOURINGD_TASK_POLL:
        if (req->resource_id == 0 || req->poll_mask == 0)
            return -EINVAL;
        out->u.poll.resource_id = req->resource_id;
        out->u.poll.poll_mask = req->poll_mask;
        out->size = sizeof(out->u.poll);
        break;
    case IOURINGD_TASK_CONNECT:
        if (req->data == NULL || req->resource_id == 0 || req->length == 0 ||
            req->length > SOCKADDR_LEN_MAX)
            return -EINVAL;
        out->u.addr.resource_id = req->resource_id;
        out->u.addr.sockaddr_length = req->length;
        out->size = sizeof(out->u.addr);
        out->tail = req->data;
        out->tail_size = req->length;
        break;
    case IOURINGD_TASK_ACCEPT:
        if (req->resource_id == 0 || req->length > SOCKADDR_LEN_MAX)
            return -EINVAL;
        out->u.addr.resource_id = req->resource_id;
        out->u.addr.sockaddr_length = req->length;
        out->size = sizeof(out->u.addr);
        break;
    case IOURINGD_TASK_OPENAT: {
        if (req->path == NULL || req->path[0] == '\0')
            return -EINVAL;
        size_t n = strnlen(req->path, LIMIT_01) + 1; /* with the NUL */
        if (n > LIMIT_01)
            return -EINVAL;
        out->u.openat.open_flags = req->open_flags;
        out->u.openat.open_mode = req->open_mode;
        out->u.openat.path_length = (uint32_t)n;
        out->size = sizeof(out->u.openat);
        out->tail = req->path;
        out->tail_size = n;
        break;
    }
    default: /* CLOSE */
        if (req->resource_id == 0)
            return -EINVAL;
        out->u.resource.resource_id = req->resource_id;
        out->size = sizeof(out->u.resource);
        break;
    }
    return 0;
}

static int res_is_errno(int32_t res)
{
    return res < 0 && res >= -ERRNO_MAX;
}

static int decode_submit(const struct iouringd_submit_result *r)
{
    if (r->task_id == IOURINGD_INVALID_TASK_ID && res_is_errno(r->res))
        return r->res;
    if (r->res == 0 && r->task_id != IOURINGD_INVALID_TASK_ID &&
        r->task_id < IOURINGD_RESERVED_TASK_ID_MIN)
        return 0;
    return -EPROTO;
}

static int decode_resource(const struct iouringd_resource_result *r)
{
    if (r->reserved != 0)
        return -EPROTO;
    if (r->resource_id == IOURINGD_INVALID_RESOURCE_ID && res_is_errno(r->res))
        return r->res;
    if (r->res == 0 && r->resource_id != IOURINGD_INVALID_RESOURCE_ID)
        return 0;
    return -EPROTO;
}

static int handshake_is_valid(const struct iouringd_handshake_result *r)
{
    const struct iouringd_handshake_response *rs = &r->response;
    const struct iouringd_capability_descriptor *c = &r->capabilities;
    if (!header_is_v1_12(&rs->header) || rs->abi_major != IOURINGD_ABI_VERSION_MAJOR ||
        rs->abi_minor != IOURINGD_ABI_VERSION_MINOR || rs->reserved != 0)
        return 0;
    if (rs->status != IOURINGD_HANDSHAKE_ACCEPT)
        return 0;
    if (c->struct_size != IOURINGD_CAPABILITY_STRUCT_SIZE)
        return 0;
    if (c->ring_entries == 0 || c->cq_entries == 0 || c->op_mask == 0 ||
        (c->op_mask & ~IOURINGD_OP_MASK_V1) != 0)
        return 0;
    if (c->submit_credits < 1 || c->submit_credits > c->ring_entries)
        return 0;
    if (c->registered_fd_slots == 0 || c->io_bytes_max == 0)
        return 0;
    if ((c->op_mask & (IOURINGD_OP_READ_FIXED | IOURINGD_OP_WRITE_FIXED)) != 0 &&
        c->registered_buffer_slots == 0)
        return 0;
    return 1;
}

/* §4.2 well-formedness, minus "issued on this connection" (only the id range). */
static int completion_is_well_formed(const struct iouringd_completion *c)
{
    if (!header_is_v1_12(&c->header))
        return 0;
    if (c->task_id == IOURINGD_INVALID_TASK_ID || c->task_id >= IOURINGD_RESERVED_TASK_ID_MIN)
        return 0;
    switch (c->task_kind) {
    case IOURINGD_TASK_SOCK_READ:
    case IOURINGD_TASK_SOCK_READ_FIXED:
    case IOURINGD_TASK_FILE_READ:
        if (c->res < 0)
            return c->payload_length == 0;
        return (int64_t)c->payload_length == (int64_t)c->res;
    case IOURINGD_TASK_ACCEPT:
        if (c->res < 0)
            return c->payload_length == 0;
        return c->res > 0;
    default:
        if (c->task_kind < IOURINGD_TASK_NOP || c->task_kind >= IOURINGD_TASK_KIND_MAX)
            return 0;
        return c->payload_length == 0;
    }
}

static int trace_event_is_valid(const struct iouringd_trace_event *e)
{
    return e->event_kind >= IOURINGD_TRACE_SUBMIT_ACCEPT &&
           e->event_kind <= IOURINGD_TRACE_RESOURCE_RELEASE &&
           e->task_kind < IOURINGD_TASK_KIND_MAX && e->priority < IOURINGD_PRIORITY_MAX &&
           e->reserved1 == 0;
}

static int kind_has_payload(uint16_t kind)
{
    return kind == IOURINGD_TASK_SOCK_READ || kind == IOURINGD_TASK_SOCK_READ_FIXED ||
           kind == IOURINGD_TASK_FILE_READ || kind == IOURINGD_TASK_ACCEPT;
}

/* ---- Blocking socket shell ------------------------------------------------------- */

/* Sends every byte of iov[0..n), retrying EINTR and partial sends. */
static int send_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        struct msghdr msg;
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)n;
        ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        size_t left = (size_t)sent;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

static int send_encoded(int fd, const struct encoded *e)
{
    struct iovec iov[2];
    iov[0].iov_base = (void *)&e->u;
    iov[0].iov_len = e->size;
    iov[1].iov_base = (void *)e->tail;
    iov[1].iov_len = e->tail_size;
    return send_all(fd, iov, e->tail_size > 0 ? 2 : 1);
}

/* recv() with EINTR retried; EOF is -EPIPE. Returns bytes received or -errno. */
static ssize_t recv_once(int fd, void *buf, size_t len, int flags)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, flags);
        if (n > 0)
            return n;
        if (n == 0)
            return -EPIPE;
        if (errno != EINTR)
            return -errno;
    }
}

static int recv_exact(int fd, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = recv_once(fd, p, len, 0);
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- Per-fd state: queued completions, stored payloads, peeked bytes --------------- */

struct queued {
    struct queued *next;
    struct iouringd_client_completion completion;
};

struct payload {
    struct payload *next;
    uint64_t handle;
    size_t length;
    unsigned char data[];
};

/* `stash` holds the first bytes of the next record when they had to be consumed to
 * look at them (a record arriving in pieces shorter than 8 bytes); any record read
 * afterwards consumes the stash first. */
struct conn {
    int fd;
    size_t stashed;
    unsigned char stash[sizeof(struct iouringd_protocol_header)];
    struct queued *head;
    struct queued *tail;
    struct payload *payloads;
};

static struct conn **conns;
static size_t conn_count;
static size_t conn_capacity;
static uint64_t next_payload_handle = 1;

static struct conn *conn_find(int fd)
{
    for (size_t i = 0; i < conn_count; i++)
        if (conns[i]->fd == fd)
            return conns[i];
    return NULL;
}

static struct conn *conn_create(int fd)
{
    if (conn_count == conn_capacity) {
        size_t cap = conn_capacity ? conn_capacity * 2 : 8;
        struct conn **grown = realloc(conns, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        conns = grown;
        conn_capacity = cap;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->fd = fd;
    conns[conn_count++] = c;
    return c;
}

static void conn_destroy(struct conn *c)
{
    for (size_t i = 0; i < conn_count; i++) {
        if (conns[i] == c) {
            conns[i] = conns[--conn_count];
            break;
        }
    }
    while (c->head) {
        struct queued *q = c->head;
        c->head = q->next;
        free(q);
    }
    while (c->payloads) {
        struct payload *p = c->payloads;
        c->payloads = p->next;
        free(p);
    }
    free(c);
    if (conn_count == 0) {
        free(conns);
        conns = NULL;
        conn_capacity = 0;
    }
}

/* An fd keeps an entry only while it holds something. */
static void conn_release_if_empty(struct conn *c)
{
    if (c != NULL && c->head == NULL && c->payloads == NULL && c->stashed == 0)
        conn_destroy(c);
}

static struct payload *payload_take(struct conn *c, uint64_t handle)
{
    for (struct payload **pp = &c->payloads; *pp; pp = &(*pp)->next) {
        if ((*pp)->handle == handle) {
            struct payload *p = *pp;
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

/* Reads len bytes of the current record: stashed bytes first. */
static int conn_read(int fd, struct conn *c, void *buf, size_t len)
{
    unsigned char *p = buf;
    if (c != NULL && c->stashed > 0) {
        size_t n = len < c->stashed ? len : c->stashed;
        memcpy(p, c->stash, n);
        memmove(c->stash, c->stash + n, c->stashed - n);
        c->stashed -= n;
        p += n;
        len -= n;
    }
    return recv_exact(fd, p, len);
}

/* Looks at the next 8 bytes without consuming them if possible (MSG_PEEK), else
 * moves them into the stash. *cp is created when the stash is needed. */
static int peek_header(int fd, struct conn **cp, struct iouringd_protocol_header *out)
{
    struct conn *c = *cp;
    const size_t want = sizeof(*out);
    if (c == NULL || c->stashed == 0) {
        ssize_t n = recv_once(fd, out, want, MSG_PEEK);
        if (n < 0)
            return (int)n;
        if ((size_t)n == want)
            return 0;
        if (c == NULL && (c = *cp = conn_create(fd)) == NULL)
            return -ENOMEM;
    }
    while (c->stashed < want) {
        ssize_t n = recv_once(fd, c->stash + c->stashed, want - c->stashed, 0);
        if (n < 0)
            return (int)n;
        c->stashed += (size_t)n;
    }
    memcpy(out, c->stash, want);
    return 0;
}

/* Reads one completion record and stores its payload (handle in *out). */
static int read_completion(int fd, struct conn **cp, struct iouringd_client_completion *out)
{
    struct iouringd_completion rec;
    int r = conn_read(fd, *cp, &rec, sizeof(rec));
    if (r < 0)
        return r;
    if (!completion_is_well_formed(&rec))
        return -EPROTO;
    out->record = rec;
    out->payload_handle = 0;
    if (rec.payload_length == 0)
        return 0;
    struct payload *p = malloc(sizeof(*p) + rec.payload_length);
    if (p == NULL) {
        unsigned char sink[256];
        size_t left = rec.payload_length;
        while (left > 0 && r == 0) {
            size_t n = left < sizeof(sink) ? left : sizeof(sink);
            r = recv_exact(fd, sink, n);
            left -= n;
        }
        return r < 0 ? r : -ENOMEM;
    }
    r = recv_exact(fd, p->data, rec.payload_length);
    if (r == 0 && *cp == NULL && (*cp = conn_create(fd)) == NULL)
        r = -ENOMEM;
    if (r < 0) {
        free(p);
        return r;
    }
    p->length = rec.payload_length;
    p->handle = next_payload_handle++;
    p->next = (*cp)->payloads;
    (*cp)->payloads = p;
    out->payload_handle = p->handle;
    return 0;
}

static int queue_completion(int fd, struct conn **cp, const struct iouringd_client_completion *c)
{
    if (*cp == NULL && (*cp = conn_create(fd)) == NULL)
        return -ENOMEM;
    struct queued *q = malloc(sizeof(*q));
    if (q == NULL) {
        free(payload_take(*cp, c->payload_handle));
        return -ENOMEM;
    }
    q->next = NULL;
    q->completion = *c;
    if ((*cp)->tail)
        (*cp)->tail->next = q;
    else
        (*cp)->head = q;
    (*cp)->tail = q;
    return 0;
}

/* Queues the completions at the head of the stream, then reads a len-byte reply. */
static int read_reply(int fd, void *buf, size_t len)
{
    struct conn *c = conn_find(fd);
    int r;
    for (;;) {
        struct iouringd_protocol_header h;
        struct iouringd_client_completion comp;
        r = peek_header(fd, &c, &h);
        if (r < 0 || !header_is_v1_12(&h))
            break;
        r = read_completion(fd, &c, &comp);
        if (r < 0)
            break;
        r = queue_completion(fd, &c, &comp);
        if (r < 0)
            break;
    }
    if (r == 0)
        r = conn_read(fd, c, buf, len);
    conn_release_if_empty(c);
    return r;
}

static int request_reply(int fd, const struct encoded *e, void *reply, size_t len)
{
    int r = send_encoded(fd, e);
    return r < 0 ? r : read_reply(fd, reply, len);
}

/* ---- Version and connection ------------------------------------------------------ */

const char *iouringd_client_version(void)
{
    return IOURINGD_VERSION;
}

const char *iouringd_version_string(void)
{
    return IOURINGD_VERSION;
}

/* A connect interrupted by a signal may complete asynchronously. */
static int finish_interrupted_connect(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    while (poll(&p, 1, -1) < 0)
        if (errno != EINTR)
            return -errno;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

int iouringd_client_connect(const char *path)
{
    struct sockaddr_un addr;
    if (path == NULL)
        return fail(EINVAL);
    size_t n = strlen(path);
    if (n >= sizeof(addr.sun_path))
        return fail(ENAMETOOLONG);
    if (n == 0) /* an empty sun_path would name the abstract namespace */
        return fail(ENOENT);
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    int r = 0, interrupted = 0;
    while (connect(fd, (const struct sockaddr *)&addr, len) < 0) {
        if (errno == EINTR) {
            interrupted = 1;
            continue;
        }
        if (interrupted && errno == EISCONN)
            break;
        r = interrupted && (errno == EALREADY || errno == EINPROGRESS)
                ? finish_interrupted_connect(fd)
                : -errno;
        break;
    }
    if (r < 0) {
        close(fd);
        return fail(-r);
    }
    return fd;
}

int iouringd_client_handshake_fd(int fd, struct iouringd_handshake_result *result)
{
    if (fd < 0 || result == NULL)
        return fail(EINVAL);
    iouringd_client_forget(fd);
    struct iouringd_handshake_request req;
    req.header = wire_header();
    req.abi_major = (uint16_t)IOURINGD_ABI_VERSION_MAJOR;
    req.abi_minor = (uint16_t)IOURINGD_ABI_VERSION_MINOR;
    req.reserved = 0;
    struct iovec iov = {.iov_base = &req, .iov_len = sizeof(req)};
    int r = send_all(fd, &iov, 1);
    if (r == 0) /* the result starts like a completion: never drain here */
        r = recv_exact(fd, result, sizeof(*result));
    if (r == 0 && !handshake_is_valid(result))
        r = -EPROTO;
    return r < 0 ? fail(-r) : 0;
}

int iouringd_client_handshake(const char *path, struct iouringd_handshake_result *result)
{
    if (path == NULL || result == NULL)
        return fail(EINVAL);
    int fd = iouringd_client_connect(path);
    if (fd < 0)
        return -1;
    int r = iouringd_client_handshake_fd(fd, result);
    int saved = errno;
    iouringd_client_close(fd);
    errno = saved;
    return r;
}

void iouringd_client_forget(int fd)
{
    struct conn *c = fd < 0 ? NULL : conn_find(fd);
    if (c != NULL)
        conn_destroy(c);
}

int iouringd_client_close(int fd)
{
    if (fd < 0)
        return fail(EINVAL);
    iouringd_client_forget(fd);
    return close(fd);
}

/* ---- Priority and task requests ------------------------------------------------- */

bool iouringd_submit_priority_is_valid(int priority)
{
    return priority >= IOURINGD_PRIORITY_NORMAL && priority < IOURINGD_PRIORITY_MAX;
}

int iouringd_submit_request_init(struct iouringd_submit_request *req, uint16_t task_kind)
{
    if (req == NULL || task_kind < IOURINGD_TASK_NOP || task_kind >= IOURINGD_TASK_KIND_MAX)
        return fail(EINVAL);
    memset(req, 0, sizeof(*req));
    req->task_kind = task_kind;
    req->priority = IOURINGD_PRIORITY_NORMAL;
    return 0;
}

int iouringd_submit_request_set_priority(struct iouringd_submit_request *req, int priority)
{
    if (req == NULL || !iouringd_submit_priority_is_valid(priority))
        return fail(EINVAL);
    req->priority = (uint16_t)priority;
    return 0;
}

int iouringd_submit_request_priority(const struct iouringd_submit_request *req)
{
    return req == NULL ? IOURINGD_PRIORITY_NORMAL : (int)req->priority;
}

/* Checks, sends, reads and decodes; *result is filled once a reply was read. */
static int submit_common(int fd, const struct iouringd_submit_request *req,
                         struct iouringd_submit_result *result)
{
    struct encoded e;
    if (fd < 0 || req == NULL)
        return -EINVAL;
    int r = encode_task(req, &e);
    if (r == 0)
        r = request_reply(fd, &e, result, sizeof(*result));
    return r < 0 ? r : decode_submit(result);
}

static int submit_short(int fd, const struct iouringd_submit_request *req, uint64_t *task_id)
{
    struct iouringd_submit_result result;
    if (task_id == NULL)
        return fail(EINVAL);
    int r = submit_common(fd, req, &result);
    if (r < 0)
        return fail(-r);
    *task_id = result.task_id;
    return 0;
}

static int submit_long(int fd, const struct iouringd_submit_request *req,
                       struct iouringd_submit_result *result)
{
    if (result == NULL)
        return fail(EINVAL);
    int r = submit_common(fd, req, result);
    return r < 0 ? fail(-r) : 0;
}

int iouringd_submit_request_send(int fd, const struct iouringd_submit_request *req,
                                 uint64_t *task_id)
{
    return submit_short(fd, req, task_id);
}

int iouringd_submit_request_send_result(int fd, const struct iouringd_submit_request *req,
                                        struct iouringd_submit_result *result)
{
    return submit_long(fd, req, result);
}

static struct iouringd_submit_request make(uint16_t kind)
{
    struct iouringd_submit_request req;
    memset(&req, 0, sizeof(req));
    req.task_kind = kind;
    return req;
}

static struct iouringd_submit_request make_io(uint16_t kind, uint32_t res_id, const void *buf,
                                              uint32_t length)
{
    struct iouringd_submit_request req = make(kind);
    req.resource_id = res_id;
    req.data = buf;
    req.length = length;
    return req;
}

static struct iouringd_submit_request make_fixed(uint16_t kind, uint32_t file_id,
                                                 uint32_t buf_id, uint32_t length)
{
    struct iouringd_submit_request req = make(kind);
    req.resource_id = file_id;
    req.buffer_id = buf_id;
    req.length = length;
    return req;
}

static struct iouringd_submit_request make_timeout(uint64_t timeout_nsec)
{
    struct iouringd_submit_request req = make(IOURINGD_TASK_TIMEOUT);
    req.timeout_nsec = timeout_nsec;
    return req;
}

static struct iouringd_submit_request make_cancel(uint64_t target)
{
    struct iouringd_submit_request req = make(IOURINGD_TASK_CANCEL);
    req.target_task_id = target;
    return req;
}

static struct iouringd_submit_request make_poll(uint32_t res_id, uint16_t mask)
{
    struct iouringd_submit_request req = make(IOURINGD_TASK_POLL);
    req.resource_id = res_id;
    req.poll_mask = mask;
    return req;
}

/* socklen_t is 32 bits; lengths above 65535 are rejected by encode_task. */
static struct iouringd_submit_request make_addr(uint16_t kind, uint32_t res_id,
                                                const void *addr, socklen_t len)
{
    return make_io(kind, res_id, addr, (uint32_t)len);
}

static struct iouringd_submit_request make_openat(const char *path, int flags, mode_t mode)
{
    struct iouringd_submit_request req = make(IOURINGD_TASK_OPENAT);
    req.path = path;
    req.open_flags = (int32_t)flags;
    req.open_mode = (uint32_t)mode;
    return req;
}

int iouringd_submit_nop(int fd, uint64_t *task_id)
{
    struct iouringd_submit_request req = make(IOURINGD_TASK_NOP);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_nop_result(int fd, struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make(IOURINGD_TASK_NOP);
    return submit_long(fd, &req, result);
}

int iouringd_submit_timeout(int fd, uint64_t timeout_nsec, uint64_t *task_id)
{
    struct iouringd_submit_request req = make_timeout(timeout_nsec);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_timeout_result(int fd, uint64_t timeout_nsec,
                                   struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make_timeout(timeout_nsec);
    return submit_long(fd, &req, result);
}

int iouringd_submit_cancel(int fd, uint64_t target, uint64_t *task_id)
{
    struct iouringd_submit_request req = make_cancel(target);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_cancel_result(int fd, uint64_t target, struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make_cancel(target);
    return submit_long(fd, &req, result);
}

int iouringd_submit_sock_read(int fd, uint32_t res_id, uint32_t length, uint64_t *task_id)
{
    struct iouringd_submit_request req = make_io(IOURINGD_TASK_SOCK_READ, res_id, NULL, length);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_sock_read_result(int fd, uint32_t res_id, uint32_t length,
                                     struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make_io(IOURINGD_TASK_SOCK_READ, res_id, NULL, length);
    return submit_long(fd, &req, result);
}

int iouringd_submit_file_read(int fd, uint32_t res_id, uint32_t length, uint64_t *task_id)
{
    struct iouringd_submit_request req = make_io(IOURINGD_TASK_FILE_READ, res_id, NULL, length);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_file_read_result(int fd, uint32_t res_id, uint32_t length,
                                     struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make_io(IOURINGD_TASK_FILE_READ, res_id, NULL, length);
    return submit_long(fd, &req, result);
}

int iouringd_submit_sock_write(int fd, uint32_t res_id, const void *buf, uint32_t length,
                               uint64_t *task_id)
{
    struct iouringd_submit_request req = make_io(IOURINGD_TASK_SOCK_WRITE, res_id, buf, length);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_sock_write_result(int fd, uint32_t res_id, const void *buf, uint32_t length,
                                      struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make_io(IOURINGD_TASK_SOCK_WRITE, res_id, buf, length);
    return submit_long(fd, &req, result);
}

int iouringd_submit_file_write(int fd, uint32_t res_id, const void *buf, uint32_t length,
                               uint64_t *task_id)
{
    struct iouringd_submit_request req = make_io(IOURINGD_TASK_FILE_WRITE, res_id, buf, length);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_file_write_result(int fd, uint32_t res_id, const void *buf, uint32_t length,
                                      struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make_io(IOURINGD_TASK_FILE_WRITE, res_id, buf, length);
    return submit_long(fd, &req, result);
}

int iouringd_submit_poll(int fd, uint32_t res_id, uint16_t poll_mask, uint64_t *task_id)
{
    struct iouringd_submit_request req = make_poll(res_id, poll_mask);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_poll_result(int fd, uint32_t res_id, uint16_t poll_mask,
                                struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make_poll(res_id, poll_mask);
    return submit_long(fd, &req, result);
}

int iouringd_submit_connect(int fd, uint32_t res_id, const void *sockaddr,
                            socklen_t sockaddr_len, uint64_t *task_id)
{
    struct iouringd_submit_request req =
        make_addr(IOURINGD_TASK_CONNECT, res_id, sockaddr, sockaddr_len);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_connect_result(int fd, uint32_t res_id, const void *sockaddr,
                                   socklen_t sockaddr_len, struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req =
        make_addr(IOURINGD_TASK_CONNECT, res_id, sockaddr, sockaddr_len);
    return submit_long(fd, &req, result);
}

int iouringd_submit_accept(int fd, uint32_t res_id, socklen_t sockaddr_len, uint64_t *task_id)
{
    struct iouringd_submit_request req = make_addr(IOURINGD_TASK_ACCEPT, res_id, NULL, sockaddr_len);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_accept_result(int fd, uint32_t res_id, socklen_t sockaddr_len,
                                  struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make_addr(IOURINGD_TASK_ACCEPT, res_id, NULL, sockaddr_len);
    return submit_long(fd, &req, result);
}

int iouringd_submit_openat(int fd, const char *path, int flags, mode_t mode, uint64_t *task_id)
{
    struct iouringd_submit_request req = make_openat(path, flags, mode);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_openat_result(int fd, const char *path, int flags, mode_t mode,
                                  struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make_openat(path, flags, mode);
    return submit_long(fd, &req, result);
}

int iouringd_submit_close(int fd, uint32_t res_id, uint64_t *task_id)
{
    struct iouringd_submit_request req = make_io(IOURINGD_TASK_CLOSE, res_id, NULL, 0);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_close_result(int fd, uint32_t res_id, struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req = make_io(IOURINGD_TASK_CLOSE, res_id, NULL, 0);
    return submit_long(fd, &req, result);
}

int iouringd_submit_sock_read_fixed(int fd, uint32_t file_id, uint32_t buf_id, uint32_t length,
                                    uint64_t *task_id)
{
    struct iouringd_submit_request req =
        make_fixed(IOURINGD_TASK_SOCK_READ_FIXED, file_id, buf_id, length);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_sock_read_fixed_result(int fd, uint32_t file_id, uint32_t buf_id,
                                           uint32_t length, struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req =
        make_fixed(IOURINGD_TASK_SOCK_READ_FIXED, file_id, buf_id, length);
    return submit_long(fd, &req, result);
}

int iouringd_submit_sock_write_fixed(int fd, uint32_t file_id, uint32_t buf_id, uint32_t length,
                                     uint64_t *task_id)
{
    struct iouringd_submit_request req =
        make_fixed(IOURINGD_TASK_SOCK_WRITE_FIXED, file_id, buf_id, length);
    return submit_short(fd, &req, task_id);
}

int iouringd_submit_sock_write_fixed_result(int fd, uint32_t file_id, uint32_t buf_id,
                                            uint32_t length, struct iouringd_submit_result *result)
{
    struct iouringd_submit_request req =
        make_fixed(IOURINGD_TASK_SOCK_WRITE_FIXED, file_id, buf_id, length);
    return submit_long(fd, &req, result);
}

/* ---- Control requests ------------------------------------------------------------ */

static struct encoded control(uint16_t kind, size_t size)
{
    struct encoded e;
    memset(&e, 0, sizeof(e));
    e.u.hdr = request_header(kind, 0);
    e.size = size;
    return e;
}

static int resource_common(int fd, const struct encoded *e, struct iouringd_resource_result *result)
{
    int r = request_reply(fd, e, result, sizeof(*result));
    return r < 0 ? r : decode_resource(result);
}

static int resource_short(int r, const struct iouringd_resource_result *result,
                          uint32_t *resource_id)
{
    if (r < 0)
        return fail(-r);
    *resource_id = result->resource_id;
    return 0;
}

static int register_fd_common(int fd, int resource_fd, struct iouringd_resource_result *result)
{
    struct encoded e = control(IOURINGD_CONTROL_REGISTER_FD, sizeof(struct iouringd_request_header));
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cmsg_space;
    struct iovec iov = {.iov_base = &e.u, .iov_len = e.size};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    memset(&cmsg_space, 0, sizeof(cmsg_space));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg_space.buf;
    msg.msg_controllen = sizeof(cmsg_space.buf);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &resource_fd, sizeof(int));
    ssize_t sent;
    while ((sent = sendmsg(fd, &msg, MSG_NOSIGNAL)) < 0)
        if (errno != EINTR)
            return -errno;
    if ((size_t)sent != e.size)
        return -EPROTO;
    int r = read_reply(fd, result, sizeof(*result));
    return r < 0 ? r : decode_resource(result);
}

int iouringd_register_fd(int fd, int resource_fd, uint32_t *resource_id)
{
    struct iouringd_resource_result result;
    if (fd < 0 || resource_fd < 0 || resource_id == NULL)
        return fail(EINVAL);
    return resource_short(register_fd_common(fd, resource_fd, &result), &result, resource_id);
}

int iouringd_register_fd_result(int fd, int resource_fd, struct iouringd_resource_result *result)
{
    if (fd < 0 || resource_fd < 0 || result == NULL)
        return fail(EINVAL);
    int r = register_fd_common(fd, resource_fd, result);
    return r < 0 ? fail(-r) : 0;
}

static int buffer_args_ok(int fd, const void *buf, uint32_t length, const void *out)
{
    return fd >= 0 && out != NULL && length <= LIMIT_01 && (length == 0 || buf != NULL);
}

static struct encoded encode_buffer(const void *buf, uint32_t length)
{
    struct encoded e = control(IOURINGD_CONTROL_REGISTER_BUFFER,
                               sizeof(struct iouringd_register_buffer_request));
    e.u.buffer.length = length;
    e.tail = buf;
    e.tail_size = length;
    return e;
}

int iouringd_register_buffer(int fd, const void *buf, uint32_t length, uint32_t *resource_id)
{
    struct iouringd_resource_result result;
    if (!buffer_args_ok(fd, buf, length, resource_id))
        return fail(EINVAL);
    struct encoded e = encode_buffer(buf, length);
    return resource_short(resource_common(fd, &e, &result), &result, resource_id);
}

int iouringd_register_buffer_result(int fd, const void *buf, uint32_t length,
                                    struct iouringd_resource_result *result)
{
    if (!buffer_args_ok(fd, buf, length, result))
        return fail(EINVAL);
    struct encoded e = encode_buffer(buf, length);
    int r = resource_common(fd, &e, result);
    return r < 0 ? fail(-r) : 0;
}

static struct encoded encode_release(uint32_t res_id)
{
    struct encoded e =
        control(IOURINGD_CONTROL_RELEASE_RESOURCE, sizeof(struct iouringd_resource_request));
    e.u.resource.resource_id = res_id;
    return e;
}

int iouringd_release_resource(int fd, uint32_t res_id, uint32_t *resource_id)
{
    struct iouringd_resource_result result;
    if (fd < 0 || res_id == 0 || resource_id == NULL)
        return fail(EINVAL);
    struct encoded e = encode_release(res_id);
    return resource_short(resource_common(fd, &e, &result), &result, resource_id);
}

int iouringd_release_resource_result(int fd, uint32_t res_id,
                                     struct iouringd_resource_result *result)
{
    if (fd < 0 || res_id == 0 || result == NULL)
        return fail(EINVAL);
    struct encoded e = encode_release(res_id);
    int r = resource_common(fd, &e, result);
    return r < 0 ? fail(-r) : 0;
}

int iouringd_get_stats(int fd, struct iouringd_stats_result *result)
{
    if (fd < 0 || result == NULL)
        return fail(EINVAL);
    struct encoded e = control(IOURINGD_CONTROL_GET_STATS, sizeof(struct iouringd_request_header));
    int r = request_reply(fd, &e, result, sizeof(*result));
    return r < 0 ? fail(-r) : 0;
}

int iouringd_get_stats_result(int fd, struct iouringd_stats_result *result)
{
    return iouringd_get_stats(fd, result);
}

int iouringd_get_daemon_counters(int fd, struct iouringd_daemon_counters *out)
{
    if (fd < 0 || out == NULL)
        return fail(EINVAL);
    struct encoded e =
        control((uint16_t)IOURINGD_EXT_GET_DAEMON_COUNTERS, sizeof(struct iouringd_request_header));
    int r = request_reply(fd, &e, out, sizeof(*out));
    if (r < 0)
        return fail(-r);
    if (out->struct_size != sizeof(*out) || out->version != IOURINGD_DAEMON_COUNTERS_VERSION)
        return fail(EPROTO);
    return 0;
}

/* Reads and drops n bytes: events that do not fit must still leave the stream. */
static int discard(int fd, size_t n)
{
    unsigned char sink[IOURINGD_TRACE_EVENT_SIZE * 8];
    while (n > 0) {
        size_t chunk = n < sizeof(sink) ? n : sizeof(sink);
        int r = recv_exact(fd, sink, chunk);
        if (r < 0)
            return r;
        n -= chunk;
    }
    return 0;
}

int iouringd_get_trace(int fd, uint64_t after, uint32_t max_events,
                       struct iouringd_trace_result *result, struct iouringd_trace_event *events,
                       size_t capacity, size_t *count)
{
    if (fd < 0 || result == NULL || count == NULL || (max_events > 0 && capacity < max_events))
        return fail(EINVAL);
    struct encoded e = control(IOURINGD_CONTROL_GET_TRACE, sizeof(struct iouringd_get_trace_request));
    e.u.trace.after_sequence = after;
    e.u.trace.max_events = max_events;
    int r = request_reply(fd, &e, result, sizeof(*result));
    if (r < 0)
        return fail(-r);
    /* The reply read consumed any stashed bytes, so the events come from the socket. */
    *count = 0;
    if (result->reserved != 0)
        return fail(EPROTO);
    size_t n = result->count;
    if (n > capacity || (n > 0 && events == NULL)) {
        r = discard(fd, n * sizeof(*events));
        return fail(r < 0 ? -r : EOVERFLOW);
    }
    if (n == 0)
        return 0;
    r = recv_exact(fd, events, n * sizeof(*events));
    if (r < 0)
        return fail(-r);
    for (size_t i = 0; i < n; i++)
        if (!trace_event_is_valid(&events[i]))
            return fail(EPROTO);
    *count = n;
    return 0;
}

int iouringd_get_trace_result(int fd, uint64_t after, uint32_t max_events,
                              struct iouringd_trace_result *result,
                              struct iouringd_trace_event *events, size_t capacity, size_t *count)
{
    return iouringd_get_trace(fd, after, max_events, result, events, capacity, count);
}

/* ---- Completions ---------------------------------------------------------------- */

int iouringd_wait_completion(int fd, struct iouringd_client_completion *completion)
{
    if (fd < 0 || completion == NULL)
        return fail(EINVAL);
    struct conn *c = conn_find(fd);
    if (c != NULL && c->head != NULL) {
        struct queued *q = c->head;
        c->head = q->next;
        if (c->head == NULL)
            c->tail = NULL;
        *completion = q->completion;
        free(q);
        conn_release_if_empty(c);
        return 0;
    }
    struct iouringd_protocol_header h;
    struct iouringd_client_completion comp;
    memset(&comp, 0, sizeof(comp));
    int r = peek_header(fd, &c, &h);
    if (r == 0 && !header_is_v1_12(&h))
        r = -EPROTO;
    if (r == 0)
        r = read_completion(fd, &c, &comp);
    conn_release_if_empty(c);
    if (r < 0)
        return fail(-r);
    *completion = comp;
    return 0;
}

int iouringd_read_completion_payload(int fd, struct iouringd_client_completion *completion,
                                     void *buf, size_t cap, size_t *len)
{
    if (fd < 0 || completion == NULL || len == NULL ||
        !kind_has_payload(completion->record.task_kind))
        return fail(EINVAL);
    size_t need = completion->record.payload_length;
    if (need == 0) {
        *len = 0;
        return 0;
    }
    if (buf == NULL || cap < need)
        return fail(EMSGSIZE);
    struct conn *c = conn_find(fd);
    struct payload *p = NULL;
    if (c != NULL && completion->payload_handle != 0) {
        p = payload_take(c, completion->payload_handle);
        if (p != NULL && p->length != need) { /* a handle from another completion */
            p->next = c->payloads;
            c->payloads = p;
            p = NULL;
        }
    }
    if (p == NULL)
        return fail(EPROTO);
    memcpy(buf, p->data, need);
    free(p);
    conn_release_if_empty(c);
    completion->payload_handle = 0;
    *len = need;
    return 0;
}

int iouringd_discard_completion_payload(int fd, struct iouringd_client_completion *completion)
{
    if (fd < 0 || completion == NULL)
        return fail(EINVAL);
    struct conn *c = conn_find(fd);
    if (c != NULL && completion->payload_handle != 0) {
        free(payload_take(c, completion->payload_handle));
        conn_release_if_empty(c);
    }
    completion->payload_handle = 0;
    return 0;
}
