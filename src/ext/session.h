/* The run session behind `leaktrace run`: a checkpoint thread that, every
 * interval, takes the GIL briefly and records RSS, descriptors, threads,
 * the census and the allocation sites; the capture file; the status line;
 * the deadline; and at the end the analysis and the reports. */
#ifndef LT_SESSION_H
#define LT_SESSION_H

#include "lt_compat.h"

#include "findings.h"
#include "intern.h"

/* Adds leaktrace._core.Session to the module. 0, or -1 with an exception. */
int lt_session_exec(PyObject *module);

/* What the control server (control.c) reads of a running session: the
 * pointers are borrowed from it and valid while it lives, read with the
 * GIL held. While *busy is set (GIL held), the checkpoint thread skips its
 * turns, so the findings do not change under an answer being built even
 * where building it lets the GIL go. */
typedef struct lt_session_view {
    lt_findings_t *findings;
    const lt_intern_t *names;
    PyObject *warm;             /* the Checkpoint at the end of the warm-up, or NULL */
    PyObject *baseline;         /* the Census at the start, or NULL */
    PyObject *argv;             /* list of str */
    PyObject *outputs;          /* dict: the report's settings ("max_findings", "notes", ...) */
    double t0;                  /* lt_monotonic() at the start */
    int started, finished;
    int *busy;
    uint64_t capture_bytes;     /* written to the capture file so far (0: none) */
    uint64_t capture_checkpoints;
    uint64_t own_bytes;         /* leaktrace's own tables (tracker, names, warm-up bitmap) */
} lt_session_view_t;

/* Fills *out from a Session. 0, or -1 with TypeError (not a Session). */
int lt_session_view(PyObject *obj, lt_session_view_t *out);

#endif
