/* gc_state() and cyclic_garbage(). */
#include "gcinfo.h"

#include "errors.h"
#include "gclists.h"
#include "heapwalk.h"
#include "module.h"
#include "objsize.h"
#include "typename.h"
#include "vec.h"

/* The map's value: the reference count not explained by other tracked
 * objects, with REACHABLE set once the object is known to be reachable. */
#define REACHABLE (UINT64_C(1) << 63)

typedef struct {
    lt_ptrmap_t *refs;
    lt_vec_t *stack;
    int failed;
} gc_pass_t;

static int subtract_internal(PyObject *child, void *arg)
{
    gc_pass_t *p = arg;
    uint64_t *v = lt_ptrmap_get(p->refs, child);
    if (v != NULL && (*v & ~REACHABLE) > 0)
        (*v)--;
    return 0;
}

static int mark_reachable(PyObject *child, void *arg)
{
    gc_pass_t *p = arg;
    uint64_t *v = lt_ptrmap_get(p->refs, child);
    if (v != NULL && !(*v & REACHABLE)) {
        *v |= REACHABLE;
        if (lt_vec_push(p->stack, child) < 0)
            p->failed = 1;
    }
    return 0;
}

typedef struct {
    lt_vec_t *tracked;
    lt_vec_t *frozen;
    int failed;
} gather_t;

static int gather_tracked(PyObject *op, int permanent, void *arg)
{
    gather_t *g = arg;
    if (lt_vec_push(g->tracked, op) < 0 || (permanent && lt_vec_push(g->frozen, op) < 0)) {
        g->failed = 1;
        return 0;
    }
    return 1;
}

/* Counting references to untracked objects from the garbage found so far:
 * an untracked object all of whose references come from garbage is garbage
 * too (a 1 MiB bytes that only a dead cycle holds). */
typedef struct {
    const lt_ptrmap_t *tracked;     /* every tracked object */
    lt_ptrmap_t *held;              /* untracked object -> references from garbage */
    int failed;
} held_t;

static int count_held(PyObject *child, void *arg)
{
    held_t *h = arg;
    if (child == NULL || lt_ptrmap_get(h->tracked, child) != NULL)
        return 0;
    uint64_t *n = lt_ptrmap_upsert(h->held, child, 0, NULL);
    if (n == NULL) {
        h->failed = 1;
        return -1;
    }
    (*n)++;
    return 0;
}

/* Adds to `out` the untracked objects that only the garbage in `out`
 * holds, following untracked containers. Returns 0 or LT_ENOMEM. */
static int add_held_untracked(const lt_ptrmap_t *refs, lt_ptrmap_t *out)
{
    lt_ptrmap_t held;
    lt_ptrmap_init(&held, &lt_page_alloc);
    lt_vec_t fresh;                 /* garbage whose referents are not counted yet */
    lt_vec_init(&fresh, &lt_page_alloc);
    held_t h = {refs, &held, 0};
    int rc = 0;
    size_t pos = 0;
    const lt_ptrmap_entry_t *e;
    while ((e = lt_ptrmap_next(out, &pos)) != NULL)
        if (lt_vec_push(&fresh, (void *)e->key) < 0)
            goto nomem;
    while (fresh.len > 0) {
        while (fresh.len > 0) {
            PyObject *o = lt_vec_pop(&fresh);
            if (lt_is_traversable(o))
                Py_TYPE(o)->tp_traverse(o, count_held, &h);
            if (h.failed)
                goto nomem;
        }
        pos = 0;
        while ((e = lt_ptrmap_next(&held, &pos)) != NULL) {
            PyObject *u = (PyObject *)e->key;
            if (e->value >= (uint64_t)Py_REFCNT(u) && lt_ptrmap_get(out, u) == NULL) {
                if (lt_ptrmap_upsert(out, u, 1, NULL) == NULL || lt_vec_push(&fresh, u) < 0)
                    goto nomem;
            }
        }
    }
    goto done;
nomem:
    rc = LT_ENOMEM;
done:
    lt_vec_clear(&fresh);
    lt_ptrmap_clear(&held);
    return rc;
}

int lt_gc_unreachable(lt_ptrmap_t *out)
{
    lt_vec_t tracked, frozen, stack;
    lt_vec_init(&tracked, &lt_page_alloc);
    lt_vec_init(&frozen, &lt_page_alloc);
    lt_vec_init(&stack, &lt_page_alloc);
    lt_ptrmap_t refs;
    lt_ptrmap_init(&refs, &lt_page_alloc);
    gc_pass_t p = {&refs, &stack, 0};
    gather_t g = {&tracked, &frozen, 0};
    int rc = -1;

    int gc_was = lt_gc_pause();
    if (gc_was < 0)
        return -1;
    lt_gc_foreach(gather_tracked, &g);
    if (g.failed)
        goto nomem;
    if (lt_ptrmap_reserve(&refs, tracked.len) < 0)
        goto nomem;
    for (size_t i = 0; i < tracked.len; i++) {
        Py_ssize_t rc0 = Py_REFCNT((PyObject *)tracked.items[i]);
        if (lt_ptrmap_upsert(&refs, tracked.items[i], rc0 > 0 ? (uint64_t)rc0 : 0, NULL) == NULL)
            goto nomem;
    }
    for (size_t i = 0; i < tracked.len; i++) {
        PyObject *o = tracked.items[i];
        if (lt_is_traversable(o))
            Py_TYPE(o)->tp_traverse(o, subtract_internal, &p);
    }
    /* Roots of reachability: what still has references from outside the
     * tracked heap (C globals, running frames, untracked holders), and what
     * gc.freeze() put out of the collector's reach. */
    for (size_t i = 0; i < frozen.len; i++) {
        uint64_t *v = lt_ptrmap_get(&refs, frozen.items[i]);
        *v |= REACHABLE;
        if (lt_vec_push(&stack, frozen.items[i]) < 0)
            goto nomem;
    }
    for (size_t i = 0; i < tracked.len; i++) {
        uint64_t *v = lt_ptrmap_get(&refs, tracked.items[i]);
        if (*v != 0 && !(*v & REACHABLE)) {
            *v |= REACHABLE;
            if (lt_vec_push(&stack, tracked.items[i]) < 0)
                goto nomem;
        }
    }
    while (stack.len > 0 && !p.failed) {
        PyObject *o = lt_vec_pop(&stack);
        if (lt_is_traversable(o))
            Py_TYPE(o)->tp_traverse(o, mark_reachable, &p);
    }
    if (p.failed)
        goto nomem;
    for (size_t i = 0; i < tracked.len; i++) {
        uint64_t *v = lt_ptrmap_get(&refs, tracked.items[i]);
        if (!(*v & REACHABLE) && lt_ptrmap_upsert(out, tracked.items[i], 1, NULL) == NULL)
            goto nomem;
    }
    if (add_held_untracked(&refs, out) < 0)
        goto nomem;
    rc = 0;
    goto done;
nomem:
    PyErr_NoMemory();
done:
    if (rc < 0)
        lt_ptrmap_clear(out);
    lt_ptrmap_clear(&refs);
    lt_vec_clear(&tracked);
    lt_vec_clear(&frozen);
    lt_vec_clear(&stack);
    lt_gc_resume(gc_was);
    return rc;
}

/* Adds (count, bytes) of o to counts[qualified name of its type]. */
static int count_by_type(PyObject *counts, PyObject *o)
{
    PyObject *name = lt_type_qualname(Py_TYPE(o));
    if (name == NULL)
        return -1;
    Py_ssize_t count = 0, bytes = 0;
    PyObject *prev = PyDict_GetItemWithError(counts, name);
    if (prev == NULL && PyErr_Occurred())
        goto error;
    if (prev != NULL && !PyArg_ParseTuple(prev, "nn", &count, &bytes))
        goto error;
    PyObject *v = Py_BuildValue("(nn)", count + 1, bytes + lt_objsize(o));
    if (v == NULL)
        goto error;
    int rc = PyDict_SetItem(counts, name, v);
    Py_DECREF(v);
    Py_DECREF(name);
    return rc;
error:
    Py_DECREF(name);
    return -1;
}

static PyObject *cyclic_garbage_fn(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    lt_ptrmap_t unreachable;
    lt_ptrmap_init(&unreachable, &lt_page_alloc);
    if (lt_gc_unreachable(&unreachable) < 0)
        return NULL;
    /* Collection stays paused while the result is built: a collection now
     * would free the very objects the map points to. */
    int gc_was = lt_gc_pause();
    PyObject *counts = gc_was < 0 ? NULL : PyDict_New();
    size_t pos = 0;
    const lt_ptrmap_entry_t *e;
    while (counts != NULL && (e = lt_ptrmap_next(&unreachable, &pos)) != NULL)
        if (count_by_type(counts, (PyObject *)e->key) < 0)
            Py_CLEAR(counts);
    lt_ptrmap_clear(&unreachable);
    if (gc_was >= 0)
        lt_gc_resume(gc_was);
    return counts;
}

static PyObject *call_gc(PyObject *gc, const char *name)
{
    return PyObject_CallMethod(gc, name, NULL);
}

static PyObject *gc_state_fn(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    PyObject *gc = PyImport_ImportModule("gc");
    if (gc == NULL)
        return NULL;
    PyObject *out = PyDict_New();
    PyObject *garbage_types = PyDict_New();
    PyObject *garbage = PyObject_GetAttrString(gc, "garbage");
    static const char *const calls[][2] = {
        {"enabled", "isenabled"}, {"thresholds", "get_threshold"}, {"counts", "get_count"},
        {"debug", "get_debug"}, {"frozen", "get_freeze_count"},
    };
    if (out == NULL || garbage_types == NULL || garbage == NULL)
        goto error;
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        PyObject *v = call_gc(gc, calls[i][1]);
        if (v == NULL || PyDict_SetItemString(out, calls[i][0], v) < 0) {
            Py_XDECREF(v);
            goto error;
        }
        Py_DECREF(v);
    }
    if (!PyList_Check(garbage)) {
        PyErr_SetString(PyExc_TypeError, "gc.garbage is not a list");
        goto error;
    }
    /* Iterate over a copy: counting never runs code, but stay safe if the
     * list is changed under us by another thread between GIL switches. */
    PyObject *items = PyList_GetSlice(garbage, 0, PyList_GET_SIZE(garbage));
    if (items == NULL)
        goto error;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        if (count_by_type(garbage_types, PyList_GET_ITEM(items, i)) < 0) {
            Py_DECREF(items);
            goto error;
        }
    }
    PyObject *n = PyLong_FromSsize_t(PyList_GET_SIZE(items));
    Py_DECREF(items);
    if (n == NULL || PyDict_SetItemString(out, "garbage", n) < 0) {
        Py_XDECREF(n);
        goto error;
    }
    Py_DECREF(n);
    if (PyDict_SetItemString(out, "garbage_types", garbage_types) < 0)
        goto error;
    Py_DECREF(garbage_types);
    Py_DECREF(garbage);
    Py_DECREF(gc);
    return out;
error:
    Py_XDECREF(out);
    Py_XDECREF(garbage_types);
    Py_XDECREF(garbage);
    Py_DECREF(gc);
    return NULL;
}

static PyMethodDef gcinfo_functions[] = {
    {"gc_state", gc_state_fn, METH_NOARGS,
     "gc_state() -> dict\n\n"
     "The collector's settings and leftovers: enabled, thresholds, counts, debug,\n"
     "frozen, garbage (len(gc.garbage)) and garbage_types {name: (count, bytes)}."},
    {"cyclic_garbage", cyclic_garbage_fn, METH_NOARGS,
     "cyclic_garbage() -> dict\n\n"
     "{name: (count, bytes)} of the objects that only reference cycles keep alive:\n"
     "what the collector would free if it ran now. Nothing is freed and no\n"
     "finalizer runs."},
    {NULL, NULL, 0, NULL},
};

int lt_gcinfo_exec(PyObject *module)
{
    return PyModule_AddFunctions(module, gcinfo_functions);
}
