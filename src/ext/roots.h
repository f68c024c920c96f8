/* The roots holder paths start from, in the order that breaks ties between
 * equally short paths: the globals of every module in sys.modules, then the
 * locals of every frame on every thread's stack, then the builtins, then
 * what the interpreter holds in C memory (the callbacks of atexit). */
#ifndef LT_ROOTS_H
#define LT_ROOTS_H

#include "lt_compat.h"
#include "alloc.h"
#include "vec.h"

typedef enum lt_root_kind {
    LT_ROOT_MODULE = 1,         /* an entry of sys.modules; its globals are the slots */
    LT_ROOT_SLOT = 2,           /* one reference outside any object: a local of
                                 * a frame on a thread's stack, an atexit callback */
} lt_root_kind_t;

/* One root. Strings live in the arena given to lt_roots_collect. */
typedef struct lt_root {
    lt_root_kind_t kind;
    PyObject *object;           /* borrowed: the module (or whatever sys.modules
                                 * holds under the name), or the slot's value */
    const char *node;           /* "module billing", "thread MainThread frame main()",
                                 * "atexit callbacks" */
    const char *edge;           /* LT_ROOT_SLOT: "local 'items'", "[3]", "[3] args";
                                 * else NULL */
} lt_root_t;

/* Appends a pointer to each root to `out`, in priority order (modules, stack
 * locals, builtins, atexit), the records and labels allocated in `arena`, which
 * the caller releases after the last use of them. Thread names come from
 * threading._active, read as data (the ident when the thread is unknown).
 * Pointers are borrowed: valid while the caller holds the GIL and runs no
 * Python code. Runs no code of the program. Returns 0, or -1 with an
 * exception set (MemoryError). */
int lt_roots_collect(lt_vec_t *out, lt_arena_t *arena);

#endif
