/* Turning src/core error codes into Python exceptions: the one place where
 * that happens. */
#ifndef LT_RAISE_H
#define LT_RAISE_H

#include "lt_compat.h"

/* Sets the exception that fits `code` (MemoryError, FileNotFoundError,
 * PermissionError, ValueError, OSError) with `what` as context.
 * Always returns NULL, so callers can `return lt_raise(...)`. */
PyObject *lt_raise(int code, const char *what);

#endif
