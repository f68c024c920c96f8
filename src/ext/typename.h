/* Qualified type names as users read them: "module.QualName", with the
 * builtins module left out ("dict", "int"). Two classes of the same name in
 * different modules get different names. */
#ifndef LT_TYPENAME_H
#define LT_TYPENAME_H

#include "lt_compat.h"

/* Returns a new reference to the qualified name of `tp`, or NULL with an
 * exception set. Reads __module__ and __qualname__ from the type's own
 * storage: never calls a descriptor or any other code of the type. */
PyObject *lt_type_qualname(PyTypeObject *tp);

/* Writes the qualified name into buf (NUL-terminated, cut to fit) without
 * allocating Python objects; for labels. Never fails. */
void lt_type_qualname_buf(PyTypeObject *tp, char *buf, size_t size);

#endif
