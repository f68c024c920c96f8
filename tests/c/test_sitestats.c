/* Tests of lt_sitestats: rows by stack id, add and sub, a copy that stays
 * independent of its source, the diff of two copies (rows present in only
 * one, sizing with max 0, truncation), and every allocation failure in
 * reserve and copy (rows unchanged, no leak). */
#include "alloc.h"
#include "errors.h"
#include "lt_test.h"
#include "sitestats.h"

#include <stdint.h>

static int row_is(const lt_sitestats_t *s, uint32_t stack, uint64_t lb, uint64_t lc, uint64_t tb, uint64_t tc)
{
    lt_sitestat_t r = lt_sitestats_get(s, stack);
    int ok = LT_EQ_UINT(r.live_bytes, lb);
    ok &= LT_EQ_UINT(r.live_count, lc);
    ok &= LT_EQ_UINT(r.total_bytes, tb);
    ok &= LT_EQ_UINT(r.total_count, tc);
    return ok;
}

static void test_rows(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_sitestats_t s;
    lt_sitestats_init(&s, &f.base);
    LT_EQ_INT(f.calls, 0);
    row_is(&s, 0, 0, 0, 0, 0);
    row_is(&s, 123456, 0, 0, 0, 0);
    LT_EQ_INT(lt_sitestats_reserve(&s, 3), 0);
    LT_EQ_UINT(s.len, 4);
    lt_sitestats_add(&s, 3, 100);
    lt_sitestats_add(&s, 3, 50);
    lt_sitestats_sub(&s, 3, 100);
    row_is(&s, 3, 50, 1, 150, 2);
    row_is(&s, 2, 0, 0, 0, 0);
    /* Far ids grow the rows; earlier rows survive the move. */
    LT_EQ_INT(lt_sitestats_reserve(&s, 100000), 0);
    LT_EQ_UINT(s.len, 100001);
    lt_sitestats_add(&s, 100000, 7);
    row_is(&s, 3, 50, 1, 150, 2);
    row_is(&s, 100000, 7, 1, 7, 1);
    row_is(&s, 99999, 0, 0, 0, 0);
    /* Reserving a lower id keeps len. */
    LT_EQ_INT(lt_sitestats_reserve(&s, 5), 0);
    LT_EQ_UINT(s.len, 100001);
    lt_sitestats_clear(&s);
    LT_EQ_INT(f.live, 0);
    row_is(&s, 3, 0, 0, 0, 0);
}

static void test_copy_and_diff(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_sitestats_t cur, snap;
    lt_sitestats_init(&cur, &f.base);
    lt_sitestats_init(&snap, &f.base);
    for (uint32_t id = 1; id <= 10; id++) {
        LT_EQ_INT(lt_sitestats_reserve(&cur, id), 0);
        lt_sitestats_add(&cur, id, id * 10);
    }
    LT_EQ_INT(lt_sitestats_copy(&snap, &cur), 0);
    LT_EQ_UINT(lt_sitestats_diff(&snap, &cur, NULL, 0), 0);
    /* The copy is independent. */
    lt_sitestats_add(&cur, 4, 1);
    row_is(&snap, 4, 40, 1, 40, 1);
    lt_sitestats_sub(&cur, 7, 70);
    LT_EQ_INT(lt_sitestats_reserve(&cur, 2000), 0);
    lt_sitestats_add(&cur, 2000, 5);
    /* Reserved but untouched rows are not changes. */
    LT_EQ_INT(lt_sitestats_reserve(&cur, 1500), 0);

    LT_EQ_UINT(lt_sitestats_diff(&snap, &cur, NULL, 0), 3);
    lt_sitediff_t d[3];
    LT_EQ_UINT(lt_sitestats_diff(&snap, &cur, d, 3), 3);
    LT_EQ_UINT(d[0].stack, 4);
    LT_EQ_UINT(d[0].before.live_bytes, 40);
    LT_EQ_UINT(d[0].after.live_bytes, 41);
    LT_EQ_UINT(d[0].after.total_count, 2);
    LT_EQ_UINT(d[1].stack, 7);
    LT_EQ_UINT(d[1].before.live_count, 1);
    LT_EQ_UINT(d[1].after.live_count, 0);
    LT_EQ_UINT(d[1].after.total_bytes, 70);
    LT_EQ_UINT(d[2].stack, 2000);
    LT_EQ_UINT(d[2].before.total_count, 0);
    LT_EQ_UINT(d[2].after.live_bytes, 5);
    /* Truncated output still counts everything. */
    lt_sitediff_t one[1];
    LT_EQ_UINT(lt_sitestats_diff(&snap, &cur, one, 1), 3);
    LT_EQ_UINT(one[0].stack, 4);
    /* The other way round: rows only in `before` show as dropping to 0. */
    LT_EQ_UINT(lt_sitestats_diff(&cur, &snap, d, 3), 3);
    LT_EQ_UINT(d[2].stack, 2000);
    LT_EQ_UINT(d[2].after.live_bytes, 0);

    /* Copy into a bigger destination: rows past the source's end are
     * cleared, so a shrunk source diffs as equal. */
    LT_EQ_INT(lt_sitestats_copy(&snap, &cur), 0);
    lt_sitestats_t small;
    lt_sitestats_init(&small, &f.base);
    LT_EQ_INT(lt_sitestats_reserve(&small, 2), 0);
    lt_sitestats_add(&small, 2, 9);
    long calls = f.calls;
    LT_EQ_INT(lt_sitestats_copy(&snap, &small), 0);
    LT_EQ_INT(f.calls, calls);                  /* no allocation needed */
    LT_EQ_UINT(snap.len, 3);
    LT_EQ_UINT(lt_sitestats_diff(&small, &snap, NULL, 0), 0);
    row_is(&snap, 4, 0, 0, 0, 0);
    LT_EQ_INT(lt_sitestats_reserve(&snap, 2000), 0);
    row_is(&snap, 2000, 0, 0, 0, 0);
    LT_EQ_INT(lt_sitestats_copy(&snap, &snap), 0);

    lt_sitestats_clear(&small);
    lt_sitestats_clear(&snap);
    lt_sitestats_clear(&cur);
    LT_EQ_INT(f.live, 0);
}

/* Each allocation fails in turn: the reserve or copy that meets it returns
 * LT_ENOMEM and the rows (values and len) are as before. */
static void test_faults(void)
{
    for (long fail_at = 0;; fail_at++) {
        lt_failing_alloc_t f;
        lt_failing_alloc_init(&f, &lt_page_alloc, fail_at, 0);
        lt_sitestats_t s, c;
        lt_sitestats_init(&s, &f.base);
        lt_sitestats_init(&c, &f.base);
        int failures = 0;
        for (uint32_t id = 0; id < 5000; id += 7) {
            size_t len = s.len;
            int rc = lt_sitestats_reserve(&s, id);
            if (rc < 0) {
                LT_EQ_INT(rc, LT_ENOMEM);
                LT_EQ_UINT(s.len, len);
                failures++;
                continue;
            }
            lt_sitestats_add(&s, id, id);
            if (id % 700 == 0) {
                size_t clen = c.len;
                lt_sitestat_t before = lt_sitestats_get(&c, 0);
                rc = lt_sitestats_copy(&c, &s);
                if (rc < 0) {
                    LT_EQ_INT(rc, LT_ENOMEM);
                    LT_EQ_UINT(c.len, clen);
                    LT_EQ_UINT(lt_sitestats_get(&c, 0).total_count, before.total_count);
                    failures++;
                } else {
                    LT_EQ_UINT(lt_sitestats_diff(&c, &s, NULL, 0), 0);
                }
            }
        }
        LT_EQ_INT(failures, fail_at < f.calls ? 1 : 0);
        /* Every row that got in holds its value. */
        size_t bad = 0;
        for (uint32_t id = 0; id < 5000; id += 7) {
            lt_sitestat_t r = lt_sitestats_get(&s, id);
            if (r.total_count == 1 ? r.live_bytes != id : r.total_count != 0)
                bad++;
        }
        LT_EQ_UINT(bad, 0);
        lt_sitestats_clear(&s);
        lt_sitestats_clear(&c);
        LT_EQ_INT(f.live, 0);
        if (fail_at >= f.calls) {
            LT_GE_INT(fail_at, 6);
            break;
        }
    }
}

int main(void)
{
    LT_RUN(test_rows);
    LT_RUN(test_copy_and_diff);
    LT_RUN(test_faults);
    return lt_test_done();
}
