/* Micro-benchmark of the allocation-tracking structures of src/core: ns per
 * operation of the sampler's fast path, the sampled-set filter every free
 * consults, live-table insert and remove, and interning a stack.
 *
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -Isrc/core bench/micro_tracking.c \
 *       src/core/{sampler,intern,sitestats,livetable,sampledset,alloc}.c -o /tmp/micro_tracking
 *   /tmp/micro_tracking
 *
 * Single-threaded, no lock taken (the hooks add an uncontended lock around
 * the table operations). Addresses are heap-like: 16-aligned, random within
 * 1 GiB. Not run by the tests. */
#include "intern.h"
#include "livetable.h"
#include "sampledset.h"
#include "sampler.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define HEAP UINT64_C(0x7f0000000000)

static uint64_t rng = 88172645463325252u;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);  /* robust to a busy machine */
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t heap_addr(void)
{
    return HEAP + ((next_rand() & ((1u << 30) - 1)) & ~UINT64_C(15));
}

static volatile uint64_t sink;

#define NSIZES 4096
static size_t sizes[NSIZES];

static void bench_sampler(void)
{
    for (size_t i = 0; i < NSIZES; i++)
        sizes[i] = 16 + next_rand() % 497;      /* small Python objects */
    const long n = 200000000;
    struct { const char *name; uint64_t mean; } modes[] = {
        {"sampler_sample, mean 512 KiB (fast path)", LT_SAMPLER_DEFAULT_MEAN},
        {"sampler_sample, trace mode (mean 0)", 0},
        {"sampler_sample, every call sampled (mean 1)", 1},
    };
    for (size_t m = 0; m < 3; m++) {
        lt_sampler_t s;
        lt_sampler_init(&s, modes[m].mean, 1);
        long calls = m == 2 ? n / 20 : n;
        uint64_t hits = 0, wsum = 0;
        double t0 = now_ns();
        for (long i = 0; i < calls; i++) {
            uint64_t w;
            if (lt_sampler_sample(&s, sizes[i & (NSIZES - 1)], &w)) {
                hits++;
                wsum += w;
            }
        }
        double t1 = now_ns();
        sink += hits + wsum;
        printf("%-48s %6.2f ns/op  (%lu sampled of %ld)\n", modes[m].name, (t1 - t0) / (double)calls,
               (unsigned long)hits, calls);
    }
}

#define NQ (1u << 20)
static uint64_t queries[NQ];

static double time_maybe(const lt_sampledset_t *s, long reps)
{
    uint64_t found = 0;
    double t0 = now_ns();
    for (long r = 0; r < reps; r++)
        for (size_t i = 0; i < NQ; i++)
            found += (uint64_t)lt_sampledset_maybe(s, (const void *)(uintptr_t)queries[i]);
    double t1 = now_ns();
    sink += found;
    return (t1 - t0) / ((double)reps * NQ);
}

static lt_sampledset_t set;

static void bench_sampledset(void)
{
    /* Sampling mode: 2000 samples live in a 1 GiB heap; frees at random
     * addresses of it, nearly all of them not sampled. */
    lt_sampledset_init(&set, &lt_page_alloc);
    for (int i = 0; i < 2000; i++)
        lt_sampledset_add(&set, (const void *)(uintptr_t)heap_addr());
    for (size_t i = 0; i < NQ; i++)
        queries[i] = heap_addr();
    printf("%-48s %6.2f ns/op  (footprint %zu KiB)\n", "sampledset_maybe, 2000 samples in 1 GiB",
           time_maybe(&set, 50), lt_sampledset_footprint(&set) >> 10);
    lt_sampledset_clear(&set);

    /* Trace mode: every 32 bytes of 256 MiB a member, queries of members
     * (each free finds its bit) in random order. */
    for (uint64_t off = 0; off < (256u << 20); off += 32)
        lt_sampledset_add(&set, (const void *)(uintptr_t)(HEAP + off));
    for (size_t i = 0; i < NQ; i++)
        queries[i] = HEAP + ((next_rand() % (256u << 20)) & ~UINT64_C(31));
    printf("%-48s %6.2f ns/op  (footprint %zu KiB)\n", "sampledset_maybe, 8 M members in 256 MiB",
           time_maybe(&set, 50), lt_sampledset_footprint(&set) >> 10);

    /* The writer's side: remove then add back, in random order. */
    double t0 = now_ns();
    for (size_t i = 0; i < NQ; i++) {
        lt_sampledset_remove(&set, (const void *)(uintptr_t)queries[i]);
        lt_sampledset_add(&set, (const void *)(uintptr_t)queries[i]);
    }
    double t1 = now_ns();
    printf("%-48s %6.2f ns/op\n", "sampledset_remove + sampledset_add", (t1 - t0) / NQ);
    lt_sampledset_clear(&set);
}

/* Churn at a steady live count: remove a batch of random live records,
 * insert as many new ones; times each half. */
static void bench_livetable(size_t live, const char *label)
{
    lt_livetable_t t;
    lt_livetable_init(&t, &lt_page_alloc);
    uint64_t *addrs = lt_alloc(&lt_page_alloc, live * sizeof(uint64_t));
    for (size_t i = 0; i < live; i++) {
        do
            addrs[i] = heap_addr();
        while (lt_livetable_insert(&t, (const void *)(uintptr_t)addrs[i], 64, (uint32_t)(i % 5000), 64, NULL) != 0);
    }
    const size_t batch = live < 100000 ? live / 2 : 100000;
    const int rounds = (int)(4000000 / batch);
    double t_rm = 0, t_ins = 0;
    size_t *idx = lt_alloc(&lt_page_alloc, batch * sizeof(size_t));
    for (int r = 0; r < rounds; r++) {
        for (size_t k = 0; k < batch; k++)
            idx[k] = (size_t)(next_rand() % live);
        double t0 = now_ns();
        size_t removed = 0;
        for (size_t k = 0; k < batch; k++)
            removed += (size_t)lt_livetable_remove(&t, (const void *)(uintptr_t)addrs[idx[k]], NULL);
        double t1 = now_ns();
        /* New addresses for the slots removed (some indexes repeat). */
        for (size_t k = 0; k < batch; k++)
            addrs[idx[k]] = heap_addr();
        double t2 = now_ns();
        for (size_t k = 0; k < batch; k++)
            lt_livetable_insert(&t, (const void *)(uintptr_t)addrs[idx[k]], 64, (uint32_t)(k % 5000), 64, NULL);
        double t3 = now_ns();
        t_rm += t1 - t0;
        t_ins += t3 - t2;
        sink += removed;
    }
    double ops = (double)rounds * (double)batch;
    printf("livetable_insert, %-30s %6.2f ns/op\n", label, t_ins / ops);
    printf("livetable_remove, %-30s %6.2f ns/op  (table %zu slots, %zu live)\n", label, t_rm / ops, t.cap, t.len);
    lt_free(&lt_page_alloc, idx, batch * sizeof(size_t));
    lt_free(&lt_page_alloc, addrs, live * sizeof(uint64_t));
    lt_livetable_clear(&t);
}

static void bench_intern(void)
{
    lt_intern_t t;
    lt_intern_init(&t, &lt_page_alloc);
    const uint32_t nstacks = 100000;
    uint32_t frames[16];
    for (uint32_t i = 0; i < nstacks; i++) {
        for (int d = 0; d < 16; d++)
            frames[d] = i * 2654435761u + (uint32_t)d;
        uint32_t id;
        lt_intern_get_or_add(&t, frames, sizeof(frames), &id, NULL);
    }
    const long n = 10000000;
    double t0 = now_ns();
    uint64_t sum = 0;
    for (long k = 0; k < n; k++) {
        uint32_t i = (uint32_t)(next_rand() % nstacks), id;
        for (int d = 0; d < 16; d++)
            frames[d] = i * 2654435761u + (uint32_t)d;
        lt_intern_get_or_add(&t, frames, sizeof(frames), &id, NULL);
        sum += id;
    }
    double t1 = now_ns();
    sink += sum;
    printf("%-48s %6.2f ns/op  (incl. building the key)\n", "intern_get_or_add, 16-frame stack, 100 k known",
           (t1 - t0) / (double)n);
    lt_intern_clear(&t);
}

int main(void)
{
    bench_sampler();
    bench_sampledset();
    bench_livetable(10000, "10 k live (sampling)");
    bench_livetable(1000000, "1 M live (trace)");
    bench_intern();
    return 0;
}
