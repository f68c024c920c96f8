/* Path elements and node names read from the objects' storage. */
#include "labels.h"

#include "frames.h"
#include "typename.h"

#include <string.h>

static int put(lt_strbuf_t *out, const char *s)
{
    if (lt_strbuf_puts(out, s) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int put_type(lt_strbuf_t *out, PyTypeObject *tp)
{
    char name[200];
    lt_type_qualname_buf(tp, name, sizeof(name));
    return put(out, name);
}

int lt_labels_put_str(lt_strbuf_t *out, PyObject *s)
{
    if (!PyUnicode_Check(s))
        return put(out, "?");
    if (PyUnicode_IS_ASCII(s)) {
        /* Compact ASCII strings are their own UTF-8: no copy, no cache. */
        if (lt_strbuf_append(out, (const char *)PyUnicode_DATA(s), (size_t)PyUnicode_GET_LENGTH(s)) < 0) {
            PyErr_NoMemory();
            return -1;
        }
        return 0;
    }
    /* A temporary bytes object rather than PyUnicode_AsUTF8, which would
     * attach a UTF-8 copy to the program's string for good. */
    PyObject *b = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
    if (b == NULL)
        return -1;
    int rc = 0;
    if (lt_strbuf_append(out, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b)) < 0) {
        PyErr_NoMemory();
        rc = -1;
    }
    Py_DECREF(b);
    return rc;
}

/* Whether str `s` (any str) is exactly the ASCII text `name`. */
static int str_is(PyObject *s, const char *name)
{
    if (!PyUnicode_CheckExact(s) || !PyUnicode_IS_ASCII(s))
        return 0;
    size_t len = strlen(name);
    return (size_t)PyUnicode_GET_LENGTH(s) == len && memcmp(PyUnicode_DATA(s), name, len) == 0;
}

PyObject *lt_labels_dict_get(PyObject *d, const char *name)
{
    if (d == NULL || !PyDict_Check(d))
        return NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v))
        if (str_is(k, name))
            return v;
    return NULL;
}

PyObject *lt_labels_attr_get(PyObject *o, const char *name)
{
    PyObject *v = lt_labels_dict_get(lt_frames_instance_dict(o), name);
    if (v != NULL)
        return v;
    PyObject *k;
    for (Py_ssize_t i = 0; lt_frames_inline_attr(o, i, &k, &v); i++)
        if (k != NULL && v != NULL && str_is(k, name))
            return v;
    return NULL;
}

int lt_labels_is_own_dict(PyObject *owner, PyObject *d)
{
    if (PyModule_Check(owner))
        return PyModule_GetDict(owner) == d;
    if (PyType_Check(owner))
        return lt_py_type_dict((PyTypeObject *)owner) == d;
    return lt_frames_instance_dict(owner) == d;
}

/* ---- dict keys ------------------------------------------------------- */

/* Appends repr(key) for an exact str or a 64-bit exact int (their repr is
 * the builtin one, C code only), cut to LT_LABEL_MAX_KEY characters;
 * returns 1 when done, 0 for any other key (nothing appended), -1 on
 * error. */
static int put_key_repr(lt_strbuf_t *out, PyObject *key)
{
    PyObject *r;
    int long_key = 0;
    if (PyLong_CheckExact(key)) {
        /* Beyond 64 bits an int is shown by its type: the decimal text of
         * a huge int costs quadratic time before 3.12. */
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(key, &overflow);
        if (overflow != 0 || (v == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 0;
        }
        r = PyUnicode_FromFormat("%lld", v);
    } else if (PyUnicode_CheckExact(key)) {
        /* Only the start of a long key is shown: repr a slice of it. */
        long_key = PyUnicode_GET_LENGTH(key) > 4 * LT_LABEL_MAX_KEY;
        PyObject *part = long_key ? PyUnicode_Substring(key, 0, 4 * LT_LABEL_MAX_KEY) : Py_NewRef(key);
        r = part != NULL ? PyObject_Repr(part) : NULL;
        Py_XDECREF(part);
    } else {
        return 0;
    }
    if (r == NULL)
        return -1;
    Py_ssize_t len = PyUnicode_GET_LENGTH(r);
    if (len > LT_LABEL_MAX_KEY || long_key) {
        /* Keep the closing quote of a str so the cut reads as a string. */
        int quoted = PyUnicode_CheckExact(key);
        PyObject *head = PyUnicode_Substring(r, 0, LT_LABEL_MAX_KEY - 3 - quoted);
        PyObject *cut = NULL;
        if (head != NULL && quoted)
            cut = PyUnicode_FromFormat("%U...%c", head, (int)PyUnicode_READ_CHAR(r, len - 1));
        else if (head != NULL)
            cut = PyUnicode_FromFormat("%U...", head);
        Py_XDECREF(head);
        Py_DECREF(r);
        if (cut == NULL)
            return -1;
        r = cut;
    }
    int rc = lt_labels_put_str(out, r);
    Py_DECREF(r);
    return rc < 0 ? -1 : 1;
}

/* Appends the label of a dict entry whose value (or key) is `child`:
 * ".name" when the dict is an owner's __dict__ (as_attr) and the key a str,
 * else "[key]", or "key ..." when child is the key. Returns 1 when child was
 * found, 0 when not (nothing appended), -1 on error. */
static int put_dict_entry(lt_strbuf_t *out, PyObject *d, PyObject *child, int as_attr)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (v == child) {
            if (as_attr && PyUnicode_CheckExact(k))
                return put(out, ".") < 0 || lt_labels_put_str(out, k) < 0 ? -1 : 1;
            if (put(out, "[") < 0)
                return -1;
            int rc = put_key_repr(out, k);
            if (rc == 0)
                rc = put(out, "<") < 0 || put_type(out, Py_TYPE(k)) < 0 || put(out, " key>") < 0 ? -1 : 1;
            return rc < 0 || put(out, "]") < 0 ? -1 : 1;
        }
        if (k == child) {
            if (put(out, "key ") < 0)
                return -1;
            int rc = put_key_repr(out, k);
            if (rc == 0)
                rc = put(out, "<") < 0 || put_type(out, Py_TYPE(k)) < 0 || put(out, ">") < 0 ? -1 : 1;
            return rc < 0 ? -1 : 1;
        }
    }
    return 0;
}

/* ---- node names -------------------------------------------------------- */

/* Appends " name" when o keeps a str __qualname__ or __name__ of its own
 * (functools wrappers, partials given a name...). */
static int put_own_name(lt_strbuf_t *out, PyObject *o)
{
    PyObject *name = lt_labels_attr_get(o, "__qualname__");
    if (name == NULL || !PyUnicode_CheckExact(name))
        name = lt_labels_attr_get(o, "__name__");
    if (name == NULL || !PyUnicode_CheckExact(name))
        return 0;
    return put(out, " ") < 0 || lt_labels_put_str(out, name) < 0 ? -1 : 0;
}

static int put_code_name(lt_strbuf_t *out, PyCodeObject *co)
{
    if (co == NULL || co->co_name == NULL)
        return put(out, "?");
    return lt_labels_put_str(out, co->co_name);
}

static int put_function_name(lt_strbuf_t *out, PyObject *f)
{
    PyFunctionObject *fn = (PyFunctionObject *)f;
    if (fn->func_module != NULL && PyUnicode_CheckExact(fn->func_module) &&
        (lt_labels_put_str(out, fn->func_module) < 0 || put(out, ".") < 0))
        return -1;
    PyObject *q = fn->func_qualname != NULL ? fn->func_qualname : fn->func_name;
    return q != NULL ? lt_labels_put_str(out, q) : put(out, "?");
}

static int is_genlike(PyObject *o)
{
    return PyGen_Check(o) || PyCoro_CheckExact(o) || PyAsyncGen_CheckExact(o);
}

int lt_labels_node(lt_strbuf_t *out, PyObject *o)
{
    char count[48];
    if (PyModule_Check(o)) {
        PyObject *name = lt_labels_dict_get(PyModule_GetDict(o), "__name__");
        return put(out, "module ") < 0 ? -1 : name != NULL && PyUnicode_Check(name) ? lt_labels_put_str(out, name) : put(out, "?");
    }
    if (PyType_Check(o))
        return put(out, "class ") < 0 ? -1 : put_type(out, (PyTypeObject *)o);
    if (PyFunction_Check(o))
        return put(out, "function ") < 0 ? -1 : put_function_name(out, o);
    if (PyMethod_Check(o)) {
        PyObject *f = PyMethod_GET_FUNCTION(o);
        if (put(out, "method ") < 0)
            return -1;
        return PyFunction_Check(f) ? put_function_name(out, f) : put_type(out, Py_TYPE(f));
    }
    if (PyCFunction_Check(o)) {
        PyMethodDef *ml = ((PyCFunctionObject *)o)->m_ml;
        return put(out, "builtin ") < 0 ? -1 : put(out, ml != NULL && ml->ml_name != NULL ? ml->ml_name : "?");
    }
    if (PyCode_Check(o))
        return put(out, "code ") < 0 ? -1 : put_code_name(out, (PyCodeObject *)o);
    if (lt_frames_is_frame(o) || is_genlike(o)) {
        if (put(out, lt_frames_is_frame(o) ? "frame " : "") < 0)
            return -1;
        if (!lt_frames_is_frame(o) && (put_type(out, Py_TYPE(o)) < 0 || put(out, " ") < 0))
            return -1;
        return put_code_name(out, lt_frames_object_code(o)) < 0 ? -1 : put(out, "()");
    }
    if (PyCell_Check(o))
        return put(out, "cell");
    if (put_type(out, Py_TYPE(o)) < 0)
        return -1;
    Py_ssize_t n = -1;
    if (PyDict_Check(o))
        n = PyDict_GET_SIZE(o);
    else if (PyList_Check(o))
        n = PyList_GET_SIZE(o);
    else if (PyTuple_Check(o))
        n = PyTuple_GET_SIZE(o);
    else if (PyAnySet_Check(o))
        n = PySet_GET_SIZE(o);
    if (n >= 0) {
        snprintf(count, sizeof(count), " (%zd item%s)", n, n == 1 ? "" : "s");
        return put(out, count);
    }
    return put_own_name(out, o);
}

/* ---- one reference ------------------------------------------------------ */

struct local_find {
    PyObject *child;            /* the value looked for */
    int by_cell;                /* match the cell rather than the value */
    PyObject *name;             /* out: the variable's name */
};

static int local_match(const lt_frame_local_t *local, void *ctx)
{
    struct local_find *lf = ctx;
    PyObject *held = lf->by_cell ? local->cell : (local->cell != NULL ? local->cell : local->value);
    if (held != lf->child)
        return 0;
    lf->name = local->name;
    return 1;
}

/* "frame f() local 'x'" when frame or generator o holds child in a local
 * (by_cell: in the cell of a cell variable). 1 found, 0 not, -1 error. */
static int put_frame_local(lt_strbuf_t *out, PyObject *o, PyObject *child, int by_cell)
{
    struct local_find lf = {child, by_cell, NULL};
    PyCodeObject *co;
    if (lt_frames_object_locals(o, &co, local_match, &lf) != 1)
        return 0;
    if (put(out, "frame ") < 0 || put_code_name(out, co) < 0 || put(out, "() local '") < 0 ||
        lt_labels_put_str(out, lf.name) < 0 || put(out, "'") < 0)
        return -1;
    return 1;
}

/* ".name" for a T_OBJECT member (__slots__ and the members of C types,
 * such as a bound method's __self__) of any class in o's MRO whose slot
 * holds child. The slot is read at its offset, as the member descriptor
 * would, without calling the descriptor. */
static const char *member_name(PyObject *o, PyObject *child)
{
    PyTypeObject *tp = Py_TYPE(o);
    PyObject *mro = tp->tp_mro;
    Py_ssize_t n = mro != NULL && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTypeObject *t = mro != NULL && PyTuple_Check(mro) ? (PyTypeObject *)PyTuple_GET_ITEM(mro, i) : tp;
        if (!PyType_Check(t))
            continue;
        for (PyMemberDef *m = t->tp_members; m != NULL && m->name != NULL; m++)
            if ((m->type == T_OBJECT || m->type == T_OBJECT_EX) && m->offset > 0 &&
                *(PyObject **)((char *)o + m->offset) == child)
                return m->name;
    }
    return NULL;
}

/* The attribute of a well-known builtin object that holds child, or NULL.
 * Fields read straight from the public structs. */
static const char *builtin_field(PyObject *a, PyObject *b)
{
    if (PyType_Check(a)) {
        PyTypeObject *tp = (PyTypeObject *)a;
        if (b == lt_py_type_dict(tp))
            return "__dict__";
        if (b == tp->tp_bases)
            return "__bases__";
        if (b == tp->tp_mro)
            return "__mro__";
        if (b == (PyObject *)tp->tp_base)
            return "__base__";
        if (PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE)) {
            PyHeapTypeObject *ht = (PyHeapTypeObject *)tp;
            if (b == ht->ht_slots)
                return "__slots__";
            if (b == ht->ht_qualname)
                return "__qualname__";
            if (b == ht->ht_name)
                return "__name__";
        }
        return NULL;
    }
    if (PyFunction_Check(a)) {
        PyFunctionObject *f = (PyFunctionObject *)a;
        if (b == f->func_code)
            return "__code__";
        if (b == f->func_globals)
            return "__globals__";
        if (b == f->func_defaults)
            return "__defaults__";
        if (b == f->func_kwdefaults)
            return "__kwdefaults__";
        if (b == f->func_closure)
            return "__closure__";
        if (b == f->func_dict)
            return "__dict__";
        if (b == f->func_annotations)
            return "__annotations__";
        if (b == f->func_doc)
            return "__doc__";
        if (b == f->func_module)
            return "__module__";
        if (b == f->func_name)
            return "__name__";
        if (b == f->func_qualname)
            return "__qualname__";
        return NULL;
    }
    if (PyMethod_Check(a)) {
        if (b == PyMethod_GET_FUNCTION(a))
            return "__func__";
        if (b == PyMethod_GET_SELF(a))
            return "__self__";
        return NULL;
    }
    if (PyCell_Check(a))
        return b == PyCell_GET(a) ? "cell_contents" : NULL;
    if (PyCFunction_Check(a)) {
        PyCFunctionObject *f = (PyCFunctionObject *)a;
        if (b == f->m_self)
            return "__self__";
        if (b == f->m_module)
            return "__module__";
        return NULL;
    }
    if (PyExceptionInstance_Check(a)) {
        PyBaseExceptionObject *e = (PyBaseExceptionObject *)a;
        if (b == e->traceback)
            return "__traceback__";
        /* `raise X from Y` in `except Y` sets both: the cause is what the
         * program wrote. */
        if (b == e->cause)
            return "__cause__";
        if (b == e->context)
            return "__context__";
        if (b == e->args)
            return "args";
        if (b == e->dict)
            return "__dict__";
        if (b == lt_py_exc_notes(a))
            return "__notes__";
        return NULL;
    }
    if (PyTraceBack_Check(a)) {
        PyTracebackObject *tb = (PyTracebackObject *)a;
        if (b == (PyObject *)tb->tb_next)
            return "tb_next";
        if (b == (PyObject *)tb->tb_frame)
            return "tb_frame";
        return NULL;
    }
    if (PyModule_Check(a))
        return b == PyModule_GetDict(a) ? "__dict__" : NULL;
    if (lt_frames_is_frame(a) || is_genlike(a))
        return lt_frames_field(a, b);
    return NULL;
}

/* The position of `b` among the items of a collections.deque (or an
 * instance of a subclass), found with the deque type's own tp_traverse,
 * which visits the items left to right; -1 when b is not an item. The
 * deque's storage is private to _collections, so its traversal is the
 * only way to read it; it is C and runs no code of the program. */
typedef struct deque_seek {
    PyObject *target, *type;
    Py_ssize_t seen, found;
    int skip_type;              /* the first visit may be the (heap) type */
} deque_seek_t;

static int deque_seek_visit(PyObject *o, void *arg)
{
    deque_seek_t *d = arg;
    if (d->skip_type) {
        d->skip_type = 0;
        if (o == d->type)
            return 0;
    }
    if (o == d->target) {
        d->found = d->seen;
        return 1;
    }
    d->seen++;
    return 0;
}

static Py_ssize_t deque_index(PyObject *a, PyObject *b)
{
    PyObject *mro = Py_TYPE(a)->tp_mro;
    for (Py_ssize_t i = 0; mro != NULL && PyTuple_Check(mro) && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (strcmp(t->tp_name, "collections.deque") != 0)
            continue;
        if (t->tp_traverse == NULL)
            return -1;
        /* A heap type's traverse visits the object's type first. */
        deque_seek_t d = {b, (PyObject *)Py_TYPE(a), 0, -1, (t->tp_flags & Py_TPFLAGS_HEAPTYPE) != 0};
        t->tp_traverse(a, deque_seek_visit, &d);
        return d.found;
    }
    return -1;
}

static int put_attr(lt_strbuf_t *out, const char *name)
{
    return put(out, ".") < 0 || put(out, name) < 0 ? -1 : 0;
}

/* Appends the element for the single reference a -> b. */
static int put_edge(lt_strbuf_t *out, PyObject *a, PyObject *b)
{
    int rc;
    if (PyDict_Check(a) && (rc = put_dict_entry(out, a, b, 0)) != 0)
        return rc < 0 ? -1 : 0;
    if (PyList_Check(a) || PyTuple_Check(a)) {
        Py_ssize_t n = PyList_Check(a) ? PyList_GET_SIZE(a) : PyTuple_GET_SIZE(a);
        PyObject **items = PyList_Check(a) ? ((PyListObject *)a)->ob_item : ((PyTupleObject *)a)->ob_item;
        for (Py_ssize_t i = 0; i < n; i++)
            if (items[i] == b) {
                char idx[32];
                snprintf(idx, sizeof(idx), "[%zd]", i);
                return put(out, idx);
            }
    }
    Py_ssize_t di = deque_index(a, b);
    if (di >= 0) {
        char idx[32];
        snprintf(idx, sizeof(idx), "[%zd]", di);
        return put(out, idx);
    }
    const char *field = builtin_field(a, b);
    if (field != NULL)
        return put_attr(out, field);
    if ((lt_frames_is_frame(a) || is_genlike(a))) {
        if ((rc = put_frame_local(out, a, b, 0)) != 0)
            return rc < 0 ? -1 : 0;
        if (lt_frames_object_stack_has(a, b)) {
            PyCodeObject *co = lt_frames_object_code(a);
            return put(out, "frame ") < 0 || put_code_name(out, co) < 0 || put(out, "() value stack") < 0 ? -1 : 0;
        }
    }
    PyObject *own = lt_frames_instance_dict(a);
    if (own != NULL && own == b)
        return put_attr(out, "__dict__");
    PyObject *k, *v;
    for (Py_ssize_t i = 0; lt_frames_inline_attr(a, i, &k, &v); i++)
        if (v == b && k != NULL && PyUnicode_CheckExact(k))
            return put(out, ".") < 0 ? -1 : lt_labels_put_str(out, k);
    const char *member = member_name(a, b);
    if (member != NULL)
        return put_attr(out, member);
    if (PyAnySet_Check(a))
        return put(out, "{...} element");
    /* A reference inside a C object that has no attribute name. */
    return put(out, "<") < 0 || lt_labels_node(out, a) < 0 ? -1 : put(out, ">");
}

int lt_labels_step(lt_strbuf_t *out, PyObject *const *chain, size_t n, size_t i)
{
    if (i + 1 >= n)
        return 0;
    PyObject *a = chain[i], *b = chain[i + 1];
    PyObject *c = i + 2 < n ? chain[i + 2] : NULL;
    PyObject *d = i + 3 < n ? chain[i + 3] : NULL;

    /* An owner's __dict__ and the entry in it are one attribute. */
    if (c != NULL && PyDict_Check(b) && lt_labels_is_own_dict(a, b)) {
        int rc = put_dict_entry(out, b, c, 1);
        if (rc != 0)
            return rc < 0 ? -1 : 2;
    }
    /* A function's closure variable: __closure__[k].cell_contents. */
    if (PyFunction_Check(a) && c != NULL && d != NULL && b == ((PyFunctionObject *)a)->func_closure &&
        PyTuple_Check(b) && PyCell_Check(c) && PyCell_GET(c) == d) {
        PyObject *code = ((PyFunctionObject *)a)->func_code;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(b); k++) {
            PyObject *name = PyTuple_GET_ITEM(b, k) == c && PyCode_Check(code)
                                 ? lt_frames_code_freevar((PyCodeObject *)code, k) : NULL;
            if (name != NULL)
                return put(out, "cell '") < 0 || lt_labels_put_str(out, name) < 0 || put(out, "'") < 0 ? -1 : 3;
        }
    }
    /* A frame's cell variable: the cell and its content are the local. */
    if ((lt_frames_is_frame(a) || is_genlike(a)) && c != NULL && PyCell_Check(b) && PyCell_GET(b) == c) {
        int rc = put_frame_local(out, a, b, 1);
        if (rc != 0)
            return rc < 0 ? -1 : 2;
    }
    return put_edge(out, a, b) < 0 ? -1 : 1;
}
