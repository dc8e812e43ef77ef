/* Example: hand a socket to iouringd, write through it, read back through it.
 *
 *   socket_roundtrip [SOCKET_PATH]      (default /tmp/iouringd.sock, as `make run`)
 *
 * The program makes a socketpair, registers one end with the daemon
 * (REGISTER_FD: the descriptor travels by SCM_RIGHTS), asks the daemon to write
 * a message into it (SOCK_WRITE), reads the message from the other end itself,
 * writes a reply into that end, and asks the daemon to read the reply back
 * (SOCK_READ: the bytes come back as the completion payload). Exit 0 on
 * success, 1 on any failure, with the reason on stderr. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iouringd/client.h>

static int fail(const char *what)
{
    fprintf(stderr, "socket_roundtrip: %s: %s\n", what, strerror(errno));
    return 1;
}

/* Waits for the completion of `task` (the only one outstanding here). */
static int wait_for(int fd, uint64_t task, struct iouringd_client_completion *c)
{
    if (iouringd_wait_completion(fd, c) < 0)
        return -1;
    if (c->record.task_id != task) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/iouringd.sock";
    int fd = iouringd_client_connect(path);
    if (fd < 0)
        return fail(path);
    struct iouringd_handshake_result hs;
    if (iouringd_client_handshake_fd(fd, &hs) < 0)
        return fail("handshake");
    printf("connected: %u credits, ring of %u entries, io_bytes_max %u\n",
           hs.capabilities.submit_credits, hs.capabilities.ring_entries,
           hs.capabilities.io_bytes_max);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return fail("socketpair");
    uint32_t res;
    if (iouringd_register_fd(fd, sv[0], &res) < 0)
        return fail("register_fd");
    close(sv[0]); /* the daemon keeps its own reference */
    printf("registered our socket as resource %u\n", res);

    /* The daemon writes into the registered socket; we read the other end. */
    const char hello[] = "hello from iouringd";
    uint64_t task;
    struct iouringd_client_completion c;
    if (iouringd_submit_sock_write(fd, res, hello, (uint32_t)sizeof hello, &task) < 0 ||
        wait_for(fd, task, &c) < 0)
        return fail("sock_write");
    if (c.record.res != (int32_t)sizeof hello) {
        errno = -c.record.res;
        return fail("sock_write completion");
    }
    char got[sizeof hello];
    if (read(sv[1], got, sizeof got) != (ssize_t)sizeof got || memcmp(got, hello, sizeof got))
        return fail("reading what the daemon wrote");
    printf("daemon wrote: %s\n", got);

    /* We write; the daemon reads and returns the bytes as the payload. */
    const char reply[] = "and back again";
    if (write(sv[1], reply, sizeof reply) != (ssize_t)sizeof reply)
        return fail("write");
    if (iouringd_submit_sock_read(fd, res, 64, &task) < 0 || wait_for(fd, task, &c) < 0)
        return fail("sock_read");
    char buf[64];
    size_t len = 0;
    if (c.record.res < 0) {
        errno = -c.record.res;
        return fail("sock_read completion");
    }
    if (iouringd_read_completion_payload(fd, &c, buf, sizeof buf, &len) < 0)
        return fail("payload");
    if (len != sizeof reply || memcmp(buf, reply, len) != 0) {
        errno = EPROTO;
        return fail("payload bytes");
    }
    printf("daemon read:  %s\n", buf);

    if (iouringd_release_resource(fd, res, &res) < 0)
        return fail("release");
    close(sv[1]);
    iouringd_client_close(fd);
    return 0;
}
