/* Frames and the other interpreter internals that leaktrace reads: the
 * stack of a thread for allocation sites; for holder paths the fast locals
 * of every thread's frames, of frame objects and of generators, atexit's
 * callbacks, and an object's __dict__ and inline attribute values; all
 * without creating or changing anything. frames.c is built against CPython's internal headers
 * (LT_COMPAT_FRAMES in lt_compat.h), so every read of an internal frame or
 * dict layout lives behind this header. */
#ifndef LT_FRAMES_H
#define LT_FRAMES_H

#include "lt_compat.h"

/* Every function here needs the GIL, never allocates, never runs Python
 * code and keeps no reference. */

#include <stdint.h>

/* One fast-local slot of a frame. All pointers are borrowed. */
typedef struct lt_frame_local {
    PyObject *name;             /* the variable's name (a str) */
    PyObject *value;            /* its value; for a cell or free variable the
                                 * cell's content, NULL when the cell is empty */
    PyObject *cell;             /* the cell the frame holds, or NULL */
} lt_frame_local_t;

/* A callback's non-zero return stops a walk and is returned by it. */
typedef int (*lt_frame_local_fn)(const lt_frame_local_t *local, void *ctx);

/* What lt_frames_walk_stacks reports, in order: for each thread state of
 * the interpreter (the calling thread first), for each complete Python frame
 * from the innermost out, frame() and then local() for each bound local,
 * then for each str-named entry of the frame's locals mapping when it has
 * one of its own (a class body, exec() with separate locals). */
typedef struct lt_stack_visitor {
    int (*frame)(unsigned long thread_id, PyCodeObject *code, void *ctx);
    lt_frame_local_fn local;
    void *ctx;
} lt_stack_visitor_t;

/* Walks the stacks of all threads as above. Running frames' value stacks are
 * not read (from 3.11 their stack pointer is not kept up to date while they
 * run). The caller holds the GIL and runs no Python code during the walk,
 * so that no frame is pushed or popped. Never allocates. Returns 0, or the
 * first non-zero return of a callback. */
int lt_frames_walk_stacks(const lt_stack_visitor_t *v);

/* One frame of a captured stack. */
typedef struct lt_frame_ref {
    PyCodeObject *code;         /* borrowed: valid while the frame runs */
    int32_t offset;             /* byte offset of the instruction running
                                 * (PyCode_Addr2Line's), -1 when not known */
} lt_frame_ref_t;

/* Writes up to `max` frames of thread `ts`, innermost first, to refs and
 * returns how many; frames being set up (3.11+) and C-stack shims (3.12+)
 * are skipped. For allocation sites: the caller holds the GIL (ts's frames
 * change only under it); takes no reference, never allocates and changes
 * no Python object, so it is safe inside an allocator hook. */
int lt_frames_capture(PyThreadState *ts, lt_frame_ref_t *refs, int max);

/* Calls fn for each object the Python callbacks of atexit.register hold
 * (callback `index`'s function with part "", its args tuple with part
 * "args", its kwargs dict with part "kwargs"). Only from 3.10, where the
 * interpreter keeps them outside any object; 3.9's atexit module holds them
 * itself. Returns 0 or fn's first non-zero return. */
typedef int (*lt_atexit_fn)(int index, const char *part, PyObject *obj, void *ctx);
int lt_frames_atexit(lt_atexit_fn fn, void *ctx);

/* Whether `o` is a frame object (PyFrame_Check, which up to 3.10 needs a
 * header only this unit includes). */
int lt_frames_is_frame(PyObject *o);

/* For a frame object, or from 3.11 a generator, coroutine or async
 * generator (up to 3.10 their frame is a frame object reached as gi_frame):
 * sets *code (borrowed) and calls fn for each local slot that holds
 * something. Sets *code to NULL and returns 0 when `o` has no locals to read
 * (not a frame, or a frame that is being set up or was cleared). Returns 0
 * or fn's first non-zero return. Never allocates. */
int lt_frames_object_locals(PyObject *o, PyCodeObject **code, lt_frame_local_fn fn, void *ctx);

/* The code object of a frame object or generator-like object (borrowed),
 * or NULL when `o` is neither or its frame cannot be read. */
PyCodeObject *lt_frames_object_code(PyObject *o);

/* The name of free variable i of code `co` (a str, borrowed): what item i
 * of a function's __closure__ is called. NULL when i is out of range. */
PyObject *lt_frames_code_freevar(PyCodeObject *co, Py_ssize_t i);

/* Whether `child` is on the value stack of frame object or generator `o`
 * (a for loop's iterator in a suspended generator, say). Frames that are
 * running are not looked at. 1 or 0; never fails. */
int lt_frames_object_stack_has(PyObject *o, PyObject *child);

/* The attribute name through which frame object or generator `o` refers to
 * `child` ("f_back", "f_code", "f_globals", "f_builtins", "f_locals",
 * "f_trace", "gi_code"...), a static string, or NULL. */
const char *lt_frames_field(PyObject *o, PyObject *child);

/* The __dict__ of `o`, borrowed, or NULL when it has none (yet). Never
 * creates it (3.11+ keeps attributes inline until someone asks for
 * __dict__; see lt_frames_inline_attr). */
PyObject *lt_frames_instance_dict(PyObject *o);

/* Attribute i (from 0) of the inline values of `o` (3.11+): returns 1 and
 * sets *name and *value (borrowed, either may be NULL for an unused slot),
 * or 0 past the last one and when `o` keeps no inline values. */
int lt_frames_inline_attr(PyObject *o, Py_ssize_t i, PyObject **name, PyObject **value);

#endif
