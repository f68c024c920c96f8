/* Qualified type names without running code of the type. */
#include "typename.h"

#include "safeget.h"

#include <string.h>

/* The module name stored in a heap type's dict, borrowed, or NULL. */
static PyObject *heap_type_module(PyTypeObject *tp)
{
    PyObject *mod = lt_dict_get_ascii(tp->tp_dict, "__module__");
    return mod != NULL && PyUnicode_Check(mod) ? mod : NULL;
}

PyObject *lt_type_qualname(PyTypeObject *tp)
{
    if (!PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE))
        return PyUnicode_FromString(tp->tp_name);
    PyObject *qual = ((PyHeapTypeObject *)tp)->ht_qualname;
    if (qual == NULL || !PyUnicode_Check(qual))
        return PyUnicode_FromString(tp->tp_name);
    PyObject *mod = heap_type_module(tp);
    if (mod == NULL || PyUnicode_CompareWithASCIIString(mod, "builtins") == 0)
        return Py_NewRef(qual);
    return PyUnicode_FromFormat("%U.%U", mod, qual);
}

static void copy_utf8(char *buf, size_t size, size_t *pos, const char *s)
{
    size_t len = strlen(s);
    if (*pos + len >= size)
        len = size - 1 - *pos;
    memcpy(buf + *pos, s, len);
    *pos += len;
    buf[*pos] = '\0';
}

void lt_type_qualname_buf(PyTypeObject *tp, char *buf, size_t size)
{
    size_t pos = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    if (PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE)) {
        PyObject *qual = ((PyHeapTypeObject *)tp)->ht_qualname;
        PyObject *mod = heap_type_module(tp);
        const char *q = qual != NULL && PyUnicode_Check(qual) ? PyUnicode_AsUTF8(qual) : NULL;
        const char *m = mod != NULL ? PyUnicode_AsUTF8(mod) : NULL;
        if (q == NULL || m == NULL)
            PyErr_Clear();
        if (q != NULL) {
            if (m != NULL && strcmp(m, "builtins") != 0) {
                copy_utf8(buf, size, &pos, m);
                copy_utf8(buf, size, &pos, ".");
            }
            copy_utf8(buf, size, &pos, q);
            return;
        }
    }
    copy_utf8(buf, size, &pos, tp->tp_name);
}
