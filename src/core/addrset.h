/* A set of object addresses as a bitmap: one bit per 16 bytes, in 1 MiB
 * chunks of address space found through a small map. Objects allocated
 * together sit together, so a heap walk touches few cache lines, where a
 * hash set misses on nearly every probe; and a checkpoint of a heap costs
 * 1/128 of the heap's address range instead of 16 bytes per object.
 * Every Python object is at least 16 bytes (refcount and type), so two
 * objects never share a 16-byte granule even when only 8-byte aligned. */
#ifndef LT_ADDRSET_H
#define LT_ADDRSET_H

#include "alloc.h"
#include "ptrmap.h"

#include <stddef.h>
#include <stdint.h>

#define LT_ADDRSET_CHUNK_SHIFT 20                        /* 1 MiB of addresses */
#define LT_ADDRSET_GRANULE_SHIFT 4                       /* 16 bytes a bit */
#define LT_ADDRSET_CHUNK_WORDS ((1u << LT_ADDRSET_CHUNK_SHIFT) >> LT_ADDRSET_GRANULE_SHIFT >> 6)
#define LT_ADDRSET_CACHE 64                              /* a power of two */

typedef struct lt_addrset {
    lt_arena_t bitmaps;         /* chunk bitmaps, released together */
    lt_ptrmap_t chunks;         /* chunk base address -> its bitmap */
    /* A direct-mapped cache of recent chunks in front of `chunks`: a walk
     * moves between a few arenas at a time. */
    uintptr_t cache_base[LT_ADDRSET_CACHE];
    uint64_t *cache_bits[LT_ADDRSET_CACHE];
    size_t len;
} lt_addrset_t;

/* Makes an empty set; allocates nothing until the first add. */
void lt_addrset_init(lt_addrset_t *s, const lt_alloc_t *a);
/* Adds p (not NULL; 8-byte aligned addresses only, others are refused with
 * LT_EINVAL; members must be at least 16 bytes apart, as objects are). Returns 1 if added, 0 if present, LT_ENOMEM when a chunk
 * could not be made (the set is unchanged). */
int lt_addrset_add(lt_addrset_t *s, const void *p);
/* Returns 1 if p is a member, else 0. */
int lt_addrset_has(const lt_addrset_t *s, const void *p);
/* Frees everything; the set is empty and reusable afterwards. */
void lt_addrset_clear(lt_addrset_t *s);
/* Bytes the set holds. */
size_t lt_addrset_footprint(const lt_addrset_t *s);

#endif
