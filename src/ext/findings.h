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
} lt_findings_t;

/* Returns 0 or LT_ENOMEM. */
int lt_findings_init(lt_findings_t *f);
void lt_findings_clear(lt_findings_t *f);

/* Records the state of one checkpoint (rows copied). 0 or LT_ENOMEM. */
int lt_findings_add(lt_findings_t *f, const lt_capture_checkpoint_t *cp);
size_t lt_findings_count(const lt_findings_t *f);
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

#endif
