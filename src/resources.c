/* Registered files and buffers of one connection. Files and buffers share one
 * increasing id counter (§10); slot indexes are fixed-table indexes. */
#include "resources.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int iod_res_init(struct iod_resources *r, uint32_t nfiles, uint32_t nbufs)
{
    memset(r, 0, sizeof *r);
    r->files = calloc(nfiles, sizeof *r->files);
    r->bufs = calloc(nbufs, sizeof *r->bufs);
    if (!r->files || !r->bufs) {
        iod_res_destroy(r);
        return -ENOMEM;
    }
    r->nfiles = r->free_files = nfiles;
    r->nbufs = r->free_bufs = nbufs;
    r->next_id = 1;
    return 0;
}

void iod_res_destroy(struct iod_resources *r)
{
    free(r->files);
    free(r->bufs);
    memset(r, 0, sizeof *r);
}

int32_t iod_res_find_file(const struct iod_resources *r, uint32_t id)
{
    if (id == 0)
        return -1;
    for (uint32_t i = 0; i < r->nfiles; i++)
        if (r->files[i].state == IOD_FILE_REGISTERED && r->files[i].id == id)
            return (int32_t)i;
    return -1;
}

int32_t iod_res_find_buf(const struct iod_resources *r, uint32_t id)
{
    if (id == 0)
        return -1;
    for (uint32_t i = 0; i < r->nbufs; i++)
        if (r->bufs[i].used && r->bufs[i].id == id)
            return (int32_t)i;
    return -1;
}

int32_t iod_res_free_file_slot(const struct iod_resources *r)
{
    for (uint32_t i = 0; i < r->nfiles; i++)
        if (r->files[i].state == IOD_FILE_FREE)
            return (int32_t)i;
    return -1;
}

int32_t iod_res_free_buf_slot(const struct iod_resources *r)
{
    for (uint32_t i = 0; i < r->nbufs; i++)
        if (!r->bufs[i].used)
            return (int32_t)i;
    return -1;
}

bool iod_res_ids_exhausted(const struct iod_resources *r)
{
    return r->next_id > UINT32_MAX;
}

static uint32_t take_id(struct iod_resources *r)
{
    return (uint32_t)r->next_id++;
}

uint32_t iod_res_register_file(struct iod_resources *r, int32_t slot)
{
    struct iod_file_slot *f = &r->files[slot];
    f->state = IOD_FILE_REGISTERED;
    f->id = take_id(r);
    f->busy = 0;
    r->free_files--;
    r->registered_files++;
    return f->id;
}

uint32_t iod_res_reserve_file(struct iod_resources *r, int32_t slot)
{
    struct iod_file_slot *f = &r->files[slot];
    f->state = IOD_FILE_RESERVED;
    f->id = take_id(r);
    f->busy = 0;
    r->free_files--;
    return f->id;
}

void iod_res_unreserve(struct iod_resources *r, int32_t slot)
{
    struct iod_file_slot *f = &r->files[slot];
    if (r->next_id == (uint64_t)f->id + 1)
        r->next_id = f->id;
    f->state = IOD_FILE_FREE;
    f->id = 0;
    r->free_files++;
}

void iod_res_reserved_done(struct iod_resources *r, int32_t slot, bool success)
{
    struct iod_file_slot *f = &r->files[slot];
    if (success) {
        f->state = IOD_FILE_REGISTERED;
        r->registered_files++;
    } else {
        f->state = IOD_FILE_FREE;
        f->id = 0;
        r->free_files++;
    }
}

void iod_res_give_back_id(struct iod_resources *r, uint32_t id)
{
    if (r->next_id == (uint64_t)id + 1)
        r->next_id = id;
}

void iod_res_begin_close(struct iod_resources *r, int32_t slot)
{
    r->files[slot].state = IOD_FILE_CLOSING;
    r->registered_files--;
}

void iod_res_undo_close(struct iod_resources *r, int32_t slot)
{
    r->files[slot].state = IOD_FILE_REGISTERED;
    r->registered_files++;
}

void iod_res_release_file(struct iod_resources *r, int32_t slot)
{
    struct iod_file_slot *f = &r->files[slot];
    if (f->state == IOD_FILE_REGISTERED)
        r->registered_files--;
    f->state = IOD_FILE_FREE;
    f->id = 0;
    f->busy = 0;
    r->free_files++;
}

uint32_t iod_res_register_buf(struct iod_resources *r, int32_t slot, uint32_t valid_length)
{
    struct iod_buf_slot *b = &r->bufs[slot];
    b->used = true;
    b->id = take_id(r);
    b->busy = 0;
    b->valid_length = valid_length;
    r->free_bufs--;
    return b->id;
}

void iod_res_release_buf(struct iod_resources *r, int32_t slot)
{
    struct iod_buf_slot *b = &r->bufs[slot];
    b->used = false;
    b->id = 0;
    b->busy = 0;
    b->valid_length = 0;
    r->free_bufs++;
}
