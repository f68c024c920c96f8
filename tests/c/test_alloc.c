/* Tests of alloc.[ch]: the page allocator, the fault-injecting wrapper, the
 * arena (alignment, zeroing, big requests, accounting, every failure path). */
#include "alloc.h"
#include "errors.h"
#include "lt_test.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static void test_page_alloc(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t sizes[] = {1, 16, page - 1, page, page + 1, 3 * page + 5, 1 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = lt_alloc(&lt_page_alloc, sizes[i]);
        if (!LT_NOT_NULL(p))
            continue;
        LT_EQ_UINT((uintptr_t)p % page, 0);
        LT_CHECK(all_zero(p, sizes[i]));
        memset(p, 0xAB, sizes[i]);             /* the whole request is writable */
        LT_EQ_UINT(p[sizes[i] - 1], 0xAB);
        lt_free(&lt_page_alloc, p, sizes[i]);
    }
    /* Sizes that cannot be rounded to pages fail cleanly. */
    LT_NULL(lt_alloc(&lt_page_alloc, SIZE_MAX));
    LT_NULL(lt_alloc(&lt_page_alloc, SIZE_MAX - page + 2));
    /* lt_free ignores NULL, like free(). */
    lt_free(&lt_page_alloc, NULL, 123);
}

static void test_failing_alloc(void)
{
    lt_failing_alloc_t f;
    void *p[6];

    /* fail_at < 0: never fails, but still counts. */
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    for (int i = 0; i < 6; i++)
        LT_NOT_NULL(p[i] = lt_alloc(&f.base, 64));
    LT_EQ_INT(f.calls, 6);
    LT_EQ_INT(f.live, 6);
    for (int i = 0; i < 6; i++)
        lt_free(&f.base, p[i], 64);
    LT_EQ_INT(f.live, 0);

    /* One-shot: only allocation #2 fails. */
    lt_failing_alloc_init(&f, &lt_page_alloc, 2, 0);
    for (int i = 0; i < 6; i++) {
        p[i] = lt_alloc(&f.base, 64);
        if (i == 2)
            LT_NULL(p[i]);
        else
            LT_NOT_NULL(p[i]);
    }
    LT_EQ_INT(f.calls, 6);
    LT_EQ_INT(f.live, 5);                       /* a failed allocation is not live */
    for (int i = 0; i < 6; i++)
        lt_free(&f.base, p[i], 64);             /* NULL is ignored */
    LT_EQ_INT(f.live, 0);

    /* Persistent: #2 and every later one fail. */
    lt_failing_alloc_init(&f, &lt_page_alloc, 2, 1);
    for (int i = 0; i < 6; i++) {
        p[i] = lt_alloc(&f.base, 64);
        if (i >= 2)
            LT_NULL(p[i]);
        else
            LT_NOT_NULL(p[i]);
    }
    LT_EQ_INT(f.live, 2);
    for (int i = 0; i < 6; i++)
        lt_free(&f.base, p[i], 64);
    LT_EQ_INT(f.live, 0);

    /* fail_at 0 fails the very first allocation. */
    lt_failing_alloc_init(&f, &lt_page_alloc, 0, 0);
    LT_NULL(lt_alloc(&f.base, 1));
    p[0] = lt_alloc(&f.base, 1);
    LT_NOT_NULL(p[0]);
    lt_free(&f.base, p[0], 1);
    LT_EQ_INT(f.live, 0);

    /* An inner failure is passed on and not counted as live. */
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    LT_NULL(lt_alloc(&f.base, SIZE_MAX));
    LT_EQ_INT(f.calls, 1);
    LT_EQ_INT(f.live, 0);
}

/* On the page allocator (what production uses) and on lt_test_heap (exact
 * blocks that ASan and valgrind can check). */
static void arena_basic(const lt_alloc_t *inner)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, inner, -1, 0);
    lt_arena_t a;
    lt_arena_init(&a, &f.base);
    LT_EQ_UINT(a.total, 0);
    LT_EQ_INT(f.calls, 0);                      /* init allocates nothing */

    /* Many small allocations of every size 0..300: aligned, zeroed, disjoint. */
    enum { N = 3000 };
    static unsigned char *ptrs[N];
    static size_t sizes[N];
    size_t expect_total = 0;
    for (size_t i = 0; i < N; i++) {
        sizes[i] = i % 301;
        ptrs[i] = lt_arena_alloc(&a, sizes[i]);
        if (!LT_NOT_NULL(ptrs[i]))
            goto done;
        LT_EQ_UINT((uintptr_t)ptrs[i] % 16, 0);
        LT_CHECK(all_zero(ptrs[i], sizes[i]));
        memset(ptrs[i], (int)(i & 0xFF), sizes[i]);
        expect_total += (sizes[i] + 15) & ~(size_t)15;
    }
    LT_EQ_UINT(a.total, expect_total);
    LT_GT_INT(f.calls, 1);                      /* the run needed several chunks */
    /* Nothing was overwritten by a later allocation. */
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            if (!LT_EQ_UINT(ptrs[i][j], i & 0xFF))
                goto done;

    /* Big requests (over a chunk) get memory of their own. */
    unsigned char *big = lt_arena_alloc(&a, 200 * 1024);
    if (!LT_NOT_NULL(big))
        goto done;
    LT_EQ_UINT((uintptr_t)big % 16, 0);
    LT_CHECK(all_zero(big, 200 * 1024));
    memset(big, 0x5A, 200 * 1024);
    /* A small allocation right after a big one goes on using the current
     * chunk instead of starting a new one. */
    long calls = f.calls;
    unsigned char *small = lt_arena_alloc(&a, 32);
    LT_NOT_NULL(small);
    LT_EQ_INT(f.calls, calls);
    LT_CHECK(small + 32 <= big || small >= big + 200 * 1024);

    /* Oversized requests fail and leave the arena as it was. */
    lt_arena_t before = a;
    LT_NULL(lt_arena_alloc(&a, SIZE_MAX));
    LT_NULL(lt_arena_alloc(&a, SIZE_MAX / 2 + 1));
    LT_NULL(lt_arena_strndup(&a, "x", SIZE_MAX));
    LT_EQ_PTR(a.head, before.head);
    LT_EQ_UINT(a.used, before.used);
    LT_EQ_UINT(a.total, before.total);

done:
    lt_arena_release(&a);
    LT_EQ_INT(f.live, 0);
    LT_EQ_UINT(a.total, 0);
    LT_NULL(a.head);
}

static void test_arena_basic(void)
{
    arena_basic(&lt_page_alloc);
    arena_basic(&lt_test_heap);
}

static void test_arena_size_zero(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_arena_t a;
    lt_arena_init(&a, &f.base);
    /* Size 0 gives a valid (aligned) pointer; it may equal the next one. */
    void *p = lt_arena_alloc(&a, 0);
    LT_NOT_NULL(p);
    LT_EQ_UINT((uintptr_t)p % 16, 0);
    LT_EQ_UINT(a.total, 0);
    lt_arena_release(&a);
    LT_EQ_INT(f.live, 0);
}

static void test_arena_strndup(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_arena_t a;
    lt_arena_init(&a, &f.base);

    char *s = lt_arena_strndup(&a, "hello, world", 5);
    LT_EQ_STR(s, "hello");
    char *e = lt_arena_strndup(&a, "", 0);
    LT_EQ_STR(e, "");
    /* Bytes past `len` are never read; embedded bytes are copied as they are. */
    const char raw[4] = {'a', '\0', 'b', 'c'};
    char *r = lt_arena_strndup(&a, raw, 4);
    if (LT_NOT_NULL(r)) {
        LT_EQ_MEM(r, 4, raw, 4);
        LT_EQ_INT(r[4], '\0');
    }
    /* A long string spans a whole dedicated chunk. */
    static char longs[100 * 1024];
    memset(longs, 'q', sizeof(longs));
    char *l = lt_arena_strndup(&a, longs, sizeof(longs));
    if (LT_NOT_NULL(l)) {
        LT_EQ_MEM(l, sizeof(longs), longs, sizeof(longs));
        LT_EQ_INT(l[sizeof(longs)], '\0');
    }
    LT_EQ_STR(s, "hello");                      /* earlier strings survive */
    lt_arena_release(&a);
    LT_EQ_INT(f.live, 0);

    /* The arena is reusable after release. */
    s = lt_arena_strndup(&a, "again", 5);
    LT_EQ_STR(s, "again");
    lt_arena_release(&a);
    LT_EQ_INT(f.live, 0);
}

/* One fixed sequence of arena operations. Returns how many failed (NULL);
 * after each failure it checks that the arena is unchanged and still works. */
static int arena_sequence(lt_arena_t *a)
{
    static const size_t sizes[] = {8, 100, 64 * 1024, 3, 70 * 1024, 1, 500, 40000, 30000, 16, 128 * 1024, 7};
    static char text[70 * 1024];
    memset(text, 'x', sizeof(text));
    int failures = 0;
    /* Each round needs a new chunk and three dedicated ones. */
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            lt_arena_t before = *a;
            unsigned char *p;
            if (i % 3 == 0) {
                p = (unsigned char *)lt_arena_strndup(a, text, sizes[i] < sizeof(text) ? sizes[i] : sizeof(text));
            } else {
                p = lt_arena_alloc(a, sizes[i]);
            }
            if (p == NULL) {
                failures++;
                LT_EQ_PTR(a->head, before.head);
                LT_EQ_UINT(a->used, before.used);
                LT_EQ_UINT(a->total, before.total);
                continue;
            }
            LT_EQ_UINT((uintptr_t)p % 16, 0);
            memset(p, 0xEE, sizes[i]);          /* the whole block is ours */
        }
    }
    return failures;
}

static void test_arena_faults(void)
{
    long fail_at = 0;
    for (;; fail_at++) {
        for (int persistent = 0; persistent <= 1; persistent++) {
            lt_failing_alloc_t f;
            lt_failing_alloc_init(&f, &lt_test_heap, fail_at, persistent);
            lt_arena_t a;
            lt_arena_init(&a, &f.base);
            int failures = arena_sequence(&a);
            if (f.calls > fail_at)
                LT_GT_INT(failures, 0);         /* the injected failure surfaced */
            /* Usable after a failure: a one-shot failure is followed by success. */
            if (!persistent) {
                void *p = lt_arena_alloc(&a, 24);
                LT_NOT_NULL(p);
            }
            lt_arena_release(&a);
            LT_EQ_INT(f.live, 0);
            if (persistent && f.calls <= fail_at)
                goto out;                       /* every allocation index was failed once */
        }
        if (!LT_LT_INT(fail_at, 10000))
            break;
    }
out:
    LT_GT_INT(fail_at, 10);
}

int main(void)
{
    LT_RUN(test_page_alloc);
    LT_RUN(test_failing_alloc);
    LT_RUN(test_arena_basic);
    LT_RUN(test_arena_size_zero);
    LT_RUN(test_arena_strndup);
    LT_RUN(test_arena_faults);
    return lt_test_done();
}
