/* Tests of lt_ptrset: membership, duplicates, NULL, growth over many resizes,
 * reserve, and every allocation failure (set unchanged, no leak). */
#include "alloc.h"
#include "errors.h"
#include "lt_test.h"
#include "ptrset.h"

#include <stdint.h>

/* Fake but realistic addresses: 16-byte aligned, spread over a range like a
 * heap's. They are only hashed and compared, never dereferenced. */
static const void *addr(size_t i)
{
    return (const void *)(uintptr_t)(0x7f0000000000ULL + (uint64_t)i * 48);
}

/* An address never used by addr(): odd, so no collision with members. */
static const void *absent(size_t i)
{
    return (const void *)(uintptr_t)(0x7f0000000000ULL + (uint64_t)i * 48 + 8);
}

static void test_empty(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_ptrset_t s;
    lt_ptrset_init(&s, &f.base);
    LT_EQ_INT(f.calls, 0);                      /* nothing allocated before the first add */
    LT_EQ_UINT(s.len, 0);
    LT_EQ_UINT(lt_ptrset_footprint(&s), 0);
    LT_EQ_INT(lt_ptrset_has(&s, addr(1)), 0);
    LT_EQ_INT(lt_ptrset_has(&s, NULL), 0);
    lt_ptrset_clear(&s);                        /* clearing an empty set is fine */
    LT_EQ_INT(f.live, 0);
}

static void test_add_has_dup_null(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_ptrset_t s;
    lt_ptrset_init(&s, &f.base);

    LT_EQ_INT(lt_ptrset_add(&s, NULL), LT_EINVAL);
    LT_EQ_UINT(s.len, 0);
    LT_EQ_INT(lt_ptrset_add(&s, addr(1)), 1);
    LT_EQ_INT(lt_ptrset_add(&s, addr(1)), 0);   /* duplicate */
    LT_EQ_INT(lt_ptrset_add(&s, addr(2)), 1);
    LT_EQ_UINT(s.len, 2);
    LT_EQ_INT(lt_ptrset_has(&s, addr(1)), 1);
    LT_EQ_INT(lt_ptrset_has(&s, addr(2)), 1);
    LT_EQ_INT(lt_ptrset_has(&s, addr(3)), 0);
    LT_EQ_INT(lt_ptrset_has(&s, NULL), 0);
    LT_EQ_INT(lt_ptrset_add(&s, NULL), LT_EINVAL);
    LT_EQ_UINT(s.len, 2);

    /* The hash drops the low 3 bits, so these eight share a bucket; they are
     * still eight different members. Unaligned pointers are legal keys. */
    for (uintptr_t lo = 0; lo < 8; lo++)
        LT_EQ_INT(lt_ptrset_add(&s, (const void *)(0x1000 + lo)), 1);
    for (uintptr_t lo = 0; lo < 8; lo++)
        LT_EQ_INT(lt_ptrset_has(&s, (const void *)(0x1000 + lo)), 1);
    LT_EQ_INT(lt_ptrset_has(&s, (const void *)0x1008), 0);
    LT_EQ_UINT(s.len, 10);

    /* Extreme addresses. */
    LT_EQ_INT(lt_ptrset_add(&s, (const void *)UINTPTR_MAX), 1);
    LT_EQ_INT(lt_ptrset_add(&s, (const void *)1), 1);
    LT_EQ_INT(lt_ptrset_has(&s, (const void *)UINTPTR_MAX), 1);
    LT_EQ_INT(lt_ptrset_has(&s, (const void *)1), 1);

    lt_ptrset_clear(&s);
    LT_EQ_INT(f.live, 0);
    LT_EQ_UINT(s.len, 0);
    LT_EQ_INT(lt_ptrset_has(&s, addr(1)), 0);
    /* Reusable after clear. */
    LT_EQ_INT(lt_ptrset_add(&s, addr(1)), 1);
    LT_EQ_INT(lt_ptrset_has(&s, addr(1)), 1);
    lt_ptrset_clear(&s);
    LT_EQ_INT(f.live, 0);
}

static void test_million(void)
{
    enum { N = 1000000 };
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_ptrset_t s;
    lt_ptrset_init(&s, &f.base);

    long bad = 0;
    for (size_t i = 0; i < N; i++)
        bad += lt_ptrset_add(&s, addr(i)) != 1;
    LT_EQ_INT(bad, 0);
    LT_EQ_UINT(s.len, N);
    LT_GE_INT(f.calls, 10);                     /* 1024 -> 2M slots: many resizes */
    LT_EQ_INT(f.live, 1);                       /* every old table was freed */
    /* Load factor at most 1/2, and the footprint is the table. */
    LT_GE_UINT(s.cap, 2 * s.len);
    LT_EQ_UINT(lt_ptrset_footprint(&s), s.cap * sizeof(void *));
    LT_EQ_UINT(s.cap & (s.cap - 1), 0);

    /* Re-adding every member changes nothing. */
    bad = 0;
    for (size_t i = 0; i < N; i++)
        bad += lt_ptrset_add(&s, addr(i)) != 0;
    LT_EQ_INT(bad, 0);
    LT_EQ_UINT(s.len, N);

    long missing = 0, extra = 0;
    for (size_t i = 0; i < N; i++) {
        missing += !lt_ptrset_has(&s, addr(i));
        extra += lt_ptrset_has(&s, absent(i));
    }
    LT_EQ_INT(missing, 0);
    LT_EQ_INT(extra, 0);

    lt_ptrset_clear(&s);
    LT_EQ_INT(f.live, 0);
}

static void test_reserve(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_ptrset_t s;
    lt_ptrset_init(&s, &f.base);

    enum { N = 50000 };
    LT_EQ_INT(lt_ptrset_reserve(&s, N), 0);
    LT_GE_UINT(s.cap, 2 * (size_t)N);
    size_t cap = s.cap;
    /* From here any allocation fails: N adds must not need one. */
    f.fail_at = f.calls;
    f.persistent = 1;
    long bad = 0;
    for (size_t i = 0; i < N; i++)
        bad += lt_ptrset_add(&s, addr(i)) != 1;
    LT_EQ_INT(bad, 0);
    LT_EQ_UINT(s.cap, cap);
    /* Reserving what is already there allocates nothing. */
    LT_EQ_INT(lt_ptrset_reserve(&s, 0), 0);
    LT_EQ_INT(lt_ptrset_reserve(&s, N), 0);
    /* The table holds cap/2 members (power-of-two rounding left room). */
    size_t room = cap / 2;
    for (size_t i = N; i < room; i++)
        bad += lt_ptrset_add(&s, addr(i)) != 1;
    LT_EQ_INT(bad, 0);
    LT_EQ_UINT(s.len, room);
    LT_EQ_UINT(s.cap, cap);
    /* One more member needs a larger table, which fails. */
    LT_EQ_INT(lt_ptrset_add(&s, addr(room)), LT_ENOMEM);
    LT_EQ_UINT(s.len, room);
    LT_EQ_INT(lt_ptrset_has(&s, addr(room)), 0);
    /* ... but a duplicate does not need room, so it still answers 0. */
    LT_EQ_INT(lt_ptrset_add(&s, addr(7)), 0);
    LT_EQ_INT(lt_ptrset_add(&s, NULL), LT_EINVAL);

    /* Impossible sizes fail without touching the set. */
    f.fail_at = -1;
    void **slots = s.slots;
    LT_EQ_INT(lt_ptrset_reserve(&s, SIZE_MAX), LT_ENOMEM);
    LT_EQ_INT(lt_ptrset_reserve(&s, SIZE_MAX / 2), LT_ENOMEM);
    LT_EQ_INT(lt_ptrset_reserve(&s, SIZE_MAX / sizeof(void *)), LT_ENOMEM);
    LT_EQ_PTR(s.slots, slots);
    LT_EQ_UINT(s.cap, cap);
    LT_EQ_UINT(s.len, room);
    /* And it goes on growing once memory is back. */
    LT_EQ_INT(lt_ptrset_add(&s, addr(room)), 1);
    LT_GT_UINT(s.cap, cap);
    long missing = 0;
    for (size_t i = 0; i <= room; i++)
        missing += !lt_ptrset_has(&s, addr(i));
    LT_EQ_INT(missing, 0);

    lt_ptrset_clear(&s);
    LT_EQ_INT(f.live, 0);

    /* Reserve on an empty set, then clear without adding: no leak. */
    LT_EQ_INT(lt_ptrset_reserve(&s, 10), 0);
    lt_ptrset_clear(&s);
    LT_EQ_INT(f.live, 0);
}

/* The operation sequence for fault injection: reserve, then adds and
 * duplicate adds across several resizes. After every failure the set must be
 * unchanged and complete; the failed operation is retried (a one-shot
 * failure is then expected to succeed). Returns the number of failures. */
static int ptrset_sequence(lt_ptrset_t *s, const lt_failing_alloc_t *f)
{
    enum { N = 9000 };
    int failures = 0;
    size_t next = 0;                            /* members are addr(0 .. next-1) */
    for (int step = 0; step < 2 * N + 2; step++) {
        lt_ptrset_t before = *s;
        int rc;
        const void *p = NULL;
        if (step == 0) {
            rc = lt_ptrset_reserve(s, 100);
        } else if (step == N) {
            rc = lt_ptrset_reserve(s, 3 * N);
        } else if (step % 2 == 1 && next > 0) {
            p = addr((size_t)step % next);      /* duplicate */
            rc = lt_ptrset_add(s, p);
            LT_CHECK(rc == 0 || rc == LT_ENOMEM);
            if (rc == 0)
                continue;
        } else {
            p = addr(next);
            rc = lt_ptrset_add(s, p);
            if (rc == 1) {
                next++;
                continue;
            }
        }
        if (rc >= 0)
            continue;
        failures++;
        LT_EQ_INT(rc, LT_ENOMEM);
        LT_EQ_PTR(s->slots, before.slots);
        LT_EQ_UINT(s->cap, before.cap);
        LT_EQ_UINT(s->len, before.len);
        LT_EQ_UINT(s->shift, before.shift);
        if (p != NULL && p == addr(next))
            LT_EQ_INT(lt_ptrset_has(s, p), 0);
        if (failures <= 3) {                    /* a full check is O(n): not after every one */
            long missing = 0;
            for (size_t i = 0; i < next; i++)
                missing += !lt_ptrset_has(s, addr(i));
            LT_EQ_INT(missing, 0);
        }
        if (!f->persistent && p != NULL && p == addr(next)) {
            /* Usable: the retry gets memory. */
            if (LT_EQ_INT(lt_ptrset_add(s, p), 1))
                next++;
        }
    }
    LT_EQ_UINT(s->len, next);
    long missing = 0;
    for (size_t i = 0; i < next; i++)
        missing += !lt_ptrset_has(s, addr(i));
    LT_EQ_INT(missing, 0);
    return failures;
}

static void test_faults(void)
{
    long fail_at;
    for (fail_at = 0; fail_at < 1000; fail_at++) {
        int done = 0;
        for (int persistent = 0; persistent <= 1; persistent++) {
            lt_failing_alloc_t f;
            lt_failing_alloc_init(&f, &lt_test_heap, fail_at, persistent);
            lt_ptrset_t s;
            lt_ptrset_init(&s, &f.base);
            int failures = ptrset_sequence(&s, &f);
            if (f.calls > fail_at)
                LT_GT_INT(failures, 0);
            else
                done = 1;                       /* no allocation left to fail */
            lt_ptrset_clear(&s);
            LT_EQ_INT(f.live, 0);
        }
        if (done)
            break;
    }
    LT_GE_INT(fail_at, 5);                      /* the sequence did resize several times */
    LT_LT_INT(fail_at, 1000);
}

int main(void)
{
    LT_RUN(test_empty);
    LT_RUN(test_add_has_dup_null);
    LT_RUN(test_million);
    LT_RUN(test_reserve);
    LT_RUN(test_faults);
    return lt_test_done();
}
