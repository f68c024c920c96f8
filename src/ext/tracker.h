/* Allocation tracking: hooks on the three PyMem domains that record a
 * sampled (or, in trace mode, every) allocation with its Python stack, and
 * the leaktrace.Tracker type that starts, stops and queries them.
 *
 * The hooks are process-wide: one tracker runs at a time. */
#ifndef LT_TRACKER_H
#define LT_TRACKER_H

#include "lt_compat.h"

#include "sitestats.h"

#include <stdint.h>

/* For the run session (session.c). Each takes the tracker's lock briefly;
 * none runs Python code unless it says so. */

/* The id of the current (or last) tracking run, 0 before any. */
uint64_t lt_tracker_generation(void);

/* Copies the per-stack rows of the current run into dst (initialized, own
 * allocator). Returns 0 or LT_ENOMEM (dst unchanged). */
int lt_tracker_copy_sites(lt_sitestats_t *dst);

/* One frame of a recorded stack, resolved: new references, GIL held. */
typedef struct lt_tracker_frame {
    PyObject *file;             /* str */
    int line;
    PyObject *function;         /* str */
} lt_tracker_frame_t;

/* Resolves up to `max` frames of `stack`, innermost first, into out (new
 * references the caller releases with lt_tracker_frames_release). Returns
 * how many (0 for stack 0: no Python frame). GIL held. */
int lt_tracker_stack_frames(uint32_t stack, lt_tracker_frame_t *out, int max);
void lt_tracker_frames_release(lt_tracker_frame_t *frames, int n);

/* Bytes the tracker's tables hold now (its share of the RSS). */
size_t lt_tracker_footprint(void);

/* Empties the tables of the last run (the memory goes back, the code
 * objects they kept are released) once no Tracker runs: `leaktrace attach`
 * leaves nothing behind. The stopped Tracker's queries then fail as for a
 * run that another replaced. 0, or -1 with RuntimeError while one runs.
 * GIL held. */
int lt_tracker_release(void);

/* The stack that allocated `obj` in the current run, or 0. */
uint32_t lt_tracker_object_stack(PyObject *obj);

/* Adds Tracker, AllocSnapshot and SiteStat to the module. 0, or -1 with an
 * exception set. */
int lt_tracker_exec(PyObject *module);

#endif
