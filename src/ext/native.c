/* The extension's side of native allocation tracking: when the program runs
 * with libleaktrace_preload.so preloaded, registers the callbacks that give
 * the preload library the Python stack of the allocating thread, and reads
 * its sites back: native_enabled(), native_sites(), native_stats(),
 * native_checkpoint(). Without the preload library these say so and do
 * nothing; the extension never links it (control.h's entry point is found
 * with dlsym). */
#include "lt_compat.h"

#include "../preload/control.h"
#include "alloc.h"
#include "errors.h"
#include "frames.h"
#include "module.h"
#include "ptrmap.h"
#include "raise.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define PY_DEPTH 32
#define SEG0 1024u
#define SEGMENTS 24

/* A code object seen in a sampled stack, with UTF-8 copies of its file and
 * function names that the preload library borrows for good. No reference
 * is held: the callbacks may run without the GIL, where a reference count
 * must not be touched. A record is checked against the code object found
 * at its address (file, name, first line) each time, so a code object
 * that died and had its address reused gets a record of its own. */
typedef struct code_rec {
    PyCodeObject *code;         /* borrowed: valid only while a frame runs it */
    PyObject *filename;         /* the identity check; never dereferenced */
    PyObject *name;
    int firstlineno;
    const char *file;
    const char *function;
} code_rec_t;

/* The record of index i: segment k = floor(log2(i / SEG0 + 1)). */
static code_rec_t *code_rec(code_rec_t *const *segs, size_t i)
{
    size_t q = i / SEG0 + 1;
    unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)q);
    return &segs[k][i - (size_t)SEG0 * ((1u << k) - 1)];
}

/* Process-wide (the module is single-interpreter, and so is the preload
 * library). `api`, `ready` and `site_type` are written at import with the
 * GIL. `lock` protects `index`, `names` and the writing of records: py_stack
 * takes it briefly, from any thread, GIL or not, and calls nothing while it
 * holds it but the page allocator. Never freed: the preload library keeps pointers to
 * the names. */
static struct {
    const lt_preload_api_t *api;
    int ready;
    _Atomic int finalizing;     /* Python's atexit ran: threads without the GIL are not read */
    pthread_mutex_t lock;
    lt_ptrmap_t index;          /* code object -> its index in codes, + 1 */
    /* The records, in segments that never move: segment k holds
     * SEG0 << k of them. A record is complete before ncodes counts it
     * (release), so describe reads it without the lock. */
    code_rec_t *segs[SEGMENTS];
    _Atomic size_t ncodes;
    lt_arena_t names;
    PyTypeObject *site_type;    /* NativeSite; a strong reference kept for the process */
} nat = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- the callbacks (inside the allocator) ---------------------------------
 * They run inside malloc or mmap of any thread, with the preload library
 * marking the thread busy (so memory they take passes straight through).
 * They read only the calling thread's own Python frames, which cannot
 * change while it is inside an allocator call: it either holds the GIL, or
 * released it around C code (ctypes calls, Py_BEGIN_ALLOW_THREADS) and is
 * now in that C code, its frames frozen until it takes the GIL back. They
 * never run Python code, never touch a reference count, never allocate
 * through Python's allocators. */

/* A UTF-8 copy of a str in the arena, read from its canonical
 * representation without asking CPython for one (PyUnicode_AsUTF8 may
 * allocate, from inside the allocator that is running). Code objects'
 * strings are always compact and ready. Caller holds nat.lock. */
static const char *copy_utf8(PyObject *s)
{
    if (s == NULL || !PyUnicode_Check(s))
        return "?";
    int kind = PyUnicode_KIND(s);
    if (kind != PyUnicode_1BYTE_KIND && kind != PyUnicode_2BYTE_KIND && kind != PyUnicode_4BYTE_KIND)
        return "?";
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n > 4096)
        n = 4096;
    char *out = lt_arena_alloc(&nat.names, (size_t)n * 4 + 1);
    if (out == NULL)
        return "?";
    size_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) {
            out[k++] = (char)c;
        } else if (c < 0x800) {
            out[k++] = (char)(0xc0 | (c >> 6));
            out[k++] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            if (c >= 0xd800 && c <= 0xdfff)
                c = 0xfffd;     /* a lone surrogate is not UTF-8 */
            out[k++] = (char)(0xe0 | (c >> 12));
            out[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[k++] = (char)(0x80 | (c & 0x3f));
        } else {
            out[k++] = (char)(0xf0 | (c >> 18));
            out[k++] = (char)(0x80 | ((c >> 12) & 0x3f));
            out[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[k++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[k] = '\0';
    return out;
}

/* The index of the record of `code` (alive: a frame of this thread runs
 * it), adding one on first sight or when the one at its address is of a
 * dead code object. Caller holds nat.lock. Returns 0 or LT_ENOMEM. */
static int code_index_locked(PyCodeObject *code, uint32_t *out)
{
    PyObject *name = lt_py_code_qualname(code);
    uint64_t *slot = lt_ptrmap_get(&nat.index, code);
    size_t n = atomic_load_explicit(&nat.ncodes, memory_order_relaxed);
    if (slot != NULL) {
        const code_rec_t *r = code_rec(nat.segs, *slot - 1);
        if (r->filename == code->co_filename && r->name == name && r->firstlineno == code->co_firstlineno) {
            *out = (uint32_t)(*slot - 1);
            return 0;
        }
    }
    if (n >= (size_t)SEG0 * ((1u << SEGMENTS) - 1) || n > UINT32_MAX - 2)
        return LT_ENOMEM;
    size_t q = n / SEG0 + 1;
    unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)q);
    if (nat.segs[k] == NULL) {
        nat.segs[k] = lt_alloc(&lt_page_alloc, ((size_t)SEG0 << k) * sizeof(code_rec_t));
        if (nat.segs[k] == NULL)
            return LT_ENOMEM;
    }
    if (slot != NULL)
        *slot = n + 1;
    else if (lt_ptrmap_upsert(&nat.index, code, n + 1, NULL) == NULL)
        return LT_ENOMEM;
    code_rec_t *r = code_rec(nat.segs, n);
    r->code = code;
    r->filename = code->co_filename;
    r->name = name;
    r->firstlineno = code->co_firstlineno;
    r->file = copy_utf8(code->co_filename);
    r->function = copy_utf8(name);
    atomic_store_explicit(&nat.ncodes, n + 1, memory_order_release);
    *out = (uint32_t)n;
    return 0;
}

static int py_stack(uint64_t *keys, int max)
{
    /* This thread's own thread state, bound to it by CPython; it holds the
     * GIL when that is also the current one. After Python's atexit has
     * run, only a GIL holder is read: finalization frees the thread
     * states of daemon threads that may still be running C code. */
    PyThreadState *ts = PyGILState_GetThisThreadState();
    if (ts == NULL)
        return 0;
    if (atomic_load_explicit(&nat.finalizing, memory_order_acquire) && lt_py_tstate_current() != ts)
        return 0;
    lt_frame_ref_t refs[PY_DEPTH];
    int n = lt_frames_capture(ts, refs, max < PY_DEPTH ? max : PY_DEPTH);
    pthread_mutex_lock(&nat.lock);
    for (int i = 0; i < n; i++) {
        uint32_t idx;
        if (code_index_locked(refs[i].code, &idx) < 0) {
            n = i;              /* out of memory: the stack is cut here */
            break;
        }
        keys[i] = (uint64_t)(idx + 1) << 32 | (uint32_t)refs[i].offset;
    }
    pthread_mutex_unlock(&nat.lock);
    return n;
}

/* Runs in the same allocator call as the py_stack that returned `key`, so
 * its code object is still running in a frame of this thread. Reads the
 * record without the lock (called under the preload library's lock, which
 * nat.lock must never be taken inside: see atfork_prepare). */
static int py_describe(uint64_t key, lt_preload_pyframe_t *out)
{
    uint64_t idx = (key >> 32) - 1;
    if ((key >> 32) == 0 || idx >= atomic_load_explicit(&nat.ncodes, memory_order_acquire))
        return LT_ENOENT;
    const code_rec_t *r = code_rec(nat.segs, idx);
    int32_t offset = (int32_t)(uint32_t)key;
    int line = offset < 0 ? r->firstlineno : PyCode_Addr2Line(r->code, offset);
    out->file = r->file;
    out->function = r->function;
    out->line = line > 0 ? (uint32_t)line : 0;
    return 0;
}

/* Fork: no thread may be inside py_stack holding the lock when the child
 * is made. Safe to wait for: a holder of nat.lock waits for nothing (the
 * memory it maps passes straight through the preload library's hooks). */
static void atfork_prepare(void) { pthread_mutex_lock(&nat.lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&nat.lock); }
static void atfork_child(void) { pthread_mutex_init(&nat.lock, NULL); }

/* Registered with Python's atexit at import. */
static PyObject *native_atexit(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    atomic_store_explicit(&nat.finalizing, 1, memory_order_release);
    Py_RETURN_NONE;
}

/* ---- the module functions (GIL held) ------------------------------------ */

static PyObject *native_enabled(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyBool_FromLong(nat.api != NULL && nat.api->enabled());
}

static int require_api(void)
{
    if (nat.api == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "native allocation tracking needs libleaktrace_preload.so in LD_PRELOAD "
                        "(leaktrace run --native)");
        return -1;
    }
    return 0;
}

static PyObject *native_stats(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (require_api() < 0)
        return NULL;
    lt_preload_stats_t s;
    nat.api->stats(&s);
    return Py_BuildValue("{sssKsKsKsKsKsKsKsKsKsssOsi}", "mode", s.sample_mean ? "sampled" : "trace", "sample_mean",
                         (unsigned long long)s.sample_mean, "samples", (unsigned long long)s.samples, "dropped",
                         (unsigned long long)s.dropped, "heap_live_samples",
                         (unsigned long long)s.live_samples[LT_PRELOAD_KIND_HEAP], "heap_live_bytes",
                         (unsigned long long)s.live_bytes[LT_PRELOAD_KIND_HEAP], "mmap_live_samples",
                         (unsigned long long)s.live_samples[LT_PRELOAD_KIND_MMAP], "mmap_live_bytes",
                         (unsigned long long)s.live_bytes[LT_PRELOAD_KIND_MMAP], "stacks",
                         (unsigned long long)s.stacks, "footprint", (unsigned long long)s.footprint, "unwinder",
                         s.unwinder ? s.unwinder : "?", "python_joined", s.python_joined ? Py_True : Py_False,
                         "capture_fd", s.capture_fd);
}

static PyObject *native_checkpoint(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (require_api() < 0)
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = nat.api->checkpoint();
    Py_END_ALLOW_THREADS
    if (rc == LT_ENOENT)
        Py_RETURN_FALSE;
    if (rc < 0)
        return lt_raise(rc, "writing a native checkpoint");
    Py_RETURN_TRUE;
}

/* Where one site's native frames stop in the report: at the interpreter's
 * evaluation loop, when Python frames follow (they say the rest better). */
static int is_eval_loop(const char *function)
{
    return function != NULL && strncmp(function, "_PyEval_EvalFrame", 17) == 0;
}

/* ("native", function, library, offset) for a native frame. */
static PyObject *native_frame(uintptr_t address, const lt_preload_sym_t *sym)
{
    return Py_BuildValue("(szzK)", "native", sym->function, sym->library,
                         (unsigned long long)(address - sym->library_base));
}

static PyObject *python_frame(const lt_preload_frame_t *f)
{
    PyObject *function = PyUnicode_DecodeUTF8(f->function, (Py_ssize_t)strlen(f->function), "replace");
    PyObject *file = function ? PyUnicode_DecodeFSDefault(f->file) : NULL;
    PyObject *t = file ? Py_BuildValue("(sOOI)", "python", function, file, (unsigned)f->line) : NULL;
    Py_XDECREF(function);
    Py_XDECREF(file);
    return t;
}

/* The frames of a site as a tuple; sets *ours when its innermost frame is
 * in this extension (leaktrace's own bookkeeping, left out). */
static PyObject *site_frames(const lt_preload_site_t *site, int full, const char *self_lib, int *ours)
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    int has_python = site->nframes > site->nnative;
    *ours = 0;
    for (uint32_t i = 0; i < site->nframes; i++) {
        const lt_preload_frame_t *f = &site->frames[i];
        PyObject *t;
        if (f->flags & LT_PRELOAD_FRAME_NATIVE) {
            lt_preload_sym_t sym;
            int rc;
            Py_BEGIN_ALLOW_THREADS
            rc = nat.api->symbolize((uintptr_t)f->address - 1, &sym);
            Py_END_ALLOW_THREADS
            if (rc < 0)
                memset(&sym, 0, sizeof(sym));
            if (i == 0 && self_lib != NULL && sym.library == self_lib)
                *ours = 1;
            if (!full && has_python && is_eval_loop(sym.function)) {
                i = site->nnative - 1;  /* on to the Python frames */
                continue;
            }
            t = native_frame((uintptr_t)f->address, &sym);
        } else {
            t = python_frame(f);
        }
        if (t == NULL || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(t);
    }
    PyObject *tuple = PyList_AsTuple(list);
    Py_DECREF(list);
    return tuple;
}

static const char *kind_name(uint32_t kind) { return kind == LT_PRELOAD_KIND_MMAP ? "mmap" : "heap"; }

static int by_live_bytes(const void *a, const void *b)
{
    PyObject *x = *(PyObject *const *)a, *y = *(PyObject *const *)b;
    unsigned long long bx = PyLong_AsUnsignedLongLong(PyStructSequence_GET_ITEM(x, 1));
    unsigned long long by = PyLong_AsUnsignedLongLong(PyStructSequence_GET_ITEM(y, 1));
    return bx < by ? 1 : bx > by ? -1 : 0;
}

/* The sites merged by (kind, frames): two stacks that differ only in
 * interpreter frames beyond the evaluation loop are one site. */
static PyObject *native_sites(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"include_freed", "full", NULL};
    int include_freed = 0, full = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$pp:native_sites", kwlist, &include_freed, &full))
        return NULL;
    if (require_api() < 0)
        return NULL;
    lt_preload_snapshot_t *snap;
    int rc = nat.api->snapshot(&snap, include_freed);
    if (rc < 0)
        return lt_raise(rc, "copying the native sites");
    lt_preload_sym_t self;
    const char *self_lib = nat.api->symbolize((uintptr_t)&native_sites, &self) == 0 ? self.library : NULL;
    PyObject *merged = PyDict_New(), *result = NULL;
    if (merged == NULL)
        goto done;
    for (size_t i = 0; i < snap->nsites; i++) {
        const lt_preload_site_t *s = &snap->sites[i];
        int ours;
        PyObject *frames = site_frames(s, full, self_lib, &ours);
        if (frames == NULL)
            goto done;
        if (ours) {
            Py_DECREF(frames);
            continue;
        }
        PyObject *key = Py_BuildValue("(sN)", kind_name(s->kind), frames);
        if (key == NULL)
            goto done;
        PyObject *acc = PyDict_GetItemWithError(merged, key);
        unsigned long long v[4] = {s->live_bytes, s->live_count, s->total_bytes, s->total_count};
        if (acc == NULL && PyErr_Occurred()) {
            Py_DECREF(key);
            goto done;
        }
        if (acc != NULL) {
            for (int k = 0; k < 4; k++)
                v[k] += PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(acc, k));
        }
        PyObject *val = Py_BuildValue("(KKKK)", v[0], v[1], v[2], v[3]);
        rc = val ? PyDict_SetItem(merged, key, val) : -1;
        Py_XDECREF(val);
        Py_DECREF(key);
        if (rc < 0)
            goto done;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL)
        goto done;
    Py_ssize_t pos = 0;
    PyObject *key, *val;
    while (PyDict_Next(merged, &pos, &key, &val)) {
        PyObject *site = PyStructSequence_New(nat.site_type);
        if (site == NULL) {
            Py_DECREF(list);
            goto done;
        }
        PyStructSequence_SET_ITEM(site, 0, Py_NewRef(PyTuple_GET_ITEM(key, 1)));
        PyStructSequence_SET_ITEM(site, 1, Py_NewRef(PyTuple_GET_ITEM(val, 0)));
        PyStructSequence_SET_ITEM(site, 2, Py_NewRef(PyTuple_GET_ITEM(val, 1)));
        PyStructSequence_SET_ITEM(site, 3, Py_NewRef(PyTuple_GET_ITEM(key, 0)));
        PyStructSequence_SET_ITEM(site, 4, Py_NewRef(PyTuple_GET_ITEM(val, 2)));
        PyStructSequence_SET_ITEM(site, 5, Py_NewRef(PyTuple_GET_ITEM(val, 3)));
        rc = PyList_Append(list, site);
        Py_DECREF(site);
        if (rc < 0) {
            Py_DECREF(list);
            goto done;
        }
    }
    qsort(PySequence_Fast_ITEMS(list), (size_t)PyList_GET_SIZE(list), sizeof(PyObject *), by_live_bytes);
    result = list;
done:
    Py_XDECREF(merged);
    nat.api->snapshot_free(snap);
    return result;
}

/* The path of libleaktrace_preload.so installed beside this extension, or
 * None when it is not there (a build without it). */
static PyObject *preload_library(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    Dl_info info;
    if (dladdr((void *)&preload_library, &info) == 0 || info.dli_fname == NULL)
        Py_RETURN_NONE;
    const char *slash = strrchr(info.dli_fname, '/');
    size_t dir = slash ? (size_t)(slash - info.dli_fname) + 1 : 0;
    static const char name[] = "libleaktrace_preload.so";
    char path[4096];
    if (dir + sizeof(name) > sizeof(path))
        Py_RETURN_NONE;
    memcpy(path, info.dli_fname, dir);
    memcpy(path + dir, name, sizeof(name));
    if (access(path, R_OK) != 0)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(path);
}

static PyMethodDef native_functions[] = {
    {"preload_library", preload_library, METH_NOARGS,
     "preload_library() -> str or None\n\nThe path of libleaktrace_preload.so in this installation (for LD_PRELOAD)."},
    {"native_enabled", native_enabled, METH_NOARGS,
     "native_enabled() -> bool\n\nWhether libleaktrace_preload.so is preloaded and recording native allocations."},
    {"native_sites", (PyCFunction)(void (*)(void))native_sites, METH_VARARGS | METH_KEYWORDS,
     "native_sites(*, include_freed=False, full=False) -> [NativeSite, ...]\n\n"
     "Native allocation sites with live samples (every site when include_freed),\n"
     "largest live bytes first. Each is (frames, live_bytes, live_count) with\n"
     "kind ('heap' or 'mmap'), total_bytes and total_count as attributes. frames\n"
     "is innermost first: ('native', function, library, offset) for C frames up\n"
     "to the interpreter's evaluation loop (all of them with full=True), then\n"
     "('python', function, file, line) for the Python stack of the allocating\n"
     "thread when it held the GIL. Bytes are weighted estimates in sampled mode,\n"
     "exact in trace mode (LEAKTRACE_NATIVE_MEAN=0)."},
    {"native_stats", native_stats, METH_NOARGS,
     "native_stats() -> dict\n\nThe preload library's mode, samples, live totals per kind, unwinder, footprint."},
    {"native_checkpoint", native_checkpoint, METH_NOARGS,
     "native_checkpoint() -> bool\n\nWrites a checkpoint to the preload library's capture file\n"
     "(LEAKTRACE_CAPTURE) now; False when there is none."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef atexit_def = {"_native_atexit", native_atexit, METH_NOARGS,
                                 "Stops reading the stacks of threads without the GIL (finalization)."};

static PyStructSequence_Field site_fields[] = {
    {"frames", "innermost first: ('native', function, library, offset) and ('python', function, file, line)"},
    {"live_bytes", "estimated bytes still allocated"},
    {"live_count", "recorded allocations still alive"},
    {"kind", "'heap' (the malloc family) or 'mmap'"},
    {"total_bytes", "estimated bytes allocated since the start"},
    {"total_count", "recorded allocations since the start"},
    {NULL, NULL},
};

static PyStructSequence_Desc site_desc = {
    "leaktrace._core.NativeSite", "Native allocations of one site.", site_fields, 3,
};

/* atexit.register(_native_atexit): Python's atexit callbacks run before
 * finalization frees the thread states of other threads. */
static int register_atexit(void)
{
    PyObject *fn = PyCFunction_New(&atexit_def, NULL);
    PyObject *atexit = fn ? PyImport_ImportModule("atexit") : NULL;
    PyObject *r = atexit ? PyObject_CallMethod(atexit, "register", "O", fn) : NULL;
    Py_XDECREF(fn);
    Py_XDECREF(atexit);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

int lt_native_exec(PyObject *module)
{
    if (nat.site_type == NULL) {
        nat.site_type = PyStructSequence_NewType(&site_desc);
        if (nat.site_type == NULL)
            return -1;
    }
    if (PyModule_AddObject(module, "NativeSite", Py_NewRef((PyObject *)nat.site_type)) < 0)
        return -1;
    if (!nat.ready) {
        union {
            void *p;
            lt_preload_api_fn f;
        } entry = {dlsym(RTLD_DEFAULT, LT_PRELOAD_API_SYMBOL)};
        const lt_preload_api_t *api = entry.p != NULL ? entry.f() : NULL;
        if (api != NULL && api->version == LT_PRELOAD_API_VERSION && api->size >= sizeof(*api)) {
            lt_ptrmap_init(&nat.index, &lt_page_alloc);
            lt_arena_init(&nat.names, &lt_page_alloc);
            if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) == 0 &&
                api->set_python(py_stack, py_describe) == 0)
                nat.api = api;
        }
        nat.ready = 1;
        if (nat.api != NULL && register_atexit() < 0)
            return -1;
    }
    return PyModule_AddFunctions(module, native_functions);
}
