/* Tests of lt_intern: equal contents share an id, ids are dense from 1 and
 * stable, bytes come back intact and never move, the empty sequence and
 * contents that differ only in length or in one late byte, a million
 * entries of two kinds (strings and arrays of frame ids), argument errors,
 * and every allocation failure (table unchanged, later adds work, no leak). */
#include "alloc.h"
#include "errors.h"
#include "intern.h"
#include "lt_test.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void test_empty(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_intern_t t;
    lt_intern_init(&t, &f.base);
    LT_EQ_INT(f.calls, 0);
    LT_EQ_UINT(lt_intern_find(&t, "a", 1), 0);
    LT_NULL(lt_intern_get(&t, 0, NULL));
    LT_NULL(lt_intern_get(&t, 1, NULL));
    LT_EQ_UINT(lt_intern_footprint(&t), 0);
    lt_intern_clear(&t);
    LT_EQ_INT(f.live, 0);
}

static void test_basic(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_intern_t t;
    lt_intern_init(&t, &f.base);
    uint32_t id = 99, id2 = 99;
    int added = -1;
    LT_EQ_INT(lt_intern_get_or_add(&t, "hello", 5, &id, &added), 0);
    LT_EQ_UINT(id, 1);
    LT_EQ_INT(added, 1);
    LT_EQ_INT(lt_intern_get_or_add(&t, "hello", 5, &id2, &added), 0);
    LT_EQ_UINT(id2, 1);
    LT_EQ_INT(added, 0);
    /* Prefixes, extensions and the empty sequence are all different. */
    LT_EQ_INT(lt_intern_get_or_add(&t, "hell", 4, &id, &added), 0);
    LT_EQ_UINT(id, 2);
    LT_EQ_INT(lt_intern_get_or_add(&t, "hello\0", 6, &id, &added), 0);
    LT_EQ_UINT(id, 3);
    LT_EQ_INT(lt_intern_get_or_add(&t, NULL, 0, &id, &added), 0);
    LT_EQ_UINT(id, 4);
    LT_EQ_INT(added, 1);
    LT_EQ_INT(lt_intern_get_or_add(&t, "", 0, &id, NULL), 0);
    LT_EQ_UINT(id, 4);
    /* Contents that differ in one byte far in. */
    char a[300], b[300];
    memset(a, 'x', sizeof(a));
    memcpy(b, a, sizeof(b));
    b[290] = 'y';
    LT_EQ_INT(lt_intern_get_or_add(&t, a, sizeof(a), &id, NULL), 0);
    LT_EQ_UINT(id, 5);
    LT_EQ_INT(lt_intern_get_or_add(&t, b, sizeof(b), &id, NULL), 0);
    LT_EQ_UINT(id, 6);
    LT_EQ_UINT(t.len, 6);

    size_t len = 0;
    const char *s = lt_intern_get(&t, 1, &len);
    LT_EQ_MEM(s, len, "hello", 5);
    LT_EQ_STR(s, "hello");                      /* NUL-terminated */
    LT_EQ_UINT((uintptr_t)s % 8, 0);
    s = lt_intern_get(&t, 3, &len);
    LT_EQ_MEM(s, len, "hello\0", 6);
    s = lt_intern_get(&t, 4, &len);
    LT_NOT_NULL(s);
    LT_EQ_UINT(len, 0);
    s = lt_intern_get(&t, 6, &len);
    LT_EQ_MEM(s, len, b, sizeof(b));
    LT_NULL(lt_intern_get(&t, 7, &len));
    LT_EQ_UINT(lt_intern_find(&t, "hell", 4), 2);
    LT_EQ_UINT(lt_intern_find(&t, "help", 4), 0);
    LT_EQ_UINT(lt_intern_find(&t, NULL, 0), 4);
    LT_GT_UINT(lt_intern_footprint(&t), 0);

    lt_intern_clear(&t);
    LT_EQ_INT(f.live, 0);
    LT_EQ_UINT(t.len, 0);
    LT_EQ_INT(lt_intern_get_or_add(&t, "again", 5, &id, NULL), 0);
    LT_EQ_UINT(id, 1);
    lt_intern_clear(&t);
    LT_EQ_INT(f.live, 0);
}

static void test_bad_args(void)
{
    lt_intern_t t;
    lt_intern_init(&t, &lt_page_alloc);
    uint32_t id = 5;
    int added = 5;
    LT_EQ_INT(lt_intern_get_or_add(&t, NULL, 3, &id, &added), LT_EINVAL);
    LT_EQ_UINT(id, 0);
    LT_EQ_INT(added, 0);
    if (sizeof(size_t) > 4) {
        char c = 'c';
        LT_EQ_INT(lt_intern_get_or_add(&t, &c, (size_t)UINT32_MAX + 1, &id, NULL), LT_ERANGE);
        LT_EQ_UINT(lt_intern_find(&t, &c, (size_t)UINT32_MAX + 1), 0);
    }
    LT_EQ_UINT(lt_intern_find(&t, NULL, 3), 0);
    LT_EQ_UINT(t.len, 0);
    lt_intern_clear(&t);
}

/* A frame-id array standing for stack i: 1 to 16 ids, a function of i. */
static size_t make_stack(uint32_t i, uint32_t *frames)
{
    size_t depth = 1 + i % 16;
    for (size_t d = 0; d < depth; d++)
        frames[d] = i * 2654435761u + (uint32_t)d;
    return depth * sizeof(uint32_t);
}

/* A million entries: half strings, half frame arrays, added, then looked up
 * again (the same ids), then read back. Pointers taken early stay valid
 * across all the index doublings and segment additions. */
static void test_million(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_intern_t t;
    lt_intern_init(&t, &f.base);
    const uint32_t n = 1000000;
    char buf[64];
    uint32_t frames[16];
    const void *first = NULL;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = 0;
        int added = 0, rc;
        if (i % 2 == 0) {
            int len = snprintf(buf, sizeof(buf), "module_%u.py:func_%u", i, i * 7);
            rc = lt_intern_get_or_add(&t, buf, (size_t)len, &id, &added);
        } else {
            size_t len = make_stack(i, frames);
            rc = lt_intern_get_or_add(&t, frames, len, &id, &added);
        }
        if (!LT_EQ_INT(rc, 0) || !LT_EQ_UINT(id, i + 1) || !LT_EQ_INT(added, 1))
            goto done;
        if (i == 0)
            first = lt_intern_get(&t, 1, NULL);
    }
    LT_EQ_UINT(t.len, n);
    size_t bad_id = 0, bad_bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = 0;
        int added = 1;
        const void *key;
        size_t len;
        if (i % 2 == 0) {
            len = (size_t)snprintf(buf, sizeof(buf), "module_%u.py:func_%u", i, i * 7);
            key = buf;
        } else {
            len = make_stack(i, frames);
            key = frames;
        }
        if (lt_intern_get_or_add(&t, key, len, &id, &added) != 0 || id != i + 1 || added != 0)
            bad_id++;
        if (lt_intern_find(&t, key, len) != i + 1)
            bad_id++;
        size_t glen = 0;
        const void *got = lt_intern_get(&t, i + 1, &glen);
        if (got == NULL || glen != len || memcmp(got, key, len) != 0)
            bad_bytes++;
    }
    LT_EQ_UINT(bad_id, 0);
    LT_EQ_UINT(bad_bytes, 0);
    LT_EQ_PTR(lt_intern_get(&t, 1, NULL), first);
    LT_EQ_STR(first, "module_0.py:func_0");
    LT_EQ_UINT(t.len, n);
    /* 1 M records of about 24 bytes, their pointers and a 2 M-slot index. */
    LT_LT_UINT(lt_intern_footprint(&t), 80u << 20);
done:
    lt_intern_clear(&t);
    LT_EQ_INT(f.live, 0);
}

/* Allocation `fail_at` fails (once, or from then on), for each allocation
 * the run makes in turn: the add that meets it
 * reports LT_ENOMEM with *id 0, every earlier entry keeps its id and bytes,
 * the failed content is absent, and the next adds work again. */
static void test_faults(void)
{
    for (int persistent = 0; persistent <= 1; persistent++)
        for (long fail_at = 0;; fail_at++) {
            lt_failing_alloc_t f;
            lt_failing_alloc_init(&f, &lt_page_alloc, fail_at, persistent);
            lt_intern_t t;
            lt_intern_init(&t, &f.base);
            uint32_t expect = 0, failures = 0;
            char buf[32];
            /* 3000 entries: index doublings, several segments and arena
             * chunks (entries of 800 bytes fill a chunk every 80). */
            for (uint32_t i = 0; i < 3000; i++) {
                char big[800];
                const void *key = buf;
                size_t len = (size_t)snprintf(buf, sizeof(buf), "k%u", i);
                if (i % 3 == 0) {
                    memset(big, (int)(i & 0xff), sizeof(big));
                    memcpy(big, buf, len);
                    key = big;
                    len = sizeof(big);
                }
                uint32_t id = 77;
                int rc = lt_intern_get_or_add(&t, key, len, &id, NULL);
                if (rc == 0) {
                    if (!LT_EQ_UINT(id, ++expect))
                        break;
                } else {
                    LT_EQ_INT(rc, LT_ENOMEM);
                    LT_EQ_UINT(id, 0);
                    LT_EQ_UINT(lt_intern_find(&t, key, len), 0);
                    failures++;
                }
                LT_EQ_UINT(t.len, expect);
            }
            if (!persistent)
                LT_EQ_UINT(failures, fail_at < f.calls ? 1 : 0);
            LT_EQ_UINT(failures + expect, 3000);
            /* Whatever got in reads back intact. */
            size_t bad = 0;
            for (uint32_t id = 1; id <= t.len; id++) {
                size_t len;
                const char *s = lt_intern_get(&t, id, &len);
                if (s == NULL || s[0] != 'k' || lt_intern_find(&t, s, len) != id)
                    bad++;
            }
            LT_EQ_UINT(bad, 0);
            lt_intern_clear(&t);
            LT_EQ_INT(f.live, 0);
            if (fail_at >= f.calls) {
                /* Past the last allocation: every one has failed in turn. */
                LT_GT_INT(fail_at, 20);
                break;
            }
        }
}

int main(void)
{
    LT_RUN(test_empty);
    LT_RUN(test_basic);
    LT_RUN(test_bad_args);
    LT_RUN(test_million);
    LT_RUN(test_faults);
    return lt_test_done();
}
