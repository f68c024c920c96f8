/* The interposed allocator functions of libleaktrace_preload.so and the
 * tables of sampled native allocations: each allocation meets the Poisson
 * byte sampler of its thread; a sampled one is recorded with its native
 * stack and, when the extension registered itself, the thread's Python
 * stack, so that a leak in C is seen at its C and its Python site. */
/* mmap and mmap64 are interposed as the two symbols they are: with
 * _FILE_OFFSET_BITS=64 (which meson sets) the header would rename our mmap
 * to mmap64. On LP64 both take a 64-bit offset anyway. */
#undef _FILE_OFFSET_BITS

#include "preload.h"

#include "errors.h"
#include "intern.h"
#include "livetable.h"
#include "nativestack.h"
#include "ptrmap.h"
#include "sampledset.h"
#include "sampler.h"
#include "symbolize.h"
#include "writer.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LT_EXPORT __attribute__((visibility("default")))
#define PY_DEPTH 32             /* Python frames per stack, at most */

/* Every function that is interposed, as X(return type, name, parameters,
 * arguments): the list declares the pointers to the next definitions (the
 * libc ones) and resolves them. The hooks themselves are written out below,
 * one each, since each treats its result differently. mmap64 and
 * reallocarray are interposed too but need no pointer of their own (on
 * LP64 mmap64 is mmap; reallocarray is a checked realloc). */
#define LT_PRELOAD_FUNCS(X)                                                                                   \
    X(void *, malloc, (size_t size), (size))                                                                  \
    X(void *, calloc, (size_t nmemb, size_t size), (nmemb, size))                                             \
    X(void *, realloc, (void *ptr, size_t size), (ptr, size))                                                 \
    X(void, free, (void *ptr), (ptr))                                                                         \
    X(int, posix_memalign, (void **memptr, size_t alignment, size_t size), (memptr, alignment, size))         \
    X(void *, aligned_alloc, (size_t alignment, size_t size), (alignment, size))                              \
    X(void *, memalign, (size_t alignment, size_t size), (alignment, size))                                   \
    X(void *, valloc, (size_t size), (size))                                                                  \
    X(void *, mmap, (void *addr, size_t length, int prot, int flags, int fd, off_t offset),                   \
      (addr, length, prot, flags, fd, offset))                                                                \
    X(int, munmap, (void *addr, size_t length), (addr, length))                                               \
    X(void *, mremap, (void *old_address, size_t old_size, size_t new_size, int flags, void *new_address),    \
      (old_address, old_size, new_size, flags, new_address))

/* The next definitions. Written once by resolve() before it publishes
 * resolve_state = 2; read-only afterwards. */
#define DECLARE_REAL(ret, name, params, args) ret(*name) params;
static struct {
    LT_PRELOAD_FUNCS(DECLARE_REAL)
} real;

/* ---- bootstrap ----------------------------------------------------------
 * dlsym itself may call calloc (for its error buffer) before the real one is
 * known: such calls are served from this static buffer, whose blocks are
 * never freed. Each block has a 16-byte header holding its size, so that a
 * realloc can copy it out. Protected by boot_lock (a spin flag: only the
 * resolving thread allocates here). */
#define BOOT_BYTES (64 * 1024)
static _Alignas(16) unsigned char boot_buf[BOOT_BYTES];
static size_t boot_used;
static atomic_flag boot_lock = ATOMIC_FLAG_INIT;

static int is_boot(const void *p)
{
    return (const unsigned char *)p >= boot_buf && (const unsigned char *)p < boot_buf + BOOT_BYTES;
}

static void *boot_alloc(size_t size)
{
    void *p = NULL;
    while (atomic_flag_test_and_set_explicit(&boot_lock, memory_order_acquire))
        ;
    size_t need = 16 + ((size + 15) & ~(size_t)15);
    if (size <= BOOT_BYTES && need <= BOOT_BYTES - boot_used) {
        unsigned char *b = boot_buf + boot_used;
        memcpy(b, &size, sizeof(size));
        p = b + 16;
        boot_used += need;      /* static memory: already zero, as calloc wants */
    }
    atomic_flag_clear_explicit(&boot_lock, memory_order_release);
    return p;
}

static size_t boot_size(const void *p)
{
    size_t size;
    memcpy(&size, (const unsigned char *)p - 16, sizeof(size));
    return size;
}

/* 0: not resolved, 1: a thread is resolving, 2: `real` is complete. */
static _Atomic int resolve_state;

/* Per thread, initial-exec TLS (reading it never allocates, and the library
 * is loaded at start-up, so the static TLS block has room). tls_busy: the
 * thread is inside our code (or a hook's call to the real allocator), its
 * allocations pass straight through. tls_locked: it holds pl.lock, so a
 * free reached from a signal handler must not take it again. */
static __thread int tls_resolving __attribute__((tls_model("initial-exec")));
static __thread int tls_busy __attribute__((tls_model("initial-exec")));
static __thread int tls_locked __attribute__((tls_model("initial-exec")));
static __thread int tls_seeded __attribute__((tls_model("initial-exec")));
static __thread lt_sampler_t tls_sampler __attribute__((tls_model("initial-exec")));
static __thread uint64_t tls_last_hash __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_last_stack __attribute__((tls_model("initial-exec")));

/* Returns 1 once `real` can be used, 0 when the caller is the resolving
 * thread itself (dlsym allocating): it must use the bootstrap buffer. */
static __attribute__((noinline, cold)) int resolve_slow(void)
{
    if (tls_resolving)
        return 0;
    int expected = 0;
    if (atomic_compare_exchange_strong_explicit(&resolve_state, &expected, 1, memory_order_acq_rel,
                                                memory_order_acquire)) {
        tls_resolving = 1;
#define RESOLVE(ret, name, params, args) real.name = (ret(*) params)dlsym(RTLD_NEXT, #name);
        LT_PRELOAD_FUNCS(RESOLVE)
#undef RESOLVE
        tls_resolving = 0;
        atomic_store_explicit(&resolve_state, 2, memory_order_release);
        return 1;
    }
    while (atomic_load_explicit(&resolve_state, memory_order_acquire) != 2)
        sched_yield();
    return 1;
}

static inline int resolve(void)
{
    if (__builtin_expect(atomic_load_explicit(&resolve_state, memory_order_acquire) == 2, 1))
        return 1;
    return resolve_slow();
}

/* ---- our own pages ------------------------------------------------------ */

static size_t page_size(void)
{
    static size_t page;
    if (page == 0) {
        long p = sysconf(_SC_PAGESIZE);
        page = p > 0 ? (size_t)p : 4096;
    }
    return page;
}

static size_t page_round(size_t n)
{
    size_t page = page_size();
    if (n > SIZE_MAX - page)
        return 0;
    return (n + page - 1) & ~(page - 1);
}

/* mmap straight to the kernel: never our hook, usable before resolve(). */
static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static void *raw_alloc(void *ctx, size_t size)
{
    (void)ctx;
    size_t len = page_round(size);
    if (len == 0)
        return NULL;
    void *p = sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void raw_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    syscall(SYS_munmap, p, page_round(size));
}

const lt_alloc_t lt_pl_alloc = {raw_alloc, raw_free, NULL};

/* ---- the tables ---------------------------------------------------------- */

/* The library's process-wide state. `lock` protects everything from
 * `frames` down; the hooks take it briefly and never call the program, the
 * unwinder or Python while holding it (only the describe callback, which
 * runs no Python code). `unwind_lock` is held for reading around each
 * unwind and for writing across fork(), so that no thread is inside the
 * unwinder (and its locks) when the child is made. The parameters are
 * written by setup() before `active` is published. */
static struct {
    pthread_mutex_t lock;
    pthread_rwlock_t unwind_lock;
    _Atomic int active;
    uint64_t mean;              /* 0: trace mode */
    uint64_t seed;
    _Atomic(lt_preload_py_stack_fn) py_stack;
    _Atomic(lt_preload_py_describe_fn) py_describe;
    lt_intern_t frames;         /* lt_preload_frame_t records -> frame id */
    lt_intern_t stacks;         /* frame ids, innermost first -> stack id */
    lt_ptrmap_t stack_by_hash;  /* hash of the captured stack -> stack id */
    lt_ptrmap_t pyframe_by_key; /* Python frame key -> frame id */
    lt_livetable_t live[LT_PRELOAD_KINDS];
    lt_sampledset_t sampled;    /* the heap's sampled blocks, for free() */
    uint64_t live_bytes[LT_PRELOAD_KINDS];
    uint64_t samples;
    uint64_t dropped;
} pl = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .unwind_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP,
};
static _Atomic uint64_t thread_counter;
/* Lost events counted without the lock (a free met while the thread holds
 * it, from a signal handler). */
static _Atomic uint64_t dropped_unlocked;

void lt_pl_busy_enter(void) { tls_busy++; }
void lt_pl_busy_leave(void) { tls_busy--; }
int lt_pl_active(void) { return atomic_load_explicit(&pl.active, memory_order_acquire); }

static void lock(void)
{
    pthread_mutex_lock(&pl.lock);
    tls_locked = 1;
}

static void unlock(void)
{
    tls_locked = 0;
    pthread_mutex_unlock(&pl.lock);
}

static lt_sampler_t *thread_sampler(void)
{
    if (__builtin_expect(!tls_seeded, 0)) {
        uint64_t n = atomic_fetch_add_explicit(&thread_counter, 1, memory_order_relaxed);
        lt_sampler_init(&tls_sampler, pl.mean, pl.seed ^ (n * UINT64_C(0x9E3779B97F4A7C15)));
        tls_seeded = 1;
    }
    return &tls_sampler;
}

/* A 64-bit hash of a captured stack, never 0. Equal hashes are taken as
 * equal stacks (2^-64 a pair), as the tracker does. */
static uint64_t hash_stack(const uintptr_t *native, int nn, const uint64_t *py, int np)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ ((uint64_t)nn << 40) ^ (uint64_t)np;
    for (int i = 0; i < nn + np; i++) {
        h ^= i < nn ? (uint64_t)native[i] : py[i - nn];
        h *= UINT64_C(0x9E3779B97F4A7C15);
        h ^= h >> 29;
    }
    return h | 1;
}

/* The frame id of a Python frame key: describes it on first sight. Caller
 * holds the lock (and, since describe needs it, the thread holds the GIL:
 * the key came from stack() in this allocator call). */
static int pyframe_unlocked(uint64_t key, uint32_t *id)
{
    uint64_t *known = lt_ptrmap_get(&pl.pyframe_by_key, (const void *)(uintptr_t)key);
    if (known != NULL) {
        *id = (uint32_t)*known;
        return 0;
    }
    lt_preload_py_describe_fn describe = atomic_load_explicit(&pl.py_describe, memory_order_acquire);
    lt_preload_pyframe_t d;
    if (describe == NULL || describe(key, &d) < 0)
        return LT_ENOENT;
    lt_preload_frame_t f = {0, d.line, 0, d.file, d.function};
    int rc = lt_intern_get_or_add(&pl.frames, &f, sizeof(f), id, NULL);
    if (rc < 0)
        return rc;
    if (lt_ptrmap_upsert(&pl.pyframe_by_key, (const void *)(uintptr_t)key, *id, NULL) == NULL)
        return 0;               /* only the shortcut is lost */
    return 0;
}

/* The stack id of a captured stack, interning it when new. Caller holds
 * the lock. Returns 0 or a negative code (the sample is then dropped). */
static int stack_of_unlocked(const uintptr_t *native, int nn, const uint64_t *py, int np, uint64_t hash,
                             uint32_t *stack)
{
    if (hash == tls_last_hash) {
        *stack = tls_last_stack;
        return 0;
    }
    uint64_t *known = lt_ptrmap_get(&pl.stack_by_hash, (const void *)(uintptr_t)hash);
    if (known != NULL) {
        *stack = (uint32_t)*known;
    } else {
        uint32_t ids[LT_NATIVESTACK_MAX + PY_DEPTH];
        int n = 0;
        for (int i = 0; i < nn; i++) {
            lt_preload_frame_t f = {LT_PRELOAD_FRAME_NATIVE, 0, native[i], NULL, NULL};
            int rc = lt_intern_get_or_add(&pl.frames, &f, sizeof(f), &ids[n], NULL);
            if (rc < 0)
                return rc;
            n++;
        }
        for (int i = 0; i < np; i++) {
            int rc = pyframe_unlocked(py[i], &ids[n]);
            if (rc == LT_ENOENT)
                continue;       /* a frame that cannot be described is left out */
            if (rc < 0)
                return rc;
            n++;
        }
        int rc = lt_intern_get_or_add(&pl.stacks, ids, (size_t)n * sizeof(ids[0]), stack, NULL);
        if (rc < 0)
            return rc;
        /* A failure here only costs the next lookup its shortcut. */
        uint64_t *slot = lt_ptrmap_upsert(&pl.stack_by_hash, (const void *)(uintptr_t)hash, *stack, NULL);
        (void)slot;
    }
    tls_last_hash = hash;
    tls_last_stack = *stack;
    return 0;
}

/* Uncounts a record that left a table (freed, or replaced: its free was
 * missed). Caller holds the lock. */
static void uncount_unlocked(unsigned kind, const lt_live_t *rec)
{
    pl.live_bytes[kind] -= rec->weight;
}

/* Records a sampled allocation. The thread is busy (set by the caller):
 * whatever the unwinder or the Python callback allocate passes through. */
static __attribute__((noinline)) void record(unsigned kind, void *p, uint64_t size, uint64_t weight)
{
    uintptr_t native[LT_NATIVESTACK_MAX];
    uint64_t py[PY_DEPTH];
    pthread_rwlock_rdlock(&pl.unwind_lock);
    int nn = lt_nativestack_capture(native, LT_NATIVESTACK_MAX);
    pthread_rwlock_unlock(&pl.unwind_lock);
    int np = 0;
    lt_preload_py_stack_fn stack_fn = atomic_load_explicit(&pl.py_stack, memory_order_acquire);
    if (stack_fn != NULL) {
        np = stack_fn(py, PY_DEPTH);
        if (np < 0 || np > PY_DEPTH)
            np = 0;
    }
    uint64_t hash = hash_stack(native, nn, py, np);
    lock();
    uint32_t stack;
    lt_live_t old;
    if (stack_of_unlocked(native, nn, py, np, hash, &stack) < 0)
        goto dropped;
    int rc = lt_livetable_insert(&pl.live[kind], p, size, stack, weight, &old);
    if (rc < 0)
        goto dropped;
    if (rc == 1)
        uncount_unlocked(kind, &old);
    if (kind == LT_PRELOAD_KIND_HEAP && lt_sampledset_add(&pl.sampled, p) < 0) {
        /* Without its bit the free would never be seen: keep neither. */
        lt_livetable_remove(&pl.live[kind], p, NULL);
        goto dropped;
    }
    pl.live_bytes[kind] += weight;
    pl.samples++;
    unlock();
    lt_plw_maybe_start();
    return;
dropped:
    pl.dropped++;
    unlock();
}

/* After a successful allocation of `size` bytes at p: the sampler's fast
 * path, and the record when it says so. */
static inline void track_alloc(unsigned kind, void *p, size_t size)
{
    if (tls_busy || !atomic_load_explicit(&pl.active, memory_order_relaxed))
        return;
    uint64_t weight;
    if (!lt_sampler_sample(thread_sampler(), size, &weight))
        return;
    tls_busy = 1;
    record(kind, p, size, weight);
    tls_busy = 0;
}

/* Forgets heap block p if it was sampled, copying its record to *old (if
 * not NULL); returns 1 if it was. Unsampled blocks cost one lock-free
 * bitmap test. Runs before the block goes back to the allocator, so that
 * no other thread can be handed the address while its record is here. */
static __attribute__((noinline)) int forget_sampled(void *p, lt_live_t *old)
{
    if (tls_locked) {
        atomic_fetch_add_explicit(&dropped_unlocked, 1, memory_order_relaxed);
        return 0;
    }
    lt_live_t rec;
    lock();
    int found = lt_livetable_remove(&pl.live[LT_PRELOAD_KIND_HEAP], p, &rec) == 1;
    if (found) {
        lt_sampledset_remove(&pl.sampled, p);
        uncount_unlocked(LT_PRELOAD_KIND_HEAP, &rec);
        if (old != NULL)
            *old = rec;
    }
    unlock();
    return found;
}

static inline int track_free(void *p, lt_live_t *old)
{
    if (!lt_sampledset_maybe(&pl.sampled, p))
        return 0;
    return forget_sampled(p, old);
}

/* Puts back a record that track_free took for a realloc that failed. */
static void track_restore(void *p, const lt_live_t *old)
{
    lock();
    if (lt_livetable_insert(&pl.live[LT_PRELOAD_KIND_HEAP], p, old->size, old->stack, old->weight, NULL) < 0) {
        pl.dropped++;
    } else if (lt_sampledset_add(&pl.sampled, p) < 0) {
        lt_livetable_remove(&pl.live[LT_PRELOAD_KIND_HEAP], p, NULL);
        pl.dropped++;
    } else {
        pl.live_bytes[LT_PRELOAD_KIND_HEAP] += old->weight;
    }
    unlock();
}

/* ---- the heap hooks ------------------------------------------------------ */

LT_EXPORT void *malloc(size_t size)
{
    if (__builtin_expect(!resolve(), 0))
        return boot_alloc(size);
    if (tls_busy)
        return real.malloc(size);
    tls_busy = 1;
    void *p = real.malloc(size);
    tls_busy = 0;
    if (p != NULL)
        track_alloc(LT_PRELOAD_KIND_HEAP, p, size);
    return p;
}

LT_EXPORT void *calloc(size_t nmemb, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total))
        total = SIZE_MAX;
    if (__builtin_expect(!resolve() || real.calloc == NULL, 0))
        return total == SIZE_MAX ? NULL : boot_alloc(total);
    if (tls_busy)
        return real.calloc(nmemb, size);
    tls_busy = 1;
    void *p = real.calloc(nmemb, size);
    tls_busy = 0;
    if (p != NULL)
        track_alloc(LT_PRELOAD_KIND_HEAP, p, total);   /* no overflow: calloc succeeded */
    return p;
}

/* realloc's work, shared with reallocarray. */
static void *do_realloc(void *ptr, size_t size)
{
    if (ptr != NULL && is_boot(ptr)) {
        /* A bootstrap block moves to the real heap; the old one stays. */
        void *q = malloc(size);
        if (q != NULL) {
            size_t old = boot_size(ptr);
            memcpy(q, ptr, old < size ? old : size);
        }
        return q;
    }
    if (__builtin_expect(!resolve(), 0))
        return ptr == NULL ? boot_alloc(size) : NULL;
    if (tls_busy)
        return real.realloc(ptr, size);
    lt_live_t old;
    int had = ptr != NULL && track_free(ptr, &old);
    tls_busy = 1;
    void *q = real.realloc(ptr, size);
    tls_busy = 0;
    if (q == NULL) {
        /* glibc's realloc(p, 0) frees p and returns NULL: nothing to restore. */
        if (had && size != 0)
            track_restore(ptr, &old);
        return NULL;
    }
    track_alloc(LT_PRELOAD_KIND_HEAP, q, size);
    return q;
}

LT_EXPORT void *realloc(void *ptr, size_t size)
{
    return do_realloc(ptr, size);
}

LT_EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return do_realloc(ptr, total);
}

LT_EXPORT void free(void *ptr)
{
    if (ptr == NULL || is_boot(ptr))
        return;
    if (__builtin_expect(!resolve() || real.free == NULL, 0))
        return;                 /* cannot happen: only bootstrap blocks exist then */
    track_free(ptr, NULL);
    real.free(ptr);
}

LT_EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size)
{
    if (__builtin_expect(!resolve() || real.posix_memalign == NULL, 0))
        return ENOMEM;
    if (tls_busy)
        return real.posix_memalign(memptr, alignment, size);
    tls_busy = 1;
    int rc = real.posix_memalign(memptr, alignment, size);
    tls_busy = 0;
    if (rc == 0 && *memptr != NULL)
        track_alloc(LT_PRELOAD_KIND_HEAP, *memptr, size);
    return rc;
}

/* aligned_alloc, memalign and valloc: one shape. */
#define ALIGNED_HOOK(name, params, args, size_expr)                   \
    LT_EXPORT void *name params                                       \
    {                                                                 \
        if (__builtin_expect(!resolve() || real.name == NULL, 0))     \
            return NULL;                                              \
        if (tls_busy)                                                 \
            return real.name args;                                    \
        tls_busy = 1;                                                 \
        void *p = real.name args;                                     \
        tls_busy = 0;                                                 \
        if (p != NULL)                                                \
            track_alloc(LT_PRELOAD_KIND_HEAP, p, size_expr);          \
        return p;                                                     \
    }

ALIGNED_HOOK(aligned_alloc, (size_t alignment, size_t size), (alignment, size), size)
ALIGNED_HOOK(memalign, (size_t alignment, size_t size), (alignment, size), size)
ALIGNED_HOOK(valloc, (size_t size), (size), size)

/* ---- the mmap hooks -------------------------------------------------------
 * Mappings live in their own table, keyed by start address, with their
 * page-rounded length. munmap may cover several mappings, or only the start
 * of one: the range is walked from mapping to adjacent mapping, and a cut
 * start leaves a record for the rest (weight in proportion). A range that
 * starts inside a recorded mapping is not seen (counted as nothing). */

static void track_unmap_unlocked(uintptr_t a, size_t len)
{
    lt_livetable_t *t = &pl.live[LT_PRELOAD_KIND_MMAP];
    uintptr_t end = a + page_round(len);
    while (a < end) {
        lt_live_t rec;
        if (lt_livetable_remove(t, (const void *)a, &rec) != 1)
            return;
        uncount_unlocked(LT_PRELOAD_KIND_MMAP, &rec);
        if (a + rec.size > end) {
            uint64_t rest = a + rec.size - end;
            uint64_t weight = rec.size ? (uint64_t)((double)rec.weight * ((double)rest / (double)rec.size)) : 0;
            if (lt_livetable_insert(t, (const void *)end, rest, rec.stack, weight, NULL) == 0)
                pl.live_bytes[LT_PRELOAD_KIND_MMAP] += weight;
            return;
        }
        a += rec.size;
    }
}

static void *do_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    if (__builtin_expect(!resolve() || real.mmap == NULL, 0))
        return sys_mmap(addr, length, prot, flags, fd, offset);
    if (tls_busy)
        return real.mmap(addr, length, prot, flags, fd, offset);
    tls_busy = 1;
    void *p = real.mmap(addr, length, prot, flags, fd, offset);
    tls_busy = 0;
    if (p == MAP_FAILED)
        return p;
    if ((flags & MAP_FIXED) && atomic_load_explicit(&pl.active, memory_order_relaxed) && !tls_busy && !tls_locked) {
        /* A fixed mapping replaces whatever was there. */
        lock();
        track_unmap_unlocked((uintptr_t)p, length);
        unlock();
    }
    track_alloc(LT_PRELOAD_KIND_MMAP, p, page_round(length));
    return p;
}

LT_EXPORT void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    return do_mmap(addr, length, prot, flags, fd, offset);
}

LT_EXPORT void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off64_t offset)
{
    return do_mmap(addr, length, prot, flags, fd, offset);
}

LT_EXPORT int munmap(void *addr, size_t length)
{
    if (__builtin_expect(!resolve() || real.munmap == NULL, 0))
        return (int)syscall(SYS_munmap, addr, length);
    /* A busy thread unmaps only its own bookkeeping (our callers', the
     * unwinder's), never a mapping of the program; and it may hold a lock
     * that is taken inside the tables' lock (the extension's, in its stack
     * callback), so it must not take the tables' lock here. */
    if (atomic_load_explicit(&pl.active, memory_order_relaxed) && !tls_busy && !tls_locked) {
        /* Before the unmap, so that a new mapping at the address cannot
         * be recorded and then removed here. */
        lock();
        track_unmap_unlocked((uintptr_t)addr, length);
        unlock();
    }
    return real.munmap(addr, length);
}

LT_EXPORT void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
{
    void *new_address = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_address = va_arg(ap, void *);
        va_end(ap);
    }
    if (__builtin_expect(!resolve() || real.mremap == NULL, 0))
        return (void *)syscall(SYS_mremap, old_address, old_size, new_size, flags, new_address);
    int tracking = atomic_load_explicit(&pl.active, memory_order_relaxed) && !tls_locked && !tls_busy;
    lt_live_t rec = {0, 0, 0};
    int had = 0;
    lt_livetable_t *t = &pl.live[LT_PRELOAD_KIND_MMAP];
    if (tracking) {
        lock();
        had = lt_livetable_remove(t, old_address, &rec) == 1;
        if (had)
            uncount_unlocked(LT_PRELOAD_KIND_MMAP, &rec);
        unlock();
    }
    tls_busy++;
    void *p = real.mremap(old_address, old_size, new_size, flags, new_address);
    tls_busy--;
    if (!had)
        return p;
    /* The mapping keeps its stack: resized (the sample stands, re-weighted
     * for its new size), or back as it was when mremap failed. */
    void *at = p == MAP_FAILED ? old_address : p;
    uint64_t size = p == MAP_FAILED ? rec.size : page_round(new_size);
    uint64_t weight = p == MAP_FAILED ? rec.weight : (pl.mean ? lt_sampler_weight(pl.mean, size) : size);
    lock();
    if (lt_livetable_insert(t, at, size, rec.stack, weight, NULL) == 0)
        pl.live_bytes[LT_PRELOAD_KIND_MMAP] += weight;
    else
        pl.dropped++;
    unlock();
    return p;
}

/* ---- fork ------------------------------------------------------------------
 * The child inherits consistent tables (the lock is held across the fork)
 * and goes on recording; no thread is inside the unwinder at that moment.
 * The capture writer does its own part (writer.h). */

static void atfork_prepare(void)
{
    tls_busy++;
    pthread_rwlock_wrlock(&pl.unwind_lock);
    lt_plw_atfork_prepare();
    lt_symbolize_atfork_prepare();
    pthread_mutex_lock(&pl.lock);
    tls_locked = 1;
}

static void atfork_parent(void)
{
    tls_locked = 0;
    pthread_mutex_unlock(&pl.lock);
    lt_symbolize_atfork_parent();
    lt_plw_atfork_parent();
    pthread_rwlock_unlock(&pl.unwind_lock);
    tls_busy--;
}

/* The child made fresh locks rather than unlocking the copies: a lock
 * that other threads were queued on at the fork keeps their marks (glibc's
 * rwlock counts a waiting reader), and those threads do not exist here. */
static void atfork_child(void)
{
    pthread_mutex_init(&pl.lock, NULL);
    tls_locked = 0;
    lt_symbolize_atfork_child();
    lt_plw_atfork_child();
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&pl.unwind_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    tls_busy--;
}

/* ---- set-up and the end ---------------------------------------------------- */

/* LEAKTRACE_NATIVE_MEAN: mean bytes between samples; 0 = trace every
 * allocation. Unset or unreadable: the default. */
static uint64_t env_mean(void)
{
    const char *s = getenv("LEAKTRACE_NATIVE_MEAN");
    if (s == NULL || *s == '\0')
        return LT_SAMPLER_DEFAULT_MEAN;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || *s == '-' || v > LT_SAMPLER_MAX_MEAN)
        return LT_SAMPLER_DEFAULT_MEAN;
    return (uint64_t)v;
}

__attribute__((constructor)) static void setup(void)
{
    if (!resolve() || real.malloc == NULL || real.free == NULL)
        return;                 /* no libc below us: pass everything through */
    tls_busy++;
    pl.mean = env_mean();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pl.seed = (uint64_t)ts.tv_nsec * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid();
    lt_intern_init(&pl.frames, &lt_pl_alloc);
    lt_intern_init(&pl.stacks, &lt_pl_alloc);
    lt_ptrmap_init(&pl.stack_by_hash, &lt_pl_alloc);
    lt_ptrmap_init(&pl.pyframe_by_key, &lt_pl_alloc);
    for (unsigned k = 0; k < LT_PRELOAD_KINDS; k++)
        lt_livetable_init(&pl.live[k], &lt_pl_alloc);
    lt_sampledset_init(&pl.sampled, &lt_pl_alloc);
    lt_nativestack_init();
    int ok = pthread_atfork(atfork_prepare, atfork_parent, atfork_child) == 0;
    lt_plw_configure(getenv("LEAKTRACE_CAPTURE"), pl.mean);
    tls_busy--;
    if (ok)
        atomic_store_explicit(&pl.active, 1, memory_order_release);
}

/* The end of the process: the capture gets its last checkpoint and its
 * trailer. The tables stay: later destructors still allocate and free. */
__attribute__((destructor)) static void teardown(void)
{
    tls_busy++;
    lt_plw_finish();
    tls_busy--;
}

/* ---- for the other units ----------------------------------------------------- */

int lt_pl_set_python(lt_preload_py_stack_fn stack, lt_preload_py_describe_fn describe)
{
    if (stack == NULL || describe == NULL)
        return LT_EINVAL;
    lt_preload_py_stack_fn cur = atomic_load_explicit(&pl.py_stack, memory_order_acquire);
    if (cur != NULL)
        return cur == stack && atomic_load_explicit(&pl.py_describe, memory_order_relaxed) == describe ? 0
                                                                                                     : LT_EINVAL;
    atomic_store_explicit(&pl.py_describe, describe, memory_order_release);
    atomic_store_explicit(&pl.py_stack, stack, memory_order_release);
    return 0;
}

size_t lt_pl_footprint(void)
{
    size_t n = lt_intern_footprint(&pl.frames) + lt_intern_footprint(&pl.stacks) +
               lt_sampledset_footprint(&pl.sampled) + (pl.stack_by_hash.cap + pl.pyframe_by_key.cap) *
                                                          sizeof(lt_ptrmap_entry_t);
    for (unsigned k = 0; k < LT_PRELOAD_KINDS; k++)
        n += lt_livetable_footprint(&pl.live[k]);
    return n;
}

void lt_pl_stats(lt_preload_stats_t *out)
{
    lock();
    out->sample_mean = pl.mean;
    out->samples = pl.samples;
    out->dropped = pl.dropped + atomic_load_explicit(&dropped_unlocked, memory_order_relaxed);
    for (unsigned k = 0; k < LT_PRELOAD_KINDS; k++) {
        out->live_samples[k] = pl.live[k].len;
        out->live_bytes[k] = pl.live_bytes[k];
    }
    out->stacks = pl.stacks.len;
    out->footprint = lt_pl_footprint();
    unlock();
    out->python_joined = atomic_load_explicit(&pl.py_stack, memory_order_acquire) != NULL;
}

int lt_pl_rows_take(lt_pl_rows_t *r, int include_freed)
{
    lock();
    size_t need = 0;
    for (unsigned k = 0; k < LT_PRELOAD_KINDS; k++)
        need += pl.live[k].stats.len;
    if (need > r->cap) {
        size_t cap = need + need / 2 + 64;
        lt_pl_row_t *rows = lt_alloc(&lt_pl_alloc, cap * sizeof(*rows));
        if (rows == NULL) {
            unlock();
            return LT_ENOMEM;
        }
        lt_free(&lt_pl_alloc, r->rows, r->cap * sizeof(*rows));
        r->rows = rows;
        r->cap = cap;
    }
    r->n = 0;
    for (unsigned k = 0; k < LT_PRELOAD_KINDS; k++) {
        const lt_sitestats_t *s = &pl.live[k].stats;
        for (size_t i = 1; i < s->len; i++) {
            const lt_sitestat_t *row = &s->rows[i];
            if (row->live_count == 0 && !(include_freed && row->total_count))
                continue;
            r->rows[r->n++] = (lt_pl_row_t){k, (uint32_t)i, row->live_bytes, row->live_count, row->total_bytes,
                                            row->total_count};
        }
        r->live_bytes[k] = pl.live_bytes[k];
    }
    r->nstacks = pl.stacks.len;
    unlock();
    return 0;
}

void lt_pl_rows_release(lt_pl_rows_t *r)
{
    lt_free(&lt_pl_alloc, r->rows, r->cap * sizeof(*r->rows));
    r->rows = NULL;
    r->n = r->cap = 0;
}

const uint32_t *lt_pl_stack_frames(uint32_t stack, size_t *n)
{
    size_t len;
    const uint32_t *ids = lt_intern_get(&pl.stacks, stack, &len);
    *n = ids != NULL ? len / sizeof(uint32_t) : 0;
    return ids;
}

const lt_preload_frame_t *lt_pl_frame(uint32_t id)
{
    size_t len;
    const lt_preload_frame_t *f = lt_intern_get(&pl.frames, id, &len);
    return f != NULL && len == sizeof(*f) ? f : NULL;
}
