/* The heap walk: tracked objects, then what they reach untracked. */
#include "heapwalk.h"

#include "errors.h"
#include "raise.h"

int lt_gc_pause(void)
{
    return lt_py_gc_set_enabled(0);
}

void lt_gc_resume(int previous)
{
    if (previous == 1) {
        /* Keep a pending exception: re-enabling never fails on 3.10+, and on
         * 3.9 a failure here must not mask the walk's own error. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (lt_py_gc_set_enabled(1) < 0)
            PyErr_Clear();
        PyErr_Restore(type, value, tb);
    }
}

struct collect_ctx {
    lt_vec_t *out;
    int failed;
};

static int collect_one(PyObject *op, void *arg)
{
    struct collect_ctx *c = arg;
    if (lt_vec_push(c->out, op) < 0) {
        c->failed = 1;
        return 0;
    }
    return 1;
}

int lt_gc_tracked(lt_vec_t *out)
{
    struct collect_ctx c = {out, 0};
    if (lt_py_gc_foreach(collect_one, &c) < 0) {
        lt_vec_clear(out);
        return -1;
    }
    if (c.failed) {
        lt_vec_clear(out);
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

struct walk {
    lt_ptrset_t *seen;
    lt_vec_t pending;           /* untracked containers still to traverse */
    lt_heap_visit_fn visit;
    void *ctx;
    int status;                 /* 0 going on, 1 stopped by visit, -1 error */
};

/* tp_traverse callback: picks out the untracked referents not seen yet. */
static int walk_referent(PyObject *child, void *arg)
{
    struct walk *w = arg;
    if (child == NULL || w->status != 0)
        return 0;
    if (PyObject_IS_GC(child) && PyObject_GC_IsTracked(child))
        return 0;               /* visited from the collector's lists */
    int added = lt_ptrset_add(w->seen, child);
    if (added == 0)
        return 0;
    if (added < 0) {
        PyErr_NoMemory();
        w->status = -1;
        return -1;
    }
    int rc = w->visit(child, 0, w->ctx);
    if (rc != 0) {
        w->status = rc;
        return rc;
    }
    if (lt_is_traversable(child) && lt_vec_push(&w->pending, child) < 0) {
        PyErr_NoMemory();
        w->status = -1;
        return -1;
    }
    return 0;
}

static int walk_from(struct walk *w, PyObject *o)
{
    if (lt_is_traversable(o))
        Py_TYPE(o)->tp_traverse(o, walk_referent, w);
    while (w->status == 0 && w->pending.len > 0) {
        PyObject *u = lt_vec_pop(&w->pending);
        Py_TYPE(u)->tp_traverse(u, walk_referent, w);
    }
    return w->status;
}

int lt_heap_walk(lt_heap_visit_fn visit, void *ctx, lt_ptrset_t *keep)
{
    lt_ptrset_t own;
    lt_ptrset_init(&own, &lt_page_alloc);
    struct walk w = {keep != NULL ? keep : &own, {0}, visit, ctx, 0};
    lt_vec_init(&w.pending, &lt_page_alloc);
    lt_vec_t tracked;
    lt_vec_init(&tracked, &lt_page_alloc);

    int gc_was = lt_gc_pause();
    if (gc_was < 0)
        return -1;
    if (lt_gc_tracked(&tracked) < 0) {
        w.status = -1;
        goto done;
    }
    if (keep != NULL && lt_ptrset_reserve(keep, keep->len + tracked.len * 2) < 0) {
        PyErr_NoMemory();
        w.status = -1;
        goto done;
    }
    for (size_t i = 0; i < tracked.len && w.status == 0; i++) {
        PyObject *o = tracked.items[i];
        if (keep != NULL && lt_ptrset_add(keep, o) < 0) {
            PyErr_NoMemory();
            w.status = -1;
            break;
        }
        w.status = visit(o, 1, ctx);
        if (w.status == 0)
            walk_from(&w, o);
    }
done:
    lt_vec_clear(&tracked);
    lt_vec_clear(&w.pending);
    lt_ptrset_clear(&own);
    lt_gc_resume(gc_was);
    return w.status < 0 ? -1 : 0;
}
