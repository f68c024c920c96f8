/* getsizeof semantics for the census. */
#include "objsize.h"

void lt_sizer_init(lt_sizer_t *s, PyTypeObject *tp)
{
    s->c_sizeof = NULL;
    /* _PyType_Lookup walks the MRO's dicts and returns a borrowed reference
     * without calling anything; it never raises. */
    static PyObject *name;
    if (name == NULL) {
        name = PyUnicode_InternFromString("__sizeof__");
        if (name == NULL) {
            PyErr_Clear();
            return;
        }
    }
    PyObject *descr = _PyType_Lookup(tp, name);
    if (descr != NULL && Py_IS_TYPE(descr, &PyMethodDescr_Type)) {
        PyMethodDef *def = ((PyMethodDescrObject *)descr)->d_method;
        if (def != NULL && (def->ml_flags & (METH_VARARGS | METH_KEYWORDS | METH_O | METH_NOARGS | METH_FASTCALL)) == METH_NOARGS)
            s->c_sizeof = def->ml_meth;
    }
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

Py_ssize_t lt_sizer_size(const lt_sizer_t *s, PyObject *o)
{
    Py_ssize_t size = -1;
    if (s->c_sizeof != NULL) {
        PyObject *r = s->c_sizeof(o, NULL);
        if (r != NULL) {
            size = PyLong_AsSsize_t(r);
            Py_DECREF(r);
        }
        if (size < 0) {
            PyErr_Clear();
            size = -1;
        }
    }
    if (size < 0)
        size = layout_size(o);
    return size + lt_py_sizeof_extra(o);
}

Py_ssize_t lt_objsize(PyObject *o)
{
    lt_sizer_t s;
    lt_sizer_init(&s, Py_TYPE(o));
    return lt_sizer_size(&s, o);
}
