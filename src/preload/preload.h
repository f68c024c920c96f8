/* libleaktrace_preload.so: the interposed allocator functions and the
 * tables of native allocations they fill. This header is the contract
 * between preload.c and the library's other units (control.c, writer.c);
 * the program sees only the interposed symbols and control.h's entry point. */
#ifndef LT_PRELOAD_H
#define LT_PRELOAD_H

#include "alloc.h"
#include "control.h"

#include <stddef.h>
#include <stdint.h>

/* The allocator of every table of the library: pages mapped by the real
 * mmap (never through our own hook), thread-safe. */
extern const lt_alloc_t lt_pl_alloc;

/* Marks the calling thread busy: its allocations pass straight through,
 * untracked, until the matching leave. Nests. Never allocates. */
void lt_pl_busy_enter(void);
void lt_pl_busy_leave(void);

/* Whether set-up is done and allocations are being recorded. */
int lt_pl_active(void);

/* See lt_preload_api_t.set_python. */
int lt_pl_set_python(lt_preload_py_stack_fn stack, lt_preload_py_describe_fn describe);

/* Fills *out (unwinder and capture_fd are left for the caller). Takes the
 * lock briefly. */
void lt_pl_stats(lt_preload_stats_t *out);

/* One site's numbers as copied under the lock. */
typedef struct lt_pl_row {
    uint32_t kind;
    uint32_t stack;
    uint64_t live_bytes, live_count, total_bytes, total_count;
} lt_pl_row_t;

/* Rows copied out of the tables, in a buffer that is reused by the next
 * call with the same struct (zero it first; release with lt_pl_rows_release). */
typedef struct lt_pl_rows {
    lt_pl_row_t *rows;
    size_t n, cap;
    uint32_t nstacks;           /* stack ids 1..nstacks exist: their records are readable */
    uint64_t live_bytes[LT_PRELOAD_KINDS];
} lt_pl_rows_t;

/* Copies every row with live samples (every row ever counted when
 * include_freed) under the lock. Returns 0, or LT_ENOMEM (r unchanged but
 * for its buffer). Must not be called from inside a hook. */
int lt_pl_rows_take(lt_pl_rows_t *r, int include_freed);
void lt_pl_rows_release(lt_pl_rows_t *r);

/* The frame ids of a stack that lt_pl_rows_take reported (id <= nstacks),
 * innermost first, and their number in *n; NULL for an unknown id. The
 * records never change nor move: no lock is needed. */
const uint32_t *lt_pl_stack_frames(uint32_t stack, size_t *n);
/* The frame record of an id found in such a stack (borrowed, immutable). */
const lt_preload_frame_t *lt_pl_frame(uint32_t id);

/* The bytes of a live table: for tests and stats. */
size_t lt_pl_footprint(void);

#endif
