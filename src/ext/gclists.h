/* Every object the cyclic collector tracks, without building a list. */
#ifndef LT_GCLISTS_H
#define LT_GCLISTS_H

#include "lt_compat.h"

/* Calls fn(op, permanent, arg) for each tracked object in the collector's
 * list order, those frozen by gc.freeze() last with permanent = 1; fn
 * returns 1 to go on, 0 to stop. fn may allocate untracked objects but must
 * not create or free tracked ones. The caller holds the GIL and has paused
 * automatic collection. Never fails. */
typedef int (*lt_gc_visit_fn)(PyObject *op, int permanent, void *arg);
void lt_gc_foreach(lt_gc_visit_fn fn, void *arg);

#endif
