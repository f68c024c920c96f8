/* lt_raise: src/core error codes to Python exceptions. */
#include "raise.h"

#include "errors.h"

PyObject *lt_raise(int code, const char *what)
{
    if (code == LT_ENOMEM)
        return PyErr_NoMemory();
    PyObject *exc = PyExc_OSError;
    if (code == LT_ENOENT)
        exc = PyExc_FileNotFoundError;
    else if (code == LT_EACCES)
        exc = PyExc_PermissionError;
    else if (code == LT_EINVAL || code == LT_ERANGE || code == LT_EFORMAT)
        exc = PyExc_ValueError;
    PyErr_Format(exc, "%s: %s", what, lt_strerror(code));
    return NULL;
}
