/* lt_findings: checkpoints -> trend tests -> findings -> reports. */
#include "findings.h"

#include "errors.h"
#include "raise.h"
#include "safeget.h"
#include "labels.h"
#include "report.h"
#include "report_html.h"
#include "report_json.h"
#include "report_text.h"
#include "sitestats.h"
#include "strbuf.h"
#include "tracker.h"
#include "classify.h"
#include "timeline.h"
#include "typename.h"

#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lt_findings_cp {
    double t, rss, heap, fds, threads;
};

static PyObject *stdlib_dirs(void);

int lt_findings_init(lt_findings_t *f)
{
    memset(f, 0, sizeof(*f));
    f->stdlib_dirs = stdlib_dirs();
    PyErr_Clear();
    lt_timeline_opts_t o;
    lt_timeline_opts_init(&o);
    return lt_timeline_init(&f->timeline, &lt_page_alloc, &o);
}

void lt_findings_clear(lt_findings_t *f)
{
    lt_timeline_release(&f->timeline);
    Py_CLEAR(f->stdlib_dirs);
    lt_free(&lt_page_alloc, f->cps, f->cap * sizeof(lt_findings_cp_t));
    f->cps = NULL;
    f->n = f->cap = 0;
}

int lt_findings_add(lt_findings_t *f, const lt_capture_checkpoint_t *cp)
{
    if (f->n == LT_FINDINGS_MAX_POINTS) {
        /* Thin the plot: keep the even points (the first among them). */
        for (size_t i = 0; 2 * i < f->n; i++)
            f->cps[i] = f->cps[2 * i];
        f->n = (f->n + 1) / 2;
    }
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
    int rc = lt_timeline_add(&f->timeline, cp);
    if (rc < 0)
        return rc;
    lt_findings_cp_t *c = &f->cps[f->n++];
    c->t = (double)cp->time_ns / 1e9;
    c->rss = (double)cp->rss_bytes;
    c->heap = (double)cp->py_heap_bytes;
    double fds = 0;
    for (int k = 0; k < LT_CAPTURE_FD_KINDS; k++)
        fds += (double)cp->fds[k];
    c->fds = fds;
    c->threads = (double)cp->threads;
    f->taken++;
    return 0;
}

void lt_findings_last(const lt_findings_t *f, double *rss, double *heap, double *fds, double *threads)
{
    *rss = *heap = *fds = *threads = 0;
    if (f->n == 0)
        return;
    *rss = f->cps[f->n - 1].rss;
    *heap = f->cps[f->n - 1].heap;
    *fds = f->cps[f->n - 1].fds;
    *threads = f->cps[f->n - 1].threads;
}

size_t lt_findings_count(const lt_findings_t *f)
{
    return (size_t)f->taken;
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

/* Type names for the timeline's ranking, from the session's intern table. */
static const char *name_of(const void *ctx, uint32_t id, size_t *len)
{
    return lt_intern_get(ctx, id, len);
}

/* ---- from a candidate to a finding (GIL held) ---------------------------- */

/* Known resource types: a growing number of them is an unclosed resource.
 * Returns 0, or the type's rank: wrappers before what they wrap. */
static int is_resource_type(const char *name)
{
    static const char *const names[] = {
        "subprocess.Popen",     /* holds its pipes' file objects */
        "_io.TextIOWrapper", "_io.BufferedReader", "_io.BufferedWriter", "_io.BufferedRandom", "_io.FileIO",
        "ssl.SSLSocket", "socket.socket", "sqlite3.Connection", "sqlite3.Cursor",
        "selectors.EpollSelector", "selectors.DefaultSelector", "mmap.mmap",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i + 1;
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

static int path_is_ours(PyObject *p, PyObject *ours)
{
    for (Py_ssize_t i = 0; ours != NULL && i < PyTuple_GET_SIZE(ours); i++) {
        const char *needle = PyUnicode_AsUTF8(PyTuple_GET_ITEM(ours, i));
        if (needle == NULL)
            PyErr_Clear();
        else if (path_has(p, needle))
            return 1;
    }
    return path_has(p, "module leaktrace") || path_has(p, "frame cmd_run()") ||
           path_has(p, "frame _run_program()");
}

/* The holder path of the most common shape among a sample's paths, or
 * NULL. Paths that run through leaktrace's own modules or frames are not
 * the program's. */
static PyObject *pick_path(PyObject *paths, PyObject *ours, Py_ssize_t *index)
{
    *index = -1;
    if (paths == NULL || !PyList_Check(paths))
        return NULL;
    PyObject *counts = PyDict_New();
    PyObject *best = NULL;
    long best_n = 0;
    for (Py_ssize_t i = 0; counts != NULL && i < PyList_GET_SIZE(paths); i++) {
        PyObject *p = PyList_GET_ITEM(paths, i);
        if (!PyList_Check(p) || PyList_GET_SIZE(p) == 0 || path_is_ours(p, ours))
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
            *index = i;
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
    PyObject *referent;         /* weak references: their referent's type name (str), or NULL */
    int builtin;                /* a type finding of a type the program did not define */
} finding_t;

static void finding_clear(finding_t *x)
{
    Py_CLEAR(x->type);
    Py_CLEAR(x->path);
    Py_CLEAR(x->frames);
    Py_CLEAR(x->hint);
    Py_CLEAR(x->referent);
}

/* The allocation stack of the sampled object at `first` (the one whose
 * holder path is reported: a temporary of the same type, alive only at
 * the final checkpoint, has another stack), else of the first sampled
 * object that has one. */
static PyObject *sample_frames(PyObject *sample, Py_ssize_t first)
{
    Py_ssize_t nsample = sample != NULL ? PyList_GET_SIZE(sample) : 0;
    for (Py_ssize_t j = -1; j < nsample; j++) {
        Py_ssize_t i = j < 0 ? first : j;
        if (i < 0 || i >= nsample)
            continue;
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

/* The innermost frame of the program's own code in a stack, or the
 * innermost frame; -1 for an empty stack. */
static Py_ssize_t user_frame(PyObject *frames, PyObject *stdlib_dirs)
{
    if (frames == NULL || PyTuple_GET_SIZE(frames) == 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(frames); i++) {
        const char *file = PyUnicode_AsUTF8(PyTuple_GET_ITEM(PyTuple_GET_ITEM(frames, i), 0));
        if (file != NULL && is_user_file(file, stdlib_dirs))
            return i;
        PyErr_Clear();
    }
    return 0;
}

/* Whether the class of `o` is or derives from a class of that qualified
 * name, read from the MRO's type names (no attribute access). */
static int derives_from(PyObject *o, const char *qualname)
{
    PyObject *mro = Py_TYPE(o)->tp_mro;
    for (Py_ssize_t i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *name = lt_type_qualname((PyTypeObject *)PyTuple_GET_ITEM(mro, i));
        int same = name != NULL && PyUnicode_CompareWithASCIIString(name, qualname) == 0;
        Py_XDECREF(name);
        PyErr_Clear();
        if (same)
            return 1;
    }
    return 0;
}

/* The name of a Thread and the qualified name of the function it runs,
 * read from the instance's own storage (_name, _target): no attribute
 * lookup, no property, no __repr__ of the program's Thread subclass.
 * Borrowed UTF-8 or NULL. */
static const char *thread_name(PyObject *o)
{
    PyObject *v = lt_labels_attr_get(o, "_name");
    const char *u = v != NULL && PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
    PyErr_Clear();
    return u;
}

static const char *thread_target(PyObject *o)
{
    PyObject *v = lt_labels_attr_get(o, "_target");
    if (v != NULL && PyMethod_Check(v))
        v = PyMethod_GET_FUNCTION(v);
    PyObject *q = NULL;
    if (v != NULL && PyFunction_Check(v))
        q = ((PyFunctionObject *)v)->func_qualname;
    else if (v != NULL && PyCFunction_Check(v))
        return ((PyCFunctionObject *)v)->m_ml->ml_name;
    const char *u = q != NULL && PyUnicode_Check(q) ? PyUnicode_AsUTF8(q) : NULL;
    PyErr_Clear();
    return u;
}

static int gc_disabled(void)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *r = gc ? PyObject_CallMethod(gc, "isenabled", NULL) : NULL;
    int off = r != NULL && r == Py_False;
    Py_XDECREF(r);
    Py_XDECREF(gc);
    PyErr_Clear();
    return off;
}

/* Category, what, reported type and hint: lt_classify (src/core) decides
 * from the type, the holder path, what the sample's objects are, and the
 * site. Returns 0, or -1 with an exception set. */
static int classify(finding_t *x, const lt_candidate_t *c, PyObject *sample, PyObject *paths, const char *related,
                    PyObject *stdlib_dirs)
{
    lt_arena_t arena;
    lt_arena_init(&arena, &lt_page_alloc);
    lt_classify_in_t in;
    memset(&in, 0, sizeof(in));
    in.kind = c->kind;
    in.type = x->type != NULL ? PyUnicode_AsUTF8(x->type) : NULL;
    const char *elems[128];
    size_t ne = 0;
    for (Py_ssize_t i = 0; x->path != NULL && i < PyList_GET_SIZE(x->path) && ne < 128; i++) {
        const char *e = PyUnicode_AsUTF8(PyList_GET_ITEM(x->path, i));
        if (e != NULL)
            elems[ne++] = e;
    }
    PyErr_Clear();
    in.holder_path = elems;
    in.nholder_path = ne;
    in.nsampled = sample != NULL ? (size_t)PyList_GET_SIZE(sample) : 0;
    for (Py_ssize_t i = 0; paths != NULL && i < PyList_GET_SIZE(paths); i++)
        in.ncycle_only += path_has(PyList_GET_ITEM(paths, i), "reference cycle") &&
                          path_has(PyList_GET_ITEM(paths, i), "<not reachable");
    in.gc_disabled = gc_disabled();
    if (sample != NULL && PyList_GET_SIZE(sample) > 0) {
        PyObject *o = PyList_GET_ITEM(sample, 0);
        in.is_exception = PyExceptionInstance_Check(o);
        in.is_thread = derives_from(o, "threading.Thread");
        if (in.is_thread) {
            in.thread_name = thread_name(o);
            in.thread_target = thread_target(o);
        }
    }
    in.is_resource = in.type != NULL && is_resource_type(in.type);
    in.related_type = related;
    in.thread_growth = c->kind == LT_CAND_THREADS ? c->count_per_second : 0;
    in.count_per_second = c->count_per_second;
    in.bytes_per_second = c->bytes_per_second;
    Py_ssize_t uf = user_frame(x->frames, stdlib_dirs);
    if (uf >= 0) {
        PyObject *e = PyTuple_GET_ITEM(x->frames, uf);
        in.has_site = 1;
        in.site.file = PyUnicode_AsUTF8(PyTuple_GET_ITEM(e, 0));
        in.site.line = PyLong_AsLongLong(PyTuple_GET_ITEM(e, 1));
        in.site.function = PyUnicode_AsUTF8(PyTuple_GET_ITEM(e, 2));
        if (in.site.file == NULL || in.site.function == NULL)
            in.has_site = 0;
        PyErr_Clear();
    }
    lt_classify_out_t out;
    int rc = lt_classify(&in, &arena, &out);
    if (rc == 0) {
        x->category = out.category;
        x->what = out.what;
        PyObject *t = PyUnicode_FromString(out.type != NULL ? out.type : "?");
        PyObject *h = PyUnicode_FromString(out.hint != NULL ? out.hint : "");
        if (t == NULL || h == NULL) {
            Py_XDECREF(t);
            Py_XDECREF(h);
            rc = -1;
        } else {
            Py_XSETREF(x->type, t);
            Py_XSETREF(x->hint, h);
        }
    } else {
        lt_raise(rc, "classifying a finding");
    }
    lt_arena_release(&arena);
    return rc < 0 ? -1 : 0;
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

/* The flame graph of the HTML report: the stacks with the most live bytes
 * in the tracker's current run, at most FLAME_STACKS of them (the graph
 * merges them by frame; the rest are too thin to see). Stacks with no
 * Python frame are left out. Returns 0, or -1 out of memory. */
#define FLAME_STACKS 400
#define FLAME_DEPTH 64

typedef struct flame_pick {
    uint32_t stack;
    uint64_t live_bytes;
} flame_pick_t;

static int flame_pick_cmp(const void *a, const void *b)
{
    uint64_t x = ((const flame_pick_t *)a)->live_bytes, y = ((const flame_pick_t *)b)->live_bytes;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int is_launcher_frame(const lt_tracker_frame_t *fr)
{
    Py_ssize_t len = 0;
    const char *file = PyUnicode_AsUTF8AndSize(fr->file, &len);
    if (file == NULL) {
        PyErr_Clear();
        return 0;
    }
    return lt_report_launcher_file(file, (size_t)len);
}

static int add_flame(lt_report_t *r)
{
    lt_sitestats_t sites;
    lt_sitestats_init(&sites, &lt_page_alloc);
    flame_pick_t *picks = NULL;
    size_t picks_size = 0;
    int rc = -1;
    if (lt_tracker_generation() == 0) {
        rc = 0;
        goto done;
    }
    if (lt_tracker_copy_sites(&sites) < 0)
        goto done;
    size_t n = 0;
    for (size_t i = 1; i < sites.len; i++)
        n += sites.rows[i].live_bytes > 0;
    if (n == 0) {
        rc = 0;
        goto done;
    }
    picks_size = n * sizeof(*picks);
    picks = lt_page_alloc.alloc(lt_page_alloc.ctx, picks_size);
    if (picks == NULL)
        goto done;
    size_t k = 0;
    for (size_t i = 1; i < sites.len; i++)
        if (sites.rows[i].live_bytes > 0)
            picks[k++] = (flame_pick_t){(uint32_t)i, sites.rows[i].live_bytes};
    qsort(picks, n, sizeof(*picks), flame_pick_cmp);
    if (n > FLAME_STACKS)
        n = FLAME_STACKS;
    lt_report_flame_t *flame = lt_arena_alloc(&r->arena, n * sizeof(*flame));
    if (flame == NULL)
        goto done;
    size_t nflame = 0;
    for (size_t i = 0; i < n; i++) {
        lt_tracker_frame_t fr[FLAME_DEPTH];
        int depth = lt_tracker_stack_frames(picks[i].stack, fr, FLAME_DEPTH);
        int all = depth;
        /* The outermost frames are leaktrace's launcher (cli.py, runpy):
         * the same for every stack, so left out; a stack made only of
         * them is leaktrace's own. */
        while (depth > 0 && is_launcher_frame(&fr[depth - 1]))
            depth--;
        if (depth <= 0) {
            lt_tracker_frames_release(fr, all);
            continue;
        }
        lt_report_frame_t *frames = lt_arena_alloc(&r->arena, (size_t)depth * sizeof(*frames));
        int ok = frames != NULL;
        for (int d = 0; ok && d < depth; d++) {
            frames[d].file = arena_str(r, fr[d].file);
            frames[d].line = fr[d].line;
            frames[d].function = arena_str(r, fr[d].function);
            ok = frames[d].file != NULL && frames[d].function != NULL;
        }
        lt_tracker_frames_release(fr, all);
        if (!ok)
            goto done;
        flame[nflame++] = (lt_report_flame_t){frames, (size_t)depth, (double)picks[i].live_bytes};
    }
    r->flame = flame;
    r->nflame = nflame;
    rc = 0;
done:
    if (picks != NULL)
        lt_page_alloc.free(lt_page_alloc.ctx, picks, picks_size);
    lt_sitestats_clear(&sites);
    return rc;
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

/* Writes a report whole: into PATH.tmp.PID, fsync'd, then renamed over
 * PATH, so that a reader, or a kill in the middle (the memory limit's report
 * is often followed by SIGKILL), finds the old report or the new one, never
 * a torn one. What is not a regular file (/dev/stdout, a FIFO) is written
 * in place. */
static int write_file(const char *path, const lt_strbuf_t *b)
{
    struct stat sb;
    char tmp[4200];
    const char *target = path;
    if (!(stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))) {
        int len = snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
        if (len > 0 && (size_t)len < sizeof(tmp))
            target = tmp;
    }
    int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
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
            if (target != path)
                unlink(target);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    int bad = target != path && fsync(fd) < 0 && errno != EINVAL;
    if (close(fd) < 0)
        bad = 1;
    if (bad || (target != path && rename(target, path) < 0)) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
        if (target != path)
            unlink(target);
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

int lt_findings_render(const lt_report_t *r, const char *format, lt_strbuf_t *out)
{
    source_cache_t src_cache;
    memset(&src_cache, 0, sizeof(src_cache));
    lt_report_source_t src = {source_line, &src_cache};
    int rc;
    if (strcmp(format, "json") == 0)
        rc = lt_report_write_json(r, out);
    else if (strcmp(format, "html") == 0)
        rc = lt_report_write_html(r, out, &src);
    else if (strcmp(format, "text") == 0)
        rc = lt_report_write_text(r, out, 0, &src);
    else
        rc = LT_EINVAL;
    PyMem_Free(src_cache.text);
    if (rc < 0) {
        lt_raise(rc, "writing the report");
        return -1;
    }
    return 0;
}

/* Warnings that are no leaks: one huge object (SCENARIOS.md 13: memory
 * overflow from a single allocation) and a deep stack (14). */
#define HUGE_OBJECT_BYTES (64.0 * 1024 * 1024)

/* Besides, the session's notes: outputs["notes"], a list of (kind, message)
 * str pairs (the memory limit reached, the child processes followed). */
static int add_warnings(lt_report_t *r, const lt_findings_t *f, PyObject *outputs)
{
    PyObject *notes = PyDict_GetItemString(outputs, "notes");
    Py_ssize_t nnotes = notes != NULL && PyList_Check(notes) ? PyList_GET_SIZE(notes) : 0;
    lt_report_warning_t *w = lt_arena_alloc(&r->arena, (2 + (size_t)nnotes) * sizeof(*w));
    if (w == NULL)
        return -1;
    size_t n = 0;
    char msg[512];
    if (f->largest_bytes >= HUGE_OBJECT_BYTES) {
        snprintf(msg, sizeof(msg),
                 "one %s object of %.1f MiB was alive at %.1f s: a single huge allocation (an unbounded "
                 "integer such as 1024 ** 1024 ** 1024, a whole file read into memory) can exhaust memory on "
                 "its own; bound its size or stream the data",
                 f->largest_type, f->largest_bytes / 1048576.0, f->largest_at);
        w[n].kind = "huge-object";
        w[n].message = lt_arena_strndup(&r->arena, msg, strlen(msg));
        if (w[n++].message == NULL)
            return -1;
    }
    int limit = Py_GetRecursionLimit();
    if (f->deepest > 0 && limit > 0 && f->deepest >= limit / 2) {
        snprintf(msg, sizeof(msg),
                 "a thread was %ld Python frames deep at %.1f s, over half the recursion limit (%d): deep "
                 "recursion ends in RecursionError or, in threads with small stacks, a crash; iterate "
                 "instead, or raise the limit knowingly",
                 f->deepest, f->deepest_at, limit);
        w[n].kind = "deep-recursion";
        w[n].message = lt_arena_strndup(&r->arena, msg, strlen(msg));
        if (w[n++].message == NULL)
            return -1;
    }
    for (Py_ssize_t i = 0; i < nnotes; i++) {
        PyObject *t = PyList_GET_ITEM(notes, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2)
            continue;
        PyObject *k = PyTuple_GET_ITEM(t, 0), *m = PyTuple_GET_ITEM(t, 1);
        Py_ssize_t klen = 0, mlen = 0;
        const char *kind = PyUnicode_Check(k) ? PyUnicode_AsUTF8AndSize(k, &klen) : NULL;
        const char *message = PyUnicode_Check(m) ? PyUnicode_AsUTF8AndSize(m, &mlen) : NULL;
        if (kind == NULL || message == NULL) {
            PyErr_Clear();
            continue;
        }
        w[n].kind = lt_arena_strndup(&r->arena, kind, (size_t)klen);
        w[n].message = lt_arena_strndup(&r->arena, message, (size_t)mlen);
        if (w[n].kind == NULL || w[n++].message == NULL)
            return -1;
    }
    r->warnings = w;
    r->nwarnings = n;
    return 0;
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
/* Whether `o` was allocated at a site whose live bytes grow (a SITE
 * candidate of the analysis: the site ids are the tracker's stack ids). */
static int at_growing_site(PyObject *o, const lt_analysis_t *an)
{
    uint32_t stack = lt_tracker_object_stack(o);
    for (size_t i = 0; stack != 0 && an != NULL && i < an->ncandidates; i++)
        if (an->candidates[i].kind == LT_CAND_SITE && an->candidates[i].id == stack)
            return 1;
    return 0;
}

/* Up to SAMPLE objects of `type` created since `warm` and their holder
 * paths; either may come back NULL (no warm-up checkpoint yet). Objects
 * allocated at a growing site come first: amid churn of the same type, the
 * temporaries of the request in flight (alive at the final checkpoint too)
 * can outnumber the leaked objects, but their site does not grow. */
#define SAMPLE 20
#define SAMPLE_SCAN 4000

static void sample_and_paths(PyObject *type, PyObject *warm, PyObject *final, const lt_analysis_t *an,
                             PyObject **sample, PyObject **paths)
{
    *sample = *paths = NULL;
    if (warm == NULL || warm == Py_None)
        return;
    PyObject *args = PyTuple_Pack(1, type);
    PyObject *kw = Py_BuildValue("{sOsisO}", "since", warm, "limit", SAMPLE_SCAN, "until", final);
    PyObject *all = args && kw ? call_core("new_objects", args, kw) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kw);
    if (all == NULL || PyList_GET_SIZE(all) == 0) {
        Py_XDECREF(all);
        PyErr_Clear();
        return;
    }
    *sample = PyList_New(0);
    for (int pass = 0; *sample != NULL && pass < 2; pass++)
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(all) && PyList_GET_SIZE(*sample) < SAMPLE; i++) {
            PyObject *o = PyList_GET_ITEM(all, i);
            if (at_growing_site(o, an) == (pass == 0) && PyList_Append(*sample, o) < 0)
                Py_CLEAR(*sample);
            if (*sample == NULL)
                break;
        }
    Py_DECREF(all);
    if (*sample == NULL) {
        PyErr_Clear();
        return;
    }
    args = PyTuple_Pack(1, *sample);
    kw = Py_BuildValue("{sisi}", "max_paths", SAMPLE, "max_depth", 64);
    if (args && kw)
        *paths = call_core("holder_paths", args, kw);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    if (*paths == NULL)
        PyErr_Clear();
}

/* In sampled mode few objects carry an allocation stack (one in
 * sample_mean / size), so the 20 of the holder-path sample seldom do: look
 * through up to SITE_SCAN new objects of the type for one that does. The
 * stack as sample_frames gives it, or NULL. */
#define SITE_SCAN 200000

static PyObject *sampled_site(const char *type, PyObject *warm, PyObject *final)
{
    if (warm == NULL || warm == Py_None || lt_tracker_generation() == 0)
        return NULL;
    PyObject *tn = PyUnicode_FromString(type);
    PyObject *args = tn ? PyTuple_Pack(1, tn) : NULL;
    PyObject *kw = Py_BuildValue("{sOsisO}", "since", warm, "limit", SITE_SCAN, "until", final);
    PyObject *objs = args && kw ? call_core("new_objects", args, kw) : NULL;
    Py_XDECREF(tn);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    PyObject *frames = NULL;
    for (Py_ssize_t i = 0; objs != NULL && PyList_Check(objs) && i < PyList_GET_SIZE(objs); i++) {
        if (lt_tracker_object_stack(PyList_GET_ITEM(objs, i)) == 0)
            continue;
        PyObject *one = PyList_New(1);
        if (one == NULL)
            break;
        PyList_SET_ITEM(one, 0, Py_NewRef(PyList_GET_ITEM(objs, i)));
        frames = sample_frames(one, 0);
        Py_DECREF(one);
        break;
    }
    Py_XDECREF(objs);
    PyErr_Clear();
    return frames;
}

/* The names of the threading.Thread objects made since the warm-up and
 * alive at the final checkpoint (a set of str), or NULL. */
static PyObject *new_thread_names(PyObject *warm, PyObject *final)
{
    if (warm == NULL || warm == Py_None)
        return NULL;
    PyObject *args = Py_BuildValue("(s)", "threading.Thread");
    PyObject *kw = Py_BuildValue("{sOsisO}", "since", warm, "limit", 100000, "until", final);
    PyObject *objs = args && kw ? call_core("new_objects", args, kw) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kw);
    PyObject *set = objs != NULL && PyList_Check(objs) ? PySet_New(NULL) : NULL;
    for (Py_ssize_t i = 0; set != NULL && i < PyList_GET_SIZE(objs); i++) {
        PyObject *v = lt_labels_attr_get(PyList_GET_ITEM(objs, i), "_name");
        if (v != NULL && PyUnicode_CheckExact(v) && PySet_Add(set, v) < 0)
            Py_CLEAR(set);
    }
    Py_XDECREF(objs);
    PyErr_Clear();
    return set;
}

/* Whether a path's root is the stack of one of the threads named in
 * `names` ("thread watch-12 frame wait() local 'self'"). */
static int rooted_in_thread(PyObject *path, PyObject *names)
{
    if (path == NULL || names == NULL || PyList_GET_SIZE(path) == 0)
        return 0;
    const char *root = PyUnicode_AsUTF8(PyList_GET_ITEM(path, 0));
    const char *fr = root != NULL && strncmp(root, "thread ", 7) == 0 ? strstr(root + 7, " frame ") : NULL;
    if (fr == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *name = PyUnicode_FromStringAndSize(root + 7, fr - (root + 7));
    int in = name != NULL ? PySet_Contains(names, name) : 0;
    Py_XDECREF(name);
    PyErr_Clear();
    return in > 0;
}

/* Whether a candidate follows from a finding already made, so that it
 * would tell the same leak twice:
 *  - a builtin type allocated on the same line as a reported finding's
 *    objects: the statement that leaks makes both (the bound method and the
 *    deque inside each Thread that `Thread(...).start()` leaves running);
 *  - once threads are reported (`leaked_threads`: the names of the threads
 *    started since the warm-up), what their stacks hold and what the
 *    threading module keeps for each live thread (_shutdown_locks,
 *    _dangling): the leaked threads keep it alive. */
static int holds_finding(const finding_t *x, const finding_t *found, size_t nfound);

/* Whether two findings' objects were allocated on the same line (their
 * innermost frames of the program's own code). */
static int same_site(const finding_t *a, const finding_t *b, PyObject *dirs)
{
    Py_ssize_t af = user_frame(a->frames, dirs), bf = user_frame(b->frames, dirs);
    if (af < 0 || bf < 0)
        return 0;
    PyObject *x = PyTuple_GET_ITEM(a->frames, af), *y = PyTuple_GET_ITEM(b->frames, bf);
    int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(x, 1), PyTuple_GET_ITEM(y, 1), Py_EQ) == 1 &&
               PyUnicode_Compare(PyTuple_GET_ITEM(x, 0), PyTuple_GET_ITEM(y, 0)) == 0;
    PyErr_Clear();
    return same;
}

static int follows_finding(const finding_t *x, const lt_candidate_t *c, const finding_t *found, size_t nfound,
                           PyObject *leaked_threads, PyObject *dirs)
{
    const char *type = c->kind == LT_CAND_TYPE ? PyUnicode_AsUTF8(x->type) : NULL;
    if (type == NULL || is_resource_type(type)) {
        PyErr_Clear();
        return 0;
    }
    if (holds_finding(x, found, nfound))
        return 1;
    /* Builtin objects in cyclic garbage, once a program type's cycles are
     * reported: the lists and dicts that link the reported objects (the
     * collector frees them together). */
    const char *root = x->path != NULL && PyList_GET_SIZE(x->path) > 0 ? PyUnicode_AsUTF8(PyList_GET_ITEM(x->path, 0))
                                                                        : NULL;
    PyErr_Clear();
    for (size_t k = 0; !c->user_type && root != NULL && strncmp(root, "<not reachable", 14) == 0 && k < nfound; k++)
        if (found[k].category != NULL && strcmp(found[k].category, LT_CAT_REFERENCE_CYCLE) == 0)
            return 1;
    if (leaked_threads != NULL && x->path != NULL && PyList_GET_SIZE(x->path) > 0) {
        if (rooted_in_thread(x->path, leaked_threads))
            return 1;
        const char *root = PyUnicode_AsUTF8(PyList_GET_ITEM(x->path, 0));
        if (root != NULL && strcmp(root, "module threading") == 0)
            return 1;
        PyErr_Clear();
    }
    Py_ssize_t uf = c->user_type ? -1 : user_frame(x->frames, dirs);
    if (uf < 0)
        return 0;
    PyObject *mine = PyTuple_GET_ITEM(x->frames, uf);
    for (size_t k = 0; k < nfound; k++) {
        Py_ssize_t kf = user_frame(found[k].frames, dirs);
        if (kf < 0)
            continue;
        PyObject *theirs = PyTuple_GET_ITEM(found[k].frames, kf);
        int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(mine, 1), PyTuple_GET_ITEM(theirs, 1), Py_EQ) == 1 &&
                   PyUnicode_Compare(PyTuple_GET_ITEM(mine, 0), PyTuple_GET_ITEM(theirs, 0)) == 0;
        PyErr_Clear();
        if (same)
            return 1;
    }
    return 0;
}

/* A path with its numbers blanked ("atexit callbacks [#]", "[#]"), elements
 * joined by '|': the way of holding, whichever entry. New str or NULL. */
static PyObject *path_way(PyObject *path)
{
    lt_strbuf_t b;
    lt_strbuf_init(&b, &lt_page_alloc);
    int ok = 1;
    for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE(path); i++) {
        const char *e = PyUnicode_AsUTF8(PyList_GET_ITEM(path, i));
        if (e == NULL)
            break;
        ok = lt_strbuf_append(&b, "|", 1) == 0;
        for (const char *q = e; ok && *q != '\0'; q++) {
            if (*q >= '0' && *q <= '9') {
                while (q[1] >= '0' && q[1] <= '9')
                    q++;
                ok = lt_strbuf_append(&b, "#", 1) == 0;
            } else {
                ok = lt_strbuf_append(&b, q, 1) == 0;
            }
        }
    }
    PyErr_Clear();
    PyObject *s = ok ? PyUnicode_FromStringAndSize(lt_strbuf_str(&b), (Py_ssize_t)b.len) : NULL;
    lt_strbuf_clear(&b);
    PyErr_Clear();
    return s;
}

/* Whether the objects of a candidate hold a reported finding's objects:
 * its holder path is the start of the finding's (the bound method in the
 * atexit registry, whose __self__ is the reported SpoolFile), or, for
 * garbage cycles, the cycle it is in starts at an object of the finding's
 * type ("<__main__.Transaction>", ".session"). */
static int holds_finding(const finding_t *x, const finding_t *found, size_t nfound)
{
    if (x->path == NULL || PyList_GET_SIZE(x->path) == 0)
        return 0;
    PyObject *mine = path_way(x->path);
    int holds = 0;
    const char *root = PyUnicode_AsUTF8(PyList_GET_ITEM(x->path, 0));
    int garbage = root != NULL && strncmp(root, "<not reachable", 14) == 0 && PyList_GET_SIZE(x->path) >= 3;
    const char *outer = garbage ? PyUnicode_AsUTF8(PyList_GET_ITEM(x->path, 2)) : NULL;
    for (size_t k = 0; !holds && mine != NULL && k < nfound; k++) {
        if (outer != NULL && found[k].type != NULL) {
            const char *t = PyUnicode_AsUTF8(found[k].type);
            size_t tl = t != NULL ? strlen(t) : 0;
            if (t != NULL && outer[0] == '<' && strncmp(outer + 1, t, tl) == 0 && strcmp(outer + 1 + tl, ">") == 0)
                holds = 1;
        }
        if (holds || found[k].path == NULL)
            continue;
        PyObject *theirs = path_way(found[k].path);
        if (theirs != NULL) {
            Py_ssize_t ml = PyUnicode_GET_LENGTH(mine);
            holds = PyUnicode_GET_LENGTH(theirs) > ml && PyUnicode_Tailmatch(theirs, mine, 0, ml, -1) == 1 &&
                    PyUnicode_READ_CHAR(theirs, ml) == '|';
        }
        Py_XDECREF(theirs);
    }
    Py_XDECREF(mine);
    PyErr_Clear();
    return holds;
}

/* Native memory that grows in step with a reported thread or resource is
 * what those objects own outside Python's allocators (a thread's stack and
 * malloc arena, a sqlite3 connection's page cache): up to
 * NATIVE_PER_OBJECT bytes for each new one, it is part of that finding. */
#define NATIVE_PER_OBJECT (1024.0 * 1024)

static int native_follows(const finding_t *x, const finding_t *found, size_t nfound)
{
    for (size_t k = 0; k < nfound; k++) {
        const finding_t *o = &found[k];
        if (o == x || o->category == NULL || o->count_ps <= 0 ||
            (strcmp(o->category, LT_CAT_THREAD) != 0 && strcmp(o->category, LT_CAT_UNCLOSED_RESOURCE) != 0))
            continue;
        if (x->bytes_ps <= o->count_ps * NATIVE_PER_OBJECT)
            return 1;
    }
    return 0;
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

/* Whether a new candidate of a group should represent it instead of the
 * finding it has: a resource type (the sqlite3.Connection, not its
 * statement-cache dicts), then a program-defined type over a builtin, then
 * the type held most directly by the container (the cached Invoice, not the
 * LineItems inside each). */
static int represents_better(const finding_t *x, const lt_candidate_t *c, const finding_t *current, const char *name)
{
    const char *theirs = PyUnicode_AsUTF8(current->type);
    if (name == NULL || theirs == NULL) {
        PyErr_Clear();
        return 0;
    }
    /* Of two resources in one holder, the one held most directly: the
     * TextIOWrapper the program opened (.fh), not the buffer inside it
     * (.fh.buffer) whose 4 KiB outweigh it. */
    if (current->category != NULL && strcmp(current->category, LT_CAT_UNCLOSED_RESOURCE) == 0)
        return is_resource_type(name) && x->path != NULL && current->path != NULL &&
               PyList_GET_SIZE(x->path) < PyList_GET_SIZE(current->path);
    if (is_resource_type(name))
        return 1;
    int theirs_user = lt_timeline_user_type(theirs, strlen(theirs));
    if (c->user_type != theirs_user)
        return c->user_type;
    if (x->path != NULL && current->path != NULL)
        return PyList_GET_SIZE(x->path) < PyList_GET_SIZE(current->path);
    return 0;
}

/* The resource type that grows with the descriptors, or NULL: a confident
 * candidate before one that only grows (under load a type's series may
 * miss the confidence bar that the descriptor total passes), and of
 * several, the outermost wrapper (is_resource_type's order: the
 * TextIOWrapper rather than the BufferedWriter and FileIO inside it),
 * which is what the program opened. */
static const char *related_resource(const lt_analysis_t *an, const lt_intern_t *names)
{
    const char *best = NULL;
    int best_rank = 0, best_confident = 0;
    for (size_t i = 0; i < an->ncandidates; i++) {
        const lt_candidate_t *c = &an->candidates[i];
        if (c->kind != LT_CAND_TYPE || !(c->confident || c->count_per_second > 0))
            continue;
        size_t len;
        const char *name = lt_intern_get(names, c->id, &len);
        int rank = name != NULL ? is_resource_type(name) : 0;
        if (rank == 0)
            continue;
        if (best == NULL || (c->confident && !best_confident) ||
            (c->confident == best_confident && rank < best_rank)) {
            best = name;
            best_rank = rank;
            best_confident = c->confident;
        }
    }
    return best;
}

PyObject *lt_findings_report(lt_findings_t *f, const lt_intern_t *names, PyObject *warm, PyObject *final,
                             PyObject *argv, PyObject *outputs, double duration)
{
    return lt_findings_report_to(f, names, warm, final, argv, outputs, duration, NULL, NULL);
}

PyObject *lt_findings_report_to(lt_findings_t *f, const lt_intern_t *names, PyObject *warm, PyObject *final,
                                PyObject *argv, PyObject *outputs, double duration, lt_findings_sink_t sink,
                                void *ctx)
{
    lt_analysis_t an;
    memset(&an, 0, sizeof(an));
    int analysed = 0;
    finding_t *found = NULL;
    size_t nfound = 0;
    int live = warm != NULL && warm != Py_None;
    PyObject *groups = PyDict_New(), *dirs = NULL, *verdict = NULL, *leaked_threads = NULL;
    lt_report_t r;
    lt_report_init(&r, &lt_page_alloc);
    if (groups == NULL || f->n == 0)
        goto error;
    size_t n = f->n;
    /* The final checkpoint (taken by the caller) excludes what the
     * analysis creates from the samples, so sysconfig may be imported now. */
    /* Live bytes by site before the analysis allocates anything (a
     * replayed capture brings its own). */
    if (f->flame != NULL) {
        r.flame = f->flame;
        r.nflame = f->nflame;
    } else if (final != NULL && final != Py_None && add_flame(&r) < 0) {
        PyErr_NoMemory();
        goto error;
    }
    dirs = f->stdlib_dirs != NULL ? Py_NewRef(f->stdlib_dirs) : stdlib_dirs();
    if (dirs == NULL)
        goto error;
    lt_analysis_opts_t ao;
    lt_analysis_opts_init(&ao);
    ao.type_name = name_of;
    ao.type_name_ctx = names;
    if (f->given != NULL) {
        /* The repeated checks decided already (the copy is not released). */
        an = *f->given;
    } else {
        int rc = lt_timeline_analyze(&f->timeline, &ao, &an);
        if (rc < 0) {
            lt_raise(rc, "analysing the run");
            goto error;
        }
        analysed = 1;
    }

    long max_findings = 10;
    PyObject *mf = PyDict_GetItemString(outputs, "max_findings");
    if (mf != NULL && PyLong_Check(mf))
        max_findings = PyLong_AsLong(mf);
    found = PyMem_New(finding_t, an.ncandidates ? an.ncandidates : 1);
    if (found == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    const char *resource = related_resource(&an, names);
    for (size_t i = 0; i < an.ncandidates && (long)nfound < max_findings; i++) {
        const lt_candidate_t *c = &an.candidates[i];
        /* Echoes follow from a finding listed before them; sites, the heap
         * as a whole and descriptors by kind are explained by the types and
         * the total. */
        /* The descriptor total stays even when ranked as an echo (of the
         * resource type that grows with it): it is the resource finding. */
        int resource_total = c->kind == LT_CAND_FDS || c->kind == LT_CAND_THREADS;
        if (!c->confident || (c->echo_of >= 0 && !resource_total) || c->kind == LT_CAND_SITE ||
            c->kind == LT_CAND_HEAP || c->kind == LT_CAND_FD_KIND || (c->kind == LT_CAND_NATIVE && c->id != 0))
            continue;
        /* Allocator overhead and fragmentation grow with the Python heap:
         * only a residue that outgrows the heap itself is native memory. */
        if (c->kind == LT_CAND_NATIVE &&
            (double)c->bytes_delta < 2 * (f->cps[n - 1].heap - f->cps[0].heap))
            continue;
        finding_t x;
        memset(&x, 0, sizeof(x));
        x.count_delta = (double)c->count_delta;
        x.bytes_delta = (double)c->bytes_delta;
        x.bytes_ps = c->bytes_per_second;
        x.count_ps = c->count_per_second;
        x.confidence = c->trend.confidence;
        const char *type_for_sample = NULL;
        if (c->kind == LT_CAND_TYPE) {
            size_t len;
            const char *name = lt_intern_get(names, c->id, &len);
            x.type = PyUnicode_FromStringAndSize(name ? name : "?", name ? (Py_ssize_t)len : 1);
            type_for_sample = name;
        } else {
            x.type = PyUnicode_FromString(c->kind == LT_CAND_FDS ? "fd" : c->kind == LT_CAND_THREADS ? "threading.Thread"
                                                                                                     : "native");
            type_for_sample = c->kind == LT_CAND_THREADS ? "threading.Thread" : c->kind == LT_CAND_FDS ? resource : NULL;
        }
        if (x.type == NULL)
            goto error;
        PyObject *sample = NULL, *paths = NULL;
        if (type_for_sample != NULL) {
            PyObject *tn = PyUnicode_FromString(type_for_sample);
            if (tn != NULL)
                sample_and_paths(tn, warm, final, &an, &sample, &paths);
            Py_XDECREF(tn);
            PyErr_Clear();
        }
        Py_ssize_t picked;
        PyObject *path = pick_path(paths, f->ours, &picked);
        if (paths != NULL && path == NULL && PyList_Check(paths) && PyList_GET_SIZE(paths) > 0) {
            /* Every path ran through leaktrace itself: our own objects. */
            Py_XDECREF(sample);
            Py_XDECREF(paths);
            finding_clear(&x);
            continue;
        }
        x.path = path ? Py_NewRef(path) : NULL;
        x.frames = sample_frames(sample, picked);
        x.builtin = c->kind == LT_CAND_TYPE && !c->user_type;
        if (sample != NULL && PyList_GET_SIZE(sample) > 0 && PyWeakref_CheckRef(PyList_GET_ITEM(sample, 0))) {
            /* The field, not PyWeakref_GET_OBJECT (deprecated in 3.13):
             * None once the referent is gone. */
            PyObject *to = ((PyWeakReference *)PyList_GET_ITEM(sample, 0))->wr_object;
            x.referent = to != NULL && to != Py_None ? lt_type_qualname(Py_TYPE(to)) : NULL;
            PyErr_Clear();
        }
        if (x.frames == NULL && type_for_sample != NULL)
            x.frames = sampled_site(type_for_sample, warm, final);
        PyErr_Clear();
        /* One finding per leaking container. */
        PyObject *key = group_key(x.path, PyUnicode_AsUTF8(x.type));
        PyObject *at = key != NULL ? PyDict_GetItemWithError(groups, key) : NULL;
        if (key == NULL || (at == NULL && PyErr_Occurred())) {
            Py_XDECREF(key);
            Py_XDECREF(sample);
            Py_XDECREF(paths);
            finding_clear(&x);
            goto error;
        }
        int keep = 1;
        size_t slot = nfound;
        if (at == NULL && nfound > 0 && follows_finding(&x, c, found, nfound, leaked_threads, dirs)) {
            /* A group of its own, but part of a finding already made. */
            keep = 0;
        } else if (at != NULL) {
            /* The group is reported once, by its program-defined type when
             * it has one (Invoice rather than the lists inside each). */
            size_t k = PyLong_AsSize_t(at);
            /* The descriptor total joins the resource type it grows with
             * (the same objects): one finding, as sure as the surer one. */
            if (c->kind == LT_CAND_FDS && found[k].category != NULL &&
                strcmp(found[k].category, LT_CAT_UNCLOSED_RESOURCE) == 0 && x.confidence > found[k].confidence)
                found[k].confidence = x.confidence;
            keep = c->kind == LT_CAND_TYPE && represents_better(&x, c, &found[k], type_for_sample);
            if (keep) {
                if (x.frames == NULL)
                    x.frames = Py_XNewRef(found[k].frames);
                finding_clear(&found[k]);
                slot = k;
            }
        } else if (c->kind == LT_CAND_TYPE && x.path == NULL && (double)c->count_delta < ao.min_count && nfound > 0) {
            /* Grows in bytes, hardly in number: a container resizing, the
             * container a finding already names. */
            keep = 0;
        } else {
            PyObject *pos = PyLong_FromSize_t(nfound);
            int set = pos != NULL ? PyDict_SetItem(groups, key, pos) : -1;
            Py_XDECREF(pos);
            if (set < 0)
                keep = -1;
        }
        Py_DECREF(key);
        if (keep == 1 && classify(&x, c, sample, paths, c->kind == LT_CAND_FDS ? resource : NULL, dirs) < 0)
            keep = -1;
        Py_XDECREF(sample);
        Py_XDECREF(paths);
        if (keep <= 0) {
            finding_clear(&x);
            if (keep < 0)
                goto error;
            continue;
        }
        if (!live && x.path == NULL)
            Py_XSETREF(x.hint, PyUnicode_FromFormat("%U (Who holds them is not in a capture file: run the program "
                                                    "under `leaktrace run` to see the holder path.)",
                                                    x.hint));
        found[slot] = x;
        if (slot == nfound)
            nfound++;
        if (leaked_threads == NULL && strcmp(x.category, LT_CAT_THREAD) == 0)
            leaked_threads = new_thread_names(warm, final);
    }
    /* Native residue explained by the threads or resources found; weak
     * references to a finding's objects (logging's _handlerList keeps one
     * per Handler): they exist because those objects do. */
    size_t kept = 0;
    for (size_t i = 0; i < nfound; i++) {
        int follows = strcmp(found[i].category, LT_CAT_NATIVE) == 0 && native_follows(&found[i], found, nfound);
        for (size_t k = 0; !follows && found[i].referent != NULL && k < nfound; k++)
            follows = k != i && found[k].type != NULL &&
                      PyUnicode_Compare(found[i].referent, found[k].type) == 0;
        /* A builtin type made on the line of a thread, resource or program
         * type found after it (ranked higher only by its bytes). */
        for (size_t k = i + 1; !follows && found[i].builtin && strcmp(found[i].category, LT_CAT_THREAD) != 0 &&
                               strcmp(found[i].category, LT_CAT_UNCLOSED_RESOURCE) != 0 && k < nfound; k++)
            follows = (!found[k].builtin || strcmp(found[k].category, LT_CAT_THREAD) == 0 ||
                       strcmp(found[k].category, LT_CAT_UNCLOSED_RESOURCE) == 0) &&
                      same_site(&found[i], &found[k], dirs);
        PyErr_Clear();
        if (follows) {
            finding_clear(&found[i]);
            continue;
        }
        found[kept++] = found[i];
    }
    nfound = kept;

    /* The report model. */
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
    if (add_warnings(&r, f, outputs) < 0)
        goto nomem;
    if (nfound > 0) {
        r.verdict = LT_VERDICT_LEAK;
        r.confidence = top;
    } else if (an.verdict != NULL && strcmp(an.verdict, LT_VERDICT_INCONCLUSIVE) == 0) {
        r.verdict = LT_VERDICT_INCONCLUSIVE;
        r.confidence = an.confidence;
        r.advice = lt_arena_strndup(&r.arena, an.advice, strlen(an.advice));
    } else {
        /* No finding of the program's (also when every growing series was
         * leaktrace's own). */
        r.verdict = LT_VERDICT_NO_LEAK;
        r.confidence = an.verdict != NULL && strcmp(an.verdict, LT_VERDICT_NO_LEAK) == 0 ? an.confidence : 0.5;
    }
    if ((sink != NULL ? sink(&r, ctx) : write_outputs(&r, outputs)) < 0)
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
    if (analysed)
        lt_analysis_release(&an);
    Py_XDECREF(groups);
    Py_XDECREF(leaked_threads);
    Py_XDECREF(dirs);
    lt_report_release(&r);
    return verdict;
}
