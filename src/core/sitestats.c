/* lt_sitestats: a growable array of per-stack rows, its copy and its diff. */
#include "sitestats.h"
#include "errors.h"

#include <string.h>

#define SITESTATS_MIN_CAP 256

void lt_sitestats_init(lt_sitestats_t *s, const lt_alloc_t *a)
{
    s->a = a;
    s->rows = NULL;
    s->len = 0;
    s->cap = 0;
}

/* Replaces the rows by `cap` rows holding the first `len` of the old ones.
 * On failure nothing changes. */
static int sitestats_realloc(lt_sitestats_t *s, size_t cap, const lt_sitestat_t *from, size_t len)
{
    if (cap > SIZE_MAX / sizeof(lt_sitestat_t))
        return LT_ENOMEM;
    lt_sitestat_t *rows = lt_alloc(s->a, cap * sizeof(*rows));
    if (rows == NULL)
        return LT_ENOMEM;
    if (len > 0)
        memcpy(rows, from, len * sizeof(*rows));
    lt_free(s->a, s->rows, s->cap * sizeof(*rows));
    s->rows = rows;
    s->cap = cap;
    return 0;
}

int lt_sitestats_reserve(lt_sitestats_t *s, uint32_t stack)
{
    size_t need = (size_t)stack + 1;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : SITESTATS_MIN_CAP;
        while (cap < need)
            cap *= 2;
        int rc = sitestats_realloc(s, cap, s->rows, s->len);
        if (rc < 0)
            return rc;
    }
    /* Rows from len to cap are zero: fresh memory, or zeroed by copy. */
    if (need > s->len)
        s->len = need;
    return 0;
}

lt_sitestat_t lt_sitestats_get(const lt_sitestats_t *s, uint32_t stack)
{
    lt_sitestat_t zero = {0, 0, 0, 0};
    return (size_t)stack < s->len ? s->rows[stack] : zero;
}

int lt_sitestats_copy(lt_sitestats_t *dst, const lt_sitestats_t *src)
{
    if (dst == src)
        return 0;
    if (src->len > dst->cap) {
        /* The new rows are fresh (zero) past src->len. */
        int rc = sitestats_realloc(dst, src->cap, src->rows, src->len);
        if (rc < 0)
            return rc;
    } else {
        if (src->len > 0)
            memcpy(dst->rows, src->rows, src->len * sizeof(lt_sitestat_t));
        if (dst->len > src->len)
            memset(dst->rows + src->len, 0, (dst->len - src->len) * sizeof(lt_sitestat_t));
    }
    dst->len = src->len;
    return 0;
}

static int sitestat_equal(const lt_sitestat_t *a, const lt_sitestat_t *b)
{
    return a->live_bytes == b->live_bytes && a->live_count == b->live_count &&
           a->total_bytes == b->total_bytes && a->total_count == b->total_count;
}

size_t lt_sitestats_diff(const lt_sitestats_t *before, const lt_sitestats_t *after, lt_sitediff_t *out,
                         size_t max)
{
    size_t n = before->len > after->len ? before->len : after->len;
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        lt_sitestat_t b = lt_sitestats_get(before, (uint32_t)i);
        lt_sitestat_t a = lt_sitestats_get(after, (uint32_t)i);
        if (sitestat_equal(&b, &a))
            continue;
        if (changed < max) {
            out[changed].stack = (uint32_t)i;
            out[changed].before = b;
            out[changed].after = a;
        }
        changed++;
    }
    return changed;
}

void lt_sitestats_clear(lt_sitestats_t *s)
{
    lt_free(s->a, s->rows, s->cap * sizeof(lt_sitestat_t));
    lt_sitestats_init(s, s->a);
}
