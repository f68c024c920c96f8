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

int lt_type_match_init(lt_type_match_t *m, PyObject *type_or_name, const char *what)
{
    m->type = NULL;
    m->name = NULL;
    lt_ptrmap_init(&m->seen, &lt_page_alloc);
    if (PyType_Check(type_or_name))
        m->type = (PyTypeObject *)type_or_name;
    else if (PyUnicode_Check(type_or_name))
        m->name = type_or_name;
    else {
        PyErr_Format(PyExc_TypeError, "%s must be a type or a qualified type name, not %.100s", what,
                     Py_TYPE(type_or_name)->tp_name);
        return -1;
    }
    return 0;
}

int lt_type_match(lt_type_match_t *m, PyTypeObject *tp)
{
    if (m->type != NULL)
        return tp == m->type;
    int added;
    uint64_t *v = lt_ptrmap_upsert(&m->seen, tp, 0, &added);
    if (v == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (added) {
        PyObject *name = lt_type_qualname(tp);
        if (name == NULL)
            return -1;
        *v = PyUnicode_Compare(name, m->name) == 0 ? 1 : 2;
        Py_DECREF(name);
    }
    return *v == 1;
}

void lt_type_match_clear(lt_type_match_t *m)
{
    lt_ptrmap_clear(&m->seen);
}
