/* lt_addrset: a chunked address bitmap. */
#include "addrset.h"
#include "errors.h"

#include <string.h>

#define CHUNK_MASK (((uintptr_t)1 << LT_ADDRSET_CHUNK_SHIFT) - 1)

void lt_addrset_init(lt_addrset_t *s, const lt_alloc_t *a)
{
    lt_arena_init(&s->bitmaps, a);
    lt_ptrmap_init(&s->chunks, a);
    memset(s->cache_base, 0, sizeof(s->cache_base));
    memset(s->cache_bits, 0, sizeof(s->cache_bits));
    s->len = 0;
}

static inline size_t cache_slot(uintptr_t base)
{
    return (size_t)(base >> LT_ADDRSET_CHUNK_SHIFT) & (LT_ADDRSET_CACHE - 1);
}

/* The bitmap of the chunk at `base`, or NULL when there is none yet. */
static uint64_t *addrset_chunk(lt_addrset_t *s, uintptr_t base)
{
    size_t slot = cache_slot(base);
    if (s->cache_base[slot] == base)
        return s->cache_bits[slot];
    /* Chunk 0 (the first MiB) is never a key: no object lives there, and
     * base 0 marks an empty cache slot. */
    uint64_t *v = base != 0 ? lt_ptrmap_get(&s->chunks, (const void *)base) : NULL;
    if (v == NULL)
        return NULL;
    s->cache_base[slot] = base;
    s->cache_bits[slot] = (uint64_t *)(uintptr_t)*v;
    return s->cache_bits[slot];
}

int lt_addrset_add(lt_addrset_t *s, const void *p)
{
    uintptr_t addr = (uintptr_t)p;
    if (addr == 0 || (addr & 7) != 0)
        return LT_EINVAL;
    uintptr_t base = addr & ~CHUNK_MASK;
    if (base == 0)
        return LT_EINVAL;
    uint64_t *bits = addrset_chunk(s, base);
    if (bits == NULL) {
        bits = lt_arena_alloc(&s->bitmaps, LT_ADDRSET_CHUNK_WORDS * sizeof(uint64_t));
        if (bits == NULL)
            return LT_ENOMEM;
        /* On failure the bitmap stays in the arena unused until clear:
         * harmless, and the set itself is unchanged. */
        uint64_t *slot = lt_ptrmap_upsert(&s->chunks, (const void *)base, 0, NULL);
        if (slot == NULL)
            return LT_ENOMEM;
        *slot = (uint64_t)(uintptr_t)bits;
    }
    s->cache_base[cache_slot(base)] = base;
    s->cache_bits[cache_slot(base)] = bits;
    size_t word = (size_t)((addr & CHUNK_MASK) >> LT_ADDRSET_GRANULE_SHIFT);
    uint64_t bit = UINT64_C(1) << (word & 63);
    uint64_t *w = &bits[word >> 6];
    if (*w & bit)
        return 0;
    *w |= bit;
    s->len++;
    return 1;
}

int lt_addrset_has(const lt_addrset_t *s, const void *p)
{
    uintptr_t addr = (uintptr_t)p;
    if (addr == 0 || (addr & 7) != 0)
        return 0;
    /* The cache is not used here, so that has() stays const and can be
     * called on a shared checkpoint. */
    uintptr_t base = addr & ~CHUNK_MASK;
    const uint64_t *v = base != 0 ? lt_ptrmap_get(&s->chunks, (const void *)base) : NULL;
    const uint64_t *bits = v == NULL ? NULL : (const uint64_t *)(uintptr_t)*v;
    if (bits == NULL)
        return 0;
    size_t word = (size_t)((addr & CHUNK_MASK) >> LT_ADDRSET_GRANULE_SHIFT);
    return (bits[word >> 6] >> (word & 63)) & 1;
}

void lt_addrset_clear(lt_addrset_t *s)
{
    lt_arena_release(&s->bitmaps);
    lt_ptrmap_clear(&s->chunks);
    memset(s->cache_base, 0, sizeof(s->cache_base));
    memset(s->cache_bits, 0, sizeof(s->cache_bits));
    s->len = 0;
}

size_t lt_addrset_footprint(const lt_addrset_t *s)
{
    return s->bitmaps.total + s->chunks.cap * sizeof(lt_ptrmap_entry_t);
}
