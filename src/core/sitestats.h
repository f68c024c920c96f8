/* Per-site aggregates of allocation tracking: one row per stack id (dense,
 * from lt_intern) with the live and the all-time bytes and counts, kept up
 * to date by lt_livetable; a copy of the rows is a checkpoint's view, and
 * the diff of two copies lists the sites that changed. */
#ifndef LT_SITESTATS_H
#define LT_SITESTATS_H

#include "alloc.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes are weighted (each sample counts for its lt_sampler weight), so in
 * sampling mode they are unbiased estimates of the site's bytes; counts are
 * of samples (of allocations in trace mode, where weights are the sizes and
 * everything is exact). */
typedef struct lt_sitestat {
    uint64_t live_bytes;        /* weighted bytes of the live samples */
    uint64_t live_count;        /* live samples */
    uint64_t total_bytes;       /* weighted bytes of every sample ever taken */
    uint64_t total_count;       /* samples ever taken */
} lt_sitestat_t;

/* Not thread-safe: guarded by whatever guards the owning live table. */
typedef struct lt_sitestats {
    const lt_alloc_t *a;
    lt_sitestat_t *rows;        /* rows[stack id]; zero where nothing happened */
    size_t len;                 /* 1 + the largest stack id with a row */
    size_t cap;                 /* rows allocated */
} lt_sitestats_t;

/* A changed site: its row in the older and the newer copy. */
typedef struct lt_sitediff {
    uint32_t stack;
    lt_sitestat_t before;
    lt_sitestat_t after;
} lt_sitediff_t;

/* Makes an empty set of rows; allocates nothing until the first reserve. */
void lt_sitestats_init(lt_sitestats_t *s, const lt_alloc_t *a);

/* Makes sure the row of `stack` exists (zeroed if new), so that add and sub
 * on it cannot fail. Returns 0, or LT_ENOMEM with the rows unchanged.
 * May allocate (amortized O(1): the rows double). */
int lt_sitestats_reserve(lt_sitestats_t *s, uint32_t stack);

/* Counts a new live sample of `weight` bytes at `stack`, whose row must have
 * been reserved. Never fails, never allocates. */
static inline void lt_sitestats_add(lt_sitestats_t *s, uint32_t stack, uint64_t weight)
{
    lt_sitestat_t *r = &s->rows[stack];
    r->live_bytes += weight;
    r->live_count++;
    r->total_bytes += weight;
    r->total_count++;
}

/* Uncounts a live sample that add counted with the same weight (a free).
 * Never fails, never allocates. */
static inline void lt_sitestats_sub(lt_sitestats_t *s, uint32_t stack, uint64_t weight)
{
    lt_sitestat_t *r = &s->rows[stack];
    r->live_bytes -= weight;
    r->live_count--;
}

/* Returns the row of `stack` by value: zeros for a stack never seen. */
lt_sitestat_t lt_sitestats_get(const lt_sitestats_t *s, uint32_t stack);

/* Makes dst (initialized, with its own allocator) an independent copy of
 * src: the snapshot a checkpoint keeps for the next diff. O(rows), one
 * allocation at most (none when dst is big enough already). Returns 0, or
 * LT_ENOMEM with dst unchanged. */
int lt_sitestats_copy(lt_sitestats_t *dst, const lt_sitestats_t *src);

/* Compares two copies row by row (a missing row counts as zeros) and writes
 * the rows that differ in any field, in increasing stack order, to out[0..
 * max). Returns how many rows differ, which may exceed max: call with
 * max 0 (out may then be NULL) to size the buffer. Never allocates. */
size_t lt_sitestats_diff(const lt_sitestats_t *before, const lt_sitestats_t *after, lt_sitediff_t *out,
                         size_t max);

/* Frees the rows; the set is empty and reusable afterwards. */
void lt_sitestats_clear(lt_sitestats_t *s);

#endif
