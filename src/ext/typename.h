/* Qualified type names as users read them: "module.QualName", with the
 * builtins module left out ("dict", "int"). Two classes of the same name in
 * different modules get different names. */
#ifndef LT_TYPENAME_H
#define LT_TYPENAME_H

#include "lt_compat.h"
#include "ptrmap.h"

/* Returns a new reference to the qualified name of `tp`, or NULL with an
 * exception set. Reads __module__ and __qualname__ from the type's own
 * storage: never calls a descriptor or any other code of the type. */
PyObject *lt_type_qualname(PyTypeObject *tp);

/* Writes the qualified name into buf (NUL-terminated, cut to fit) without
 * allocating Python objects; for labels. Never fails. */
void lt_type_qualname_buf(PyTypeObject *tp, char *buf, size_t size);

/* Matches types against a type (by identity) or a qualified name such as
 * 'billing.Invoice' (each type's name computed once, then remembered). */
typedef struct lt_type_match {
    PyTypeObject *type;         /* borrowed, or NULL */
    PyObject *name;             /* borrowed str, or NULL */
    lt_ptrmap_t seen;           /* type -> 1 match / 2 not */
} lt_type_match_t;

/* Sets m up for `type_or_name`, a type or a str, which must outlive m.
 * Returns 0, or -1 with a TypeError naming `what` set. */
int lt_type_match_init(lt_type_match_t *m, PyObject *type_or_name, const char *what);
/* 1 if tp matches, 0 if not, -1 with an exception set. */
int lt_type_match(lt_type_match_t *m, PyTypeObject *tp);
void lt_type_match_clear(lt_type_match_t *m);

#endif
