/* Tests of lt_livetable: insert/get/remove, a stale record replaced, the
 * per-stack rows following every change, realloc chains, millions of random
 * inserts and removes checked against a reference model (small tables that
 * wrap around and big ones), memory bounded under churn and given back after
 * a peak, iteration, and every allocation failure (table and rows unchanged,
 * removal never failing, no leak). */
#include "alloc.h"
#include "errors.h"
#include "livetable.h"
#include "lt_test.h"

#include <stdint.h>
#include <string.h>

#define BASE UINT64_C(0x7f3a00000000)

static uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const void *at(uint64_t a)
{
    return (const void *)(uintptr_t)a;
}

static int row_is(const lt_livetable_t *t, uint32_t stack, uint64_t lb, uint64_t lc, uint64_t tb, uint64_t tc)
{
    lt_sitestat_t r = lt_sitestats_get(&t->stats, stack);
    int ok = LT_EQ_UINT(r.live_bytes, lb);
    ok &= LT_EQ_UINT(r.live_count, lc);
    ok &= LT_EQ_UINT(r.total_bytes, tb);
    ok &= LT_EQ_UINT(r.total_count, tc);
    return ok;
}

static void test_basic(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_livetable_t t;
    lt_livetable_init(&t, &f.base);
    LT_EQ_INT(f.calls, 0);
    lt_live_t r = {1, 2, 3};
    LT_EQ_INT(lt_livetable_get(&t, at(BASE), &r), 0);
    LT_EQ_INT(lt_livetable_remove(&t, at(BASE), &r), 0);
    LT_EQ_INT(lt_livetable_insert(&t, NULL, 1, 1, 1, NULL), LT_EINVAL);

    LT_EQ_INT(lt_livetable_insert(&t, at(BASE), 100, 5, 1000, NULL), 0);
    LT_EQ_INT(lt_livetable_insert(&t, at(BASE + 16), 24, 5, 500, NULL), 0);
    LT_EQ_INT(lt_livetable_insert(&t, at(BASE + 4096), 8, 0, 8, NULL), 0);
    LT_EQ_UINT(t.len, 3);
    LT_EQ_INT(lt_livetable_get(&t, at(BASE + 16), &r), 1);
    LT_EQ_UINT(r.size, 24);
    LT_EQ_UINT(r.weight, 500);
    LT_EQ_UINT(r.stack, 5);
    LT_EQ_INT(lt_livetable_get(&t, at(BASE + 32), NULL), 0);
    row_is(&t, 5, 1500, 2, 1500, 2);
    row_is(&t, 0, 8, 1, 8, 1);

    /* A stale record at a reused address is replaced and uncounted. */
    lt_live_t old = {0, 0, 0};
    LT_EQ_INT(lt_livetable_insert(&t, at(BASE), 64, 6, 640, &old), 1);
    LT_EQ_UINT(old.size, 100);
    LT_EQ_UINT(old.weight, 1000);
    LT_EQ_UINT(old.stack, 5);
    LT_EQ_UINT(t.len, 3);
    row_is(&t, 5, 500, 1, 1500, 2);
    row_is(&t, 6, 640, 1, 640, 1);

    LT_EQ_INT(lt_livetable_remove(&t, at(BASE + 16), &r), 1);
    LT_EQ_UINT(r.size, 24);
    LT_EQ_UINT(r.weight, 500);
    LT_EQ_INT(lt_livetable_remove(&t, at(BASE + 16), &r), 0);
    LT_EQ_INT(lt_livetable_remove(&t, NULL, &r), 0);
    LT_EQ_UINT(t.len, 2);
    row_is(&t, 5, 0, 0, 1500, 2);

    size_t pos = 0, seen = 0;
    const void *a;
    while (lt_livetable_next(&t, &pos, &a, &r)) {
        seen++;
        LT_CHECK(a == at(BASE) || a == at(BASE + 4096));
    }
    LT_EQ_UINT(seen, 2);
    LT_GT_UINT(lt_livetable_footprint(&t), 0);
    lt_livetable_clear(&t);
    LT_EQ_INT(f.live, 0);
    LT_EQ_UINT(t.len, 0);
    row_is(&t, 5, 0, 0, 0, 0);
    LT_EQ_INT(lt_livetable_insert(&t, at(BASE), 1, 1, 1, NULL), 0);
    lt_livetable_clear(&t);
    LT_EQ_INT(f.live, 0);
}

/* realloc: remove the old address, insert the new one with the same stack
 * and the new size. Along a chain one allocation stays live. */
static void test_realloc_chain(void)
{
    lt_livetable_t t;
    lt_livetable_init(&t, &lt_page_alloc);
    uint64_t addr = BASE, size = 16, total = 0;
    LT_EQ_INT(lt_livetable_insert(&t, at(addr), size, 9, size, NULL), 0);
    total += size;
    for (int i = 0; i < 1000; i++) {
        lt_live_t old;
        if (!LT_EQ_INT(lt_livetable_remove(&t, at(addr), &old), 1))
            break;
        LT_EQ_UINT(old.size, size);
        /* Sometimes in place (same address), mostly moved. */
        if (i % 5 != 0)
            addr += 32 + 16 * (next_rand() % 1000);
        size += 16;
        LT_EQ_INT(lt_livetable_insert(&t, at(addr), size, old.stack, size, NULL), 0);
        total += size;
        LT_EQ_UINT(t.len, 1);
    }
    row_is(&t, 9, size, 1, total, 1001);
    lt_livetable_clear(&t);
}

/* The reference model: slot i of the pool is address pool_addr[i], live
 * when model[i].size != 0 (sizes are never 0 here). */
struct model {
    uint64_t size, weight;
    uint32_t stack;
};

#define NSTACKS 97

static int check_rows(const lt_livetable_t *t, const struct model *m, size_t n)
{
    uint64_t bytes[NSTACKS] = {0}, count[NSTACKS] = {0};
    for (size_t i = 0; i < n; i++)
        if (m[i].size != 0) {
            bytes[m[i].stack] += m[i].weight;
            count[m[i].stack]++;
        }
    size_t bad = 0;
    for (uint32_t s = 0; s < NSTACKS; s++) {
        lt_sitestat_t r = lt_sitestats_get(&t->stats, s);
        bad += r.live_bytes != bytes[s] || r.live_count != count[s];
    }
    return LT_EQ_UINT(bad, 0);
}

/* Random inserts and removes over a pool of addresses, each result checked
 * against the model; periodically the whole table (every model entry found
 * or absent, the iteration, the rows) is compared. The pool is spread at
 * random 16-byte strides, as a heap's blocks are. */
static void churn(size_t pool, size_t ops, size_t check_every)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_livetable_t t;
    lt_livetable_init(&t, &f.base);
    uint64_t *addrs = lt_alloc(&lt_page_alloc, pool * sizeof(uint64_t));
    struct model *m = lt_alloc(&lt_page_alloc, pool * sizeof(struct model));
    if (!LT_NOT_NULL(addrs) || !LT_NOT_NULL(m))
        goto done;
    uint64_t a = BASE;
    for (size_t i = 0; i < pool; i++) {
        a += 16 * (1 + next_rand() % 8);
        addrs[i] = a;
    }
    size_t live = 0, peak = 0, max_cap = 0, bad = 0;
    for (size_t op = 1; op <= ops; op++) {
        size_t i = (size_t)(next_rand() % pool);
        lt_live_t r;
        if (m[i].size != 0) {
            if (lt_livetable_remove(&t, at(addrs[i]), &r) != 1 || r.size != m[i].size ||
                r.weight != m[i].weight || r.stack != m[i].stack)
                bad++;
            m[i].size = 0;
            live--;
        } else {
            m[i].size = 1 + next_rand() % 4096;
            m[i].weight = m[i].size + next_rand() % 100000;
            m[i].stack = (uint32_t)(next_rand() % NSTACKS);
            if (lt_livetable_insert(&t, at(addrs[i]), m[i].size, m[i].stack, m[i].weight, NULL) != 0)
                bad++;
            live++;
        }
        if (live > peak)
            peak = live;
        if (t.cap > max_cap)
            max_cap = t.cap;
        if (t.len != live)
            bad++;
        if (op % check_every == 0 || op == ops) {
            size_t wrong = 0, seen = 0, pos = 0;
            for (size_t k = 0; k < pool; k++) {
                int has = lt_livetable_get(&t, at(addrs[k]), &r);
                if (has != (m[k].size != 0) || (has && (r.size != m[k].size || r.stack != m[k].stack)))
                    wrong++;
            }
            const void *p;
            while (lt_livetable_next(&t, &pos, &p, &r))
                seen++;
            if (!LT_EQ_UINT(wrong, 0) || !LT_EQ_UINT(seen, live) || !check_rows(&t, m, pool))
                goto done;
        }
    }
    LT_EQ_UINT(bad, 0);
    /* Bounded: never more slots than the peak needs (a doubling above 3/4
     * of it), however many operations ran; no tombstones pile up. */
    size_t bound = 64;
    while (bound / 4 * 3 < peak)
        bound *= 2;
    LT_LE_UINT(max_cap, bound);
    /* Emptying the table gives the memory back. */
    for (size_t k = 0; k < pool; k++)
        if (m[k].size != 0) {
            lt_livetable_remove(&t, at(addrs[k]), NULL);
            m[k].size = 0;
        }
    LT_EQ_UINT(t.len, 0);
    LT_LE_UINT(t.cap, 64);
    check_rows(&t, m, pool);
done:
    lt_livetable_clear(&t);
    LT_EQ_INT(f.live, 0);
    lt_free(&lt_page_alloc, addrs, pool * sizeof(uint64_t));
    lt_free(&lt_page_alloc, m, pool * sizeof(struct model));
}

/* A pool of 40 in a 64-slot table: clusters wrap around the end constantly. */
static void test_churn_small(void)
{
    churn(40, 2000000, 997);
}

/* 300 k addresses, about half live at a time, 4 M operations. */
static void test_churn_big(void)
{
    churn(300000, 4000000, 1000000);
}

/* Grow to a million, then churn at a lower level: the table shrinks. */
static void test_shrink(void)
{
    lt_livetable_t t;
    lt_livetable_init(&t, &lt_page_alloc);
    const uint64_t n = 1000000;
    for (uint64_t i = 0; i < n; i++)
        if (!LT_EQ_INT(lt_livetable_insert(&t, at(BASE + 16 * i), 16, (uint32_t)(i % 10), 16, NULL), 0))
            goto done;
    size_t peak_cap = t.cap;
    LT_EQ_UINT(peak_cap, 2u << 20);
    for (uint64_t i = 0; i < n - 1000; i++)
        if (!LT_EQ_INT(lt_livetable_remove(&t, at(BASE + 16 * i), NULL), 1))
            goto done;
    LT_LE_UINT(t.cap, 8192);
    size_t found = 0;
    for (uint64_t i = n - 1000; i < n; i++)
        found += (size_t)lt_livetable_get(&t, at(BASE + 16 * i), NULL);
    LT_EQ_UINT(found, 1000);
    uint64_t live = 0;
    for (uint32_t s = 0; s < 10; s++)
        live += lt_sitestats_get(&t.stats, s).live_count;
    LT_EQ_UINT(live, 1000);
done:
    lt_livetable_clear(&t);
}

/* Each allocation fails in turn (once, or from then on): the insert that
 * meets it reports LT_ENOMEM and nothing changed, neither its address nor
 * the rows; removes never fail, even when the shrink they try cannot get
 * memory; nothing leaks. Stack ids grow, so row growth fails too. */
static void test_faults(void)
{
    for (int persistent = 0; persistent <= 1; persistent++)
        for (long fail_at = 0;; fail_at++) {
            lt_failing_alloc_t f;
            lt_failing_alloc_init(&f, &lt_page_alloc, fail_at, persistent);
            lt_livetable_t t;
            lt_livetable_init(&t, &f.base);
            size_t failures = 0, live = 0;
            for (uint64_t i = 0; i < 3000; i++) {
                uint32_t stack = (uint32_t)(i * i / 64);
                lt_sitestat_t before = lt_sitestats_get(&t.stats, stack);
                int rc = lt_livetable_insert(&t, at(BASE + 32 * i), i + 1, stack, i + 1, NULL);
                if (rc == 0) {
                    live++;
                } else {
                    LT_EQ_INT(rc, LT_ENOMEM);
                    LT_EQ_INT(lt_livetable_get(&t, at(BASE + 32 * i), NULL), 0);
                    lt_sitestat_t after = lt_sitestats_get(&t.stats, stack);
                    LT_EQ_UINT(after.total_count, before.total_count);
                    LT_EQ_UINT(after.live_bytes, before.live_bytes);
                    failures++;
                }
                LT_EQ_UINT(t.len, live);
            }
            if (!persistent)
                LT_EQ_UINT(failures, fail_at < f.calls ? 1 : 0);
            /* Remove everything that got in, in a different order. */
            size_t removed = 0;
            for (uint64_t k = 0; k < 3000; k++) {
                uint64_t i = (k * 1237) % 3000;
                removed += (size_t)lt_livetable_remove(&t, at(BASE + 32 * i), NULL);
            }
            LT_EQ_UINT(removed, live);
            LT_EQ_UINT(t.len, 0);
            size_t nonzero = 0;
            for (size_t s = 0; s < t.stats.len; s++)
                nonzero += t.stats.rows[s].live_bytes != 0 || t.stats.rows[s].live_count != 0;
            LT_EQ_UINT(nonzero, 0);
            long calls = f.calls;
            lt_livetable_clear(&t);
            LT_EQ_INT(f.live, 0);
            if (fail_at >= calls) {
                LT_GT_INT(fail_at, 10);
                break;
            }
        }
}

int main(void)
{
    LT_RUN(test_basic);
    LT_RUN(test_realloc_chain);
    LT_RUN(test_churn_small);
    LT_RUN(test_churn_big);
    LT_RUN(test_shrink);
    LT_RUN(test_faults);
    return lt_test_done();
}
