/* resources: the shared resource-id counter (§10), file slot states (free,
 * registered, reserved, closing), free slot accounting as reported in
 * resources_available (§5), id rewinds after failed submissions and the
 * ACCEPT -EPROTO give-back (§4.4), and exhaustion of the 32-bit id space. */
#include "resources.h"

#include <criterion/criterion.h>
#include <stdint.h>

static struct iod_resources r;

static void teardown(void)
{
    iod_res_destroy(&r);
}

TestSuite(resources, .fini = teardown);

static void setup(uint32_t nfiles, uint32_t nbufs)
{
    cr_assert_eq(iod_res_init(&r, nfiles, nbufs), 0);
}

static uint32_t reg_file(void)
{
    int32_t slot = iod_res_free_file_slot(&r);
    cr_assert_geq(slot, 0);
    return iod_res_register_file(&r, slot);
}

static uint32_t reg_buf(uint32_t len)
{
    int32_t slot = iod_res_free_buf_slot(&r);
    cr_assert_geq(slot, 0);
    return iod_res_register_buf(&r, slot, len);
}

Test(resources, fresh_state)
{
    setup(32, 1);
    cr_assert_eq(r.free_files, 32);
    cr_assert_eq(r.free_bufs, 1);
    cr_assert_eq(r.registered_files, 0);
    cr_assert_not(iod_res_ids_exhausted(&r));
    cr_assert_eq(iod_res_find_file(&r, 1), -1);
    cr_assert_eq(iod_res_find_buf(&r, 1), -1);
    cr_assert_eq(iod_res_find_file(&r, 0), -1);
    cr_assert_eq(iod_res_find_buf(&r, 0), -1);
}

Test(resources, shared_counter_example_of_section_10)
{
    setup(4, 2);
    uint32_t a = reg_file();
    cr_assert_eq(a, 1);
    cr_assert_eq(reg_file(), 2);
    int32_t s1 = iod_res_find_file(&r, 1);
    cr_assert_geq(s1, 0);
    iod_res_release_file(&r, s1);
    cr_assert_eq(iod_res_find_file(&r, 1), -1);
    cr_assert_eq(reg_file(), 3, "released ids are not reused");
    cr_assert_eq(reg_buf(0), 4);
    cr_assert_eq(reg_buf(10), 5);
    cr_assert_geq(iod_res_find_file(&r, 2), 0);
    cr_assert_geq(iod_res_find_file(&r, 3), 0);
    cr_assert_geq(iod_res_find_buf(&r, 4), 0);
    cr_assert_geq(iod_res_find_buf(&r, 5), 0);
    /* Files and buffers are distinct namespaces for lookups. */
    cr_assert_eq(iod_res_find_buf(&r, 2), -1);
    cr_assert_eq(iod_res_find_file(&r, 4), -1);
    cr_assert_eq(r.registered_files, 2);
}

Test(resources, free_slot_accounting)
{
    setup(3, 2);
    cr_assert_eq(reg_file(), 1);
    cr_assert_eq(r.free_files, 2);
    reg_file();
    reg_file();
    cr_assert_eq(r.free_files, 0);
    cr_assert_eq(r.registered_files, 3);
    cr_assert_eq(iod_res_free_file_slot(&r), -1);
    iod_res_release_file(&r, iod_res_find_file(&r, 2));
    cr_assert_eq(r.free_files, 1);
    cr_assert_eq(r.registered_files, 2);
    cr_assert_geq(iod_res_free_file_slot(&r), 0);

    reg_buf(1);
    cr_assert_eq(r.free_bufs, 1);
    reg_buf(2);
    cr_assert_eq(r.free_bufs, 0);
    cr_assert_eq(iod_res_free_buf_slot(&r), -1);
    /* File slots do not count buffers and vice versa. */
    cr_assert_eq(r.free_files, 1);
    iod_res_release_buf(&r, iod_res_find_buf(&r, 5));
    cr_assert_eq(r.free_bufs, 1);
    cr_assert_eq(iod_res_find_buf(&r, 5), -1);
}

Test(resources, buffer_valid_length_set_and_reset)
{
    setup(1, 2);
    uint32_t id = reg_buf(123);
    int32_t slot = iod_res_find_buf(&r, id);
    cr_assert_eq(r.bufs[slot].valid_length, 123);
    iod_res_release_buf(&r, slot);
    cr_assert_eq(r.bufs[slot].valid_length, 0, "release resets valid_length (§5.3)");
    id = reg_buf(0);
    cr_assert_eq(r.bufs[iod_res_find_buf(&r, id)].valid_length, 0);
}

Test(resources, reserve_takes_a_slot_but_is_not_registered)
{
    setup(2, 1);
    int32_t slot = iod_res_free_file_slot(&r);
    uint32_t id = iod_res_reserve_file(&r, slot);
    cr_assert_eq(id, 1);
    cr_assert_eq(r.free_files, 1, "a reserved slot is not free (§5)");
    cr_assert_eq(r.registered_files, 0, "reserved slots excluded (§14)");
    cr_assert_eq(iod_res_find_file(&r, 1), -1, "a reserved slot fails the file check");
    cr_assert_neq(iod_res_free_file_slot(&r), slot);
}

Test(resources, unreserve_frees_the_slot_and_rewinds_the_id)
{
    setup(2, 1);
    int32_t slot = iod_res_free_file_slot(&r);
    cr_assert_eq(iod_res_reserve_file(&r, slot), 1);
    iod_res_unreserve(&r, slot);
    cr_assert_eq(r.free_files, 2);
    cr_assert_eq(r.registered_files, 0);
    cr_assert_eq(reg_file(), 1, "a failed submission's id is reused (§10)");
    slot = iod_res_free_file_slot(&r);
    cr_assert_eq(iod_res_reserve_file(&r, slot), 2);
    iod_res_unreserve(&r, slot);
    cr_assert_eq(reg_buf(0), 2);
}

Test(resources, unreserve_does_not_rewind_past_a_later_id)
{
    setup(2, 1);
    int32_t slot = iod_res_free_file_slot(&r);
    cr_assert_eq(iod_res_reserve_file(&r, slot), 1);
    cr_assert_eq(reg_buf(0), 2);
    iod_res_unreserve(&r, slot);
    cr_assert_eq(r.free_files, 2);
    cr_assert_eq(reg_file(), 3);
}

Test(resources, reserved_done_success_registers)
{
    setup(2, 1);
    int32_t slot = iod_res_free_file_slot(&r);
    uint32_t id = iod_res_reserve_file(&r, slot);
    iod_res_reserved_done(&r, slot, true);
    cr_assert_eq(iod_res_find_file(&r, id), slot);
    cr_assert_eq(r.registered_files, 1);
    cr_assert_eq(r.free_files, 1);
    cr_assert_eq(reg_file(), 2);
}

Test(resources, reserved_done_failure_frees_and_does_not_reuse_the_id)
{
    setup(2, 1);
    int32_t slot = iod_res_free_file_slot(&r);
    uint32_t id = iod_res_reserve_file(&r, slot);
    iod_res_reserved_done(&r, slot, false);
    cr_assert_eq(iod_res_find_file(&r, id), -1);
    cr_assert_eq(r.registered_files, 0);
    cr_assert_eq(r.free_files, 2);
    cr_assert_eq(reg_file(), 2, "a kernel error's id is not reused (§4.4)");
}

Test(resources, give_back_id_reuses_it_when_no_later_id)
{
    setup(2, 1);
    int32_t slot = iod_res_free_file_slot(&r);
    uint32_t id = iod_res_reserve_file(&r, slot);
    cr_assert_eq(id, 1);
    iod_res_reserved_done(&r, slot, false);
    iod_res_give_back_id(&r, id);
    cr_assert_eq(r.free_files, 2);
    cr_assert_eq(reg_file(), 1, "ACCEPT -EPROTO gives the id back (§4.4)");
}

Test(resources, give_back_id_is_noop_after_a_later_id)
{
    setup(2, 2);
    int32_t slot = iod_res_free_file_slot(&r);
    uint32_t id = iod_res_reserve_file(&r, slot);
    cr_assert_eq(reg_buf(5), 2);
    iod_res_reserved_done(&r, slot, false);
    iod_res_give_back_id(&r, id);
    cr_assert_eq(reg_file(), 3, "the given-back id stays unused");
    cr_assert_eq(reg_buf(0), 4);
}

Test(resources, begin_close_hides_the_file_but_keeps_the_slot)
{
    setup(2, 1);
    uint32_t id = reg_file();
    int32_t slot = iod_res_find_file(&r, id);
    iod_res_begin_close(&r, slot);
    cr_assert_eq(iod_res_find_file(&r, id), -1, "a closing id fails the file check");
    cr_assert_eq(r.registered_files, 0);
    cr_assert_eq(r.free_files, 1, "the slot stays occupied until completion (§4.4)");
    cr_assert_neq(iod_res_free_file_slot(&r), slot);
    /* Completion frees the slot. */
    iod_res_release_file(&r, slot);
    cr_assert_eq(r.free_files, 2);
    cr_assert_eq(r.registered_files, 0);
    cr_assert_eq(reg_file(), 2, "a closed id is never reused");
}

Test(resources, undo_close_restores_the_file)
{
    setup(2, 1);
    uint32_t id = reg_file();
    int32_t slot = iod_res_find_file(&r, id);
    iod_res_begin_close(&r, slot);
    iod_res_undo_close(&r, slot);
    cr_assert_eq(iod_res_find_file(&r, id), slot);
    cr_assert_eq(r.registered_files, 1);
    cr_assert_eq(r.free_files, 1);
}

Test(resources, registered_files_counter_over_all_transitions)
{
    setup(4, 1);
    uint32_t a = reg_file();
    uint32_t b = reg_file();
    int32_t rs = iod_res_free_file_slot(&r);
    iod_res_reserve_file(&r, rs);
    cr_assert_eq(r.registered_files, 2);
    iod_res_reserved_done(&r, rs, true);
    cr_assert_eq(r.registered_files, 3);
    iod_res_begin_close(&r, iod_res_find_file(&r, a));
    cr_assert_eq(r.registered_files, 2);
    iod_res_release_file(&r, iod_res_find_file(&r, b));
    cr_assert_eq(r.registered_files, 1);
    cr_assert_eq(r.free_files, 2);
    reg_buf(1);
    cr_assert_eq(r.registered_files, 1);
}

Test(resources, ids_exhausted_past_uint32_max)
{
    setup(2, 2);
    r.next_id = UINT32_MAX - 1;
    cr_assert_not(iod_res_ids_exhausted(&r));
    cr_assert_eq(reg_file(), UINT32_MAX - 1);
    cr_assert_not(iod_res_ids_exhausted(&r));
    uint32_t last = reg_buf(0);
    cr_assert_eq(last, UINT32_MAX, "4294967295 is a valid resource id");
    cr_assert(iod_res_ids_exhausted(&r));
    cr_assert_geq(iod_res_find_buf(&r, UINT32_MAX), 0);
}

Test(resources, exhaustion_is_undone_by_a_rewind)
{
    setup(2, 1);
    r.next_id = UINT32_MAX;
    int32_t slot = iod_res_free_file_slot(&r);
    cr_assert_eq(iod_res_reserve_file(&r, slot), UINT32_MAX);
    cr_assert(iod_res_ids_exhausted(&r));
    iod_res_unreserve(&r, slot);
    cr_assert_not(iod_res_ids_exhausted(&r));
    cr_assert_eq(reg_file(), UINT32_MAX);
    cr_assert(iod_res_ids_exhausted(&r));
}

Test(resources, find_file_only_sees_registered_slots)
{
    setup(4, 1);
    uint32_t reg = reg_file();                      /* 1: registered */
    int32_t rs = iod_res_free_file_slot(&r);
    uint32_t reserved = iod_res_reserve_file(&r, rs); /* 2: reserved */
    uint32_t closing = reg_file();                  /* 3: will be closing */
    iod_res_begin_close(&r, iod_res_find_file(&r, closing));
    uint32_t released = reg_file();                 /* 4: released */
    iod_res_release_file(&r, iod_res_find_file(&r, released));
    uint32_t buf = reg_buf(0);                      /* 5: a buffer */
    cr_assert_geq(iod_res_find_file(&r, reg), 0);
    cr_assert_eq(iod_res_find_file(&r, reserved), -1);
    cr_assert_eq(iod_res_find_file(&r, closing), -1);
    cr_assert_eq(iod_res_find_file(&r, released), -1);
    cr_assert_eq(iod_res_find_file(&r, buf), -1);
    cr_assert_eq(iod_res_find_file(&r, 6), -1);
    cr_assert_eq(iod_res_find_file(&r, 0), -1);
    cr_assert_eq(r.free_files, 1); /* registered + reserved + closing occupy 3 of 4 */
}

Test(resources, many_slots_fill_and_drain)
{
    setup(1024, 64);
    for (uint32_t i = 1; i <= 1024; i++)
        cr_assert_eq(reg_file(), i);
    cr_assert_eq(r.free_files, 0);
    cr_assert_eq(iod_res_free_file_slot(&r), -1);
    for (uint32_t i = 0; i < 64; i++)
        cr_assert_eq(reg_buf(i), 1025 + i);
    cr_assert_eq(iod_res_free_buf_slot(&r), -1);
    for (uint32_t i = 2; i <= 1024; i += 2)
        iod_res_release_file(&r, iod_res_find_file(&r, i));
    cr_assert_eq(r.free_files, 512);
    cr_assert_eq(r.registered_files, 512);
    for (uint32_t i = 1; i <= 1024; i++)
        cr_assert_eq(iod_res_find_file(&r, i) >= 0, i % 2 == 1, "id %u", i);
}
