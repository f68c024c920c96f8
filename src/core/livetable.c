/* lt_livetable: linear probing keyed by address, backward-shift deletion,
 * and the per-stack rows updated alongside. */
#include "livetable.h"
#include "errors.h"
#include "ptrhash.h"

#include <string.h>

#define LIVETABLE_MIN_CAP 64

void lt_livetable_init(lt_livetable_t *t, const lt_alloc_t *a)
{
    t->a = a;
    t->slots = NULL;
    t->cap = 0;
    t->len = 0;
    t->shift = 64;
    lt_sitestats_init(&t->stats, a);
}

/* addr's slot, or the empty slot that ends its probe chain. */
static lt_livetable_slot_t *livetable_find(lt_livetable_slot_t *slots, size_t cap, unsigned shift,
                                           uintptr_t addr)
{
    size_t mask = cap - 1;
    size_t i = lt_ptr_hash((const void *)addr, shift);
    while (slots[i].addr != 0 && slots[i].addr != addr)
        i = (i + 1) & mask;
    return &slots[i];
}

/* Moves every record into `cap` new slots. On failure nothing changes. */
static int livetable_resize(lt_livetable_t *t, size_t cap)
{
    if (cap > SIZE_MAX / sizeof(lt_livetable_slot_t))
        return LT_ENOMEM;
    lt_livetable_slot_t *slots = lt_alloc(t->a, cap * sizeof(*slots));
    if (slots == NULL)
        return LT_ENOMEM;
    unsigned shift = 64;
    for (size_t c = cap; c > 1; c >>= 1)
        shift--;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].addr != 0)
            *livetable_find(slots, cap, shift, t->slots[i].addr) = t->slots[i];
    lt_free(t->a, t->slots, t->cap * sizeof(*slots));
    t->slots = slots;
    t->cap = cap;
    t->shift = shift;
    return 0;
}

static void slot_to_live(const lt_livetable_slot_t *s, lt_live_t *out)
{
    out->size = s->size;
    out->weight = s->weight;
    out->stack = s->stack;
}

int lt_livetable_insert(lt_livetable_t *t, const void *addr, uint64_t size, uint32_t stack, uint64_t weight,
                        lt_live_t *replaced)
{
    uintptr_t key = (uintptr_t)addr;
    if (key == 0)
        return LT_EINVAL;
    /* Everything that can fail comes first; a grown table or row array
     * left behind by a later failure is harmless. */
    int rc = lt_sitestats_reserve(&t->stats, stack);
    if (rc < 0)
        return rc;
    lt_livetable_slot_t *s = NULL;
    if (t->cap > 0) {
        s = livetable_find(t->slots, t->cap, t->shift, key);
        if (s->addr == key) {
            /* A stale record: its free went unseen (before tracking
             * started, say). The new allocation takes its place. */
            if (replaced != NULL)
                slot_to_live(s, replaced);
            lt_sitestats_sub(&t->stats, s->stack, s->weight);
            s->stack = stack;
            s->size = size;
            s->weight = weight;
            lt_sitestats_add(&t->stats, stack, weight);
            return 1;
        }
    }
    /* At most 3/4 full: about 2.5 probes for a hit, 8.5 for a miss. */
    if (t->len + 1 > t->cap / 4 * 3) {
        rc = livetable_resize(t, t->cap ? t->cap * 2 : LIVETABLE_MIN_CAP);
        if (rc < 0)
            return rc;
        s = livetable_find(t->slots, t->cap, t->shift, key);
    }
    s->addr = key;
    s->stack = stack;
    s->unused = 0;
    s->size = size;
    s->weight = weight;
    t->len++;
    lt_sitestats_add(&t->stats, stack, weight);
    return 0;
}

/* Empties slot i and closes the gap: each following record of the cluster
 * that may legally sit at the hole (its home is not between the hole and
 * it) moves back into it, and the hole moves on to where it was. Every
 * probe chain stays unbroken, with no tombstone. */
static void livetable_delete_at(lt_livetable_t *t, size_t i)
{
    lt_livetable_slot_t *slots = t->slots;
    size_t mask = t->cap - 1;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (slots[j].addr == 0)
            break;
        size_t home = lt_ptr_hash((const void *)slots[j].addr, t->shift);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            slots[i] = slots[j];
            i = j;
        }
    }
    memset(&slots[i], 0, sizeof(slots[i]));
}

int lt_livetable_remove(lt_livetable_t *t, const void *addr, lt_live_t *removed)
{
    uintptr_t key = (uintptr_t)addr;
    if (t->cap == 0 || key == 0)
        return 0;
    lt_livetable_slot_t *s = livetable_find(t->slots, t->cap, t->shift, key);
    if (s->addr != key)
        return 0;
    if (removed != NULL)
        slot_to_live(s, removed);
    lt_sitestats_sub(&t->stats, s->stack, s->weight);
    livetable_delete_at(t, (size_t)(s - t->slots));
    t->len--;
    /* Give memory back after a peak, with hysteresis: down to 1/8 full
     * halves the table (to 1/4 full), so a shrink costs O(cap) only after
     * cap/16 removals. If the smaller table cannot be had, keep this one. */
    if (t->cap > LIVETABLE_MIN_CAP && t->len < t->cap / 8)
        (void)livetable_resize(t, t->cap / 2);
    return 1;
}

int lt_livetable_get(const lt_livetable_t *t, const void *addr, lt_live_t *out)
{
    uintptr_t key = (uintptr_t)addr;
    if (t->cap == 0 || key == 0)
        return 0;
    const lt_livetable_slot_t *s = livetable_find(t->slots, t->cap, t->shift, key);
    if (s->addr != key)
        return 0;
    if (out != NULL)
        slot_to_live(s, out);
    return 1;
}

int lt_livetable_next(const lt_livetable_t *t, size_t *pos, const void **addr, lt_live_t *out)
{
    while (*pos < t->cap) {
        const lt_livetable_slot_t *s = &t->slots[(*pos)++];
        if (s->addr != 0) {
            *addr = (const void *)s->addr;
            if (out != NULL)
                slot_to_live(s, out);
            return 1;
        }
    }
    return 0;
}

size_t lt_livetable_footprint(const lt_livetable_t *t)
{
    return t->cap * sizeof(lt_livetable_slot_t) + t->stats.cap * sizeof(lt_sitestat_t);
}

void lt_livetable_clear(lt_livetable_t *t)
{
    lt_free(t->a, t->slots, t->cap * sizeof(lt_livetable_slot_t));
    lt_sitestats_clear(&t->stats);
    lt_livetable_init(t, t->a);
}
