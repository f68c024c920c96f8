/* leaktrace._core.Session: the checkpoints of `leaktrace run`. */
#include "session.h"

#include "addrset.h"
#include "capture.h"
#include "census.h"
#include "errors.h"
#include "findings.h"
#include "frames.h"
#include "intern.h"
#include "module.h"
#include "procfs.h"
#include "raise.h"
#include "sitestats.h"
#include "tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A tracker stack id -> capture stack id map entry (capture ids are
 * numbered from 0 in the order written). */
#define NO_ID UINT32_MAX

typedef struct lt_session {
    PyObject_HEAD
    /* configuration, fixed at creation */
    double interval;
    double warmup;              /* seconds; < 0: automatic (a fifth of the run) */
    double duration;            /* 0: until the program ends */
    int status_line;            /* draw the live status line on stderr */
    PyObject *tracker;          /* a Tracker, or None */
    PyObject *outputs;          /* dict: json, html, text paths; color, quiet, max_findings */
    PyObject *argv;             /* list of str: the program's argv */
    char *capture_path;         /* PyMem; NULL: no capture */

    /* the checkpoint thread; `mu` protects stop and the thread's sleep */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    _Atomic int deadline_hit;   /* the report was made at the deadline */

    /* what the checkpoints gathered; the GIL protects all below */
    double t0;                  /* lt_monotonic() at start */
    int started, finished;
    lt_intern_t names;          /* type names (UTF-8) -> name id */
    lt_findings_t findings;     /* every checkpoint, for the analysis */
    PyObject *baseline;         /* Census at start, for the status line */
    PyObject *warm;             /* Checkpoint at the end of the warm-up, or NULL */
    lt_capture_writer_t capture;
    int capture_fd;             /* -1: none */
    int capture_error;          /* first error writing it, reported once */
    uint32_t *name_cap;         /* name id -> capture string id */
    size_t nname_cap;
    uint32_t *stack_cap;        /* tracker stack id -> capture stack id */
    size_t nstack_cap;
    PyObject *verdict;          /* str, once reported */
} lt_session_t;

/* ---- gathering one checkpoint (GIL held) --------------------------------- */

static int grow_ids(uint32_t **arr, size_t *n, size_t need)
{
    if (need <= *n)
        return 0;
    size_t cap = *n ? *n : 256;
    while (cap < need)
        cap *= 2;
    uint32_t *a = PyMem_Realloc(*arr, cap * sizeof(uint32_t));
    if (a == NULL)
        return -1;
    for (size_t i = *n; i < cap; i++)
        a[i] = NO_ID;
    *arr = a;
    *n = cap;
    return 0;
}

/* The capture string id of name id `id` (its UTF-8 is `s`), writing the
 * STRING record on first use. NO_ID when the capture failed. */
static uint32_t capture_name(lt_session_t *s, uint32_t id, const char *str, size_t len)
{
    if (grow_ids(&s->name_cap, &s->nname_cap, (size_t)id + 1) < 0)
        return NO_ID;
    if (s->name_cap[id] == NO_ID) {
        uint32_t cid;
        if (lt_capture_writer_add_string(&s->capture, str, len, &cid) < 0)
            return NO_ID;
        s->name_cap[id] = cid;
    }
    return s->name_cap[id];
}

/* Writes a Python str as a capture string; NO_ID on failure. */
static uint32_t capture_pystr(lt_session_t *s, PyObject *str)
{
    Py_ssize_t len;
    const char *u = PyUnicode_AsUTF8AndSize(str, &len);
    if (u == NULL) {
        PyErr_Clear();
        u = "?";
        len = 1;
    }
    uint32_t id;
    return lt_capture_writer_add_string(&s->capture, u, (size_t)len, &id) < 0 ? NO_ID : id;
}

/* The capture stack id of tracker stack `stack`, writing its frames and
 * strings on first use. NO_ID on failure. */
static uint32_t capture_stack(lt_session_t *s, uint32_t stack)
{
    if (grow_ids(&s->stack_cap, &s->nstack_cap, (size_t)stack + 1) < 0)
        return NO_ID;
    if (s->stack_cap[stack] != NO_ID)
        return s->stack_cap[stack];
    lt_tracker_frame_t frames[128];
    uint32_t ids[128];
    int n = lt_tracker_stack_frames(stack, frames, 128);
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        lt_capture_frame_t f = {capture_pystr(s, frames[i].file), capture_pystr(s, frames[i].function),
                                frames[i].line > 0 ? (uint32_t)frames[i].line : 0, 0, 0};
        ok = f.file != NO_ID && f.function != NO_ID && lt_capture_writer_add_frame(&s->capture, &f, &ids[i]) == 0;
    }
    lt_tracker_frames_release(frames, n);
    uint32_t cid;
    if (!ok || lt_capture_writer_add_stack(&s->capture, ids, (size_t)n, &cid) < 0)
        return NO_ID;
    s->stack_cap[stack] = cid;
    return cid;
}

/* Rows of one checkpoint, in PyMem memory, freed by the caller. */
typedef struct rows {
    lt_capture_row_t *census;
    size_t ncensus;
    lt_capture_row_t *sites;
    size_t nsites;
} rows_t;

static void rows_free(rows_t *r)
{
    PyMem_Free(r->census);
    PyMem_Free(r->sites);
    memset(r, 0, sizeof(*r));
}

/* Census rows by name id. */
static int census_rows(lt_session_t *s, const lt_census_t *c, rows_t *out)
{
    out->census = PyMem_New(lt_capture_row_t, c->nrows ? (size_t)c->nrows : 1);
    if (out->census == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < c->nrows; i++) {
        Py_ssize_t len;
        const char *u = PyUnicode_AsUTF8AndSize(c->rows[i].name, &len);
        if (u == NULL)
            return -1;
        uint32_t id;
        int rc = lt_intern_get_or_add(&s->names, u, (size_t)len, &id, NULL);
        if (rc < 0) {
            lt_raise(rc, "interning type names");
            return -1;
        }
        out->census[out->ncensus++] = (lt_capture_row_t){id, (uint64_t)c->rows[i].bytes, (uint64_t)c->rows[i].count};
    }
    return 0;
}

/* Allocation-site rows by tracker stack id (only sites with live bytes). */
static int site_rows(rows_t *out)
{
    lt_sitestats_t st;
    lt_sitestats_init(&st, &lt_page_alloc);
    int rc = lt_tracker_copy_sites(&st);
    if (rc < 0) {
        lt_raise(rc, "copying allocation sites");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < st.len; i++)
        n += st.rows[i].live_count > 0;
    out->sites = PyMem_New(lt_capture_row_t, n ? n : 1);
    if (out->sites == NULL) {
        lt_sitestats_clear(&st);
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < st.len; i++)
        if (st.rows[i].live_count > 0)
            out->sites[out->nsites++] = (lt_capture_row_t){(uint32_t)i, st.rows[i].live_bytes, st.rows[i].live_count};
    lt_sitestats_clear(&st);
    return 0;
}

/* Appends the checkpoint to the capture; errors stick (reported once at
 * the end) and do not stop the run. */
static void capture_checkpoint(lt_session_t *s, lt_capture_checkpoint_t cp, const rows_t *r)
{
    if (s->capture_fd < 0 || s->capture_error)
        return;
    lt_capture_row_t *census = PyMem_New(lt_capture_row_t, r->ncensus ? r->ncensus : 1);
    lt_capture_row_t *sites = PyMem_New(lt_capture_row_t, r->nsites ? r->nsites : 1);
    int rc = census && sites ? 0 : LT_ENOMEM;
    for (size_t i = 0; rc == 0 && i < r->ncensus; i++) {
        size_t len;
        const char *name = lt_intern_get(&s->names, r->census[i].id, &len);
        census[i] = r->census[i];
        census[i].id = capture_name(s, r->census[i].id, name, len);
        if (census[i].id == NO_ID)
            rc = LT_EIO;
    }
    for (size_t i = 0; rc == 0 && i < r->nsites; i++) {
        sites[i] = r->sites[i];
        sites[i].id = capture_stack(s, r->sites[i].id);
        if (sites[i].id == NO_ID)
            rc = LT_EIO;
    }
    if (rc == 0) {
        cp.census = census;
        cp.sites = sites;
        rc = lt_capture_writer_checkpoint(&s->capture, &cp);
    }
    if (rc < 0)
        s->capture_error = s->capture.error ? s->capture.error : rc;
    PyMem_Free(census);
    PyMem_Free(sites);
}

static PyTypeObject *census_type_of(lt_session_t *s)
{
    lt_state_t *st = lt_state_of_type(Py_TYPE(s));
    return st == NULL ? NULL : st->census_type;
}

/* Counts each thread's Python frames; keeps the deepest. */
typedef struct depth_walk {
    unsigned long thread;
    long frames, deepest;
} depth_walk_t;

static int depth_frame(unsigned long thread_id, PyCodeObject *code, void *ctx)
{
    (void)code;
    depth_walk_t *d = ctx;
    if (thread_id != d->thread) {
        d->thread = thread_id;
        d->frames = 0;
    }
    if (++d->frames > d->deepest)
        d->deepest = d->frames;
    return 0;
}

static int depth_local(const lt_frame_local_t *local, void *ctx)
{
    (void)local;
    (void)ctx;
    return 0;
}

/* The largest object and the deepest stack, for the warnings. */
static void note_extremes(lt_session_t *s, const lt_census_t *c, double now)
{
    if (c->largest_type != NULL && (double)c->largest_bytes > s->findings.largest_bytes) {
        const char *name = PyUnicode_AsUTF8(c->largest_type);
        if (name != NULL) {
            s->findings.largest_bytes = (double)c->largest_bytes;
            snprintf(s->findings.largest_type, sizeof(s->findings.largest_type), "%s", name);
            s->findings.largest_at = now;
        }
        PyErr_Clear();
    }
    depth_walk_t d = {0, 0, 0};
    lt_stack_visitor_t v = {depth_frame, depth_local, &d};
    lt_frames_walk_stacks(&v);
    if (d.deepest > s->findings.deepest) {
        s->findings.deepest = d.deepest;
        s->findings.deepest_at = now;
    }
}

/* Takes one checkpoint. GIL held. 0, or -1 with an exception set. */
static int session_checkpoint(lt_session_t *s)
{
    double now = lt_monotonic() - s->t0;
    lt_proc_facts_t facts;
    memset(&facts, 0, sizeof(facts));
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = lt_proc_read(0, &facts);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        lt_raise(rc, "reading /proc/self");
        return -1;
    }
    /* Our checkpoint thread is not the program's. */
    if (s->thread_started && facts.threads > 0)
        facts.threads--;

    lt_state_t *st = lt_state_of_type(Py_TYPE(s));
    if (st == NULL)
        return -1;
    lt_census_t *c;
    double warm = s->warmup >= 0 ? s->warmup : (s->duration > 0 ? s->duration / 5 : 2.0);
    if (s->warm == NULL && now >= warm) {
        /* The end of the warm-up: remember every live object, so that the
         * objects of a growing type can be told from the warm-up's. */
        s->warm = PyObject_CallNoArgs((PyObject *)st->checkpoint_type);
        if (s->warm == NULL)
            return -1;
        c = (lt_census_t *)Py_NewRef((PyObject *)((lt_checkpoint_t *)s->warm)->census);
    } else {
        c = lt_census_take(st->census_type, 0, NULL);
        if (c == NULL)
            return -1;
    }
    if (s->baseline == NULL)
        s->baseline = Py_NewRef((PyObject *)c);
    note_extremes(s, c, now);

    rows_t r;
    memset(&r, 0, sizeof(r));
    if (census_rows(s, c, &r) < 0 || site_rows(&r) < 0)
        goto error;
    lt_capture_checkpoint_t cp;
    memset(&cp, 0, sizeof(cp));
    cp.time_ns = (uint64_t)(now * 1e9);
    /* The program's RSS: leaktrace's own tables are not its memory. */
    uint64_t own = (uint64_t)(lt_tracker_footprint() + lt_intern_footprint(&s->names));
    if (s->warm != NULL)
        own += (uint64_t)lt_addrset_footprint(&((lt_checkpoint_t *)s->warm)->alive);
    cp.rss_bytes = facts.rss_bytes > own ? facts.rss_bytes - own : 0;
    cp.py_heap_bytes = (uint64_t)c->total_bytes;
    for (int k = 0; k < LT_CAPTURE_FD_KINDS && k < LT_FD_KIND_COUNT; k++)
        cp.fds[k] = facts.fds_by_kind[k];
    cp.threads = facts.threads;
    cp.census = r.census;
    cp.ncensus = r.ncensus;
    cp.sites = r.sites;
    cp.nsites = r.nsites;
    cp.has_census = 1;
    rc = lt_findings_add(&s->findings, &cp);
    if (rc < 0) {
        lt_raise(rc, "recording a checkpoint");
        goto error;
    }
    capture_checkpoint(s, cp, &r);
    rows_free(&r);
    Py_DECREF(c);
    return 0;
error:
    rows_free(&r);
    Py_DECREF(c);
    return -1;
}

/* ---- the status line --------------------------------------------------- */

static void format_mb(char *buf, size_t size, double bytes)
{
    snprintf(buf, size, "%.1f MB", bytes / 1e6);
}

/* One line on stderr: elapsed, RSS and its trend, the top growing type.
 * GIL held. Failures only cost the line. */
static void draw_status(lt_session_t *s)
{
    if (!s->status_line)
        return;
    double rss0, rss1, t;
    lt_findings_rss(&s->findings, &rss0, &rss1, &t);
    char rss[32], rate[48] = "";
    format_mb(rss, sizeof(rss), rss1);
    if (t > 0)
        snprintf(rate, sizeof(rate), " (%+.2f MB/s)", (rss1 - rss0) / 1e6 / t);
    char top[160] = "";
    PyObject *now = s->baseline ? (PyObject *)lt_census_take(census_type_of(s), 0, NULL) : NULL;
    if (now != NULL) {
        PyObject *d = PyObject_CallMethod(now, "diff", "O", s->baseline);
        if (d != NULL && PyList_Check(d) && PyList_GET_SIZE(d) > 0) {
            PyObject *row = PyList_GET_ITEM(d, 0);
            PyObject *name = PyTuple_GetItem(row, 0);
            PyObject *dc = PyTuple_GetItem(row, 1);
            const char *u = name ? PyUnicode_AsUTF8(name) : NULL;
            long long n = dc ? PyLong_AsLongLong(dc) : 0;
            if (u != NULL)
                snprintf(top, sizeof(top), "  top: %.80s %+lld", u, n);
        }
        Py_XDECREF(d);
        Py_DECREF(now);
    }
    PyErr_Clear();
    char line[320];
    int len = snprintf(line, sizeof(line), "\r\033[K[leaktrace] %.1f s  RSS %s%s%s", lt_monotonic() - s->t0, rss, rate, top);
    if (len > 0) {
        ssize_t w = write(2, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
        (void)w;
    }
}

static void clear_status(lt_session_t *s)
{
    if (s->status_line) {
        ssize_t w = write(2, "\r\033[K", 4);
        (void)w;
    }
}

/* ---- the report (GIL held) ------------------------------------------------ */

/* Analyses, writes the reports and remembers the verdict; once. */
static int session_report(lt_session_t *s)
{
    if (s->verdict != NULL)
        return 0;
    clear_status(s);
    if (s->capture_fd >= 0 && s->capture_error == 0) {
        int rc = lt_capture_writer_finish(&s->capture, (uint64_t)((lt_monotonic() - s->t0) * 1e9));
        if (rc < 0)
            s->capture_error = rc;
    }
    if (s->capture_error) {
        char msg[200];
        snprintf(msg, sizeof(msg), "leaktrace: the capture file is incomplete: %s\n",
                 s->capture_error > -4096 ? strerror(-s->capture_error) : lt_strerror(s->capture_error));
        ssize_t w = write(2, msg, strlen(msg));
        (void)w;
    }
    /* What is alive now, before the analysis makes objects of its own:
     * the objects sampled for holder paths must have been the program's. */
    lt_state_t *st = lt_state_of_type(Py_TYPE(s));
    PyObject *final = st != NULL ? PyObject_CallNoArgs((PyObject *)st->checkpoint_type) : NULL;
    if (final == NULL)
        return -1;
    s->verdict = lt_findings_report(&s->findings, &s->names, s->warm, final, s->argv, s->outputs,
                                    lt_monotonic() - s->t0);
    Py_DECREF(final);
    return s->verdict == NULL ? -1 : 0;
}

/* ---- the checkpoint thread ------------------------------------------------ */

static void *session_thread(void *arg)
{
    lt_session_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double wake = s->interval;
        long long ns = (long long)until.tv_nsec + (long long)((wake - (long long)wake) * 1e9);
        until.tv_sec += (time_t)wake + (time_t)(ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
            ;
        int stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;

        PyGILState_STATE g = PyGILState_Ensure();
        int at_deadline = s->duration > 0 && lt_monotonic() - s->t0 >= s->duration;
        if (session_checkpoint(s) < 0)
            PyErr_WriteUnraisable((PyObject *)s);
        else
            draw_status(s);
        if (at_deadline) {
            if (session_report(s) < 0)
                PyErr_WriteUnraisable((PyObject *)s);
            atomic_store(&s->deadline_hit, 1);
        }
        PyGILState_Release(g);
        if (at_deadline) {
            /* Reported: now stop the program cleanly, as Ctrl-C would. */
            kill(getpid(), SIGINT);
            break;
        }
    }
    return NULL;
}

/* ---- the type ------------------------------------------------------------ */

static PyObject *session_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"interval", "warmup", "duration", "tracker", "capture", "argv", "outputs",
                             "status_line", NULL};
    double interval = 1.0, warmup = -1, duration = 0;
    PyObject *tracker = Py_None, *capture = Py_None, *argv = NULL, *outputs = NULL;
    int status_line = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$dddOOO!O!p:Session", kwlist, &interval, &warmup, &duration,
                                     &tracker, &capture, &PyList_Type, &argv, &PyDict_Type, &outputs, &status_line))
        return NULL;
    if (!(interval >= 0.01 && interval <= 3600)) {
        PyErr_SetString(PyExc_ValueError, "interval must be between 0.01 and 3600 seconds");
        return NULL;
    }
    if (!(duration >= 0) || !(warmup >= -1)) {
        PyErr_SetString(PyExc_ValueError, "duration and warmup must be positive");
        return NULL;
    }
    lt_session_t *s = (lt_session_t *)type->tp_alloc(type, 0);
    if (s == NULL)
        return NULL;
    s->interval = interval;
    s->warmup = warmup;
    s->duration = duration;
    s->status_line = status_line;
    s->tracker = Py_NewRef(tracker);
    s->argv = argv ? Py_NewRef(argv) : PyList_New(0);
    s->outputs = outputs ? Py_NewRef(outputs) : PyDict_New();
    s->capture_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    lt_intern_init(&s->names, &lt_page_alloc);
    if (lt_findings_init(&s->findings) < 0) {
        Py_DECREF(s);
        return PyErr_NoMemory();
    }
    if (s->argv == NULL || s->outputs == NULL) {
        Py_DECREF(s);
        return NULL;
    }
    if (capture != Py_None) {
        PyObject *b = PyUnicode_EncodeFSDefault(capture);
        if (b == NULL) {
            Py_DECREF(s);
            return NULL;
        }
        s->capture_path = PyMem_Malloc((size_t)PyBytes_GET_SIZE(b) + 1);
        if (s->capture_path != NULL)
            memcpy(s->capture_path, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b) + 1);
        Py_DECREF(b);
        if (s->capture_path == NULL) {
            Py_DECREF(s);
            return PyErr_NoMemory();
        }
    }
    return (PyObject *)s;
}

/* Opens the capture file (the CLI has checked that replacing it is fine). */
static int open_capture(lt_session_t *s)
{
    int fd = open(s->capture_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, s->capture_path);
        return -1;
    }
    const char *const *argv = NULL;
    size_t argc = (size_t)PyList_GET_SIZE(s->argv);
    const char **av = PyMem_New(const char *, argc ? argc : 1);
    if (av == NULL) {
        close(fd);
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < argc; i++) {
        PyObject *a = PyList_GET_ITEM(s->argv, (Py_ssize_t)i);
        av[i] = PyUnicode_Check(a) ? PyUnicode_AsUTF8(a) : "?";
        if (av[i] == NULL) {
            PyErr_Clear();
            av[i] = "?";
        }
    }
    argv = av;
    lt_capture_meta_t meta = {0, 0, Py_GetVersion(), argc, argv, 0, 0};
    char version[32];
    snprintf(version, sizeof(version), "%d.%d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_MICRO_VERSION);
    meta.python_version = version;
    int rc = lt_capture_writer_open(&s->capture, &lt_page_alloc, fd, &meta, 0);
    PyMem_Free(av);
    if (rc < 0) {
        close(fd);
        lt_raise(rc, "starting the capture file");
        return -1;
    }
    s->capture_fd = fd;
    return 0;
}

static PyObject *session_start(lt_session_t *s, PyObject *unused)
{
    (void)unused;
    if (s->started) {
        PyErr_SetString(PyExc_RuntimeError, "the session was started already");
        return NULL;
    }
    if (s->capture_path != NULL && open_capture(s) < 0)
        return NULL;
    if (s->tracker != Py_None) {
        PyObject *r = PyObject_CallMethod(s->tracker, "start", NULL);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    s->t0 = lt_monotonic();
    s->started = 1;
    if (session_checkpoint(s) < 0)
        return NULL;
    if (pthread_create(&s->thread, NULL, session_thread, s) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot start the checkpoint thread");
        return NULL;
    }
    s->thread_started = 1;
    Py_INCREF(s);               /* the thread's reference, dropped at join */
    Py_RETURN_NONE;
}

static void join_thread(lt_session_t *s)
{
    if (!s->thread_started)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(s->thread, NULL);
    Py_END_ALLOW_THREADS
    s->thread_started = 0;
    Py_DECREF(s);
}

/* finish() -> verdict: the last checkpoint (unless the deadline made the
 * report already), the report, and everything stopped. */
static PyObject *session_finish(lt_session_t *s, PyObject *unused)
{
    (void)unused;
    if (!s->started) {
        PyErr_SetString(PyExc_RuntimeError, "the session was not started");
        return NULL;
    }
    join_thread(s);
    int rc = 0;
    if (!s->finished) {
        s->finished = 1;
        if (s->verdict == NULL && session_checkpoint(s) < 0)
            rc = -1;
        if (s->tracker != Py_None) {
            PyObject *r = PyObject_CallMethod(s->tracker, "stop", NULL);
            if (r == NULL)
                rc = -1;
            Py_XDECREF(r);
        }
        if (rc == 0 && session_report(s) < 0)
            rc = -1;
        if (s->capture_fd >= 0) {
            close(s->capture_fd);
            s->capture_fd = -1;
        }
    }
    if (rc < 0)
        return NULL;
    return Py_NewRef(s->verdict ? s->verdict : Py_None);
}

static PyObject *session_get_deadline_hit(lt_session_t *s, void *unused)
{
    (void)unused;
    return PyBool_FromLong(atomic_load(&s->deadline_hit));
}

static PyObject *session_get_checkpoints(lt_session_t *s, void *unused)
{
    (void)unused;
    return PyLong_FromSize_t(lt_findings_count(&s->findings));
}

static void session_dealloc(lt_session_t *s)
{
    PyTypeObject *tp = Py_TYPE(s);
    /* The thread holds a reference: it has been joined when we get here. */
    if (s->capture_fd >= 0)
        close(s->capture_fd);
    if (s->capture_fd >= 0 || s->started)
        lt_capture_writer_release(&s->capture);
    PyMem_Free(s->capture_path);
    PyMem_Free(s->name_cap);
    PyMem_Free(s->stack_cap);
    lt_intern_clear(&s->names);
    lt_findings_clear(&s->findings);
    Py_XDECREF(s->tracker);
    Py_XDECREF(s->argv);
    Py_XDECREF(s->outputs);
    Py_XDECREF(s->baseline);
    Py_XDECREF(s->warm);
    Py_XDECREF(s->verdict);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    tp->tp_free(s);
    Py_DECREF(tp);
}

static PyMethodDef session_methods[] = {
    {"start", (PyCFunction)session_start, METH_NOARGS,
     "start()\n\nStarts the tracker (if any), takes the first checkpoint and starts the\ncheckpoint thread."},
    {"finish", (PyCFunction)session_finish, METH_NOARGS,
     "finish() -> verdict\n\nTakes the last checkpoint, writes the reports and stops everything.\n"
     "Idempotent: after a deadline report it only stops."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef session_getset[] = {
    {"deadline_hit", (getter)session_get_deadline_hit, NULL,
     "the duration ran out: the report was made and SIGINT sent to stop the program", NULL},
    {"checkpoints", (getter)session_get_checkpoints, NULL, "checkpoints taken so far", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot session_slots[] = {
    {Py_tp_new, session_new},
    {Py_tp_dealloc, session_dealloc},
    {Py_tp_methods, session_methods},
    {Py_tp_getset, session_getset},
    {Py_tp_doc,
     "Session(*, interval=1.0, warmup=-1, duration=0, tracker=None, capture=None, argv=[],\n"
     "        outputs={}, status_line=False)\n\n"
     "The observation behind `leaktrace run`. outputs: 'json', 'html', 'text' (paths or\n"
     "None; text None means stderr), 'color', 'quiet', 'max_findings'."},
    {0, NULL},
};

static PyType_Spec session_spec = {
    "leaktrace._core.Session", sizeof(lt_session_t), 0, Py_TPFLAGS_DEFAULT, session_slots,
};

int lt_session_exec(PyObject *module)
{
    PyObject *t = PyType_FromModuleAndSpec(module, &session_spec, NULL);
    if (t == NULL)
        return -1;
    return PyModule_AddObject(module, "Session", t);
}
