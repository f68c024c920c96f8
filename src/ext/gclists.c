/* lt_gc_foreach: the collector's lists, read in place. A file of its own
 * because it compiles against CPython's internal headers on 3.9 to 3.11. */
#define LT_COMPAT_GC_INTERNALS 1
#include "gclists.h"

void lt_gc_foreach(lt_gc_visit_fn fn, void *arg)
{
    lt_py_gc_foreach(fn, arg);
}
