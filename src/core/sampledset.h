/* "Is this address possibly a sampled allocation?": the filter every free
 * consults before it takes the tracker's lock. A radix tree over the address
 * like a page table: three levels of 2048 pointers, then leaves of 4096
 * bits, one bit per 8 bytes of address. Nodes are made on demand by the
 * writer (which holds the lock) and published with release stores; readers
 * take no lock and follow them with acquire loads. Memory is the touched
 * address range / 64 in the leaves (512 bytes per 32 KiB), never a big
 * reservation.
 *
 * One bit per 8 bytes, not 16: malloc's alignment is 8 or 16 and jemalloc,
 * tcmalloc and mimalloc hand out 8-byte blocks 8 bytes apart, so with
 * 16-byte granules two live members could share a bit and the first free
 * would hide the other (a false negative). With 8, a bit is one address. */
#ifndef LT_SAMPLEDSET_H
#define LT_SAMPLEDSET_H

#include "alloc.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LT_SAMPLEDSET_GRANULE_SHIFT 3   /* 8 bytes a bit */
#define LT_SAMPLEDSET_LEAF_SHIFT 12     /* 4096 bits a leaf: 32 KiB of addresses */
#define LT_SAMPLEDSET_NODE_SHIFT 11     /* 2048 children a node */
/* Addresses below 2^48 are tracked (x86-64 and arm64 user space). Above it
 * (5-level paging, 52-bit arm64) nothing is stored and the answer is always
 * "maybe": a false positive, which costs the caller a locked lookup. */
#define LT_SAMPLEDSET_ADDR_BITS 48
#define LT_SAMPLEDSET_NODE_LEN (1u << LT_SAMPLEDSET_NODE_SHIFT)
#define LT_SAMPLEDSET_LEAF_WORDS ((1u << LT_SAMPLEDSET_LEAF_SHIFT) / 64)

/* The shifts of the three node levels' indexes within an address. */
#define LT_SAMPLEDSET_L3_SHIFT (LT_SAMPLEDSET_GRANULE_SHIFT + LT_SAMPLEDSET_LEAF_SHIFT)   /* 15 */
#define LT_SAMPLEDSET_L2_SHIFT (LT_SAMPLEDSET_L3_SHIFT + LT_SAMPLEDSET_NODE_SHIFT)        /* 26 */
#define LT_SAMPLEDSET_L1_SHIFT (LT_SAMPLEDSET_L2_SHIFT + LT_SAMPLEDSET_NODE_SHIFT)        /* 37 */

/* The first test of maybe(), before the tree: a byte per bucket of pages
 * counting the members in the 4 KiB pages that hash to it (255 sticks: it
 * is never decremented again, so the bucket answers "maybe" for good). A
 * free in a page with no sampled block, the common case by far, costs one
 * load from this 16 KiB table, which stays in the L1/L2 cache, instead of
 * four dependent loads through the tree, whose leaves do not. */
#define LT_SAMPLEDSET_FILTER_SHIFT 14
#define LT_SAMPLEDSET_FILTER_LEN (1u << LT_SAMPLEDSET_FILTER_SHIFT)
#define LT_SAMPLEDSET_PAGE_SHIFT 12

static inline size_t lt__sampledset_bucket(uintptr_t a)
{
    uintptr_t page = a >> LT_SAMPLEDSET_PAGE_SHIFT;
    /* Folding in the higher bits keeps heaps 64 MiB apart out of each
     * other's buckets. */
    return (size_t)((page ^ (page >> LT_SAMPLEDSET_FILTER_SHIFT)) & (LT_SAMPLEDSET_FILTER_LEN - 1));
}

/* The root level lives in the struct (16 KiB; a static in practice). Nodes
 * and leaves come from `nodes`, an arena on the injected allocator, and are
 * freed only by lt_sampledset_clear: a reader may be looking at any of them
 * at any time. `nodes` and `len` are protected by the caller's lock. */
typedef struct lt_sampledset {
    _Atomic(uintptr_t) root[LT_SAMPLEDSET_NODE_LEN];
    _Atomic(uint8_t) filter[LT_SAMPLEDSET_FILTER_LEN];
    lt_arena_t nodes;
    size_t len;                 /* members */
} lt_sampledset_t;

/* Makes an empty set; allocates nothing until the first add. Not to be
 * called while any thread may call lt_sampledset_maybe. */
void lt_sampledset_init(lt_sampledset_t *s, const lt_alloc_t *a);

/* Adds p, an 8-byte aligned non-NULL address. Returns 1 if it was added, 0
 * if it was a member already or lies above LT_SAMPLEDSET_ADDR_BITS (where
 * maybe() answers 1 anyway); LT_EINVAL for NULL or a misaligned p;
 * LT_ENOMEM when a node could not be made: p is then not a member and the
 * caller must not record the allocation as sampled (count a dropped event).
 * Call it after the allocator has returned p and before p reaches the
 * program. May allocate (a node or leaf, from the arena). Caller holds the
 * writers' lock; concurrent readers are fine. */
int lt_sampledset_add(lt_sampledset_t *s, const void *p);

/* Removes p. Returns 1 if it was a member, else 0. Never fails, never
 * allocates, frees nothing (emptied leaves stay for reuse). Call it before
 * p goes back to the allocator, so that a thread that is handed p next
 * cannot see its new bit cleared. Caller holds the writers' lock. */
int lt_sampledset_remove(lt_sampledset_t *s, const void *p);

/* Returns 1 if p may be a member, 0 if it certainly is not. No false
 * negatives: every p added (and not removed) before this call in the
 * happens-before order (as a free of p always is: the program got p from
 * the malloc that added it) answers 1. Misaligned p, and p above the
 * tracked range, may answer 1. Lock-free and wait-free: one load for an
 * address in a page without members, at most five dependent loads, no
 * stores; any thread, any time between init and clear. */
static inline int lt_sampledset_maybe(const lt_sampledset_t *s, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a >> LT_SAMPLEDSET_ADDR_BITS)
        return 1;
    /* Relaxed, as the bit below: the add of p happened before its free. */
    if (atomic_load_explicit(&s->filter[lt__sampledset_bucket(a)], memory_order_relaxed) == 0)
        return 0;
    const uintptr_t mask = LT_SAMPLEDSET_NODE_LEN - 1;
    uintptr_t n = atomic_load_explicit(&s->root[a >> LT_SAMPLEDSET_L1_SHIFT], memory_order_acquire);
    if (n == 0)
        return 0;
    n = atomic_load_explicit(&((_Atomic(uintptr_t) *)n)[(a >> LT_SAMPLEDSET_L2_SHIFT) & mask],
                             memory_order_acquire);
    if (n == 0)
        return 0;
    n = atomic_load_explicit(&((_Atomic(uintptr_t) *)n)[(a >> LT_SAMPLEDSET_L3_SHIFT) & mask],
                             memory_order_acquire);
    if (n == 0)
        return 0;
    uintptr_t bit = (a >> LT_SAMPLEDSET_GRANULE_SHIFT) & ((1u << LT_SAMPLEDSET_LEAF_SHIFT) - 1);
    uint64_t w = atomic_load_explicit(&((_Atomic(uint64_t) *)n)[bit >> 6], memory_order_relaxed);
    return (int)((w >> (bit & 63)) & 1);
}

/* Bytes the set holds: the struct, nodes and leaves. */
size_t lt_sampledset_footprint(const lt_sampledset_t *s);

/* Frees every node; the set is empty and reusable. Only once no thread can
 * be inside lt_sampledset_maybe (the hooks are removed and drained). */
void lt_sampledset_clear(lt_sampledset_t *s);

#endif
