/* Shallow object sizes with sys.getsizeof semantics, without running user
 * code: a type's own C __sizeof__ is called, a __sizeof__ written in Python
 * is not (the size then comes from tp_basicsize and tp_itemsize). */
#ifndef LT_OBJSIZE_H
#define LT_OBJSIZE_H

#include "lt_compat.h"

/* How instances of one type are sized; computed once per type. */
typedef enum lt_size_kind {
    LT_SIZE_LAYOUT,             /* tp_basicsize + |ob_size| * tp_itemsize */
    LT_SIZE_CALL,               /* call the type's C __sizeof__ */
    LT_SIZE_STR,                /* exact str: computed, else called */
    LT_SIZE_INT,                /* exact int: computed */
    LT_SIZE_DICT,               /* exact dict: CPython's function, no call */
} lt_size_kind_t;

typedef struct lt_sizer {
    lt_size_kind_t kind;
    PyCFunction c_sizeof;       /* the METH_NOARGS C __sizeof__, or NULL */
} lt_sizer_t;

/* Fills *s for `tp`. Never fails and never runs Python code (a type lookup
 * of "__sizeof__" through the MRO's dicts only). */
void lt_sizer_init(lt_sizer_t *s, PyTypeObject *tp);

/* Returns sys.getsizeof(o) as CPython would compute it, or the layout size
 * when the C __sizeof__ fails (the error is cleared). Never fails. */
Py_ssize_t lt_sizer_size(const lt_sizer_t *s, PyObject *o);

/* One-off convenience: lt_sizer_init + lt_sizer_size. */
Py_ssize_t lt_objsize(PyObject *o);

#endif
