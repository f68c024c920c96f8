/* leaktrace._core.Session: the checkpoints of `leaktrace run`. */
#include "session.h"

#include "addrset.h"
#include "capture.h"
#include "census.h"
#include "errors.h"
#include "findings.h"
#include "frames.h"
#include "intern.h"
#include "memlimit.h"
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
    uint64_t memory_limit;      /* resident bytes that trigger the limit report; 0: none */

    /* the checkpoint thread; `mu` protects stop and the thread's sleep */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    _Atomic int deadline_hit;   /* the report was made at the deadline */
    /* the memory limit (memlimit.h): its watcher thread sets limit_pending
     * and wakes the checkpoint thread, which makes the report */
    lt_memlimit_t memlimit;
    _Atomic int limit_pending;
    _Atomic int limit_hit;      /* the report was made at the memory limit */
    char limit_what[640];       /* what was reached, for the messages; `mu` protects it */
    int final_reported;         /* the report of the end (or the deadline) was made; GIL */
    int forked_off;             /* a forked child not followed: writes nothing; GIL */

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
    int busy;                   /* the control server is building an answer from the
                                 * findings: the checkpoint thread skips a turn */
    int capture_next;           /* the next checkpoint goes to the capture even when the
                                 * timeline thins it (the memory limit's); GIL */
    /* `leaktrace attach` (on_deadline="detach"): at the deadline, stop
     * tracking and let go of the process instead of interrupting it. */
    int detach_at_deadline;
    PyObject *on_detach;        /* callable(verdict, error), or NULL */
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
    if (atomic_load(&s->memlimit.polling) && facts.threads > 0)
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
    /* The capture keeps the checkpoints the timeline keeps (and the last
     * one), so that a process watched for days writes a bounded file. */
    if (lt_timeline_kept(&s->findings.timeline) || s->finished || s->capture_next)
        capture_checkpoint(s, cp, &r);
    s->capture_next = 0;
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
    if (s->final_reported)
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
    PyObject *verdict = lt_findings_report(&s->findings, &s->names, s->warm, final, s->argv, s->outputs,
                                           lt_monotonic() - s->t0);
    Py_DECREF(final);
    if (verdict == NULL)
        return -1;
    Py_XSETREF(s->verdict, verdict);
    s->final_reported = 1;
    return 0;
}

/* The memory limit and forked children (defined with the methods below). */
static void limit_report(lt_session_t *s);
static int limit_watch_start(lt_session_t *s);

/* ---- the checkpoint thread ------------------------------------------------ */

/* The end of an attach, on the checkpoint thread at the deadline, GIL held,
 * the reports made (report_rc < 0: they failed, exception set). Stops
 * tracking and empties the tracker's tables, closes the capture, calls
 * on_detach(verdict, error), detaches the thread (nobody joins it) and
 * drops its reference: unless someone else holds the session, it is freed
 * here with all it gathered. `s` must not be used afterwards. */
static void session_detach(lt_session_t *s, int report_rc)
{
    PyObject *error = NULL;
    if (report_rc < 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        /* Our own exception (OSError, MemoryError, ...): str() runs no user code. */
        error = value != NULL ? PyObject_Str(value) : NULL;
        if (error == NULL) {
            PyErr_Clear();
            error = PyUnicode_FromString("unknown error");
        }
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    s->finished = 1;
    if (s->tracker != Py_None) {
        PyObject *r = PyObject_CallMethod(s->tracker, "stop", NULL);
        if (r == NULL || lt_tracker_release() < 0)
            PyErr_WriteUnraisable((PyObject *)s);
        Py_XDECREF(r);
    }
    if (s->capture_fd >= 0) {
        close(s->capture_fd);
        s->capture_fd = -1;
    }
    if (s->on_detach != NULL) {
        PyObject *r = PyObject_CallFunctionObjArgs(s->on_detach, s->verdict ? s->verdict : Py_None,
                                                   error ? error : Py_None, NULL);
        if (r == NULL)
            PyErr_WriteUnraisable(s->on_detach);
        Py_XDECREF(r);
    }
    Py_XDECREF(error);
    pthread_detach(pthread_self());
    s->thread_started = 0;
    Py_DECREF(s);               /* the thread's reference */
}

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
        while (!s->stop && !atomic_load(&s->limit_pending) &&
               pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
            ;
        int stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;

        PyGILState_STATE g = PyGILState_Ensure();
        if (s->busy) {
            PyGILState_Release(g);
            if (atomic_load(&s->limit_pending))
                usleep(10000);  /* the limit's report waits for the answer being built */
            continue;
        }
        if (atomic_exchange(&s->limit_pending, 0)) {
            limit_report(s);
            PyGILState_Release(g);
            continue;
        }
        int at_deadline = s->duration > 0 && lt_monotonic() - s->t0 >= s->duration;
        if (session_checkpoint(s) < 0)
            PyErr_WriteUnraisable((PyObject *)s);
        else
            draw_status(s);
        if (at_deadline) {
            int rc = session_report(s);
            atomic_store(&s->deadline_hit, 1);
            if (s->detach_at_deadline) {
                session_detach(s, rc);
                PyGILState_Release(g);
                break;
            }
            if (rc < 0)
                PyErr_WriteUnraisable((PyObject *)s);
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
                             "status_line", "on_deadline", "on_detach", "memory_limit", NULL};
    double interval = 1.0, warmup = -1, duration = 0;
    PyObject *tracker = Py_None, *capture = Py_None, *argv = NULL, *outputs = NULL, *on_detach = Py_None;
    int status_line = 0;
    const char *on_deadline = "interrupt";
    long long memory_limit = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$dddOOO!O!psOL:Session", kwlist, &interval, &warmup, &duration,
                                     &tracker, &capture, &PyList_Type, &argv, &PyDict_Type, &outputs, &status_line,
                                     &on_deadline, &on_detach, &memory_limit))
        return NULL;
    int detach = strcmp(on_deadline, "detach") == 0;
    if (!detach && strcmp(on_deadline, "interrupt") != 0) {
        PyErr_SetString(PyExc_ValueError, "on_deadline must be 'interrupt' or 'detach'");
        return NULL;
    }
    if (on_detach != Py_None && !PyCallable_Check(on_detach)) {
        PyErr_SetString(PyExc_TypeError, "on_detach must be callable or None");
        return NULL;
    }
    if (!(interval >= 0.01 && interval <= 3600)) {
        PyErr_SetString(PyExc_ValueError, "interval must be between 0.01 and 3600 seconds");
        return NULL;
    }
    if (memory_limit < 0) {
        PyErr_SetString(PyExc_ValueError, "memory_limit must be 0 (none) or more bytes");
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
    s->memory_limit = (uint64_t)memory_limit;
    s->detach_at_deadline = detach;
    s->on_detach = on_detach != Py_None ? Py_NewRef(on_detach) : NULL;
    s->tracker = Py_NewRef(tracker);
    s->argv = argv ? Py_NewRef(argv) : PyList_New(0);
    /* A copy: notes are added to it (Session.note). */
    s->outputs = outputs ? PyDict_Copy(outputs) : PyDict_New();
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
    if (limit_watch_start(s) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static void join_thread(lt_session_t *s)
{
    lt_memlimit_stop(&s->memlimit);
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
        if (s->forked_off)
            Py_RETURN_NONE;   /* a forked child not followed: nothing to write */
        if (!s->final_reported && session_checkpoint(s) < 0)
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

/* stop(): the checkpoints and the tracker stop and the capture gets its
 * trailer, without the last checkpoint's analysis and report (production
 * mode at exit: the report is asked for while the program runs, and a
 * shutdown must not wait for holder paths). Idempotent; finish() after it
 * returns None. */
static PyObject *session_stop(lt_session_t *s, PyObject *unused)
{
    (void)unused;
    if (!s->started) {
        PyErr_SetString(PyExc_RuntimeError, "the session was not started");
        return NULL;
    }
    join_thread(s);
    if (s->finished)
        Py_RETURN_NONE;
    s->finished = 1;
    int rc = 0;
    if (s->tracker != Py_None && !s->forked_off) {
        PyObject *r = PyObject_CallMethod(s->tracker, "stop", NULL);
        if (r == NULL)
            rc = -1;
        Py_XDECREF(r);
    }
    if (s->capture_fd >= 0) {
        if (s->capture_error == 0)
            lt_capture_writer_finish(&s->capture, (uint64_t)((lt_monotonic() - s->t0) * 1e9));
        close(s->capture_fd);
        s->capture_fd = -1;
    }
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
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
    lt_memlimit_stop(&s->memlimit);
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
    Py_XDECREF(s->on_detach);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    tp->tp_free(s);
    Py_DECREF(tp);
}

/* ---- the memory limit and forked children ------------------------------- */

/* The watcher's callback (its own thread, no GIL): says what was reached
 * and hands the report to the checkpoint thread, the only one that takes
 * checkpoints, so that they stay in order. */
static void limit_reached(void *ctx, int hit, const lt_memwatch_sample_t *at)
{
    lt_session_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    const double mib = 1048576.0;
    if (hit == LT_MEMWATCH_CGROUP)
        snprintf(s->limit_what, sizeof(s->limit_what),
                 "the memory cgroup's use (%.1f MiB) reached %d %% of its limit (%.1f MiB, %s)", at->cg_bytes / mib,
                 LT_MEMWATCH_CGROUP_PERCENT, s->memlimit.watch.cg_max / mib, s->memlimit.watch.cg_dir);
    else
        snprintf(s->limit_what, sizeof(s->limit_what),
                 "the resident memory (%.1f MiB) reached the memory limit (%.1f MiB)", at->rss_bytes / mib,
                 s->memory_limit / mib);
    atomic_store(&s->limit_pending, 1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Starts the watcher when there is a limit. GIL held. 0, or -1 with an
 * exception set. */
static int limit_watch_start(lt_session_t *s)
{
    if (s->memory_limit == 0)
        return 0;
    int rc = lt_memlimit_start(&s->memlimit, s->memory_limit, limit_reached, s);
    if (rc < 0) {
        lt_raise(rc, "watching the memory limit");
        return -1;
    }
    return 0;
}

/* Appends (kind, message) to outputs["notes"], which the reports list among
 * their warnings. A new list each time: the caller's is never changed.
 * GIL held. 0, or -1 with an exception set. */
static int add_note(lt_session_t *s, const char *kind, const char *message)
{
    PyObject *old = PyDict_GetItemString(s->outputs, "notes");
    PyObject *notes = old != NULL && PyList_Check(old) ? PySequence_List(old) : PyList_New(0);
    if (notes == NULL)
        return -1;
    PyObject *t = Py_BuildValue("(ss)", kind, message);
    int rc = t != NULL ? PyList_Append(notes, t) : -1;
    Py_XDECREF(t);
    if (rc == 0)
        rc = PyDict_SetItemString(s->outputs, "notes", notes);
    Py_DECREF(notes);
    return rc;
}

/* The memory limit was reached: a checkpoint now, the capture on disk
 * (fsync), then the reports as they stand, before the kernel's OOM killer
 * can strike; one line on stderr says so once they are written. The
 * program then goes on, observed as before, and the report at its end
 * replaces this one. Checkpoint thread, GIL held; failures are reported as
 * unraisable and cost only what failed. */
static void limit_report(lt_session_t *s)
{
    double now = lt_monotonic() - s->t0;
    char what[sizeof(s->limit_what)], msg[1200];
    pthread_mutex_lock(&s->mu);
    memcpy(what, s->limit_what, sizeof(what));
    pthread_mutex_unlock(&s->mu);
    snprintf(msg, sizeof(msg), "%s at %.1f s: a report was made then, before an out-of-memory kill could prevent it",
             what, now);
    if (add_note(s, "memory-limit", msg) < 0)
        PyErr_WriteUnraisable((PyObject *)s);
    s->capture_next = 1;
    if (session_checkpoint(s) < 0)
        PyErr_WriteUnraisable((PyObject *)s);
    /* The capture first: should the process die during the analysis,
     * `leaktrace report CAPTURE` makes the report from it. */
    if (s->capture_fd >= 0 && s->capture_error == 0) {
        int fd = s->capture_fd, rc;
        Py_BEGIN_ALLOW_THREADS
        rc = fsync(fd);
        Py_END_ALLOW_THREADS
        (void)rc;               /* EINVAL for a pipe: nothing to sync */
    }
    clear_status(s);
    lt_state_t *st = lt_state_of_type(Py_TYPE(s));
    PyObject *final = st != NULL ? PyObject_CallNoArgs((PyObject *)st->checkpoint_type) : NULL;
    PyObject *verdict = final != NULL ? lt_findings_report(&s->findings, &s->names, s->warm, final, s->argv,
                                                           s->outputs, now)
                                      : NULL;
    Py_XDECREF(final);
    if (verdict == NULL)
        PyErr_WriteUnraisable((PyObject *)s);
    else
        Py_XSETREF(s->verdict, verdict);
    atomic_store(&s->limit_hit, 1);
    /* Where the reports went, for the line. */
    char where[900] = "";
    static const char *const keys[] = {"json", "html", "text"};
    size_t len = 0;
    for (size_t i = 0; i < 3; i++) {
        PyObject *v = PyDict_GetItemString(s->outputs, keys[i]);
        const char *path = v != NULL && PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
        if (path == NULL) {
            PyErr_Clear();
            continue;
        }
        int n = snprintf(where + len, sizeof(where) - len, "%s%s", len ? ", " : " (", path);
        if (n > 0 && (size_t)n < sizeof(where) - len)
            len += (size_t)n;
    }
    if (len > 0 && len + 1 < sizeof(where))
        where[len++] = ')', where[len] = '\0';
    int n = snprintf(msg, sizeof(msg), "leaktrace: %s at %.1f s: the report%s %s%s%s; the program goes on\n", what,
                     now, where, verdict != NULL ? "is written" : "failed",
                     s->capture_fd >= 0 && s->capture_error == 0 ? " and the capture is on disk: " : "",
                     s->capture_fd >= 0 && s->capture_error == 0 ? s->capture_path : "");
    if (n > 0) {
        ssize_t w = write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
        (void)w;
    }
}

static PyObject *session_get_limit_hit(lt_session_t *s, void *unused)
{
    (void)unused;
    return PyBool_FromLong(atomic_load(&s->limit_hit));
}

static const char session_note_doc[] =
    "note(kind, message)\n\nAdds a line to the reports' warnings (e.g. kind 'child-process').";

static PyObject *session_note(lt_session_t *s, PyObject *args)
{
    const char *kind, *message;
    if (!PyArg_ParseTuple(args, "ss:note", &kind, &message))
        return NULL;
    if (add_note(s, kind, message) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Copies a path (str) into PyMem, for capture_path. NULL with an exception. */
static char *fs_path(PyObject *path)
{
    PyObject *b = PyUnicode_EncodeFSDefault(path);
    if (b == NULL)
        return NULL;
    char *p = PyMem_Malloc((size_t)PyBytes_GET_SIZE(b) + 1);
    if (p != NULL)
        memcpy(p, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b) + 1);
    Py_DECREF(b);
    if (p == NULL)
        PyErr_NoMemory();
    return p;
}

static const char session_after_fork_child_doc[] =
    "_after_fork_child(follow, capture=None, outputs=None)\n\n"
    "In a child made by os.fork() (leaktrace._children calls it): the checkpoint and\n"
    "watcher threads did not survive the fork and the capture is the parent's. Without\n"
    "follow, the child stops tracking and writes nothing. With it, the child's own\n"
    "observation starts: a fresh history, the capture `capture` and the reports of\n"
    "`outputs`, no deadline.";

static PyObject *session_after_fork_child(lt_session_t *s, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"follow", "capture", "outputs", NULL};
    int follow = 0;
    PyObject *capture = Py_None, *outputs = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "p|OO:_after_fork_child", kwlist, &follow, &capture, &outputs))
        return NULL;
    if ((outputs != Py_None && !PyDict_Check(outputs)) || (capture != Py_None && !PyUnicode_Check(capture))) {
        PyErr_SetString(PyExc_TypeError, "capture must be a str or None, outputs a dict or None");
        return NULL;
    }
    if (!s->started || s->finished)
        Py_RETURN_NONE;
    /* Only the thread that forked lives on: the checkpoint, watcher and
     * control threads are gone, with any lock they held. */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->stop = 0;
    s->busy = 0;
    atomic_store(&s->limit_pending, 0);
    lt_memlimit_forget_after_fork(&s->memlimit);
    if (s->thread_started) {
        s->thread_started = 0;
        Py_DECREF(s);           /* the dead thread's reference; the caller holds one */
    }
    /* The parent's capture is not the child's to write. */
    if (s->capture_fd >= 0) {
        close(s->capture_fd);
        s->capture_fd = -1;
    }
    lt_capture_writer_release(&s->capture);
    s->capture_error = 0;
    if (!follow) {
        s->forked_off = 1;
        if (s->tracker != Py_None) {
            PyObject *r = PyObject_CallMethod(s->tracker, "stop", NULL);
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
        }
        Py_RETURN_NONE;
    }
    /* The child's own observation: its history starts now (what the
     * parent did before the fork is the parent's report's). */
    PyMem_Free(s->name_cap);
    PyMem_Free(s->stack_cap);
    s->name_cap = s->stack_cap = NULL;
    s->nname_cap = s->nstack_cap = 0;
    lt_findings_clear(&s->findings);
    if (lt_findings_init(&s->findings) < 0) {
        s->forked_off = 1;
        return PyErr_NoMemory();
    }
    Py_CLEAR(s->baseline);
    Py_CLEAR(s->warm);
    Py_CLEAR(s->verdict);
    s->final_reported = 0;
    atomic_store(&s->deadline_hit, 0);
    atomic_store(&s->limit_hit, 0);
    s->duration = 0;
    s->status_line = 0;
    PyMem_Free(s->capture_path);
    s->capture_path = NULL;
    if (capture != Py_None && (s->capture_path = fs_path(capture)) == NULL)
        return NULL;
    if (outputs != Py_None) {
        PyObject *copy = PyDict_Copy(outputs);
        if (copy == NULL)
            return NULL;
        Py_SETREF(s->outputs, copy);
    }
    s->t0 = lt_monotonic();
    if (s->capture_path != NULL && open_capture(s) < 0)
        return NULL;
    if (session_checkpoint(s) < 0)
        return NULL;
    if (pthread_create(&s->thread, NULL, session_thread, s) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot start the checkpoint thread");
        return NULL;
    }
    s->thread_started = 1;
    Py_INCREF(s);               /* the thread's reference, dropped at join */
    if (limit_watch_start(s) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef session_methods[] = {
    {"start", (PyCFunction)session_start, METH_NOARGS,
     "start()\n\nStarts the tracker (if any), takes the first checkpoint and starts the\ncheckpoint thread."},
    {"finish", (PyCFunction)session_finish, METH_NOARGS,
     "finish() -> verdict\n\nTakes the last checkpoint, writes the reports and stops everything.\n"
     "Idempotent: after a deadline report it only stops."},
    {"stop", (PyCFunction)session_stop, METH_NOARGS,
     "stop()\n\nStops the checkpoints and the tracker and ends the capture, without a report\n"
     "(production mode at exit). Idempotent; finish() afterwards returns None."},
    {"note", (PyCFunction)session_note, METH_VARARGS, session_note_doc},
    {"_after_fork_child", (PyCFunction)(void (*)(void))session_after_fork_child, METH_VARARGS | METH_KEYWORDS,
     session_after_fork_child_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef session_getset[] = {
    {"deadline_hit", (getter)session_get_deadline_hit, NULL,
     "the duration ran out: the report was made and SIGINT sent to stop the program", NULL},
    {"checkpoints", (getter)session_get_checkpoints, NULL, "checkpoints taken so far", NULL},
    {"memory_limit_hit", (getter)session_get_limit_hit, NULL,
     "the memory limit was reached: the reports and the capture were written then", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot session_slots[] = {
    {Py_tp_new, session_new},
    {Py_tp_dealloc, session_dealloc},
    {Py_tp_methods, session_methods},
    {Py_tp_getset, session_getset},
    {Py_tp_doc,
     "Session(*, interval=1.0, warmup=-1, duration=0, tracker=None, capture=None, argv=[],\n"
     "        outputs={}, status_line=False, on_deadline='interrupt', on_detach=None,\n"
     "        memory_limit=0)\n\n"
     "The observation behind `leaktrace run`. outputs: 'json', 'html', 'text' (paths or\n"
     "None; text None means stderr), 'color', 'quiet', 'max_findings'. At the duration's\n"
     "end the reports are made, then on_deadline='interrupt' sends SIGINT (run), while\n"
     "'detach' (attach) stops the tracker, empties its tables, calls\n"
     "on_detach(verdict, error) on the checkpoint thread and lets go of the session.\n"
     "memory_limit (bytes, 0: none): when RSS reaches it, or the memory cgroup is at 90 %\n"
     "of its limit, a checkpoint, the capture fsync'd and the reports are made at once;\n"
     "the program goes on and the report at the end replaces them (memory_limit_hit).\n"
     "outputs['notes']: (kind, message) pairs listed among the reports' warnings."},
    {0, NULL},
};

static PyType_Spec session_spec = {
    "leaktrace._core.Session", sizeof(lt_session_t), 0, Py_TPFLAGS_DEFAULT, session_slots,
};

int lt_session_view(PyObject *obj, lt_session_view_t *out)
{
    if (obj == NULL || Py_TYPE(obj)->tp_dealloc != (destructor)session_dealloc) {
        PyErr_SetString(PyExc_TypeError, "expected a leaktrace._core.Session");
        return -1;
    }
    lt_session_t *s = (lt_session_t *)obj;
    out->findings = &s->findings;
    out->names = &s->names;
    out->warm = s->warm;
    out->baseline = s->baseline;
    out->argv = s->argv;
    out->outputs = s->outputs;
    out->t0 = s->t0;
    out->started = s->started;
    out->finished = s->finished;
    out->busy = &s->busy;
    out->capture_bytes = s->capture_fd >= 0 ? s->capture.bytes_written : 0;
    out->capture_checkpoints = s->capture_fd >= 0 ? s->capture.ncheckpoints : 0;
    out->own_bytes = (uint64_t)(lt_tracker_footprint() + lt_intern_footprint(&s->names));
    if (s->warm != NULL)
        out->own_bytes += (uint64_t)lt_addrset_footprint(&((lt_checkpoint_t *)s->warm)->alive);
    return 0;
}

int lt_session_exec(PyObject *module)
{
    PyObject *t = PyType_FromModuleAndSpec(module, &session_spec, NULL);
    if (t == NULL)
        return -1;
    return PyModule_AddObject(module, "Session", t);
}
