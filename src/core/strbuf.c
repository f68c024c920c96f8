/* lt_strbuf: a growable character buffer. */
#include "strbuf.h"
#include "errors.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

void lt_strbuf_init(lt_strbuf_t *b, const lt_alloc_t *a)
{
    b->a = a;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Makes room for `extra` more bytes and the NUL. When the storage moves, the
 * old block is handed back in *old / *old_cap instead of being freed: the
 * caller may still be reading from it (appending the buffer's own text, or a
 * printf argument that points into it) and frees it with strbuf_release_old
 * once done. On error nothing is changed and *old is NULL. */
static int strbuf_reserve(lt_strbuf_t *b, size_t extra, char **old, size_t *old_cap)
{
    *old = NULL;
    *old_cap = 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return LT_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *data = lt_alloc(b->a, cap);
    if (data == NULL)
        return LT_ENOMEM;
    if (b->data != NULL)
        memcpy(data, b->data, b->len + 1);
    else
        data[0] = '\0';
    *old = b->data;
    *old_cap = b->cap;
    b->data = data;
    b->cap = cap;
    return 0;
}

static void strbuf_release_old(lt_strbuf_t *b, char *old, size_t old_cap)
{
    lt_free(b->a, old, old_cap);
}

int lt_strbuf_append(lt_strbuf_t *b, const char *s, size_t len)
{
    char *old;
    size_t old_cap;
    int rc = strbuf_reserve(b, len, &old, &old_cap);
    if (rc < 0)
        return rc;
    /* s may point into the old storage, which is still mapped until below;
     * len == 0 may come with s == NULL, which memcpy must not see. */
    if (len > 0)
        memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
    strbuf_release_old(b, old, old_cap);
    return 0;
}

int lt_strbuf_puts(lt_strbuf_t *b, const char *s)
{
    return lt_strbuf_append(b, s, strlen(s));
}

int lt_strbuf_printf(lt_strbuf_t *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return LT_EINVAL;
    if ((size_t)n < sizeof(small))
        return lt_strbuf_append(b, small, (size_t)n);
    char *old;
    size_t old_cap;
    int rc = strbuf_reserve(b, (size_t)n, &old, &old_cap);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    strbuf_release_old(b, old, old_cap);
    return 0;
}

void lt_strbuf_clear(lt_strbuf_t *b)
{
    lt_free(b->a, b->data, b->cap);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
