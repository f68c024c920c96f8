/* lt_snapshot: the control socket's on-demand census, ordered and written. */
#include "snapshot.h"

#include "errors.h"
#include "report_json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int row_cmp(const void *pa, const void *pb)
{
    const lt_snapshot_row_t *a = pa, *b = pb;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->type ? a->type : "", b->type ? b->type : "");
}

void lt_snapshot_sort(lt_snapshot_row_t *rows, size_t n)
{
    if (rows != NULL && n > 1)
        qsort(rows, n, sizeof(*rows), row_cmp);
}

static size_t shown(const lt_snapshot_t *s)
{
    return s->top > 0 && s->top < s->nrows ? s->top : s->nrows;
}

static int rollback(lt_strbuf_t *out, size_t len, int rc)
{
    if (rc < 0 && out->data != NULL) {
        out->len = len;
        out->data[len] = '\0';
    }
    return rc;
}

int lt_snapshot_write_json(const lt_snapshot_t *s, lt_strbuf_t *out)
{
    if (s == NULL || out == NULL || (s->rows == NULL && s->nrows > 0))
        return LT_EINVAL;
    size_t at = out->len;
    int rc = lt_strbuf_printf(out,
                              "{\"schema\": \"%s\", \"pid\": %" PRIu64 ", \"uptime_s\": ", LT_SNAPSHOT_SCHEMA,
                              s->pid);
    if (rc == 0)
        rc = lt_report_json_number(out, s->uptime_s);
    if (rc == 0)
        rc = lt_strbuf_printf(out,
                              ", \"checkpoints\": %" PRIu64 ", \"rss_bytes\": %" PRIu64 ", \"heap_bytes\": %" PRIu64
                              ", \"objects\": %" PRIu64 ", \"fds\": %" PRIu64 ", \"threads\": %" PRIu64
                              ", \"ntypes\": %zu, \"types\": [",
                              s->checkpoints, s->rss_bytes, s->heap_bytes, s->objects, s->fds, s->threads, s->nrows);
    size_t n = shown(s);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const lt_snapshot_row_t *r = &s->rows[i];
        rc = lt_strbuf_puts(out, i ? ",\n  {\"type\": " : "\n  {\"type\": ");
        if (rc == 0)
            rc = lt_report_json_string(out, r->type);
        if (rc == 0)
            rc = lt_strbuf_printf(out,
                                  ", \"count\": %" PRId64 ", \"bytes\": %" PRId64 ", \"count_delta\": %" PRId64
                                  ", \"bytes_delta\": %" PRId64 "}",
                                  r->count, r->bytes, r->count_delta, r->bytes_delta);
    }
    if (rc == 0)
        rc = lt_strbuf_puts(out, n ? "\n]}\n" : "]}\n");
    return rollback(out, at, rc);
}

/* Type names are the program's: control characters would move the
 * terminal's cursor, so they are shown as '?'. */
static int put_name(lt_strbuf_t *out, const char *name, size_t width)
{
    size_t at = out->len;
    size_t n = 0;
    for (const char *p = name ? name : "?"; *p; p++, n++) {
        char c = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
        int rc = lt_strbuf_append(out, &c, 1);
        if (rc < 0)
            return rollback(out, at, rc);
    }
    for (; n < width; n++) {
        int rc = lt_strbuf_append(out, " ", 1);
        if (rc < 0)
            return rollback(out, at, rc);
    }
    return 0;
}

int lt_snapshot_write_text(const lt_snapshot_t *s, lt_strbuf_t *out)
{
    if (s == NULL || out == NULL || (s->rows == NULL && s->nrows > 0))
        return LT_EINVAL;
    size_t at = out->len;
    int rc = lt_strbuf_printf(out,
                              "pid %" PRIu64 "  up %.1f s  %" PRIu64 " checkpoints  RSS %.1f MB  Python heap %.1f MB"
                              "  %" PRIu64 " objects  %" PRIu64 " fds  %" PRIu64 " threads\n"
                              "%-48s %12s %14s %12s %14s\n",
                              s->pid, s->uptime_s, s->checkpoints, (double)s->rss_bytes / 1e6,
                              (double)s->heap_bytes / 1e6, s->objects, s->fds, s->threads, "type", "count", "bytes",
                              "count +/-", "bytes +/-");
    size_t n = shown(s);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const lt_snapshot_row_t *r = &s->rows[i];
        rc = put_name(out, r->type, 48);
        if (rc == 0)
            rc = lt_strbuf_printf(out, " %12" PRId64 " %14" PRId64 " %+12" PRId64 " %+14" PRId64 "\n", r->count,
                                  r->bytes, r->count_delta, r->bytes_delta);
    }
    if (rc == 0 && n < s->nrows)
        rc = lt_strbuf_printf(out, "... %zu more types\n", s->nrows - n);
    return rollback(out, at, rc);
}
