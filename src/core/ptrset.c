/* lt_ptrset: an open-addressing pointer set. */
#include "ptrset.h"
#include "errors.h"
#include "ptrhash.h"

#include <stdint.h>

#define PTRSET_MIN_CAP 1024

void lt_ptrset_init(lt_ptrset_t *s, const lt_alloc_t *a)
{
    s->a = a;
    s->slots = NULL;
    s->cap = 0;
    s->len = 0;
    s->shift = 64;
}

static void ptrset_put_unchecked(void **slots, size_t cap, unsigned shift, const void *p)
{
    size_t mask = cap - 1;
    size_t i = lt_ptr_hash(p, shift);
    while (slots[i] != NULL)
        i = (i + 1) & mask;
    slots[i] = (void *)p;
}

static int ptrset_resize(lt_ptrset_t *s, size_t cap)
{
    if (cap > SIZE_MAX / sizeof(void *))
        return LT_ENOMEM;
    void **slots = lt_alloc(s->a, cap * sizeof(void *));
    if (slots == NULL)
        return LT_ENOMEM;
    unsigned shift = 64;
    for (size_t c = cap; c > 1; c >>= 1)
        shift--;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i] != NULL)
            ptrset_put_unchecked(slots, cap, shift, s->slots[i]);
    lt_free(s->a, s->slots, s->cap * sizeof(void *));
    s->slots = slots;
    s->cap = cap;
    s->shift = shift;
    return 0;
}

int lt_ptrset_reserve(lt_ptrset_t *s, size_t n)
{
    size_t cap = s->cap ? s->cap : PTRSET_MIN_CAP;
    /* Keep the load factor at or below 1/2: probes stay short. */
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 4)
            return LT_ENOMEM;
        cap *= 2;
    }
    return cap == s->cap ? 0 : ptrset_resize(s, cap);
}

int lt_ptrset_add(lt_ptrset_t *s, const void *p)
{
    if (p == NULL)
        return LT_EINVAL;
    if (s->len + 1 > s->cap / 2) {
        /* A member needs no room: answer it without growing, so a duplicate
         * never fails for want of memory (heap walks add many). */
        if (lt_ptrset_has(s, p))
            return 0;
        int rc = lt_ptrset_reserve(s, s->len + 1);
        if (rc < 0)
            return rc;
    }
    size_t mask = s->cap - 1;
    size_t i = lt_ptr_hash(p, s->shift);
    while (s->slots[i] != NULL) {
        if (s->slots[i] == p)
            return 0;
        i = (i + 1) & mask;
    }
    s->slots[i] = (void *)p;
    s->len++;
    return 1;
}

int lt_ptrset_has(const lt_ptrset_t *s, const void *p)
{
    if (s->cap == 0 || p == NULL)
        return 0;
    size_t mask = s->cap - 1;
    size_t i = lt_ptr_hash(p, s->shift);
    while (s->slots[i] != NULL) {
        if (s->slots[i] == p)
            return 1;
        i = (i + 1) & mask;
    }
    return 0;
}

void lt_ptrset_clear(lt_ptrset_t *s)
{
    lt_free(s->a, s->slots, s->cap * sizeof(void *));
    s->slots = NULL;
    s->cap = 0;
    s->len = 0;
    s->shift = 64;
}

size_t lt_ptrset_footprint(const lt_ptrset_t *s)
{
    return s->cap * sizeof(void *);
}
