/* A map from non-NULL pointers to 64-bit values: open addressing, linear
 * probing, no removal. Census statistics per type, parents in the holder
 * search, reference counts in the cycle analysis. */
#ifndef LT_PTRMAP_H
#define LT_PTRMAP_H

#include "alloc.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lt_ptrmap_entry {
    const void *key;            /* NULL marks an empty slot */
    uint64_t value;
} lt_ptrmap_entry_t;

typedef struct lt_ptrmap {
    const lt_alloc_t *a;
    lt_ptrmap_entry_t *slots;
    size_t cap;
    size_t len;
    unsigned shift;
} lt_ptrmap_t;

/* Makes an empty map; allocates nothing until the first insert. */
void lt_ptrmap_init(lt_ptrmap_t *m, const lt_alloc_t *a);
/* Ensures room for `n` entries without growing; 0 or LT_ENOMEM (unchanged). */
int lt_ptrmap_reserve(lt_ptrmap_t *m, size_t n);
/* Finds key's value slot, inserting it with value `init` if absent. Returns
 * the slot, which stays valid until the next insert, or NULL when key is new
 * and the table cannot grow (the map is unchanged) or key is NULL. A present
 * key never needs memory, so it never fails. *added (if not NULL)
 * says whether the key was inserted. */
uint64_t *lt_ptrmap_upsert(lt_ptrmap_t *m, const void *key, uint64_t init, int *added);
/* Returns key's value slot, or NULL when absent. */
uint64_t *lt_ptrmap_get(const lt_ptrmap_t *m, const void *key);
/* Iteration: pass *pos = 0 first; returns the next entry or NULL at the end.
 * The order is the table's, not insertion order. */
const lt_ptrmap_entry_t *lt_ptrmap_next(const lt_ptrmap_t *m, size_t *pos);
/* Frees the table; the map is empty and reusable afterwards. */
void lt_ptrmap_clear(lt_ptrmap_t *m);

#endif
