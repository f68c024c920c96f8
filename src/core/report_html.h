/* The HTML report writer: one self-contained page (no network, no external
 * fonts or scripts) with the verdict, a memory timeline, the findings as
 * cards with their holder paths and tracebacks, and a flame graph of live
 * bytes by allocation site. The page's text lives in report_template.html,
 * compiled in at build time (see meson.build and report_template.py). */
#ifndef LT_REPORT_HTML_H
#define LT_REPORT_HTML_H

#include "report.h"
#include "report_text.h"        /* lt_report_source_t */
#include "strbuf.h"

#include <stddef.h>

/* Appends the whole page to out. Text taken from the program (type names,
 * paths, hints, file and function names, argv, source lines from src) is
 * HTML-escaped and cut to a display length; the charts are drawn by the
 * page's own script from two embedded JSON blocks, the report-1 document
 * (script#lt-report, exactly lt_report_write_json's output) and the flame
 * stacks (script#lt-flame-data), in which every '<' is written as \u003c so
 * no string can close the block. A Content-Security-Policy allows only the
 * page's own script and style, so even a missed escape could not run code.
 * src may be NULL (no source lines shown).
 *
 * Returns 0; LT_EINVAL when r or out is NULL, r->verdict is NULL, or an array
 * with a non-zero count is NULL (including r->flame and a flame entry's
 * frames); LT_ENOMEM when out cannot grow. On error the text of out is as it
 * was before the call. Allocates only through out's allocator (a scratch
 * buffer for the embedded JSON, freed before returning). Not thread-safe
 * with respect to out. */
int lt_report_write_html(const lt_report_t *r, lt_strbuf_t *out, const lt_report_source_t *src);

/* Appends s HTML-escaped, safe in element text and in a quoted attribute
 * value: & < > " ' as character references, control characters as their
 * Unicode control pictures (tab and newline kept), C1 and bidirectional
 * controls as the visible text \uXXXX, ill-formed UTF-8 as U+FFFD; cut after
 * `max` bytes of input at a character boundary, with "…" appended. NULL
 * appends nothing. Returns 0 or LT_ENOMEM (out's text unchanged). */
int lt_report_html_escape(lt_strbuf_t *out, const char *s, size_t max);

#endif
