/* The injected allocator that every core table uses for its own bookkeeping.
 *
 * Our memory must never come from an allocator leaktrace hooks (PyMem domains,
 * interposed malloc), so tables take an lt_alloc_t instead of calling malloc.
 * The default one maps pages straight from the kernel; tests wrap it in a
 * failing allocator so that every error path runs (SQLite's MemFault idea). */
#ifndef LT_ALLOC_H
#define LT_ALLOC_H

#include <stddef.h>

typedef struct lt_alloc {
    /* Returns zeroed memory of `size` bytes, or NULL. */
    void *(*alloc)(void *ctx, size_t size);
    /* Releases memory from alloc; `size` is the size that was asked for. */
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} lt_alloc_t;

/* The page allocator: mmap/munmap, thread-safe, never touches malloc.
 * Sizes are rounded up to whole pages, so use it for tables, not small
 * objects (put those in an lt_arena_t). */
extern const lt_alloc_t lt_page_alloc;

static inline void *lt_alloc(const lt_alloc_t *a, size_t size) { return a->alloc(a->ctx, size); }
static inline void lt_free(const lt_alloc_t *a, void *p, size_t size)
{
    if (p != NULL)
        a->free(a->ctx, p, size);
}

/* A fault-injecting wrapper around another allocator: the allocation with
 * index `fail_at` (0-based, counted from set-up) and, if `persistent`, every
 * later one returns NULL. fail_at < 0 never fails. Not thread-safe. */
typedef struct lt_failing_alloc {
    lt_alloc_t base;            /* hand &f->base to tables */
    const lt_alloc_t *inner;
    long calls;                 /* allocations attempted so far */
    long fail_at;
    int persistent;
    long live;                  /* allocations not yet freed: 0 after a clean run */
} lt_failing_alloc_t;

void lt_failing_alloc_init(lt_failing_alloc_t *f, const lt_alloc_t *inner, long fail_at, int persistent);

/* An arena: many small allocations released together. Chunks come from the
 * given allocator. lt_arena_alloc returns 16-byte aligned zeroed memory or
 * NULL (the arena is unchanged on failure). Not thread-safe. */
typedef struct lt_arena_chunk lt_arena_chunk_t;
typedef struct lt_arena {
    const lt_alloc_t *a;
    lt_arena_chunk_t *head;
    size_t used;                /* bytes used in head */
    size_t total;               /* bytes handed out, for accounting */
} lt_arena_t;

void lt_arena_init(lt_arena_t *arena, const lt_alloc_t *a);
void *lt_arena_alloc(lt_arena_t *arena, size_t size);
/* Copies `len` bytes of `s` and a terminating NUL into the arena. Returns
 * the copy, or NULL (arena unchanged) when out of memory or len is absurd. */
char *lt_arena_strndup(lt_arena_t *arena, const char *s, size_t len);
void lt_arena_release(lt_arena_t *arena);

#endif
