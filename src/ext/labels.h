/* Readable names for references and objects, as the program's own code would
 * spell them: ".INVOICES", "['inv-1466']", "[3]", "cell 'callback'",
 * "frame handle() local 'payload'"; "module billing", "dict (3 items)".
 * Found by reading the objects' storage: no __repr__, __eq__, __hash__,
 * __getattr__, descriptor or property of the program ever runs, and dicts
 * are searched by identity (PyDict_Next), never looked up with a key. */
#ifndef LT_LABELS_H
#define LT_LABELS_H

#include "lt_compat.h"
#include "strbuf.h"

/* Longest dict key shown, in characters; longer keys are cut with "...". */
#define LT_LABEL_MAX_KEY 60

/* Every function below expects the GIL, runs no Python code of the
 * program's classes and keeps no reference. Functions taking an lt_strbuf_t
 * append to it and return 0, or -1 with MemoryError set (out's text may then
 * hold part of the label: reset it). */

/* Appends the text of str `s` as UTF-8 (unencodable characters as
 * backslash escapes). */
int lt_labels_put_str(lt_strbuf_t *out, PyObject *s);

/* The value stored under the exact-str key `name` in dict `d`, borrowed, or
 * NULL: found by walking the entries, so that no key's __eq__ can run. */
PyObject *lt_labels_dict_get(PyObject *d, const char *name);

/* The attribute `name` of `o` read from its own __dict__ or, from 3.11, its
 * inline values: borrowed, or NULL. Never getattr, so class attributes,
 * slots and properties are not seen. */
PyObject *lt_labels_attr_get(PyObject *o, const char *name);

/* Whether dict `d` is the __dict__ of `owner` (a module, a class or an
 * instance). Paths read through such a dict as attributes of its owner. */
int lt_labels_is_own_dict(PyObject *owner, PyObject *d);

/* Appends what `o` is: "module billing", "class billing.Registry",
 * "function billing.handle", "frame handle()", "dict (3 items)",
 * "functools._lru_cache_wrapper total" (a type, and the name the object
 * keeps in its __dict__ as __qualname__ or __name__). */
int lt_labels_node(lt_strbuf_t *out, PyObject *o);

/* Appends the path element for the reference from chain[i] to chain[i+1],
 * where each object of chain[0..n) refers to the next. Some elements cover
 * several references: an owner's __dict__ and the entry in it read as one
 * attribute (".items"); a function's __closure__, the cell and its content
 * as "cell 'name'"; a frame's cell and its content as the local. Returns how
 * many references the element covers (1 to 3), 0 when i is the last object,
 * or -1 with an exception set. */
int lt_labels_step(lt_strbuf_t *out, PyObject *const *chain, size_t n, size_t i);

#endif
