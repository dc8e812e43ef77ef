/* Registered files and buffers of one connection (§10): slot states, the
 * shared resource-id counter and busy counts. Pure bookkeeping; the worker
 * applies the matching fixed-table updates to its ring. */
#ifndef IOD_RESOURCES_H
#define IOD_RESOURCES_H

#include <stdbool.h>
#include <stdint.h>

enum iod_file_state {
    IOD_FILE_FREE = 0,
    IOD_FILE_REGISTERED,
    IOD_FILE_RESERVED, /* pending ACCEPT/OPENAT */
    IOD_FILE_CLOSING,  /* CLOSE in flight */
};

struct iod_file_slot {
    uint8_t state;
    uint32_t id;
    uint32_t busy; /* tasks in flight naming it */
};

struct iod_buf_slot {
    bool used;
    uint32_t id;
    uint32_t busy;
    uint32_t valid_length;
};

struct iod_resources {
    struct iod_file_slot *files;
    uint32_t nfiles;
    struct iod_buf_slot *bufs;
    uint32_t nbufs;
    uint32_t free_files;
    uint32_t registered_files;
    uint32_t free_bufs;
    uint64_t next_id; /* ids are uint32; exhausted past UINT32_MAX */
};

int iod_res_init(struct iod_resources *r, uint32_t nfiles, uint32_t nbufs);
void iod_res_destroy(struct iod_resources *r);

/* Slot of a registered file / buffer with this id, or -1. */
int32_t iod_res_find_file(const struct iod_resources *r, uint32_t id);
int32_t iod_res_find_buf(const struct iod_resources *r, uint32_t id);
/* A free slot, or -1. */
int32_t iod_res_free_file_slot(const struct iod_resources *r);
int32_t iod_res_free_buf_slot(const struct iod_resources *r);
bool iod_res_ids_exhausted(const struct iod_resources *r);

/* Transitions; each takes a slot found free/registered by the caller. They
 * return the id involved. */
uint32_t iod_res_register_file(struct iod_resources *r, int32_t slot);
uint32_t iod_res_reserve_file(struct iod_resources *r, int32_t slot);
/* A reserved slot's submission failed: free it and rewind the id counter. */
void iod_res_unreserve(struct iod_resources *r, int32_t slot);
/* A reserved slot's task completed: registered on success, else free. */
void iod_res_reserved_done(struct iod_resources *r, int32_t slot, bool success);
/* Gives an id back if no later one was allocated (ACCEPT -EPROTO). */
void iod_res_give_back_id(struct iod_resources *r, uint32_t id);
void iod_res_begin_close(struct iod_resources *r, int32_t slot);
void iod_res_undo_close(struct iod_resources *r, int32_t slot);
void iod_res_release_file(struct iod_resources *r, int32_t slot); /* registered or closing -> free */
uint32_t iod_res_register_buf(struct iod_resources *r, int32_t slot, uint32_t valid_length);
void iod_res_release_buf(struct iod_resources *r, int32_t slot);

#endif
