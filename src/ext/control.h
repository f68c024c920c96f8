/* The control socket of production mode (LEAKTRACE=1, leaktrace.enable()):
 * a Unix socket in a private directory, served by a C thread that answers
 * `report`, `snapshot`, `metrics` and `ping` (src/core/ctlproto.h) from the
 * running Session, taking the GIL only to build an answer. */
#ifndef LT_CONTROL_H
#define LT_CONTROL_H

#include "lt_compat.h"

/* Adds control_start(), control_stop() and control_path() to the module.
 * 0, or -1 with an exception. */
int lt_control_exec(PyObject *module);

#endif
