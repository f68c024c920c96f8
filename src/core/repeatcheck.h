/* The decision of a repeated check (pytest plugin, leaktrace.check,
 * %%leaktrace): a piece of code ran `repeat` times after its warm-up, with
 * a checkpoint before the first measured run and after each; for every
 * candidate series (a type's count and bytes, an allocation site's live
 * bytes, open descriptors, threads, asyncio tasks) the caller gives the
 * growth of each run. Does it grow in a sustained way?
 *
 * The rule works on the runs, never on the sum of one run:
 *   - a measure grows in a run when its delta is at least 1 object /
 *     descriptor / thread / task, or more than noise_bytes bytes; it
 *     shrinks when it drops by as much;
 *   - it is sustained when it grows in at least min_runs runs (automatic:
 *     repeat - repeat / 4, so 4 of 5, 8 of 10; 1 of 1 when there is only
 *     one run, which a caller should call growth, not a leak) and shrinks in at most
 *     repeat - min_runs: a cache filled in one run, or a container that
 *     resizes now and then, grows in one or two runs only;
 *   - it leaks when sustained and the median per-run growth exceeds the
 *     allowance (max_objects for counts of objects, max_bytes for bytes,
 *     max_fds, max_threads, max_tasks).
 * A type leaks by its count or by its bytes (a list that grows while its
 * number stays put); a site by its bytes. Confidence is the one-sided sign
 * test: 1 - P(at least `grew` of `repeat` fair coin flips come up heads).
 *
 * Pure: no allocation, no globals, thread-safe. */
#ifndef LT_REPEATCHECK_H
#define LT_REPEATCHECK_H

#include "timeline.h"

#include <stddef.h>
#include <stdint.h>

/* The most measured runs a check may have. */
#define LT_REPEATCHECK_MAX_RUNS 1000

typedef struct lt_repeatcheck_opts {
    size_t repeat;              /* measured runs, 1..LT_REPEATCHECK_MAX_RUNS (5) */
    size_t min_runs;            /* runs that must grow; 0: repeat - repeat / 4 (0) */
    double max_objects;         /* allowed median growth per run, objects of one type (0) */
    double max_bytes;           /* allowed median growth per run, bytes of a type or a site (0) */
    double max_fds;             /* descriptors per run (0) */
    double max_threads;         /* threads per run (0) */
    double max_tasks;           /* asyncio tasks per run (0) */
    double noise_bytes;         /* a bytes delta at most this large is no change (0) */
} lt_repeatcheck_opts_t;

void lt_repeatcheck_opts_init(lt_repeatcheck_opts_t *o);

/* The tasks kind: the timeline's kinds plus one. */
#define LT_CAND_TASKS ((lt_cand_kind_t)100)

/* One candidate: its per-run deltas (repeat entries each, borrowed).
 * TYPE: count and bytes; SITE: bytes (count may be NULL); FDS, THREADS,
 * LT_CAND_TASKS: count (bytes NULL). */
typedef struct lt_repeatcheck_series {
    lt_cand_kind_t kind;
    uint32_t id;
    const double *count;
    const double *bytes;
} lt_repeatcheck_series_t;

typedef struct lt_repeatcheck_result {
    int leaking;                /* 1: sustained growth beyond the allowance */
    int by_count;               /* the deciding measure is the count */
    size_t grew_runs;           /* runs in which the deciding measure grew */
    size_t shrank_runs;
    double median_count;        /* per run */
    double median_bytes;
    double total_count;         /* over all measured runs */
    double total_bytes;
    double confidence;          /* 0..1, the sign test of the deciding measure */
    double score;               /* ranking key: median bytes per run (or a nominal size per count) */
} lt_repeatcheck_result_t;

/* Decides every series: out[i] for series[i] (n entries each). Returns 0,
 * or LT_EINVAL (NULL arrays with n > 0, repeat out of range, min_runs >
 * repeat, a series without the deltas its kind needs, negative
 * allowances). out is unspecified on error. */
int lt_repeatcheck_decide(const lt_repeatcheck_opts_t *o, const lt_repeatcheck_series_t *series, size_t n,
                          lt_repeatcheck_result_t *out);

/* Orders indices 0..n-1 into idx: leaking first, then by score, largest
 * first, ties by index. Returns the number of leaking results. */
size_t lt_repeatcheck_order(const lt_repeatcheck_result_t *res, size_t n, size_t *idx);

/* The median of n values (n <= LT_REPEATCHECK_MAX_RUNS; 0 for n == 0).
 * Does not change v. */
double lt_repeatcheck_median(const double *v, size_t n);

#endif
