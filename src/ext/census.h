/* The heap census: per-type counts and shallow bytes of every live object,
 * checkpoints that remember which objects existed, and the sample of
 * objects of a type created since a checkpoint. */
#ifndef LT_CENSUS_H
#define LT_CENSUS_H

#include "lt_compat.h"
#include "addrset.h"

typedef struct lt_census_row {
    PyObject *name;             /* str, owned: the qualified type name */
    Py_ssize_t count;
    Py_ssize_t bytes;
} lt_census_row_t;

/* leaktrace.Census: immutable once made. Rows are sorted by name. */
typedef struct lt_census {
    PyObject_HEAD
    double time;                /* lt_monotonic() when taken */
    Py_ssize_t total_count;
    Py_ssize_t total_bytes;
    Py_ssize_t tracked_count;   /* objects the collector tracks */
    Py_ssize_t nrows;
    lt_census_row_t *rows;      /* PyMem memory, owned */
    PyObject *largest_type;     /* str, owned: the type of the largest object (or NULL) */
    Py_ssize_t largest_bytes;   /* its shallow size */
} lt_census_t;

/* leaktrace.Checkpoint: a census plus the address of every object alive
 * when it was taken. */
typedef struct lt_checkpoint {
    PyObject_HEAD
    lt_census_t *census;        /* owned */
    lt_addrset_t alive;          /* addresses only: holds no reference */
} lt_checkpoint_t;

/* Takes a census (see census() in module docs). `keep` as lt_heap_walk.
 * Returns a new reference or NULL with an exception set. */
lt_census_t *lt_census_take(PyTypeObject *census_type, int collect, lt_addrset_t *keep);

#endif
