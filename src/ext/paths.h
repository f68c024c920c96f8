/* Holder paths: who keeps an object alive, as the shortest chain of
 * references from a root (a module global, a thread's local, the builtins)
 * to it, found by one breadth-first search shared by all the targets.
 * leaktrace.holder_paths() and leaktrace.holder_graph() are thin wrappers. */
#ifndef LT_PATHS_H
#define LT_PATHS_H

#include "lt_compat.h"

/* The work behind holder_paths(): `objects` is a list or tuple of targets,
 * or a type or qualified type name whose live instances (up to max_paths)
 * are sampled. Returns a new list of lists of str, or NULL with an
 * exception set (TypeError/ValueError for bad arguments, MemoryError).
 * Needs the GIL; runs no code of the program and pauses automatic
 * collection while it works. */
PyObject *lt_paths_find(PyObject *objects, Py_ssize_t max_paths, Py_ssize_t max_depth);

/* The same paths as one graphviz dot digraph of at most max_nodes nodes.
 * Returns a new str, or NULL with an exception set. */
PyObject *lt_paths_graph(PyObject *objects, Py_ssize_t max_paths, Py_ssize_t max_depth, Py_ssize_t max_nodes);

#endif
