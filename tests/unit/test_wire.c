/* wire: staged framing checks H/F/M (§2.2, §4.4, §5, §11), the kind table
 * (§1.2), handshake acceptance and the 52-byte result (§3), the input bound
 * (§1.4, §11), ioprio (§9) and the names used in trace lines (§15.2).
 * Every request is built byte by byte from the contract's offsets, not from
 * the C structs, so a layout mistake in the header would show here too. */
#include "wire.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#define MAGIC 0x31444F49u

static void put(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* 16-byte request header: magic, 1, 12, kind, priority, reserved1 = 0. */
static void hdr(uint8_t *b, uint16_t kind, uint16_t priority)
{
    put(b, MAGIC, 4);
    put(b + 4, 1, 2);
    put(b + 6, 12, 2);
    put(b + 8, kind, 2);
    put(b + 10, priority, 2);
    put(b + 12, 0, 4);
}

static const uint16_t task_kinds[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
static const uint16_t control_kinds[] = {256, 257, 258, 259, 260};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int stage_h(const uint8_t *b, uint16_t *kind)
{
    *kind = 0xBEEF;
    return iod_wire_stage_h(b, kind);
}

/* ---- stage H ---------------------------------------------------------- */

Test(wire, stage_h_accepts_every_valid_kind)
{
    uint8_t b[16];
    uint16_t k;
    for (size_t i = 0; i < NELEM(task_kinds); i++) {
        hdr(b, task_kinds[i], 0);
        cr_assert_eq(stage_h(b, &k), 0, "kind %u", task_kinds[i]);
        cr_assert_eq(k, task_kinds[i]);
    }
    for (size_t i = 0; i < NELEM(control_kinds); i++) {
        hdr(b, control_kinds[i], 0);
        cr_assert_eq(stage_h(b, &k), 0, "kind %u", control_kinds[i]);
        cr_assert_eq(k, control_kinds[i]);
    }
}

Test(wire, stage_h_rejects_unknown_kinds)
{
    static const uint16_t bad[] = {0, 15, 16, 99, 255, 261, 262, 0x7FFF, 0xFFFF};
    uint8_t b[16];
    uint16_t k;
    for (size_t i = 0; i < NELEM(bad); i++) {
        hdr(b, bad[i], 0);
        cr_assert_eq(stage_h(b, &k), -EPROTO, "kind %u", bad[i]);
    }
}

Test(wire, stage_h_rejects_bad_magic)
{
    uint8_t b[16];
    uint16_t k;
    for (int byte = 0; byte < 4; byte++) {
        hdr(b, 1, 0);
        b[byte] ^= 0x01;
        cr_assert_eq(stage_h(b, &k), -EPROTO, "magic byte %d", byte);
    }
    hdr(b, 1, 0);
    put(b, 0x494F4431u, 4); /* byte-swapped magic */
    cr_assert_eq(stage_h(b, &k), -EPROTO);
    hdr(b, 1, 0);
    put(b, 0, 4);
    cr_assert_eq(stage_h(b, &k), -EPROTO);
}

Test(wire, stage_h_magic_is_ascii_iod1_on_the_wire)
{
    uint8_t b[16] = {'I', 'O', 'D', '1', 1, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    uint16_t k;
    cr_assert_eq(stage_h(b, &k), 0);
    cr_assert_eq(k, 1);
}

Test(wire, stage_h_rejects_bad_versions)
{
    static const uint16_t majors[] = {0, 2, 0x100, 0xFFFF};
    static const uint16_t minors[] = {0, 11, 13, 0x0C00, 0xFFFF};
    uint8_t b[16];
    uint16_t k;
    for (size_t i = 0; i < NELEM(majors); i++) {
        hdr(b, 1, 0);
        put(b + 4, majors[i], 2);
        cr_assert_eq(stage_h(b, &k), -EPROTO, "major %u", majors[i]);
    }
    for (size_t i = 0; i < NELEM(minors); i++) {
        hdr(b, 1, 0);
        put(b + 6, minors[i], 2);
        cr_assert_eq(stage_h(b, &k), -EPROTO, "minor %u", minors[i]);
    }
}

Test(wire, stage_h_rejects_nonzero_reserved1_in_any_byte)
{
    uint8_t b[16];
    uint16_t k;
    for (int byte = 12; byte < 16; byte++) {
        hdr(b, 259, 0);
        b[byte] = 0x80;
        cr_assert_eq(stage_h(b, &k), -EPROTO, "byte %d", byte);
        hdr(b, 1, 0);
        b[byte] = 1;
        cr_assert_eq(stage_h(b, &k), -EPROTO, "byte %d", byte);
    }
}

Test(wire, stage_h_does_not_check_priority)
{
    /* "a TIMEOUT with priority 3 is disconnected after all 24 bytes" (§2.2):
     * bytes 10-11 are stage M's business. */
    uint8_t b[16];
    uint16_t k;
    hdr(b, 2, 3);
    cr_assert_eq(stage_h(b, &k), 0);
    hdr(b, 259, 0xFFFF);
    cr_assert_eq(stage_h(b, &k), 0);
}

/* ---- stage F ---------------------------------------------------------- */

static int stage_f(const uint8_t *b, uint16_t kind, uint32_t iobm, uint32_t *plen)
{
    *plen = 0xDEADBEEF;
    return iod_wire_stage_f(b, kind, iobm, plen);
}

static void check_len_field_1_to_max(uint16_t kind, size_t off)
{
    static const uint32_t maxes[] = {1, 128, 4096, 65535};
    uint8_t b[32];
    uint32_t pl;
    for (size_t i = 0; i < NELEM(maxes); i++) {
        uint32_t m = maxes[i];
        memset(b, 0, sizeof b);
        hdr(b, kind, 0);
        put(b + 16, 7, 4);
        put(b + off, 0, 4);
        cr_assert_eq(stage_f(b, kind, m, &pl), -EPROTO, "kind %u len 0 max %u", kind, m);
        put(b + off, 1, 4);
        cr_assert_eq(stage_f(b, kind, m, &pl), 0, "kind %u len 1 max %u", kind, m);
        cr_assert_eq(pl, 1);
        put(b + off, m, 4);
        cr_assert_eq(stage_f(b, kind, m, &pl), 0, "kind %u len max %u", kind, m);
        cr_assert_eq(pl, m);
        put(b + off, (uint64_t)m + 1, 4);
        cr_assert_eq(stage_f(b, kind, m, &pl), -EPROTO, "kind %u len max+1 %u", kind, m);
        put(b + off, 0xFFFFFFFFu, 4);
        cr_assert_eq(stage_f(b, kind, m, &pl), -EPROTO);
        put(b + off, 0x80000000u, 4);
        cr_assert_eq(stage_f(b, kind, m, &pl), -EPROTO);
    }
}

Test(wire, stage_f_sock_write_and_file_write_length)
{
    check_len_field_1_to_max(5, 20);
    check_len_field_1_to_max(9, 20);
}

Test(wire, stage_f_connect_sockaddr_length)
{
    check_len_field_1_to_max(11, 20);
}

Test(wire, stage_f_accept_sockaddr_length_0_to_max_and_no_payload)
{
    static const uint32_t maxes[] = {1, 128, 4096, 65535};
    uint8_t b[24];
    uint32_t pl;
    for (size_t i = 0; i < NELEM(maxes); i++) {
        uint32_t m = maxes[i];
        memset(b, 0, sizeof b);
        hdr(b, 12, 0);
        put(b + 16, 3, 4);
        put(b + 20, 0, 4);
        cr_assert_eq(stage_f(b, 12, m, &pl), 0);
        cr_assert_eq(pl, 0);
        put(b + 20, m, 4);
        cr_assert_eq(stage_f(b, 12, m, &pl), 0, "max %u", m);
        cr_assert_eq(pl, 0, "ACCEPT carries no trailing payload");
        put(b + 20, (uint64_t)m + 1, 4);
        cr_assert_eq(stage_f(b, 12, m, &pl), -EPROTO, "max+1 %u", m);
        put(b + 20, 0xFFFFFFFFu, 4);
        cr_assert_eq(stage_f(b, 12, m, &pl), -EPROTO);
    }
}

static int openat_f(uint32_t path_length, uint32_t iobm, uint32_t *pl)
{
    uint8_t b[28];
    memset(b, 0, sizeof b);
    hdr(b, 13, 0);
    put(b + 16, 0x241, 4); /* flags: passed unchanged, never checked */
    put(b + 20, 0644, 4);
    put(b + 24, path_length, 4);
    return stage_f(b, 13, iobm, pl);
}

Test(wire, stage_f_openat_path_length_lower_bound)
{
    uint32_t pl;
    cr_assert_eq(openat_f(0, 4096, &pl), -EPROTO);
    cr_assert_eq(openat_f(1, 4096, &pl), -EPROTO);
    cr_assert_eq(openat_f(2, 4096, &pl), 0);
    cr_assert_eq(pl, 2);
    cr_assert_eq(openat_f(3, 4096, &pl), 0);
    cr_assert_eq(pl, 3);
}

Test(wire, stage_f_openat_input_bound_table_of_section_11)
{
    static const struct {
        uint32_t iobm, largest;
    } rows[] = {
        {128, 128}, {4092, 4092}, {4096, 4092}, {8192, 8188}, {65535, 65531},
        {4093, 4092}, {4097, 4093}, {2, 2},
    };
    uint32_t pl;
    for (size_t i = 0; i < NELEM(rows); i++) {
        cr_assert_eq(openat_f(rows[i].largest, rows[i].iobm, &pl), 0, "iobm %u largest %u",
                     rows[i].iobm, rows[i].largest);
        cr_assert_eq(pl, rows[i].largest);
        cr_assert_eq(openat_f(rows[i].largest + 1, rows[i].iobm, &pl), -EPROTO,
                     "iobm %u largest+1", rows[i].iobm);
    }
    /* io_bytes_max 4096: path_length io_bytes_max itself exceeds the bound. */
    cr_assert_eq(openat_f(4096, 4096, &pl), -EPROTO);
    cr_assert_eq(openat_f(4093, 4096, &pl), -EPROTO);
    cr_assert_eq(openat_f(65535, 65535, &pl), -EPROTO);
    cr_assert_eq(openat_f(0xFFFFFFFFu, 65535, &pl), -EPROTO);
    cr_assert_eq(openat_f(0xFFFFFFE4u, 65535, &pl), -EPROTO); /* 28 + x wraps in 32 bits */
    /* io_bytes_max 1 allows nothing: the minimum is 2. */
    cr_assert_eq(openat_f(1, 1, &pl), -EPROTO);
    cr_assert_eq(openat_f(2, 1, &pl), -EPROTO);
}

Test(wire, stage_f_poll_reserved2)
{
    uint8_t b[24];
    uint32_t pl;
    memset(b, 0, sizeof b);
    hdr(b, 10, 0);
    put(b + 16, 1, 4);
    put(b + 20, 0xFFFF, 2); /* any poll_mask passes framing */
    cr_assert_eq(stage_f(b, 10, 4096, &pl), 0);
    cr_assert_eq(pl, 0);
    put(b + 20, 0, 2); /* mask 0 is a reject, not a framing error */
    cr_assert_eq(stage_f(b, 10, 4096, &pl), 0);
    for (int byte = 22; byte < 24; byte++) {
        put(b + 22, 0, 2);
        b[byte] = 1;
        cr_assert_eq(stage_f(b, 10, 4096, &pl), -EPROTO, "byte %d", byte);
    }
}

Test(wire, stage_f_close_reserved2)
{
    uint8_t b[24];
    uint32_t pl;
    memset(b, 0, sizeof b);
    hdr(b, 14, 0);
    put(b + 16, 0, 4); /* resource 0 is a reject, not framing */
    cr_assert_eq(stage_f(b, 14, 4096, &pl), 0);
    cr_assert_eq(pl, 0);
    for (int byte = 20; byte < 24; byte++) {
        put(b + 20, 0, 4);
        b[byte] = 0x40;
        cr_assert_eq(stage_f(b, 14, 4096, &pl), -EPROTO, "byte %d", byte);
    }
}

Test(wire, stage_f_register_buffer_length_and_reserved2)
{
    static const uint32_t maxes[] = {1, 4096, 65535};
    uint8_t b[24];
    uint32_t pl;
    for (size_t i = 0; i < NELEM(maxes); i++) {
        uint32_t m = maxes[i];
        memset(b, 0, sizeof b);
        hdr(b, 258, 0);
        put(b + 16, 0, 4);
        cr_assert_eq(stage_f(b, 258, m, &pl), 0);
        cr_assert_eq(pl, 0);
        put(b + 16, m, 4);
        cr_assert_eq(stage_f(b, 258, m, &pl), 0);
        cr_assert_eq(pl, m);
        put(b + 16, (uint64_t)m + 1, 4);
        cr_assert_eq(stage_f(b, 258, m, &pl), -EPROTO);
    }
    memset(b, 0, sizeof b);
    hdr(b, 258, 0);
    put(b + 16, 10, 4);
    for (int byte = 20; byte < 24; byte++) {
        put(b + 20, 0, 4);
        b[byte] = 1;
        cr_assert_eq(stage_f(b, 258, 4096, &pl), -EPROTO, "byte %d", byte);
    }
}

Test(wire, stage_f_get_trace_max_events_and_reserved2)
{
    uint8_t b[32];
    uint32_t pl;
    memset(b, 0, sizeof b);
    hdr(b, 260, 0);
    put(b + 16, UINT64_MAX, 8); /* after_sequence: anything */
    put(b + 24, 0, 4);
    cr_assert_eq(stage_f(b, 260, 4096, &pl), 0);
    cr_assert_eq(pl, 0);
    put(b + 24, 256, 4);
    cr_assert_eq(stage_f(b, 260, 4096, &pl), 0);
    cr_assert_eq(pl, 0);
    put(b + 24, 257, 4);
    cr_assert_eq(stage_f(b, 260, 4096, &pl), -EPROTO);
    put(b + 24, 0xFFFFFFFFu, 4);
    cr_assert_eq(stage_f(b, 260, 4096, &pl), -EPROTO);
    /* The bound is 256 events regardless of io_bytes_max. */
    put(b + 24, 256, 4);
    cr_assert_eq(stage_f(b, 260, 1, &pl), 0);
    put(b + 24, 1, 4);
    for (int byte = 28; byte < 32; byte++) {
        put(b + 28, 0, 4);
        b[byte] = 2;
        cr_assert_eq(stage_f(b, 260, 4096, &pl), -EPROTO, "byte %d", byte);
    }
}

Test(wire, stage_f_release_resource_ignores_reserved2)
{
    uint8_t b[24];
    uint32_t pl;
    memset(b, 0, sizeof b);
    hdr(b, 257, 0);
    put(b + 16, 5, 4);
    put(b + 20, 0xFFFFFFFFu, 4);
    cr_assert_eq(stage_f(b, 257, 4096, &pl), 0);
    cr_assert_eq(pl, 0);
    put(b + 16, 0, 4); /* id 0 is a reject {0,-EINVAL,0}, not framing */
    cr_assert_eq(stage_f(b, 257, 4096, &pl), 0);
}

Test(wire, stage_f_kinds_without_framing_checks)
{
    /* Fill every body byte with 0xFF: reads' lengths, fixed lengths, TIMEOUT
     * values and CANCEL targets are semantic checks (rejects), not framing. */
    static const uint16_t kinds[] = {1, 2, 3, 4, 6, 7, 8, 256, 259};
    uint8_t b[32];
    uint32_t pl;
    for (size_t i = 0; i < NELEM(kinds); i++) {
        memset(b, 0xFF, sizeof b);
        hdr(b, kinds[i], 0);
        cr_assert_eq(stage_f(b, kinds[i], 4096, &pl), 0, "kind %u", kinds[i]);
        cr_assert_eq(pl, 0, "kind %u has no payload", kinds[i]);
        memset(b + 16, 0, 16);
        cr_assert_eq(stage_f(b, kinds[i], 4096, &pl), 0, "kind %u zero body", kinds[i]);
        cr_assert_eq(pl, 0);
    }
}

Test(wire, stage_f_unknown_kind_is_rejected)
{
    uint8_t b[32];
    uint32_t pl;
    memset(b, 0, sizeof b);
    hdr(b, 0, 0);
    cr_assert_eq(iod_wire_stage_f(b, 0, 4096, &pl), -EPROTO);
    cr_assert_eq(iod_wire_stage_f(b, 15, 4096, &pl), -EPROTO);
    cr_assert_eq(iod_wire_stage_f(b, 261, 4096, &pl), -EPROTO);
}

/* ---- stage M ---------------------------------------------------------- */

/* A whole, framing-valid message of this kind with this priority. */
static size_t build_msg(uint8_t *b, uint16_t kind, uint16_t priority)
{
    memset(b, 0, 64);
    hdr(b, kind, priority);
    const struct iod_kind_info *ki = iod_kind_lookup(kind);
    cr_assert_not_null(ki);
    size_t len = ki->fixed_size;
    switch (kind) {
    case 5:
    case 9:
    case 11:
        put(b + 20, 4, 4);
        memcpy(b + 24, "abcd", 4);
        len += 4;
        break;
    case 13:
        put(b + 24, 4, 4);
        memcpy(b + 28, "/tm", 4); /* 3 chars + NUL */
        len += 4;
        break;
    default:
        break;
    }
    return len;
}

Test(wire, stage_m_task_priority_0_1_2_ok_3_and_up_bad)
{
    uint8_t b[64];
    for (size_t i = 0; i < NELEM(task_kinds); i++) {
        uint16_t k = task_kinds[i];
        for (uint16_t p = 0; p < 3; p++) {
            size_t len = build_msg(b, k, p);
            cr_assert_eq(iod_wire_stage_m(b, len, k), 0, "kind %u prio %u", k, p);
        }
        static const uint16_t badp[] = {3, 4, 0x100, 0xFFFF};
        for (size_t j = 0; j < NELEM(badp); j++) {
            size_t len = build_msg(b, k, badp[j]);
            cr_assert_eq(iod_wire_stage_m(b, len, k), -EPROTO, "kind %u prio %u", k, badp[j]);
        }
    }
}

Test(wire, stage_m_cancel_reserved0_follows_the_priority_rule)
{
    uint8_t b[64];
    size_t len = build_msg(b, 3, 2);
    cr_assert_eq(iod_wire_stage_m(b, len, 3), 0);
    len = build_msg(b, 3, 1);
    cr_assert_eq(iod_wire_stage_m(b, len, 3), 0);
    len = build_msg(b, 3, 3);
    cr_assert_eq(iod_wire_stage_m(b, len, 3), -EPROTO);
}

Test(wire, stage_m_control_reserved0_must_be_zero)
{
    uint8_t b[64];
    for (size_t i = 0; i < NELEM(control_kinds); i++) {
        uint16_t k = control_kinds[i];
        size_t len = build_msg(b, k, 0);
        cr_assert_eq(iod_wire_stage_m(b, len, k), 0, "kind %u", k);
        static const uint16_t badv[] = {1, 2, 3, 0x100, 0xFFFF};
        for (size_t j = 0; j < NELEM(badv); j++) {
            len = build_msg(b, k, badv[j]);
            cr_assert_eq(iod_wire_stage_m(b, len, k), -EPROTO, "kind %u reserved0 %u", k,
                         badv[j]);
        }
    }
}

Test(wire, stage_m_openat_last_path_byte_must_be_nul)
{
    uint8_t b[64];
    memset(b, 0, sizeof b);
    hdr(b, 13, 0);
    put(b + 24, 2, 4);
    b[28] = 'x';
    b[29] = '\0';
    cr_assert_eq(iod_wire_stage_m(b, 30, 13), 0);
    b[29] = 'y';
    cr_assert_eq(iod_wire_stage_m(b, 30, 13), -EPROTO);
    /* Embedded NULs are not checked. */
    put(b + 24, 4, 4);
    memcpy(b + 28, "\0a\0\0", 4);
    cr_assert_eq(iod_wire_stage_m(b, 32, 13), 0);
    memcpy(b + 28, "\0\0\0a", 4);
    cr_assert_eq(iod_wire_stage_m(b, 32, 13), -EPROTO);
    /* A long path ending in NUL. */
    uint8_t big[28 + 4092];
    memset(big, 'a', sizeof big);
    hdr(big, 13, 2);
    put(big + 16, 0, 4);
    put(big + 20, 0, 4);
    put(big + 24, 4092, 4);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(iod_wire_stage_m(big, sizeof big, 13), 0);
    big[sizeof big - 1] = '/';
    cr_assert_eq(iod_wire_stage_m(big, sizeof big, 13), -EPROTO);
}

Test(wire, stage_m_openat_bad_priority_even_with_nul)
{
    uint8_t b[64];
    size_t len = build_msg(b, 13, 3);
    cr_assert_eq(b[len - 1], 0);
    cr_assert_eq(iod_wire_stage_m(b, len, 13), -EPROTO);
}

Test(wire, stage_m_non_openat_payload_last_byte_is_not_checked)
{
    uint8_t b[64];
    size_t len = build_msg(b, 5, 0);
    b[len - 1] = 'z';
    cr_assert_eq(iod_wire_stage_m(b, len, 5), 0);
    len = build_msg(b, 11, 2);
    b[len - 1] = 0xFF;
    cr_assert_eq(iod_wire_stage_m(b, len, 11), 0);
}

/* ---- handshake -------------------------------------------------------- */

static void hs_req(uint8_t *b)
{
    put(b, MAGIC, 4);
    put(b + 4, 1, 2);
    put(b + 6, 12, 2);
    put(b + 8, 1, 2);
    put(b + 10, 12, 2);
    put(b + 12, 0, 4);
}

Test(wire, handshake_accepts_exactly_1_12)
{
    uint8_t b[16];
    hs_req(b);
    cr_assert(iod_wire_handshake_acceptable(b));
}

Test(wire, handshake_rejects_any_other_value)
{
    static const struct {
        size_t off, size;
        uint64_t v;
    } cases[] = {
        {0, 4, 0x31444F48u}, {0, 4, 0},  {0, 4, 0x494F4431u},
        {4, 2, 0},           {4, 2, 2},  {6, 2, 11},
        {6, 2, 13},          {6, 2, 0},  {8, 2, 0},
        {8, 2, 2},           {10, 2, 11}, {10, 2, 13},
        {10, 2, 0},          {12, 4, 1}, {12, 4, 0x01000000u},
        {12, 4, 0xFFFFFFFFu}, {14, 2, 0x100},
    };
    uint8_t b[16];
    for (size_t i = 0; i < NELEM(cases); i++) {
        hs_req(b);
        put(b + cases[i].off, cases[i].v, cases[i].size);
        cr_assert_not(iod_wire_handshake_acceptable(b), "case %zu", i);
    }
}

Test(wire, handshake_result_accept_is_byte_exact)
{
    struct iouringd_capability_descriptor caps = {
        .struct_size = 36,
        .features = 0x00003FFFu,
        .ring_entries = 64,
        .cq_entries = 128,
        .op_mask = 0xFFF,
        .submit_credits = 32,
        .registered_fd_slots = 32,
        .registered_buffer_slots = 1,
        .io_bytes_max = 4096,
    };
    static const uint8_t expect[52] = {
        0x49, 0x4F, 0x44, 0x31, 1, 0, 12, 0, /* magic, 1, 12 */
        1, 0, 12, 0,                         /* abi 1.12 */
        0, 0, 0, 0,                          /* status ACCEPT, reserved */
        36, 0, 0, 0,                         /* struct_size */
        0xFF, 0x3F, 0, 0,                    /* features */
        64, 0, 0, 0,                         /* ring_entries */
        128, 0, 0, 0,                        /* cq_entries */
        0xFF, 0x0F, 0, 0,                    /* op_mask */
        32, 0, 0, 0,                         /* submit_credits */
        32, 0, 0, 0,                         /* registered_fd_slots */
        1, 0, 0, 0,                          /* registered_buffer_slots */
        0x00, 0x10, 0, 0,                    /* io_bytes_max */
    };
    uint8_t out[64];
    memset(out, 0xAA, sizeof out);
    iod_wire_encode_handshake_result(out, true, &caps);
    cr_assert_arr_eq(out, expect, 52);
    for (size_t i = 52; i < sizeof out; i++)
        cr_assert_eq(out[i], 0xAA, "wrote past 52 bytes at %zu", i);
}

Test(wire, handshake_result_accept_large_values)
{
    struct iouringd_capability_descriptor caps = {
        .struct_size = 36,
        .features = 0x89ABCDEFu,
        .ring_entries = 4096,
        .cq_entries = 8192,
        .op_mask = 0x0A5,
        .submit_credits = 4095,
        .registered_fd_slots = 1024,
        .registered_buffer_slots = 64,
        .io_bytes_max = 65535,
    };
    static const uint8_t expect[52] = {
        0x49, 0x4F, 0x44, 0x31, 1, 0, 12, 0, 1, 0, 12, 0, 0, 0, 0, 0,
        36, 0, 0, 0, 0xEF, 0xCD, 0xAB, 0x89, 0x00, 0x10, 0, 0, 0x00, 0x20, 0, 0,
        0xA5, 0x00, 0, 0, 0xFF, 0x0F, 0, 0, 0x00, 0x04, 0, 0, 64, 0, 0, 0,
        0xFF, 0xFF, 0, 0,
    };
    uint8_t out[52];
    iod_wire_encode_handshake_result(out, true, &caps);
    cr_assert_arr_eq(out, expect, 52);
}

Test(wire, handshake_result_reject_zeroes_capabilities)
{
    struct iouringd_capability_descriptor caps;
    memset(&caps, 0x5A, sizeof caps);
    static const uint8_t expect[52] = {
        0x49, 0x4F, 0x44, 0x31, 1, 0, 12, 0, 1, 0, 12, 0, 1, 0, 0, 0,
        /* 16..51 all zero */
    };
    uint8_t out[64];
    memset(out, 0xAA, sizeof out);
    iod_wire_encode_handshake_result(out, false, &caps);
    cr_assert_arr_eq(out, expect, 52);
    for (size_t i = 52; i < sizeof out; i++)
        cr_assert_eq(out[i], 0xAA);
    /* caps is ignored for a reject, so NULL is fine too. */
    memset(out, 0xAA, sizeof out);
    iod_wire_encode_handshake_result(out, false, NULL);
    cr_assert_arr_eq(out, expect, 52);
}

/* ---- table, bound, ioprio, names -------------------------------------- */

Test(wire, kind_table_matches_section_1_2)
{
    static const struct {
        uint16_t kind, size;
        uint32_t op;
        bool credit;
    } rows[] = {
        {1, 16, 0, true},          {2, 24, 0, true},          {3, 24, 1u << 4, false},
        {4, 24, 1u << 2, true},    {5, 24, 1u << 3, true},    {6, 28, 1u << 5, true},
        {7, 28, 1u << 6, true},    {8, 24, 1u << 2, true},    {9, 24, 1u << 3, true},
        {10, 24, 1u << 7, true},   {11, 24, 1u << 8, true},   {12, 24, 1u << 9, true},
        {13, 28, 1u << 10, true},  {14, 24, 1u << 11, true},  {256, 16, 0, false},
        {257, 24, 0, false},       {258, 24, 0, false},       {259, 16, 0, false},
        {260, 32, 0, false},
    };
    for (size_t i = 0; i < NELEM(rows); i++) {
        const struct iod_kind_info *ki = iod_kind_lookup(rows[i].kind);
        cr_assert_not_null(ki, "kind %u", rows[i].kind);
        cr_assert_eq(ki->kind, rows[i].kind);
        cr_assert_eq(ki->fixed_size, rows[i].size, "kind %u size", rows[i].kind);
        cr_assert_eq(ki->op_bit, rows[i].op, "kind %u op", rows[i].kind);
        cr_assert_eq(ki->credit, rows[i].credit, "kind %u credit", rows[i].kind);
        cr_assert_eq(iod_kind_is_task(rows[i].kind), rows[i].kind <= 14);
    }
    static const uint16_t bad[] = {0, 15, 99, 255, 261, 0xFFFF};
    for (size_t i = 0; i < NELEM(bad); i++) {
        cr_assert_null(iod_kind_lookup(bad[i]), "kind %u", bad[i]);
        cr_assert_not(iod_kind_is_task(bad[i]));
    }
}

Test(wire, input_bound_is_max_4120_or_24_plus_io_bytes_max)
{
    cr_assert_eq(iod_input_bound(1), 4120);
    cr_assert_eq(iod_input_bound(128), 4120);
    cr_assert_eq(iod_input_bound(4092), 4120);
    cr_assert_eq(iod_input_bound(4095), 4120);
    cr_assert_eq(iod_input_bound(4096), 4120);
    cr_assert_eq(iod_input_bound(4097), 4121);
    cr_assert_eq(iod_input_bound(8192), 8216);
    cr_assert_eq(iod_input_bound(65535), 65559);
}

Test(wire, ioprio_only_for_read_write_opcodes)
{
    for (uint16_t k = 0; k <= 15; k++) {
        bool gets = k >= 4 && k <= 9;
        cr_assert_eq(iod_wire_ioprio(k, 0), 0, "kind %u NORMAL", k);
        cr_assert_eq(iod_wire_ioprio(k, 2), gets ? 0x4000 : 0, "kind %u HIGH", k);
        cr_assert_eq(iod_wire_ioprio(k, 1), gets ? 0x4007 : 0, "kind %u LOW", k);
    }
    for (uint16_t k = 256; k <= 260; k++) {
        cr_assert_eq(iod_wire_ioprio(k, 1), 0);
        cr_assert_eq(iod_wire_ioprio(k, 2), 0);
    }
}

Test(wire, kind_names_for_trace_lines)
{
    static const char *const names[] = {
        "control",    "nop",       "timeout",   "cancel",          "sock_read",
        "sock_write", "sock_read_fixed", "sock_write_fixed", "file_read", "file_write",
        "poll",       "connect",   "accept",    "openat",          "close",
    };
    for (uint16_t k = 0; k < 15; k++)
        cr_assert_str_eq(iod_kind_name(k), names[k], "kind %u", k);
    static const uint16_t unk[] = {15, 99, 255, 256, 257, 258, 259, 260, 261, 0xFFFF};
    for (size_t i = 0; i < NELEM(unk); i++)
        cr_assert_str_eq(iod_kind_name(unk[i]), "unknown", "kind %u", unk[i]);
}

Test(wire, priority_and_event_names)
{
    cr_assert_str_eq(iod_priority_name(0), "normal");
    cr_assert_str_eq(iod_priority_name(1), "low");
    cr_assert_str_eq(iod_priority_name(2), "high");
    cr_assert_str_eq(iod_priority_name(3), "unknown");
    cr_assert_str_eq(iod_priority_name(0xFFFF), "unknown");
    cr_assert_str_eq(iod_event_name(1), "submit_accept");
    cr_assert_str_eq(iod_event_name(2), "submit_reject");
    cr_assert_str_eq(iod_event_name(3), "completion");
    cr_assert_str_eq(iod_event_name(4), "resource_register");
    cr_assert_str_eq(iod_event_name(5), "resource_release");
    cr_assert_str_eq(iod_event_name(0), "unknown");
    cr_assert_str_eq(iod_event_name(6), "unknown");
}

Test(wire, protocol_header_bytes)
{
    struct iouringd_protocol_header h;
    memset(&h, 0xFF, sizeof h);
    iod_wire_protocol_header(&h);
    static const uint8_t expect[8] = {0x49, 0x4F, 0x44, 0x31, 1, 0, 12, 0};
    cr_assert_arr_eq(&h, expect, 8);
}
