/* Tests of lt_strbuf: append/puts/printf (short and > 256-byte results),
 * reset and clear, appending from the buffer itself, and every allocation
 * failure (buffer unchanged, no leak). */
#include "alloc.h"
#include "errors.h"
#include "lt_test.h"
#include "strbuf.h"

#include <stdint.h>
#include <string.h>
#include <wchar.h>

static void test_empty(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_strbuf_t b;
    lt_strbuf_init(&b, &f.base);
    LT_EQ_INT(f.calls, 0);
    LT_EQ_STR(lt_strbuf_str(&b), "");
    LT_EQ_UINT(b.len, 0);
    lt_strbuf_reset(&b);                        /* fine before the first append */
    lt_strbuf_clear(&b);
    LT_EQ_INT(f.live, 0);
}

static void test_append(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_strbuf_t b;
    lt_strbuf_init(&b, &f.base);

    LT_EQ_INT(lt_strbuf_append(&b, "hello", 3), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "hel");
    LT_EQ_INT(lt_strbuf_puts(&b, "lo"), 0);
    LT_EQ_INT(lt_strbuf_append(&b, "", 0), 0);
    LT_EQ_INT(lt_strbuf_append(&b, NULL, 0), 0);    /* nothing from nowhere */
    LT_EQ_INT(lt_strbuf_puts(&b, ""), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "hello");
    LT_EQ_UINT(b.len, 5);
    /* Embedded NULs are kept by append (len counts them). */
    LT_EQ_INT(lt_strbuf_append(&b, "a\0b", 3), 0);
    LT_EQ_MEM(b.data, b.len, "helloa\0b", 8);
    LT_EQ_INT(b.data[b.len], '\0');

    /* reset keeps the storage. */
    char *data = b.data;
    lt_strbuf_reset(&b);
    LT_EQ_STR(lt_strbuf_str(&b), "");
    LT_EQ_UINT(b.len, 0);
    LT_EQ_PTR(b.data, data);
    LT_EQ_INT(lt_strbuf_puts(&b, "again"), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "again");
    LT_EQ_PTR(b.data, data);

    /* An empty first append still makes a terminated string. */
    lt_strbuf_clear(&b);
    LT_EQ_INT(f.live, 0);
    LT_EQ_INT(lt_strbuf_append(&b, "", 0), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "");
    lt_strbuf_clear(&b);
    LT_EQ_INT(f.live, 0);
    LT_EQ_STR(lt_strbuf_str(&b), "");
}

static void test_growth(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_page_alloc, -1, 0);
    lt_strbuf_t b;
    lt_strbuf_init(&b, &f.base);
    /* 200 000 bytes in pieces of every length 0..99: many doublings. */
    static char expect[300000];
    size_t n = 0;
    for (size_t i = 0; n < 200000; i++) {
        char piece[100];
        size_t len = i % 100;
        for (size_t j = 0; j < len; j++)
            piece[j] = (char)('a' + (i + j) % 26);
        if (!LT_EQ_INT(lt_strbuf_append(&b, piece, len), 0))
            break;
        memcpy(expect + n, piece, len);
        n += len;
    }
    LT_EQ_MEM(b.data, b.len, expect, n);
    LT_EQ_UINT(strlen(lt_strbuf_str(&b)), n);
    LT_GT_UINT(b.cap, b.len);
    LT_GE_INT(f.calls, 8);
    LT_EQ_INT(f.live, 1);
    lt_strbuf_clear(&b);
    LT_EQ_INT(f.live, 0);
}

static void test_printf(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_strbuf_t b;
    lt_strbuf_init(&b, &f.base);

    LT_EQ_INT(lt_strbuf_printf(&b, "%d-%s-%zu", -42, "x", (size_t)7), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "-42-x-7");
    LT_EQ_INT(lt_strbuf_printf(&b, "%s", ""), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "-42-x-7");
    lt_strbuf_reset(&b);

    /* Results around the 256-byte stack buffer, and far past it. */
    static char big[5000], expect[6000];
    memset(big, 'z', sizeof(big) - 1);
    const size_t lens[] = {250, 251, 252, 253, 254, 255, 256, 257, 300, 1000, 4999};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        size_t len = lens[k];
        lt_strbuf_reset(&b);
        LT_EQ_INT(lt_strbuf_puts(&b, "pre:"), 0);
        /* "<" + len z's + ">" : len + 2 bytes of output. */
        LT_EQ_INT(lt_strbuf_printf(&b, "<%.*s>", (int)len, big), 0);
        memcpy(expect, "pre:<", 5);
        memset(expect + 5, 'z', len);
        memcpy(expect + 5 + len, ">", 2);
        LT_EQ_STR(lt_strbuf_str(&b), expect);
        LT_EQ_UINT(b.len, len + 6);
        /* Appending after a long printf continues at the right place. */
        LT_EQ_INT(lt_strbuf_puts(&b, "!"), 0);
        LT_EQ_UINT(b.len, len + 7);
        LT_EQ_INT(b.data[b.len - 1], '!');
    }

    /* A long printf into a fresh buffer (data == NULL before it). */
    lt_strbuf_clear(&b);
    LT_EQ_INT(lt_strbuf_printf(&b, "%.*s", 3000, big), 0);
    LT_EQ_UINT(b.len, 3000);
    LT_EQ_UINT(strlen(lt_strbuf_str(&b)), 3000);

    /* An encoding error (an invalid wide character) is LT_EINVAL, unchanged. */
    size_t len = b.len;
    char *data = b.data;
    const wchar_t bad[] = {(wchar_t)0x7fffffff, 0};
    LT_EQ_INT(lt_strbuf_printf(&b, "%ls", bad), LT_EINVAL);
    LT_EQ_UINT(b.len, len);
    LT_EQ_PTR(b.data, data);
    LT_EQ_UINT(strlen(lt_strbuf_str(&b)), len);

    lt_strbuf_clear(&b);
    LT_EQ_INT(f.live, 0);
}

/* Appending the buffer's own text (allowed for append and puts): the source
 * lives in the storage that growth replaces, so it must still be read
 * correctly. */
static void test_self_append(void)
{
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_strbuf_t b;
    lt_strbuf_init(&b, &f.base);
    static char expect[70000];

    LT_EQ_INT(lt_strbuf_puts(&b, "ab"), 0);
    memcpy(expect, "ab", 2);
    size_t n = 2;
    for (int round = 0; round < 15; round++) {   /* 2 << 15 = 64 KiB */
        if (!LT_EQ_INT(lt_strbuf_append(&b, b.data, b.len), 0))
            break;
        memcpy(expect + n, expect, n);
        n *= 2;
    }
    LT_EQ_MEM(b.data, b.len, expect, n);
    /* Part of itself: once as the storage grows, once (puts) without growth. */
    lt_strbuf_reset(&b);
    LT_EQ_INT(lt_strbuf_puts(&b, "0123456789"), 0);
    while (b.len + 1 < b.cap)
        LT_EQ_INT(lt_strbuf_puts(&b, "."), 0);  /* full: the next append grows */
    size_t full = b.len;
    LT_EQ_INT(lt_strbuf_append(&b, b.data + 2, 5), 0);
    LT_EQ_MEM(b.data + full, 5, "23456", 5);
    LT_EQ_INT(lt_strbuf_puts(&b, b.data + full), 0);
    LT_EQ_MEM(b.data + full, 10, "2345623456", 10);
    /* (printf's arguments must not point into the buffer: not tested.) */
    lt_strbuf_clear(&b);
    LT_EQ_INT(f.live, 0);
}

/* Fault-injection sequence of appends and printfs (short and long). After
 * each failure the buffer (pointer, length, capacity, text) is unchanged; a
 * one-shot failure is retried successfully. */
static int strbuf_sequence(lt_strbuf_t *b, const lt_failing_alloc_t *f)
{
    static char expect[300000], big[2000];
    memset(big, 'L', sizeof(big) - 1);
    size_t n = 0;
    int failures = 0;
    for (int step = 0; step < 400; step++) {
        lt_strbuf_t before = *b;
        char piece[2100];
        int plen, rc;
        for (int attempt = 0; attempt < 2; attempt++) {
            switch (step % 4) {
            case 0:
                plen = snprintf(piece, sizeof(piece), "step %d;", step);
                rc = lt_strbuf_append(b, piece, (size_t)plen);
                break;
            case 1:
                plen = snprintf(piece, sizeof(piece), "<%d:%s>", step, "short");
                rc = lt_strbuf_printf(b, "<%d:%s>", step, "short");
                break;
            case 2:
                plen = snprintf(piece, sizeof(piece), "{%.*s}", step * 5 % 1999, big);
                rc = lt_strbuf_printf(b, "{%.*s}", step * 5 % 1999, big);
                break;
            default:
                plen = snprintf(piece, sizeof(piece), "%s", "puts|");
                rc = lt_strbuf_puts(b, "puts|");
                break;
            }
            if (rc == 0) {
                memcpy(expect + n, piece, (size_t)plen);
                n += (size_t)plen;
                break;
            }
            failures++;
            LT_EQ_INT(rc, LT_ENOMEM);
            LT_EQ_PTR(b->data, before.data);
            LT_EQ_UINT(b->len, before.len);
            LT_EQ_UINT(b->cap, before.cap);
            LT_EQ_MEM(lt_strbuf_str(b), b->len, expect, n);
            LT_EQ_UINT(strlen(lt_strbuf_str(b)), n);
            if (f->persistent)
                break;                          /* no retry would succeed */
            LT_EQ_INT(attempt, 0);              /* a retry never fails twice */
        }
    }
    LT_EQ_MEM(lt_strbuf_str(b), b->len, expect, n);
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
            lt_strbuf_t b;
            lt_strbuf_init(&b, &f.base);
            int failures = strbuf_sequence(&b, &f);
            if (f.calls > fail_at)
                LT_GT_INT(failures, 0);
            else
                done = 1;
            lt_strbuf_clear(&b);
            LT_EQ_INT(f.live, 0);
        }
        if (done)
            break;
    }
    LT_GE_INT(fail_at, 6);
    LT_LT_INT(fail_at, 1000);
}

int main(void)
{
    LT_RUN(test_empty);
    LT_RUN(test_append);
    LT_RUN(test_growth);
    LT_RUN(test_printf);
    LT_RUN(test_self_append);
    LT_RUN(test_faults);
    return lt_test_done();
}
