/* Allocation tracking: hooks on the three PyMem domains that record a
 * sampled (or, in trace mode, every) allocation with its Python stack, and
 * the leaktrace.Tracker type that starts, stops and queries them.
 *
 * The hooks are process-wide: one tracker runs at a time. */
#ifndef LT_TRACKER_H
#define LT_TRACKER_H

#include "lt_compat.h"

/* Adds Tracker, AllocSnapshot and SiteStat to the module. 0, or -1 with an
 * exception set. */
int lt_tracker_exec(PyObject *module);

#endif
