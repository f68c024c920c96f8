/* A growable, NUL-terminated character buffer on an injected allocator:
 * labels, dot output, report text. */
#ifndef LT_STRBUF_H
#define LT_STRBUF_H

#include "alloc.h"

#include <stdarg.h>
#include <stddef.h>

typedef struct lt_strbuf {
    const lt_alloc_t *a;
    char *data;                 /* NULL until the first append; then NUL-terminated */
    size_t len;
    size_t cap;
} lt_strbuf_t;

void lt_strbuf_init(lt_strbuf_t *b, const lt_alloc_t *a);
/* Each append returns 0, or LT_ENOMEM with the buffer unchanged. append and
 * puts may copy from the buffer's own text (s may point into b->data); s may
 * be NULL when len is 0. printf's arguments must not point into the buffer
 * (as with sprintf); it returns LT_EINVAL, unchanged, when the format cannot
 * be rendered (vsnprintf fails). */
int lt_strbuf_append(lt_strbuf_t *b, const char *s, size_t len);
int lt_strbuf_puts(lt_strbuf_t *b, const char *s);
int lt_strbuf_printf(lt_strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the text ("" when empty); valid until the next append or clear. */
static inline const char *lt_strbuf_str(const lt_strbuf_t *b) { return b->data ? b->data : ""; }
/* Forgets the text but keeps the storage. */
static inline void lt_strbuf_reset(lt_strbuf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}
void lt_strbuf_clear(lt_strbuf_t *b);

#endif
