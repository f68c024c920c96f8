/* From checkpoints to findings: the series of a run, the trend test of each
 * candidate (types, sites, descriptors, threads, native residue), and for
 * the ones that grow, the objects' holder paths and allocation sites, the
 * category and the hint; then the report model, written as text, JSON and
 * HTML. Memory for the series comes from lt_page_alloc, so the allocation
 * tracker never records leaktrace's own bookkeeping as the program's. */
#ifndef LT_FINDINGS_H
#define LT_FINDINGS_H

#include "lt_compat.h"

#include "alloc.h"
#include "capture.h"
#include "intern.h"
#include "report.h"
#include "strbuf.h"
#include "timeline.h"

typedef struct lt_findings_cp lt_findings_cp_t;

/* Every checkpoint of a run: the series the analysis tests (the timeline)
 * and the process numbers the report plots. GIL held for every call. */
typedef struct lt_findings {
    lt_timeline_t timeline;
    lt_findings_cp_t *cps;      /* lt_page_alloc */
    size_t n, cap;
    /* For the warnings (SCENARIOS.md 13 and 14), set by the session: the
     * largest single object seen at a checkpoint and the deepest stack. */
    double largest_bytes;
    char largest_type[160];
    double largest_at;          /* seconds since the start */
    long deepest;               /* Python frames of one thread */
    double deepest_at;
    /* For a replayed capture: the flame graph's stacks (borrowed; must
     * outlive lt_findings_report), or NULL: the live tracker's are used. */
    const lt_report_flame_t *flame;
    size_t nflame;
    uint64_t taken;             /* checkpoints added (cps keeps at most LT_FINDINGS_MAX_POINTS) */
    /* Set by the repeated checks (repeat_py.c), NULL for `run`: the
     * candidates decided by lt_repeatcheck, used instead of the timeline's
     * trend tests (borrowed, kept by the caller during the report); and a
     * tuple of str: holder paths with an element containing one of them
     * are the test harness's (pytest's frames, a fixture's value), not the
     * program's (borrowed). */
    const lt_analysis_t *given;
    PyObject *ours;
    /* The interpreter's library directories (list of str, or NULL), read
     * at init: importing sysconfig at report time would run bytecode, and
     * let the program run, between the final checkpoint and the samples. */
    PyObject *stdlib_dirs;
} lt_findings_t;

/* The process numbers kept for the report's plots: when full, every other
 * one is dropped (the first always stays), so a process watched for days
 * costs a bounded amount (the timeline bounds the series the same way). */
#define LT_FINDINGS_MAX_POINTS 1024

/* Returns 0 or LT_ENOMEM. GIL held (reads sysconfig's paths; failing
 * that, the report reads them). */
int lt_findings_init(lt_findings_t *f);
void lt_findings_clear(lt_findings_t *f);

/* Records the state of one checkpoint (rows copied). 0 or LT_ENOMEM. */
int lt_findings_add(lt_findings_t *f, const lt_capture_checkpoint_t *cp);
size_t lt_findings_count(const lt_findings_t *f);
/* The numbers of the newest checkpoint (all 0 before the first). */
void lt_findings_last(const lt_findings_t *f, double *rss, double *heap, double *fds, double *threads);
/* RSS at the first and last checkpoint and the time between them. */
void lt_findings_rss(const lt_findings_t *f, double *first, double *last, double *span);

/* Analyses the run and writes the reports named in `outputs` ("json",
 * "html", "text" paths; text None: stderr; "color", "quiet",
 * "max_findings"). `names` gives the census rows' type names; `warm` is the
 * Checkpoint taken at the end of the warm-up (or NULL/None) and `final`
 * the one taken just before: the objects of a growing type alive at
 * `final` but not at `warm` are sampled, and their holder paths and
 * allocation sites (from the tracker) looked up while they are alive. Returns the verdict as a new str, or NULL with
 * an exception set (a report file that cannot be written). */
PyObject *lt_findings_report(lt_findings_t *f, const lt_intern_t *names, PyObject *warm, PyObject *final,
                             PyObject *argv, PyObject *outputs, double duration);

/* The same analysis, but the report model goes to sink(report, ctx)
 * instead of the outputs' files (the control socket renders it into a
 * buffer); sink returns 0, or -1 with an exception set. outputs is still
 * read for "max_findings". */
typedef int (*lt_findings_sink_t)(const lt_report_t *r, void *ctx);
PyObject *lt_findings_report_to(lt_findings_t *f, const lt_intern_t *names, PyObject *warm, PyObject *final,
                                PyObject *argv, PyObject *outputs, double duration, lt_findings_sink_t sink,
                                void *ctx);

/* Renders a report model as "json", "text" (no color) or "html" into out,
 * with the program's source lines read from its files for text and HTML.
 * 0, or -1 with an exception set. */
int lt_findings_render(const lt_report_t *r, const char *format, lt_strbuf_t *out);

#endif
