/* leaktrace._core.RepeatCheck: checkpoints around repeated runs, the
 * decision of lt_repeatcheck on their per-run deltas, and the report. */
#include "repeat_py.h"

#include "census.h"
#include "errors.h"
#include "findings.h"
#include "heapwalk.h"
#include "intern.h"
#include "module.h"
#include "procfs.h"
#include "raise.h"
#include "repeatcheck.h"
#include "sitestats.h"
#include "strbuf.h"
#include "tracker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One checkpoint: what the decision and the report's plots need. Rows are
 * on lt_page_alloc pages owned by the check: a running Tracker must not
 * see the check's own bookkeeping as the code's allocations. */
typedef struct rc_cp {
    double t;                   /* lt_monotonic() */
    lt_capture_row_t *census;   /* by name id, ascending */
    size_t ncensus, census_cap;
    lt_capture_row_t *sites;    /* by tracker stack id, ascending */
    size_t nsites, sites_cap;
    uint64_t rss, heap, threads, fds;
    uint64_t fds_by_kind[LT_CAPTURE_FD_KINDS];
    double tasks;               /* live asyncio tasks */
} rc_cp_t;

typedef struct lt_repeat {
    PyObject_HEAD
    lt_repeatcheck_opts_t opts; /* opts.repeat: the runs measured, set by decide() */
    size_t cap;                 /* checkpoints at most: the most runs + 1 */
    int fds, threads, tasks, sites;
    PyObject *ignore;           /* tuple of str: type names, "prefix*" patterns */
    PyObject *ours;             /* tuple of str: holder-path elements of the harness */
    lt_intern_t names;          /* type names -> name id */
    uint32_t nnames;            /* ids are 0..nnames-1 */
    rc_cp_t *cps;               /* cap entries */
    size_t ncps;
    PyObject *first, *last;     /* Checkpoint before the first measured run and after the newest */
    /* The decision (decide()): series, their deltas and results. */
    lt_repeatcheck_series_t *series;
    lt_repeatcheck_result_t *results;
    double *deltas;
    size_t nseries;
} lt_repeat_t;

/* ---- checkpoints ------------------------------------------------------------ */

static int row_cmp(const void *a, const void *b)
{
    uint32_t x = ((const lt_capture_row_t *)a)->id, y = ((const lt_capture_row_t *)b)->id;
    return x < y ? -1 : x > y;
}

static int is_task_type(const char *name)
{
    return strcmp(name, "_asyncio.Task") == 0 || strcmp(name, "asyncio.tasks.Task") == 0 ||
           strcmp(name, "asyncio.tasks._PyTask") == 0;
}

/* The census rows by name id (sorted), and the live asyncio tasks. */
static int census_rows(lt_repeat_t *self, const lt_census_t *c, rc_cp_t *cp)
{
    cp->census_cap = c->nrows ? (size_t)c->nrows : 1;
    cp->census = lt_alloc(&lt_page_alloc, cp->census_cap * sizeof(lt_capture_row_t));
    if (cp->census == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < c->nrows; i++) {
        Py_ssize_t len;
        const char *u = PyUnicode_AsUTF8AndSize(c->rows[i].name, &len);
        if (u == NULL)
            return -1;
        uint32_t id;
        int rc = lt_intern_get_or_add(&self->names, u, (size_t)len, &id, NULL);
        if (rc < 0) {
            lt_raise(rc, "interning type names");
            return -1;
        }
        if (id + 1 > self->nnames)
            self->nnames = id + 1;
        if (is_task_type(u))
            cp->tasks += (double)c->rows[i].count;
        cp->census[cp->ncensus++] = (lt_capture_row_t){id, (uint64_t)c->rows[i].bytes, (uint64_t)c->rows[i].count};
    }
    qsort(cp->census, cp->ncensus, sizeof(lt_capture_row_t), row_cmp);
    return 0;
}

/* The tracker's live bytes per stack (rows come in stack id order). */
static int site_rows(rc_cp_t *cp)
{
    lt_sitestats_t st;
    lt_sitestats_init(&st, &lt_page_alloc);
    int rc = lt_tracker_copy_sites(&st);
    if (rc < 0) {
        lt_raise(rc, "copying allocation sites");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 1; i < st.len; i++)
        n += st.rows[i].live_count > 0;
    cp->sites_cap = n ? n : 1;
    cp->sites = lt_alloc(&lt_page_alloc, cp->sites_cap * sizeof(lt_capture_row_t));
    if (cp->sites == NULL) {
        lt_sitestats_clear(&st);
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 1; i < st.len; i++)
        if (st.rows[i].live_count > 0)
            cp->sites[cp->nsites++] = (lt_capture_row_t){(uint32_t)i, st.rows[i].live_bytes, st.rows[i].live_count};
    lt_sitestats_clear(&st);
    return 0;
}

static void cp_free(rc_cp_t *cp)
{
    if (cp->census != NULL)
        lt_free(&lt_page_alloc, cp->census, cp->census_cap * sizeof(lt_capture_row_t));
    if (cp->sites != NULL)
        lt_free(&lt_page_alloc, cp->sites, cp->sites_cap * sizeof(lt_capture_row_t));
    memset(cp, 0, sizeof(*cp));
}

static PyObject *repeat_checkpoint(lt_repeat_t *self, PyObject *unused)
{
    (void)unused;
    if (self->ncps == self->cap) {
        PyErr_Format(PyExc_ValueError, "the check has all its checkpoints (%zu runs at most)", self->cap - 1);
        return NULL;
    }
    lt_state_t *st = lt_state_of_type(Py_TYPE(self));
    if (st == NULL)
        return NULL;
    /* Cyclic garbage of the run is not growth: collect first, as
     * gc.collect() does, also when the code under test disabled gc. */
    if (lt_collect_now() < 0)
        return NULL;
    rc_cp_t *cp = &self->cps[self->ncps];
    memset(cp, 0, sizeof(*cp));
    lt_proc_facts_t facts;
    int rc = lt_proc_read(0, &facts);
    if (rc < 0) {
        lt_raise(rc, "reading /proc/self");
        return NULL;
    }
    cp->rss = facts.rss_bytes;
    cp->threads = facts.threads;
    cp->fds = facts.fds;
    for (int k = 0; k < LT_CAPTURE_FD_KINDS && k < LT_FD_KIND_COUNT; k++)
        cp->fds_by_kind[k] = facts.fds_by_kind[k];
    /* Each checkpoint remembers every live object (the walk builds that
     * set anyway): the objects of a growing type are those alive at the
     * last checkpoint but not at the first (new_objects(since=first,
     * until=last)). Only the first and the newest are kept. */
    PyObject *taken = PyObject_CallNoArgs((PyObject *)st->checkpoint_type);
    if (taken == NULL)
        return NULL;
    lt_census_t *c = ((lt_checkpoint_t *)taken)->census;
    cp->heap = (uint64_t)c->total_bytes;
    cp->t = lt_monotonic();
    if (census_rows(self, c, cp) < 0 || (self->sites && lt_tracker_generation() != 0 && site_rows(cp) < 0)) {
        cp_free(cp);
        Py_DECREF(taken);
        return NULL;
    }
    if (self->ncps == 0)
        self->first = taken;
    else
        Py_XSETREF(self->last, taken);
    self->ncps++;
    Py_RETURN_NONE;
}

/* ---- the decision ------------------------------------------------------------- */

static const lt_capture_row_t *find_row(const lt_capture_row_t *rows, size_t n, uint32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rows[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && rows[lo].id == id ? &rows[lo] : NULL;
}

static int ignored(lt_repeat_t *self, const char *name, size_t len)
{
    if (len > 16 && strncmp(name, "leaktrace._core.", 16) == 0)
        return 1;           /* our own checkpoints */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->ignore); i++) {
        Py_ssize_t plen;
        const char *p = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(self->ignore, i), &plen);
        if (p == NULL) {
            PyErr_Clear();
            continue;
        }
        if (plen > 0 && p[plen - 1] == '*') {
            if ((size_t)plen - 1 <= len && strncmp(name, p, (size_t)plen - 1) == 0)
                return 1;
        } else if ((size_t)plen == len && memcmp(name, p, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static void decision_free(lt_repeat_t *self)
{
    PyMem_Free(self->series);
    PyMem_Free(self->results);
    PyMem_Free(self->deltas);
    self->series = NULL;
    self->results = NULL;
    self->deltas = NULL;
    self->nseries = 0;
}

static int uint32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The stack ids present in any checkpoint, sorted, unique (PyMem). */
static uint32_t *site_ids(lt_repeat_t *self, size_t *n)
{
    size_t total = 0;
    for (size_t k = 0; k < self->ncps; k++)
        total += self->cps[k].nsites;
    uint32_t *ids = PyMem_New(uint32_t, total ? total : 1);
    if (ids == NULL)
        return NULL;
    size_t m = 0;
    for (size_t k = 0; k < self->ncps; k++)
        for (size_t i = 0; i < self->cps[k].nsites; i++)
            ids[m++] = self->cps[k].sites[i].id;
    qsort(ids, m, sizeof(uint32_t), uint32_cmp);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || ids[u - 1] != ids[i])
            ids[u++] = ids[i];
    *n = u;
    return ids;
}

/* Fills the series with every candidate that changed in some run, and
 * decides them. 0, or -1 with an exception set. */
static int decide(lt_repeat_t *self)
{
    decision_free(self);
    if (self->ncps < 2) {
        PyErr_SetString(PyExc_ValueError, "the check needs a checkpoint before the first measured run and one "
                        "after it at least");
        return -1;
    }
    size_t r = self->ncps - 1;
    if (self->opts.min_runs > r) {
        PyErr_Format(PyExc_ValueError, "min_runs is %zu but only %zu runs were measured", self->opts.min_runs, r);
        return -1;
    }
    self->opts.repeat = r;
    size_t nsite = 0;
    uint32_t *sids = site_ids(self, &nsite);
    if (sids == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    size_t cap = (size_t)self->nnames + nsite + 3;
    self->series = PyMem_New(lt_repeatcheck_series_t, cap);
    self->results = PyMem_New(lt_repeatcheck_result_t, cap);
    self->deltas = PyMem_New(double, cap * 2 * r);
    double *vals = PyMem_New(double, 2 * (r + 1));
    if (self->series == NULL || self->results == NULL || self->deltas == NULL || vals == NULL) {
        PyMem_Free(sids);
        PyMem_Free(vals);
        decision_free(self);
        PyErr_NoMemory();
        return -1;
    }
    size_t n = 0;
    /* Types: count and bytes. */
    for (uint32_t id = 0; id < self->nnames; id++) {
        size_t len;
        const char *name = lt_intern_get(&self->names, id, &len);
        if (name == NULL || ignored(self, name, len))
            continue;
        for (size_t k = 0; k <= r; k++) {
            const lt_capture_row_t *row = find_row(self->cps[k].census, self->cps[k].ncensus, id);
            vals[2 * k] = row ? (double)row->count : 0;
            vals[2 * k + 1] = row ? (double)row->bytes : 0;
        }
        double *dc = self->deltas + 2 * r * n, *db = dc + r;
        int changed = 0;
        for (size_t k = 0; k < r; k++) {
            dc[k] = vals[2 * (k + 1)] - vals[2 * k];
            db[k] = vals[2 * (k + 1) + 1] - vals[2 * k + 1];
            changed |= dc[k] != 0 || db[k] != 0;
        }
        if (changed)
            self->series[n++] = (lt_repeatcheck_series_t){LT_CAND_TYPE, id, dc, db};
    }
    /* Sites: live bytes. */
    for (size_t s = 0; s < nsite; s++) {
        double *dc = self->deltas + 2 * r * n, *db = dc + r;
        int changed = 0;
        for (size_t k = 0; k <= r; k++) {
            const lt_capture_row_t *row = find_row(self->cps[k].sites, self->cps[k].nsites, sids[s]);
            vals[2 * k] = row ? (double)row->count : 0;
            vals[2 * k + 1] = row ? (double)row->bytes : 0;
        }
        for (size_t k = 0; k < r; k++) {
            dc[k] = vals[2 * (k + 1)] - vals[2 * k];
            db[k] = vals[2 * (k + 1) + 1] - vals[2 * k + 1];
            changed |= db[k] != 0;
        }
        if (changed)
            self->series[n++] = (lt_repeatcheck_series_t){LT_CAND_SITE, sids[s], dc, db};
    }
    PyMem_Free(sids);
    /* Descriptors, threads, tasks: counts. */
    for (int kind = 0; kind < 3; kind++) {
        if (!(kind == 0 ? self->fds : kind == 1 ? self->threads : self->tasks))
            continue;
        double *dc = self->deltas + 2 * r * n;
        int changed = 0;
        for (size_t k = 0; k < r; k++) {
            const rc_cp_t *a = &self->cps[k], *b = &self->cps[k + 1];
            dc[k] = kind == 0 ? (double)b->fds - (double)a->fds
                    : kind == 1 ? (double)b->threads - (double)a->threads
                                : b->tasks - a->tasks;
            changed |= dc[k] != 0;
        }
        if (changed)
            self->series[n++] = (lt_repeatcheck_series_t){
                kind == 0 ? LT_CAND_FDS : kind == 1 ? LT_CAND_THREADS : LT_CAND_TASKS, 0, dc, NULL};
    }
    PyMem_Free(vals);
    self->nseries = n;
    int rc = lt_repeatcheck_decide(&self->opts, self->series, n, self->results);
    if (rc < 0) {
        decision_free(self);
        lt_raise(rc, "deciding the check");
        return -1;
    }
    return 0;
}

static const char *kind_name(lt_cand_kind_t kind)
{
    if (kind == LT_CAND_TASKS)
        return "tasks";
    return lt_cand_kind_name(kind);
}

static PyObject *doubles(const double *v, size_t n)
{
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        double x = v[i];
        PyObject *o = x == floor(x) && fabs(x) < 9e15 ? PyLong_FromLongLong((long long)x) : PyFloat_FromDouble(x);
        if (o == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, o);
    }
    return l;
}

/* The frames of a tracker stack: [(file, line, function), ...] innermost
 * first. */
static PyObject *stack_frames(uint32_t stack)
{
    lt_tracker_frame_t fr[32];
    int n = lt_tracker_stack_frames(stack, fr, 32);
    PyObject *l = PyList_New(0);
    for (int i = 0; l != NULL && i < n; i++) {
        PyObject *e = Py_BuildValue("(OiO)", fr[i].file, fr[i].line, fr[i].function);
        if (e == NULL || PyList_Append(l, e) < 0)
            Py_CLEAR(l);
        Py_XDECREF(e);
    }
    lt_tracker_frames_release(fr, n);
    return l;
}

/* One result as a dict. */
static PyObject *result_dict(lt_repeat_t *self, size_t i)
{
    const lt_repeatcheck_series_t *s = &self->series[i];
    const lt_repeatcheck_result_t *x = &self->results[i];
    size_t r = self->opts.repeat;
    PyObject *name = NULL, *frames = NULL;
    if (s->kind == LT_CAND_TYPE) {
        size_t len;
        const char *u = lt_intern_get(&self->names, s->id, &len);
        name = PyUnicode_FromStringAndSize(u ? u : "?", u ? (Py_ssize_t)len : 1);
    } else if (s->kind == LT_CAND_SITE) {
        frames = stack_frames(s->id);
        if (frames == NULL)
            return NULL;
        if (PyList_GET_SIZE(frames) > 0) {
            PyObject *f0 = PyList_GET_ITEM(frames, 0);
            name = PyUnicode_FromFormat("%U:%S", PyTuple_GET_ITEM(f0, 0), PyTuple_GET_ITEM(f0, 1));
        } else {
            name = PyUnicode_FromString("<no Python frame>");
        }
    } else {
        name = PyUnicode_FromString(kind_name(s->kind));
    }
    PyObject *count = s->kind == LT_CAND_SITE ? Py_NewRef(Py_None) : doubles(s->count, r);
    PyObject *bytes = s->bytes != NULL ? doubles(s->bytes, r) : Py_NewRef(Py_None);
    PyObject *d = NULL;
    if (name != NULL && count != NULL && bytes != NULL)
        d = Py_BuildValue("{sssOsOsssnsnsnsdsOsOsdsdsdsdsO}", "kind", kind_name(s->kind), "name", name, "leaking",
                          x->leaking ? Py_True : Py_False, "by", x->by_count ? "count" : "bytes", "grew_runs",
                          (Py_ssize_t)x->grew_runs, "shrank_runs", (Py_ssize_t)x->shrank_runs, "runs", (Py_ssize_t)r,
                          "confidence", x->confidence, "count", count, "bytes", bytes, "median_count",
                          x->median_count, "median_bytes", x->median_bytes, "total_count", x->total_count,
                          "total_bytes", x->total_bytes, "frames", frames ? frames : Py_None);
    Py_XDECREF(name);
    Py_XDECREF(frames);
    Py_XDECREF(count);
    Py_XDECREF(bytes);
    return d;
}

static PyObject *repeat_decide(lt_repeat_t *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"limit", NULL};
    Py_ssize_t limit = 20;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$n:decide", kwlist, &limit))
        return NULL;
    if (decide(self) < 0)
        return NULL;
    size_t *idx = PyMem_New(size_t, self->nseries ? self->nseries : 1);
    if (idx == NULL)
        return PyErr_NoMemory();
    size_t nleak = lt_repeatcheck_order(self->results, self->nseries, idx);
    PyObject *out = PyList_New(0);
    /* Every leaking series, then up to `limit` others that grew in some run. */
    Py_ssize_t others = 0;
    for (size_t j = 0; out != NULL && j < self->nseries; j++) {
        const lt_repeatcheck_result_t *x = &self->results[idx[j]];
        if (j >= nleak && (x->grew_runs == 0 || others++ >= limit))
            continue;
        PyObject *d = result_dict(self, idx[j]);
        if (d == NULL || PyList_Append(out, d) < 0)
            Py_CLEAR(out);
        Py_XDECREF(d);
    }
    PyMem_Free(idx);
    return out;
}

/* ---- the report --------------------------------------------------------------- */

typedef struct render_ctx {
    PyObject *formats;          /* tuple of str */
    PyObject *out;              /* dict */
} render_ctx_t;

static int render_sink(const lt_report_t *r, void *ctx)
{
    render_ctx_t *rc = ctx;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(rc->formats); i++) {
        const char *fmt = PyUnicode_AsUTF8(PyTuple_GET_ITEM(rc->formats, i));
        if (fmt == NULL)
            return -1;
        lt_strbuf_t b;
        lt_strbuf_init(&b, &lt_page_alloc);
        if (lt_findings_render(r, fmt, &b) < 0) {
            lt_strbuf_clear(&b);
            return -1;
        }
        PyObject *s = PyUnicode_DecodeUTF8(lt_strbuf_str(&b), (Py_ssize_t)b.len, "replace");
        lt_strbuf_clear(&b);
        if (s == NULL || PyDict_SetItemString(rc->out, fmt, s) < 0) {
            Py_XDECREF(s);
            return -1;
        }
        Py_DECREF(s);
    }
    return 0;
}

/* 0: a program type, a resource type or descriptors/threads; 2: a builtin
 * part of other objects; 1: the rest. */
static int candidate_tier(lt_repeat_t *self, const lt_candidate_t *c)
{
    static const char *const parts[] = {"dict", "frame", "cell", "tuple", "list", "set", "str", "int", "float",
                                        "bytes", "bytearray", "weakref.ReferenceType", "weakref"};
    if (c->kind != LT_CAND_TYPE || c->user_type)
        return 0;
    size_t len;
    const char *u = lt_intern_get(&self->names, c->id, &len);
    if (u == NULL)
        return 1;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (strlen(parts[i]) == len && memcmp(parts[i], u, len) == 0)
            return 2;
    return 1;
}

static PyObject *repeat_report(lt_repeat_t *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"argv", "formats", "max_findings", NULL};
    PyObject *argv = NULL, *formats = NULL;
    int max_findings = 10;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$O!O!i:report", kwlist, &PyList_Type, &argv, &PyTuple_Type,
                                     &formats, &max_findings))
        return NULL;
    for (Py_ssize_t i = 0; formats != NULL && i < PyTuple_GET_SIZE(formats); i++) {
        PyObject *f = PyTuple_GET_ITEM(formats, i);
        if (!PyUnicode_Check(f) || (PyUnicode_CompareWithASCIIString(f, "json") != 0 &&
                                    PyUnicode_CompareWithASCIIString(f, "text") != 0 &&
                                    PyUnicode_CompareWithASCIIString(f, "html") != 0)) {
            PyErr_SetString(PyExc_ValueError, "formats are 'json', 'text' and 'html'");
            return NULL;
        }
    }
    if (decide(self) < 0)
        return NULL;
    size_t r = self->opts.repeat;
    double span = self->cps[r].t - self->cps[0].t;
    if (span <= 0)
        span = 1e-9;
    lt_findings_t f;
    lt_analysis_t an;
    memset(&an, 0, sizeof(an));
    size_t *idx = NULL;
    PyObject *outputs = NULL, *result = NULL, *verdict = NULL, *empty_argv = NULL;
    render_ctx_t rctx = {formats, NULL};
    int rc = lt_findings_init(&f);
    if (rc < 0) {
        lt_raise(rc, "starting the report");
        return NULL;
    }
    /* The checkpoints, for the report's plots and the findings' series. */
    for (size_t k = 0; k <= r; k++) {
        const rc_cp_t *c = &self->cps[k];
        lt_capture_checkpoint_t cp;
        memset(&cp, 0, sizeof(cp));
        cp.time_ns = (uint64_t)((c->t - self->cps[0].t) * 1e9);
        cp.rss_bytes = c->rss;
        cp.py_heap_bytes = c->heap;
        memcpy(cp.fds, c->fds_by_kind, sizeof(cp.fds));
        cp.threads = c->threads;
        cp.census = c->census;
        cp.ncensus = c->ncensus;
        cp.sites = c->sites;
        cp.nsites = c->nsites;
        cp.has_census = 1;
        rc = lt_findings_add(&f, &cp);
        if (rc < 0) {
            lt_raise(rc, "recording a checkpoint");
            goto done;
        }
    }
    /* The candidates: the leaking types, descriptors and threads (a task
     * leak is its task type's; a site explains a type's finding). */
    idx = PyMem_New(size_t, self->nseries ? self->nseries : 1);
    an.candidates = PyMem_New(lt_candidate_t, self->nseries ? self->nseries : 1);
    if (idx == NULL || an.candidates == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t nleak = lt_repeatcheck_order(self->results, self->nseries, idx);
    double top = 0;
    for (size_t j = 0; j < nleak; j++) {
        const lt_repeatcheck_series_t *s = &self->series[idx[j]];
        const lt_repeatcheck_result_t *x = &self->results[idx[j]];
        if (s->kind != LT_CAND_TYPE && s->kind != LT_CAND_FDS && s->kind != LT_CAND_THREADS)
            continue;
        lt_candidate_t *c = &an.candidates[an.ncandidates++];
        memset(c, 0, sizeof(*c));
        c->kind = s->kind;
        c->id = s->id;
        c->by_count = x->by_count;
        c->confident = 1;
        c->echo_of = -1;
        c->score = x->score;
        c->count_delta = (int64_t)llround(x->total_count);
        c->bytes_delta = (int64_t)llround(x->total_bytes);
        c->count_per_second = x->total_count / span;
        c->bytes_per_second = x->total_bytes / span;
        c->trend.confidence = x->confidence;
        c->other.confidence = x->confidence;
        if (s->kind == LT_CAND_TYPE) {
            size_t len;
            const char *u = lt_intern_get(&self->names, s->id, &len);
            c->user_type = u != NULL && lt_timeline_user_type(u, len);
        }
        if (x->confidence > top)
            top = x->confidence;
    }
    /* The representative of a leaking container should be what it holds,
     * not the parts of that: the program's types and resources first, then
     * other types, then the builtin parts objects are made of (an
     * instance's __dict__, a generator's frame, the tuples, cells and
     * strings inside). Stable: score order within a tier. */
    size_t placed = 0;
    for (int tier = 0; tier < 3; tier++) {
        for (size_t j = placed; j < an.ncandidates; j++) {
            if (candidate_tier(self, &an.candidates[j]) != tier)
                continue;
            lt_candidate_t moved = an.candidates[j];
            memmove(&an.candidates[placed + 1], &an.candidates[placed], (j - placed) * sizeof(lt_candidate_t));
            an.candidates[placed++] = moved;
        }
    }
    an.cap = an.ncandidates;
    an.verdict = an.ncandidates ? "leak" : "no-leak";
    an.confidence = an.ncandidates ? top : 0.5;
    an.duration_s = span;
    an.checkpoints = r + 1;
    f.given = &an;
    f.ours = self->ours;
    outputs = Py_BuildValue("{si}", "max_findings", max_findings);
    empty_argv = argv != NULL ? Py_NewRef(argv) : PyList_New(0);
    rctx.out = PyDict_New();
    if (outputs == NULL || empty_argv == NULL || rctx.out == NULL)
        goto done;
    if (formats == NULL) {
        rctx.formats = Py_BuildValue("(ss)", "json", "text");
        if (rctx.formats == NULL)
            goto done;
    } else {
        Py_INCREF(formats);
    }
    verdict = lt_findings_report_to(&f, &self->names, self->first, self->last, empty_argv, outputs, span,
                                    render_sink, &rctx);
    Py_DECREF(rctx.formats);
    if (verdict == NULL || PyDict_SetItemString(rctx.out, "verdict", verdict) < 0)
        goto done;
    result = Py_NewRef(rctx.out);
done:
    Py_XDECREF(verdict);
    Py_XDECREF(rctx.out);
    Py_XDECREF(outputs);
    Py_XDECREF(empty_argv);
    PyMem_Free(an.candidates);
    PyMem_Free(idx);
    lt_findings_clear(&f);
    return result;
}

/* ---- the type --------------------------------------------------------------- */

static PyObject *str_tuple(PyObject *seq, const char *what)
{
    if (seq == NULL)
        return PyTuple_New(0);
    PyObject *t = PySequence_Tuple(seq);
    for (Py_ssize_t i = 0; t != NULL && i < PyTuple_GET_SIZE(t); i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(t, i))) {
            PyErr_Format(PyExc_TypeError, "%s must be strings", what);
            Py_CLEAR(t);
        }
    }
    return t;
}

static PyObject *repeat_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"repeat", "min_runs", "max_bytes", "max_objects", "max_fds", "max_threads", "max_tasks",
                             "noise_bytes", "fds", "threads", "tasks", "sites", "ignore", "ours", NULL};
    lt_repeatcheck_opts_t o;
    lt_repeatcheck_opts_init(&o);
    Py_ssize_t repeat = 5, min_runs = 0;
    int fds = 1, threads = 1, tasks = 1, sites = 1;
    PyObject *ignore = NULL, *ours = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$nnddddddppppOO:RepeatCheck", kwlist, &repeat, &min_runs,
                                     &o.max_bytes, &o.max_objects, &o.max_fds, &o.max_threads, &o.max_tasks,
                                     &o.noise_bytes, &fds, &threads, &tasks, &sites, &ignore, &ours))
        return NULL;
    if (repeat < 1 || repeat > LT_REPEATCHECK_MAX_RUNS) {
        PyErr_Format(PyExc_ValueError, "repeat must be 1 to %d, not %zd", LT_REPEATCHECK_MAX_RUNS, repeat);
        return NULL;
    }
    if (min_runs < 0 || min_runs > repeat) {
        PyErr_Format(PyExc_ValueError, "min_runs must be 0 (automatic) to repeat (%zd), not %zd", repeat, min_runs);
        return NULL;
    }
    if (!(o.max_bytes >= 0) || !(o.max_objects >= 0) || !(o.max_fds >= 0) || !(o.max_threads >= 0) ||
        !(o.max_tasks >= 0) || !(o.noise_bytes >= 0)) {
        PyErr_SetString(PyExc_ValueError, "max_bytes, max_objects, max_fds, max_threads, max_tasks and noise_bytes "
                                          "must be 0 or more");
        return NULL;
    }
    o.repeat = (size_t)repeat;
    o.min_runs = (size_t)min_runs;
    PyObject *ig = str_tuple(ignore, "ignore");
    PyObject *ou = ig ? str_tuple(ours, "ours") : NULL;
    if (ou == NULL) {
        Py_XDECREF(ig);
        return NULL;
    }
    lt_repeat_t *self = (lt_repeat_t *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(ig);
        Py_DECREF(ou);
        return NULL;
    }
    self->opts = o;
    self->fds = fds;
    self->threads = threads;
    self->tasks = tasks;
    self->sites = sites;
    self->ignore = ig;
    self->ours = ou;
    lt_intern_init(&self->names, &lt_page_alloc);
    self->cap = (size_t)repeat + 1;
    self->cps = PyMem_New(rc_cp_t, self->cap);
    if (self->cps == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void repeat_dealloc(lt_repeat_t *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    for (size_t k = 0; self->cps != NULL && k < self->ncps; k++)
        cp_free(&self->cps[k]);
    PyMem_Free(self->cps);
    decision_free(self);
    lt_intern_clear(&self->names);
    Py_XDECREF(self->ignore);
    Py_XDECREF(self->ours);
    Py_XDECREF(self->first);
    Py_XDECREF(self->last);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *repeat_get_runs(lt_repeat_t *self, void *unused)
{
    (void)unused;
    return PyLong_FromSize_t(self->ncps ? self->ncps - 1 : 0);
}

static PyObject *repeat_get_repeat(lt_repeat_t *self, void *unused)
{
    (void)unused;
    return PyLong_FromSize_t(self->cap - 1);
}

static PyObject *repeat_get_first(lt_repeat_t *self, void *unused)
{
    (void)unused;
    return Py_NewRef(self->first ? self->first : Py_None);
}

static PyObject *repeat_get_last(lt_repeat_t *self, void *unused)
{
    (void)unused;
    return Py_NewRef(self->last ? self->last : Py_None);
}

static PyMethodDef repeat_methods[] = {
    {"checkpoint", (PyCFunction)repeat_checkpoint, METH_NOARGS,
     "checkpoint()\n\nCollects garbage (also with gc disabled), then records the census, open\n"
     "descriptors, threads, asyncio tasks and (with a Tracker running) live bytes per\n"
     "allocation site. Call it once before the first measured run and once after each."},
    {"decide", (PyCFunction)(void (*)(void))repeat_decide, METH_VARARGS | METH_KEYWORDS,
     "decide(*, limit=20) -> list of dict\n\nThe series that changed, leaking first: kind ('type', 'site', 'fds',\n"
     "'threads', 'tasks'), name, leaking, by ('count' or 'bytes'), grew_runs, shrank_runs,\n"
     "runs, confidence, count and bytes (per-run deltas), median_*, total_*, frames (sites)."},
    {"report", (PyCFunction)(void (*)(void))repeat_report, METH_VARARGS | METH_KEYWORDS,
     "report(*, argv=[], formats=('json', 'text'), max_findings=10) -> dict\n\n"
     "The findings of the leaking series (holder paths, allocation sites, categories,\n"
     "hints), as `leaktrace run` makes them: {'verdict': ..., 'json': ..., 'text': ...}."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef repeat_getset[] = {
    {"runs", (getter)repeat_get_runs, NULL, "measured runs with their checkpoint so far", NULL},
    {"repeat", (getter)repeat_get_repeat, NULL, "the most runs the check can measure", NULL},
    {"first", (getter)repeat_get_first, NULL, "the Checkpoint before the first measured run, or None", NULL},
    {"last", (getter)repeat_get_last, NULL, "the Checkpoint after the newest measured run, or None", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot repeat_slots[] = {
    {Py_tp_new, repeat_new},
    {Py_tp_dealloc, repeat_dealloc},
    {Py_tp_methods, repeat_methods},
    {Py_tp_getset, repeat_getset},
    {Py_tp_doc,
     "RepeatCheck(*, repeat=5, min_runs=0, max_bytes=0, max_objects=0, max_fds=0,\n"
     "            max_threads=0, max_tasks=0, noise_bytes=0, fds=True, threads=True,\n"
     "            tasks=True, sites=True, ignore=(), ours=())\n\n"
     "The measurement behind leaktrace.check and the pytest plugin: checkpoint() before\n"
     "the first measured run and after each (repeat runs at most), then decide() and\n"
     "report(), which judge the runs measured so far. A series leaks\n"
     "when it grows in most runs (repeat - repeat // 4 of them, or min_runs) and its\n"
     "median growth per run exceeds its allowance."},
    {0, NULL},
};

static PyType_Spec repeat_spec = {
    "leaktrace._core.RepeatCheck", sizeof(lt_repeat_t), 0, Py_TPFLAGS_DEFAULT, repeat_slots,
};

int lt_repeat_exec(PyObject *module)
{
    PyObject *t = PyType_FromModuleAndSpec(module, &repeat_spec, NULL);
    if (t == NULL)
        return -1;
    return PyModule_AddObject(module, "RepeatCheck", t);
}
