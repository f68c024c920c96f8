/* Tests of lt_vec: LIFO order, growth over many resizes, NULL items, clear
 * and reuse, and every allocation failure (vector unchanged, no leak). */
#include "alloc.h"
#include "errors.h"
#include "lt_test.h"
#include "vec.h"

#include <stdint.h>

static void *item(size_t i)
{
    return (void *)(uintptr_t)(0x10000 + i * 16);
}

static void test_empty(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_vec_t v;
    lt_vec_init(&v, &f.base);
    LT_EQ_INT(f.calls, 0);
    LT_EQ_UINT(v.len, 0);
    LT_NULL(v.items);
    lt_vec_clear(&v);
    LT_EQ_INT(f.live, 0);
}

static void test_push_pop(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_vec_t v;
    lt_vec_init(&v, &f.base);

    LT_EQ_INT(lt_vec_push(&v, item(1)), 0);
    LT_EQ_INT(lt_vec_push(&v, NULL), 0);        /* NULL is an ordinary item */
    LT_EQ_INT(lt_vec_push(&v, item(1)), 0);     /* so are duplicates */
    LT_EQ_UINT(v.len, 3);
    LT_EQ_PTR(lt_vec_pop(&v), item(1));
    LT_EQ_PTR(lt_vec_pop(&v), NULL);
    LT_EQ_PTR(lt_vec_pop(&v), item(1));
    LT_EQ_UINT(v.len, 0);
    /* Popping to empty keeps the storage; pushing again reuses it. */
    void **items = v.items;
    LT_EQ_INT(lt_vec_push(&v, item(2)), 0);
    LT_EQ_PTR(v.items, items);
    LT_EQ_INT(f.calls, 1);
    lt_vec_clear(&v);
    LT_EQ_INT(f.live, 0);
    LT_EQ_UINT(v.len, 0);
    LT_EQ_UINT(v.cap, 0);
    LT_EQ_INT(lt_vec_push(&v, item(3)), 0);     /* reusable after clear */
    LT_EQ_PTR(lt_vec_pop(&v), item(3));
    lt_vec_clear(&v);
    LT_EQ_INT(f.live, 0);
}

static void test_million(void)
{
    enum { N = 1000000 };
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_vec_t v;
    lt_vec_init(&v, &f.base);
    long bad = 0;
    for (size_t i = 0; i < N; i++)
        bad += lt_vec_push(&v, item(i)) != 0;
    LT_EQ_INT(bad, 0);
    LT_EQ_UINT(v.len, N);
    LT_GE_UINT(v.cap, v.len);
    LT_GE_INT(f.calls, 10);                     /* 512 -> 1M: many resizes */
    LT_EQ_INT(f.live, 1);                       /* each old array was freed */
    /* Every item survived the copies, in order. */
    for (size_t i = 0; i < N; i++)
        bad += v.items[i] != item(i);
    LT_EQ_INT(bad, 0);
    for (size_t i = N; i-- > 0;)
        bad += lt_vec_pop(&v) != item(i);
    LT_EQ_INT(bad, 0);
    LT_EQ_UINT(v.len, 0);
    lt_vec_clear(&v);
    LT_EQ_INT(f.live, 0);
}

/* Pushes 5000 items with a few pops between; after each failure the vector
 * must be unchanged and intact, and a retry after a one-shot failure works. */
static int vec_sequence(lt_vec_t *v, const lt_failing_alloc_t *f)
{
    int failures = 0;
    size_t next = 0;                            /* items are item(0 .. next-1) */
    for (int step = 0; step < 6000; step++) {
        if (step % 7 == 6 && next > 0) {
            LT_EQ_PTR(lt_vec_pop(v), item(next - 1));
            next--;
            continue;
        }
        lt_vec_t before = *v;
        int rc = lt_vec_push(v, item(next));
        if (rc == 0) {
            next++;
            continue;
        }
        failures++;
        LT_EQ_INT(rc, LT_ENOMEM);
        LT_EQ_PTR(v->items, before.items);
        LT_EQ_UINT(v->len, before.len);
        LT_EQ_UINT(v->cap, before.cap);
        long bad = 0;
        for (size_t i = 0; i < next; i++)
            bad += v->items[i] != item(i);
        LT_EQ_INT(bad, 0);
        if (!f->persistent && LT_EQ_INT(lt_vec_push(v, item(next)), 0))
            next++;
    }
    LT_EQ_UINT(v->len, next);
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
            lt_vec_t v;
            lt_vec_init(&v, &f.base);
            int failures = vec_sequence(&v, &f);
            if (f.calls > fail_at)
                LT_GT_INT(failures, 0);
            else
                done = 1;
            lt_vec_clear(&v);
            LT_EQ_INT(f.live, 0);
        }
        if (done)
            break;
    }
    LT_GE_INT(fail_at, 4);
    LT_LT_INT(fail_at, 1000);
}

int main(void)
{
    LT_RUN(test_empty);
    LT_RUN(test_push_pop);
    LT_RUN(test_million);
    LT_RUN(test_faults);
    return lt_test_done();
}
