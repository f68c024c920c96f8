/* The live allocations being tracked: address -> {size, stack id, weight},
 * with the per-stack aggregates (lt_sitestats) kept up to date by every
 * insert and remove. Open addressing with linear probing and backward-shift
 * deletion: no tombstones, so endless malloc/free churn never degrades the
 * probes nor grows the table beyond what the live set needs. */
#ifndef LT_LIVETABLE_H
#define LT_LIVETABLE_H

#include "alloc.h"
#include "sitestats.h"

#include <stddef.h>
#include <stdint.h>

/* What is known of one live (sampled) allocation. */
typedef struct lt_live {
    uint64_t size;              /* bytes asked for */
    uint64_t weight;            /* bytes it stands for (lt_sampler); = size in trace mode */
    uint32_t stack;             /* interned stack id; 0 when none was captured */
} lt_live_t;

/* A slot: addr 0 marks an empty one. 32 bytes, two to a cache line. */
typedef struct lt_livetable_slot {
    uintptr_t addr;
    uint32_t stack;
    uint32_t unused;
    uint64_t size;
    uint64_t weight;
} lt_livetable_slot_t;

/* Not thread-safe: the caller holds the tracker's lock for every call (the
 * hooks do, briefly; a checkpoint does while it copies `stats`). */
typedef struct lt_livetable {
    const lt_alloc_t *a;
    lt_livetable_slot_t *slots;
    size_t cap;                 /* 0 or a power of two */
    size_t len;                 /* live records */
    unsigned shift;             /* 64 - log2(cap) */
    lt_sitestats_t stats;       /* per stack id; read it, do not change it */
} lt_livetable_t;

/* Makes an empty table whose slots and rows come from `a`; allocates
 * nothing until the first insert. */
void lt_livetable_init(lt_livetable_t *t, const lt_alloc_t *a);

/* Records a live allocation at addr (not NULL) and counts it in its stack's
 * row. Returns 0 when addr was not in the table; 1 when it was, which means
 * its free was missed (the allocator has just handed the address out again):
 * the stale record is replaced, uncounted from its row, and copied to
 * *replaced (if not NULL); LT_EINVAL for a NULL addr; LT_ENOMEM when the
 * table or the rows cannot grow, with table and rows unchanged (the hook
 * counts a dropped event). May allocate; O(1) expected, amortized over
 * doublings. Caller holds the lock. */
int lt_livetable_insert(lt_livetable_t *t, const void *addr, uint64_t size, uint32_t stack, uint64_t weight,
                        lt_live_t *replaced);

/* Removes addr's record, if any, and uncounts it from its row. Returns 1 and
 * copies the record to *removed (if not NULL) when there was one, else 0.
 * Never fails. It may give memory back (shrinking a table that has become
 * 1/8 full), but a failure to do so changes nothing. A realloc is a remove
 * of the old address and an insert of the new. Caller holds the lock. */
int lt_livetable_remove(lt_livetable_t *t, const void *addr, lt_live_t *removed);

/* Returns 1 and copies addr's record to *out (if not NULL), or 0 when addr
 * is not in the table. Never allocates. Caller holds the lock. */
int lt_livetable_get(const lt_livetable_t *t, const void *addr, lt_live_t *out);

/* Iteration: pass *pos = 0 first; returns 1 with the next address and its
 * record, or 0 at the end. The order is the table's. The table must not
 * change during the iteration. */
int lt_livetable_next(const lt_livetable_t *t, size_t *pos, const void **addr, lt_live_t *out);

/* Bytes the table holds: slots and rows. */
size_t lt_livetable_footprint(const lt_livetable_t *t);

/* Frees slots and rows; the table is empty and reusable afterwards. */
void lt_livetable_clear(lt_livetable_t *t);

#endif
