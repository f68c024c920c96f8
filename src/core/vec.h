/* A growable array of pointers: the work stack of a heap walk, the queue of
 * a breadth-first search. */
#ifndef LT_VEC_H
#define LT_VEC_H

#include "alloc.h"

#include <stddef.h>

typedef struct lt_vec {
    const lt_alloc_t *a;
    void **items;
    size_t len;
    size_t cap;
} lt_vec_t;

void lt_vec_init(lt_vec_t *v, const lt_alloc_t *a);
/* Appends p. Returns 0, or LT_ENOMEM with the vector unchanged. */
int lt_vec_push(lt_vec_t *v, void *p);
/* Removes and returns the last item; the vector must not be empty. */
static inline void *lt_vec_pop(lt_vec_t *v) { return v->items[--v->len]; }
/* Frees the storage; the vector is empty and reusable afterwards. */
void lt_vec_clear(lt_vec_t *v);

#endif
