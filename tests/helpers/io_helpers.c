/* Helpers for the I/O task-kind integration tests; see io_helpers.h. */
#include "io_helpers.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- kernel objects -------------------------------------------------------- */

void io_socketpair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair: %s",
                 strerror(errno));
}

void io_socketpair_big(int sv[2])
{
    io_socketpair(sv);
    int big = 1 << 20;
    for (int i = 0; i < 2; i++) {
        (void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        (void)setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    }
}

int io_memfd(const void *data, size_t len)
{
    int fd = memfd_create("iouringd-test", MFD_CLOEXEC);
    cr_assert(fd >= 0, "memfd_create: %s", strerror(errno));
    if (len > 0)
        cr_assert_eq(pwrite(fd, data, len, 0), (ssize_t)len, "pwrite: %s", strerror(errno));
    return fd;
}

char *io_make_file(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    cr_assert(path != NULL);
    sprintf(path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    if (len > 0)
        cr_assert_eq(write(fd, data, len), (ssize_t)len, "write %s: %s", path, strerror(errno));
    close(fd);
    return path;
}

uint32_t io_sockaddr_un(const char *path, void *out)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    cr_assert(n < sizeof sa.sun_path, "socket path too long: %s", path);
    memcpy(sa.sun_path, path, n);
    memcpy(out, &sa, sizeof sa);
    return (uint32_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

int io_listener(const char *path)
{
    struct sockaddr_un sa;
    uint32_t len = io_sockaddr_un(path, &sa);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, len), 0, "bind %s: %s", path, strerror(errno));
    cr_assert_eq(listen(fd, 8), 0, "listen: %s", strerror(errno));
    return fd;
}

void io_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}

void io_read_exact(int fd, void *buf, size_t n)
{
    size_t got = 0;
    int rc = h_read_exact(fd, buf, n, &got, H_TIMEOUT_MS);
    cr_assert_eq(rc, 0, "reading %zu bytes from fd %d: %s after %zu bytes", n, fd,
                 rc == -EPIPE ? "EOF" : strerror(-rc), got);
}

void io_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    long long deadline = h_now_ms() + H_TIMEOUT_MS;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        cr_assert(w < 0 && (errno == EINTR || errno == EAGAIN), "write to fd %d: %s", fd,
                  strerror(errno));
        cr_assert(h_now_ms() < deadline, "write to fd %d timed out", fd);
        struct pollfd pfd = {fd, POLLOUT, 0};
        (void)poll(&pfd, 1, 10);
    }
}

bool io_peer_sees_eof(int fd, int timeout_ms)
{
    return h_expect_eof(fd, timeout_ms) == 0;
}

/* ---- workers ---------------------------------------------------------------- */

pid_t io_worker_pid(const struct h_daemon *d)
{
    pid_t kids[8];
    size_t n = h_wait_children(d->pid, 1, kids, 8, H_TIMEOUT_MS);
    cr_assert_eq(n, 1, "daemon has %zu workers, want 1", n);
    return kids[0];
}

void io_expect_worker_gone(pid_t pid, unsigned long long starttime, int timeout_ms)
{
    cr_assert(h_wait_pid_gone(pid, starttime, timeout_ms), "worker %d still alive after %d ms",
              (int)pid, timeout_ms);
}

/* ---- raw sends -------------------------------------------------------------- */

int io_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
    size_t space = CMSG_SPACE(sizeof(int) * nfds);
    void *ctl = calloc(1, space);
    if (ctl == NULL)
        return -ENOMEM;
    struct iovec iov = {(void *)(uintptr_t)buf, len};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl;
    msg.msg_controllen = space;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    int rc;
    for (;;) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        rc = n < 0 ? -errno : ((size_t)n == len ? 0 : -EMSGSIZE);
        break;
    }
    free(ctl);
    return rc;
}

/* ---- resource requests ------------------------------------------------------ */

struct iouringd_resource_result io_read_resource(struct h_conn *c)
{
    struct iouringd_resource_result r;
    h_read_reply(c, &r, sizeof r);
    return r;
}

void io_assert_resource(struct iouringd_resource_result r, uint32_t id, int32_t res,
                        uint32_t available)
{
    cr_assert(r.resource_id == id && r.res == res && r.resources_available == available &&
                  r.reserved == 0,
              "resource result {id %u, res %d, available %u, reserved %u}, want {%u, %d, %u, 0}",
              r.resource_id, r.res, r.resources_available, r.reserved, id, res, available);
}

struct iouringd_resource_result io_register_fd(struct h_conn *c, int fd)
{
    struct iouringd_request_header h = h_header(IOURINGD_CONTROL_REGISTER_FD, 0);
    if (fd >= 0) {
        int rc = h_send_with_fd(c->fd, &h, sizeof h, fd);
        cr_assert_eq(rc, 0, "REGISTER_FD send: %s", strerror(-rc));
    } else {
        h_send(c, &h, sizeof h);
    }
    return io_read_resource(c);
}

uint32_t io_register_fd_ok(struct h_conn *c, int fd)
{
    struct iouringd_resource_result r = io_register_fd(c, fd);
    cr_assert(r.res == 0 && r.resource_id != 0 && r.reserved == 0,
              "REGISTER_FD failed: {id %u, res %d, available %u}", r.resource_id, r.res,
              r.resources_available);
    return r.resource_id;
}

/* Send a fixed part plus a payload in one write. */
static void send_with_payload(struct h_conn *c, const void *fixed, size_t flen, const void *data,
                              size_t dlen)
{
    uint8_t *buf = malloc(flen + dlen + 1);
    cr_assert(buf != NULL);
    memcpy(buf, fixed, flen);
    if (dlen > 0)
        memcpy(buf + flen, data, dlen);
    h_send(c, buf, flen + dlen);
    free(buf);
}

struct iouringd_resource_result io_register_buffer(struct h_conn *c, const void *data,
                                                   uint32_t len)
{
    struct iouringd_register_buffer_request r = h_register_buffer(len);
    send_with_payload(c, &r, sizeof r, data, len);
    return io_read_resource(c);
}

struct iouringd_resource_result io_release(struct h_conn *c, uint32_t id)
{
    struct iouringd_resource_request r = h_release(id);
    h_send(c, &r, sizeof r);
    return io_read_resource(c);
}

/* ---- task requests ---------------------------------------------------------- */

struct iouringd_io_request io_read_req(uint16_t kind, uint16_t prio, uint32_t id, uint32_t len)
{
    struct iouringd_io_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(kind, prio);
    r.resource_id = id;
    r.length = len;
    return r;
}

struct iouringd_submit_result io_read(struct h_conn *c, uint16_t kind, uint16_t prio,
                                      uint32_t id, uint32_t len)
{
    struct iouringd_io_request r = io_read_req(kind, prio, id, len);
    return h_submit(c, &r, sizeof r);
}

struct iouringd_submit_result io_write(struct h_conn *c, uint16_t kind, uint16_t prio,
                                       uint32_t id, const void *data, uint32_t len)
{
    struct iouringd_io_request r = io_read_req(kind, prio, id, len);
    send_with_payload(c, &r, sizeof r, data, len);
    return h_read_submit(c);
}

struct iouringd_submit_result io_fixed(struct h_conn *c, uint16_t kind, uint16_t prio,
                                       uint32_t file, uint32_t buf, uint32_t len)
{
    struct iouringd_fixed_io_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(kind, prio);
    r.file_resource = file;
    r.buffer_resource = buf;
    r.length = len;
    return h_submit(c, &r, sizeof r);
}

struct iouringd_submit_result io_poll(struct h_conn *c, uint32_t id, uint16_t mask)
{
    struct iouringd_poll_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_TASK_POLL, 0);
    r.resource_id = id;
    r.poll_mask = mask;
    return h_submit(c, &r, sizeof r);
}

struct iouringd_submit_result io_connect(struct h_conn *c, uint32_t id, const void *addr,
                                         uint32_t len)
{
    struct iouringd_sockaddr_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_TASK_CONNECT, 0);
    r.resource_id = id;
    r.sockaddr_length = len;
    send_with_payload(c, &r, sizeof r, addr, len);
    return h_read_submit(c);
}

struct iouringd_submit_result io_accept(struct h_conn *c, uint32_t id, uint32_t salen)
{
    struct iouringd_sockaddr_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_TASK_ACCEPT, 0);
    r.resource_id = id;
    r.sockaddr_length = salen;
    return h_submit(c, &r, sizeof r);
}

struct iouringd_submit_result io_openat(struct h_conn *c, uint16_t prio, const char *path,
                                        int32_t flags, uint32_t mode)
{
    struct iouringd_openat_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_TASK_OPENAT, prio);
    r.open_flags = flags;
    r.open_mode = mode;
    r.path_length = (uint32_t)strlen(path) + 1;
    send_with_payload(c, &r, sizeof r, path, r.path_length);
    return h_read_submit(c);
}

struct iouringd_submit_result io_close(struct h_conn *c, uint16_t prio, uint32_t id)
{
    struct iouringd_resource_request r;
    memset(&r, 0, sizeof r);
    r.hdr = h_header(IOURINGD_TASK_CLOSE, prio);
    r.resource_id = id;
    return h_submit(c, &r, sizeof r);
}

struct h_completion io_completion(struct h_conn *c, uint64_t id, int32_t res, uint16_t kind,
                                  uint16_t payload_length)
{
    struct h_completion comp = h_next_completion(c);
    h_assert_completion(&comp, id, res, kind, payload_length);
    return comp;
}

void io_expect_completion(struct h_conn *c, uint64_t id, int32_t res, uint16_t kind,
                          uint16_t payload_length)
{
    struct h_completion comp = io_completion(c, id, res, kind, payload_length);
    h_free_completion(&comp);
}

void io_expect_disconnect(struct h_conn *c, const char *what)
{
    int rc = h_expect_eof(c->fd, H_TIMEOUT_MS);
    cr_assert(rc != H_GOT_DATA, "%s: got bytes, want a silent disconnect", what);
    cr_assert_eq(rc, 0, "%s: no EOF (%s)", what, strerror(-rc));
}

void io_expect_alive(struct h_conn *c, uint64_t task_id, uint32_t credits_after)
{
    struct iouringd_request_header nop = h_nop();
    h_assert_submit(h_submit(c, &nop, sizeof nop), task_id, 0, credits_after);
    struct h_completion comp = io_completion(c, task_id, 0, IOURINGD_TASK_NOP, 0);
    h_free_completion(&comp);
}

uint32_t io_get_trace(struct h_conn *c, uint64_t after, uint32_t max,
                      struct iouringd_trace_event *events)
{
    struct iouringd_get_trace_request r = h_get_trace(after, max);
    h_send(c, &r, sizeof r);
    struct iouringd_trace_result tr;
    h_read_reply(c, &tr, sizeof tr);
    cr_assert_eq(tr.reserved, 0);
    cr_assert(tr.count <= max, "trace count %u > max %u", tr.count, max);
    for (uint32_t i = 0; i < tr.count; i++) {
        size_t got = 0;
        int rc = h_read_exact(c->fd, &events[i], sizeof events[i], &got, H_TIMEOUT_MS);
        cr_assert_eq(rc, 0, "reading trace event %u: %s", i, strerror(-rc));
    }
    return tr.count;
}
