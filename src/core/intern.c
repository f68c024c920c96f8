/* lt_intern: records in an arena, found by id through segments that never
 * move and by content through an open-addressing index (linear probing). */
#include "intern.h"
#include "errors.h"

#include <string.h>

#define SEG0 ((size_t)1 << LT_INTERN_SEG0_SHIFT)
#define INDEX_MIN_CAP 64

/* A record: its header, then the bytes and a NUL. The arena hands out
 * 16-byte aligned blocks, so the bytes are 8-byte aligned. */
struct lt_intern_rec {
    uint32_t len;
    uint32_t hash;              /* the top half of the 64-bit hash */
    unsigned char bytes[];
};

/* A byte hash reading 8 bytes a step: multiply-xorshift per word, then
 * murmur3's finalizer. The keys come from the traced process (frame ids,
 * names), not from an adversary, so speed wins over flood resistance. */
static uint64_t intern_hash(const unsigned char *p, size_t len)
{
    const uint64_t k = UINT64_C(0x9E3779B97F4A7C15);
    uint64_t h = UINT64_C(0x243F6A8885A308D3) ^ ((uint64_t)len * k);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * k;
        h ^= h >> 32;
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h = (h ^ w) * k;
        h ^= h >> 32;
    }
    h ^= h >> 33;
    h *= UINT64_C(0xFF51AFD7ED558CCD);
    h ^= h >> 33;
    h *= UINT64_C(0xC4CEB9FE1A85EC53);
    h ^= h >> 33;
    return h;
}

/* Segment s holds the SEG0 << s records from index SEG0 * (2^s - 1) on. */
static unsigned seg_of(size_t idx, size_t *off)
{
    size_t q = (idx >> LT_INTERN_SEG0_SHIFT) + 1;
    unsigned s = 63u - (unsigned)__builtin_clzll((unsigned long long)q);
    *off = idx - ((((size_t)1 << s) - 1) << LT_INTERN_SEG0_SHIFT);
    return s;
}

static size_t seg_bytes(unsigned s)
{
    return (SEG0 << s) * sizeof(lt_intern_rec_t *);
}

static lt_intern_rec_t *intern_rec(const lt_intern_t *t, uint32_t id)
{
    size_t off;
    unsigned s = seg_of((size_t)id - 1, &off);
    return t->segs[s][off];
}

void lt_intern_init(lt_intern_t *t, const lt_alloc_t *a)
{
    t->a = a;
    lt_arena_init(&t->data, a);
    memset(t->segs, 0, sizeof(t->segs));
    t->index = NULL;
    t->cap = 0;
    t->shift = 32;
    t->len = 0;
}

/* The slot holding these bytes, or the empty slot where they would go. */
static uint64_t *intern_probe(const lt_intern_t *t, const void *bytes, size_t len, uint32_t h32)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)(h32 >> t->shift);
    for (;;) {
        uint64_t *slot = &t->index[i];
        if (*slot == 0)
            return slot;
        if ((uint32_t)(*slot >> 32) == h32) {
            const lt_intern_rec_t *r = intern_rec(t, (uint32_t)*slot);
            if (r->len == len && (len == 0 || memcmp(r->bytes, bytes, len) == 0))
                return slot;
        }
        i = (i + 1) & mask;
    }
}

/* Rebuilds the index at `cap` slots from the records. On failure the old
 * index stays. */
static int intern_resize(lt_intern_t *t, size_t cap)
{
    uint64_t *index = lt_alloc(t->a, cap * sizeof(*index));
    if (index == NULL)
        return LT_ENOMEM;
    unsigned shift = 32;
    for (size_t c = cap; c > 1; c >>= 1)
        shift--;
    size_t mask = cap - 1;
    for (uint32_t id = 1; id <= t->len; id++) {
        uint32_t h32 = intern_rec(t, id)->hash;
        size_t i = (size_t)(h32 >> shift);
        while (index[i] != 0)
            i = (i + 1) & mask;
        index[i] = (uint64_t)h32 << 32 | id;
    }
    lt_free(t->a, t->index, t->cap * sizeof(*index));
    t->index = index;
    t->cap = cap;
    t->shift = shift;
    return 0;
}

int lt_intern_get_or_add(lt_intern_t *t, const void *bytes, size_t len, uint32_t *id, int *added)
{
    int rc = 0;
    *id = 0;
    if (added != NULL)
        *added = 0;
    if (bytes == NULL && len > 0)
        return LT_EINVAL;
    if (len > UINT32_MAX)
        return LT_ERANGE;
    uint32_t h32 = (uint32_t)(intern_hash(bytes, len) >> 32);
    if (t->cap > 0) {
        uint64_t *slot = intern_probe(t, bytes, len, h32);
        if (*slot != 0) {
            *id = (uint32_t)*slot;
            return 0;
        }
    }
    if (t->len >= LT_INTERN_MAX_IDS)
        return LT_ERANGE;
    /* Make every allocation before changing anything: a bigger index or a
     * new segment left over by a later failure is harmless. The index is
     * kept at most 3/4 full: slots carry 32 bits of the hash, so a probe
     * rarely looks at a record that does not match. */
    if ((size_t)t->len + 1 > t->cap / 4 * 3) {
        size_t cap = t->cap ? t->cap * 2 : INDEX_MIN_CAP;
        rc = intern_resize(t, cap);
        if (rc < 0)
            goto error;
    }
    size_t off;
    unsigned s = seg_of(t->len, &off);
    if (t->segs[s] == NULL) {
        t->segs[s] = lt_alloc(t->a, seg_bytes(s));
        if (t->segs[s] == NULL) {
            rc = LT_ENOMEM;
            goto error;
        }
    }
    lt_intern_rec_t *r = lt_arena_alloc(&t->data, sizeof(*r) + len + 1);
    if (r == NULL) {
        rc = LT_ENOMEM;
        goto error;
    }
    r->len = (uint32_t)len;
    r->hash = h32;
    if (len > 0)
        memcpy(r->bytes, bytes, len);
    r->bytes[len] = '\0';
    t->segs[s][off] = r;
    t->len++;
    *intern_probe(t, bytes, len, h32) = (uint64_t)h32 << 32 | t->len;
    *id = t->len;
    if (added != NULL)
        *added = 1;
    return 0;
error:
    return rc;
}

uint32_t lt_intern_find(const lt_intern_t *t, const void *bytes, size_t len)
{
    if (t->cap == 0 || (bytes == NULL && len > 0) || len > UINT32_MAX)
        return 0;
    uint32_t h32 = (uint32_t)(intern_hash(bytes, len) >> 32);
    return (uint32_t)*intern_probe(t, bytes, len, h32);
}

const void *lt_intern_get(const lt_intern_t *t, uint32_t id, size_t *len)
{
    if (id == 0 || id > t->len)
        return NULL;
    const lt_intern_rec_t *r = intern_rec(t, id);
    if (len != NULL)
        *len = r->len;
    return r->bytes;
}

size_t lt_intern_footprint(const lt_intern_t *t)
{
    size_t total = t->data.total + t->cap * sizeof(uint64_t);
    for (unsigned s = 0; s < LT_INTERN_SEGMENTS; s++)
        if (t->segs[s] != NULL)
            total += seg_bytes(s);
    return total;
}

void lt_intern_clear(lt_intern_t *t)
{
    for (unsigned s = 0; s < LT_INTERN_SEGMENTS; s++)
        lt_free(t->a, t->segs[s], seg_bytes(s));
    lt_free(t->a, t->index, t->cap * sizeof(uint64_t));
    lt_arena_release(&t->data);
    lt_intern_init(t, t->a);
}
