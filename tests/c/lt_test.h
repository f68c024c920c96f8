/* A tiny assertion library for the C unit tests of src/core. It never
 * allocates: failures are formatted with snprintf into a stack buffer and
 * written to stderr with write(2), so a check is safe inside an allocator
 * hook or after the heap is corrupt.
 *
 * Every check counts itself, prints file:line, the expression and both values
 * on failure, and evaluates to 1 (passed) or 0 (failed) so that a test can
 * stop a sequence that no longer makes sense with an explicit
 * `if (!LT_CHECK(...)) goto done;`. A test's main ends with
 * `return lt_test_done();`, which prints the count and returns non-zero if
 * any check failed. lt_test_heap, at the end, is a checking allocator for
 * the table tests (the one part that allocates). */
#ifndef LT_TEST_H
#define LT_TEST_H

#include "alloc.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Single-threaded: each test binary is one translation unit. */
static long lt__checks;
static long lt__failures;
static const char *lt__case = "";

enum { LT__EQ, LT__NE, LT__LT, LT__LE, LT__GT, LT__GE };

static inline void lt__write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* snprintf into a fixed stack buffer, truncating, then write(2). */
static inline void lt__printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void lt__printf(int fd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    lt__write_all(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static inline const char *lt__opname(int op)
{
    static const char *const names[] = {"==", "!=", "<", "<=", ">", ">="};
    return names[op];
}

/* Past this many failures only the count goes on: a check in a loop that
 * fails every time must not bury the first, telling, message. */
#define LT__MAX_SHOWN 25

/* Starts a failure message; returns 1 if its details should be printed. */
static inline int lt__fail_head(const char *file, int line)
{
    lt__failures++;
    if (lt__failures > LT__MAX_SHOWN) {
        if (lt__failures == LT__MAX_SHOWN + 1)
            lt__printf(2, "(further failures are counted, not shown)\n");
        return 0;
    }
    lt__printf(2, "%s:%d: FAIL%s%s: ", file, line, lt__case[0] ? " in " : "", lt__case);
    return 1;
}

static inline int lt__check(const char *file, int line, const char *expr, int ok)
{
    lt__checks++;
    if (ok)
        return 1;
    if (lt__fail_head(file, line))
        lt__printf(2, "%s\n", expr);
    return 0;
}

#define LT__CMP(op, a, b) ((op) == LT__EQ ? (a) == (b) : (op) == LT__NE ? (a) != (b) \
                          : (op) == LT__LT ? (a) < (b) : (op) == LT__LE ? (a) <= (b) \
                          : (op) == LT__GT ? (a) > (b) : (a) >= (b))

static inline int lt__check_int(const char *file, int line, const char *ea, int op, const char *eb,
                                intmax_t a, intmax_t b)
{
    lt__checks++;
    if (LT__CMP(op, a, b))
        return 1;
    if (lt__fail_head(file, line))
        lt__printf(2, "%s %s %s\n    left:  %jd (%#jx)\n    right: %jd (%#jx)\n", ea, lt__opname(op), eb,
               a, (uintmax_t)a, b, (uintmax_t)b);
    return 0;
}

static inline int lt__check_uint(const char *file, int line, const char *ea, int op, const char *eb,
                                 uintmax_t a, uintmax_t b)
{
    lt__checks++;
    if (LT__CMP(op, a, b))
        return 1;
    if (lt__fail_head(file, line))
        lt__printf(2, "%s %s %s\n    left:  %ju (%#jx)\n    right: %ju (%#jx)\n", ea, lt__opname(op), eb,
               a, a, b, b);
    return 0;
}

static inline int lt__check_ptr(const char *file, int line, const char *ea, int op, const char *eb,
                                const void *a, const void *b)
{
    lt__checks++;
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    if (LT__CMP(op, x, y))
        return 1;
    if (lt__fail_head(file, line))
        lt__printf(2, "%s %s %s\n    left:  %p\n    right: %p\n", ea, lt__opname(op), eb, a, b);
    return 0;
}

/* Writes a window of s (len bytes) around byte `at`, C-escaped and quoted:
 * enough to see the first difference without flooding the log. */
#define LT__WINDOW 160
static inline void lt__write_escaped(const char *label, const char *s, size_t len, size_t at)
{
    char buf[4 * LT__WINDOW + 160];    /* the window, escaped, plus the prefix */
    if (s == NULL) {
        lt__printf(2, "    %s: NULL\n", label);
        return;
    }
    size_t from = at > LT__WINDOW / 4 ? at - LT__WINDOW / 4 : 0;
    size_t to = len - from > LT__WINDOW ? from + LT__WINDOW : len;
    int n = snprintf(buf, sizeof(buf), "    %s: %zu bytes, [%zu..%zu): %s\"", label, len, from, to,
                     from > 0 ? "..." : "");
    size_t used = n > 0 ? (size_t)n : 0;
    for (size_t i = from; i < to && used + 16 < sizeof(buf); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf[used++] = '\\';
            buf[used++] = (char)c;
        } else if (c == '\n') {
            buf[used++] = '\\';
            buf[used++] = 'n';
        } else if (c < 0x20 || c >= 0x7f) {
            used += (size_t)snprintf(buf + used, sizeof(buf) - used, "\\x%02x", c);
        } else {
            buf[used++] = (char)c;
        }
    }
    if (used + 8 < sizeof(buf))
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, "\"%s\n", to < len ? "..." : "");
    lt__write_all(2, buf, used < sizeof(buf) ? used : sizeof(buf) - 1);
}

static inline int lt__check_mem(const char *file, int line, const char *ea, const char *eb,
                                const char *a, size_t alen, const char *b, size_t blen)
{
    lt__checks++;
    if (a != NULL && b != NULL && alen == blen && memcmp(a, b, alen) == 0)
        return 1;
    if (!lt__fail_head(file, line))
        return 0;
    size_t at = 0;
    if (a != NULL && b != NULL)
        while (at < alen && at < blen && a[at] == b[at])
            at++;
    lt__printf(2, "%s == %s (first difference at byte %zu)\n", ea, eb, at);
    lt__write_escaped("left ", a, alen, at);
    lt__write_escaped("right", b, blen, at);
    return 0;
}

static inline int lt__check_str(const char *file, int line, const char *ea, const char *eb,
                                const char *a, const char *b)
{
    return lt__check_mem(file, line, ea, eb, a, a ? strlen(a) : 0, b, b ? strlen(b) : 0);
}

/* A boolean condition (prints only the expression). */
#define LT_CHECK(cond) lt__check(__FILE__, __LINE__, #cond, (cond) ? 1 : 0)

/* Comparisons that print both sides: signed (intmax_t), unsigned (uintmax_t),
 * pointers. Each argument is evaluated exactly once. */
/* The public macros stringify their own arguments, so that a macro argument
 * (NULL, SIZE_MAX) is printed as written, not expanded. */
#define LT__INT(op, a, b, ea, eb) lt__check_int(__FILE__, __LINE__, ea, op, eb, (intmax_t)(a), (intmax_t)(b))
#define LT__UINT(op, a, b, ea, eb) lt__check_uint(__FILE__, __LINE__, ea, op, eb, (uintmax_t)(a), (uintmax_t)(b))
#define LT__PTR(op, a, b, ea, eb) lt__check_ptr(__FILE__, __LINE__, ea, op, eb, (const void *)(a), (const void *)(b))

#define LT_EQ_INT(a, b) LT__INT(LT__EQ, a, b, #a, #b)
#define LT_NE_INT(a, b) LT__INT(LT__NE, a, b, #a, #b)
#define LT_LT_INT(a, b) LT__INT(LT__LT, a, b, #a, #b)
#define LT_LE_INT(a, b) LT__INT(LT__LE, a, b, #a, #b)
#define LT_GT_INT(a, b) LT__INT(LT__GT, a, b, #a, #b)
#define LT_GE_INT(a, b) LT__INT(LT__GE, a, b, #a, #b)

#define LT_EQ_UINT(a, b) LT__UINT(LT__EQ, a, b, #a, #b)
#define LT_NE_UINT(a, b) LT__UINT(LT__NE, a, b, #a, #b)
#define LT_LT_UINT(a, b) LT__UINT(LT__LT, a, b, #a, #b)
#define LT_LE_UINT(a, b) LT__UINT(LT__LE, a, b, #a, #b)
#define LT_GT_UINT(a, b) LT__UINT(LT__GT, a, b, #a, #b)
#define LT_GE_UINT(a, b) LT__UINT(LT__GE, a, b, #a, #b)

#define LT_EQ_PTR(a, b) LT__PTR(LT__EQ, a, b, #a, #b)
#define LT_NE_PTR(a, b) LT__PTR(LT__NE, a, b, #a, #b)
#define LT_NULL(a) LT__PTR(LT__EQ, a, NULL, #a, "NULL")
#define LT_NOT_NULL(a) LT__PTR(LT__NE, a, NULL, #a, "NULL")

/* NUL-terminated strings, and byte ranges (a NULL side always fails). */
#define LT_EQ_STR(a, b) lt__check_str(__FILE__, __LINE__, #a, #b, (a), (b))
#define LT_EQ_MEM(a, alen, b, blen) lt__check_mem(__FILE__, __LINE__, #a, #b, (const char *)(a), (alen), \
                                                  (const char *)(b), (blen))

/* Runs one test case: names it in failure lines and reports it on stdout. */
#define LT_RUN(fn) lt__run(#fn, fn)
static inline void lt__run(const char *name, void (*fn)(void))
{
    long before = lt__failures;
    lt__case = name;
    fn();
    lt__case = "";
    lt__printf(1, "%s %s\n", lt__failures == before ? "ok  " : "FAIL", name);
}

/* A checking test allocator over malloc, for the table tests. The page
 * allocator's mmap memory is invisible to ASan and valgrind (a whole page is
 * addressable, whatever was asked for), so tables run on this one instead:
 * each block is a malloc block of exactly the requested size, and each free
 * is checked against that size (lt_alloc_t callers must pass it back, and the
 * page allocator would silently unmap the wrong length). Unlike the checks
 * above, this allocates, by design; it is not for use inside hooks. */
#define LT__HEAP_HEADER 16      /* keeps malloc's 16-byte alignment */
static long lt_test_heap_live;  /* blocks not yet freed */

static inline void *lt__heap_alloc(void *ctx, size_t size)
{
    (void)ctx;
    /* Refuse what no test needs: sanitizers abort on absurd sizes. */
    if (size > ((size_t)1 << 36))
        return NULL;
    unsigned char *b = calloc(1, LT__HEAP_HEADER + size);
    if (b == NULL)
        return NULL;
    memcpy(b, &size, sizeof(size));
    lt_test_heap_live++;
    return b + LT__HEAP_HEADER;
}

static inline void lt__heap_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    unsigned char *b = (unsigned char *)ptr - LT__HEAP_HEADER;
    size_t asked;
    memcpy(&asked, b, sizeof(asked));
    lt__check_uint(__FILE__, __LINE__, "size passed to free", LT__EQ, "size allocated", size, asked);
    lt_test_heap_live--;
    free(b);
}

static const lt_alloc_t lt_test_heap = {lt__heap_alloc, lt__heap_free, NULL};

/* Prints the totals; returns the process exit status (0 only if all passed). */
static inline int lt_test_done(void)
{
    lt__check_int(__FILE__, __LINE__, "lt_test_heap_live", LT__EQ, "0", lt_test_heap_live, 0);
    lt__printf(lt__failures ? 2 : 1, "checks: %ld passed, %ld failed\n", lt__checks - lt__failures, lt__failures);
    return lt__failures ? 1 : 0;
}

#endif
