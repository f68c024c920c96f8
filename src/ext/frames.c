/* Stacks for allocation sites, frame locals of every thread, of frame
 * objects and generators, and an object's dict and inline values, read from
 * the interpreter's own layouts (internal headers: see lt_compat.h). */
/* Both before the first include: the internal headers that lt_compat.h
 * reads for 3.11+ need the public ones read with Py_BUILD_CORE too (which
 * Py_BUILD_CORE_MODULE defines, as for gclists.c). */
#define Py_BUILD_CORE_MODULE 1
#define LT_COMPAT_FRAMES 1
#include "frames.h"

/* Calls fn for each slot of frame f (code co) that holds something. */
static int frame_locals(lt_py_iframe_t *f, PyCodeObject *co, lt_frame_local_fn fn, void *ctx)
{
    PyObject **slots = lt_py_iframe_locals(f);
    int n = lt_py_code_nlocalsplus(co);
    for (int i = 0; i < n; i++) {
        PyObject *v = slots[i];
        if (v == NULL)
            continue;
        lt_frame_local_t local = {lt_py_code_localname(co, i), v, NULL};
        /* A cell variable holds a cell once the frame is complete; before
         * 3.11 from the start. An argument that is also a cell variable holds
         * the bare value until MAKE_CELL runs, hence the type check. */
        if (lt_py_code_local_is_cell(co, i) && PyCell_Check(v)) {
            local.cell = v;
            local.value = PyCell_GET(v);
        }
        int rc = fn(&local, ctx);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The entries of a running frame's locals mapping (a class body's
 * namespace, exec() with separate locals) with str names: the frame holds
 * them there, not in fast locals. A module's code has its globals there,
 * which are roots of their own. */
static int frame_mapping(lt_py_iframe_t *f, lt_frame_local_fn fn, void *ctx)
{
    PyObject *d = lt_py_iframe_localsdict(f);
    if (d == NULL || d == lt_py_iframe_globals(f) || !PyDict_Check(d))
        return 0;
    Py_ssize_t pos = 0;
    PyObject *k, *val;
    while (PyDict_Next(d, &pos, &k, &val)) {
        if (!PyUnicode_CheckExact(k))
            continue;
        lt_frame_local_t local = {k, val, NULL};
        int rc = fn(&local, ctx);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int walk_thread(PyThreadState *ts, const lt_stack_visitor_t *v)
{
    for (lt_py_iframe_t *f = lt_py_thread_frame(ts); f != NULL; f = lt_py_iframe_previous(f)) {
        PyCodeObject *co = lt_py_iframe_code(f);
        if (co == NULL)
            continue;
        int rc = v->frame(ts->thread_id, co, v->ctx);
        if (rc == 0)
            rc = frame_locals(f, co, v->local, v->ctx);
        if (rc == 0)
            rc = frame_mapping(f, v->local, v->ctx);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int lt_frames_walk_stacks(const lt_stack_visitor_t *v)
{
    /* With the GIL held no thread state is created or destroyed: threads
     * link and unlink theirs while holding it. */
    PyThreadState *self = PyThreadState_Get();
    int rc = walk_thread(self, v);
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(self->interp); rc == 0 && ts != NULL;
         ts = PyThreadState_Next(ts))
        if (ts != self)
            rc = walk_thread(ts, v);
    return rc;
}

int lt_frames_atexit(lt_atexit_fn fn, void *ctx)
{
    PyInterpreterState *interp = PyThreadState_Get()->interp;
    int n = lt_py_atexit_count(interp);
    for (int i = 0; i < n; i++) {
        PyObject *parts[3] = {NULL, NULL, NULL};
        static const char *const names[3] = {"", "args", "kwargs"};
        if (!lt_py_atexit_callback(interp, i, &parts[0], &parts[1], &parts[2]))
            continue;
        for (int k = 0; k < 3; k++) {
            int rc = parts[k] != NULL ? fn(i, names[k], parts[k], ctx) : 0;
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int lt_frames_is_frame(PyObject *o)
{
    return PyFrame_Check(o);
}

int lt_frames_capture(PyThreadState *ts, lt_frame_ref_t *refs, int max)
{
    int n = 0;
    for (lt_py_iframe_t *f = lt_py_thread_frame(ts); f != NULL && n < max; f = lt_py_iframe_previous(f)) {
        PyCodeObject *co = lt_py_iframe_code(f);
        if (co == NULL)
            continue;
        refs[n].code = co;
        refs[n].offset = lt_py_iframe_lasti(f, co);
        n++;
    }
    return n;
}

/* The frame data behind a frame object or generator, or NULL. */
static lt_py_iframe_t *object_iframe(PyObject *o)
{
    if (PyFrame_Check(o))
        return lt_py_frame_object_iframe((PyFrameObject *)o);
    if (PyGen_Check(o) || PyCoro_CheckExact(o) || PyAsyncGen_CheckExact(o))
        return lt_py_gen_iframe(o);
    return NULL;
}

int lt_frames_object_locals(PyObject *o, PyCodeObject **code, lt_frame_local_fn fn, void *ctx)
{
    lt_py_iframe_t *f = object_iframe(o);
    *code = f != NULL ? lt_py_iframe_code(f) : NULL;
    if (*code == NULL)
        return 0;
    return frame_locals(f, *code, fn, ctx);
}

PyCodeObject *lt_frames_object_code(PyObject *o)
{
    if (PyGen_Check(o) || PyCoro_CheckExact(o) || PyAsyncGen_CheckExact(o)) {
        PyObject *co = lt_py_gen_code(o);
        return co != NULL && PyCode_Check(co) ? (PyCodeObject *)co : NULL;
    }
    lt_py_iframe_t *f = object_iframe(o);
    return f != NULL ? lt_py_iframe_code(f) : NULL;
}

PyObject *lt_frames_code_freevar(PyCodeObject *co, Py_ssize_t i)
{
    return lt_py_code_freevar(co, i);
}

/* Whether the frame runs now: its stack pointer is then stale. */
static int object_running(PyObject *o)
{
    if (PyFrame_Check(o)) {
        /* A frame object's frame runs while some thread's stack has it. */
        lt_py_iframe_t *f = lt_py_frame_object_iframe((PyFrameObject *)o);
        PyThreadState *self = PyThreadState_Get();
        for (PyThreadState *ts = PyInterpreterState_ThreadHead(self->interp); ts != NULL; ts = PyThreadState_Next(ts))
            for (lt_py_iframe_t *g = lt_py_thread_frame(ts); g != NULL; g = lt_py_iframe_previous(g))
                if (g == f)
                    return 1;
        return 0;
    }
    return lt_py_gen_running(o);
}

int lt_frames_object_stack_has(PyObject *o, PyObject *child)
{
    lt_py_iframe_t *f = object_iframe(o);
    PyCodeObject *co = f != NULL ? lt_py_iframe_code(f) : NULL;
    if (co == NULL || object_running(o))
        return 0;
    Py_ssize_t n;
    PyObject **stack = lt_py_iframe_stack(f, co, &n);
    for (Py_ssize_t i = 0; i < n; i++)
        if (stack[i] == child)
            return 1;
    return 0;
}

const char *lt_frames_field(PyObject *o, PyObject *child)
{
    if (PyFrame_Check(o)) {
        PyFrameObject *fo = (PyFrameObject *)o;
        if (child == lt_py_frame_object_back(fo))
            return "f_back";
        if (child == lt_py_frame_object_trace(fo))
            return "f_trace";
    } else if (PyGen_Check(o) || PyCoro_CheckExact(o) || PyAsyncGen_CheckExact(o)) {
        if (child == lt_py_gen_code(o))
            return "gi_code";
        if (child == lt_py_gen_frame_object(o))
            return "gi_frame";
    }
    lt_py_iframe_t *f = object_iframe(o);
    PyCodeObject *co = f != NULL ? lt_py_iframe_code(f) : NULL;
    if (co == NULL)
        return NULL;
    if (child == (PyObject *)co)
        return "f_code";
    if (child == lt_py_iframe_localsdict(f))
        return "f_locals";
    if (child == lt_py_iframe_globals(f))
        return "f_globals";
    if (child == lt_py_iframe_builtins(f))
        return "f_builtins";
    return NULL;
}

PyObject *lt_frames_instance_dict(PyObject *o)
{
    return lt_py_instance_dict(o);
}

int lt_frames_inline_attr(PyObject *o, Py_ssize_t i, PyObject **name, PyObject **value)
{
    return lt_py_inline_attr(o, i, name, value);
}
