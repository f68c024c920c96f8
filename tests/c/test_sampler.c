/* Tests of lt_sampler: the weight formula against a long-double reference,
 * the per-size sampling probability, unbiased per-site estimates of live
 * bytes for tiny and huge allocations mixed (the point of it all), a small
 * leak that only accumulates still being found, trace mode being exact,
 * reproducibility by seed, and refusal of a mean out of range. */
#include "errors.h"
#include "lt_test.h"
#include "sampler.h"

#include <stdint.h>

/* The test's own generator, independent of the sampler's. */
static uint64_t test_rng = UINT64_C(0x123456789abcdef);
static uint64_t test_next(void)
{
    test_rng ^= test_rng << 13;
    test_rng ^= test_rng >> 7;
    test_rng ^= test_rng << 17;
    return test_rng;
}

/* Newton's square root, so that the test needs no libm either. */
static double test_sqrt(double x)
{
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 100; i++)
        r = 0.5 * (r + x / r);
    return r;
}

/* exp(x) by its all-positive series in long double: slow but free of
 * cancellation, so 1 - 1/exp(x) is a fair reference for 1 - exp(-x). */
static long double ref_exp(long double x)
{
    long double sum = 1, term = 1;
    for (int k = 1; k < 400 && term > sum * 1e-25L; k++) {
        term *= x / k;
        sum += term;
    }
    return sum;
}

static long double ref_weight(uint64_t mean, uint64_t size)
{
    long double x = (long double)size / (long double)mean;
    long double p = x < 1e-3L ? x * (1 - x / 2 * (1 - x / 3 * (1 - x / 4))) : 1 - 1 / ref_exp(x);
    return (long double)size / p;
}

static void test_weight(void)
{
    const uint64_t means[] = {1, 4096, LT_SAMPLER_DEFAULT_MEAN, UINT64_C(1) << 30, LT_SAMPLER_MAX_MEAN};
    const uint64_t sizes[] = {1, 8, 16, 24, 100, 1000, 4096, 65536, 300000, 524288, 1048576, 10u << 20,
                              UINT64_C(1) << 32, UINT64_C(5) << 40};
    for (size_t i = 0; i < sizeof(means) / sizeof(means[0]); i++)
        for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
            uint64_t m = means[i], sz = sizes[j];
            if ((double)sz / (double)m > 60) {
                LT_EQ_UINT(lt_sampler_weight(m, (size_t)sz), sz);
                continue;
            }
            long double want = ref_weight(m, sz);
            long double got = (long double)lt_sampler_weight(m, (size_t)sz);
            long double err = (got - want) / want;
            if (err < 0)
                err = -err;
            /* Rounding to a whole byte is the larger error for small weights. */
            long double allowed = 1e-13L + 0.5L / want;
            if (!LT_CHECK(err <= allowed))
                lt__printf(2, "    mean %ju size %ju: got %.6Lf want %.6Lf\n", (uintmax_t)m, (uintmax_t)sz,
                           got, want);
            LT_GE_UINT(lt_sampler_weight(m, (size_t)sz), sz);
            LT_GE_UINT(lt_sampler_weight(m, (size_t)sz), m);
        }
    LT_EQ_UINT(lt_sampler_weight(0, 12345), 12345);
    LT_EQ_UINT(lt_sampler_weight(512, 0), 0);
    /* Tiny sizes weigh about the mean: 16 B at 512 KiB stands for 512 KiB + 8. */
    LT_EQ_UINT(lt_sampler_weight(LT_SAMPLER_DEFAULT_MEAN, 16), LT_SAMPLER_DEFAULT_MEAN + 8);
    LT_EQ_UINT(lt_sampler_weight(UINT64_C(1) << 20, SIZE_MAX), SIZE_MAX);
}

/* Each allocation of size s is sampled independently with P = 1 - exp(-s/m):
 * the observed rate over many calls matches for sizes below, at and above
 * the mean, and the rate of 2 * m-byte allocations is independent of the
 * preceding allocation being sampled (memorylessness). */
static void test_probability(void)
{
    const uint64_t m = 4096;
    const struct { uint64_t size; double p; } cases[] = {
        {64, 0.015503562}, {2048, 0.393469340}, {4096, 0.632120559}, {8192, 0.864664717},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        lt_sampler_t s;
        LT_EQ_INT(lt_sampler_init(&s, m, 42 + c), 0);
        const long n = 1000000;
        long hits = 0;
        uint64_t w = 0;
        for (long i = 0; i < n; i++)
            hits += lt_sampler_sample(&s, (size_t)cases[c].size, &w);
        double rate = (double)hits / (double)n;
        /* 5 standard deviations of a binomial proportion. */
        double sd = test_sqrt(cases[c].p * (1 - cases[c].p) / (double)n);
        if (!LT_CHECK(rate > cases[c].p - 5 * sd && rate < cases[c].p + 5 * sd))
            lt__printf(2, "    size %ju: rate %.6f want %.6f\n", (uintmax_t)cases[c].size, rate, cases[c].p);
    }
    /* Conditional rates: after a sampled 2 KiB allocation, and after one
     * that was not, the next is sampled with the same P. */
    lt_sampler_t s;
    lt_sampler_init(&s, m, 7);
    long after_hit = 0, after_hit_n = 0, after_miss = 0, after_miss_n = 0;
    uint64_t w;
    int prev = lt_sampler_sample(&s, 2048, &w);
    for (long i = 0; i < 1000000; i++) {
        int cur = lt_sampler_sample(&s, 2048, &w);
        if (prev) {
            after_hit += cur;
            after_hit_n++;
        } else {
            after_miss += cur;
            after_miss_n++;
        }
        prev = cur;
    }
    double r1 = (double)after_hit / (double)after_hit_n, r0 = (double)after_miss / (double)after_miss_n;
    LT_CHECK(r1 > 0.385 && r1 < 0.402);
    LT_CHECK(r0 > 0.385 && r0 < 0.402);
}

/* The countdown's mean is the configured mean: the average gap, in bytes,
 * between samples of 1-byte allocations. */
static void test_mean_gap(void)
{
    lt_sampler_t s;
    LT_EQ_INT(lt_sampler_init(&s, 1000, 99), 0);
    uint64_t bytes = 0, samples = 0, w;
    while (samples < 200000) {
        bytes++;
        samples += (uint64_t)lt_sampler_sample(&s, 1, &w);
    }
    double gap = (double)bytes / (double)samples;
    /* The sd of a mean of 2e5 exponential gaps is about 0.22 % of it. */
    if (!LT_CHECK(gap > 990 && gap < 1010))
        lt__printf(2, "    mean gap %.2f\n", gap);
}

/* Sites of a simulated program: allocations at each site are interleaved at
 * random, some are freed again, and the estimate of each site's live bytes
 * (the sum of the weights of its live samples) is within 10 % of the truth.
 * Each site holds more than a thousand mean-sized blocks' worth of bytes,
 * so the standard error is about 3 % and 10 % is over three of them. */
struct site {
    uint64_t size;              /* 0: a random size from 1 to 2 * the small size */
    uint64_t count;             /* allocations */
    unsigned freed_pct;         /* share of them freed again */
    uint64_t true_live;
    long double est_live;
    uint64_t samples;
};

static void run_sites(struct site *sites, size_t nsites, uint64_t mean, uint64_t seed)
{
    lt_sampler_t s;
    lt_sampler_init(&s, mean, seed);
    uint64_t remaining[16], total = 0;
    for (size_t i = 0; i < nsites; i++) {
        remaining[i] = sites[i].count;
        total += sites[i].count;
        sites[i].true_live = 0;
        sites[i].est_live = 0;
        sites[i].samples = 0;
    }
    /* Pick the next site with probability proportional to what it has left,
     * so the streams interleave evenly to the end. */
    while (total > 0) {
        uint64_t r = test_next() % total, i = 0;
        while (r >= remaining[i]) {
            r -= remaining[i];
            i++;
        }
        remaining[i]--;
        total--;
        struct site *st = &sites[i];
        uint64_t size = st->size ? st->size : 1 + test_next() % 32;
        int freed = test_next() % 100 < st->freed_pct;
        uint64_t w = 0;
        int hit = lt_sampler_sample(&s, (size_t)size, &w);
        if (hit)
            st->samples++;
        if (!freed) {
            st->true_live += size;
            if (hit)
                st->est_live += (long double)w;
        }
    }
}

static void check_site(const struct site *st, double tolerance)
{
    long double ratio = st->est_live / (long double)st->true_live;
    if (!LT_CHECK(ratio > 1 - tolerance && ratio < 1 + tolerance))
        lt__printf(2, "    site of size %ju: true %ju est %.0Lf (%.3Lf), %ju samples\n", (uintmax_t)st->size,
                   (uintmax_t)st->true_live, st->est_live, ratio, (uintmax_t)st->samples);
}

static void test_sites_unbiased(void)
{
    struct site sites[] = {
        {16, 64u << 20, 50, 0, 0, 0},            /* 1 GiB of 16 B blocks, half freed */
        {1u << 20, 1500, 0, 0, 0, 0},            /* 1.5 GiB of 1 MiB blocks */
        {1u << 20, 3000, 50, 0, 0, 0},           /* the same, half of them freed */
        {0, 48u << 20, 30, 0, 0, 0},             /* random 1..32 B, 70 % kept */
        {4096, 200000, 20, 0, 0, 0},             /* 780 MiB of pages */
        {300000, 4000, 10, 0, 0, 0},             /* just under the mean */
    };
    size_t n = sizeof(sites) / sizeof(sites[0]);
    run_sites(sites, n, LT_SAMPLER_DEFAULT_MEAN, 2024);
    for (size_t i = 0; i < n; i++)
        check_site(&sites[i], 0.10);
}

/* A leak of many tiny blocks is found among much bigger traffic: 8 M blocks
 * of 16 B (128 MiB, 256 samples expected) next to 2 GiB of big blocks that
 * are all freed again. Its estimate is within 20 % (about 3 sd). */
static void test_small_leak_found(void)
{
    struct site sites[] = {
        {16, 8u << 20, 0, 0, 0, 0},
        {1u << 20, 2048, 100, 0, 0, 0},
        {200, 1u << 20, 100, 0, 0, 0},
    };
    run_sites(sites, 3, LT_SAMPLER_DEFAULT_MEAN, 77);
    LT_GT_UINT(sites[0].samples, 150);
    check_site(&sites[0], 0.20);
    LT_EQ_UINT(sites[1].true_live, 0);
}

static void test_trace_mode(void)
{
    lt_sampler_t s;
    LT_EQ_INT(lt_sampler_init(&s, 0, 5), 0);
    uint64_t total = 0, weighted = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        uint64_t size = test_next() % 5000, w = UINT64_MAX;
        if (!LT_EQ_INT(lt_sampler_sample(&s, (size_t)size, &w), 1))
            break;
        LT_EQ_UINT(w, size);
        total += size;
        weighted += w;
    }
    LT_EQ_UINT(weighted, total);
    /* A zeroed sampler is trace mode too. */
    lt_sampler_t z = {0, 0, 0};
    uint64_t w = 1;
    LT_EQ_INT(lt_sampler_sample(&z, 0, &w), 1);
    LT_EQ_UINT(w, 0);
}

static void test_reproducible(void)
{
    lt_sampler_t a, b, c;
    lt_sampler_init(&a, 4096, 1);
    lt_sampler_init(&b, 4096, 1);
    lt_sampler_init(&c, 4096, 2);
    long same_ab = 0, same_ac = 0, hits = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t wa = 0, wb = 0, wc = 0;
        int ha = lt_sampler_sample(&a, 1024, &wa);
        int hb = lt_sampler_sample(&b, 1024, &wb);
        int hc = lt_sampler_sample(&c, 1024, &wc);
        same_ab += ha == hb && wa == wb;
        same_ac += ha == hc;
        hits += ha;
    }
    LT_EQ_INT(same_ab, 100000);
    LT_LT_INT(same_ac, 100000 * 9 / 10);     /* independent streams agree ~65 % */
    LT_GT_INT(hits, 0);
}

static void test_size_zero_and_bad_mean(void)
{
    lt_sampler_t s;
    LT_EQ_INT(lt_sampler_init(&s, 1, 3), 0);
    uint64_t w = 0;
    long hits = 0;
    for (int i = 0; i < 100000; i++)
        hits += lt_sampler_sample(&s, 0, &w);
    LT_EQ_INT(hits, 0);
    /* With a 1-byte mean nearly every byte is sampled. */
    LT_EQ_INT(lt_sampler_sample(&s, 1000, &w), 1);
    LT_EQ_UINT(w, 1000);
    LT_EQ_INT(lt_sampler_init(&s, LT_SAMPLER_MAX_MEAN + 1, 3), LT_EINVAL);
    LT_EQ_UINT(s.mean, 0);
    LT_EQ_INT(lt_sampler_sample(&s, 10, &w), 1);
    LT_EQ_UINT(w, 10);
    LT_EQ_INT(lt_sampler_init(&s, LT_SAMPLER_MAX_MEAN, 3), 0);
    LT_GE_UINT(s.left, 1);
    LT_EQ_INT(lt_sampler_sample(&s, SIZE_MAX, &w), 1);
    LT_EQ_UINT(w, SIZE_MAX);
}

int main(void)
{
    LT_RUN(test_weight);
    LT_RUN(test_probability);
    LT_RUN(test_mean_gap);
    LT_RUN(test_sites_unbiased);
    LT_RUN(test_small_leak_found);
    LT_RUN(test_trace_mode);
    LT_RUN(test_reproducible);
    LT_RUN(test_size_zero_and_bad_mean);
    return lt_test_done();
}
