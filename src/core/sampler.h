/* Poisson byte sampling of allocations, as in tcmalloc, Go and memray: every
 * allocated byte is sampled with the same small probability, so an allocation
 * of `size` bytes is sampled with P = 1 - exp(-size / mean), and weighting a
 * sample by size / P makes the sum of the weights of the live samples an
 * unbiased estimate of the live bytes, per site as well as in total. */
#ifndef LT_SAMPLER_H
#define LT_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#define LT_SAMPLER_DEFAULT_MEAN (512u * 1024u)          /* bytes between samples, on average */
#define LT_SAMPLER_MAX_MEAN (UINT64_C(1) << 40)         /* keeps every draw exact in a double */

/* Per-thread state: the caller keeps one in thread-local storage (initial-exec
 * TLS in the hooks), so the fast path touches no shared memory and needs no
 * lock. A zeroed lt_sampler_t is a valid trace-mode sampler (seed 0).
 *
 * `left` is the byte countdown to the next sample: the ceiling of an
 * exponential draw of mean `mean`. An allocation is sampled when its size
 * reaches the countdown, and the countdown is then drawn afresh; since the
 * exponential distribution is memoryless, the countdown an allocation meets
 * is always a fresh draw, whatever came before, so each allocation is sampled
 * independently with exactly the P above. In trace mode (mean 0) `left` stays
 * 0 and every allocation takes the slow path. */
typedef struct lt_sampler {
    uint64_t left;              /* bytes to go before the next sample */
    uint64_t mean;              /* 0 in trace mode */
    uint64_t rng;               /* splitmix64 state */
} lt_sampler_t;

/* Sets up a sampler with the given mean in bytes (0 = trace mode: every
 * allocation is sampled with weight = size) and a seed: the same seed gives
 * the same sequence of decisions. Give each thread a different seed (mix in
 * a thread counter). Returns 0, or LT_EINVAL (sampler left as trace mode)
 * when mean exceeds LT_SAMPLER_MAX_MEAN. Never allocates; any thread. */
int lt_sampler_init(lt_sampler_t *s, uint64_t mean_bytes, uint64_t seed);

/* The slow path of lt_sampler_sample: not to be called directly. */
int lt__sampler_hit(lt_sampler_t *s, size_t size, uint64_t *weight);

/* Decides whether an allocation of `size` bytes is sampled. Returns 1 and
 * sets *weight (the bytes this sample stands for: size / P, rounded; never
 * less than size, and exactly size in trace mode) when it is; returns 0 and
 * leaves *weight alone when it is not. Size 0 is never sampled except in
 * trace mode. Never fails, never allocates, no locks: call it from the
 * allocator hook of the thread that owns `s`. About a nanosecond when not
 * sampled; a sampled call costs one logarithm more. */
static inline int lt_sampler_sample(lt_sampler_t *s, size_t size, uint64_t *weight)
{
    if (__builtin_expect((uint64_t)size < s->left, 1)) {
        s->left -= size;
        return 0;
    }
    return lt__sampler_hit(s, size, weight);
}

/* The weight of a sampled allocation of `size` bytes at the given mean:
 * size / (1 - exp(-size / mean)), rounded to the nearest byte; size itself
 * when mean is 0 or P rounds to 1. Pure; no libm. */
uint64_t lt_sampler_weight(uint64_t mean_bytes, size_t size);

#endif
