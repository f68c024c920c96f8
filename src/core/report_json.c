/* The JSON report writer ("leaktrace/report-1") and its string and number
 * encoders. */
#include "report_json.h"
#include "errors.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A sticky-error writer: after the first failed append every later one is a
 * no-op, so the document is written straight through and checked once at the
 * end, where the caller's text is put back as it was. */
typedef struct jw {
    lt_strbuf_t *out;
    int rc;
} jw_t;

static void jw_raw(jw_t *w, const char *s, size_t len)
{
    if (w->rc == 0)
        w->rc = lt_strbuf_append(w->out, s, len);
}

static void jw_puts(jw_t *w, const char *s)
{
    jw_raw(w, s, strlen(s));
}

static void jw_string(jw_t *w, const char *s)
{
    if (w->rc == 0)
        w->rc = lt_report_json_string(w->out, s);
}

static void jw_number(jw_t *w, double v)
{
    if (w->rc == 0)
        w->rc = lt_report_json_number(w->out, v);
}

static void jw_int(jw_t *w, int64_t v)
{
    if (w->rc == 0)
        w->rc = lt_strbuf_printf(w->out, "%" PRId64, v);
}

/* `"key": ` at the given indentation (the previous member's comma is the
 * caller's). */
static void jw_key(jw_t *w, const char *indent, const char *key)
{
    jw_puts(w, indent);
    jw_string(w, key);
    jw_raw(w, ": ", 2);
}

static int json_rollback(lt_strbuf_t *out, size_t mark, int rc)
{
    if (rc < 0 && out->data != NULL) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

/* The escaping; on failure the caller rolls back. Runs of bytes that need no
 * escaping are appended in one piece. */
static int json_string_append(lt_strbuf_t *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int rc = lt_strbuf_append(out, "\"", 1);
    if (s == NULL || rc < 0)
        return rc < 0 ? rc : lt_strbuf_append(out, "\"", 1);
    size_t len = strlen(s);
    size_t run = 0;             /* start of the pending run of plain bytes */
    size_t i = 0;
    while (i < len && rc == 0) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;
            continue;
        }
        uint32_t cp;
        int valid = 1;
        size_t n = 1;
        if (c >= 0x80) {
            n = lt_utf8_decode(s + i, len - i, &cp, &valid);
            /* Well-formed text outside the escaped ranges stays in the run. */
            if (valid && cp > 0x9f && cp != 0x2028 && cp != 0x2029 && !lt_utf8_is_bidi_control(cp)) {
                i += n;
                continue;
            }
        } else {
            cp = c;
        }
        rc = lt_strbuf_append(out, s + run, i - run);
        if (rc < 0)
            break;
        char esc[6] = {'\\', 'u', '0', '0', '0', '0'};
        const char *text = esc;
        size_t tlen = 6;
        switch (cp) {
        case '"': text = "\\\""; tlen = 2; break;
        case '\\': text = "\\\\"; tlen = 2; break;
        case '\b': text = "\\b"; tlen = 2; break;
        case '\f': text = "\\f"; tlen = 2; break;
        case '\n': text = "\\n"; tlen = 2; break;
        case '\r': text = "\\r"; tlen = 2; break;
        case '\t': text = "\\t"; tlen = 2; break;
        case LT_UTF8_REPLACEMENT: text = "\xef\xbf\xbd"; tlen = 3; break;
        default:
            esc[2] = hex[(cp >> 12) & 0xF];
            esc[3] = hex[(cp >> 8) & 0xF];
            esc[4] = hex[(cp >> 4) & 0xF];
            esc[5] = hex[cp & 0xF];
            break;
        }
        rc = lt_strbuf_append(out, text, tlen);
        i += n;
        run = i;
    }
    if (rc == 0)
        rc = lt_strbuf_append(out, s + run, len - run);
    if (rc == 0)
        rc = lt_strbuf_append(out, "\"", 1);
    return rc;
}

int lt_report_json_string(lt_strbuf_t *out, const char *s)
{
    return json_rollback(out, out->len, json_string_append(out, s));
}

int lt_report_json_number(lt_strbuf_t *out, double v)
{
    if (!isfinite(v))
        return lt_strbuf_append(out, "null", 4);
    /* The shortest number of significant digits that reads back exactly (at
     * most 17 for a double); snprintf and strtod use the same locale, so the
     * round trip holds in any. */
    char buf[64];
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
        if (n < 0 || (size_t)n >= sizeof(buf))
            return LT_EINVAL;   /* cannot happen for a finite double */
        if (strtod(buf, NULL) == v)
            break;
    }
    /* Taken apart into digits and exponent (whatever the locale's decimal
     * point), then laid out as Python's repr() does: positional from 1e-4
     * up to 1e16, scientific outside, so the report's numbers read as the
     * same text as json.dumps would write them. */
    char digits[24];
    size_t nd = 0;
    const char *p = buf;
    int neg = *p == '-';
    if (neg)
        p++;
    for (; *p != '\0' && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof(digits))
            digits[nd++] = *p;
    long exp = *p == 'e' ? strtol(p + 1, NULL, 10) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;

    char num[64];
    size_t len = 0;
    if (neg)
        num[len++] = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            num[len++] = '0';
            num[len++] = '.';
            for (long z = -1; z > exp; z--)
                num[len++] = '0';
            memcpy(num + len, digits, nd);
            len += nd;
        } else {
            size_t whole = (size_t)exp + 1;
            for (size_t i = 0; i < whole; i++)
                num[len++] = i < nd ? digits[i] : '0';
            num[len++] = '.';
            if (nd > whole) {
                memcpy(num + len, digits + whole, nd - whole);
                len += nd - whole;
            } else {
                num[len++] = '0';
            }
        }
    } else {
        num[len++] = digits[0];
        if (nd > 1) {
            num[len++] = '.';
            memcpy(num + len, digits + 1, nd - 1);
            len += nd - 1;
        }
        int m = snprintf(num + len, sizeof(num) - len, "e%c%02ld", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        len += m > 0 ? (size_t)m : 0;
    }
    return lt_strbuf_append(out, num, len);
}

static void jw_frame(jw_t *w, const lt_report_frame_t *f)
{
    jw_puts(w, "{\"file\": ");
    jw_string(w, f->file);
    jw_puts(w, ", \"line\": ");
    jw_int(w, f->line);
    jw_puts(w, ", \"function\": ");
    jw_string(w, f->function);
    jw_puts(w, "}");
}

/* A series array on one line; NULL means "not measured": n nulls. */
static void jw_series(jw_t *w, const char *key, const double *v, size_t n, int last)
{
    jw_key(w, "    ", key);
    jw_puts(w, "[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            jw_raw(w, ", ", 2);
        jw_number(w, v != NULL ? v[i] : NAN);
    }
    jw_puts(w, last ? "]\n" : "],\n");
}

static void jw_leak(jw_t *w, const lt_report_leak_t *l)
{
    jw_puts(w, "    {\n");
    jw_key(w, "      ", "what");
    jw_string(w, l->what);
    jw_puts(w, ",\n");
    jw_key(w, "      ", "type");
    jw_string(w, l->type);
    jw_puts(w, ",\n");
    jw_key(w, "      ", "category");
    jw_string(w, l->category);
    jw_puts(w, ",\n");
    jw_key(w, "      ", "count_delta");
    jw_int(w, l->count_delta);
    jw_puts(w, ",\n");
    jw_key(w, "      ", "bytes_delta");
    jw_int(w, l->bytes_delta);
    jw_puts(w, ",\n");
    jw_key(w, "      ", "bytes_per_second");
    jw_number(w, l->bytes_per_second);
    jw_puts(w, ",\n");
    jw_key(w, "      ", "confidence");
    jw_number(w, l->confidence);
    jw_puts(w, ",\n");
    jw_key(w, "      ", "alloc_site");
    if (l->has_alloc_site)
        jw_frame(w, &l->alloc_site);
    else
        jw_puts(w, "null");
    jw_puts(w, ",\n");
    jw_key(w, "      ", "traceback");
    if (l->ntraceback == 0) {
        jw_puts(w, "[],\n");
    } else {
        jw_puts(w, "[\n");
        for (size_t i = 0; i < l->ntraceback; i++) {
            jw_puts(w, "        ");
            jw_frame(w, &l->traceback[i]);
            jw_puts(w, i + 1 < l->ntraceback ? ",\n" : "\n");
        }
        jw_puts(w, "      ],\n");
    }
    jw_key(w, "      ", "holder_path");
    jw_puts(w, "[");
    for (size_t i = 0; i < l->nholder_path; i++) {
        if (i > 0)
            jw_raw(w, ", ", 2);
        jw_string(w, l->holder_path[i]);
    }
    jw_puts(w, "],\n");
    jw_key(w, "      ", "hint");
    jw_string(w, l->hint);
    jw_puts(w, ",\n");
    jw_key(w, "      ", "x_count_per_second");
    jw_number(w, l->count_per_second);
    jw_puts(w, "\n    }");
}

/* The arrays the writer will index: a non-zero count with a NULL array is a
 * malformed report, refused before anything is written. */
static int json_check(const lt_report_t *r)
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

int lt_report_write_json(const lt_report_t *r, lt_strbuf_t *out)
{
    if (r == NULL || out == NULL)
        return LT_EINVAL;
    int rc = json_check(r);
    if (rc < 0)
        return rc;
    jw_t w = {out, 0};
    size_t mark = out->len;

    jw_puts(&w, "{\n");
    jw_key(&w, "  ", "schema");
    jw_string(&w, LT_REPORT_SCHEMA);
    jw_puts(&w, ",\n");
    jw_key(&w, "  ", "verdict");
    jw_string(&w, r->verdict);
    jw_puts(&w, ",\n");
    jw_key(&w, "  ", "confidence");
    jw_number(&w, r->confidence);
    jw_puts(&w, ",\n");
    jw_key(&w, "  ", "duration_s");
    jw_number(&w, r->duration_s);
    jw_puts(&w, ",\n");
    jw_key(&w, "  ", "python");
    jw_string(&w, r->python);
    jw_puts(&w, ",\n");
    jw_key(&w, "  ", "argv");
    jw_puts(&w, "[");
    for (size_t i = 0; i < r->argc; i++) {
        if (i > 0)
            jw_raw(&w, ", ", 2);
        jw_string(&w, r->argv[i]);
    }
    jw_puts(&w, "],\n");

    const lt_report_series_t *s = &r->series;
    jw_key(&w, "  ", "series");
    jw_puts(&w, "{\n");
    jw_series(&w, "t", s->t, s->n, 0);
    jw_series(&w, "rss", s->rss, s->n, 0);
    jw_series(&w, "heap", s->heap, s->n, 0);
    jw_series(&w, "fds", s->fds, s->n, 0);
    jw_series(&w, "threads", s->threads, s->n, 1);
    jw_puts(&w, "  },\n");

    jw_key(&w, "  ", "leaks");
    if (r->nleaks == 0) {
        jw_puts(&w, "[],\n");
    } else {
        jw_puts(&w, "[\n");
        for (size_t i = 0; i < r->nleaks; i++) {
            jw_leak(&w, &r->leaks[i]);
            jw_puts(&w, i + 1 < r->nleaks ? ",\n" : "\n");
        }
        jw_puts(&w, "  ],\n");
    }

    /* Extensions, after every contract key. */
    jw_key(&w, "  ", "warnings");
    if (r->nwarnings == 0) {
        jw_puts(&w, "[],\n");
    } else {
        jw_puts(&w, "[\n");
        for (size_t i = 0; i < r->nwarnings; i++) {
            jw_puts(&w, "    {\"kind\": ");
            jw_string(&w, r->warnings[i].kind);
            jw_puts(&w, ", \"message\": ");
            jw_string(&w, r->warnings[i].message);
            jw_puts(&w, i + 1 < r->nwarnings ? "},\n" : "}\n");
        }
        jw_puts(&w, "  ],\n");
    }
    jw_key(&w, "  ", "advice");
    if (r->advice != NULL)
        jw_string(&w, r->advice);
    else
        jw_puts(&w, "null");
    jw_puts(&w, "\n}\n");
    return json_rollback(out, mark, w.rc);
}
