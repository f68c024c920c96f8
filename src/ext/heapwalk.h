/* The heap walk shared by the census, checkpoints and the cycle analysis:
 * every live object once, gc-tracked objects from the collector's lists and
 * the untracked ones (str, int, float, bytes, atomic tuples and dicts) that
 * they reach through tp_traverse. */
#ifndef LT_HEAPWALK_H
#define LT_HEAPWALK_H

#include "lt_compat.h"
#include "addrset.h"
#include "vec.h"

/* Called once per live object. `tracked` says whether the collector tracks
 * it. Returns 0 to go on, 1 to stop the walk early, -1 to stop with a
 * Python exception set. The callback must not run Python code, create or
 * free container objects; it may call C __sizeof__ of builtin types. */
typedef int (*lt_heap_visit_fn)(PyObject *o, int tracked, void *ctx);

/* Pauses automatic collection for the walk so that no finalizer of the
 * program runs behind its back. Returns the previous state for
 * lt_gc_resume, or -1 with an exception set. */
int lt_gc_pause(void);
void lt_gc_resume(int previous);

/* A full collection now, as gc.collect() does it: also when automatic
 * collection is disabled (PyGC_Collect alone does nothing then), which is
 * restored afterwards. Finalizers of the program run, as with gc.collect().
 * Returns 0, or -1 with an exception set. */
int lt_collect_now(void);

/* Fills `out` with every tracked object (borrowed pointers: valid while the
 * caller holds the GIL and runs no Python code). Call between lt_gc_pause
 * and lt_gc_resume. Returns 0, or -1 with an exception set (out is then
 * cleared). */
int lt_gc_tracked(lt_vec_t *out);

/* Walks the heap, calling visit for each live object once (no recursion:
 * a 1M-long linked list is fine). If `keep` is not NULL, every visited
 * object's address is added to it and it is used to count each object once;
 * the caller owns and clears it. Otherwise an internal set is used and
 * released. Pauses collection itself. Returns 0 (also when visit stopped
 * the walk with 1), or -1 with an exception set. */
int lt_heap_walk(lt_heap_visit_fn visit, void *ctx, lt_addrset_t *keep);

/* PyObject_IS_GC, inlined: the walk asks it for every object. */
static inline int lt_is_gc(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    return PyType_IS_GC(tp) && (tp->tp_is_gc == NULL || tp->tp_is_gc(o));
}

/* True when tp_traverse may be called on o: the collector would do it
 * (a static type's tp_traverse aborts the interpreter if called). */
static inline int lt_is_traversable(PyObject *o)
{
    return lt_is_gc(o) && Py_TYPE(o)->tp_traverse != NULL;
}

#endif
