/* lt_ptrmap: an open-addressing map from pointers to 64-bit values. */
#include "ptrmap.h"
#include "errors.h"
#include "ptrhash.h"

#define PTRMAP_MIN_CAP 64

void lt_ptrmap_init(lt_ptrmap_t *m, const lt_alloc_t *a)
{
    m->a = a;
    m->slots = NULL;
    m->cap = 0;
    m->len = 0;
    m->shift = 64;
}

static lt_ptrmap_entry_t *ptrmap_find(lt_ptrmap_entry_t *slots, size_t cap, unsigned shift, const void *key)
{
    size_t mask = cap - 1;
    size_t i = lt_ptr_hash(key, shift);
    while (slots[i].key != NULL && slots[i].key != key)
        i = (i + 1) & mask;
    return &slots[i];
}

static int ptrmap_resize(lt_ptrmap_t *m, size_t cap)
{
    if (cap > SIZE_MAX / sizeof(lt_ptrmap_entry_t))
        return LT_ENOMEM;
    lt_ptrmap_entry_t *slots = lt_alloc(m->a, cap * sizeof(*slots));
    if (slots == NULL)
        return LT_ENOMEM;
    unsigned shift = 64;
    for (size_t c = cap; c > 1; c >>= 1)
        shift--;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL)
            *ptrmap_find(slots, cap, shift, m->slots[i].key) = m->slots[i];
    lt_free(m->a, m->slots, m->cap * sizeof(*slots));
    m->slots = slots;
    m->cap = cap;
    m->shift = shift;
    return 0;
}

int lt_ptrmap_reserve(lt_ptrmap_t *m, size_t n)
{
    size_t cap = m->cap ? m->cap : PTRMAP_MIN_CAP;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 4)
            return LT_ENOMEM;
        cap *= 2;
    }
    return cap == m->cap ? 0 : ptrmap_resize(m, cap);
}

uint64_t *lt_ptrmap_upsert(lt_ptrmap_t *m, const void *key, uint64_t init, int *added)
{
    if (added != NULL)
        *added = 0;
    if (key == NULL)
        return NULL;
    if (m->len + 1 > m->cap / 2) {
        /* An existing key needs no room: return it without growing, so a
         * lookup of a present key never fails for want of memory. */
        uint64_t *v = lt_ptrmap_get(m, key);
        if (v != NULL)
            return v;
        if (lt_ptrmap_reserve(m, m->len + 1) < 0)
            return NULL;
    }
    lt_ptrmap_entry_t *e = ptrmap_find(m->slots, m->cap, m->shift, key);
    if (e->key == NULL) {
        e->key = key;
        e->value = init;
        m->len++;
        if (added != NULL)
            *added = 1;
    }
    return &e->value;
}

uint64_t *lt_ptrmap_get(const lt_ptrmap_t *m, const void *key)
{
    if (m->cap == 0 || key == NULL)
        return NULL;
    lt_ptrmap_entry_t *e = ptrmap_find(m->slots, m->cap, m->shift, key);
    return e->key == NULL ? NULL : &e->value;
}

const lt_ptrmap_entry_t *lt_ptrmap_next(const lt_ptrmap_t *m, size_t *pos)
{
    while (*pos < m->cap) {
        const lt_ptrmap_entry_t *e = &m->slots[(*pos)++];
        if (e->key != NULL)
            return e;
    }
    return NULL;
}

void lt_ptrmap_clear(lt_ptrmap_t *m)
{
    lt_free(m->a, m->slots, m->cap * sizeof(lt_ptrmap_entry_t));
    m->slots = NULL;
    m->cap = 0;
    m->len = 0;
    m->shift = 64;
}
