/* The terminal report writer: the verdict, then one short block per finding,
 * then the warnings, with every string taken from the program made safe to
 * print; and the number formats that the HTML writer shares with it. */
#ifndef LT_REPORT_TEXT_H
#define LT_REPORT_TEXT_H

#include "report.h"
#include "strbuf.h"

#include <stddef.h>
#include <stdint.h>

/* Where the writers find the text of a source line; optional everywhere
 * (a NULL lt_report_source_t, or a NULL source_line, shows no source). */
typedef struct lt_report_source {
    /* Returns line `line` (1-based) of `file`, or NULL when it is unknown.
     * The string is borrowed: it must stay valid until the next call or until
     * the writer returns, whichever comes first; the writer copies what it
     * shows (trimmed, sanitised, cut to a display length). Called on the
     * writer's thread, only with strings and numbers taken from the report. */
    const char *(*source_line)(const char *file, int64_t line, void *ctx);
    void *ctx;
} lt_report_source_t;

/* Longest piece of one program-derived string shown, in bytes of input;
 * longer ones are cut at a character boundary and end in "…". */
#define LT_REPORT_TEXT_MAX_NAME 200
#define LT_REPORT_TEXT_MAX_PATH_ELEMENT 100
#define LT_REPORT_TEXT_MAX_HINT 1000

/* Appends the report for a terminal to out:
 *
 *   LEAK (confidence 0.97) after 30.0 s
 *     python 3.11.7: app.py --port 8080
 *
 *   #1 billing.Invoice  objects, unbounded-container, confidence 0.95
 *      growth   +25,500 objects, +2.4 MiB
 *      rate     850 objects/s, 81.9 KiB/s
 *      site     billing/invoice.py:42 in create_invoice
 *               | invoice = Invoice(customer, items)
 *      held by  sys.modules → billing → _cache
 *      hint     ...
 *
 *   warnings
 *     short-run: ...
 *
 * (the verdict line reads "no leak found (confidence 0.90) after 30.0 s" or
 * "inconclusive: <advice>" for the other verdicts). ANSI colour and bold are
 * added only when color != 0. Every string from the report or from src is
 * sanitised: control characters are shown as their Unicode control pictures
 * (ESC as U+241B), C1 controls and bidirectional controls as \uXXXX,
 * ill-formed UTF-8 as U+FFFD, so the program under test can neither move the
 * cursor, recolour, retitle the terminal nor fake a line of the report.
 * src may be NULL.
 *
 * Returns 0; LT_EINVAL when r or out is NULL, r->verdict is NULL, or an array
 * with a non-zero count is NULL; LT_ENOMEM when out cannot grow. On error the
 * text of out is as it was before the call. Allocates only through out's
 * allocator. Not thread-safe with respect to out. */
int lt_report_write_text(const lt_report_t *r, lt_strbuf_t *out, int color, const lt_report_source_t *src);

/* Number formats shared by the text and HTML writers. Each writes a
 * NUL-terminated string into buf (cut to size; 32 bytes is always enough)
 * and returns its length, snprintf-style. Non-finite values are written
 * as "?"; `plus` adds a "+" in front of positive values.
 *
 * bytes: binary units, one decimal from KiB up ("512 B", "2.4 MiB").
 * count: thousands separated by commas ("25,500").
 * rate:  a per-second rate with three significant digits, at most two
 *        decimals ("850", "8.50", "0.85"). */
int lt_report_text_format_bytes(char *buf, size_t size, double bytes, int plus);
int lt_report_text_format_count(char *buf, size_t size, int64_t n, int plus);
int lt_report_text_format_rate(char *buf, size_t size, double v);

#endif
