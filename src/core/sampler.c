/* lt_sampler: the slow path of Poisson byte sampling, with its own PRNG
 * (splitmix64) and its own logarithm and exponential, so that the hooks need
 * neither libm nor any state outside the sampler. */
#include "sampler.h"
#include "errors.h"

#include <string.h>

#define LN2 0.693147180559945309417232121458176568

/* splitmix64 (Steele, Lea and Flood): one add and a mix per draw, 8 bytes of
 * state, passes BigCrush; plenty for sampling decisions. */
static uint64_t sampler_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* ln(x) for a normal x > 0, to within a few ulps: x = 2^e * m with m in
 * [sqrt(1/2), sqrt(2)), and ln(m) = 2 atanh(z), z = (m - 1) / (m + 1), whose
 * odd series converges fast because |z| < 0.172 (z^2 < 0.03). */
static double sampler_log(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1023) << 52);
    double m;
    memcpy(&m, &bits, sizeof(m));
    if (m > 1.41421356237309504880) {
        m *= 0.5;
        e++;
    }
    double z = (m - 1.0) / (m + 1.0), z2 = z * z;
    /* 1 + z^2/3 + z^4/5 + ... + z^20/21: the next term is below 1e-17. */
    double t = 1.0 / 21;
    for (int k = 19; k >= 1; k -= 2)
        t = t * z2 + 1.0 / k;
    return e * LN2 + 2.0 * z * t;
}

/* 1 - exp(-x) for x >= 0, to within a few ulps, without the cancellation
 * that 1 - exp(-x) suffers for small x (the common case: 16 bytes against a
 * mean of 512 KiB is x = 3e-5). */
static double sampler_one_minus_exp_neg(double x)
{
    if (x < 0.5) {
        /* x (1 - x/2 (1 - x/3 (1 - ...))): terms past x^18/18! are < 1e-21. */
        double t = 1.0;
        for (int k = 18; k >= 2; k--)
            t = 1.0 - x / k * t;
        return x * t;
    }
    if (x > 40.0)
        return 1.0;             /* exp(-40) < 2^-57: 1 - it rounds to 1 */
    /* exp(-x) = 2^-k exp(-r) with r = x - k ln 2 in [0, ln 2). */
    int k = (int)(x / LN2);
    double r = x - k * LN2;
    double t = 1.0;
    for (int j = 20; j >= 1; j--)
        t = 1.0 - r / j * t;
    uint64_t bits = (uint64_t)(1023 - k) << 52;   /* 2^-k, k <= 57 */
    double scale;
    memcpy(&scale, &bits, sizeof(scale));
    return 1.0 - t * scale;
}

/* A countdown: the ceiling of an exponential draw of the given mean. The
 * ceiling keeps P exact: for an integer size, size >= X exactly when
 * size >= ceil(X), and ceil(X) - size = ceil(X - size) is the same memoryless
 * countdown for the next allocation. */
static uint64_t sampler_draw(lt_sampler_t *s)
{
    /* u in (0, 1], so the logarithm is finite: -ln(u) <= 53 ln 2 < 37. */
    double u = (double)((sampler_next(&s->rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double v = -sampler_log(u) * (double)s->mean;
    uint64_t c = (uint64_t)v;
    if ((double)c < v)
        c++;
    /* u = 1 draws 0, which would sample a 0-byte allocation: 2^-53 odds, and
     * the next draw is fresh anyway; 1 keeps "size 0 is never sampled". */
    return c > 0 ? c : 1;
}

int lt_sampler_init(lt_sampler_t *s, uint64_t mean_bytes, uint64_t seed)
{
    /* Hash the seed, so that seeds 1, 2, 3 (a thread counter) give streams
     * as unrelated as random ones. */
    uint64_t state = seed;
    s->rng = sampler_next(&state);
    s->mean = 0;
    s->left = 0;
    if (mean_bytes > LT_SAMPLER_MAX_MEAN)
        return LT_EINVAL;
    s->mean = mean_bytes;
    if (mean_bytes > 0)
        s->left = sampler_draw(s);
    return 0;
}

uint64_t lt_sampler_weight(uint64_t mean_bytes, size_t size)
{
    if (mean_bytes == 0 || size == 0)
        return size;
    double p = sampler_one_minus_exp_neg((double)size / (double)mean_bytes);
    if (p >= 1.0)
        return size;            /* also every size above 2^53: P is 1 there */
    /* size < 40 mean <= 2^46 here, so the quotient fits easily. */
    return (uint64_t)((double)size / p + 0.5);
}

int lt__sampler_hit(lt_sampler_t *s, size_t size, uint64_t *weight)
{
    if (s->mean == 0) {
        *weight = size;
        return 1;
    }
    *weight = lt_sampler_weight(s->mean, size);
    s->left = sampler_draw(s);
    return 1;
}
