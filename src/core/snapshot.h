/* A snapshot of a running program for the control socket's `snapshot`
 * command: a fresh census by type (count, bytes, and the change since
 * production mode started) and the process numbers, written as JSON
 * ("leaktrace/snapshot-1", docs/production.md) or as a text table. */
#ifndef LT_SNAPSHOT_H
#define LT_SNAPSHOT_H

#include "strbuf.h"

#include <stddef.h>
#include <stdint.h>

#define LT_SNAPSHOT_SCHEMA "leaktrace/snapshot-1"

typedef struct lt_snapshot_row {
    const char *type;           /* UTF-8, NUL-terminated; borrowed */
    int64_t count, bytes;
    int64_t count_delta, bytes_delta;  /* since the baseline */
} lt_snapshot_row_t;

typedef struct lt_snapshot {
    uint64_t pid;
    double uptime_s;            /* since production mode started */
    uint64_t rss_bytes;
    uint64_t heap_bytes;        /* the census's total */
    uint64_t objects;           /* the census's object count */
    uint64_t fds, threads;
    uint64_t checkpoints;
    lt_snapshot_row_t *rows;    /* borrowed; lt_snapshot_sort reorders it */
    size_t nrows;
    size_t top;                 /* write at most this many rows (0: all) */
} lt_snapshot_t;

/* Orders rows by bytes, largest first, then by count, then by type name.
 * Pure; no allocation. */
void lt_snapshot_sort(lt_snapshot_row_t *rows, size_t n);

/* Append the snapshot (the first `top` rows as they are ordered) as one
 * JSON document ending in a newline, or as text. Return 0, LT_EINVAL
 * (NULL arguments, rows NULL with nrows > 0) or LT_ENOMEM; on error out's
 * text is as before. Allocate only through out's allocator. */
int lt_snapshot_write_json(const lt_snapshot_t *s, lt_strbuf_t *out);
int lt_snapshot_write_text(const lt_snapshot_t *s, lt_strbuf_t *out);

#endif
