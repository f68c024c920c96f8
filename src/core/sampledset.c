/* lt_sampledset: the writer's side of the lock-free radix bitmap (nodes
 * made and published on demand, bits set and cleared), init and clear. */
#include "sampledset.h"
#include "errors.h"

#include <string.h>

typedef _Atomic(uintptr_t) sampledset_ptr_t;
typedef _Atomic(uint64_t) sampledset_word_t;

#define NODE_MASK ((uintptr_t)LT_SAMPLEDSET_NODE_LEN - 1)
#define NODE_BYTES (LT_SAMPLEDSET_NODE_LEN * sizeof(sampledset_ptr_t))
#define LEAF_BYTES (LT_SAMPLEDSET_LEAF_WORDS * sizeof(sampledset_word_t))

void lt_sampledset_init(lt_sampledset_t *s, const lt_alloc_t *a)
{
    for (size_t i = 0; i < LT_SAMPLEDSET_NODE_LEN; i++)
        atomic_init(&s->root[i], 0);
    for (size_t i = 0; i < LT_SAMPLEDSET_FILTER_LEN; i++)
        atomic_init(&s->filter[i], 0);
    lt_arena_init(&s->nodes, a);
    s->len = 0;
}

/* The child at parent[i], made (zeroed, from the arena) and published if
 * absent and `make`; 0 when absent and not made. Only the lock holder
 * stores to parent[], so a relaxed load of its own earlier store is enough;
 * the release store makes the zeroed child visible before the pointer to
 * it, for readers that acquire-load the pointer. */
static uintptr_t sampledset_child(sampledset_ptr_t *parent, size_t i, size_t bytes, lt_sampledset_t *s,
                                  int make)
{
    uintptr_t c = atomic_load_explicit(&parent[i], memory_order_relaxed);
    if (c != 0 || !make)
        return c;
    void *mem = lt_arena_alloc(&s->nodes, bytes);
    if (mem == NULL)
        return 0;
    /* The arena's memory is zero, which is how a zero atomic word or
     * pointer is represented on every platform we build for; writing it
     * again (atomic_init) would touch every page of a 16 KiB node of which
     * a sparse heap uses one pointer. */
    c = (uintptr_t)mem;
    atomic_store_explicit(&parent[i], c, memory_order_release);
    return c;
}

/* The word holding p's bit, making the path to it if `make`; NULL when the
 * path is absent (and not made, or could not be made). */
static sampledset_word_t *sampledset_word(lt_sampledset_t *s, uintptr_t a, int make)
{
    uintptr_t n = sampledset_child(s->root, (size_t)(a >> LT_SAMPLEDSET_L1_SHIFT), NODE_BYTES, s, make);
    if (n == 0)
        return NULL;
    n = sampledset_child((sampledset_ptr_t *)n, (size_t)((a >> LT_SAMPLEDSET_L2_SHIFT) & NODE_MASK), NODE_BYTES,
                         s, make);
    if (n == 0)
        return NULL;
    n = sampledset_child((sampledset_ptr_t *)n, (size_t)((a >> LT_SAMPLEDSET_L3_SHIFT) & NODE_MASK), LEAF_BYTES,
                         s, make);
    if (n == 0)
        return NULL;
    uintptr_t bit = (a >> LT_SAMPLEDSET_GRANULE_SHIFT) & ((1u << LT_SAMPLEDSET_LEAF_SHIFT) - 1);
    return &((sampledset_word_t *)n)[bit >> 6];
}

/* The filter byte of a's page goes up with each member added there and
 * down with each removed, except once it has reached 255: then it stays,
 * as the count it stands for is no longer known. Writers hold the lock;
 * the byte is stored before the bit, both before p reaches the program. */
#define FILTER_STUCK 255u

static void filter_add(lt_sampledset_t *s, uintptr_t a)
{
    _Atomic(uint8_t) *f = &s->filter[lt__sampledset_bucket(a)];
    unsigned v = atomic_load_explicit(f, memory_order_relaxed);
    if (v < FILTER_STUCK)
        atomic_store_explicit(f, (uint8_t)(v + 1), memory_order_relaxed);
}

static void filter_remove(lt_sampledset_t *s, uintptr_t a)
{
    _Atomic(uint8_t) *f = &s->filter[lt__sampledset_bucket(a)];
    unsigned v = atomic_load_explicit(f, memory_order_relaxed);
    if (v > 0 && v < FILTER_STUCK)
        atomic_store_explicit(f, (uint8_t)(v - 1), memory_order_relaxed);
}

static uint64_t sampledset_bit(uintptr_t a)
{
    return UINT64_C(1) << ((a >> LT_SAMPLEDSET_GRANULE_SHIFT) & 63);
}

int lt_sampledset_add(lt_sampledset_t *s, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a == 0 || (a & (((uintptr_t)1 << LT_SAMPLEDSET_GRANULE_SHIFT) - 1)) != 0)
        return LT_EINVAL;
    if (a >> LT_SAMPLEDSET_ADDR_BITS)
        return 0;
    /* A failure part way leaves empty nodes published: harmless, they
     * answer "no" like absent ones, and the next add uses them. */
    sampledset_word_t *w = sampledset_word(s, a, 1);
    if (w == NULL)
        return LT_ENOMEM;
    /* One writer at a time (the lock), so load and store need no
     * read-modify-write; relaxed is enough because the allocation reaches
     * any other thread only through the program's own synchronization,
     * which orders this store before that thread's free and its load. */
    uint64_t bit = sampledset_bit(a);
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
    if (old & bit)
        return 0;
    filter_add(s, a);
    atomic_store_explicit(w, old | bit, memory_order_relaxed);
    s->len++;
    return 1;
}

int lt_sampledset_remove(lt_sampledset_t *s, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a == 0 || (a & (((uintptr_t)1 << LT_SAMPLEDSET_GRANULE_SHIFT) - 1)) != 0 || (a >> LT_SAMPLEDSET_ADDR_BITS))
        return 0;
    sampledset_word_t *w = sampledset_word(s, a, 0);
    if (w == NULL)
        return 0;
    uint64_t bit = sampledset_bit(a);
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
    if (!(old & bit))
        return 0;
    atomic_store_explicit(w, old & ~bit, memory_order_relaxed);
    filter_remove(s, a);
    s->len--;
    return 1;
}

size_t lt_sampledset_footprint(const lt_sampledset_t *s)
{
    return sizeof(*s) + s->nodes.total;
}

void lt_sampledset_clear(lt_sampledset_t *s)
{
    lt_arena_release(&s->nodes);
    for (size_t i = 0; i < LT_SAMPLEDSET_NODE_LEN; i++)
        atomic_store_explicit(&s->root[i], 0, memory_order_relaxed);
    for (size_t i = 0; i < LT_SAMPLEDSET_FILTER_LEN; i++)
        atomic_store_explicit(&s->filter[i], 0, memory_order_relaxed);
    s->len = 0;
}
