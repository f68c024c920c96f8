/* The PyMem hooks and leaktrace.Tracker, AllocSnapshot and SiteStat. */
#include "tracker.h"

#include "errors.h"
#include "frames.h"
#include "intern.h"
#include "livetable.h"
#include "module.h"
#include "ptrmap.h"
#include "raise.h"
#include "sampledset.h"
#include "sampler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEPTH_LIMIT 128

/* A frame as interned: the code object (its index in trk.codes) and the
 * byte offset of the instruction running. Lines are computed only when a
 * report asks, so a sample costs no line-table decoding. */
typedef struct frame_key {
    uint32_t code;
    int32_t offset;             /* -1 when not known */
} frame_key_t;

/* One domain's hook: `ours` is what PyMem_SetAllocator got; its ctx points
 * back here to find the allocator we chain to. */
typedef struct hook {
    PyMemAllocatorEx prev;
    PyMemAllocatorEx ours;
    int installed;              /* ours is in the domain's chain */
    int gil;                    /* MEM and OBJ: called with the GIL held, always */
} hook_t;

/* The tracker's process-wide state (one tracker runs at a time; the module
 * is single-interpreter). `lock` protects every table from `code_index`
 * down: the hooks take it briefly and never run Python code while holding
 * it; queries copy what they need under it and make Python objects after.
 * `codes` grows only with the GIL held as well (frames exist only then).
 * The parameters and `hooks` change only with the GIL held and tracking
 * stopped. */
static struct {
    pthread_mutex_t lock;
    _Atomic int active;         /* the hooks record only while set */
    _Atomic uint64_t generation;/* bumped at each start: threads re-seed */
    uint64_t mean;              /* 0: trace mode */
    /* Trace mode: every live block is in the live table, so a free goes
     * straight to it and the sampled set stays empty. Atomic: frees read
     * it without the GIL or the lock. */
    _Atomic int trace;
    int max_depth;
    uint64_t seed;
    hook_t hooks[3];
    lt_ptrmap_t code_index;     /* code object -> its index in codes */
    PyCodeObject **codes;       /* strong references: names outlive functions */
    size_t ncodes, capcodes;
    lt_intern_t frames;         /* frame_key_t -> frame id */
    lt_intern_t stacks;         /* frame ids, innermost first -> stack id */
    lt_ptrmap_t stack_by_hash;  /* hash of the captured frames -> stack id */
    lt_livetable_t live;
    lt_sampledset_t sampled;
    uint64_t samples;           /* samples recorded */
    uint64_t dropped;           /* samples lost for want of memory */
    double started;             /* lt_monotonic() at start */
    double stopped;             /* at stop, 0 while running */
} trk = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Per thread, in initial-exec TLS so that reading it never allocates; one
 * struct, so the hooks find all of it from one address. `last_hash` and
 * `last_stack` are the last stack this thread recorded, by hash: a loop
 * allocating at one line skips the shared map too. They and the sampler
 * are valid for `generation` only. */
static __thread struct {
    int busy;                   /* inside a hook's chained call, or leaktrace's own work */
    uint64_t generation;
    lt_sampler_t sampler;
    uint64_t last_hash;
    uint32_t last_stack;
} tls __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t thread_counter;

/* ---- recording (runs inside the allocator) ------------------------------ */

/* The first allocation of a thread in a run seeds its sampler. */
static __attribute__((noinline, cold)) void thread_sampler_seed(uint64_t gen)
{
    uint64_t n = atomic_fetch_add_explicit(&thread_counter, 1, memory_order_relaxed);
    /* Threads are numbered in the order they first allocate in this
     * run, so a fixed seed gives the same decisions run after run. */
    lt_sampler_init(&tls.sampler, trk.mean, trk.seed ^ (n * UINT64_C(0x9E3779B97F4A7C15)));
    tls.last_hash = 0;
    tls.generation = gen;
}

/* The index of `code` in trk.codes, adding it (and a reference) on first
 * sight. Caller holds the lock and the GIL. Returns 0 or LT_ENOMEM. */
static int code_index_unlocked(PyCodeObject *code, uint32_t *out)
{
    int added;
    uint64_t *slot = lt_ptrmap_upsert(&trk.code_index, code, trk.ncodes, &added);
    if (slot == NULL)
        return LT_ENOMEM;
    if (added) {
        if (trk.ncodes == trk.capcodes) {
            size_t cap = trk.capcodes ? trk.capcodes * 2 : 1024;
            PyCodeObject **codes = lt_alloc(&lt_page_alloc, cap * sizeof(*codes));
            if (codes == NULL) {
                /* The map now names an index with no code: point it past
                 * the end so a later sight retries instead of reading it. */
                *slot = UINT64_MAX;
                return LT_ENOMEM;
            }
            if (trk.ncodes)
                memcpy(codes, trk.codes, trk.ncodes * sizeof(*codes));
            lt_free(&lt_page_alloc, trk.codes, trk.capcodes * sizeof(*codes));
            trk.codes = codes;
            trk.capcodes = cap;
        }
        Py_INCREF(code);
        trk.codes[trk.ncodes] = code;
        *slot = trk.ncodes++;
    } else if (*slot >= trk.ncodes) {
        return LT_ENOMEM;
    }
    *out = (uint32_t)*slot;
    return 0;
}

/* Interns the captured frames as a stack. Caller holds the lock (and the
 * GIL when n > 0). Stack 0 means "no Python frame". */
static int intern_stack_unlocked(const lt_frame_ref_t *refs, int n, uint32_t *stack)
{
    uint32_t ids[DEPTH_LIMIT];
    *stack = 0;
    if (n == 0)
        return 0;
    for (int i = 0; i < n; i++) {
        frame_key_t key = {0, refs[i].offset};
        int rc = code_index_unlocked(refs[i].code, &key.code);
        if (rc < 0)
            return rc;
        rc = lt_intern_get_or_add(&trk.frames, &key, sizeof(key), &ids[i], NULL);
        if (rc < 0)
            return rc;
    }
    return lt_intern_get_or_add(&trk.stacks, ids, (size_t)n * sizeof(ids[0]), stack, NULL);
}

/* A 64-bit hash of captured frames, never 0 (0 marks "none"). Two stacks
 * with one hash would share a site: at 2^-64 per pair, accepted for a
 * lookup that costs one map probe instead of interning 17 records. The code
 * objects hashed here cannot be replaced at their address: the tracker
 * holds a reference to every code object it has seen. */
static uint64_t hash_frames(const lt_frame_ref_t *refs, int n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int i = 0; i < n; i++) {
        h ^= (uint64_t)(uintptr_t)refs[i].code;
        h *= UINT64_C(0x9E3779B97F4A7C15);
        h ^= (uint64_t)(uint32_t)refs[i].offset + ((uint64_t)i << 32);
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 29;
    }
    return h | 1;
}

/* The stack id of the captured frames. Caller holds the lock (and the GIL
 * when n > 0). */
static int stack_of_unlocked(const lt_frame_ref_t *refs, int n, uint64_t hash, uint32_t *stack)
{
    if (n == 0) {
        *stack = 0;
        return 0;
    }
    if (hash == tls.last_hash) {
        *stack = tls.last_stack;
        return 0;
    }
    uint64_t *known = lt_ptrmap_get(&trk.stack_by_hash, (const void *)(uintptr_t)hash);
    if (known != NULL) {
        *stack = (uint32_t)*known;
    } else {
        int rc = intern_stack_unlocked(refs, n, stack);
        if (rc < 0)
            return rc;
        /* A failure here only costs the next lookup its shortcut. */
        uint64_t *slot = lt_ptrmap_upsert(&trk.stack_by_hash, (const void *)(uintptr_t)hash, *stack, NULL);
        (void)slot;
    }
    tls.last_hash = hash;
    tls.last_stack = *stack;
    return 0;
}

static void record(void *p, size_t size, uint64_t weight, int gil)
{
    lt_frame_ref_t refs[DEPTH_LIMIT];
    int n = 0;
    /* Frames are read only by the thread that holds the GIL (always so in
     * the MEM and OBJ domains; a RAW allocation may come without it). */
    if (gil || PyGILState_Check()) {
        PyThreadState *ts = lt_py_tstate_current();
        if (ts != NULL)
            n = lt_frames_capture(ts, refs, trk.max_depth);
    }
    uint64_t hash = n > 0 ? hash_frames(refs, n) : 0;
    pthread_mutex_lock(&trk.lock);
    if (!atomic_load_explicit(&trk.active, memory_order_relaxed))
        goto done;
    uint32_t stack;
    if (stack_of_unlocked(refs, n, hash, &stack) < 0)
        goto dropped;
    int rc = lt_livetable_insert(&trk.live, p, size, stack, weight, NULL);
    if (rc < 0)
        goto dropped;
    if (!atomic_load_explicit(&trk.trace, memory_order_relaxed) && lt_sampledset_add(&trk.sampled, p) < 0) {
        /* Without its bit the free would never be seen: keep neither. */
        lt_livetable_remove(&trk.live, p, NULL);
        goto dropped;
    }
    trk.samples++;
    goto done;
dropped:
    trk.dropped++;
done:
    pthread_mutex_unlock(&trk.lock);
}

/* Records a sampled allocation. Out of line: the hooks' fast path keeps
 * no registers for it. */
static __attribute__((noinline)) void track_sampled(void *p, size_t size, uint64_t weight, int gil)
{
    tls.busy = 1;
    record(p, size, weight, gil);
    tls.busy = 0;
}

static __attribute__((noinline)) void track_alloc_slow(void *p, size_t size, int gil)
{
    uint64_t gen = atomic_load_explicit(&trk.generation, memory_order_acquire);
    if (tls.generation != gen)
        thread_sampler_seed(gen);
    uint64_t weight;
    if (lt_sampler_sample(&tls.sampler, size, &weight))
        track_sampled(p, size, weight, gil);
}

/* The sampler's countdown, inline in every hook: the allocation is looked
 * at further only when it reaches the countdown or when this thread's
 * sampler belongs to an earlier run. */
static inline void track_alloc(void *p, size_t size, int gil)
{
    if (!atomic_load_explicit(&trk.active, memory_order_relaxed) || tls.busy)
        return;
    if (__builtin_expect(tls.generation == atomic_load_explicit(&trk.generation, memory_order_relaxed) &&
                             (uint64_t)size < tls.sampler.left, 1)) {
        tls.sampler.left -= size;
        return;
    }
    track_alloc_slow(p, size, gil);
}

static __attribute__((noinline)) int track_free_slow(void *p, lt_live_t *old)
{
    pthread_mutex_lock(&trk.lock);
    lt_live_t rec;
    int found = lt_livetable_remove(&trk.live, p, &rec) == 1;
    if (found) {
        if (!atomic_load_explicit(&trk.trace, memory_order_relaxed))
            lt_sampledset_remove(&trk.sampled, p);
        if (old != NULL)
            *old = rec;
    }
    pthread_mutex_unlock(&trk.lock);
    return found;
}

/* Forgets p if it was sampled; copies its record to *old (if not NULL).
 * Returns 1 if it was sampled. Unsampled frees cost the filter's lock-free
 * test, inline; in trace mode every free looks in the live table. Runs before the block is handed back, so that another
 * thread cannot be given the address while its old record is still here. */
static inline int track_free(void *p, lt_live_t *old)
{
    if (__builtin_expect(!atomic_load_explicit(&trk.trace, memory_order_relaxed) &&
                             !lt_sampledset_maybe(&trk.sampled, p), 1))
        return 0;
    return track_free_slow(p, old);
}

/* Puts back a record that track_free took for a realloc that then failed:
 * the old block lives on. */
static void track_restore(void *p, const lt_live_t *old)
{
    pthread_mutex_lock(&trk.lock);
    if (lt_livetable_insert(&trk.live, p, old->size, old->stack, old->weight, NULL) < 0)
        trk.dropped++;
    else if (!atomic_load_explicit(&trk.trace, memory_order_relaxed) && lt_sampledset_add(&trk.sampled, p) < 0) {
        lt_livetable_remove(&trk.live, p, NULL);
        trk.dropped++;
    }
    pthread_mutex_unlock(&trk.lock);
}

/* Each hook marks the thread busy around the allocator it chains to:
 * pymalloc serves large blocks by calling the (hooked) RAW domain, and the
 * same block must meet the sampler once, not once per domain, or its
 * weight would be counted twice. Frees are always looked at. */
static void *hook_malloc(void *ctx, size_t size)
{
    hook_t *h = ctx;
    if (tls.busy)
        return h->prev.malloc(h->prev.ctx, size);
    tls.busy = 1;
    void *p = h->prev.malloc(h->prev.ctx, size);
    tls.busy = 0;
    if (p != NULL)
        track_alloc(p, size, h->gil);
    return p;
}

static void *hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    hook_t *h = ctx;
    if (tls.busy)
        return h->prev.calloc(h->prev.ctx, nelem, elsize);
    tls.busy = 1;
    void *p = h->prev.calloc(h->prev.ctx, nelem, elsize);
    tls.busy = 0;
    if (p != NULL)
        track_alloc(p, nelem * elsize, h->gil);   /* no overflow: calloc succeeded */
    return p;
}

static void *hook_realloc(void *ctx, void *ptr, size_t size)
{
    hook_t *h = ctx;
    lt_live_t old;
    int had = ptr != NULL && track_free(ptr, &old);
    if (tls.busy)
        return h->prev.realloc(h->prev.ctx, ptr, size);
    tls.busy = 1;
    void *q = h->prev.realloc(h->prev.ctx, ptr, size);
    tls.busy = 0;
    if (q == NULL) {
        if (had)
            track_restore(ptr, &old);
        return NULL;
    }
    track_alloc(q, size, h->gil);
    return q;
}

static void hook_free(void *ctx, void *ptr)
{
    hook_t *h = ctx;
    if (ptr != NULL)
        track_free(ptr, NULL);
    h->prev.free(h->prev.ctx, ptr);
}

/* ---- start and stop (GIL held) ------------------------------------------ */

static const PyMemAllocatorDomain domains[3] = {PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ};

static void atfork_prepare(void) { pthread_mutex_lock(&trk.lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&trk.lock); }
/* The child inherits tables made consistent by holding the lock across the
 * fork, and goes on tracking with them. */
static void atfork_child(void) { pthread_mutex_unlock(&trk.lock); }

/* Empties the tables of the previous run. Caller holds the GIL and tracking
 * is stopped; a hook can still run (one left in another tool's chain passes
 * frees through), and reads the sampled-address filter without the lock: so
 * the filter is emptied member by member and keeps its memory, never
 * unmapped under a reader. Everything else is read under the lock. */
static void tables_reset(void)
{
    pthread_mutex_lock(&trk.lock);
    size_t pos = 0;
    const void *addr;
    lt_live_t rec;
    while (lt_livetable_next(&trk.live, &pos, &addr, &rec))
        lt_sampledset_remove(&trk.sampled, addr);
    PyCodeObject **codes = trk.codes;
    size_t ncodes = trk.ncodes, capcodes = trk.capcodes;
    trk.codes = NULL;
    trk.ncodes = trk.capcodes = 0;
    lt_ptrmap_clear(&trk.code_index);
    lt_intern_clear(&trk.frames);
    lt_intern_clear(&trk.stacks);
    lt_ptrmap_clear(&trk.stack_by_hash);
    lt_livetable_clear(&trk.live);
    trk.samples = trk.dropped = 0;
    pthread_mutex_unlock(&trk.lock);
    /* Dropping references may free code objects: outside the lock. */
    for (size_t i = 0; i < ncodes; i++)
        Py_DECREF(codes[i]);
    lt_free(&lt_page_alloc, codes, capcodes * sizeof(*codes));
}

static int tracking_start(uint64_t mean, int max_depth, uint64_t seed)
{
    static int initialized;
    if (!initialized) {
        lt_ptrmap_init(&trk.code_index, &lt_page_alloc);
        lt_intern_init(&trk.frames, &lt_page_alloc);
        lt_intern_init(&trk.stacks, &lt_page_alloc);
        lt_ptrmap_init(&trk.stack_by_hash, &lt_page_alloc);
        lt_livetable_init(&trk.live, &lt_page_alloc);
        lt_sampledset_init(&trk.sampled, &lt_page_alloc);
        if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0) {
            PyErr_SetString(PyExc_RuntimeError, "cannot register the fork handlers of allocation tracking");
            return -1;
        }
        initialized = 1;
    }
    tables_reset();
    trk.mean = mean;
    atomic_store_explicit(&trk.trace, mean == 0, memory_order_relaxed);
    trk.max_depth = max_depth;
    trk.seed = seed;
    trk.started = lt_monotonic();
    trk.stopped = 0;
    atomic_store_explicit(&thread_counter, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&trk.generation, 1, memory_order_release);
    for (int d = 0; d < 3; d++) {
        hook_t *h = &trk.hooks[d];
        if (h->installed)
            continue;           /* left in the chain by an earlier stop */
        PyMem_GetAllocator(domains[d], &h->prev);
        h->gil = domains[d] != PYMEM_DOMAIN_RAW;
        h->ours = (PyMemAllocatorEx){h, hook_malloc, hook_calloc, hook_realloc, hook_free};
        PyMem_SetAllocator(domains[d], &h->ours);
        h->installed = 1;
    }
    atomic_store_explicit(&trk.active, 1, memory_order_release);
    return 0;
}

/* Stops recording and takes our hooks out of each chain where they are on
 * top. Where another hook (tracemalloc started after us) sits on top, ours
 * stays in its chain, passing calls through, and is reused at next start. */
static void tracking_stop(void)
{
    atomic_store_explicit(&trk.active, 0, memory_order_release);
    for (int d = 0; d < 3; d++) {
        hook_t *h = &trk.hooks[d];
        if (!h->installed)
            continue;
        PyMemAllocatorEx cur;
        PyMem_GetAllocator(domains[d], &cur);
        if (cur.ctx == h && cur.malloc == hook_malloc) {
            PyMem_SetAllocator(domains[d], &h->prev);
            h->installed = 0;
        }
    }
    /* A hook that read `active` before the store finishes under the lock. */
    pthread_mutex_lock(&trk.lock);
    trk.stopped = lt_monotonic();
    pthread_mutex_unlock(&trk.lock);
}

/* ---- reading the tables (GIL held) -------------------------------------- */

/* The frames of one stack as copied under the lock. */
typedef struct stack_copy {
    uint32_t stack;
    uint32_t nframes;
    frame_key_t frames[DEPTH_LIMIT];
} stack_copy_t;

/* Copies the frames of `stack` (caller holds the lock). */
static void copy_stack_unlocked(uint32_t stack, stack_copy_t *out)
{
    out->stack = stack;
    out->nframes = 0;
    if (stack == 0)
        return;
    size_t len;
    const uint32_t *ids = lt_intern_get(&trk.stacks, stack, &len);
    if (ids == NULL)
        return;
    size_t n = len / sizeof(uint32_t);
    for (size_t i = 0; i < n && i < DEPTH_LIMIT; i++) {
        size_t flen;
        const frame_key_t *k = lt_intern_get(&trk.frames, ids[i], &flen);
        if (k == NULL || flen != sizeof(*k))
            break;
        out->frames[out->nframes++] = *k;
    }
}

/* (filename, line, function) of a frame; new reference or NULL with an
 * exception set. line_of_function: the function's first line instead. */
static PyObject *frame_tuple(const frame_key_t *k, int line_of_function)
{
    if (k->code >= trk.ncodes) {
        PyErr_SetString(PyExc_RuntimeError, "allocation tracking lost a code object");
        return NULL;
    }
    PyCodeObject *co = trk.codes[k->code];
    int line = line_of_function || k->offset < 0 ? co->co_firstlineno : PyCode_Addr2Line(co, k->offset);
    return Py_BuildValue("(OiO)", co->co_filename, line, lt_py_code_qualname(co));
}

static PyObject *no_frame_site(void)
{
    return Py_BuildValue("(sis)", "<no Python frame>", 0, "<native or interpreter start-up>");
}

typedef enum { GROUP_LINE, GROUP_FUNCTION, GROUP_STACK } group_t;

static int parse_group(const char *s, group_t *g)
{
    if (strcmp(s, "line") == 0)
        *g = GROUP_LINE;
    else if (strcmp(s, "function") == 0)
        *g = GROUP_FUNCTION;
    else if (strcmp(s, "stack") == 0)
        *g = GROUP_STACK;
    else {
        PyErr_Format(PyExc_ValueError, "group_by must be 'line', 'function' or 'stack', not '%s'", s);
        return -1;
    }
    return 0;
}

/* The site of a stack as a Python object: a (file, line, function) tuple
 * for line and function grouping, a tuple of them for stack grouping. */
static PyObject *site_of(const stack_copy_t *sc, group_t g)
{
    if (sc->nframes == 0)
        return g == GROUP_STACK ? Py_BuildValue("(N)", no_frame_site()) : no_frame_site();
    if (g != GROUP_STACK)
        return frame_tuple(&sc->frames[0], g == GROUP_FUNCTION);
    PyObject *t = PyTuple_New(sc->nframes);
    for (uint32_t i = 0; t != NULL && i < sc->nframes; i++) {
        PyObject *f = frame_tuple(&sc->frames[i], 0);
        if (f == NULL)
            Py_CLEAR(t);
        else
            PyTuple_SET_ITEM(t, i, f);
    }
    return t;
}

/* ---- the run session's view (tracker.h) --------------------------------- */

uint64_t lt_tracker_generation(void)
{
    return atomic_load_explicit(&trk.generation, memory_order_relaxed);
}

int lt_tracker_copy_sites(lt_sitestats_t *dst)
{
    pthread_mutex_lock(&trk.lock);
    int rc = lt_sitestats_copy(dst, &trk.live.stats);
    pthread_mutex_unlock(&trk.lock);
    return rc;
}

int lt_tracker_stack_frames(uint32_t stack, lt_tracker_frame_t *out, int max)
{
    stack_copy_t sc;
    pthread_mutex_lock(&trk.lock);
    copy_stack_unlocked(stack, &sc);
    pthread_mutex_unlock(&trk.lock);
    int n = 0;
    for (uint32_t i = 0; i < sc.nframes && n < max; i++) {
        const frame_key_t *k = &sc.frames[i];
        if (k->code >= trk.ncodes)
            break;
        PyCodeObject *co = trk.codes[k->code];
        out[n].file = Py_NewRef(co->co_filename);
        out[n].line = k->offset < 0 ? co->co_firstlineno : PyCode_Addr2Line(co, k->offset);
        out[n].function = Py_NewRef(lt_py_code_qualname(co));
        n++;
    }
    return n;
}

void lt_tracker_frames_release(lt_tracker_frame_t *frames, int n)
{
    for (int i = 0; i < n; i++) {
        Py_DECREF(frames[i].file);
        Py_DECREF(frames[i].function);
    }
}

size_t lt_tracker_footprint(void)
{
    pthread_mutex_lock(&trk.lock);
    size_t n = lt_livetable_footprint(&trk.live) + lt_intern_footprint(&trk.frames) +
               lt_intern_footprint(&trk.stacks) + lt_sampledset_footprint(&trk.sampled) +
               trk.stack_by_hash.cap * sizeof(lt_ptrmap_entry_t) + trk.code_index.cap * sizeof(lt_ptrmap_entry_t);
    pthread_mutex_unlock(&trk.lock);
    return n;
}

uint32_t lt_tracker_object_stack(PyObject *obj)
{
    const void *block = lt_py_alloc_start(obj);
    lt_live_t rec;
    pthread_mutex_lock(&trk.lock);
    int found = block != NULL && lt_livetable_get(&trk.live, block, &rec) == 1;
    pthread_mutex_unlock(&trk.lock);
    return found ? rec.stack : 0;
}

/* ---- AllocSnapshot ------------------------------------------------------ */

typedef struct lt_alloc_snapshot {
    PyObject_HEAD
    uint64_t generation;        /* the tracking run it belongs to */
    double time;
    lt_sitestats_t stats;       /* own copy */
    stack_copy_t *stacks;       /* frames of every stack with a row, by id */
    size_t nstacks;
} lt_alloc_snapshot_t;

/* Copies the tables into a new snapshot. */
static PyObject *snapshot_take(PyTypeObject *type)
{
    lt_alloc_snapshot_t *s = (lt_alloc_snapshot_t *)type->tp_alloc(type, 0);
    if (s == NULL)
        return NULL;
    lt_sitestats_init(&s->stats, &lt_page_alloc);
    /* Our own allocations while copying are not the program's. */
    int busy = tls.busy;
    tls.busy = 1;
    pthread_mutex_lock(&trk.lock);
    int rc = lt_sitestats_copy(&s->stats, &trk.live.stats);
    size_t n = s->stats.len;
    if (rc == 0 && n > 0) {
        s->stacks = lt_alloc(&lt_page_alloc, n * sizeof(stack_copy_t));
        if (s->stacks == NULL)
            rc = LT_ENOMEM;
        else {
            s->nstacks = n;
            for (size_t i = 0; i < n; i++)
                copy_stack_unlocked((uint32_t)i, &s->stacks[i]);
        }
    }
    s->generation = atomic_load_explicit(&trk.generation, memory_order_relaxed);
    s->time = trk.stopped != 0 ? trk.stopped : lt_monotonic();
    pthread_mutex_unlock(&trk.lock);
    tls.busy = busy;
    if (rc < 0) {
        Py_DECREF(s);
        return lt_raise(rc, "copying the allocation tables");
    }
    return (PyObject *)s;
}

static void snapshot_dealloc(lt_alloc_snapshot_t *s)
{
    PyTypeObject *tp = Py_TYPE(s);
    lt_sitestats_clear(&s->stats);
    lt_free(&lt_page_alloc, s->stacks, s->nstacks * sizeof(stack_copy_t));
    tp->tp_free(s);
    Py_DECREF(tp);
}

static int snapshot_check_current(const lt_alloc_snapshot_t *s)
{
    if (s->generation != atomic_load_explicit(&trk.generation, memory_order_relaxed)) {
        PyErr_SetString(PyExc_ValueError, "this snapshot belongs to an earlier tracking run: its sites are gone");
        return -1;
    }
    return 0;
}

/* Accumulated numbers of one site while grouping. */
typedef struct group_row {
    PyObject *site;
    int64_t v[4];               /* live bytes, live count, total bytes, total count (or deltas) */
    int64_t now[2];             /* live bytes and count now (diffs only) */
} group_row_t;

typedef struct grouping {
    group_t g;
    PyObject *index;            /* site -> row position (a dict of our own tuples of str and int) */
    group_row_t *rows;
    size_t n, cap;
} grouping_t;

static int grouping_add(grouping_t *gr, const stack_copy_t *sc, const int64_t v[4], const int64_t now[2])
{
    PyObject *site = site_of(sc, gr->g);
    if (site == NULL)
        return -1;
    /* Keys are tuples of str and int that we made: hashing and comparing
     * them runs no user code. */
    PyObject *pos = PyDict_GetItemWithError(gr->index, site);
    if (pos == NULL && PyErr_Occurred())
        goto error;
    size_t i;
    if (pos != NULL) {
        i = PyLong_AsSize_t(pos);
        Py_DECREF(site);
    } else {
        if (gr->n == gr->cap) {
            size_t cap = gr->cap ? gr->cap * 2 : 256;
            group_row_t *rows = PyMem_Realloc(gr->rows, cap * sizeof(*rows));
            if (rows == NULL) {
                PyErr_NoMemory();
                goto error;
            }
            gr->rows = rows;
            gr->cap = cap;
        }
        i = gr->n;
        PyObject *p = PyLong_FromSize_t(i);
        if (p == NULL || PyDict_SetItem(gr->index, site, p) < 0) {
            Py_XDECREF(p);
            goto error;
        }
        Py_DECREF(p);
        memset(&gr->rows[i], 0, sizeof(gr->rows[i]));
        gr->rows[i].site = site;  /* the row owns it */
        gr->n++;
    }
    for (int k = 0; k < 4; k++)
        gr->rows[i].v[k] += v[k];
    for (int k = 0; k < 2; k++)
        gr->rows[i].now[k] += now[k];
    return 0;
error:
    Py_DECREF(site);
    return -1;
}

static int group_row_cmp(const void *a, const void *b)
{
    const group_row_t *x = a, *y = b;
    if (x->v[0] != y->v[0])
        return x->v[0] < y->v[0] ? 1 : -1;
    if (x->v[2] != y->v[2])
        return x->v[2] < y->v[2] ? 1 : -1;
    return 0;
}

/* Sorts the rows (largest live bytes first), drops zero rows, builds the
 * list of structseqs and frees the grouping. */
static PyObject *grouping_finish(grouping_t *gr, PyTypeObject *row_type, Py_ssize_t limit, int diff)
{
    PyObject *out = NULL;
    if (gr->n)
        qsort(gr->rows, gr->n, sizeof(group_row_t), group_row_cmp);
    out = PyList_New(0);
    for (size_t i = 0; out != NULL && i < gr->n; i++) {
        group_row_t *r = &gr->rows[i];
        if (limit >= 0 && PyList_GET_SIZE(out) >= limit)
            break;
        if (r->v[0] == 0 && r->v[1] == 0 && (diff || r->v[2] == 0))
            continue;
        PyObject *t = PyStructSequence_New(row_type);
        if (t == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyStructSequence_SET_ITEM(t, 0, Py_NewRef(r->site));
        int64_t vals[4] = {r->v[0], r->v[1], diff ? r->now[0] : r->v[2], diff ? r->now[1] : r->v[3]};
        int ok = 1;
        for (int k = 0; k < 4; k++) {
            PyObject *v = PyLong_FromLongLong(vals[k]);
            ok &= v != NULL;
            PyStructSequence_SET_ITEM(t, k + 1, v);
        }
        if (!ok || PyList_Append(out, t) < 0)
            Py_CLEAR(out);
        Py_DECREF(t);
    }
    for (size_t i = 0; i < gr->n; i++)
        Py_DECREF(gr->rows[i].site);
    PyMem_Free(gr->rows);
    Py_DECREF(gr->index);
    return out;
}

static int grouping_init(grouping_t *gr, const char *group_by)
{
    memset(gr, 0, sizeof(*gr));
    if (parse_group(group_by, &gr->g) < 0)
        return -1;
    gr->index = PyDict_New();
    return gr->index == NULL ? -1 : 0;
}

static PyObject *snapshot_live_by_site(lt_alloc_snapshot_t *s, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"group_by", "limit", NULL};
    const char *group_by = "line";
    Py_ssize_t limit = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$sn:live_by_site", kwlist, &group_by, &limit))
        return NULL;
    lt_state_t *st = lt_state_of_type(Py_TYPE(s));
    if (st == NULL || snapshot_check_current(s) < 0)
        return NULL;
    grouping_t gr;
    if (grouping_init(&gr, group_by) < 0)
        return NULL;
    for (size_t i = 0; i < s->stats.len; i++) {
        lt_sitestat_t r = lt_sitestats_get(&s->stats, (uint32_t)i);
        if (r.total_count == 0)
            continue;
        int64_t v[4] = {(int64_t)r.live_bytes, (int64_t)r.live_count, (int64_t)r.total_bytes, (int64_t)r.total_count};
        int64_t now[2] = {0, 0};
        if (grouping_add(&gr, &s->stacks[i], v, now) < 0) {
            Py_XDECREF(grouping_finish(&gr, st->site_stat_type, 0, 0));
            return NULL;
        }
    }
    return grouping_finish(&gr, st->site_stat_type, limit, 0);
}

static PyObject *snapshot_diff(lt_alloc_snapshot_t *s, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"older", "group_by", "limit", NULL};
    PyObject *older_obj;
    const char *group_by = "line";
    Py_ssize_t limit = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$sn:diff", kwlist, &older_obj, &group_by, &limit))
        return NULL;
    lt_state_t *st = lt_state_of_type(Py_TYPE(s));
    if (st == NULL)
        return NULL;
    if (!PyObject_TypeCheck(older_obj, st->alloc_snapshot_type)) {
        PyErr_Format(PyExc_TypeError, "diff() takes an AllocSnapshot, not %.100s", Py_TYPE(older_obj)->tp_name);
        return NULL;
    }
    lt_alloc_snapshot_t *old = (lt_alloc_snapshot_t *)older_obj;
    if (snapshot_check_current(s) < 0)
        return NULL;
    if (old->generation != s->generation) {
        PyErr_SetString(PyExc_ValueError, "the two snapshots come from different tracking runs");
        return NULL;
    }
    size_t n = lt_sitestats_diff(&old->stats, &s->stats, NULL, 0);
    lt_sitediff_t *d = n ? PyMem_Malloc(n * sizeof(*d)) : NULL;
    if (n && d == NULL)
        return PyErr_NoMemory();
    lt_sitestats_diff(&old->stats, &s->stats, d, n);
    grouping_t gr;
    if (grouping_init(&gr, group_by) < 0) {
        PyMem_Free(d);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t v[4] = {(int64_t)d[i].after.live_bytes - (int64_t)d[i].before.live_bytes,
                        (int64_t)d[i].after.live_count - (int64_t)d[i].before.live_count, 0, 0};
        int64_t now[2] = {(int64_t)d[i].after.live_bytes, (int64_t)d[i].after.live_count};
        if (d[i].stack >= s->nstacks)
            continue;
        if (grouping_add(&gr, &s->stacks[d[i].stack], v, now) < 0) {
            PyMem_Free(d);
            Py_XDECREF(grouping_finish(&gr, st->site_delta_type, 0, 1));
            return NULL;
        }
    }
    PyMem_Free(d);
    return grouping_finish(&gr, st->site_delta_type, limit, 1);
}

static PyObject *snapshot_get_time(lt_alloc_snapshot_t *s, void *unused)
{
    (void)unused;
    return PyFloat_FromDouble(s->time);
}

static PyMethodDef snapshot_methods[] = {
    {"live_by_site", (PyCFunction)(void (*)(void))snapshot_live_by_site, METH_VARARGS | METH_KEYWORDS,
     "live_by_site(*, group_by='line', limit=None) -> [SiteStat, ...]\n\n"
     "Live and total allocations per site, largest live bytes first."},
    {"diff", (PyCFunction)(void (*)(void))snapshot_diff, METH_VARARGS | METH_KEYWORDS,
     "diff(older, *, group_by='line', limit=None) -> [SiteDelta, ...]\n\n"
     "Per-site change of live bytes and count since an older snapshot of the\n"
     "same tracking run, largest growth first; unchanged sites are left out."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef snapshot_getset[] = {
    {"time", (getter)snapshot_get_time, NULL, "time.monotonic() when it was taken", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot snapshot_slots[] = {
    {Py_tp_dealloc, snapshot_dealloc},
    {Py_tp_methods, snapshot_methods},
    {Py_tp_getset, snapshot_getset},
    {Py_tp_doc, "The per-site allocation numbers of a tracking run at one moment (Tracker.snapshot())."},
    {0, NULL},
};

static PyType_Spec snapshot_spec = {
    "leaktrace._core.AllocSnapshot", sizeof(lt_alloc_snapshot_t), 0,
    Py_TPFLAGS_DEFAULT | LT_PY_TPFLAGS_NO_INSTANCES, snapshot_slots,
};

/* ---- Tracker -------------------------------------------------------------- */

typedef struct lt_tracker {
    PyObject_HEAD
    uint64_t mean;
    int max_depth;
    uint64_t seed;
    int running;
    uint64_t generation;        /* of its last run, 0 before one */
} lt_tracker_t;

static PyObject *tracker_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"mode", "sample_mean", "max_depth", "seed", NULL};
    const char *mode = "sampled";
    long long mean = LT_SAMPLER_DEFAULT_MEAN;
    int max_depth = 16;
    PyObject *seed_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$sLiO:Tracker", kwlist, &mode, &mean, &max_depth, &seed_obj))
        return NULL;
    uint64_t mean_u;
    if (strcmp(mode, "trace") == 0)
        mean_u = 0;
    else if (strcmp(mode, "sampled") == 0) {
        if (mean <= 0 || (uint64_t)mean > LT_SAMPLER_MAX_MEAN) {
            PyErr_Format(PyExc_ValueError, "sample_mean must be between 1 and %llu bytes",
                         (unsigned long long)LT_SAMPLER_MAX_MEAN);
            return NULL;
        }
        mean_u = (uint64_t)mean;
    } else {
        PyErr_Format(PyExc_ValueError, "mode must be 'sampled' or 'trace', not '%s'", mode);
        return NULL;
    }
    if (max_depth < 1 || max_depth > DEPTH_LIMIT) {
        PyErr_Format(PyExc_ValueError, "max_depth must be between 1 and %d", DEPTH_LIMIT);
        return NULL;
    }
    uint64_t seed;
    if (seed_obj == Py_None) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid();
    } else {
        seed = PyLong_AsUnsignedLongLongMask(seed_obj);
        if (seed == (uint64_t)-1 && PyErr_Occurred())
            return NULL;
    }
    lt_tracker_t *t = (lt_tracker_t *)type->tp_alloc(type, 0);
    if (t == NULL)
        return NULL;
    t->mean = mean_u;
    t->max_depth = max_depth;
    t->seed = seed;
    return (PyObject *)t;
}

/* The tracker whose run is on, borrowed; protected by the GIL. */
static lt_tracker_t *running_tracker;

static PyObject *tracker_start(lt_tracker_t *t, PyObject *unused)
{
    (void)unused;
    if (running_tracker != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        running_tracker == t ? "this Tracker is already running"
                                             : "another leaktrace Tracker is running: allocation hooks are process-wide");
        return NULL;
    }
    if (tracking_start(t->mean, t->max_depth, t->seed) < 0)
        return NULL;
    t->running = 1;
    t->generation = atomic_load_explicit(&trk.generation, memory_order_relaxed);
    running_tracker = t;
    Py_INCREF(t);               /* the hooks' run keeps its tracker alive */
    Py_RETURN_NONE;
}

static PyObject *tracker_stop(lt_tracker_t *t, PyObject *unused)
{
    (void)unused;
    if (!t->running)
        Py_RETURN_NONE;
    tracking_stop();
    t->running = 0;
    running_tracker = NULL;
    Py_DECREF(t);
    Py_RETURN_NONE;
}

static int tracker_check_run(lt_tracker_t *t)
{
    if (t->generation == 0) {
        PyErr_SetString(PyExc_RuntimeError, "this Tracker has not been started");
        return -1;
    }
    if (t->generation != atomic_load_explicit(&trk.generation, memory_order_relaxed)) {
        PyErr_SetString(PyExc_RuntimeError, "another Tracker has run since this one: its tables are gone");
        return -1;
    }
    return 0;
}

static PyObject *tracker_snapshot(lt_tracker_t *t, PyObject *unused)
{
    (void)unused;
    lt_state_t *st = lt_state_of_type(Py_TYPE(t));
    if (st == NULL || tracker_check_run(t) < 0)
        return NULL;
    return snapshot_take(st->alloc_snapshot_type);
}

static PyObject *tracker_live_by_site(lt_tracker_t *t, PyObject *args, PyObject *kwargs)
{
    PyObject *snap = tracker_snapshot(t, NULL);
    if (snap == NULL)
        return NULL;
    PyObject *r = snapshot_live_by_site((lt_alloc_snapshot_t *)snap, args, kwargs);
    Py_DECREF(snap);
    return r;
}

static PyObject *tracker_object_site(lt_tracker_t *t, PyObject *obj)
{
    if (tracker_check_run(t) < 0)
        return NULL;
    const void *block = lt_py_alloc_start(obj);
    stack_copy_t sc;
    int found;
    pthread_mutex_lock(&trk.lock);
    lt_live_t rec;
    found = block != NULL && lt_livetable_get(&trk.live, block, &rec) == 1;
    if (found)
        copy_stack_unlocked(rec.stack, &sc);
    pthread_mutex_unlock(&trk.lock);
    if (!found)
        Py_RETURN_NONE;
    return site_of(&sc, GROUP_STACK);
}

static PyObject *tracker_stats(lt_tracker_t *t, PyObject *unused)
{
    (void)unused;
    int current = t->generation != 0 && t->generation == atomic_load_explicit(&trk.generation, memory_order_relaxed);
    unsigned long long samples = 0, dropped = 0, live = 0, footprint = 0;
    double started = 0, stopped = 0;
    if (current) {
        pthread_mutex_lock(&trk.lock);
        samples = trk.samples;
        dropped = trk.dropped;
        live = trk.live.len;
        footprint = lt_livetable_footprint(&trk.live) + lt_intern_footprint(&trk.frames) +
                    lt_intern_footprint(&trk.stacks) + lt_sampledset_footprint(&trk.sampled);
        started = trk.started;
        stopped = trk.stopped;
        pthread_mutex_unlock(&trk.lock);
    }
    return Py_BuildValue("{sssKsisOsKsKsKsKsd}", "mode", t->mean ? "sampled" : "trace", "sample_mean",
                         (unsigned long long)t->mean, "max_depth", t->max_depth, "running",
                         t->running ? Py_True : Py_False, "samples", samples, "dropped", dropped, "live_samples",
                         live, "footprint", footprint, "duration",
                         current ? (stopped ? stopped : lt_monotonic()) - started : 0.0);
}

static PyObject *tracker_enter(lt_tracker_t *t, PyObject *unused)
{
    PyObject *r = tracker_start(t, unused);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    return Py_NewRef((PyObject *)t);
}

static PyObject *tracker_exit(lt_tracker_t *t, PyObject *args)
{
    (void)args;
    PyObject *r = tracker_stop(t, NULL);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static void tracker_dealloc(lt_tracker_t *t)
{
    /* A running tracker holds a reference to itself: never here. */
    PyTypeObject *tp = Py_TYPE(t);
    tp->tp_free(t);
    Py_DECREF(tp);
}

static PyObject *tracker_get_running(lt_tracker_t *t, void *unused)
{
    (void)unused;
    return PyBool_FromLong(t->running);
}

static PyMethodDef tracker_methods[] = {
    {"start", (PyCFunction)tracker_start, METH_NOARGS, "start()\n\nInstalls the hooks and starts recording."},
    {"stop", (PyCFunction)tracker_stop, METH_NOARGS,
     "stop()\n\nStops recording and removes the hooks; the tables stay readable\nuntil a tracker starts again."},
    {"snapshot", (PyCFunction)tracker_snapshot, METH_NOARGS, "snapshot() -> AllocSnapshot"},
    {"live_by_site", (PyCFunction)(void (*)(void))tracker_live_by_site, METH_VARARGS | METH_KEYWORDS,
     "live_by_site(*, group_by='line', limit=None) -> [SiteStat, ...]\n\n"
     "Per site: estimated live bytes and samples, total bytes and samples, largest\n"
     "live first. group_by 'line' and 'function' give (file, line, function) of\n"
     "the innermost frame; 'stack' a tuple of them, innermost first."},
    {"object_site", (PyCFunction)tracker_object_site, METH_O,
     "object_site(obj) -> tuple of (file, line, function), innermost first, or None\n\n"
     "The stack that allocated obj, if its allocation was recorded (in sampled mode\n"
     "only sampled allocations are)."},
    {"stats", (PyCFunction)tracker_stats, METH_NOARGS,
     "stats() -> dict\n\nmode, sample_mean, max_depth, running, samples, dropped, live_samples,\n"
     "footprint (bytes of leaktrace's own tables), duration."},
    {"__enter__", (PyCFunction)tracker_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)tracker_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef tracker_getset[] = {
    {"running", (getter)tracker_get_running, NULL, "whether this tracker is recording", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot tracker_slots[] = {
    {Py_tp_new, tracker_new},
    {Py_tp_dealloc, tracker_dealloc},
    {Py_tp_methods, tracker_methods},
    {Py_tp_getset, tracker_getset},
    {Py_tp_doc,
     "Tracker(*, mode='sampled', sample_mean=524288, max_depth=16, seed=None)\n\n"
     "Records where memory is allocated through Python's allocators (the RAW, MEM\n"
     "and OBJ domains), with the Python stack of each recorded allocation.\n"
     "mode='sampled' records allocations by Poisson sampling of bytes (one sample\n"
     "per sample_mean bytes on average, each weighted so that live bytes per site\n"
     "are unbiased estimates); mode='trace' records every allocation.\n"
     "Use start()/stop() or `with Tracker() as t:`. One tracker runs at a time.\n"
     "It chains to the allocators in place (tracemalloc may run too)."},
    {0, NULL},
};

static PyType_Spec tracker_spec = {
    "leaktrace._core.Tracker", sizeof(lt_tracker_t), 0, Py_TPFLAGS_DEFAULT, tracker_slots,
};

int lt_tracker_release(void)
{
    if (running_tracker != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a Tracker is running: stop it first");
        return -1;
    }
    if (atomic_load_explicit(&trk.generation, memory_order_relaxed) == 0)
        return 0;               /* no run yet: nothing to empty */
    tables_reset();
    atomic_fetch_add_explicit(&trk.generation, 1, memory_order_release);
    return 0;
}

/* Stops the running tracker, if any: registered with atexit by the package
 * so that no hook records during interpreter teardown. */
static PyObject *stop_tracking_fn(PyObject *module, PyObject *unused)
{
    (void)module;
    if (running_tracker == NULL)
        Py_RETURN_NONE;
    return tracker_stop(running_tracker, unused);
}

static PyMethodDef tracker_functions[] = {
    {"_stop_tracking", stop_tracking_fn, METH_NOARGS, "Stops the running Tracker, if any (for atexit)."},
    {NULL, NULL, 0, NULL},
};

static PyStructSequence_Field site_stat_fields[] = {
    {"site", "(file, line, function), or a tuple of them for group_by='stack'"},
    {"live_bytes", "estimated bytes still allocated"},
    {"live_count", "recorded allocations still alive"},
    {"total_bytes", "estimated bytes allocated since start"},
    {"total_count", "recorded allocations since start"},
    {NULL, NULL},
};

static PyStructSequence_Desc site_stat_desc = {
    "leaktrace._core.SiteStat", "Allocations of one site.", site_stat_fields, 5,
};

static PyStructSequence_Field site_delta_fields[] = {
    {"site", "(file, line, function), or a tuple of them for group_by='stack'"},
    {"live_bytes_delta", "change in estimated live bytes"},
    {"live_count_delta", "change in recorded live allocations"},
    {"live_bytes", "estimated live bytes in the newer snapshot"},
    {"live_count", "recorded live allocations in the newer snapshot"},
    {NULL, NULL},
};

static PyStructSequence_Desc site_delta_desc = {
    "leaktrace._core.SiteDelta", "How the allocations of one site changed.", site_delta_fields, 5,
};

int lt_tracker_exec(PyObject *module)
{
    lt_state_t *st = lt_state(module);
    st->tracker_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &tracker_spec, NULL);
    if (st->tracker_type == NULL)
        return -1;
    st->alloc_snapshot_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &snapshot_spec, NULL);
    if (st->alloc_snapshot_type == NULL)
        return -1;
    st->site_stat_type = PyStructSequence_NewType(&site_stat_desc);
    if (st->site_stat_type == NULL)
        return -1;
    st->site_delta_type = PyStructSequence_NewType(&site_delta_desc);
    if (st->site_delta_type == NULL)
        return -1;
    if (PyModule_AddObject(module, "Tracker", Py_NewRef((PyObject *)st->tracker_type)) < 0 ||
        PyModule_AddObject(module, "AllocSnapshot", Py_NewRef((PyObject *)st->alloc_snapshot_type)) < 0 ||
        PyModule_AddObject(module, "SiteStat", Py_NewRef((PyObject *)st->site_stat_type)) < 0 ||
        PyModule_AddObject(module, "SiteDelta", Py_NewRef((PyObject *)st->site_delta_type)) < 0)
        return -1;
    if (PyModule_AddFunctions(module, tracker_functions) < 0)
        return -1;
    /* No allocation hook may record while the interpreter tears itself
     * down: registered here, so that whoever loads the module (the
     * package, the production .pth, an attach payload) gets it. */
    PyObject *stop = PyObject_GetAttrString(module, "_stop_tracking");
    PyObject *atexit = stop != NULL ? PyImport_ImportModule("atexit") : NULL;
    PyObject *r = atexit != NULL ? PyObject_CallMethod(atexit, "register", "O", stop) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(atexit);
    Py_XDECREF(stop);
    return r != NULL ? 0 : -1;
}
