/* The heap walk: tracked objects, then what they reach untracked. */
#include "heapwalk.h"

#include "errors.h"
#include "frames.h"
#include "gclists.h"

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

int lt_collect_now(void)
{
    int was = lt_py_gc_set_enabled(1);
    if (was < 0)
        return -1;
    PyGC_Collect();
    int failed = PyErr_Occurred() != NULL;
    if (was == 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (lt_py_gc_set_enabled(0) < 0)
            PyErr_Clear();
        PyErr_Restore(type, value, tb);
    }
    return failed ? -1 : 0;
}

struct collect_ctx {
    lt_vec_t *out;
    int failed;
};

static int collect_one(PyObject *op, int permanent, void *arg)
{
    (void)permanent;
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
    lt_gc_foreach(collect_one, &c);
    if (c.failed) {
        lt_vec_clear(out);
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

struct walk {
    lt_addrset_t *seen;         /* every object counted so far */
    lt_vec_t pending;           /* untracked containers still to traverse */
    lt_vec_t batch;             /* the referents of the container at hand */
    lt_heap_visit_fn visit;
    void *ctx;
    int status;                 /* 0 going on, 1 stopped by visit, -1 error */
};

/* One referent. The bitmap is asked first: each object is counted once
 * however many paths reach it (containers, thread stacks, generators whose
 * running frame is both). A tracked referent met before its turn in the
 * collector's lists is counted now and traversed on its turn. */
static int handle_referent(struct walk *w, PyObject *child)
{
    int added = lt_addrset_add(w->seen, child);
    if (added == 0)
        return 0;
    if (added < 0) {
        PyErr_NoMemory();
        w->status = -1;
        return -1;
    }
    int gc = lt_is_gc(child);
    int tracked = gc && lt_py_gc_is_tracked(child);
    int rc = w->visit(child, tracked, w->ctx);
    if (rc != 0) {
        w->status = rc;
        return rc;
    }
    /* Untracked containers are traversed in turn, and so are code objects,
     * which are no gc containers but hold constants and names. */
    int walk_into = (gc && !tracked && Py_TYPE(child)->tp_traverse != NULL) || PyCode_Check(child);
    if (walk_into && lt_vec_push(&w->pending, child) < 0) {
        PyErr_NoMemory();
        w->status = -1;
        return -1;
    }
    return 0;
}

/* tp_traverse callback: only gathers the referents. Reading a referent's
 * header is the walk's main cost (a cache miss on most untracked objects),
 * so the referents of a container are prefetched a few ahead and then
 * handled, overlapping the misses instead of paying them one by one. */
static int gather_referent(PyObject *child, void *arg)
{
    struct walk *w = arg;
    if (child != NULL && lt_vec_push(&w->batch, child) < 0) {
        PyErr_NoMemory();
        w->status = -1;
        return -1;
    }
    return 0;
}

#define PREFETCH_AHEAD 8

static void traverse_batch(struct walk *w, PyObject *container)
{
    w->batch.len = 0;
    if (PyCode_Check(container))
        lt_py_code_traverse((PyCodeObject *)container, gather_referent, w);
    else
        Py_TYPE(container)->tp_traverse(container, gather_referent, w);
    /* A dict's tp_traverse leaves out its keys when they are all str (they
     * cannot be in a cycle): a string held only as a key must be counted
     * too. PyDict_Next reads the table; it runs no code. */
    if (PyDict_Check(container)) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (w->status == 0 && PyDict_Next(container, &pos, &key, &value))
            if (PyUnicode_Check(key))
                gather_referent(key, w);
    }
    size_t n = w->batch.len;
    PyObject **items = (PyObject **)w->batch.items;
    for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++)
        __builtin_prefetch(items[i]);
    for (size_t i = 0; i < n && w->status == 0; i++) {
        if (i + PREFETCH_AHEAD < n)
            __builtin_prefetch(items[i + PREFETCH_AHEAD]);
        handle_referent(w, items[i]);
    }
}

static int walk_pending(struct walk *w)
{
    while (w->status == 0 && w->pending.len > 0)
        traverse_batch(w, lt_vec_pop(&w->pending));
    return w->status;
}

/* Running frames hold their code and locals outside any object from 3.11
 * on (before, as frame objects, which the lists already give): they are
 * walked as referents too, after the lists. */
static int stack_code(unsigned long thread_id, PyCodeObject *code, void *ctx)
{
    (void)thread_id;
    struct walk *w = ctx;
    if (handle_referent(w, (PyObject *)code) != 0)
        return w->status;
    return walk_pending(w);
}

static int stack_local(const lt_frame_local_t *local, void *ctx)
{
    struct walk *w = ctx;
    PyObject *objs[2] = {local->value, local->cell};
    for (int i = 0; i < 2; i++) {
        if (objs[i] == NULL)
            continue;
        if (handle_referent(w, objs[i]) != 0)
            return w->status;
        if (walk_pending(w) != 0)
            return w->status;
    }
    return 0;
}

static int walk_from(struct walk *w, PyObject *o)
{
    if (lt_is_traversable(o))
        traverse_batch(w, o);
    return walk_pending(w);
}

/* Called by lt_gc_foreach for each tracked object. Visiting during the
 * collector's own list walk touches each object once while it is in cache;
 * the callback allocates only untracked objects (names, sizes), which the
 * foreach contract allows. */
static int walk_tracked(PyObject *o, int permanent, void *arg)
{
    (void)permanent;
    struct walk *w = arg;
    int added = lt_addrset_add(w->seen, o);
    if (added < 0) {
        PyErr_NoMemory();
        w->status = -1;
        return 0;
    }
    if (added == 1)
        w->status = w->visit(o, 1, w->ctx);
    if (w->status == 0)
        walk_from(w, o);
    return w->status == 0;
}

int lt_heap_walk(lt_heap_visit_fn visit, void *ctx, lt_addrset_t *keep)
{
    lt_addrset_t own;
    lt_addrset_init(&own, &lt_page_alloc);
    struct walk w = {keep != NULL ? keep : &own, {0}, {0}, visit, ctx, 0};
    lt_vec_init(&w.pending, &lt_page_alloc);
    lt_vec_init(&w.batch, &lt_page_alloc);

    int gc_was = lt_gc_pause();
    if (gc_was < 0)
        return -1;
    lt_gc_foreach(walk_tracked, &w);
    if (w.status == 0) {
        lt_stack_visitor_t sv = {stack_code, stack_local, &w};
        lt_frames_walk_stacks(&sv);
    }
    lt_vec_clear(&w.pending);
    lt_vec_clear(&w.batch);
    lt_addrset_clear(&own);
    lt_gc_resume(gc_was);
    return w.status < 0 ? -1 : 0;
}
