/* The series of a run, checkpoint after checkpoint, and their analysis:
 * which types, allocation sites, descriptors, threads and native memory
 * grow in a sustained way (lt_trend on each), ranked, with the run's
 * verdict: leak, no-leak, or inconclusive with how long to run.
 *
 * Three groups of series, each with its own time axis:
 *   process  every checkpoint: RSS, Python heap, native heap, descriptors
 *            by kind and in total, threads, and the native residue
 *            (RSS - Python heap: memory the Python allocators do not hold);
 *   census   the checkpoints that carry a census: per type name (string
 *            id), live count and bytes;
 *   sites    every checkpoint: per allocation stack (stack id), live bytes
 *            and count.
 * An id missing from a checkpoint's rows has the value 0 there.
 *
 * Memory is bounded: a group stores at most max_points points; when full,
 * every other point is dropped (the kept ones stay evenly spaced: the
 * stride doubles) and the newest checkpoint is always kept, in a
 * provisional last slot when it is off the stride. A series holds an array
 * only once its value changed: types present from the first checkpoint
 * with a constant value cost a few words. At most max_series arrays per
 * group: when more are needed, the half of the arrays with the smallest
 * range (bytes range + 64 * count range) is dropped and those ids are
 * ignored from then on (counted in dropped_series). Adding a checkpoint is
 * O(rows + series). Analysing: a series whose range is below half its
 * threshold is skipped; the others first go through a coarse, liberal
 * screen (lt_trend on 96 points, alpha 0.2, half the thresholds), and only
 * those that pass get the full test: about 0.1 ms per flat series, 1-2 ms
 * per candidate.
 *
 * Not thread-safe: one thread at a time per timeline. Memory comes only
 * from the injected allocator. */
#ifndef LT_TIMELINE_H
#define LT_TIMELINE_H

#include "alloc.h"
#include "capture.h"
#include "trend.h"

#include <stddef.h>
#include <stdint.h>

/* What a candidate is a series of. */
typedef enum lt_cand_kind {
    LT_CAND_TYPE = 0,           /* a census type; id = its name's string id */
    LT_CAND_SITE = 1,           /* an allocation site; id = its stack id */
    LT_CAND_FDS = 2,            /* all open descriptors; id 0 */
    LT_CAND_FD_KIND = 3,        /* descriptors of one kind; id = lt_fd_kind_t (procfs.h) */
    LT_CAND_THREADS = 4,        /* OS threads; id 0 */
    LT_CAND_NATIVE = 5,         /* id 0: RSS - Python heap; id 1: the tracked native heap */
    LT_CAND_HEAP = 6,           /* the Python heap as a whole; id 0 */
} lt_cand_kind_t;

/* "type", "site", "fds", "fd-kind", "threads", "native", "heap";
 * "unknown" otherwise. Static strings. */
const char *lt_cand_kind_name(lt_cand_kind_t kind);

/* 1 when a qualified type name names the program's own type: it has a
 * module prefix ("billing.Invoice") and the module's top package is not in
 * the standard library ("collections.OrderedDict", "_io.TextIOWrapper",
 * "threading.Thread" are not). name need not be NUL-terminated. Pure. */
int lt_timeline_user_type(const char *name, size_t len);

/* ---- Accumulating ------------------------------------------------------ */

typedef struct lt_timeline_opts {
    size_t max_points;          /* per group, even, >= 16 (512) */
    size_t max_series;          /* arrays per group, >= 4 (8192) */
} lt_timeline_opts_t;

void lt_timeline_opts_init(lt_timeline_opts_t *o);

/* Private: one series of a group. */
typedef struct lt__tl_series {
    uint32_t id;
    uint32_t flags;
    uint64_t gen;               /* the last add that had a row for it */
    double cb, cc;              /* the constant value while it has no array */
    double *b, *c;              /* values per point once it changed (c: groups with counts) */
    size_t cap;                 /* entries allocated in b (and c) */
    double minb, maxb, minc, maxc;
} lt__tl_series_t;

/* Private: a group of series on one time axis. */
typedef struct lt__tl_group {
    int has_count;
    double *t;                  /* seconds since the timeline's first checkpoint */
    size_t n, tcap;
    size_t stride;              /* checkpoints between kept points */
    uint64_t seen;              /* checkpoints offered to the group */
    int provisional;            /* the last point is off the stride */
    lt__tl_series_t *series;
    size_t nseries, series_cap;
    uint32_t *map;              /* open addressing: series index + 1, 0 = empty */
    size_t map_cap;
    size_t narrays, max_series;
    size_t dropped;
    uint64_t gen;
    /* The add being prepared. */
    size_t idx;
    int drop_prov, decimate;
} lt__tl_group_t;

/* All fields are private except those marked "read". */
typedef struct lt_timeline {
    const lt_alloc_t *a;
    size_t max_points;
    uint64_t t0_ns, last_ns;
    uint64_t checkpoints;       /* read: checkpoints added */
    int native_tracked;         /* read: a checkpoint had native_heap_bytes > 0 */
    lt__tl_group_t proc, census, sites;
} lt_timeline_t;

/* Makes an empty timeline on allocator `a` (borrowed; it must outlive the
 * timeline). opts NULL means the defaults. Returns 0, or LT_EINVAL (no
 * allocator, limits out of range). Allocates nothing. */
int lt_timeline_init(lt_timeline_t *tl, const lt_alloc_t *a, const lt_timeline_opts_t *opts);

/* Copies what the analysis needs from cp: its time (which must not be
 * earlier than the previous checkpoint's), RSS, heaps, descriptors,
 * threads, the site rows and, when cp->has_census, the census rows. cp is
 * not kept. Returns 0; LT_EINVAL (NULL, time going back, rows NULL with a
 * count); or LT_ENOMEM, in which case the checkpoint is not added and the
 * series are as before, except that arrays may have been dropped to make
 * room (see above). May allocate. */
int lt_timeline_add(lt_timeline_t *tl, const lt_capture_checkpoint_t *cp);

/* 1 when the newest checkpoint is one the timeline keeps for good (it is on
 * the current stride), 0 when it sits in the provisional last slot and
 * will be replaced by the next one (or when there is none). A writer that
 * stores only the kept checkpoints (the production mode's capture) grows
 * by max_points / 2 checkpoints per doubling of the run: logarithmically.
 * Pure. */
int lt_timeline_kept(const lt_timeline_t *tl);

/* Frees everything; the timeline can be initialised again. */
void lt_timeline_release(lt_timeline_t *tl);

/* ---- Analysing --------------------------------------------------------- */

typedef struct lt_analysis_opts {
    double warmup_s;            /* < 0: automatic per series (default); else seconds */
    double alpha;               /* one-sided significance (0.01) */
    double min_confidence;      /* a GROWING finding at least this sure is confident (0.5) */
    size_t min_points;          /* points after the warm-up for any call (8) */
    double min_duration_s;      /* a shorter run is inconclusive (0) */
    /* The smallest growth over the analysed window that is a finding. */
    double min_count;           /* objects of one type (50) */
    double min_bytes;           /* bytes of one type, one site, the Python heap (64 KiB) */
    double min_native;          /* RSS, native residue, native heap (1 MiB) */
    double min_fds;             /* descriptors (3) */
    double min_threads;         /* threads (3) */
    size_t max_candidates;      /* keep at most this many findings; 0 = all (0) */
    /* Names census type ids, for ranking and echoes ("billing.Invoice",
     * "dict"); NULL: ids are ranked without names. The result need not be
     * NUL-terminated (*len says its length) and must stay valid during the
     * call; NULL for an unknown id. lt_capture_reader_string fits. */
    const char *(*type_name)(const void *ctx, uint32_t id, size_t *len);
    const void *type_name_ctx;
} lt_analysis_opts_t;

void lt_analysis_opts_init(lt_analysis_opts_t *o);

/* A series that grows. */
typedef struct lt_candidate {
    lt_cand_kind_t kind;
    uint32_t id;
    lt_trend_t trend;           /* the deciding series (bytes, or count when by_count) */
    lt_trend_t other;           /* TYPE and SITE: the other one (count or bytes) */
    int by_count;               /* trend is of counts (always for FDS, FD_KIND, THREADS) */
    int confident;              /* trend GROWING with confidence >= min_confidence */
    int user_type;              /* TYPE: lt_timeline_user_type of its name */
    long echo_of;               /* index of the finding this one follows from, or -1 */
    double score;               /* the ranking key (see lt_timeline_analyze) */
    int64_t count_delta;        /* growth over the analysed window (slope * span), rounded */
    int64_t bytes_delta;
    double count_per_second;    /* Theil-Sen slopes (0 where the kind has no such series) */
    double bytes_per_second;
    double first_count, last_count;  /* observed at the window's start and at the end */
    double first_bytes, last_bytes;
} lt_candidate_t;

typedef struct lt_analysis {
    const lt_alloc_t *a;
    const char *verdict;        /* LT_VERDICT_* (report.h) */
    double confidence;
    double duration_s;          /* first to last checkpoint */
    uint64_t checkpoints;
    double needed_s;            /* inconclusive: how long to run in all; else 0 */
    char advice[160];           /* inconclusive: "run for at least N s ..."; else "" */
    /* The whole-process series, whether they grow or not. */
    lt_trend_t rss, heap, residue, fds, threads;
    lt_candidate_t *candidates; /* GROWING series, most significant first */
    size_t ncandidates;
    size_t cap;
    size_t analysed;            /* series given to the full lt_trend test */
    size_t screened;            /* series given to the coarse screen first */
    size_t dropped_series;      /* ids ignored to bound memory */
} lt_analysis_t;

/* Analyses every series (lt_trend, with the thresholds above per kind) and
 * writes *out, whose candidates it allocates from the timeline's allocator
 * (free them with lt_analysis_release). Returns 0, LT_EINVAL (NULL
 * arguments, bad options) or LT_ENOMEM (out then holds nothing and needs no
 * release). The timeline is not changed.
 *
 * Candidates are the series whose trend is GROWING: a type when its count
 * or its bytes grows; a site by its bytes; FDS, FD_KIND, THREADS by count;
 * NATIVE and HEAP by bytes. Ranking: findings that are not echoes first,
 * confident before not, sites after the other kinds (a site says where a
 * finding's objects come from; its bytes are everything allocated there,
 * so it would outrank the type it explains), then by score = confidence *
 * rate, where rate is bytes/s, or for count-only kinds count/s times a
 * nominal size (an object 64 B when its bytes do not grow, a descriptor
 * 1 KiB, a thread 64 KiB), doubled for a user type so that it precedes builtins of the same growth;
 * ties by kind then id. Echoes (kept, ranked after, echo_of set):
 *   - a "dict" whose count grows within 30 % of a user type's count (the
 *     instances' __dict__ on 3.9/3.10);
 *   - str, int, float, bytes, bytearray, complex, tuple, when a user type
 *     or a container (dict, list, set, deque, OrderedDict, defaultdict)
 *     grows: the children of the growing container;
 *   - the descriptor total when one kind grows; the native residue when
 *     the tracked native heap grows; the Python heap when a type or a site
 *     grows.
 * Verdict: inconclusive when the run is shorter than min_duration_s or the
 * process series are TOO_SHORT, or when nothing is confident but something
 * grows (advice and needed_s from the trends' needed_s; at least double
 * the run when they have none); leak when a candidate is confident
 * (confidence: the largest); else no-leak, with the smallest of the process
 * series' confidences that they do not grow. */
int lt_timeline_analyze(const lt_timeline_t *tl, const lt_analysis_opts_t *opts, lt_analysis_t *out);

/* Frees the candidates; out is empty afterwards. */
void lt_analysis_release(lt_analysis_t *out);

#endif
