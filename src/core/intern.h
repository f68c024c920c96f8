/* Hash-consing of byte sequences (strings, frame tuples, arrays of frame ids)
 * into dense ids 1, 2, 3, ...: equal contents get the same id, so a stack is
 * stored once and costs a uint32 wherever it is referred to. */
#ifndef LT_INTERN_H
#define LT_INTERN_H

#include "alloc.h"

#include <stddef.h>
#include <stdint.h>

/* Ids are below 2^31, which bounds the index at 2^32 slots. */
#define LT_INTERN_MAX_IDS ((UINT32_C(1) << 31) - 1)
/* Id i lives in segment s of LT_INTERN_SEG0 << s records: segments never
 * move, so neither does anything an id leads to. */
#define LT_INTERN_SEG0_SHIFT 8
#define LT_INTERN_SEGMENTS 24

typedef struct lt_intern_rec lt_intern_rec_t;

/* Not thread-safe: the caller holds the lock that guards the table for every
 * call (the tracker's lock in the hooks), including lookups, since an add
 * may rehash the index under a reader. */
typedef struct lt_intern {
    const lt_alloc_t *a;
    lt_arena_t data;                                /* the records: header and bytes */
    lt_intern_rec_t **segs[LT_INTERN_SEGMENTS];     /* id -> record */
    uint64_t *index;            /* (hash >> 32) << 32 | id; 0 = empty slot */
    size_t cap;                 /* index slots: 0 or a power of two */
    unsigned shift;             /* 32 - log2(cap): a slot from a 32-bit hash */
    uint32_t len;               /* ids handed out: the largest id */
} lt_intern_t;

/* Makes an empty table; allocates nothing until the first add. */
void lt_intern_init(lt_intern_t *t, const lt_alloc_t *a);

/* Finds the id of the `len` bytes at `bytes` (NULL allowed when len is 0),
 * adding a copy of them under the next id if they are new. Sets *id, and
 * *added (if not NULL) to 1 for a new id, 0 for an existing one. Returns 0;
 * LT_ENOMEM when the table cannot grow; LT_ERANGE when len exceeds
 * UINT32_MAX or LT_INTERN_MAX_IDS ids exist; LT_EINVAL for NULL bytes with
 * len > 0. On error the table's contents are unchanged and *id is 0.
 * Allocates from the table's allocator; O(1) expected (amortized over the
 * index's doublings). Caller holds the table's lock. */
int lt_intern_get_or_add(lt_intern_t *t, const void *bytes, size_t len, uint32_t *id, int *added);

/* Returns the id of those bytes, or 0 when they were never added. Never
 * allocates. Caller holds the table's lock. */
uint32_t lt_intern_find(const lt_intern_t *t, const void *bytes, size_t len);

/* Returns the bytes of id (borrowed: valid until lt_intern_clear, never
 * moved, 8-byte aligned, followed by a NUL so that a string reads as a C
 * string) and sets *len (if not NULL); NULL for id 0 or an id not handed
 * out. Never allocates. Caller holds the lock, or knows that id was handed
 * out before (the record itself never changes). */
const void *lt_intern_get(const lt_intern_t *t, uint32_t id, size_t *len);

/* Bytes the table holds: records, segments and index. */
size_t lt_intern_footprint(const lt_intern_t *t);

/* Frees everything; the table is empty and reusable, and ids start at 1
 * again. Every pointer from lt_intern_get is dangling afterwards. */
void lt_intern_clear(lt_intern_t *t);

#endif
