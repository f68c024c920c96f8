/* What the cyclic garbage collector sees: its settings, gc.garbage, and the
 * objects it would free if it ran now (found without freeing them). */
#ifndef LT_GCINFO_H
#define LT_GCINFO_H

#include "lt_compat.h"
#include "ptrmap.h"

/* Computes the set of objects that only reference cycles keep alive: the
 * tracked ones by the collector's own algorithm (internal references
 * subtracted from reference counts, then reachability from what is left and
 * from gc.freeze()'s objects), and the untracked ones that only those hold. On success `out`
 * maps each such object to 1; the caller clears it. Runs no Python code and
 * frees nothing. Returns 0, or -1 with an exception set. */
int lt_gc_unreachable(lt_ptrmap_t *out);

#endif
