/* Tests of lt_addrset: membership at granule and chunk edges, objects only
 * 8-byte aligned, many chunks, the chunk cache's collisions, refusal of bad
 * addresses, and every allocation failure (set unchanged, no leak). */
#include "addrset.h"
#include "alloc.h"
#include "errors.h"
#include "lt_test.h"

#include <stdint.h>

#define BASE UINT64_C(0x7f0000000000)

static const void *at(uint64_t a)
{
    return (const void *)(uintptr_t)a;
}

static void test_empty(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_addrset_t s;
    lt_addrset_init(&s, &f.base);
    LT_EQ_INT(f.calls, 0);
    LT_EQ_INT(lt_addrset_has(&s, at(BASE)), 0);
    LT_EQ_INT(lt_addrset_has(&s, NULL), 0);
    LT_EQ_UINT(lt_addrset_footprint(&s), 0);
    lt_addrset_clear(&s);
    LT_EQ_INT(f.live, 0);
}

static void test_add_has(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_addrset_t s;
    lt_addrset_init(&s, &f.base);
    /* Objects at least 16 bytes apart (as real ones are), 16-aligned and
     * only 8-aligned. */
    uint64_t addrs[] = {BASE, BASE + 16, BASE + 40, BASE + 56, BASE + (1u << 20) - 16,
                        BASE + (1u << 20), BASE + (1u << 20) + 24, UINT64_C(0x100000), UINT64_C(0x7ffffffffff0)};
    size_t n = sizeof(addrs) / sizeof(addrs[0]);
    for (size_t i = 0; i < n; i++) {
        LT_EQ_INT(lt_addrset_has(&s, at(addrs[i])), 0);
        LT_EQ_INT(lt_addrset_add(&s, at(addrs[i])), 1);
        LT_EQ_INT(lt_addrset_has(&s, at(addrs[i])), 1);
        LT_EQ_INT(lt_addrset_add(&s, at(addrs[i])), 0);
    }
    LT_EQ_UINT(s.len, n);
    for (size_t i = 0; i < n; i++)
        LT_EQ_INT(lt_addrset_has(&s, at(addrs[i])), 1);
    /* Neighbours in other granules are not members. */
    LT_EQ_INT(lt_addrset_has(&s, at(BASE + 80)), 0);
    LT_EQ_INT(lt_addrset_has(&s, at(BASE + (1u << 20) + 48)), 0);
    LT_EQ_INT(lt_addrset_has(&s, at(BASE - 16)), 0);
    LT_GT_UINT(lt_addrset_footprint(&s), 0);
    lt_addrset_clear(&s);
    LT_EQ_INT(f.live, 0);
    LT_EQ_UINT(s.len, 0);
    LT_EQ_INT(lt_addrset_has(&s, at(BASE)), 0);
    /* Reusable after clear. */
    LT_EQ_INT(lt_addrset_add(&s, at(BASE)), 1);
    lt_addrset_clear(&s);
    LT_EQ_INT(f.live, 0);
}

static void test_bad_addresses(void)
{
    lt_addrset_t s;
    lt_addrset_init(&s, &lt_page_alloc);
    LT_EQ_INT(lt_addrset_add(&s, NULL), LT_EINVAL);
    LT_EQ_INT(lt_addrset_add(&s, at(BASE + 4)), LT_EINVAL);     /* not 8-aligned */
    LT_EQ_INT(lt_addrset_add(&s, at(0x1000)), LT_EINVAL);       /* the first MiB */
    LT_EQ_INT(lt_addrset_has(&s, at(BASE + 4)), 0);
    LT_EQ_UINT(s.len, 0);
    lt_addrset_clear(&s);
}

/* Many chunks, visited in an order that makes the direct-mapped chunk
 * cache collide: chunks LT_ADDRSET_CACHE MiB apart share a slot. */
static void test_many_chunks(void)
{
    lt_addrset_t s;
    lt_addrset_init(&s, &lt_page_alloc);
    const size_t chunks = 3 * LT_ADDRSET_CACHE + 5, per = 1000;
    for (size_t r = 0; r < per; r++)
        for (size_t c = 0; c < chunks; c++)
            if (!LT_EQ_INT(lt_addrset_add(&s, at(BASE + ((uint64_t)c << 20) + r * 48)), 1))
                goto done;
    LT_EQ_UINT(s.len, chunks * per);
    size_t found = 0, stray = 0;
    for (size_t c = 0; c < chunks; c++)
        for (size_t r = 0; r < per; r++) {
            found += (size_t)lt_addrset_has(&s, at(BASE + ((uint64_t)c << 20) + r * 48));
            stray += (size_t)lt_addrset_has(&s, at(BASE + ((uint64_t)c << 20) + r * 48 + 16));
        }
    LT_EQ_UINT(found, chunks * per);
    LT_EQ_UINT(stray, 0);
done:
    lt_addrset_clear(&s);
}

/* Every allocation the set makes fails once in turn: the add reports
 * LT_ENOMEM, earlier members stay, later adds work, nothing leaks. */
static void test_faults(void)
{
    for (long fail_at = 0; fail_at < 12; fail_at++) {
        lt_failing_alloc_t f;
        lt_failing_alloc_init(&f, &lt_page_alloc, fail_at, 0);
        lt_addrset_t s;
        lt_addrset_init(&s, &f.base);
        size_t added = 0, failed = 0;
        for (uint64_t c = 0; c < 40; c++) {
            const void *p = at(BASE + (c << 20));
            int rc = lt_addrset_add(&s, p);
            if (rc == 1) {
                added++;
                LT_EQ_INT(lt_addrset_has(&s, p), 1);
            } else {
                LT_EQ_INT(rc, LT_ENOMEM);
                LT_EQ_INT(lt_addrset_has(&s, p), 0);
                failed++;
            }
        }
        LT_EQ_UINT(s.len, added);
        LT_EQ_UINT(added + failed, 40);
        if (fail_at < 3)
            LT_EQ_UINT(failed, 1);  /* the first chunks and the map's first table */
        lt_addrset_clear(&s);
        LT_EQ_INT(f.live, 0);
    }
}

int main(void)
{
    LT_RUN(test_empty);
    LT_RUN(test_add_has);
    LT_RUN(test_bad_addresses);
    LT_RUN(test_many_chunks);
    LT_RUN(test_faults);
    return lt_test_done();
}
