/* Per-kind semantics: argument and resource checks, SQE preparation on fixed
 * files, and completion transformation. Descriptors live only in the ring's
 * fixed-file table (ACCEPT and OPENAT install directly into a reserved slot,
 * CLOSE removes directly), so the worker process holds no client descriptor
 * and none can leak into its fd table. */
#include "ops.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>

#include <iouringd/protocol.h>

static bool is_read(uint16_t k)
{
    return k == IOURINGD_TASK_SOCK_READ || k == IOURINGD_TASK_FILE_READ;
}

static bool is_write(uint16_t k)
{
    return k == IOURINGD_TASK_SOCK_WRITE || k == IOURINGD_TASK_FILE_WRITE;
}

static bool is_fixed(uint16_t k)
{
    return k == IOURINGD_TASK_SOCK_READ_FIXED || k == IOURINGD_TASK_SOCK_WRITE_FIXED;
}

uint32_t iod_ops_request_resource(uint16_t kind, const uint8_t *msg)
{
    uint32_t id = 0;
    if (kind >= IOURINGD_TASK_SOCK_READ && kind <= IOURINGD_TASK_ACCEPT)
        memcpy(&id, msg + 16, sizeof id); /* resource_id / file_resource */
    else if (kind == IOURINGD_TASK_CLOSE)
        memcpy(&id, msg + 16, sizeof id);
    return id;
}

uint32_t iod_ops_request_bytes(uint16_t kind, const uint8_t *msg)
{
    uint32_t n = 0;
    if (is_read(kind) || is_write(kind))
        memcpy(&n, msg + 20, sizeof n);
    else if (is_fixed(kind))
        memcpy(&n, msg + 24, sizeof n);
    return n;
}

static int check_ids(const struct iod_session *s)
{
    return iod_tasks_ids_exhausted(&s->tasks) ? -EOVERFLOW : 0;
}

static int find_file(const struct iod_session *s, uint32_t id, struct iod_op_plan *p)
{
    p->file_id = id;
    p->file_slot = iod_res_find_file(&s->res, id);
    return p->file_slot < 0 ? -ENOENT : 0;
}

/* ACCEPT/OPENAT: a free slot and a resource id, after the task id. */
static int check_new_file(const struct iod_session *s, struct iod_op_plan *p)
{
    int ret = check_ids(s);
    if (ret)
        return ret;
    p->new_slot = iod_res_free_file_slot(&s->res);
    if (p->new_slot < 0)
        return -EAGAIN;
    if (iod_res_ids_exhausted(&s->res))
        return -EOVERFLOW;
    return 0;
}

int iod_ops_check(const struct iod_session *s, uint16_t kind, const uint8_t *msg,
                  struct iod_op_plan *p)
{
    uint32_t io_max = s->cfg.io_bytes_max;
    int ret;
    memset(p, 0, sizeof *p);
    p->file_slot = p->buf_slot = p->new_slot = -1;

    switch (kind) {
    case IOURINGD_TASK_NOP:
    case IOURINGD_TASK_TIMEOUT:
        return check_ids(s);
    case IOURINGD_TASK_CANCEL: {
        struct iouringd_cancel_request r;
        memcpy(&r, msg, sizeof r);
        if (r.target_task_id == 0 || r.target_task_id >= IOURINGD_RESERVED_TASK_ID_MIN)
            return -EINVAL;
        return check_ids(s);
    }
    case IOURINGD_TASK_SOCK_READ:
    case IOURINGD_TASK_FILE_READ:
    case IOURINGD_TASK_SOCK_WRITE:
    case IOURINGD_TASK_FILE_WRITE: {
        struct iouringd_io_request r;
        memcpy(&r, msg, sizeof r);
        if (r.resource_id == 0)
            return -EINVAL;
        if (is_read(kind) && (r.length == 0 || r.length > io_max))
            return -EINVAL;
        if ((ret = find_file(s, r.resource_id, p)))
            return ret;
        return check_ids(s);
    }
    case IOURINGD_TASK_SOCK_READ_FIXED:
    case IOURINGD_TASK_SOCK_WRITE_FIXED: {
        struct iouringd_fixed_io_request r;
        memcpy(&r, msg, sizeof r);
        if (r.file_resource == 0 || r.buffer_resource == 0 || r.length == 0 || r.length > io_max)
            return -EINVAL;
        if ((ret = find_file(s, r.file_resource, p)))
            return ret;
        p->buf_id = r.buffer_resource;
        p->buf_slot = iod_res_find_buf(&s->res, r.buffer_resource);
        if (p->buf_slot < 0)
            return -ENOENT;
        if (kind == IOURINGD_TASK_SOCK_WRITE_FIXED &&
            r.length > s->res.bufs[p->buf_slot].valid_length)
            return -EINVAL;
        return check_ids(s);
    }
    case IOURINGD_TASK_POLL: {
        struct iouringd_poll_request r;
        memcpy(&r, msg, sizeof r);
        if (r.resource_id == 0 || r.poll_mask == 0)
            return -EINVAL;
        if ((ret = find_file(s, r.resource_id, p)))
            return ret;
        return check_ids(s);
    }
    case IOURINGD_TASK_CONNECT:
    case IOURINGD_TASK_ACCEPT: {
        struct iouringd_sockaddr_request r;
        memcpy(&r, msg, sizeof r);
        if (r.resource_id == 0)
            return -EINVAL;
        if ((ret = find_file(s, r.resource_id, p)))
            return ret;
        if (kind == IOURINGD_TASK_CONNECT)
            return check_ids(s);
        return check_new_file(s, p);
    }
    case IOURINGD_TASK_OPENAT:
        return check_new_file(s, p);
    case IOURINGD_TASK_CLOSE: {
        struct iouringd_resource_request r;
        memcpy(&r, msg, sizeof r);
        if (r.resource_id == 0)
            return -EINVAL;
        if ((ret = find_file(s, r.resource_id, p)))
            return ret;
        if (s->res.files[p->file_slot].busy > 0)
            return -EBUSY;
        return check_ids(s);
    }
    default:
        return -EINVAL;
    }
}

static void *dup_bytes(const uint8_t *src, size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p && n)
        memcpy(p, src, n);
    return p;
}

int iod_ops_prepare(struct iod_session *s, struct iod_task *t, const uint8_t *msg,
                    const struct iod_op_plan *p, struct io_uring_sqe *sqe)
{
    uint16_t kind = t->kind;
    t->file_id = p->file_id;
    t->file_slot = p->file_slot;
    t->buf_id = p->buf_id;
    t->buf_slot = p->buf_slot;
    t->length = iod_ops_request_bytes(kind, msg);
    unsigned fixed = (unsigned)p->file_slot;

    switch (kind) {
    case IOURINGD_TASK_NOP:
        io_uring_prep_nop(sqe);
        break;
    case IOURINGD_TASK_TIMEOUT: {
        struct iouringd_timeout_request r;
        memcpy(&r, msg, sizeof r);
        t->ts.tv_sec = (long long)(r.timeout_nsec / 1000000000u);
        t->ts.tv_nsec = (long long)(r.timeout_nsec % 1000000000u);
        io_uring_prep_timeout(sqe, &t->ts, 0, 0);
        break;
    }
    case IOURINGD_TASK_CANCEL: {
        struct iouringd_cancel_request r;
        memcpy(&r, msg, sizeof r);
        io_uring_prep_cancel64(sqe, r.target_task_id, 0);
        break;
    }
    case IOURINGD_TASK_SOCK_READ:
    case IOURINGD_TASK_FILE_READ:
        t->data = malloc(t->length);
        if (t->data == NULL)
            return -ENOMEM;
        t->iov.iov_base = t->data;
        t->iov.iov_len = t->length;
        io_uring_prep_readv(sqe, (int)fixed, &t->iov, 1, 0);
        sqe->flags |= IOSQE_FIXED_FILE;
        break;
    case IOURINGD_TASK_SOCK_WRITE:
    case IOURINGD_TASK_FILE_WRITE:
        t->data = dup_bytes(msg + 24, t->length);
        if (t->data == NULL)
            return -ENOMEM;
        t->iov.iov_base = t->data;
        t->iov.iov_len = t->length;
        io_uring_prep_writev(sqe, (int)fixed, &t->iov, 1, 0);
        sqe->flags |= IOSQE_FIXED_FILE;
        break;
    case IOURINGD_TASK_SOCK_READ_FIXED:
    case IOURINGD_TASK_SOCK_WRITE_FIXED: {
        uint8_t *buf = iod_ring_buffer(s->ring, (uint32_t)p->buf_slot);
        if (kind == IOURINGD_TASK_SOCK_READ_FIXED)
            io_uring_prep_read_fixed(sqe, (int)fixed, buf, t->length, 0, p->buf_slot);
        else
            io_uring_prep_write_fixed(sqe, (int)fixed, buf, t->length, 0, p->buf_slot);
        sqe->flags |= IOSQE_FIXED_FILE;
        s->res.bufs[p->buf_slot].busy++;
        break;
    }
    case IOURINGD_TASK_POLL: {
        struct iouringd_poll_request r;
        memcpy(&r, msg, sizeof r);
        io_uring_prep_poll_add(sqe, (int)fixed, r.poll_mask);
        sqe->flags |= IOSQE_FIXED_FILE;
        break;
    }
    case IOURINGD_TASK_CONNECT: {
        struct iouringd_sockaddr_request r;
        memcpy(&r, msg, sizeof r);
        t->data = dup_bytes(msg + 24, r.sockaddr_length);
        if (t->data == NULL)
            return -ENOMEM;
        io_uring_prep_connect(sqe, (int)fixed, (const struct sockaddr *)(void *)t->data,
                              (socklen_t)r.sockaddr_length);
        sqe->flags |= IOSQE_FIXED_FILE;
        break;
    }
    case IOURINGD_TASK_ACCEPT: {
        struct iouringd_sockaddr_request r;
        memcpy(&r, msg, sizeof r);
        t->addrlen = (socklen_t)r.sockaddr_length;
        t->length = r.sockaddr_length; /* the client's buffer size */
        if (r.sockaddr_length > 0) {
            t->data = calloc(1, r.sockaddr_length);
            if (t->data == NULL)
                return -ENOMEM;
        }
        /* A direct descriptor lives only in the fixed table, so it cannot
         * leak through exec; the kernel refuses SOCK_CLOEXEC for it. */
        io_uring_prep_accept_direct(sqe, (int)fixed,
                                    r.sockaddr_length ? (struct sockaddr *)(void *)t->data : NULL,
                                    r.sockaddr_length ? &t->addrlen : NULL, SOCK_NONBLOCK,
                                    (unsigned)p->new_slot);
        sqe->flags |= IOSQE_FIXED_FILE;
        t->new_slot = p->new_slot;
        t->new_id = iod_res_reserve_file(&s->res, p->new_slot);
        break;
    }
    case IOURINGD_TASK_OPENAT: {
        struct iouringd_openat_request r;
        memcpy(&r, msg, sizeof r);
        /* O_CLOEXEC is meaningless for a direct descriptor and the kernel
         * refuses it there; every other flag passes unchanged. */
        int flags = r.open_flags & ~O_CLOEXEC;
        if (!s->cfg.openat_beneath) {
            t->data = dup_bytes(msg + 28, r.path_length);
            if (t->data == NULL)
                return -ENOMEM;
            io_uring_prep_openat_direct(sqe, s->cfg.openat_dirfd, (const char *)t->data, flags,
                                        r.open_mode, (unsigned)p->new_slot);
        } else {
            /* --openat-root: resolve beneath the root, never through magic
             * links. openat2 refuses a mode without O_CREAT/O_TMPFILE, which
             * openat ignores; drop it so both behave the same. */
            t->data = malloc(sizeof(struct open_how) + r.path_length);
            if (t->data == NULL)
                return -ENOMEM;
            struct open_how how = {
                .flags = (uint64_t)(uint32_t)flags,
                .mode = (flags & (O_CREAT | __O_TMPFILE)) ? r.open_mode : 0,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
            memcpy(t->data, &how, sizeof how);
            memcpy(t->data + sizeof how, msg + 28, r.path_length);
            io_uring_prep_openat2_direct(sqe, s->cfg.openat_dirfd,
                                         (const char *)t->data + sizeof how,
                                         (struct open_how *)(void *)t->data,
                                         (unsigned)p->new_slot);
        }
        t->new_slot = p->new_slot;
        t->new_id = iod_res_reserve_file(&s->res, p->new_slot);
        break;
    }
    case IOURINGD_TASK_CLOSE:
        io_uring_prep_close_direct(sqe, fixed);
        iod_res_begin_close(&s->res, p->file_slot);
        /* The slot is the task's; it no longer counts as naming a file. */
        t->file_slot = -1;
        t->new_slot = p->file_slot;
        return 0;
    default:
        return -EINVAL;
    }
    sqe->ioprio = iod_wire_ioprio(kind, t->priority);
    if (t->file_slot >= 0)
        s->res.files[t->file_slot].busy++;
    return 0;
}

void iod_ops_unprepare(struct iod_session *s, struct iod_task *t)
{
    if (t->file_slot >= 0)
        s->res.files[t->file_slot].busy--;
    if (t->buf_slot >= 0 && is_fixed(t->kind))
        s->res.bufs[t->buf_slot].busy--;
    if (t->kind == IOURINGD_TASK_ACCEPT || t->kind == IOURINGD_TASK_OPENAT)
        iod_res_unreserve(&s->res, t->new_slot);
    if (t->kind == IOURINGD_TASK_CLOSE)
        iod_res_undo_close(&s->res, t->new_slot);
}

int iod_ops_clear_slot(struct iod_session *s, int32_t slot)
{
    int none = -1;
    int ret = io_uring_register_files_update(&s->ring->ring, (unsigned)slot, &none, 1);
    return ret < 0 ? ret : 0;
}

int32_t iod_ops_complete(struct iod_session *s, struct iod_task *t, int32_t kres,
                         bool delivered, const void **payload, uint16_t *plen,
                         uint32_t *trace_resource)
{
    *payload = NULL;
    *plen = 0;
    *trace_resource = t->file_id;
    int32_t res = kres;

    if (t->file_slot >= 0)
        s->res.files[t->file_slot].busy--;

    switch (t->kind) {
    case IOURINGD_TASK_SOCK_READ:
    case IOURINGD_TASK_FILE_READ:
        if (res > 0) {
            *payload = t->data;
            *plen = (uint16_t)res;
        }
        break;
    case IOURINGD_TASK_SOCK_READ_FIXED:
        s->res.bufs[t->buf_slot].busy--;
        if (res >= 0)
            s->res.bufs[t->buf_slot].valid_length = (uint32_t)res;
        if (res > 0) {
            *payload = iod_ring_buffer(s->ring, (uint32_t)t->buf_slot);
            *plen = (uint16_t)res;
        }
        break;
    case IOURINGD_TASK_SOCK_WRITE_FIXED:
        s->res.bufs[t->buf_slot].busy--;
        break;
    case IOURINGD_TASK_ACCEPT:
    case IOURINGD_TASK_OPENAT: {
        bool ok = res >= 0;
        if (ok && t->kind == IOURINGD_TASK_ACCEPT && t->data != NULL &&
            t->addrlen > (socklen_t)t->length) {
            /* The peer address did not fit the client's buffer. */
            iod_ops_clear_slot(s, t->new_slot);
            iod_res_reserved_done(&s->res, t->new_slot, false);
            iod_res_give_back_id(&s->res, t->new_id);
            return -EPROTO;
        }
        if (ok && !delivered) {
            iod_ops_clear_slot(s, t->new_slot);
            ok = false;
            res = -ECANCELED;
        }
        iod_res_reserved_done(&s->res, t->new_slot, ok);
        if (ok) {
            res = (int32_t)t->new_id;
            *trace_resource = t->new_id;
            if (t->kind == IOURINGD_TASK_ACCEPT && t->data != NULL) {
                *payload = t->data;
                *plen = (uint16_t)t->addrlen;
            }
        }
        break;
    }
    case IOURINGD_TASK_CLOSE:
        /* Whatever the result, no descriptor remains and the slot is free;
         * a close cancelled before it ran leaves the descriptor to us. */
        if (res < 0)
            iod_ops_clear_slot(s, t->new_slot);
        iod_res_release_file(&s->res, t->new_slot);
        break;
    default:
        break;
    }
    return res;
}
