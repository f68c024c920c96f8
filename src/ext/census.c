/* census(), Census, Checkpoint, TypeDelta and new_objects(). */
#include "census.h"

#include "heapwalk.h"
#include "module.h"
#include "objsize.h"
#include "ptrmap.h"
#include "typename.h"

#include <stdlib.h>
#include <string.h>

/* ---- taking a census ------------------------------------------------- */

/* What the walk learns about one type. */
typedef struct type_rec {
    PyTypeObject *tp;           /* borrowed: alive during the walk */
    PyObject *name;             /* owned */
    lt_sizer_t sizer;
    Py_ssize_t count;
    Py_ssize_t bytes;
} type_rec_t;

typedef struct census_walk {
    lt_ptrmap_t index;          /* type -> position in recs */
    type_rec_t *recs;           /* lt_page_alloc memory */
    size_t nrecs, caprecs;
    /* A direct-mapped cache in front of `index`: a heap mixes a few dozen
     * hot types, so most lookups end here. Holds positions in recs. */
    PyTypeObject *cache_tp[256];
    size_t cache_rec[256];
    Py_ssize_t total_count, total_bytes, tracked_count;
    size_t largest_pos;         /* the largest object's type, in recs */
    Py_ssize_t largest_bytes;
} census_walk_t;

static type_rec_t *census_rec_for(census_walk_t *cw, PyTypeObject *tp)
{
    int added;
    uint64_t *slot = lt_ptrmap_upsert(&cw->index, tp, cw->nrecs, &added);
    if (slot == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (!added)
        return &cw->recs[*slot];
    if (cw->nrecs == cw->caprecs) {
        size_t cap = cw->caprecs ? cw->caprecs * 2 : 1024;
        type_rec_t *recs = lt_alloc(&lt_page_alloc, cap * sizeof(*recs));
        if (recs == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        if (cw->nrecs)
            memcpy(recs, cw->recs, cw->nrecs * sizeof(*recs));
        lt_free(&lt_page_alloc, cw->recs, cw->caprecs * sizeof(*recs));
        cw->recs = recs;
        cw->caprecs = cap;
    }
    PyObject *name = lt_type_qualname(tp);
    if (name == NULL)
        return NULL;
    type_rec_t *r = &cw->recs[cw->nrecs++];
    r->tp = tp;
    r->name = name;
    lt_sizer_init(&r->sizer, tp);
    r->count = 0;
    r->bytes = 0;
    return r;
}

static int census_visit(PyObject *o, int tracked, void *ctx)
{
    census_walk_t *cw = ctx;
    PyTypeObject *tp = Py_TYPE(o);
    size_t slot = ((uintptr_t)tp >> 4) & 255;
    type_rec_t *r;
    if (cw->cache_tp[slot] == tp) {
        r = &cw->recs[cw->cache_rec[slot]];
    } else {
        r = census_rec_for(cw, tp);
        if (r == NULL)
            return -1;
        cw->cache_tp[slot] = tp;
        cw->cache_rec[slot] = (size_t)(r - cw->recs);
    }
    Py_ssize_t size = lt_sizer_size(&r->sizer, o);
    if (size > cw->largest_bytes) {
        cw->largest_bytes = size;
        cw->largest_pos = (size_t)(r - cw->recs);
    }
    r->count++;
    r->bytes += size;
    cw->total_count++;
    cw->total_bytes += size;
    cw->tracked_count += tracked;
    return 0;
}

static int row_cmp(const void *a, const void *b)
{
    return PyUnicode_Compare(((const lt_census_row_t *)a)->name, ((const lt_census_row_t *)b)->name);
}

static void census_walk_release(census_walk_t *cw)
{
    for (size_t i = 0; i < cw->nrecs; i++)
        Py_XDECREF(cw->recs[i].name);
    lt_free(&lt_page_alloc, cw->recs, cw->caprecs * sizeof(type_rec_t));
    lt_ptrmap_clear(&cw->index);
}

lt_census_t *lt_census_take(PyTypeObject *census_type, int collect, lt_addrset_t *keep)
{
    census_walk_t cw;
    memset(&cw, 0, sizeof(cw));
    lt_ptrmap_init(&cw.index, &lt_page_alloc);
    lt_census_t *c = NULL;

    if (collect && lt_collect_now() < 0)
        goto error;
    double now = lt_monotonic();
    if (lt_heap_walk(census_visit, &cw, keep) < 0)
        goto error;

    c = PyObject_New(lt_census_t, census_type);
    if (c == NULL)
        goto error;
    c->time = now;
    c->largest_type = NULL;
    c->largest_bytes = cw.largest_bytes;
    if (cw.largest_bytes > 0 && cw.largest_pos < cw.nrecs)
        c->largest_type = Py_NewRef(cw.recs[cw.largest_pos].name);
    c->total_count = cw.total_count;
    c->total_bytes = cw.total_bytes;
    c->tracked_count = cw.tracked_count;
    c->nrows = 0;
    c->rows = PyMem_New(lt_census_row_t, cw.nrecs ? cw.nrecs : 1);
    if (c->rows == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (size_t i = 0; i < cw.nrecs; i++) {
        c->rows[i].name = cw.recs[i].name;
        cw.recs[i].name = NULL;     /* moved */
        c->rows[i].count = cw.recs[i].count;
        c->rows[i].bytes = cw.recs[i].bytes;
    }
    qsort(c->rows, cw.nrecs, sizeof(lt_census_row_t), row_cmp);
    /* Distinct types can share a name (a class redefined in a loop, the
     * same class made by a factory): one row per name. */
    Py_ssize_t n = 0;
    for (size_t i = 0; i < cw.nrecs; i++) {
        if (n > 0 && PyUnicode_Compare(c->rows[n - 1].name, c->rows[i].name) == 0) {
            c->rows[n - 1].count += c->rows[i].count;
            c->rows[n - 1].bytes += c->rows[i].bytes;
            Py_DECREF(c->rows[i].name);
        } else {
            c->rows[n++] = c->rows[i];
        }
    }
    c->nrows = n;
    census_walk_release(&cw);
    return c;

error:
    census_walk_release(&cw);
    Py_XDECREF(c);
    return NULL;
}

/* ---- Census ------------------------------------------------------------ */

static void census_dealloc(lt_census_t *c)
{
    PyTypeObject *tp = Py_TYPE(c);
    if (c->rows != NULL) {
        for (Py_ssize_t i = 0; i < c->nrows; i++)
            Py_DECREF(c->rows[i].name);
        PyMem_Free(c->rows);
    }
    Py_XDECREF(c->largest_type);
    PyObject_Free(c);
    Py_DECREF(tp);
}

/* The row of `name`, or NULL. */
static const lt_census_row_t *census_find(const lt_census_t *c, PyObject *name)
{
    Py_ssize_t lo = 0, hi = c->nrows;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        int cmp = PyUnicode_Compare(c->rows[mid].name, name);
        if (cmp == 0)
            return &c->rows[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static PyObject *census_types(lt_census_t *c, PyObject *unused)
{
    (void)unused;
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < c->nrows; i++) {
        PyObject *v = Py_BuildValue("(nn)", c->rows[i].count, c->rows[i].bytes);
        if (v == NULL || PyDict_SetItem(d, c->rows[i].name, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *name_arg(PyObject *arg)
{
    if (PyUnicode_Check(arg))
        return Py_NewRef(arg);
    if (PyType_Check(arg))
        return lt_type_qualname((PyTypeObject *)arg);
    PyErr_Format(PyExc_TypeError, "expected a type or a qualified type name, not %.100s", Py_TYPE(arg)->tp_name);
    return NULL;
}

static PyObject *census_get(lt_census_t *c, PyObject *arg)
{
    PyObject *name = name_arg(arg);
    if (name == NULL)
        return NULL;
    const lt_census_row_t *r = census_find(c, name);
    Py_DECREF(name);
    return r == NULL ? Py_BuildValue("(ii)", 0, 0) : Py_BuildValue("(nn)", r->count, r->bytes);
}

static int row_by_bytes_desc(const void *a, const void *b)
{
    const lt_census_row_t *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return PyUnicode_Compare(x->name, y->name);
}

static int row_by_count_desc(const void *a, const void *b)
{
    const lt_census_row_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return row_by_bytes_desc(a, b);
}

static PyObject *census_top(lt_census_t *c, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"n", "by", NULL};
    Py_ssize_t n = 10;
    const char *by = "bytes";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|ns:top", kwlist, &n, &by))
        return NULL;
    int (*cmp)(const void *, const void *);
    if (strcmp(by, "bytes") == 0)
        cmp = row_by_bytes_desc;
    else if (strcmp(by, "count") == 0)
        cmp = row_by_count_desc;
    else {
        PyErr_Format(PyExc_ValueError, "by must be 'bytes' or 'count', not '%s'", by);
        return NULL;
    }
    if (n < 0)
        n = 0;
    if (n > c->nrows)
        n = c->nrows;
    lt_census_row_t *sorted = PyMem_New(lt_census_row_t, c->nrows ? c->nrows : 1);
    if (sorted == NULL)
        return PyErr_NoMemory();
    memcpy(sorted, c->rows, (size_t)c->nrows * sizeof(*sorted));
    qsort(sorted, (size_t)c->nrows, sizeof(*sorted), cmp);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *t = Py_BuildValue("(Onn)", sorted[i].name, sorted[i].count, sorted[i].bytes);
        if (t == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, i, t);
    }
    PyMem_Free(sorted);
    return out;
}

typedef struct delta {
    PyObject *name;             /* borrowed from one of the censuses */
    Py_ssize_t dcount, dbytes, count, bytes;
} delta_t;

static int delta_cmp(const void *a, const void *b)
{
    const delta_t *x = a, *y = b;
    if (x->dbytes != y->dbytes)
        return x->dbytes < y->dbytes ? 1 : -1;
    if (x->dcount != y->dcount)
        return x->dcount < y->dcount ? 1 : -1;
    return PyUnicode_Compare(x->name, y->name);
}

static PyObject *census_diff(lt_census_t *c, PyObject *arg)
{
    lt_state_t *st = lt_state_of_type(Py_TYPE(c));
    if (st == NULL)
        return NULL;
    if (PyObject_TypeCheck(arg, st->checkpoint_type))
        arg = (PyObject *)((lt_checkpoint_t *)arg)->census;
    if (!PyObject_TypeCheck(arg, st->census_type)) {
        PyErr_Format(PyExc_TypeError, "diff() takes a Census or a Checkpoint, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    const lt_census_t *old = (const lt_census_t *)arg;
    size_t cap = (size_t)(c->nrows + old->nrows);
    delta_t *d = PyMem_New(delta_t, cap ? cap : 1);
    if (d == NULL)
        return PyErr_NoMemory();
    size_t nd = 0;
    Py_ssize_t i = 0, j = 0;
    while (i < c->nrows || j < old->nrows) {
        int cmp;
        if (i == c->nrows)
            cmp = 1;
        else if (j == old->nrows)
            cmp = -1;
        else
            cmp = PyUnicode_Compare(c->rows[i].name, old->rows[j].name);
        delta_t x;
        if (cmp == 0) {
            x = (delta_t){c->rows[i].name, c->rows[i].count - old->rows[j].count,
                          c->rows[i].bytes - old->rows[j].bytes, c->rows[i].count, c->rows[i].bytes};
            i++, j++;
        } else if (cmp < 0) {
            x = (delta_t){c->rows[i].name, c->rows[i].count, c->rows[i].bytes, c->rows[i].count, c->rows[i].bytes};
            i++;
        } else {
            x = (delta_t){old->rows[j].name, -old->rows[j].count, -old->rows[j].bytes, 0, 0};
            j++;
        }
        if (x.dcount != 0 || x.dbytes != 0)
            d[nd++] = x;
    }
    qsort(d, nd, sizeof(*d), delta_cmp);
    PyObject *out = PyList_New((Py_ssize_t)nd);
    for (size_t k = 0; out != NULL && k < nd; k++) {
        PyObject *t = PyStructSequence_New(st->type_delta_type);
        if (t == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyStructSequence_SET_ITEM(t, 0, Py_NewRef(d[k].name));
        PyObject *vals[4] = {PyLong_FromSsize_t(d[k].dcount), PyLong_FromSsize_t(d[k].dbytes),
                             PyLong_FromSsize_t(d[k].count), PyLong_FromSsize_t(d[k].bytes)};
        for (int v = 0; v < 4; v++)
            PyStructSequence_SET_ITEM(t, v + 1, vals[v]);
        PyList_SET_ITEM(out, (Py_ssize_t)k, t);
        if (!vals[0] || !vals[1] || !vals[2] || !vals[3])
            Py_CLEAR(out);
    }
    PyMem_Free(d);
    return out;
}

static Py_ssize_t census_len(lt_census_t *c)
{
    return c->nrows;
}

static int census_contains(lt_census_t *c, PyObject *arg)
{
    PyObject *name = name_arg(arg);
    if (name == NULL)
        return -1;
    int found = census_find(c, name) != NULL;
    Py_DECREF(name);
    return found;
}

static PyObject *census_repr(lt_census_t *c)
{
    return PyUnicode_FromFormat("<Census %zd objects, %zd bytes, %zd types>", c->total_count, c->total_bytes, c->nrows);
}

static PyMethodDef census_methods[] = {
    {"types", (PyCFunction)census_types, METH_NOARGS,
     "types() -> dict\n\nEvery type seen, by qualified name: {name: (count, bytes)}."},
    {"get", (PyCFunction)census_get, METH_O,
     "get(type_or_name) -> (count, bytes)\n\n(0, 0) when no object of that type was alive."},
    {"top", (PyCFunction)(void (*)(void))census_top, METH_VARARGS | METH_KEYWORDS,
     "top(n=10, by='bytes') -> [(name, count, bytes), ...]\n\nThe n largest types by 'bytes' or 'count'."},
    {"diff", (PyCFunction)census_diff, METH_O,
     "diff(older) -> [TypeDelta, ...]\n\nPer-type changes since an older Census or Checkpoint, largest byte\n"
     "growth first; types that did not change are left out."},
    {NULL, NULL, 0, NULL},
};

static PyObject *census_get_largest(lt_census_t *c, void *unused)
{
    (void)unused;
    if (c->largest_type == NULL)
        Py_RETURN_NONE;
    return Py_BuildValue("(On)", c->largest_type, c->largest_bytes);
}

static PyGetSetDef census_getset[] = {
    {"largest", (getter)census_get_largest, NULL, "(type name, bytes) of the largest single object, or None", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef census_members[] = {
    {"time", T_DOUBLE, offsetof(lt_census_t, time), READONLY, "time.monotonic() when the census was taken"},
    {"total_count", T_PYSSIZET, offsetof(lt_census_t, total_count), READONLY, "live objects counted"},
    {"total_bytes", T_PYSSIZET, offsetof(lt_census_t, total_bytes), READONLY, "their shallow bytes (sys.getsizeof)"},
    {"tracked_count", T_PYSSIZET, offsetof(lt_census_t, tracked_count), READONLY, "of which the collector tracks"},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot census_slots[] = {
    {Py_tp_dealloc, census_dealloc},
    {Py_tp_methods, census_methods},
    {Py_tp_members, census_members},
    {Py_tp_getset, census_getset},
    {Py_tp_repr, census_repr},
    {Py_sq_length, census_len},
    {Py_sq_contains, census_contains},
    {Py_tp_doc, "A heap census: count and shallow bytes of every live object, per qualified type name.\n"
                "Made by leaktrace.census(); immutable."},
    {0, NULL},
};

static PyType_Spec census_spec = {
    "leaktrace._core.Census", sizeof(lt_census_t), 0,
    Py_TPFLAGS_DEFAULT | LT_PY_TPFLAGS_NO_INSTANCES,
    census_slots,
};

/* ---- Checkpoint -------------------------------------------------------- */

static PyObject *checkpoint_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"collect", NULL};
    int collect = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$p:Checkpoint", kwlist, &collect))
        return NULL;
    lt_state_t *st = lt_state_of_type(type);
    if (st == NULL)
        return NULL;
    lt_checkpoint_t *cp = (lt_checkpoint_t *)type->tp_alloc(type, 0);
    if (cp == NULL)
        return NULL;
    lt_addrset_init(&cp->alive, &lt_page_alloc);
    cp->census = lt_census_take(st->census_type, collect, &cp->alive);
    if (cp->census == NULL) {
        Py_DECREF(cp);
        return NULL;
    }
    return (PyObject *)cp;
}

static void checkpoint_dealloc(lt_checkpoint_t *cp)
{
    PyTypeObject *tp = Py_TYPE(cp);
    Py_XDECREF(cp->census);
    lt_addrset_clear(&cp->alive);
    tp->tp_free(cp);
    Py_DECREF(tp);
}

static PyObject *checkpoint_get_census(lt_checkpoint_t *cp, void *unused)
{
    (void)unused;
    return Py_NewRef((PyObject *)cp->census);
}

static PyObject *checkpoint_get_time(lt_checkpoint_t *cp, void *unused)
{
    (void)unused;
    return PyFloat_FromDouble(cp->census->time);
}

static PyObject *checkpoint_get_footprint(lt_checkpoint_t *cp, void *unused)
{
    (void)unused;
    return PyLong_FromSize_t(lt_addrset_footprint(&cp->alive));
}

static Py_ssize_t checkpoint_len(lt_checkpoint_t *cp)
{
    return (Py_ssize_t)cp->alive.len;
}

static PyObject *checkpoint_repr(lt_checkpoint_t *cp)
{
    return PyUnicode_FromFormat("<Checkpoint %zd objects, %zd bytes>", cp->census->total_count, cp->census->total_bytes);
}

static PyObject *checkpoint_diff(lt_checkpoint_t *cp, PyObject *arg)
{
    return census_diff(cp->census, arg);
}

static PyGetSetDef checkpoint_getset[] = {
    {"census", (getter)checkpoint_get_census, NULL, "the Census taken with the checkpoint", NULL},
    {"time", (getter)checkpoint_get_time, NULL, "time.monotonic() when the checkpoint was taken", NULL},
    {"footprint", (getter)checkpoint_get_footprint, NULL, "bytes leaktrace holds to remember the live objects", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef checkpoint_methods[] = {
    {"diff", (PyCFunction)checkpoint_diff, METH_O, "diff(older) -> [TypeDelta, ...]; as Census.diff."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot checkpoint_slots[] = {
    {Py_tp_new, checkpoint_new},
    {Py_tp_dealloc, checkpoint_dealloc},
    {Py_tp_getset, checkpoint_getset},
    {Py_tp_methods, checkpoint_methods},
    {Py_tp_repr, checkpoint_repr},
    {Py_sq_length, checkpoint_len},
    {Py_tp_doc, "Checkpoint(*, collect=False)\n\nA census plus the identity of every live object, so that\n"
                "new_objects(type, since=checkpoint) can tell which objects are new. Holds no\n"
                "reference to the objects; len() is how many it remembers."},
    {0, NULL},
};

static PyType_Spec checkpoint_spec = {
    "leaktrace._core.Checkpoint", sizeof(lt_checkpoint_t), 0, Py_TPFLAGS_DEFAULT, checkpoint_slots,
};

/* ---- census() and new_objects() ---------------------------------------- */

static PyObject *census_fn(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"collect", NULL};
    int collect = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$p:census", kwlist, &collect))
        return NULL;
    return (PyObject *)lt_census_take(lt_state(module)->census_type, collect, NULL);
}

typedef struct new_objects_walk {
    lt_type_match_t match;
    const lt_addrset_t *alive;
    const lt_addrset_t *until;  /* if not NULL, only objects alive then */
    PyObject *out;              /* the result list, excluded from matches */
    Py_ssize_t limit;
} new_objects_walk_t;

static int new_objects_visit(PyObject *o, int tracked, void *ctx)
{
    (void)tracked;
    new_objects_walk_t *w = ctx;
    int m = lt_type_match(&w->match, Py_TYPE(o));
    if (m <= 0)
        return m;
    if (o == w->out || lt_addrset_has(w->alive, o) || (w->until != NULL && !lt_addrset_has(w->until, o)))
        return 0;
    /* Appending grows the list's item array through PyMem: it never
     * allocates a tracked object, so the walk stays valid. */
    if (PyList_Append(w->out, o) < 0)
        return -1;
    return PyList_GET_SIZE(w->out) >= w->limit ? 1 : 0;
}

static PyObject *new_objects_fn(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"type", "since", "limit", "until", NULL};
    PyObject *type_arg, *since = NULL, *until = Py_None;
    Py_ssize_t limit = 100;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OnO:new_objects", kwlist, &type_arg, &since, &limit, &until))
        return NULL;
    lt_state_t *st = lt_state(module);
    if (since == NULL) {
        PyErr_SetString(PyExc_TypeError, "new_objects() needs since=<Checkpoint>");
        return NULL;
    }
    if (!PyObject_TypeCheck(since, st->checkpoint_type)) {
        PyErr_Format(PyExc_TypeError, "since must be a leaktrace.Checkpoint, not %.100s", Py_TYPE(since)->tp_name);
        return NULL;
    }
    if (until != Py_None && !PyObject_TypeCheck(until, st->checkpoint_type)) {
        PyErr_Format(PyExc_TypeError, "until must be a leaktrace.Checkpoint, not %.100s", Py_TYPE(until)->tp_name);
        return NULL;
    }
    new_objects_walk_t w;
    memset(&w, 0, sizeof(w));
    if (lt_type_match_init(&w.match, type_arg, "type") < 0)
        return NULL;
    if (limit <= 0) {
        lt_type_match_clear(&w.match);
        return PyList_New(0);
    }
    w.alive = &((lt_checkpoint_t *)since)->alive;
    if (until != Py_None)
        w.until = &((lt_checkpoint_t *)until)->alive;
    w.limit = limit;
    /* Collection is paused before the result list exists: making it must
     * not start a collection that would run the program's finalizers. */
    int gc_was = lt_gc_pause();
    if (gc_was < 0) {
        lt_type_match_clear(&w.match);
        return NULL;
    }
    w.out = PyList_New(0);
    if (w.out != NULL && lt_heap_walk(new_objects_visit, &w, NULL) < 0)
        Py_CLEAR(w.out);
    lt_gc_resume(gc_was);
    lt_type_match_clear(&w.match);
    return w.out;
}

static PyObject *sizeof_fn(PyObject *module, PyObject *o)
{
    (void)module;
    return PyLong_FromSsize_t(lt_objsize(o));
}

static PyMethodDef census_functions[] = {
    {"sizeof", sizeof_fn, METH_O,
     "sizeof(obj) -> int\n\n"
     "sys.getsizeof(obj) as the census counts it: a __sizeof__ written in Python is\n"
     "never called (the size then comes from the type's layout)."},
    {"census", (PyCFunction)(void (*)(void))census_fn, METH_VARARGS | METH_KEYWORDS,
     "census(*, collect=False) -> Census\n\n"
     "Counts every live object (gc-tracked ones and the untracked objects they\n"
     "reference) by qualified type name, with shallow sizes as sys.getsizeof\n"
     "gives them. Runs no code of the program's classes. collect=True runs a full\n"
     "collection first; otherwise automatic collection is paused for the walk."},
    {"new_objects", (PyCFunction)(void (*)(void))new_objects_fn, METH_VARARGS | METH_KEYWORDS,
     "new_objects(type, *, since, limit=100, until=None) -> list\n\n"
     "Up to `limit` live objects of `type` (a type, matched exactly, or a qualified\n"
     "name such as 'billing.Invoice') that were not alive at Checkpoint `since`\n"
     "(and, with `until`, were alive at that later Checkpoint).\n"
     "An object allocated at the address of one that died since the checkpoint\n"
     "is taken for an old one, as objgraph.get_new_ids does."},
    {NULL, NULL, 0, NULL},
};

static PyStructSequence_Field type_delta_fields[] = {
    {"type", "qualified type name"},
    {"count_delta", "change in the number of live objects"},
    {"bytes_delta", "change in their shallow bytes"},
    {"count", "live objects now"},
    {"bytes", "their shallow bytes now"},
    {NULL, NULL},
};

static PyStructSequence_Desc type_delta_desc = {
    "leaktrace._core.TypeDelta", "How one type changed between two censuses.", type_delta_fields, 5,
};

int lt_census_exec(PyObject *module)
{
    lt_state_t *st = lt_state(module);
    st->census_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &census_spec, NULL);
    if (st->census_type == NULL)
        return -1;
    st->checkpoint_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &checkpoint_spec, NULL);
    if (st->checkpoint_type == NULL)
        return -1;
    st->type_delta_type = PyStructSequence_NewType(&type_delta_desc);
    if (st->type_delta_type == NULL)
        return -1;
    if (PyModule_AddObject(module, "Census", Py_NewRef((PyObject *)st->census_type)) < 0 ||
        PyModule_AddObject(module, "Checkpoint", Py_NewRef((PyObject *)st->checkpoint_type)) < 0 ||
        PyModule_AddObject(module, "TypeDelta", Py_NewRef((PyObject *)st->type_delta_type)) < 0)
        return -1;
    return PyModule_AddFunctions(module, census_functions);
}
