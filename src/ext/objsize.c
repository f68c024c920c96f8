/* getsizeof semantics for the census. */
#include "objsize.h"

#include "safeget.h"

/* The C __sizeof__ that applies to instances of tp: the first one in the
 * MRO that is a C method descriptor of a base of tp. A __sizeof__ written in
 * Python is skipped (never called; its base's C method answers instead), and
 * so is a C descriptor borrowed from an unrelated type (calling it on tp's
 * instances would read them as the wrong layout). NULL when only
 * object.__sizeof__ or nothing applies. */
static PyMethodDescrObject *c_sizeof_of(PyTypeObject *tp)
{
    PyObject *mro = tp->tp_mro;
    if (mro == NULL || !PyTuple_Check(mro))
        return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *base = PyTuple_GET_ITEM(mro, i);
        if (!PyType_Check(base))
            continue;
        PyObject *d = lt_dict_get_ascii(lt_py_type_dict((PyTypeObject *)base), "__sizeof__");
        if (d == NULL || !Py_IS_TYPE(d, &PyMethodDescr_Type))
            continue;
        PyMethodDescrObject *md = (PyMethodDescrObject *)d;
        if (md->d_common.d_type == NULL || !PyType_IsSubtype(tp, md->d_common.d_type))
            continue;
        return md->d_common.d_type == &PyBaseObject_Type ? NULL : md;
    }
    return NULL;
}

void lt_sizer_init(lt_sizer_t *s, PyTypeObject *tp)
{
    s->kind = LT_SIZE_LAYOUT;
    s->c_sizeof = NULL;
    /* object.__sizeof__ is the layout formula in every supported version
     * (tests/python/unit/test_census.py checks sys.getsizeof parity on
     * each), so it is computed, not called. */
    PyMethodDescrObject *md = c_sizeof_of(tp);
    if (md == NULL)
        return;
    PyMethodDef *def = md->d_method;
    if (def == NULL || (def->ml_flags & (METH_VARARGS | METH_KEYWORDS | METH_O | METH_NOARGS | METH_FASTCALL)) != METH_NOARGS)
        return;
    s->c_sizeof = def->ml_meth;
    if (tp == &PyUnicode_Type)
        s->kind = LT_SIZE_STR;
    else if (tp == &PyLong_Type)
        s->kind = LT_SIZE_INT;
    else if (tp == &PyDict_Type && LT_PY_HAVE_DICT_SIZEOF)
        s->kind = LT_SIZE_DICT;
    else
        s->kind = LT_SIZE_CALL;
}

static Py_ssize_t layout_size(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    Py_ssize_t size = tp->tp_basicsize;
    if (tp->tp_itemsize > 0) {
        Py_ssize_t n = Py_SIZE(o);
        size += (n < 0 ? -n : n) * tp->tp_itemsize;
    }
    return size;
}

static Py_ssize_t call_sizeof(const lt_sizer_t *s, PyObject *o)
{
    Py_ssize_t size = -1;
    PyObject *r = s->c_sizeof(o, NULL);
    if (r != NULL) {
        size = PyLong_AsSsize_t(r);
        Py_DECREF(r);
    }
    if (size < 0) {
        PyErr_Clear();
        size = layout_size(o);
    }
    return size;
}

Py_ssize_t lt_sizer_size(const lt_sizer_t *s, PyObject *o)
{
    Py_ssize_t size;
    switch (s->kind) {
    case LT_SIZE_INT:
        size = lt_py_int_sizeof(o);
        break;
    case LT_SIZE_STR:
        size = lt_py_str_sizeof(o);
        if (size < 0)
            size = call_sizeof(s, o);
        break;
    case LT_SIZE_DICT:
        size = lt_py_dict_sizeof(o);
        break;
    case LT_SIZE_CALL:
        size = call_sizeof(s, o);
        break;
    default:
        size = layout_size(o);
        break;
    }
    return size + lt_py_sizeof_extra(o);
}

Py_ssize_t lt_objsize(PyObject *o)
{
    lt_sizer_t s;
    lt_sizer_init(&s, Py_TYPE(o));
    return lt_sizer_size(&s, o);
}
