/* Tests of lt_ptrmap: upsert/get semantics, NULL keys, iteration visiting
 * every entry exactly once, growth over many resizes, reserve, and every
 * allocation failure (map unchanged, no leak). */
#include "alloc.h"
#include "errors.h"
#include "lt_test.h"
#include "ptrmap.h"

#include <stdint.h>
#include <string.h>

#define BASE 0x7f0000000000ULL
#define STRIDE 48

/* Fake addresses, only hashed and compared; key_index inverts addr. */
static const void *addr(size_t i)
{
    return (const void *)(uintptr_t)(BASE + (uint64_t)i * STRIDE);
}

static size_t key_index(const void *p)
{
    return (size_t)(((uint64_t)(uintptr_t)p - BASE) / STRIDE);
}

static void test_empty(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_ptrmap_t m;
    lt_ptrmap_init(&m, &f.base);
    LT_EQ_INT(f.calls, 0);
    LT_NULL(lt_ptrmap_get(&m, addr(1)));
    LT_NULL(lt_ptrmap_get(&m, NULL));
    size_t pos = 0;
    LT_NULL(lt_ptrmap_next(&m, &pos));
    LT_NULL(lt_ptrmap_next(&m, &pos));          /* stays at the end */
    lt_ptrmap_clear(&m);
    LT_EQ_INT(f.live, 0);
}

static void test_upsert_get(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_ptrmap_t m;
    lt_ptrmap_init(&m, &f.base);

    int added = -1;
    uint64_t *v = lt_ptrmap_upsert(&m, addr(1), 7, &added);
    if (!LT_NOT_NULL(v))
        goto done;
    LT_EQ_INT(added, 1);
    LT_EQ_UINT(*v, 7);
    *v += 10;
    /* Upsert of a present key returns its slot and ignores `init`. */
    added = -1;
    uint64_t *w = lt_ptrmap_upsert(&m, addr(1), 999, &added);
    LT_EQ_PTR(w, v);
    LT_EQ_INT(added, 0);
    LT_EQ_UINT(*w, 17);
    LT_EQ_PTR(lt_ptrmap_get(&m, addr(1)), v);
    LT_EQ_UINT(m.len, 1);
    /* added may be NULL. */
    LT_NOT_NULL(lt_ptrmap_upsert(&m, addr(2), UINT64_MAX, NULL));
    LT_EQ_UINT(*lt_ptrmap_get(&m, addr(2)), UINT64_MAX);
    LT_EQ_UINT(m.len, 2);
    LT_NULL(lt_ptrmap_get(&m, addr(3)));

    /* NULL keys are refused: NULL, *added = 0, map unchanged. */
    added = -1;
    LT_NULL(lt_ptrmap_upsert(&m, NULL, 5, &added));
    LT_EQ_INT(added, 0);
    LT_NULL(lt_ptrmap_upsert(&m, NULL, 5, NULL));
    LT_NULL(lt_ptrmap_get(&m, NULL));
    LT_EQ_UINT(m.len, 2);

    /* Keys that differ only in the bits the hash drops stay apart. */
    for (uintptr_t lo = 0; lo < 8; lo++)
        LT_NOT_NULL(lt_ptrmap_upsert(&m, (const void *)(0x2000 + lo), lo, NULL));
    for (uintptr_t lo = 0; lo < 8; lo++) {
        uint64_t *x = lt_ptrmap_get(&m, (const void *)(0x2000 + lo));
        if (LT_NOT_NULL(x))
            LT_EQ_UINT(*x, lo);
    }
    LT_EQ_UINT(m.len, 10);
done:
    lt_ptrmap_clear(&m);
    LT_EQ_INT(f.live, 0);
    LT_EQ_UINT(m.len, 0);
    LT_NULL(lt_ptrmap_get(&m, addr(1)));
    /* Reusable after clear. */
    LT_NOT_NULL(lt_ptrmap_upsert(&m, addr(1), 1, NULL));
    lt_ptrmap_clear(&m);
    LT_EQ_INT(f.live, 0);
}

/* Checks that iteration visits exactly the keys addr(0..n-1), each once, with
 * value i * 3 + extra. */
static void check_iteration(const lt_ptrmap_t *m, size_t n, uint64_t extra)
{
    static unsigned char seen[1000001];
    memset(seen, 0, n);
    size_t pos = 0, visits = 0;
    long dup = 0, stray = 0, wrong = 0;
    const lt_ptrmap_entry_t *e;
    while ((e = lt_ptrmap_next(m, &pos)) != NULL) {
        visits++;
        size_t i = key_index(e->key);
        if (i >= n || e->key != addr(i)) {
            stray++;
            continue;
        }
        dup += seen[i]++ != 0;
        wrong += e->value != (uint64_t)i * 3 + extra;
    }
    LT_EQ_UINT(visits, n);
    LT_EQ_INT(dup, 0);
    LT_EQ_INT(stray, 0);
    LT_EQ_INT(wrong, 0);
    LT_EQ_PTR(memchr(seen, 0, n), NULL);        /* nobody missed */
    LT_NULL(lt_ptrmap_next(m, &pos));
}

static void test_million(void)
{
    enum { N = 1000000 };
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_ptrmap_t m;
    lt_ptrmap_init(&m, &f.base);

    long bad = 0;
    for (size_t i = 0; i < N; i++) {
        int added = 0;
        uint64_t *v = lt_ptrmap_upsert(&m, addr(i), (uint64_t)i * 3, &added);
        bad += v == NULL || !added || *v != (uint64_t)i * 3;
    }
    LT_EQ_INT(bad, 0);
    LT_EQ_UINT(m.len, N);
    LT_GE_INT(f.calls, 10);                     /* many resizes */
    LT_EQ_INT(f.live, 1);                       /* old tables were freed */
    LT_GE_UINT(m.cap, 2 * m.len);
    check_iteration(&m, N, 0);

    /* Updating through the slots of present keys adds nothing. */
    for (size_t i = 0; i < N; i++) {
        int added = 1;
        uint64_t *v = lt_ptrmap_upsert(&m, addr(i), 12345, &added);
        bad += v == NULL || added;
        if (v != NULL)
            *v += 1;
    }
    LT_EQ_INT(bad, 0);
    LT_EQ_UINT(m.len, N);
    check_iteration(&m, N, 1);
    for (size_t i = 0; i < N; i++) {
        uint64_t *v = lt_ptrmap_get(&m, addr(i));
        bad += v == NULL || *v != (uint64_t)i * 3 + 1;
        bad += lt_ptrmap_get(&m, (const void *)((uintptr_t)addr(i) + 8)) != NULL;
    }
    LT_EQ_INT(bad, 0);

    lt_ptrmap_clear(&m);
    LT_EQ_INT(f.live, 0);
    size_t pos = 0;
    LT_NULL(lt_ptrmap_next(&m, &pos));
}

static void test_reserve(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_ptrmap_t m;
    lt_ptrmap_init(&m, &f.base);

    LT_EQ_INT(lt_ptrmap_reserve(&m, 5000), 0);
    size_t cap = m.cap;
    size_t room = cap / 2;
    LT_GE_UINT(room, 5000);
    f.fail_at = f.calls;                        /* no more memory from here */
    f.persistent = 1;
    long bad = 0;
    for (size_t i = 0; i < room; i++)
        bad += lt_ptrmap_upsert(&m, addr(i), (uint64_t)i * 3, NULL) == NULL;
    LT_EQ_INT(bad, 0);
    LT_EQ_UINT(m.cap, cap);
    LT_EQ_INT(lt_ptrmap_reserve(&m, room), 0);
    /* A new key needs a larger table: NULL, *added 0, map unchanged. */
    int added = -1;
    LT_NULL(lt_ptrmap_upsert(&m, addr(room), 0, &added));
    LT_EQ_INT(added, 0);
    LT_EQ_UINT(m.len, room);
    LT_NULL(lt_ptrmap_get(&m, addr(room)));
    /* A present key still answers: it needs no room. */
    uint64_t *v = lt_ptrmap_upsert(&m, addr(3), 0, &added);
    if (LT_NOT_NULL(v))
        LT_EQ_UINT(*v, 9);
    check_iteration(&m, room, 0);

    /* Impossible sizes fail, map untouched. */
    f.fail_at = -1;
    lt_ptrmap_entry_t *slots = m.slots;
    LT_EQ_INT(lt_ptrmap_reserve(&m, SIZE_MAX), LT_ENOMEM);
    LT_EQ_INT(lt_ptrmap_reserve(&m, SIZE_MAX / sizeof(lt_ptrmap_entry_t)), LT_ENOMEM);
    LT_EQ_PTR(m.slots, slots);
    LT_EQ_UINT(m.cap, cap);
    LT_NOT_NULL(lt_ptrmap_upsert(&m, addr(room), (uint64_t)room * 3, NULL));
    check_iteration(&m, room + 1, 0);
    lt_ptrmap_clear(&m);
    LT_EQ_INT(f.live, 0);
}

/* Fault-injection sequence: upserts of new and present keys across resizes
 * and a reserve. After each failure the map must be unchanged and complete,
 * and a retry after a one-shot failure must succeed. */
static int ptrmap_sequence(lt_ptrmap_t *m, const lt_failing_alloc_t *f)
{
    enum { N = 3000 };
    int failures = 0;
    size_t next = 0;
    for (int step = 0; step < 2 * N; step++) {
        lt_ptrmap_t before = *m;
        if (step == N / 2) {
            int rc = lt_ptrmap_reserve(m, 4 * N);
            if (rc == 0)
                continue;
            LT_EQ_INT(rc, LT_ENOMEM);
        } else {
            int present = step % 2 == 1 && next > 0;
            size_t i = present ? (size_t)step % next : next;
            int added = -1;
            uint64_t *v = lt_ptrmap_upsert(m, addr(i), (uint64_t)i * 3, &added);
            if (v != NULL) {
                LT_EQ_INT(added, !present);
                LT_EQ_UINT(*v, (uint64_t)i * 3);
                next += !present;
                continue;
            }
            LT_EQ_INT(added, 0);
            LT_EQ_INT(present, 0);              /* present keys never fail */
            LT_NULL(lt_ptrmap_get(m, addr(i)));
        }
        failures++;
        LT_EQ_PTR(m->slots, before.slots);
        LT_EQ_UINT(m->cap, before.cap);
        LT_EQ_UINT(m->len, before.len);
        LT_EQ_UINT(m->shift, before.shift);
        if (failures <= 3)                      /* O(n): not after every failure */
            check_iteration(m, next, 0);
        if (!f->persistent && step != N / 2) {
            if (LT_NOT_NULL(lt_ptrmap_upsert(m, addr(next), (uint64_t)next * 3, NULL)))
                next++;
        }
    }
    LT_EQ_UINT(m->len, next);
    check_iteration(m, next, 0);
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
            lt_ptrmap_t m;
            lt_ptrmap_init(&m, &f.base);
            int failures = ptrmap_sequence(&m, &f);
            if (f.calls > fail_at)
                LT_GT_INT(failures, 0);
            else
                done = 1;
            lt_ptrmap_clear(&m);
            LT_EQ_INT(f.live, 0);
        }
        if (done)
            break;
    }
    LT_GE_INT(fail_at, 5);
    LT_LT_INT(fail_at, 1000);
}

int main(void)
{
    LT_RUN(test_empty);
    LT_RUN(test_upsert_get);
    LT_RUN(test_million);
    LT_RUN(test_reserve);
    LT_RUN(test_faults);
    return lt_test_done();
}
