/* libFuzzer harness for the pure wire layer (src/wire.c): feeds arbitrary
 * bytes through the staged checks exactly as the worker's session does, and
 * aborts if an accepted message breaks an invariant the session relies on.
 * Build and run: make fuzz FUZZ_SECONDS=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    /* The first two bytes choose io_bytes_max, the rest is the stream. */
    uint32_t io_max = 1u + ((uint32_t)data[0] << 8 | data[1]) % 65535u;
    data += 2;
    size -= 2;
    uint32_t bound = iod_input_bound(io_max);

    if (size >= IOURINGD_HANDSHAKE_REQUEST_SIZE)
        (void)iod_wire_handshake_acceptable(data);

    size_t off = 0;
    while (size - off >= IOURINGD_HEADER_SIZE) {
        const uint8_t *msg = data + off;
        uint16_t kind;
        if (iod_wire_stage_h(msg, &kind) < 0)
            return 0;
        const struct iod_kind_info *info = iod_kind_lookup(kind);
        if (info == NULL || info->fixed_size < IOURINGD_HEADER_SIZE)
            abort(); /* stage H passed an unknown kind */
        if (size - off < info->fixed_size)
            return 0;
        uint32_t payload;
        if (iod_wire_stage_f(msg, kind, io_max, &payload) < 0)
            return 0;
        /* The session's input buffer is `bound` bytes: every message that
         * passes stage F must fit it. */
        if ((uint64_t)info->fixed_size + payload > bound)
            abort();
        if (size - off < info->fixed_size + (size_t)payload)
            return 0;
        size_t len = info->fixed_size + (size_t)payload;
        if (iod_wire_stage_m(msg, len, kind) < 0)
            return 0;
        (void)iod_wire_ioprio(kind, 0);
        off += len;
    }
    return 0;
}
