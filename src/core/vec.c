/* lt_vec: a growable array of pointers. */
#include "vec.h"
#include "errors.h"

#include <stdint.h>
#include <string.h>

void lt_vec_init(lt_vec_t *v, const lt_alloc_t *a)
{
    v->a = a;
    v->items = NULL;
    v->len = 0;
    v->cap = 0;
}

int lt_vec_push(lt_vec_t *v, void *p)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 512;
        if (cap > SIZE_MAX / sizeof(void *))
            return LT_ENOMEM;
        void **items = lt_alloc(v->a, cap * sizeof(void *));
        if (items == NULL)
            return LT_ENOMEM;
        if (v->len)
            memcpy(items, v->items, v->len * sizeof(void *));
        lt_free(v->a, v->items, v->cap * sizeof(void *));
        v->items = items;
        v->cap = cap;
    }
    v->items[v->len++] = p;
    return 0;
}

void lt_vec_clear(lt_vec_t *v)
{
    lt_free(v->a, v->items, v->cap * sizeof(void *));
    v->items = NULL;
    v->len = 0;
    v->cap = 0;
}
