/* A set of non-NULL pointers: open addressing, linear probing, no removal.
 * Used to count every live object once during a heap walk, and to remember
 * which objects existed at a checkpoint. */
#ifndef LT_PTRSET_H
#define LT_PTRSET_H

#include "alloc.h"

#include <stddef.h>

typedef struct lt_ptrset {
    const lt_alloc_t *a;
    void **slots;
    size_t cap;                 /* a power of two, or 0 before the first insert */
    size_t len;
    unsigned shift;             /* 64 - log2(cap) */
} lt_ptrset_t;

/* Makes an empty set; allocates nothing until the first insert. */
void lt_ptrset_init(lt_ptrset_t *s, const lt_alloc_t *a);
/* Ensures room for `n` members without growing. Returns 0 or LT_ENOMEM
 * (the set is unchanged on failure). */
int lt_ptrset_reserve(lt_ptrset_t *s, size_t n);
/* Adds p (not NULL). Returns 1 if added, 0 if already present (even when
 * memory is short), LT_ENOMEM if the table could not grow for a new member
 * (the set is unchanged), LT_EINVAL for NULL. */
int lt_ptrset_add(lt_ptrset_t *s, const void *p);
/* Returns 1 if p is a member, else 0. */
int lt_ptrset_has(const lt_ptrset_t *s, const void *p);
/* Frees the table; the set is empty and reusable afterwards. */
void lt_ptrset_clear(lt_ptrset_t *s);
/* Bytes the table holds, for reporting our own footprint. */
size_t lt_ptrset_footprint(const lt_ptrset_t *s);

#endif
