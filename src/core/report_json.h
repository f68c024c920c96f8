/* The JSON report writer: the "leaktrace/report-1" document of
 * docs/report-schema.md, plus the JSON string and number encoders that the
 * HTML writer reuses for the data it embeds. */
#ifndef LT_REPORT_JSON_H
#define LT_REPORT_JSON_H

#include "report.h"
#include "strbuf.h"

#define LT_REPORT_SCHEMA "leaktrace/report-1"

/* Appends the report as one JSON document (UTF-8, ending in a newline) to
 * out. Keys come in the order of the schema, extensions ("warnings",
 * "advice", per leak "x_count_per_second") after the contract keys. The
 * output is always valid JSON (RFC 8259) and valid JavaScript: strings are
 * escaped as by lt_report_json_string, numbers as by lt_report_json_number.
 * NULL strings in the report are written as "" (advice as null); a series
 * array that is NULL while series.n > 0 is written as n nulls (not measured).
 *
 * Returns 0; LT_EINVAL when r or out is NULL, r->verdict is NULL, or an array
 * with a non-zero count is NULL (argv, leaks, warnings, a leak's traceback or
 * holder_path); LT_ENOMEM when out cannot grow. On error the text of out is
 * as it was before the call (its storage may have grown). Allocates only
 * through out's allocator; reads the report, never changes it. Not
 * thread-safe with respect to out. */
int lt_report_write_json(const lt_report_t *r, lt_strbuf_t *out);

/* Appends s as a JSON string literal, quotes included: '"' and '\\' and the
 * control characters U+0000..U+001F escaped (short forms \b \f \n \r \t
 * where they exist), U+007F..U+009F, U+2028/U+2029 and the bidirectional
 * controls written as \uXXXX (the same string to a parser, but harmless to
 * a terminal, legal inside a JavaScript string, and unable to reorder what
 * a reader of the file sees), each
 * ill-formed UTF-8 sequence replaced by U+FFFD. NULL is written as "".
 * Returns 0 or LT_ENOMEM (out's text unchanged). */
int lt_report_json_string(lt_strbuf_t *out, const char *s);

/* Appends v as a JSON number in the shortest form that reads back as the
 * same double, with ".0" added when it would otherwise look like an integer
 * (so float fields stay floats in every parser); NaN and the infinities,
 * which JSON cannot express, become null. The decimal point is '.' whatever
 * the C locale says. Returns 0 or LT_ENOMEM (out's text unchanged). */
int lt_report_json_number(lt_strbuf_t *out, double v);

#endif
