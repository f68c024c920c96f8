/* getsizeof semantics for the census. */
#include "objsize.h"

/* The interned name "__sizeof__". Protected by the GIL. */
static PyObject *sizeof_name;

void lt_sizer_init(lt_sizer_t *s, PyTypeObject *tp)
{
    s->kind = LT_SIZE_LAYOUT;
    s->c_sizeof = NULL;
    if (sizeof_name == NULL) {
        sizeof_name = PyUnicode_InternFromString("__sizeof__");
        if (sizeof_name == NULL) {
            PyErr_Clear();
            return;
        }
    }
    /* _PyType_Lookup walks the MRO's dicts and returns a borrowed reference
     * without calling anything; it never raises. A __sizeof__ that is not
     * a C method descriptor was written in Python: never called. */
    PyObject *descr = _PyType_Lookup(tp, sizeof_name);
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMethodDescr_Type))
        return;
    PyMethodDescrObject *md = (PyMethodDescrObject *)descr;
    /* object.__sizeof__ is the layout formula in every supported version
     * (tests/python/unit/test_census.py checks sys.getsizeof parity on
     * each), so it is computed, not called. */
    if (md->d_common.d_type == &PyBaseObject_Type)
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
