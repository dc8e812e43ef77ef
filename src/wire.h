/* Pure encode/decode/validation of protocol v1 records (no I/O).
 * The worker's session calls these stage by stage; unit tests and fuzzers call
 * them directly. */
#ifndef IOD_WIRE_H
#define IOD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iouringd/protocol.h>

/* One row per request kind (DESIGN.md habit 3: table-driven dispatch). */
struct iod_kind_info {
    uint16_t kind;
    uint16_t fixed_size; /* header included */
    uint32_t op_bit;     /* 0 = never gated by the op mask */
    bool credit;         /* holds a credit while outstanding */
    const char *name;    /* trace-line name */
};

/* Row for a valid kind (1..14, 256..260), NULL otherwise. */
const struct iod_kind_info *iod_kind_lookup(uint16_t kind);
bool iod_kind_is_task(uint16_t kind);
const char *iod_kind_name(uint16_t kind); /* "control" for 0, "unknown" else */
const char *iod_priority_name(uint16_t priority);
const char *iod_event_name(uint16_t event_kind);

/* max(4120, 24 + io_bytes_max) */
uint32_t iod_input_bound(uint32_t io_bytes_max);

/* Handshake: true iff the 16 bytes are exactly the 1.12 request. */
bool iod_wire_handshake_acceptable(const void *req16);
/* Writes the 52-byte result. caps is ignored (zeroed) for a reject. */
void iod_wire_encode_handshake_result(void *out52, bool accept,
                                      const struct iouringd_capability_descriptor *caps);

/* Stage H on the first 16 bytes: 0, or -EPROTO (disconnect). */
int iod_wire_stage_h(const void *hdr16, uint16_t *kind);
/* Stage F on the fixed part: 0 and the trailing payload length, or -EPROTO. */
int iod_wire_stage_f(const void *fixed, uint16_t kind, uint32_t io_bytes_max,
                     uint32_t *payload_length);
/* Stage M on the whole message (fixed part + payload): 0 or -EPROTO. */
int iod_wire_stage_m(const void *msg, size_t len, uint16_t kind);

/* ioprio for a request priority (§9); 0 for kinds that never get one. */
uint16_t iod_wire_ioprio(uint16_t kind, uint16_t priority);

void iod_wire_protocol_header(struct iouringd_protocol_header *h);

#endif
