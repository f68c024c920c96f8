/* The leaktrace._core module: its per-module state and the registration
 * hook of each component. */
#ifndef LT_MODULE_H
#define LT_MODULE_H

#include "lt_compat.h"

/* Per-module state: the heap types the module creates. Owned by the module;
 * released in its m_clear/m_free. */
typedef struct lt_state {
    PyTypeObject *census_type;
    PyTypeObject *checkpoint_type;
    PyTypeObject *type_delta_type;
    PyTypeObject *tracker_type;
    PyTypeObject *alloc_snapshot_type;
    PyTypeObject *site_stat_type;
    PyTypeObject *site_delta_type;
} lt_state_t;

/* The state of the module that created `tp` (one of our types). Borrowed;
 * NULL with an exception set if tp is not ours. */
lt_state_t *lt_state_of_type(PyTypeObject *tp);
static inline lt_state_t *lt_state(PyObject *module) { return PyModule_GetState(module); }

/* Each component adds its functions and types to the module during its
 * exec slot. Each returns 0, or -1 with an exception set. */
int lt_census_exec(PyObject *module);
int lt_gcinfo_exec(PyObject *module);
int lt_proc_exec(PyObject *module);
int lt_paths_exec(PyObject *module);
int lt_replay_exec(PyObject *module);
int lt_capture_exec(PyObject *module);
/* native.c: native_sites() and the rest; registers the Python-stack callbacks
 * with libleaktrace_preload.so when it was preloaded. */
int lt_native_exec(PyObject *module);

/* The monotonic clock in seconds, the one time.monotonic() reads. */
double lt_monotonic(void);

#endif
