/* Tests of lt_sampledset: membership exact for aligned addresses (neighbours
 * 8 bytes away are distinct), refusal of bad addresses, the range above 2^48
 * answering "maybe", many addresses over the whole user address space
 * against a reference, memory proportional to the touched range, every
 * allocation failure (add refused, set unchanged, no leak), and threads
 * adding and removing under a lock while others query without one: no
 * false negative for an address known to be present. */
#include "alloc.h"
#include "errors.h"
#include "lt_test.h"
#include "sampledset.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define BASE UINT64_C(0x7f3a12340000)

static const void *at(uint64_t a)
{
    return (const void *)(uintptr_t)a;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A random 8-aligned address in the 47-bit user range, not NULL. */
static uint64_t rand_addr(uint64_t *s)
{
    return ((xorshift(s) & ((UINT64_C(1) << 47) - 1)) | 4096) & ~UINT64_C(7);
}

/* The i-th of 2^28 distinct 16-aligned addresses spread over a 4 GiB heap
 * at BASE (a multiplication by an odd number permutes 0 .. 2^28 - 1). */
static uint64_t heap_addr(uint64_t i)
{
    return BASE + 16 * ((i * UINT64_C(2654435761)) & ((UINT64_C(1) << 28) - 1));
}

static void test_basic(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    static lt_sampledset_t s;
    lt_sampledset_init(&s, &f.base);
    LT_EQ_INT(f.calls, 0);
    LT_EQ_INT(lt_sampledset_maybe(&s, at(BASE)), 0);
    LT_EQ_INT(lt_sampledset_maybe(&s, NULL), 0);
    LT_EQ_INT(lt_sampledset_remove(&s, at(BASE)), 0);

    LT_EQ_INT(lt_sampledset_add(&s, at(BASE)), 1);
    LT_EQ_INT(lt_sampledset_add(&s, at(BASE)), 0);
    LT_EQ_INT(lt_sampledset_maybe(&s, at(BASE)), 1);
    /* 8 bytes apart are different members (8-byte-aligned allocators). */
    LT_EQ_INT(lt_sampledset_maybe(&s, at(BASE + 8)), 0);
    LT_EQ_INT(lt_sampledset_add(&s, at(BASE + 8)), 1);
    LT_EQ_INT(lt_sampledset_remove(&s, at(BASE)), 1);
    LT_EQ_INT(lt_sampledset_maybe(&s, at(BASE)), 0);
    LT_EQ_INT(lt_sampledset_maybe(&s, at(BASE + 8)), 1);
    LT_EQ_INT(lt_sampledset_remove(&s, at(BASE)), 0);
    /* Word, leaf and node edges. */
    const uint64_t edges[] = {BASE + 504, BASE + 512, (BASE | 0x7ff8), (BASE | 0x7fff) + 1,
                              UINT64_C(0x3ffffff8), UINT64_C(0x4000000), UINT64_C(0x1fffffffff8),
                              UINT64_C(0x2000000000), UINT64_C(0xfffffffffff8), 8};
    const size_t nedges = sizeof(edges) / sizeof(edges[0]);
    for (size_t i = 0; i < nedges; i++) {
        LT_EQ_INT(lt_sampledset_maybe(&s, at(edges[i])), 0);
        LT_EQ_INT(lt_sampledset_add(&s, at(edges[i])), 1);
        LT_EQ_INT(lt_sampledset_maybe(&s, at(edges[i])), 1);
    }
    /* Each edge's neighbours are members only if they are edges too. */
    for (size_t i = 0; i < nedges; i++)
        for (int d = -1; d <= 1; d += 2) {
            uint64_t n = edges[i] + (uint64_t)(int64_t)(8 * d);
            int want = n == BASE + 8 || n >> 48;     /* above the range: "maybe" */
            for (size_t k = 0; k < nedges; k++)
                want |= edges[k] == n;
            LT_EQ_INT(lt_sampledset_maybe(&s, at(n)), want);
        }
    LT_EQ_UINT(s.len, 1 + nedges);
    for (size_t i = 0; i < nedges; i++)
        LT_EQ_INT(lt_sampledset_remove(&s, at(edges[i])), 1);
    LT_EQ_UINT(s.len, 1);

    /* Bad addresses are refused; misaligned queries may say anything
     * (here: the bit of their granule). */
    LT_EQ_INT(lt_sampledset_add(&s, NULL), LT_EINVAL);
    LT_EQ_INT(lt_sampledset_add(&s, at(BASE + 4)), LT_EINVAL);
    LT_EQ_INT(lt_sampledset_remove(&s, at(BASE + 12)), 0);
    LT_EQ_INT(lt_sampledset_maybe(&s, at(BASE + 12)), 1);
    /* Above the tracked range: nothing stored, always "maybe". */
    if (sizeof(uintptr_t) == 8) {
        uint64_t high = UINT64_C(1) << 50;
        LT_EQ_INT(lt_sampledset_maybe(&s, at(high)), 1);
        LT_EQ_INT(lt_sampledset_add(&s, at(high)), 0);
        LT_EQ_INT(lt_sampledset_remove(&s, at(high)), 0);
        LT_EQ_INT(lt_sampledset_maybe(&s, at(UINT64_C(0xfffffffffffffff8))), 1);
    }
    LT_EQ_UINT(s.len, 1);
    LT_GT_UINT(lt_sampledset_footprint(&s), sizeof(s));
    lt_sampledset_clear(&s);
    LT_EQ_INT(f.live, 0);
    LT_EQ_UINT(s.len, 0);
    LT_EQ_INT(lt_sampledset_maybe(&s, at(BASE + 8)), 0);
    LT_EQ_INT(lt_sampledset_add(&s, at(BASE + 8)), 1);
    lt_sampledset_clear(&s);
    LT_EQ_INT(f.live, 0);
}

/* 200 k addresses, a tenth at random over the whole 47-bit range and the
 * rest in a 4 GiB heap, all 16-aligned; then the 8-aligned addresses right
 * after each: exact answers both ways (aligned addresses are never false
 * positives), and after removing every other one, again. */
#define NRAND 200000
static uint64_t rand_addrs[NRAND];

static void test_random_exact(void)
{
    static lt_sampledset_t s;
    lt_sampledset_init(&s, &lt_page_alloc);
    uint64_t seed = 12345;
    for (size_t i = 0; i < NRAND; i++) {
        rand_addrs[i] = i % 10 == 0 ? rand_addr(&seed) & ~UINT64_C(15) : heap_addr(i);
        if (!LT_EQ_INT(lt_sampledset_add(&s, at(rand_addrs[i])), 1))
            goto done;
    }
    LT_EQ_UINT(s.len, NRAND);
    size_t miss = 0, stray = 0;
    for (size_t i = 0; i < NRAND; i++) {
        miss += !lt_sampledset_maybe(&s, at(rand_addrs[i]));
        stray += (size_t)lt_sampledset_maybe(&s, at(rand_addrs[i] + 8));
    }
    LT_EQ_UINT(miss, 0);
    LT_EQ_UINT(stray, 0);
    for (size_t i = 0; i < NRAND; i += 2)
        LT_EQ_INT(lt_sampledset_remove(&s, at(rand_addrs[i])), 1);
    LT_EQ_UINT(s.len, NRAND / 2);
    miss = 0;
    size_t left = 0;
    for (size_t i = 0; i < NRAND; i++) {
        int m = lt_sampledset_maybe(&s, at(rand_addrs[i]));
        if (i % 2)
            miss += !m;
        else
            left += (size_t)m;
    }
    LT_EQ_UINT(miss, 0);
    LT_EQ_UINT(left, 0);
done:
    lt_sampledset_clear(&s);
}

/* The page filter: a page's bucket counts its members, so a page emptied
 * again answers "no" from the filter alone; 255 members in one bucket make
 * it stick at "maybe", which stays correct (the tree answers). */
static uint8_t bucket_of(const lt_sampledset_t *s, uint64_t a)
{
    return atomic_load(&s->filter[lt__sampledset_bucket((uintptr_t)a)]);
}

static void test_filter(void)
{
    static lt_sampledset_t s;
    lt_sampledset_init(&s, &lt_page_alloc);
    uint64_t page = BASE + 7 * 4096;
    LT_EQ_INT(bucket_of(&s, page), 0);
    for (uint64_t off = 0; off < 10 * 16; off += 16)
        LT_EQ_INT(lt_sampledset_add(&s, at(page + off)), 1);
    LT_EQ_INT(bucket_of(&s, page), 10);
    LT_EQ_INT(bucket_of(&s, page + 4095), 10);
    LT_EQ_INT(bucket_of(&s, page + 4096), 0);
    /* An add of a member, a remove of a non-member: no change. */
    LT_EQ_INT(lt_sampledset_add(&s, at(page)), 0);
    LT_EQ_INT(lt_sampledset_remove(&s, at(page + 8)), 0);
    LT_EQ_INT(bucket_of(&s, page), 10);
    for (uint64_t off = 0; off < 10 * 16; off += 16)
        LT_EQ_INT(lt_sampledset_remove(&s, at(page + off)), 1);
    LT_EQ_INT(bucket_of(&s, page), 0);
    /* Pages 64 MiB apart (the filter's span) do not share a bucket. */
    LT_NE_INT(lt__sampledset_bucket((uintptr_t)page), lt__sampledset_bucket((uintptr_t)(page + (UINT64_C(1) << 26))));

    /* Saturation: 300 members in one page; the bucket sticks at 255 and
     * membership stays exact through the tree. */
    for (uint64_t i = 0; i < 300; i++)
        LT_EQ_INT(lt_sampledset_add(&s, at(page + 8 * i)), 1);
    LT_EQ_INT(bucket_of(&s, page), 255);
    for (uint64_t i = 0; i < 300; i += 2)
        LT_EQ_INT(lt_sampledset_remove(&s, at(page + 8 * i)), 1);
    LT_EQ_INT(bucket_of(&s, page), 255);
    for (uint64_t i = 0; i < 300; i++)
        LT_EQ_INT(lt_sampledset_maybe(&s, at(page + 8 * i)), (int)(i & 1));
    lt_sampledset_clear(&s);
    LT_EQ_INT(bucket_of(&s, page), 0);
    LT_EQ_INT(lt_sampledset_maybe(&s, at(page + 8)), 0);
}

/* A dense megabyte (every 16 bytes a member, as in trace mode) costs its
 * 32 leaves and a path of nodes: about 1/64 of the range plus 48 KiB. */
static void test_footprint(void)
{
    static lt_sampledset_t s;
    lt_sampledset_init(&s, &lt_page_alloc);
    for (uint64_t off = 0; off < (1u << 20); off += 16)
        lt_sampledset_add(&s, at(BASE + off));
    LT_EQ_UINT(s.len, (1u << 20) / 16);
    size_t nodes = s.nodes.total;
    LT_GE_UINT(nodes, 32 * 512);
    LT_LE_UINT(nodes, 32 * 512 + 2 * 16384 + 512);
    lt_sampledset_clear(&s);
}

/* Each allocation fails in turn: the add that needs it returns LT_ENOMEM
 * and p is not a member; earlier members stay; nothing leaks. */
static void test_faults(void)
{
    for (long fail_at = 0;; fail_at++) {
        lt_failing_alloc_t f;
        lt_failing_alloc_init(&f, &lt_page_alloc, fail_at, 0);
        static lt_sampledset_t s;
        lt_sampledset_init(&s, &f.base);
        uint64_t seed = 99;
        size_t failures = 0, members = 0;
        for (size_t i = 0; i < 100; i++) {
            uint64_t a = rand_addr(&seed);
            int rc = lt_sampledset_add(&s, at(a));
            if (rc < 0) {
                LT_EQ_INT(rc, LT_ENOMEM);
                LT_EQ_INT(lt_sampledset_maybe(&s, at(a)), 0);
                failures++;
            } else {
                members += (size_t)rc;
                LT_EQ_INT(lt_sampledset_maybe(&s, at(a)), 1);
            }
        }
        LT_EQ_UINT(s.len, members);
        LT_EQ_UINT(failures, fail_at < f.calls ? 1 : 0);
        long calls = f.calls;
        lt_sampledset_clear(&s);
        LT_EQ_INT(f.live, 0);
        if (fail_at >= calls) {
            LT_GT_INT(fail_at, 10);
            break;
        }
    }
}

/* Threads. Slot i has an address and a version: odd while the address is
 * a member. A writer adds under the lock, then publishes the odd version
 * (release); to remove, it first publishes the even version, then (after a
 * release fence) removes. A reader that sees the same odd version before
 * and after its query (with an acquire fence between query and re-read)
 * knows the address was a member throughout, so maybe() must say 1. Pairs
 * of slots are 8 bytes apart and owned by different writers, so writers
 * change the words readers read; addresses are spread so that nodes are
 * made while readers walk. */
#define TSLOTS 4096
#define WRITERS 2
#define READERS 3
#define ROUNDS 300

static lt_sampledset_t tset;
static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t taddr[TSLOTS];
static _Atomic unsigned tver[TSLOTS];
static atomic_int writers_running;

struct reader_result {
    long checked;               /* queries of addresses present throughout */
    long false_negatives;
};

static void *writer(void *arg)
{
    unsigned w = (unsigned)(uintptr_t)arg;
    uint64_t seed = 1000 + w;
    for (int round = 0; round < ROUNDS; round++)
        for (unsigned i = w; i < TSLOTS; i += WRITERS) {
            if (xorshift(&seed) % 2)
                continue;
            unsigned v = atomic_load_explicit(&tver[i], memory_order_relaxed);
            if (v % 2 == 0) {
                pthread_mutex_lock(&tlock);
                int rc = lt_sampledset_add(&tset, at(taddr[i]));
                pthread_mutex_unlock(&tlock);
                if (rc == 1)
                    atomic_store_explicit(&tver[i], v + 1, memory_order_release);
            } else {
                atomic_store_explicit(&tver[i], v + 1, memory_order_relaxed);
                atomic_thread_fence(memory_order_release);
                pthread_mutex_lock(&tlock);
                lt_sampledset_remove(&tset, at(taddr[i]));
                pthread_mutex_unlock(&tlock);
            }
        }
    atomic_fetch_sub(&writers_running, 1);
    return NULL;
}

static void *reader(void *arg)
{
    struct reader_result *r = arg;
    uint64_t seed = (uint64_t)(uintptr_t)arg | 1;
    while (atomic_load(&writers_running) > 0) {
        for (int k = 0; k < 1000; k++) {
            unsigned i = (unsigned)(xorshift(&seed) % TSLOTS);
            unsigned v1 = atomic_load_explicit(&tver[i], memory_order_acquire);
            int m = lt_sampledset_maybe(&tset, at(taddr[i]));
            atomic_thread_fence(memory_order_acquire);
            unsigned v2 = atomic_load_explicit(&tver[i], memory_order_relaxed);
            if (v1 % 2 == 1 && v1 == v2) {
                r->checked++;
                if (!m)
                    r->false_negatives++;
            }
        }
    }
    return NULL;
}

static void test_threads(void)
{
    lt_sampledset_init(&tset, &lt_page_alloc);
    uint64_t seed = 4242;
    for (unsigned i = 0; i < TSLOTS; i += 2) {
        /* Mostly far apart (new nodes), some in the same few leaves. */
        uint64_t a = i % 8 == 0 ? BASE + 16 * (uint64_t)i : rand_addr(&seed);
        taddr[i] = a;
        taddr[i + 1] = a + 8;
        atomic_init(&tver[i], 0);
        atomic_init(&tver[i + 1], 0);
    }
    atomic_init(&writers_running, WRITERS);
    pthread_t wt[WRITERS], rt[READERS];
    struct reader_result res[READERS] = {{0, 0}};
    int started_w = 0, started_r = 0;
    for (int j = 0; j < READERS; j++)
        if (LT_EQ_INT(pthread_create(&rt[j], NULL, reader, &res[j]), 0))
            started_r++;
    for (int j = 0; j < WRITERS; j++)
        if (LT_EQ_INT(pthread_create(&wt[j], NULL, writer, (void *)(uintptr_t)j), 0))
            started_w++;
        else
            atomic_fetch_sub(&writers_running, 1);
    for (int j = 0; j < started_w; j++)
        pthread_join(wt[j], NULL);
    for (int j = 0; j < started_r; j++)
        pthread_join(rt[j], NULL);
    long checked = 0, fneg = 0;
    for (int j = 0; j < started_r; j++) {
        checked += res[j].checked;
        fneg += res[j].false_negatives;
    }
    LT_EQ_INT(fneg, 0);
    LT_GT_INT(checked, 1000);
    /* Quiescent: exactly the odd-version slots are members. */
    size_t wrong = 0, present = 0;
    for (unsigned i = 0; i < TSLOTS; i++) {
        int odd = atomic_load(&tver[i]) % 2;
        present += (size_t)odd;
        wrong += lt_sampledset_maybe(&tset, at(taddr[i])) != odd;
    }
    LT_EQ_UINT(wrong, 0);
    LT_EQ_UINT(tset.len, present);
    lt_sampledset_clear(&tset);
}

int main(void)
{
    LT_RUN(test_basic);
    LT_RUN(test_random_exact);
    LT_RUN(test_footprint);
    LT_RUN(test_filter);
    LT_RUN(test_faults);
    LT_RUN(test_threads);
    return lt_test_done();
}
