/* lt_findings: checkpoints -> trend tests -> findings -> reports. */
#include "findings.h"

#include "errors.h"
#include "raise.h"
#include "safeget.h"
#include "report.h"
#include "report_html.h"
#include "report_json.h"
#include "report_text.h"
#include "strbuf.h"
#include "tracker.h"
#include "trend.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lt_findings_cp {
    double t, rss, heap, fds, threads;
    lt_capture_row_t *census;   /* sorted by id, in the arena */
    size_t ncensus;
    lt_capture_row_t *sites;
    size_t nsites;
};

void lt_findings_init(lt_findings_t *f)
{
    memset(f, 0, sizeof(*f));
    lt_arena_init(&f->arena, &lt_page_alloc);
}

void lt_findings_clear(lt_findings_t *f)
{
    lt_arena_release(&f->arena);
    lt_free(&lt_page_alloc, f->cps, f->cap * sizeof(lt_findings_cp_t));
    memset(f, 0, sizeof(*f));
    lt_arena_init(&f->arena, &lt_page_alloc);
}

static int row_id_cmp(const void *a, const void *b)
{
    uint32_t x = ((const lt_capture_row_t *)a)->id, y = ((const lt_capture_row_t *)b)->id;
    return x < y ? -1 : x > y;
}

static lt_capture_row_t *copy_rows(lt_arena_t *arena, const lt_capture_row_t *rows, size_t n, uint32_t *max_id)
{
    lt_capture_row_t *out = lt_arena_alloc(arena, (n ? n : 1) * sizeof(*out));
    if (out == NULL)
        return NULL;
    if (n)
        memcpy(out, rows, n * sizeof(*out));
    qsort(out, n, sizeof(*out), row_id_cmp);
    for (size_t i = 0; i < n; i++)
        if (out[i].id > *max_id)
            *max_id = out[i].id;
    return out;
}

int lt_findings_add(lt_findings_t *f, const lt_capture_checkpoint_t *cp)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        lt_findings_cp_t *cps = lt_alloc(&lt_page_alloc, cap * sizeof(*cps));
        if (cps == NULL)
            return LT_ENOMEM;
        if (f->n)
            memcpy(cps, f->cps, f->n * sizeof(*cps));
        lt_free(&lt_page_alloc, f->cps, f->cap * sizeof(*cps));
        f->cps = cps;
        f->cap = cap;
    }
    lt_findings_cp_t *c = &f->cps[f->n];
    c->t = (double)cp->time_ns / 1e9;
    c->rss = (double)cp->rss_bytes;
    c->heap = (double)cp->py_heap_bytes;
    double fds = 0;
    for (int k = 0; k < LT_CAPTURE_FD_KINDS; k++)
        fds += (double)cp->fds[k];
    c->fds = fds;
    c->threads = (double)cp->threads;
    c->census = copy_rows(&f->arena, cp->census, cp->ncensus, &f->max_name);
    c->sites = copy_rows(&f->arena, cp->sites, cp->nsites, &f->max_stack);
    if (c->census == NULL || c->sites == NULL)
        return LT_ENOMEM;
    c->ncensus = cp->ncensus;
    c->nsites = cp->nsites;
    f->n++;
    return 0;
}

size_t lt_findings_count(const lt_findings_t *f)
{
    return f->n;
}

void lt_findings_rss(const lt_findings_t *f, double *first, double *last, double *span)
{
    *first = *last = *span = 0;
    if (f->n == 0)
        return;
    *first = f->cps[0].rss;
    *last = f->cps[f->n - 1].rss;
    *span = f->cps[f->n - 1].t - f->cps[0].t;
}

static const lt_capture_row_t *find_row(const lt_capture_row_t *rows, size_t n, uint32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rows[mid].id == id)
            return &rows[mid];
        if (rows[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- candidates ---------------------------------------------------------- */

typedef enum { CAND_TYPE, CAND_FDS, CAND_THREADS, CAND_NATIVE } cand_kind_t;

typedef struct cand {
    cand_kind_t kind;
    uint32_t id;                /* name id for CAND_TYPE */
    lt_trend_t trend;           /* of bytes (types, native) or of the count */
    double confidence;
    double count_delta, bytes_delta;
    double bytes_ps, count_ps;
    double score;
} cand_t;

typedef struct analysis {
    double *t;                  /* per checkpoint */
    double *v, *w;              /* scratch series */
    cand_t *cands;
    size_t ncands, capcands;
    lt_trend_t rss_trend;
    double duration;
} analysis_t;

static int push_cand(analysis_t *a, const cand_t *c)
{
    if (a->ncands == a->capcands) {
        size_t cap = a->capcands ? a->capcands * 2 : 64;
        cand_t *cs = PyMem_Realloc(a->cands, cap * sizeof(*cs));
        if (cs == NULL)
            return -1;
        a->cands = cs;
        a->capcands = cap;
    }
    a->cands[a->ncands++] = *c;
    return 0;
}

/* A trend test with the run's options. */
static int trend_of(const analysis_t *a, const double *v, size_t n, double min_growth, lt_trend_t *out)
{
    lt_trend_opts_t o;
    lt_trend_opts_init(&o, &lt_page_alloc);
    o.min_growth = min_growth;
    return lt_trend_analyze(a->t, v, n, &o, out);
}

/* The smallest growths that count as a leak of objects: a handful of
 * entries or bytes is noise whatever its trend. */
#define MIN_BYTES_GROWTH 16384.0
#define MIN_COUNT_GROWTH 50.0
#define MIN_CONFIDENCE 0.5

static int is_user_type(const char *name)
{
    /* builtins are bare ("dict"); module-qualified names are the program's
     * or a library's classes */
    return strchr(name, '.') != NULL && strncmp(name, "leaktrace.", 10) != 0;
}

/* Tests every type of the census and the process series. */
static int find_candidates(lt_findings_t *f, const lt_intern_t *names, analysis_t *a)
{
    size_t n = f->n;
    for (size_t i = 0; i < n; i++)
        a->t[i] = f->cps[i].t;
    for (uint32_t id = 1; id <= f->max_name; id++) {
        const lt_capture_row_t *first = find_row(f->cps[0].census, f->cps[0].ncensus, id);
        const lt_capture_row_t *last = find_row(f->cps[n - 1].census, f->cps[n - 1].ncensus, id);
        double b0 = first ? (double)first->bytes : 0, b1 = last ? (double)last->bytes : 0;
        double c0 = first ? (double)first->count : 0, c1 = last ? (double)last->count : 0;
        if (b1 - b0 < MIN_BYTES_GROWTH / 4 && c1 - c0 < MIN_COUNT_GROWTH / 2)
            continue;           /* cannot be a finding: skip the tests */
        for (size_t i = 0; i < n; i++) {
            const lt_capture_row_t *r = find_row(f->cps[i].census, f->cps[i].ncensus, id);
            a->v[i] = r ? (double)r->bytes : 0;
            a->w[i] = r ? (double)r->count : 0;
        }
        cand_t c;
        memset(&c, 0, sizeof(c));
        lt_trend_t tc;
        if (trend_of(a, a->v, n, MIN_BYTES_GROWTH, &c.trend) < 0 || trend_of(a, a->w, n, MIN_COUNT_GROWTH, &tc) < 0)
            return -1;
        int grows = (c.trend.verdict == LT_TREND_GROWING && tc.verdict != LT_TREND_SHRINKING) ||
                    (tc.verdict == LT_TREND_GROWING && c.trend.verdict != LT_TREND_SHRINKING);
        if (!grows)
            continue;
        c.kind = CAND_TYPE;
        c.id = id;
        c.confidence = fmax(c.trend.verdict == LT_TREND_GROWING ? c.trend.confidence : 0,
                            tc.verdict == LT_TREND_GROWING ? tc.confidence : 0);
        if (c.confidence < MIN_CONFIDENCE)
            continue;
        c.bytes_delta = b1 - b0;
        c.count_delta = c1 - c0;
        c.bytes_ps = c.trend.slope > 0 ? c.trend.slope : 0;
        c.count_ps = tc.slope > 0 ? tc.slope : 0;
        size_t len;
        const char *name = lt_intern_get(names, id, &len);
        c.score = (c.bytes_ps + 64 * c.count_ps) * c.confidence * (name && is_user_type(name) ? 4 : 1);
        if (push_cand(a, &c) < 0)
            return -1;
    }
    /* Descriptors, threads, and memory outside the Python heap. */
    struct {
        cand_kind_t kind;
        double min;
    } proc[] = {{CAND_FDS, 3}, {CAND_THREADS, 2}, {CAND_NATIVE, 4.0 * 1024 * 1024}};
    for (size_t p = 0; p < sizeof(proc) / sizeof(proc[0]); p++) {
        for (size_t i = 0; i < n; i++) {
            const lt_findings_cp_t *cp = &f->cps[i];
            a->v[i] = proc[p].kind == CAND_FDS ? cp->fds : proc[p].kind == CAND_THREADS ? cp->threads : cp->rss - cp->heap;
        }
        cand_t c;
        memset(&c, 0, sizeof(c));
        if (trend_of(a, a->v, n, proc[p].min, &c.trend) < 0)
            return -1;
        if (c.trend.verdict != LT_TREND_GROWING || c.trend.confidence < MIN_CONFIDENCE)
            continue;
        /* Allocator overhead and fragmentation grow with the Python heap:
         * only a residue that outgrows the heap itself is native memory. */
        if (proc[p].kind == CAND_NATIVE &&
            a->v[n - 1] - a->v[0] < 2 * (f->cps[n - 1].heap - f->cps[0].heap))
            continue;
        c.kind = proc[p].kind;
        c.confidence = c.trend.confidence;
        double d = a->v[n - 1] - a->v[0];
        if (c.kind == CAND_NATIVE) {
            c.bytes_delta = d;
            c.bytes_ps = c.trend.slope;
        } else {
            c.count_delta = d;
            c.count_ps = c.trend.slope;
        }
        c.score = 1e12 * c.confidence;  /* resources first: they are rare and costly */
        if (c.kind == CAND_NATIVE)
            c.score = c.bytes_ps * c.confidence;
        if (push_cand(a, &c) < 0)
            return -1;
    }
    for (size_t i = 0; i < n; i++)
        a->v[i] = f->cps[i].rss;
    return trend_of(a, a->v, n, MIN_BYTES_GROWTH, &a->rss_trend);
}

static int cand_cmp(const void *x, const void *y)
{
    double a = ((const cand_t *)x)->score, b = ((const cand_t *)y)->score;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* ---- from a candidate to a finding (GIL held) ---------------------------- */

/* Known resource types: a growing number of them is an unclosed resource. */
static int is_resource_type(const char *name)
{
    static const char *const names[] = {
        "_io.TextIOWrapper", "_io.BufferedReader", "_io.BufferedWriter", "_io.BufferedRandom", "_io.FileIO",
        "socket.socket", "sqlite3.Connection", "sqlite3.Cursor", "ssl.SSLSocket", "subprocess.Popen",
        "selectors.EpollSelector", "selectors.DefaultSelector", "mmap.mmap",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static int is_exception_type(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "traceback") == 0 || strcmp(name, "frame") == 0 ||
           (n > 5 && strcmp(name + n - 5, "Error") == 0) || (n > 9 && strcmp(name + n - 9, "Exception") == 0);
}

static int is_callable_type(const char *name)
{
    static const char *const names[] = {"function", "method", "builtin_function_or_method", "functools.partial",
                                        "cell", "weakref.WeakMethod"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static int path_has(PyObject *path, const char *needle)
{
    for (Py_ssize_t i = 0; path && i < PyList_GET_SIZE(path); i++) {
        const char *e = PyUnicode_AsUTF8(PyList_GET_ITEM(path, i));
        if (e == NULL) {
            PyErr_Clear();
            continue;
        }
        if (strstr(e, needle) != NULL)
            return 1;
    }
    return 0;
}

static int path_names_a_registry(PyObject *path)
{
    static const char *const words[] = {"handler", "callback", "listener", "observer", "hook", "subscriber",
                                        ".on_", "atexit", "signal"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (path_has(path, words[i]))
            return 1;
    return 0;
}

/* A path's shape: its elements with keys and indices blanked, so that
 * ['inv-1'] and ['inv-2'] of one dict count as one way of holding. */
static PyObject *path_shape(PyObject *p)
{
    PyObject *out = PyUnicode_FromString("");
    for (Py_ssize_t i = 0; out != NULL && i < PyList_GET_SIZE(p); i++) {
        const char *e = PyUnicode_AsUTF8(PyList_GET_ITEM(p, i));
        if (e == NULL)
            break;
        PyObject *next = PyUnicode_FromFormat("%U|%s", out, e[0] == '[' ? "[]" : e);
        Py_DECREF(out);
        out = next;
    }
    PyErr_Clear();
    return out;
}

static int path_is_ours(PyObject *p)
{
    return path_has(p, "module leaktrace") || path_has(p, "frame cmd_run()") ||
           path_has(p, "frame _run_program()");
}

/* The holder path of the most common shape among a sample's paths, or
 * NULL. Paths that run through leaktrace's own modules or frames are not
 * the program's. */
static PyObject *pick_path(PyObject *paths)
{
    if (paths == NULL || !PyList_Check(paths))
        return NULL;
    PyObject *counts = PyDict_New();
    PyObject *best = NULL;
    long best_n = 0;
    for (Py_ssize_t i = 0; counts != NULL && i < PyList_GET_SIZE(paths); i++) {
        PyObject *p = PyList_GET_ITEM(paths, i);
        if (!PyList_Check(p) || PyList_GET_SIZE(p) == 0 || path_is_ours(p))
            continue;
        PyObject *shape = path_shape(p);
        if (shape == NULL)
            break;
        PyObject *c = PyDict_GetItemWithError(counts, shape);
        long n = c != NULL ? PyLong_AsLong(c) + 1 : 1;
        PyObject *nn = PyLong_FromLong(n);
        if (nn == NULL || PyDict_SetItem(counts, shape, nn) < 0) {
            Py_XDECREF(nn);
            Py_DECREF(shape);
            break;
        }
        Py_DECREF(nn);
        Py_DECREF(shape);
        if (n > best_n) {
            best_n = n;
            best = p;
        }
    }
    Py_XDECREF(counts);
    PyErr_Clear();
    return best;
}

/* A key naming the container a path goes through (its first two
 * elements), so that the types inside one leaking container make one
 * finding. */
static PyObject *group_key(PyObject *path, const char *type)
{
    if (path == NULL)
        return PyUnicode_FromFormat("type:%s", type);
    Py_ssize_t n = PyList_GET_SIZE(path);
    if (n == 0)
        return PyUnicode_FromFormat("type:%s", type);
    const char *root = PyUnicode_AsUTF8(PyList_GET_ITEM(path, 0));
    if (root != NULL && strncmp(root, "<not reachable", 14) == 0)
        return PyUnicode_FromFormat("cycle:%s", type);
    if (n == 1)
        return Py_NewRef(PyList_GET_ITEM(path, 0));
    return PyUnicode_FromFormat("%U|%U", PyList_GET_ITEM(path, 0), PyList_GET_ITEM(path, 1));
}

/* Whether a frame is the program's: not leaktrace's and not the
 * interpreter's own library. */
static int is_user_file(const char *file, PyObject *stdlib_dirs)
{
    if (file[0] == '<')
        return 0;
    if (strstr(file, "/leaktrace/") != NULL)
        return 0;
    for (Py_ssize_t i = 0; stdlib_dirs && i < PyList_GET_SIZE(stdlib_dirs); i++) {
        const char *d = PyUnicode_AsUTF8(PyList_GET_ITEM(stdlib_dirs, i));
        if (d != NULL && d[0] && strncmp(file, d, strlen(d)) == 0 && strstr(file, "site-packages") == NULL)
            return 0;
    }
    return 1;
}

/* One finding under construction: Python objects, turned into the report
 * model at the end. */
typedef struct finding {
    const char *what, *category;
    PyObject *type;             /* str */
    double count_delta, bytes_delta, bytes_ps, count_ps, confidence;
    PyObject *path;             /* list of str, or NULL */
    PyObject *frames;           /* tuple of (file, line, function), innermost first, or NULL */
    PyObject *hint;             /* str */
} finding_t;

static void finding_clear(finding_t *x)
{
    Py_CLEAR(x->type);
    Py_CLEAR(x->path);
    Py_CLEAR(x->frames);
    Py_CLEAR(x->hint);
}

/* The allocation stack of the first sampled object that has one. */
static PyObject *sample_frames(PyObject *sample)
{
    for (Py_ssize_t i = 0; sample && i < PyList_GET_SIZE(sample); i++) {
        uint32_t stack = lt_tracker_object_stack(PyList_GET_ITEM(sample, i));
        if (stack == 0)
            continue;
        lt_tracker_frame_t fr[64];
        int n = lt_tracker_stack_frames(stack, fr, 64);
        PyObject *t = PyTuple_New(n);
        for (int k = 0; t != NULL && k < n; k++) {
            PyObject *e = Py_BuildValue("(OiO)", fr[k].file, fr[k].line, fr[k].function);
            if (e == NULL)
                Py_CLEAR(t);
            else
                PyTuple_SET_ITEM(t, k, e);
        }
        lt_tracker_frames_release(fr, n);
        return t;
    }
    return NULL;
}

/* The holder's name for hints: "INVOICES" from ".INVOICES", "Hooks.on_paid"
 * from ".Hooks", ".on_paid". */
static PyObject *holder_name(PyObject *path)
{
    if (path == NULL || PyList_GET_SIZE(path) < 2)
        return NULL;
    PyObject *first = PyList_GET_ITEM(path, 1);
    const char *e1 = PyUnicode_AsUTF8(first);
    if (e1 == NULL || e1[0] != '.')
        return NULL;
    if (PyList_GET_SIZE(path) >= 3) {
        const char *e2 = PyUnicode_AsUTF8(PyList_GET_ITEM(path, 2));
        if (e2 != NULL && e2[0] == '.' && e1[1] >= 'A' && e1[1] <= 'Z')
            return PyUnicode_FromFormat("%s%s", e1 + 1, e2);
    }
    return PyUnicode_FromString(e1 + 1);
}

/* "module billing", or for the program's own __main__ the name of its
 * file ("billing.py"), as people call it. */
static PyObject *module_of(PyObject *path)
{
    if (path == NULL || PyList_GET_SIZE(path) == 0)
        return NULL;
    const char *root = PyUnicode_AsUTF8(PyList_GET_ITEM(path, 0));
    if (root == NULL || strncmp(root, "module ", 7) != 0)
        return NULL;
    if (strcmp(root + 7, "__main__") == 0) {
        PyObject *main = PyImport_AddModule("__main__");      /* borrowed */
        PyObject *file = main ? lt_dict_get_ascii(PyModule_GetDict(main), "__file__") : NULL;
        const char *f = file != NULL && PyUnicode_Check(file) ? PyUnicode_AsUTF8(file) : NULL;
        if (f != NULL) {
            const char *base = strrchr(f, '/');
            return PyUnicode_FromString(base ? base + 1 : f);
        }
        PyErr_Clear();
    }
    return PyUnicode_FromFormat("module %s", root + 7);
}

/* Category, what and hint of a finding, from its type, holder and growth. */
static void classify(finding_t *x, cand_kind_t kind, int live)
{
    const char *type = PyUnicode_AsUTF8(x->type);
    if (type == NULL) {
        PyErr_Clear();
        type = "?";
    }
    PyObject *holder = holder_name(x->path);
    PyObject *module = module_of(x->path);
    PyErr_Clear();
    const char *h = holder ? PyUnicode_AsUTF8(holder) : NULL;
    const char *m = module ? PyUnicode_AsUTF8(module) : NULL;
    char where[300];
    if (h && m)
        snprintf(where, sizeof(where), "%s in %s", h, m);
    else if (h)
        snprintf(where, sizeof(where), "%s", h);
    else
        snprintf(where, sizeof(where), "their holder");
    /* PyUnicode_FromFormat has no float conversions: rates as text. */
    char rate[32];
    double per_s = x->count_ps;
    snprintf(rate, sizeof(rate), per_s >= 10 ? "%.0f" : "%.1f", per_s);
    x->what = LT_WHAT_OBJECTS;
    if (kind == CAND_NATIVE) {
        x->what = LT_WHAT_NATIVE;
        x->category = LT_CAT_NATIVE;
        x->hint = PyUnicode_FromFormat("memory outside Python's allocators grows by %d KB/s (RSS minus the Python heap): "
                                       "a C extension or ctypes allocation is not freed; run with --native to see "
                                       "its C site, and free it on the C side",
                                       (int)(x->bytes_ps / 1024));
    } else if (kind == CAND_THREADS || strcmp(type, "threading.Thread") == 0) {
        x->what = LT_WHAT_RESOURCE;
        x->category = LT_CAT_THREAD;
        x->hint = PyUnicode_FromFormat("threads are started and never finish or are never joined (%s more per second): "
                                       "join them, give them a way to stop, or use a concurrent.futures.ThreadPoolExecutor",
                                       rate);
    } else if (kind == CAND_FDS || is_resource_type(type)) {
        x->what = LT_WHAT_RESOURCE;
        x->category = LT_CAT_UNCLOSED_RESOURCE;
        x->hint = PyUnicode_FromFormat("%s objects are opened and never closed, held by %s: use a `with` block "
                                       "or call close() (for sqlite3: `with contextlib.closing(sqlite3.connect(...))`)",
                                       kind == CAND_FDS ? "file descriptors" : type, where);
    } else if (x->path && path_has(x->path, "<not reachable")) {
        x->category = LT_CAT_REFERENCE_CYCLE;
        x->hint = PyUnicode_FromFormat("%s objects are only reachable through reference cycles and pile up until a "
                                       "collection (or forever with gc disabled or __del__ in old Pythons): make the "
                                       "back-reference a weakref.ref, or break the cycle when done",
                                       type);
    } else if (is_exception_type(type) || (x->path && path_has(x->path, "__traceback__"))) {
        x->category = LT_CAT_EXCEPTION_TRACEBACK;
        x->hint = PyUnicode_FromFormat("exceptions kept in %s hold their tracebacks, frames and every local of those "
                                       "frames: keep str(exc) or the data you need, or call traceback.clear_frames(tb)",
                                       where);
    } else if (is_callable_type(type) || path_names_a_registry(x->path)) {
        x->category = LT_CAT_CALLBACK_REGISTRATION;
        x->hint = PyUnicode_FromFormat("%s gains %s callbacks/s that are never removed: unregister them when done, "
                                       "or hold them with weakref.WeakMethod / weakref.ref",
                                       where, rate);
    } else if (x->path && h) {
        x->category = LT_CAT_UNBOUNDED_CONTAINER;
        x->hint = PyUnicode_FromFormat("%s grows by %s entries/s and is never trimmed: bound it, e.g. "
                                       "functools.lru_cache(maxsize=...) or a TTL, or delete entries when done",
                                       where, rate);
    } else if (x->path) {
        x->category = LT_CAT_UNBOUNDED_CONTAINER;
        x->hint = PyUnicode_FromFormat("%s objects accumulate (%s/s) in a container reached from %U: bound it or "
                                       "drop what is no longer needed",
                                       type, rate, PyList_GET_ITEM(x->path, 0));
    } else if (!live) {
        x->category = LT_CAT_OTHER;
        x->hint = PyUnicode_FromFormat("%s objects keep accumulating (%s/s); who holds them is not in a capture "
                                       "file: run the program under `leaktrace run` to see their holder path",
                                       type, rate);
    } else {
        x->category = LT_CAT_OTHER;
        x->hint = PyUnicode_FromFormat("%s objects keep accumulating (%s/s); their holder could not be found: "
                                       "look for a global or long-lived container of them",
                                       type, rate);
    }
    if (x->hint == NULL)
        PyErr_Clear();
    Py_XDECREF(holder);
    Py_XDECREF(module);
}

/* ---- the report model (GIL held) ------------------------------------------ */

static const char *arena_str(lt_report_t *r, PyObject *s)
{
    Py_ssize_t len = 0;
    const char *u = s ? PyUnicode_AsUTF8AndSize(s, &len) : NULL;
    if (u == NULL) {
        PyErr_Clear();
        u = "?";
        len = 1;
    }
    return lt_arena_strndup(&r->arena, u, (size_t)len);
}

static double *arena_doubles(lt_report_t *r, size_t n)
{
    return lt_arena_alloc(&r->arena, (n ? n : 1) * sizeof(double));
}

/* Fills one report leak from a finding; the stdlib dirs decide which frame
 * is the program's. */
static int fill_leak(lt_report_t *r, lt_report_leak_t *l, const finding_t *x, PyObject *stdlib_dirs)
{
    memset(l, 0, sizeof(*l));
    l->what = x->what;
    l->type = arena_str(r, x->type);
    l->category = x->category;
    l->count_delta = (int64_t)llround(x->count_delta);
    l->bytes_delta = (int64_t)llround(x->bytes_delta);
    l->bytes_per_second = x->bytes_ps;
    l->count_per_second = x->count_ps;
    l->confidence = x->confidence;
    l->hint = x->hint ? arena_str(r, x->hint) : "";
    if (x->path != NULL) {
        size_t n = (size_t)PyList_GET_SIZE(x->path);
        const char **p = lt_arena_alloc(&r->arena, (n ? n : 1) * sizeof(char *));
        if (p == NULL)
            return -1;
        for (size_t i = 0; i < n; i++)
            p[i] = arena_str(r, PyList_GET_ITEM(x->path, (Py_ssize_t)i));
        l->holder_path = p;
        l->nholder_path = n;
    }
    if (x->frames != NULL) {
        size_t n = (size_t)PyTuple_GET_SIZE(x->frames);
        lt_report_frame_t *fr = lt_arena_alloc(&r->arena, (n ? n : 1) * sizeof(*fr));
        if (fr == NULL)
            return -1;
        int site = -1;
        for (size_t i = 0; i < n; i++) {
            PyObject *e = PyTuple_GET_ITEM(x->frames, (Py_ssize_t)i);
            fr[i].file = arena_str(r, PyTuple_GET_ITEM(e, 0));
            fr[i].line = PyLong_AsLongLong(PyTuple_GET_ITEM(e, 1));
            fr[i].function = arena_str(r, PyTuple_GET_ITEM(e, 2));
            if (site < 0 && is_user_file(fr[i].file, stdlib_dirs))
                site = (int)i;
        }
        PyErr_Clear();
        l->traceback = fr;
        l->ntraceback = n;
        if (n > 0) {
            l->has_alloc_site = 1;
            l->alloc_site = fr[site >= 0 ? site : 0];
        }
    }
    return 0;
}

/* Source lines for the text and HTML reports, read from the files. */
typedef struct source_cache {
    char file[1024];
    char *text;                 /* PyMem, NUL-terminated */
    char line[512];
} source_cache_t;

static const char *source_line(const char *file, int64_t line, void *ctx)
{
    source_cache_t *c = ctx;
    if (line <= 0)
        return NULL;
    if (strcmp(c->file, file) != 0) {
        PyMem_Free(c->text);
        c->text = NULL;
        snprintf(c->file, sizeof(c->file), "%s", file);
        FILE *fp = fopen(file, "rb");
        if (fp == NULL)
            return NULL;
        size_t cap = 1 << 16, len = 0;
        char *buf = PyMem_Malloc(cap + 1);
        while (buf != NULL) {
            size_t got = fread(buf + len, 1, cap - len, fp);
            len += got;
            if (len < cap || cap >= (8u << 20))
                break;
            char *bigger = PyMem_Realloc(buf, cap * 2 + 1);
            if (bigger == NULL)
                break;
            buf = bigger;
            cap *= 2;
        }
        fclose(fp);
        if (buf == NULL)
            return NULL;
        buf[len] = '\0';
        c->text = buf;
    }
    if (c->text == NULL)
        return NULL;
    const char *p = c->text;
    for (int64_t i = 1; i < line && p != NULL; i++) {
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    if (p == NULL || *p == '\0')
        return NULL;
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len >= sizeof(c->line))
        len = sizeof(c->line) - 1;
    memcpy(c->line, p, len);
    c->line[len] = '\0';
    return c->line;
}

static int write_file(const char *path, const lt_strbuf_t *b)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
        return -1;
    }
    const char *p = lt_strbuf_str(b);
    size_t left = b->len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
            close(fd);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd) < 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
        return -1;
    }
    return 0;
}

static const char *out_path(PyObject *outputs, const char *key)
{
    PyObject *v = PyDict_GetItemString(outputs, key);
    return v != NULL && PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
}

static int out_flag(PyObject *outputs, const char *key)
{
    PyObject *v = PyDict_GetItemString(outputs, key);
    return v != NULL && PyObject_IsTrue(v) == 1;
}

/* Renders the report to the outputs. */
static int write_outputs(const lt_report_t *r, PyObject *outputs)
{
    lt_strbuf_t b;
    lt_strbuf_init(&b, &lt_page_alloc);
    source_cache_t src_cache;
    memset(&src_cache, 0, sizeof(src_cache));
    lt_report_source_t src = {source_line, &src_cache};
    int rc = 0;
    const char *json = out_path(outputs, "json");
    const char *html = out_path(outputs, "html");
    const char *text = out_path(outputs, "text");
    if (json != NULL) {
        rc = lt_report_write_json(r, &b);
        if (rc < 0 || write_file(json, &b) < 0)
            goto error;
    }
    if (html != NULL) {
        lt_strbuf_reset(&b);
        rc = lt_report_write_html(r, &b, &src);
        if (rc < 0 || write_file(html, &b) < 0)
            goto error;
    }
    if (text != NULL || !out_flag(outputs, "quiet") || strcmp(r->verdict, LT_VERDICT_LEAK) == 0) {
        lt_strbuf_reset(&b);
        rc = lt_report_write_text(r, &b, text == NULL && out_flag(outputs, "color"), &src);
        if (rc < 0)
            goto error;
        if (text != NULL) {
            if (write_file(text, &b) < 0)
                goto error;
        } else {
            const char *p = lt_strbuf_str(&b);
            size_t left = b.len;
            while (left > 0) {
                ssize_t w = write(2, p, left);
                if (w <= 0)
                    break;
                p += w;
                left -= (size_t)w;
            }
        }
    }
    lt_strbuf_clear(&b);
    PyMem_Free(src_cache.text);
    return 0;
error:
    if (rc < 0)
        lt_raise(rc, "writing the report");
    lt_strbuf_clear(&b);
    PyMem_Free(src_cache.text);
    return -1;
}

/* ---- lt_findings_report ---------------------------------------------------- */

static PyObject *call_core(const char *fn, PyObject *args, PyObject *kwargs)
{
    PyObject *mod = PyImport_ImportModule("leaktrace._core");
    if (mod == NULL)
        return NULL;
    PyObject *f = PyObject_GetAttrString(mod, fn);
    Py_DECREF(mod);
    if (f == NULL)
        return NULL;
    PyObject *r = PyObject_Call(f, args, kwargs);
    Py_DECREF(f);
    return r;
}

/* Up to `limit` objects of `type` created since `warm` and their holder
 * paths; either may come back NULL (no warm-up checkpoint yet). */
static void sample_and_paths(PyObject *type, PyObject *warm, PyObject *final, PyObject **sample, PyObject **paths)
{
    *sample = *paths = NULL;
    if (warm == NULL || warm == Py_None)
        return;
    PyObject *args = PyTuple_Pack(1, type);
    PyObject *kw = Py_BuildValue("{sOsisO}", "since", warm, "limit", 20, "until", final);
    if (args && kw)
        *sample = call_core("new_objects", args, kw);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    if (*sample == NULL || PyList_GET_SIZE(*sample) == 0) {
        PyErr_Clear();
        return;
    }
    args = PyTuple_Pack(1, *sample);
    kw = Py_BuildValue("{sisi}", "max_paths", 20, "max_depth", 64);
    if (args && kw)
        *paths = call_core("holder_paths", args, kw);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    if (*paths == NULL)
        PyErr_Clear();
}

static PyObject *stdlib_dirs(void)
{
    PyObject *sysconfig = PyImport_ImportModule("sysconfig");
    PyObject *out = PyList_New(0);
    static const char *const keys[] = {"stdlib", "platstdlib"};
    for (size_t i = 0; sysconfig && out && i < 2; i++) {
        PyObject *p = PyObject_CallMethod(sysconfig, "get_path", "s", keys[i]);
        if (p != NULL && PyUnicode_Check(p))
            PyList_Append(out, p);
        Py_XDECREF(p);
    }
    PyErr_Clear();
    Py_XDECREF(sysconfig);
    return out;
}

PyObject *lt_findings_report(lt_findings_t *f, const lt_intern_t *names, PyObject *warm, PyObject *final,
                             PyObject *argv, PyObject *outputs, double duration)
{
    analysis_t a;
    memset(&a, 0, sizeof(a));
    a.duration = duration;
    finding_t *found = NULL;
    size_t nfound = 0;
    PyObject *groups = PyDict_New(), *dirs = NULL, *verdict = NULL;
    lt_report_t r;
    lt_report_init(&r, &lt_page_alloc);
    if (groups == NULL || f->n == 0)
        goto error;
    size_t n = f->n;
    a.t = PyMem_New(double, n);
    a.v = PyMem_New(double, n);
    a.w = PyMem_New(double, n);
    if (a.t == NULL || a.v == NULL || a.w == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    if (find_candidates(f, names, &a) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto error;
    }
    if (a.ncands)
        qsort(a.cands, a.ncands, sizeof(cand_t), cand_cmp);

    long max_findings = 10;
    PyObject *mf = PyDict_GetItemString(outputs, "max_findings");
    if (mf != NULL && PyLong_Check(mf))
        max_findings = PyLong_AsLong(mf);
    found = PyMem_New(finding_t, a.ncands ? a.ncands : 1);
    if (found == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (size_t i = 0; i < a.ncands && (long)nfound < max_findings; i++) {
        const cand_t *c = &a.cands[i];
        finding_t x;
        memset(&x, 0, sizeof(x));
        x.count_delta = c->count_delta;
        x.bytes_delta = c->bytes_delta;
        x.bytes_ps = c->bytes_ps;
        x.count_ps = c->count_ps;
        x.confidence = c->confidence;
        const char *type_for_sample = NULL;
        if (c->kind == CAND_TYPE) {
            size_t len;
            const char *name = lt_intern_get(names, c->id, &len);
            x.type = PyUnicode_FromStringAndSize(name ? name : "?", name ? (Py_ssize_t)len : 1);
            type_for_sample = name;
        } else {
            x.type = PyUnicode_FromString(c->kind == CAND_FDS ? "fd" : c->kind == CAND_THREADS ? "threading.Thread"
                                                                                               : "native");
            if (c->kind == CAND_THREADS)
                type_for_sample = "threading.Thread";
        }
        if (x.type == NULL)
            goto error;
        PyObject *sample = NULL, *paths = NULL;
        if (type_for_sample != NULL) {
            PyObject *tn = PyUnicode_FromString(type_for_sample);
            if (tn != NULL)
                sample_and_paths(tn, warm, final, &sample, &paths);
            Py_XDECREF(tn);
        }
        PyObject *path = pick_path(paths);
        if (paths != NULL && path == NULL && PyList_Check(paths) && PyList_GET_SIZE(paths) > 0) {
            /* Every path ran through leaktrace itself: our own objects. */
            Py_XDECREF(sample);
            Py_XDECREF(paths);
            finding_clear(&x);
            continue;
        }
        x.path = path ? Py_NewRef(path) : NULL;
        x.frames = sample_frames(sample);
        PyErr_Clear();
        Py_XDECREF(sample);
        Py_XDECREF(paths);
        /* One finding per leaking container. */
        PyObject *key = group_key(x.path, PyUnicode_AsUTF8(x.type));
        if (key == NULL)
            goto error;
        PyObject *at = PyDict_GetItemWithError(groups, key);
        if (at == NULL && PyErr_Occurred()) {
            Py_DECREF(key);
            goto error;
        }
        if (at != NULL) {
            /* The group is reported once, by its program-defined type when
             * it has one (Invoice rather than the lists inside each). */
            size_t k = PyLong_AsSize_t(at);
            const char *mine = PyUnicode_AsUTF8(x.type), *theirs = PyUnicode_AsUTF8(found[k].type);
            if (mine && theirs && is_user_type(mine) && !is_user_type(theirs)) {
                if (x.frames == NULL)
                    x.frames = Py_XNewRef(found[k].frames);
                finding_clear(&found[k]);
                classify(&x, c->kind, warm != NULL && warm != Py_None);
                found[k] = x;
            } else {
                finding_clear(&x);
            }
            Py_DECREF(key);
            continue;
        }
        /* A type that grows in bytes but hardly in number is a container
         * resizing: when a finding already names a container, it is that. */
        if (c->kind == CAND_TYPE && x.path == NULL && c->count_delta < MIN_COUNT_GROWTH && nfound > 0) {
            Py_DECREF(key);
            finding_clear(&x);
            continue;
        }
        PyObject *pos = PyLong_FromSize_t(nfound);
        int rc = pos != NULL ? PyDict_SetItem(groups, key, pos) : -1;
        Py_XDECREF(pos);
        Py_DECREF(key);
        if (rc < 0) {
            finding_clear(&x);
            goto error;
        }
        classify(&x, c->kind, warm != NULL && warm != Py_None);
        found[nfound++] = x;
    }

    /* The report model. Importing sysconfig makes objects: only now that
     * every sample was taken. */
    dirs = stdlib_dirs();
    if (dirs == NULL)
        goto error;
    r.duration_s = duration;
    char version[32];
    snprintf(version, sizeof(version), "%d.%d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_MICRO_VERSION);
    r.python = lt_arena_strndup(&r.arena, version, strlen(version));
    size_t argc = (size_t)PyList_GET_SIZE(argv);
    const char **av = lt_arena_alloc(&r.arena, (argc ? argc : 1) * sizeof(char *));
    if (av == NULL || r.python == NULL)
        goto nomem;
    for (size_t i = 0; i < argc; i++)
        av[i] = arena_str(&r, PyList_GET_ITEM(argv, (Py_ssize_t)i));
    r.argv = av;
    r.argc = argc;
    double *st = arena_doubles(&r, n), *srss = arena_doubles(&r, n), *sheap = arena_doubles(&r, n),
           *sfds = arena_doubles(&r, n), *sthr = arena_doubles(&r, n);
    if (!st || !srss || !sheap || !sfds || !sthr)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        st[i] = f->cps[i].t;
        srss[i] = f->cps[i].rss;
        sheap[i] = f->cps[i].heap;
        sfds[i] = f->cps[i].fds;
        sthr[i] = f->cps[i].threads;
    }
    r.series = (lt_report_series_t){n, st, srss, sheap, sfds, sthr};
    lt_report_leak_t *leaks = lt_arena_alloc(&r.arena, (nfound ? nfound : 1) * sizeof(*leaks));
    if (leaks == NULL)
        goto nomem;
    double top = 0;
    for (size_t i = 0; i < nfound; i++) {
        if (fill_leak(&r, &leaks[i], &found[i], dirs) < 0)
            goto nomem;
        if (found[i].confidence > top)
            top = found[i].confidence;
    }
    r.leaks = leaks;
    r.nleaks = nfound;
    if (nfound > 0) {
        r.verdict = LT_VERDICT_LEAK;
        r.confidence = top;
    } else if (a.rss_trend.verdict == LT_TREND_TOO_SHORT || n < 8) {
        r.verdict = LT_VERDICT_INCONCLUSIVE;
        r.confidence = 0;
        double need = a.rss_trend.needed_s > 0 ? a.rss_trend.needed_s : fmax(10.0, duration * 4);
        char advice[160];
        snprintf(advice, sizeof(advice), "the run was too short to tell (%d checkpoints in %.1f s): run for at least %.0f s",
                 (int)n, duration, ceil(need));
        r.advice = lt_arena_strndup(&r.arena, advice, strlen(advice));
    } else {
        r.verdict = LT_VERDICT_NO_LEAK;
        r.confidence = 0.9;
    }
    if (write_outputs(&r, outputs) < 0)
        goto error;
    verdict = PyUnicode_FromString(r.verdict);
    goto done;
nomem:
    PyErr_NoMemory();
error:
    verdict = NULL;
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "leaktrace could not analyse the run");
done:
    for (size_t i = 0; i < nfound; i++)
        finding_clear(&found[i]);
    PyMem_Free(found);
    PyMem_Free(a.cands);
    PyMem_Free(a.t);
    PyMem_Free(a.v);
    PyMem_Free(a.w);
    Py_XDECREF(groups);
    Py_XDECREF(dirs);
    lt_report_release(&r);
    return verdict;
}
