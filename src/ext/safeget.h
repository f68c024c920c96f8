/* Lookups in dicts the program may have filled, without running its code:
 * PyDict_GetItem compares keys whose hash collides with ours through their
 * __eq__, which a class namespace with a crafted non-str key would run.
 * These scan with PyDict_Next and compare exact str keys only. */
#ifndef LT_SAFEGET_H
#define LT_SAFEGET_H

#include "lt_compat.h"

/* The value under the str key `key` (ASCII) of dict `d`, borrowed, or NULL
 * (never an exception). O(len(d)). GIL held. */
PyObject *lt_dict_get_ascii(PyObject *d, const char *key);

/* The attribute `name` (ASCII) as found in the dicts of tp's MRO, without
 * descriptors or __getattr__: borrowed, or NULL. *owner (if not NULL) is set
 * to the class whose dict holds it. GIL held. */
PyObject *lt_type_lookup_ascii(PyTypeObject *tp, const char *name, PyTypeObject **owner);

#endif
