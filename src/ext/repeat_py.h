/* leaktrace._core.RepeatCheck: the checkpoints of a repeated check (the
 * pytest plugin, leaktrace.check, %%leaktrace), the decision from the
 * per-run deltas (src/core/repeatcheck.c) and the report, made by the same
 * findings pipeline as `leaktrace run` (findings.c). */
#ifndef LT_REPEAT_PY_H
#define LT_REPEAT_PY_H

#include "lt_compat.h"

/* Adds RepeatCheck to the module. 0, or -1 with an exception set. */
int lt_repeat_exec(PyObject *module);

#endif
