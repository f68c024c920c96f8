/* Dict and MRO lookups that run no code of the program. */
#include "safeget.h"

PyObject *lt_dict_get_ascii(PyObject *d, const char *key)
{
    if (d == NULL || !PyDict_Check(d))
        return NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v))
        if (PyUnicode_CheckExact(k) && PyUnicode_CompareWithASCIIString(k, key) == 0)
            return v;
    return NULL;
}

PyObject *lt_type_lookup_ascii(PyTypeObject *tp, const char *name, PyTypeObject **owner)
{
    PyObject *mro = tp->tp_mro;
    if (mro == NULL || !PyTuple_Check(mro)) {
        PyObject *v = lt_dict_get_ascii(lt_py_type_dict(tp), name);
        if (v != NULL && owner != NULL)
            *owner = tp;
        return v;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *base = PyTuple_GET_ITEM(mro, i);
        if (!PyType_Check(base))
            continue;
        PyObject *v = lt_dict_get_ascii(lt_py_type_dict((PyTypeObject *)base), name);
        if (v != NULL) {
            if (owner != NULL)
                *owner = (PyTypeObject *)base;
            return v;
        }
    }
    return NULL;
}
