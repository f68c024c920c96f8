/* `leaktrace report` and `leaktrace diff`: the same analysis and reports,
 * from capture files instead of a live program. What needs the objects
 * themselves (holder paths) is not in a capture; the rest is. */
#include "lt_compat.h"

#include "capture.h"
#include "errors.h"
#include "findings.h"
#include "module.h"
#include "raise.h"
#include "strbuf.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A capture file mapped for reading. */
typedef struct mapped {
    void *data;
    size_t len;
} mapped_t;

static int map_file(PyObject *path, mapped_t *m)
{
    m->data = NULL;
    m->len = 0;
    PyObject *b = PyUnicode_EncodeFSDefault(path);
    if (b == NULL)
        return -1;
    int fd = open(PyBytes_AS_STRING(b), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        Py_DECREF(b);
        return -1;
    }
    Py_DECREF(b);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        close(fd);
        return -1;
    }
    m->len = (size_t)st.st_size;
    if (m->len > 0) {
        m->data = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m->data == MAP_FAILED) {
            m->data = NULL;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
            close(fd);
            return -1;
        }
    }
    close(fd);
    return 0;
}

static void unmap_file(mapped_t *m)
{
    if (m->data != NULL)
        munmap(m->data, m->len);
    m->data = NULL;
}

static int open_reader(lt_capture_reader_t *r, const mapped_t *m, PyObject *path)
{
    int rc = lt_capture_reader_open(r, &lt_page_alloc, m->data, m->len, 0);
    if (rc == LT_EFORMAT) {
        PyErr_Format(PyExc_ValueError, "not a leaktrace capture: %S (%s)", path, r->why ? r->why : "unknown format");
        return -1;
    }
    if (rc < 0) {
        lt_raise(rc, "reading the capture");
        return -1;
    }
    return 0;
}

/* Says on stderr where and why a capture ends early (a killed program). */
static void warn_stop(const lt_capture_reader_t *r, PyObject *path)
{
    if (r->stop == LT_CAPTURE_COMPLETE)
        return;
    PyObject *msg = PyUnicode_FromFormat("leaktrace: %S ends early at byte %zu (%s): reporting its first %llu "
                                         "checkpoints\n",
                                         path, r->stop_offset, r->why ? r->why : "no trailer",
                                         (unsigned long long)r->ncheckpoints);
    const char *u = msg ? PyUnicode_AsUTF8(msg) : NULL;
    if (u != NULL) {
        ssize_t w = write(2, u, strlen(u));
        (void)w;
    }
    Py_XDECREF(msg);
    PyErr_Clear();
}

/* Capture string ids -> name ids of `names` (interned on first use). */
typedef struct name_map {
    uint32_t *ids;
    size_t n;
} name_map_t;

static int map_name(const lt_capture_reader_t *r, lt_intern_t *names, name_map_t *nm, uint32_t cid, uint32_t *out)
{
    if (cid >= nm->n) {
        size_t n = nm->n ? nm->n : 256;
        while (n <= cid)
            n *= 2;
        uint32_t *ids = PyMem_Realloc(nm->ids, n * sizeof(uint32_t));
        if (ids == NULL)
            return LT_ENOMEM;
        memset(ids + nm->n, 0, (n - nm->n) * sizeof(uint32_t));
        nm->ids = ids;
        nm->n = n;
    }
    if (nm->ids[cid] == 0) {
        size_t len;
        const char *s = lt_capture_reader_string(r, cid, &len);
        if (s == NULL)
            return LT_EFORMAT;
        int rc = lt_intern_get_or_add(names, s, len, &nm->ids[cid], NULL);
        if (rc < 0)
            return rc;
    }
    *out = nm->ids[cid];
    return 0;
}

/* Feeds every checkpoint of the capture into f, census names remapped. */
static int replay(lt_capture_reader_t *r, lt_intern_t *names, lt_findings_t *f)
{
    name_map_t nm = {NULL, 0};
    lt_capture_row_t *rows = NULL;
    size_t caprows = 0;
    int rc = 0;
    for (;;) {
        lt_capture_type_t type;
        int got = lt_capture_reader_next(r, &type);
        if (got < 0) {
            rc = got;
            break;
        }
        if (got == 0)
            break;
        if (type != LT_CAPTURE_CHECKPOINT)
            continue;
        lt_capture_checkpoint_t cp = r->checkpoint;
        if (cp.ncensus > caprows) {
            lt_capture_row_t *more = PyMem_Realloc(rows, cp.ncensus * sizeof(*rows));
            if (more == NULL) {
                rc = LT_ENOMEM;
                break;
            }
            rows = more;
            caprows = cp.ncensus;
        }
        for (size_t i = 0; i < cp.ncensus && rc == 0; i++) {
            rows[i] = cp.census[i];
            rc = map_name(r, names, &nm, cp.census[i].id, &rows[i].id);
        }
        if (rc < 0)
            break;
        cp.census = rows;
        rc = lt_findings_add(f, &cp);
        if (rc < 0)
            break;
    }
    PyMem_Free(rows);
    PyMem_Free(nm.ids);
    return rc;
}

/* The flame graph of a replayed capture: the heaviest stacks of its last
 * checkpoint, frames copied into `arena` (leaktrace's launcher frames cut,
 * as in a live report). Returns 0 or LT_ENOMEM; *flame is NULL when no site
 * had live bytes. */
#define FLAME_STACKS 400

static int row_heavier(const void *a, const void *b)
{
    uint64_t x = ((const lt_capture_row_t *)a)->bytes, y = ((const lt_capture_row_t *)b)->bytes;
    return x < y ? 1 : x > y ? -1 : 0;
}

static const char *capture_str(const lt_capture_reader_t *r, lt_arena_t *arena, uint32_t id, size_t *len)
{
    const char *s = id == LT_CAPTURE_NONE ? NULL : lt_capture_reader_string(r, id, len);
    if (s == NULL) {
        s = "?";
        *len = 1;
    }
    return lt_arena_strndup(arena, s, *len);
}

static int replay_flame(const lt_capture_reader_t *r, lt_arena_t *arena, lt_report_flame_t **flame, size_t *nflame)
{
    *flame = NULL;
    *nflame = 0;
    size_t n = r->checkpoint.nsites;
    if (n == 0)
        return 0;
    lt_capture_row_t *rows = lt_arena_alloc(arena, n * sizeof(*rows));
    lt_report_flame_t *out = lt_arena_alloc(arena, (n < FLAME_STACKS ? n : FLAME_STACKS) * sizeof(*out));
    if (rows == NULL || out == NULL)
        return LT_ENOMEM;
    memcpy(rows, r->checkpoint.sites, n * sizeof(*rows));
    qsort(rows, n, sizeof(*rows), row_heavier);
    size_t k = 0;
    for (size_t i = 0; i < n && k < FLAME_STACKS && rows[i].bytes > 0; i++) {
        size_t depth = 0;
        const uint32_t *ids = lt_capture_reader_stack(r, rows[i].id, &depth);
        if (ids == NULL || depth == 0)
            continue;
        lt_report_frame_t *frames = lt_arena_alloc(arena, depth * sizeof(*frames));
        if (frames == NULL)
            return LT_ENOMEM;
        size_t kept = 0;
        for (size_t d = 0; d < depth; d++) {
            const lt_capture_frame_t *fr = lt_capture_reader_frame(r, ids[d]);
            if (fr == NULL || (fr->flags & LT_CAPTURE_FRAME_NATIVE))
                continue;
            size_t flen, glen;
            const char *file = capture_str(r, arena, fr->file, &flen);
            const char *function = capture_str(r, arena, fr->function, &glen);
            if (file == NULL || function == NULL)
                return LT_ENOMEM;
            frames[kept++] = (lt_report_frame_t){file, fr->line, function};
        }
        while (kept > 0 && lt_report_launcher_file(frames[kept - 1].file, strlen(frames[kept - 1].file)))
            kept--;
        if (kept > 0)
            out[k++] = (lt_report_flame_t){frames, kept, (double)rows[i].bytes};
    }
    *flame = k ? out : NULL;
    *nflame = k;
    return 0;
}

static PyObject *header_argv(const lt_capture_reader_t *r)
{
    PyObject *argv = PyList_New((Py_ssize_t)r->header.argc);
    for (size_t i = 0; argv != NULL && i < r->header.argc; i++) {
        PyObject *a = PyUnicode_DecodeUTF8(r->header.argv[i].s, (Py_ssize_t)r->header.argv[i].len, "replace");
        if (a == NULL)
            Py_CLEAR(argv);
        else
            PyList_SET_ITEM(argv, (Py_ssize_t)i, a);
    }
    return argv;
}

static PyObject *report_capture_fn(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *path, *outputs;
    if (!PyArg_ParseTuple(args, "UO!:report_capture", &path, &PyDict_Type, &outputs))
        return NULL;
    mapped_t m;
    if (map_file(path, &m) < 0)
        return NULL;
    lt_capture_reader_t r;
    if (open_reader(&r, &m, path) < 0) {
        unmap_file(&m);
        return NULL;
    }
    lt_intern_t names;
    lt_intern_init(&names, &lt_page_alloc);
    lt_findings_t f;
    lt_arena_t flame_arena;
    lt_arena_init(&flame_arena, &lt_page_alloc);
    PyObject *verdict = NULL, *argv = NULL;
    int rc = lt_findings_init(&f);
    if (rc == 0)
        rc = replay(&r, &names, &f);
    if (rc < 0) {
        lt_raise(rc, "reading the capture");
        goto done;
    }
    warn_stop(&r, path);
    if (lt_findings_count(&f) == 0) {
        PyErr_Format(PyExc_ValueError, "%S holds no checkpoint to report on", path);
        goto done;
    }
    argv = header_argv(&r);
    if (argv == NULL)
        goto done;
    lt_report_flame_t *flame;
    rc = replay_flame(&r, &flame_arena, &flame, &f.nflame);
    if (rc < 0) {
        lt_raise(rc, "reading the capture");
        goto done;
    }
    f.flame = flame;
    double first, last, span;
    lt_findings_rss(&f, &first, &last, &span);
    verdict = lt_findings_report(&f, &names, NULL, NULL, argv, outputs, span);
done:
    Py_XDECREF(argv);
    lt_findings_clear(&f);
    lt_arena_release(&flame_arena);
    lt_intern_clear(&names);
    lt_capture_reader_release(&r);
    unmap_file(&m);
    return verdict;
}

/* ---- diff ---------------------------------------------------------------- */

typedef struct type_row {
    const char *name;
    size_t len;
    int64_t count, bytes;
} type_row_t;

typedef struct last_state {
    lt_capture_reader_t r;
    mapped_t m;
    lt_capture_checkpoint_t cp;
    int have;
} last_state_t;

static int read_last(PyObject *path, last_state_t *s)
{
    memset(s, 0, sizeof(*s));
    if (map_file(path, &s->m) < 0)
        return -1;
    if (open_reader(&s->r, &s->m, path) < 0) {
        unmap_file(&s->m);
        return -1;
    }
    for (;;) {
        lt_capture_type_t type;
        int got = lt_capture_reader_next(&s->r, &type);
        if (got < 0) {
            lt_raise(got, "reading the capture");
            return -1;
        }
        if (got == 0)
            break;
        if (type == LT_CAPTURE_CHECKPOINT)
            s->have = 1;
    }
    warn_stop(&s->r, path);
    if (!s->have) {
        PyErr_Format(PyExc_ValueError, "%S holds no checkpoint", path);
        return -1;
    }
    s->cp = s->r.checkpoint;
    return 0;
}

static void release_last(last_state_t *s)
{
    lt_capture_reader_release(&s->r);
    unmap_file(&s->m);
}

static int find_census(const last_state_t *s, const char *name, size_t len, int64_t *count, int64_t *bytes)
{
    for (size_t i = 0; i < s->cp.ncensus; i++) {
        size_t l;
        const char *n = lt_capture_reader_string(&s->r, s->cp.census[i].id, &l);
        if (n != NULL && l == len && memcmp(n, name, len) == 0) {
            *count = (int64_t)s->cp.census[i].count;
            *bytes = (int64_t)s->cp.census[i].bytes;
            return 1;
        }
    }
    *count = *bytes = 0;
    return 0;
}

typedef struct delta_row {
    const char *name;
    size_t len;
    int64_t dcount, dbytes, count, bytes;
} delta_row_t;

static int delta_cmp(const void *a, const void *b)
{
    int64_t x = ((const delta_row_t *)a)->dbytes, y = ((const delta_row_t *)b)->dbytes;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int add_delta(delta_row_t **rows, size_t *n, size_t *cap, delta_row_t row)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        delta_row_t *more = PyMem_Realloc(*rows, c * sizeof(**rows));
        if (more == NULL)
            return -1;
        *rows = more;
        *cap = c;
    }
    (*rows)[(*n)++] = row;
    return 0;
}

static PyObject *diff_captures_fn(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *pa, *pb;
    if (!PyArg_ParseTuple(args, "UU:diff_captures", &pa, &pb))
        return NULL;
    last_state_t a, b;
    if (read_last(pa, &a) < 0) {
        release_last(&a);
        return NULL;
    }
    if (read_last(pb, &b) < 0) {
        release_last(&a);
        release_last(&b);
        return NULL;
    }
    delta_row_t *rows = NULL;
    size_t n = 0, cap = 0;
    int failed = 0;
    /* Types in the newer capture, then those only in the older one. */
    for (size_t i = 0; !failed && i < b.cp.ncensus; i++) {
        size_t len;
        const char *name = lt_capture_reader_string(&b.r, b.cp.census[i].id, &len);
        if (name == NULL)
            continue;
        int64_t c0, b0;
        find_census(&a, name, len, &c0, &b0);
        delta_row_t r = {name, len, (int64_t)b.cp.census[i].count - c0, (int64_t)b.cp.census[i].bytes - b0,
                         (int64_t)b.cp.census[i].count, (int64_t)b.cp.census[i].bytes};
        if ((r.dcount != 0 || r.dbytes != 0) && add_delta(&rows, &n, &cap, r) < 0)
            failed = 1;
    }
    for (size_t i = 0; !failed && i < a.cp.ncensus; i++) {
        size_t len;
        const char *name = lt_capture_reader_string(&a.r, a.cp.census[i].id, &len);
        int64_t c1, b1;
        if (name == NULL || find_census(&b, name, len, &c1, &b1))
            continue;
        delta_row_t r = {name, len, -(int64_t)a.cp.census[i].count, -(int64_t)a.cp.census[i].bytes, 0, 0};
        if (add_delta(&rows, &n, &cap, r) < 0)
            failed = 1;
    }
    PyObject *out = NULL;
    lt_strbuf_t sb;
    lt_strbuf_init(&sb, &lt_page_alloc);
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    qsort(rows, n, sizeof(*rows), delta_cmp);
    uint64_t fa = 0, fb = 0;
    for (int k = 0; k < LT_CAPTURE_FD_KINDS; k++) {
        fa += a.cp.fds[k];
        fb += b.cp.fds[k];
    }
    int rc = lt_strbuf_printf(&sb, "%-44s %14s %14s\n", "", "before", "after");
    if (rc == 0)
        rc = lt_strbuf_printf(&sb, "%-44s %14.1f %14.1f MB\n", "RSS", (double)a.cp.rss_bytes / 1e6,
                              (double)b.cp.rss_bytes / 1e6);
    if (rc == 0)
        rc = lt_strbuf_printf(&sb, "%-44s %14.1f %14.1f MB\n", "Python heap", (double)a.cp.py_heap_bytes / 1e6,
                              (double)b.cp.py_heap_bytes / 1e6);
    if (rc == 0)
        rc = lt_strbuf_printf(&sb, "%-44s %14llu %14llu\n", "file descriptors", (unsigned long long)fa,
                              (unsigned long long)fb);
    if (rc == 0)
        rc = lt_strbuf_printf(&sb, "%-44s %14llu %14llu\n\n%-44s %14s %14s\n", "threads",
                              (unsigned long long)a.cp.threads, (unsigned long long)b.cp.threads, "type",
                              "objects", "bytes");
    for (size_t i = 0; rc == 0 && i < n && i < 40; i++) {
        int len = rows[i].len > 44 ? 44 : (int)rows[i].len;
        rc = lt_strbuf_printf(&sb, "%-44.*s %+14lld %+14lld\n", len, rows[i].name, (long long)rows[i].dcount,
                              (long long)rows[i].dbytes);
    }
    if (rc < 0) {
        lt_raise(rc, "formatting the diff");
        goto done;
    }
    out = PyUnicode_DecodeUTF8(lt_strbuf_str(&sb), (Py_ssize_t)sb.len, "replace");
done:
    lt_strbuf_clear(&sb);
    PyMem_Free(rows);
    release_last(&a);
    release_last(&b);
    return out;
}

static PyMethodDef replay_functions[] = {
    {"report_capture", report_capture_fn, METH_VARARGS,
     "report_capture(path, outputs) -> verdict\n\n"
     "Analyses a capture file and writes the reports named in outputs, as\n"
     "`leaktrace run` does (without holder paths: they need the live objects).\n"
     "A truncated capture is reported up to its last complete checkpoint."},
    {"diff_captures", diff_captures_fn, METH_VARARGS,
     "diff_captures(before, after) -> str\n\nRSS, heap, descriptors, threads and per-type changes between the\n"
     "last checkpoints of two captures, as text."},
    {NULL, NULL, 0, NULL},
};

int lt_replay_exec(PyObject *module)
{
    return PyModule_AddFunctions(module, replay_functions);
}
