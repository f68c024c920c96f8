/* The pointer hash shared by lt_ptrset and lt_ptrmap. */
#ifndef LT_PTRHASH_H
#define LT_PTRHASH_H

#include <stdint.h>

/* Objects are at least 8-byte aligned, so the low bits carry nothing; a
 * Fibonacci multiply spreads the rest over the table's top bits. */
static inline size_t lt_ptr_hash(const void *p, unsigned shift)
{
    uint64_t x = (uint64_t)(uintptr_t)p >> 3;
    return (size_t)((x * UINT64_C(0x9E3779B97F4A7C15)) >> shift);
}

#endif
