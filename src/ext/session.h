/* The run session behind `leaktrace run`: a checkpoint thread that, every
 * interval, takes the GIL briefly and records RSS, descriptors, threads,
 * the census and the allocation sites; the capture file; the status line;
 * the deadline; and at the end the analysis and the reports. */
#ifndef LT_SESSION_H
#define LT_SESSION_H

#include "lt_compat.h"

/* Adds leaktrace._core.Session to the module. 0, or -1 with an exception. */
int lt_session_exec(PyObject *module);

#endif
