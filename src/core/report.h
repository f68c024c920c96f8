/* The report model: what `leaktrace run` / `report` found, independent of
 * how it is shown. The analysis (trend + classify) fills it; the writers
 * (report_json, report_text, report_html) render it. Mirrors the JSON
 * contract "leaktrace/report-1" of docs/report-schema.md field by field.
 *
 * Every string is UTF-8, NUL-terminated and owned by the report's arena
 * (`arena`); every array too. Nothing here is thread-safe. */
#ifndef LT_REPORT_H
#define LT_REPORT_H

#include "alloc.h"

#include <stddef.h>
#include <stdint.h>

/* The exact category strings of the JSON contract. */
#define LT_CAT_UNBOUNDED_CONTAINER "unbounded-container"
#define LT_CAT_REFERENCE_CYCLE "reference-cycle"
#define LT_CAT_UNCLOSED_RESOURCE "unclosed-resource"
#define LT_CAT_THREAD "thread"
#define LT_CAT_EXCEPTION_TRACEBACK "exception-traceback"
#define LT_CAT_CALLBACK_REGISTRATION "callback-registration"
#define LT_CAT_NATIVE "native"
#define LT_CAT_OTHER "other"

/* The "what" strings. */
#define LT_WHAT_OBJECTS "objects"
#define LT_WHAT_MEMORY "memory"
#define LT_WHAT_RESOURCE "resource"
#define LT_WHAT_NATIVE "native"

/* Verdicts. */
#define LT_VERDICT_LEAK "leak"
#define LT_VERDICT_NO_LEAK "no-leak"
#define LT_VERDICT_INCONCLUSIVE "inconclusive"

typedef struct lt_report_frame {
    const char *file;           /* as the program sees it */
    int64_t line;
    const char *function;
} lt_report_frame_t;

typedef struct lt_report_leak {
    const char *what;           /* LT_WHAT_* */
    const char *type;           /* "billing.Invoice", "dict", "fd", "threading.Thread", "native", ... */
    const char *category;       /* LT_CAT_* */
    int64_t count_delta;
    int64_t bytes_delta;
    double bytes_per_second;
    double confidence;          /* 0..1 */
    int has_alloc_site;         /* alloc_site is null in JSON when 0 */
    lt_report_frame_t alloc_site;  /* innermost frame in user code */
    const lt_report_frame_t *traceback;  /* innermost first */
    size_t ntraceback;
    const char *const *holder_path;      /* root first */
    size_t nholder_path;
    const char *hint;           /* plain words naming the program's symbols */
    /* Extensions beyond report-1 (written under "x_..." keys in JSON):
     * the count growth per second, for the text report's "850 entries/s". */
    double count_per_second;
} lt_report_leak_t;

/* Warnings that are not leaks (SCENARIOS.md 13 and 14). */
typedef struct lt_report_warning {
    const char *kind;           /* "huge-object", "deep-recursion", "short-run", ... */
    const char *message;
} lt_report_warning_t;

/* The time series of the run, one entry per checkpoint. */
typedef struct lt_report_series {
    size_t n;
    const double *t;            /* seconds since the start */
    const double *rss;          /* bytes */
    const double *heap;         /* Python heap bytes (census total) */
    const double *fds;          /* open descriptors */
    const double *threads;      /* OS threads */
} lt_report_series_t;

/* A flame-graph entry for the HTML report: live bytes of one stack. */
typedef struct lt_report_flame {
    const lt_report_frame_t *frames;    /* innermost first */
    size_t nframes;
    double live_bytes;
} lt_report_flame_t;

typedef struct lt_report {
    lt_arena_t arena;           /* owns every string and array below */
    const char *verdict;        /* LT_VERDICT_* */
    double confidence;
    double duration_s;
    const char *python;         /* "3.11.7" */
    const char *const *argv;
    size_t argc;
    lt_report_series_t series;
    const lt_report_leak_t *leaks;      /* most significant first */
    size_t nleaks;
    const lt_report_warning_t *warnings;
    size_t nwarnings;
    const lt_report_flame_t *flame;     /* optional, HTML only */
    size_t nflame;
    const char *advice;         /* for inconclusive: how long to run; else NULL */
} lt_report_t;

/* Makes an empty report whose arena draws from `a`. */
void lt_report_init(lt_report_t *r, const lt_alloc_t *a);
/* Frees everything the arena holds. */
void lt_report_release(lt_report_t *r);

/* Whether a frame's file (len bytes, not necessarily NUL-terminated) is
 * leaktrace's launcher: its own package or runpy, the outermost frames of
 * every stack of a program run under `leaktrace run`, cut from the flame
 * graph. */
int lt_report_launcher_file(const char *file, size_t len);

#endif
