/* The Prometheus text exposition format (version 0.0.4): metric families
 * with their HELP and TYPE lines, and samples with escaped label values, so
 * that a running program's numbers can be scraped by an existing
 * Prometheus/Grafana setup (docs/production.md). */
#ifndef LT_PROM_H
#define LT_PROM_H

#include "strbuf.h"

#include <stddef.h>

/* The Content-Type of the format, for an HTTP answer. */
#define LT_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* 1 when name is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), else 0.
 * Label names follow the same rule without ':' and must not start with
 * "__" (reserved): lt_prom_label_name_ok. Pure. */
int lt_prom_metric_name_ok(const char *name);
int lt_prom_label_name_ok(const char *name);

/* Appends a family's "# HELP name help" and "# TYPE name type" lines.
 * type is "gauge", "counter" or "untyped"; help is escaped ('\\' and
 * newline as \\ and \n). Returns 0, LT_EINVAL (bad name or type, NULL
 * arguments) or LT_ENOMEM; on error out's text is as before. */
int lt_prom_family(lt_strbuf_t *out, const char *name, const char *type, const char *help);

/* Appends one sample line: name, then {k="v",...} when nlabels > 0
 * (labels holds nlabels key/value pairs: labels[2i] the name, labels[2i+1]
 * the value, any UTF-8; '\\', '"' and newline are escaped), then the value:
 * NaN, +Inf, -Inf, or the shortest decimal that reads back as the same
 * double. Returns 0, LT_EINVAL (a bad metric or label name, a NULL value)
 * or LT_ENOMEM; on error out's text is as before. */
int lt_prom_sample(lt_strbuf_t *out, const char *name, const char *const *labels, size_t nlabels, double value);

#endif
