/* Native addresses to names, at report time: dladdr for exported symbols,
 * then the object file's own symbol table (.symtab, or the one of its
 * separate debug file under /usr/lib/debug/.build-id) for the static
 * functions that dladdr cannot name. */
#ifndef LT_SYMBOLIZE_H
#define LT_SYMBOLIZE_H

#include "control.h"

#include <stdint.h>

/* Symbolises `pc`, an address inside a function (for a return address, pass
 * the address minus one, which is inside the call). Sets *out: strings are
 * copies in the symboliser's cache, valid for the life of the process (a
 * library unloaded later keeps its names). Returns 0, or LT_ENOENT when no
 * loaded object holds pc (out zeroed). A function that no table names has
 * out->function NULL. Reads object files the first time it needs their
 * symbols (cached for the process), takes the loader's lock (dladdr) and a
 * lock of its own: never call it from inside an allocator hook nor with
 * the tables' lock held. Thread-safe; allocates only from lt_pl_alloc. */
int lt_symbolize(uintptr_t pc, lt_preload_sym_t *out);

/* Fork handlers (called by preload.c's): the symboliser's lock is held
 * across fork, and the child makes a fresh one. */
void lt_symbolize_atfork_prepare(void);
void lt_symbolize_atfork_parent(void);
void lt_symbolize_atfork_child(void);

#endif
