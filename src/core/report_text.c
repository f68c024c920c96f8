/* The terminal report writer and the number formats it shares with the HTML
 * writer. */
#include "report_text.h"
#include "errors.h"
#include "utf8.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ANSI styles, used only when colour is asked for. */
#define SGR_RESET "\033[0m"
#define SGR_BOLD "\033[1m"
#define SGR_DIM "\033[2m"
#define SGR_RED "\033[1;31m"
#define SGR_GREEN "\033[1;32m"
#define SGR_YELLOW "\033[1;33m"
#define SGR_CYAN "\033[36m"

/* A sticky-error writer (as in report_json.c): appends after the first
 * failure are no-ops; the caller's text is restored once, at the end. */
typedef struct tw {
    lt_strbuf_t *out;
    int rc;
    int color;
} tw_t;

static void tw_raw(tw_t *w, const char *s, size_t len)
{
    if (w->rc == 0)
        w->rc = lt_strbuf_append(w->out, s, len);
}

static void tw_puts(tw_t *w, const char *s)
{
    tw_raw(w, s, strlen(s));
}

/* An ANSI style, or nothing without colour. */
static void tw_sgr(tw_t *w, const char *sgr)
{
    if (w->color)
        tw_puts(w, sgr);
}

/* Appends s[0..len), a program-derived string, made harmless for a terminal
 * (see the header) and cut after `max` bytes of input. Plain runs go in one
 * piece. */
static void tw_safe_n(tw_t *w, const char *s, size_t len, size_t max)
{
    size_t i = 0, run = 0;
    while (i < len && w->rc == 0) {
        if (i >= max) {
            tw_raw(w, s + run, i - run);
            tw_puts(w, "\xe2\x80\xa6");         /* … */
            return;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) {
            i++;
            continue;
        }
        uint32_t cp = c;
        int valid = 1;
        size_t n = 1;
        if (c >= 0x80) {
            n = lt_utf8_decode(s + i, len - i, &cp, &valid);
            if (valid && cp > 0x9f && !lt_utf8_is_bidi_control(cp)) {
                i += n;
                continue;
            }
        }
        tw_raw(w, s + run, i - run);
        if (c == '\t') {
            tw_raw(w, " ", 1);
        } else if (cp < 0x20) {
            char pic[3] = {'\xe2', '\x90', (char)(0x80 + cp)};  /* U+2400 + cp */
            tw_raw(w, pic, 3);
        } else if (cp == 0x7f) {
            tw_puts(w, "\xe2\x90\xa1");         /* ␡ */
        } else if (!valid) {
            tw_puts(w, "\xef\xbf\xbd");         /* U+FFFD */
        } else if (w->rc == 0) {
            w->rc = lt_strbuf_printf(w->out, "\\u%04" PRIx32, cp);
        }
        i += n;
        run = i;
    }
    tw_raw(w, s + run, len - run);
}

static void tw_safe(tw_t *w, const char *s, size_t max)
{
    if (s != NULL)
        tw_safe_n(w, s, strlen(s), max);
}

/* Formats into a stack buffer and appends (for numbers only). */
static void tw_printf(tw_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tw_printf(tw_t *w, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* Only short formats are used; a cut one is a bug to be seen in the
     * tests, not text to be lost quietly. */
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        if (w->rc == 0)
            w->rc = n < 0 ? LT_EINVAL : LT_ERANGE;
        return;
    }
    tw_raw(w, buf, (size_t)n);
}

/* printf's %f follows LC_NUMERIC; the report always uses '.', so that
 * "2.4 MiB" never reads "2,4 MiB" next to a count grouped with commas. */
static int fmt_fix_point(char *buf, int n)
{
    const char *dp = localeconv()->decimal_point;
    if (n <= 0 || dp == NULL || strcmp(dp, ".") == 0 || dp[0] == '\0')
        return n;
    size_t dplen = strlen(dp);
    char *at = strstr(buf, dp);
    if (at == NULL)
        return n;
    *at = '.';
    memmove(at + 1, at + dplen, strlen(at + dplen) + 1);
    return n - (int)dplen + 1;
}

int lt_report_text_format_bytes(char *buf, size_t size, double bytes, int plus)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (!isfinite(bytes))
        return snprintf(buf, size, "?");
    const char *sign = bytes < 0 ? "-" : plus && bytes > 0 ? "+" : "";
    double v = fabs(bytes);
    if (v < 1024)
        return snprintf(buf, size, "%s%.0f B", sign, v);
    size_t u = 0;
    v /= 1024;
    /* 1023.95 would print as "1024.0": move up a unit first. */
    while (v >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    return fmt_fix_point(buf, snprintf(buf, size, "%s%.1f %s", sign, v, units[u]));
}

int lt_report_text_format_count(char *buf, size_t size, int64_t n, int plus)
{
    /* The magnitude as unsigned, so that INT64_MIN has one too. */
    uint64_t m = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    char digits[32];
    size_t len = 0;
    int k = 0;
    do {
        if (k > 0 && k % 3 == 0)
            digits[len++] = ',';
        digits[len++] = (char)('0' + m % 10);
        m /= 10;
        k++;
    } while (m > 0);
    char text[40];
    size_t t = 0;
    if (n < 0)
        text[t++] = '-';
    else if (plus && n > 0)
        text[t++] = '+';
    while (len > 0)
        text[t++] = digits[--len];
    text[t] = '\0';
    return snprintf(buf, size, "%s", text);
}

int lt_report_text_format_rate(char *buf, size_t size, double v)
{
    if (!isfinite(v))
        return snprintf(buf, size, "?");
    double a = fabs(v);
    int decimals = a >= 99.95 ? 0 : a >= 9.995 ? 1 : 2;
    return fmt_fix_point(buf, snprintf(buf, size, "%.*f", decimals, v));
}

/* "0.97", or "?" when the analysis produced no number. */
static void tw_fixed(tw_t *w, double v, int decimals)
{
    char buf[64];
    if (!isfinite(v) || fabs(v) > 1e15) {
        tw_puts(w, "?");
        return;
    }
    int n = snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    tw_raw(w, buf, (size_t)fmt_fix_point(buf, n));
}

/* Nouns for a finding's count and count rate, by its "what". */
static void leak_nouns(const char *what, const char **count, const char **rate)
{
    *count = "";
    *rate = "/s";
    if (what == NULL)
        return;
    if (strcmp(what, LT_WHAT_OBJECTS) == 0) {
        *count = " objects";
        *rate = " objects/s";
    } else if (strcmp(what, LT_WHAT_MEMORY) == 0 || strcmp(what, LT_WHAT_NATIVE) == 0) {
        *count = " allocations";
        *rate = " allocations/s";
    } else if (strcmp(what, LT_WHAT_RESOURCE) == 0) {
        *count = " handles";
        *rate = " handles/s";
    }
}

/* A label column of the finding block: "   growth   ". */
static void tw_label(tw_t *w, const char *label)
{
    char pad[16];
    size_t n = strlen(label);
    tw_puts(w, "   ");
    tw_sgr(w, SGR_DIM);
    tw_puts(w, label);
    tw_sgr(w, SGR_RESET);
    memset(pad, ' ', sizeof(pad));
    tw_raw(w, pad, n < 9 ? 9 - n : 1);
}

/* Leading and trailing blanks of a source line are not worth showing. */
static void tw_source(tw_t *w, const lt_report_source_t *src, const char *file, int64_t line)
{
    if (src == NULL || src->source_line == NULL || file == NULL)
        return;
    const char *text = src->source_line(file, line, src->ctx);
    if (text == NULL)
        return;
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n'
                       || text[len - 1] == '\r'))
        len--;
    if (len == 0)
        return;
    tw_puts(w, "            ");
    tw_sgr(w, SGR_DIM);
    tw_puts(w, "| ");
    tw_sgr(w, SGR_RESET);
    tw_safe_n(w, text, len, LT_REPORT_TEXT_MAX_NAME);
    tw_puts(w, "\n");
}

static void tw_leak(tw_t *w, size_t index, const lt_report_leak_t *l, const lt_report_source_t *src)
{
    char a[40], b[40];
    const char *count_noun, *rate_noun;
    leak_nouns(l->what, &count_noun, &rate_noun);

    tw_sgr(w, SGR_BOLD);
    tw_printf(w, "#%zu ", index + 1);
    tw_safe(w, l->type, LT_REPORT_TEXT_MAX_NAME);
    tw_sgr(w, SGR_RESET);
    tw_puts(w, "  ");
    tw_sgr(w, SGR_DIM);
    tw_safe(w, l->what, LT_REPORT_TEXT_MAX_NAME);
    tw_puts(w, ", ");
    tw_safe(w, l->category, LT_REPORT_TEXT_MAX_NAME);
    tw_puts(w, ", confidence ");
    tw_fixed(w, l->confidence, 2);
    tw_sgr(w, SGR_RESET);
    tw_puts(w, "\n");

    tw_label(w, "growth");
    int parts = 0;
    if (l->count_delta != 0) {
        lt_report_text_format_count(a, sizeof(a), l->count_delta, 1);
        tw_puts(w, a);
        tw_puts(w, count_noun);
        parts++;
    }
    if (l->bytes_delta != 0) {
        lt_report_text_format_bytes(b, sizeof(b), (double)l->bytes_delta, 1);
        tw_puts(w, parts ? ", " : "");
        tw_puts(w, b);
        parts++;
    }
    tw_puts(w, parts ? "\n" : "+0\n");

    int has_count_rate = isfinite(l->count_per_second) && l->count_per_second != 0;
    int has_bytes_rate = isfinite(l->bytes_per_second) && l->bytes_per_second != 0;
    if (has_count_rate || has_bytes_rate) {
        tw_label(w, "rate");
        if (has_count_rate) {
            lt_report_text_format_rate(a, sizeof(a), l->count_per_second);
            tw_puts(w, a);
            tw_puts(w, rate_noun);
        }
        if (has_bytes_rate) {
            lt_report_text_format_bytes(b, sizeof(b), l->bytes_per_second, 0);
            tw_puts(w, has_count_rate ? ", " : "");
            tw_puts(w, b);
            tw_puts(w, "/s");
        }
        tw_puts(w, "\n");
    }

    if (l->has_alloc_site) {
        tw_label(w, "site");
        tw_sgr(w, SGR_CYAN);
        tw_safe(w, l->alloc_site.file, LT_REPORT_TEXT_MAX_NAME);
        tw_printf(w, ":%" PRId64, l->alloc_site.line);
        tw_sgr(w, SGR_RESET);
        tw_puts(w, " in ");
        tw_safe(w, l->alloc_site.function, LT_REPORT_TEXT_MAX_NAME);
        tw_puts(w, "\n");
        tw_source(w, src, l->alloc_site.file, l->alloc_site.line);
    }

    if (l->nholder_path > 0) {
        tw_label(w, "held by");
        for (size_t i = 0; i < l->nholder_path; i++) {
            if (i > 0)
                tw_puts(w, " \xe2\x86\x92 ");    /* → */
            tw_safe(w, l->holder_path[i], LT_REPORT_TEXT_MAX_PATH_ELEMENT);
        }
        tw_puts(w, "\n");
    }

    if (l->hint != NULL && l->hint[0] != '\0') {
        tw_label(w, "hint");
        tw_safe(w, l->hint, LT_REPORT_TEXT_MAX_HINT);
        tw_puts(w, "\n");
    }
}

/* The verdict line: "LEAK (confidence 0.97) after 30.0 s". */
static void tw_verdict(tw_t *w, const lt_report_t *r)
{
    const char *v = r->verdict;
    if (strcmp(v, LT_VERDICT_INCONCLUSIVE) == 0) {
        tw_sgr(w, SGR_YELLOW);
        tw_puts(w, "inconclusive");
        tw_sgr(w, SGR_RESET);
        if (r->advice != NULL && r->advice[0] != '\0') {
            tw_puts(w, ": ");
            tw_safe(w, r->advice, LT_REPORT_TEXT_MAX_HINT);
        } else {
            tw_puts(w, " after ");
            tw_fixed(w, r->duration_s, 1);
            tw_puts(w, " s");
        }
        tw_puts(w, "\n");
        return;
    }
    if (strcmp(v, LT_VERDICT_LEAK) == 0) {
        tw_sgr(w, SGR_RED);
        tw_puts(w, "LEAK");
    } else if (strcmp(v, LT_VERDICT_NO_LEAK) == 0) {
        tw_sgr(w, SGR_GREEN);
        tw_puts(w, "no leak found");
    } else {
        tw_sgr(w, SGR_BOLD);
        tw_safe(w, v, LT_REPORT_TEXT_MAX_NAME);
    }
    tw_sgr(w, SGR_RESET);
    tw_puts(w, " (confidence ");
    tw_fixed(w, r->confidence, 2);
    tw_puts(w, ") after ");
    tw_fixed(w, r->duration_s, 1);
    tw_puts(w, " s\n");
}

/* "  python 3.11.7: app.py --port 8080"; arguments with blanks quoted. */
static void tw_command(tw_t *w, const lt_report_t *r)
{
    int has_python = r->python != NULL && r->python[0] != '\0';
    if (!has_python && r->argc == 0)
        return;
    tw_sgr(w, SGR_DIM);
    tw_puts(w, "  ");
    if (has_python) {
        tw_puts(w, "python ");
        tw_safe(w, r->python, LT_REPORT_TEXT_MAX_PATH_ELEMENT);
        tw_puts(w, r->argc > 0 ? ": " : "");
    }
    for (size_t i = 0; i < r->argc; i++) {
        const char *arg = r->argv[i] != NULL ? r->argv[i] : "";
        int quote = arg[0] == '\0' || strpbrk(arg, " \t") != NULL;
        tw_puts(w, i > 0 ? " " : "");
        tw_puts(w, quote ? "'" : "");
        tw_safe(w, arg, LT_REPORT_TEXT_MAX_NAME);
        tw_puts(w, quote ? "'" : "");
    }
    tw_sgr(w, SGR_RESET);
    tw_puts(w, "\n");
}

static int text_check(const lt_report_t *r)
{
    if (r->verdict == NULL || (r->argc > 0 && r->argv == NULL) || (r->nleaks > 0 && r->leaks == NULL)
        || (r->nwarnings > 0 && r->warnings == NULL))
        return LT_EINVAL;
    for (size_t i = 0; i < r->nleaks; i++) {
        const lt_report_leak_t *l = &r->leaks[i];
        if ((l->ntraceback > 0 && l->traceback == NULL) || (l->nholder_path > 0 && l->holder_path == NULL))
            return LT_EINVAL;
    }
    return 0;
}

int lt_report_write_text(const lt_report_t *r, lt_strbuf_t *out, int color, const lt_report_source_t *src)
{
    if (r == NULL || out == NULL)
        return LT_EINVAL;
    int rc = text_check(r);
    if (rc < 0)
        return rc;
    tw_t w = {out, 0, color != 0};
    size_t mark = out->len;

    tw_verdict(&w, r);
    tw_command(&w, r);
    for (size_t i = 0; i < r->nleaks; i++) {
        tw_puts(&w, "\n");
        tw_leak(&w, i, &r->leaks[i], src);
    }
    if (r->nwarnings > 0) {
        tw_puts(&w, "\n");
        tw_sgr(&w, SGR_YELLOW);
        tw_puts(&w, "warnings");
        tw_sgr(&w, SGR_RESET);
        tw_puts(&w, "\n");
        for (size_t i = 0; i < r->nwarnings; i++) {
            tw_puts(&w, "  ");
            tw_sgr(&w, SGR_YELLOW);
            tw_safe(&w, r->warnings[i].kind, LT_REPORT_TEXT_MAX_NAME);
            tw_sgr(&w, SGR_RESET);
            tw_puts(&w, ": ");
            tw_safe(&w, r->warnings[i].message, LT_REPORT_TEXT_MAX_HINT);
            tw_puts(&w, "\n");
        }
    }
    if (r->advice != NULL && r->advice[0] != '\0' && strcmp(r->verdict, LT_VERDICT_INCONCLUSIVE) != 0) {
        tw_puts(&w, "\nadvice: ");
        tw_safe(&w, r->advice, LT_REPORT_TEXT_MAX_HINT);
        tw_puts(&w, "\n");
    }

    if (w.rc < 0 && out->data != NULL) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return w.rc;
}
