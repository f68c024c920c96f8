/* Tests of lt_trend on synthetic series from a fixed generator (10 s at 10
 * checkpoints/s unless said otherwise): linear growth (slope within 5 %),
 * a slow leak inside a +-1 MB sawtooth and inside random churn (found),
 * warm-up then plateau, a bounded LRU filling late, big temporaries, flat
 * noise, shrinking, one-time steps, exponential saturation (none of them a
 * confident growth), too short (with advice), Mann-Kendall against hand
 * computed values, Theil-Sen against outliers, subsampling of long series,
 * determinism, bad input and every allocation failure. */
#include "alloc.h"
#include "errors.h"
#include "lt_test.h"
#include "trend.h"

#include <math.h>
#include <stdint.h>

#define N 101           /* 0 .. 10 s at 0.1 s */
#define MB 1e6

static uint64_t rng;
static void seed(uint64_t s) { rng = s * UINT64_C(0x9E3779B97F4A7C15) + 1; }
static double unif(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
/* Irwin-Hall: close enough to a standard normal for noise. */
static double gauss(void)
{
    double s = 0;
    for (int i = 0; i < 12; i++)
        s += unif();
    return s - 6;
}

static double t[8192], v[8192];

static void times(size_t n, double dt)
{
    for (size_t i = 0; i < n; i++)
        t[i] = (double)i * dt;
}

static lt_trend_opts_t opts(double min_growth)
{
    lt_trend_opts_t o;
    lt_trend_opts_init(&o, &lt_test_heap);
    o.min_growth = min_growth;
    return o;
}

static lt_trend_t run(size_t n, const lt_trend_opts_t *o)
{
    lt_trend_t r;
    int rc = lt_trend_analyze(t, v, n, o, &r);
    LT_EQ_INT(rc, 0);
    return r;
}

static int confident_growth(const lt_trend_t *r) { return r->verdict == LT_TREND_GROWING && r->confidence >= 0.5; }

static void test_linear(void)
{
    lt_trend_opts_t o = opts(64 * 1024);
    for (uint64_t s = 1; s <= 20; s++) {
        seed(s);
        times(N, 0.1);
        for (size_t i = 0; i < N; i++)
            v[i] = 50 * MB + 100e3 * t[i] + 20e3 * gauss();
        lt_trend_t r = run(N, &o);
        LT_EQ_INT(r.verdict, LT_TREND_GROWING);
        LT_LT_INT(fabs(r.slope - 100e3), 0.05 * 100e3);
        LT_LE_INT(r.slope_lo, r.slope);
        LT_GE_INT(r.slope_hi, r.slope);
        LT_LT_INT(r.slope_lo, 100e3 + 1);
        LT_GT_INT(r.slope_hi, 100e3 - 1);
        LT_GE_INT(r.confidence * 100, 80);
        LT_EQ_UINT(r.start, 0);
        LT_EQ_INT(r.churn, 0);
        LT_GT_INT(r.raw.z_eff, 2.33);
        LT_LT_INT(r.raw.p * 1e6, 1);
        LT_EQ_INT(r.needed_s, 0);
    }
}

/* ~200 B per request at 1000 requests/s is 200 KB/s; the request churn is a
 * +-1 MB sawtooth (a buffer filled and dropped) at periods that do and do
 * not alias with the checkpoints, plus a little noise. */
static void test_slow_leak_in_sawtooth(void)
{
    lt_trend_opts_t o = opts(64 * 1024);
    const double periods[] = {0.37, 0.7, 1.3};
    for (size_t p = 0; p < 3; p++)
        for (uint64_t s = 1; s <= 10; s++) {
            seed(s * 7 + p);
            double phase = unif();
            times(N, 0.1);
            for (size_t i = 0; i < N; i++) {
                double ph = fmod(t[i] / periods[p] + phase, 1.0);
                v[i] = 80 * MB + 200e3 * t[i] + (2 * MB * ph - 1 * MB) + 10e3 * gauss();
            }
            lt_trend_t r = run(N, &o);
            LT_CHECK(confident_growth(&r));
            LT_LT_INT(fabs(r.slope - 200e3), 0.25 * 200e3);
            if (p > 0) {
                /* Teeth longer than 5 checkpoints: decided on the troughs. */
                LT_EQ_INT(r.churn, 1);
                LT_GE_UINT(r.drops, 5);
                LT_GE_UINT(r.troughs.n, 5);
                LT_GT_INT(r.giveback * 100, 50);
            }
        }
}

static void test_slow_leak_in_random_churn(void)
{
    lt_trend_opts_t o = opts(64 * 1024);
    int found = 0;
    for (uint64_t s = 1; s <= 40; s++) {
        seed(s + 100);
        times(N, 0.1);
        for (size_t i = 0; i < N; i++)
            v[i] = 80 * MB + 200e3 * t[i] + (2 * MB * unif() - 1 * MB);
        lt_trend_t r = run(N, &o);
        found += confident_growth(&r);
    }
    /* Measured 95 % over 400 seeds; these 40 are fixed. */
    LT_GE_INT(found, 36);
}

/* Controls: none may be a confident growth. */
typedef enum { WARM_PLATEAU, LRU_LATE, EXP_SAT, TEMPORARIES, SAWTOOTH, FLAT, STEP_EARLY, STEP_LATE } control_t;

static void control(control_t c, double x, double phase)
{
    double y = 50 * MB;
    switch (c) {
    case WARM_PLATEAU: y += (x < 3 ? x / 3 : 1) * 10 * MB; break;
    case LRU_LATE: y += (x < 6 ? x / 6 : 1) * 10 * MB; break;
    case EXP_SAT: y += 10 * MB * (1 - exp(-x / 1.5)); break;
    case TEMPORARIES: y += fmod(x / 1.4 + phase, 1.0) < 0.25 ? 50 * MB : 0; break;
    case SAWTOOTH: y += fmod(x / 1.4 + phase, 1.0) * 20 * MB; break;
    case FLAT: break;
    case STEP_EARLY: y += x < 3 ? 0 : 10 * MB; break;
    case STEP_LATE: y += x < 7 ? 0 : 10 * MB; break;
    }
    v[(size_t)llround(x * 10)] = y + 50e3 * gauss();
}

static void check_control(control_t c, lt_trend_verdict_t expect, int any_of_flat_plateau)
{
    lt_trend_opts_t o = opts(256 * 1024);
    for (uint64_t s = 1; s <= 20; s++) {
        seed(s * 31 + (uint64_t)c);
        double phase = unif();
        times(N, 0.1);
        for (size_t i = 0; i < N; i++)
            control(c, t[i], phase);
        lt_trend_t r = run(N, &o);
        LT_CHECK(!confident_growth(&r));
        if (any_of_flat_plateau)
            LT_CHECK(r.verdict == LT_TREND_FLAT || r.verdict == LT_TREND_PLATEAU ||
                     (r.verdict == LT_TREND_GROWING && r.confidence < 0.5));
        else
            LT_EQ_INT(r.verdict, expect);
    }
}

static void test_warmup_then_plateau(void)
{
    check_control(WARM_PLATEAU, LT_TREND_FLAT, 0);
    /* The cut lands at the knee (3 s). */
    seed(5);
    times(N, 0.1);
    for (size_t i = 0; i < N; i++)
        control(WARM_PLATEAU, t[i], 0);
    lt_trend_opts_t o = opts(0);
    lt_trend_t r = run(N, &o);
    LT_GE_UINT(r.start, 28);
    LT_LE_UINT(r.start, 34);
    LT_GT_INT(r.confidence * 100, 50);
}

static void test_bounded_lru(void) { check_control(LRU_LATE, LT_TREND_FLAT, 1); }
static void test_exponential_saturation(void) { check_control(EXP_SAT, LT_TREND_PLATEAU, 1); }
static void test_big_temporaries(void) { check_control(TEMPORARIES, LT_TREND_SAWTOOTH, 0); }
static void test_sawtooth(void) { check_control(SAWTOOTH, LT_TREND_SAWTOOTH, 0); }
static void test_flat(void) { check_control(FLAT, LT_TREND_FLAT, 0); }
static void test_step(void)
{
    check_control(STEP_EARLY, LT_TREND_FLAT, 0);
    check_control(STEP_LATE, LT_TREND_FLAT, 1);
}

static void test_shrinking(void)
{
    lt_trend_opts_t o = opts(64 * 1024);
    seed(9);
    times(N, 0.1);
    for (size_t i = 0; i < N; i++)
        v[i] = 50 * MB - 100e3 * t[i] + 20e3 * gauss();
    lt_trend_t r = run(N, &o);
    LT_EQ_INT(r.verdict, LT_TREND_SHRINKING);
    LT_LT_INT(fabs(r.slope + 100e3), 5e3);
    LT_GT_INT(r.confidence * 100, 95);
}

static void test_too_short(void)
{
    lt_trend_opts_t o = opts(0);
    times(N, 0.5);
    for (size_t i = 0; i < N; i++)
        v[i] = (double)i * 1000;
    for (size_t n = 0; n < 8; n++) {
        lt_trend_t r = run(n, &o);
        LT_EQ_INT(r.verdict, LT_TREND_TOO_SHORT);
        LT_EQ_INT(r.confidence, 0);
        if (n >= 2) {
            /* 8 points after a cut of up to half: 16 points, 7.5 s. */
            LT_GT_INT(r.needed_s * 10, (double)(n - 1) * 0.5 * 10);
            LT_EQ_INT(llround(r.needed_s * 10), 75);
        }
    }
    /* A span shorter than asked for, with a fixed warm-up. */
    o.min_span_s = 20;
    o.warmup_s = 2;
    lt_trend_t r = run(20, &o);
    LT_EQ_INT(r.verdict, LT_TREND_TOO_SHORT);
    LT_EQ_UINT(r.start, 4);
    LT_EQ_INT(llround(r.needed_s), 22);
    /* All points at one time. */
    lt_trend_opts_t o2 = opts(0);
    for (size_t i = 0; i < 20; i++)
        t[i] = 3;
    r = run(20, &o2);
    LT_EQ_INT(r.verdict, LT_TREND_TOO_SHORT);
}

/* A user-given warm-up is cut exactly. */
static void test_fixed_warmup(void)
{
    lt_trend_opts_t o = opts(0);
    o.warmup_s = 3;
    seed(4);
    times(N, 0.1);
    for (size_t i = 0; i < N; i++)
        control(WARM_PLATEAU, t[i], 0);
    lt_trend_t r = run(N, &o);
    LT_EQ_UINT(r.start, 30);
    LT_EQ_UINT(r.n, N - 30);
    LT_EQ_INT(llround(r.warmup_s * 10), 30);
    LT_EQ_INT(r.verdict, LT_TREND_FLAT);
    o.warmup_s = 0;
    r = run(N, &o);
    LT_EQ_UINT(r.start, 0);
}

/* Object counts: exact growth, constant, jitter of one. */
static void test_counts(void)
{
    lt_trend_opts_t o = opts(50);
    times(N, 0.1);
    for (size_t i = 0; i < N; i++)
        v[i] = 1200 + 85 * (double)i;
    lt_trend_t r = run(N, &o);
    LT_EQ_INT(r.verdict, LT_TREND_GROWING);
    LT_EQ_INT(llround(r.slope), 850);
    LT_GT_INT(r.confidence * 100, 95);
    LT_EQ_INT(r.noise, 0);
    for (size_t i = 0; i < N; i++)
        v[i] = 1200;
    r = run(N, &o);
    LT_EQ_INT(r.verdict, LT_TREND_FLAT);
    LT_EQ_INT(r.confidence, 1);
    LT_EQ_INT(r.slope, 0);
    seed(12);
    for (size_t i = 0; i < N; i++)
        v[i] = 1200 + (double)(unif() < 0.3) - (double)(unif() < 0.3);
    r = run(N, &o);
    LT_EQ_INT(r.verdict, LT_TREND_FLAT);
    LT_EQ_INT(r.churn, 0);
    LT_GT_INT(r.confidence * 100, 90);
    /* One object every third checkpoint, below min_growth: flat. */
    for (size_t i = 0; i < N; i++)
        v[i] = 1200 + (double)(i / 3);
    r = run(N, &o);
    LT_EQ_INT(r.verdict, LT_TREND_FLAT);
    o.min_growth = 10;
    r = run(N, &o);
    LT_EQ_INT(r.verdict, LT_TREND_GROWING);
}

/* Mann-Kendall against hand-computed values. */
static void test_mann_kendall(void)
{
    lt_trend_opts_t o = opts(0);
    o.min_points = 5;
    o.warmup_s = 0;
    times(6, 1);
    const double a[] = {1, 2, 3, 4, 5};
    for (size_t i = 0; i < 5; i++)
        v[i] = a[i];
    lt_trend_t r = run(5, &o);
    LT_EQ_INT(r.raw.s, 10);
    LT_EQ_INT(llround(r.raw.var_s * 1000), 16667);     /* 5*4*15/18 */
    LT_EQ_INT(llround(r.raw.z * 1e4), 22045);          /* 9 / sqrt(16.667) */
    LT_EQ_INT(llround(r.raw.p * 1e4), 275);            /* two-sided */
    LT_EQ_INT(r.raw.tau, 1);
    LT_EQ_INT(r.slope, 1);
    LT_EQ_INT(r.raw.intercept, 1);
    /* Ties: 1 1 2 2 3 3 has S = 12, Var = (6*5*17 - 3*2*1*9) / 18. */
    const double b[] = {1, 1, 2, 2, 3, 3};
    for (size_t i = 0; i < 6; i++)
        v[i] = b[i];
    r = run(6, &o);
    LT_EQ_INT(r.raw.s, 12);
    LT_EQ_INT(llround(r.raw.var_s * 1000), 25333);
    LT_EQ_INT(llround(r.raw.z * 1e4), 21855);          /* 11 / sqrt(25.333) */
    /* Decreasing: S and Z negative, symmetric. */
    for (size_t i = 0; i < 5; i++)
        v[i] = -a[i];
    r = run(5, &o);
    LT_EQ_INT(r.raw.s, -10);
    LT_EQ_INT(llround(r.raw.z * 1e4), -22045);
    LT_EQ_INT(r.slope, -1);
}

/* A fifth of the points are wild outliers: the median slope does not care. */
static void test_theil_sen_outliers(void)
{
    lt_trend_opts_t o = opts(0);
    o.warmup_s = 0;
    seed(77);
    times(N, 0.1);
    for (size_t i = 0; i < N; i++) {
        v[i] = 1000 + 500 * t[i] + 5 * gauss();
        if (i % 5 == 2)
            v[i] += (unif() < 0.5 ? -1 : 1) * 1e6;
    }
    lt_trend_t r = run(N, &o);
    LT_LT_INT(fabs(r.slope - 500), 25);
    LT_EQ_INT(r.verdict, LT_TREND_GROWING);
}

/* 8000 points: Theil-Sen and Mann-Kendall on 512 of them, same answer. */
static void test_long_series(void)
{
    lt_trend_opts_t o = opts(0);
    seed(3);
    times(8000, 0.5);
    for (size_t i = 0; i < 8000; i++)
        v[i] = 1e6 + 30 * t[i] + 400 * gauss();
    lt_trend_t r = run(8000, &o);
    LT_EQ_INT(r.verdict, LT_TREND_GROWING);
    LT_EQ_UINT(r.raw.n, 512);
    LT_LT_INT(fabs(r.slope - 30) * 10, 15);
    o.max_points = 40;
    r = run(8000, &o);
    LT_EQ_UINT(r.raw.n, 40);
    LT_EQ_INT(r.verdict, LT_TREND_GROWING);
}

static void test_deterministic(void)
{
    lt_trend_opts_t o = opts(0);
    seed(8);
    times(N, 0.1);
    for (size_t i = 0; i < N; i++)
        v[i] = 80 * MB + 200e3 * t[i] + (2 * MB * unif() - 1 * MB);
    lt_trend_t a, b;
    LT_EQ_INT(lt_trend_analyze(t, v, N, &o, &a), 0);
    LT_EQ_INT(lt_trend_analyze(t, v, N, &o, &b), 0);
    LT_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
}

static void test_bad_input(void)
{
    lt_trend_opts_t o = opts(0);
    lt_trend_t r;
    times(10, 1);
    for (size_t i = 0; i < 10; i++)
        v[i] = (double)i;
    LT_EQ_INT(lt_trend_analyze(t, v, 10, NULL, &r), LT_EINVAL);
    LT_EQ_INT(lt_trend_analyze(t, v, 10, &o, NULL), LT_EINVAL);
    LT_EQ_INT(lt_trend_analyze(NULL, v, 10, &o, &r), LT_EINVAL);
    LT_EQ_INT(r.verdict, LT_TREND_TOO_SHORT);
    LT_EQ_INT(lt_trend_analyze(NULL, NULL, 0, &o, &r), 0);
    LT_EQ_INT(r.verdict, LT_TREND_TOO_SHORT);
    v[4] = NAN;
    LT_EQ_INT(lt_trend_analyze(t, v, 10, &o, &r), LT_EINVAL);
    v[4] = INFINITY;
    LT_EQ_INT(lt_trend_analyze(t, v, 10, &o, &r), LT_EINVAL);
    v[4] = 4;
    t[6] = 4.5;
    LT_EQ_INT(lt_trend_analyze(t, v, 10, &o, &r), LT_EINVAL);
    t[6] = 6;
    lt_trend_opts_t bad = o;
    bad.a = NULL;
    LT_EQ_INT(lt_trend_analyze(t, v, 10, &bad, &r), LT_EINVAL);
    bad = o;
    bad.alpha = 0;
    LT_EQ_INT(lt_trend_analyze(t, v, 10, &bad, &r), LT_EINVAL);
    bad = o;
    bad.max_warmup_frac = 1;
    LT_EQ_INT(lt_trend_analyze(t, v, 10, &bad, &r), LT_EINVAL);
    bad = o;
    bad.max_points = 1;
    LT_EQ_INT(lt_trend_analyze(t, v, 10, &bad, &r), LT_EINVAL);
    LT_EQ_INT(lt_trend_analyze(t, v, 10, &o, &r), 0);
    LT_EQ_STR(lt_trend_verdict_name(LT_TREND_GROWING), "growing");
    LT_EQ_STR(lt_trend_verdict_name(LT_TREND_TOO_SHORT), "too-short");
    LT_EQ_STR(lt_trend_verdict_name((lt_trend_verdict_t)99), "unknown");
}

/* The scratch block is the only allocation: failing it gives LT_ENOMEM, a
 * zeroed result and nothing held; the next call works. */
static void test_faults(void)
{
    seed(2);
    times(N, 0.1);
    for (size_t i = 0; i < N; i++)
        v[i] = 50 * MB + 100e3 * t[i] + 20e3 * gauss();
    for (long fail_at = 0;; fail_at++) {
        lt_failing_alloc_t f;
        lt_failing_alloc_init(&f, &lt_test_heap, fail_at, 0);
        lt_trend_opts_t o;
        lt_trend_opts_init(&o, &f.base);
        lt_trend_t r;
        int rc = lt_trend_analyze(t, v, N, &o, &r);
        LT_EQ_INT(f.live, 0);
        if (rc == 0) {
            LT_EQ_INT(r.verdict, LT_TREND_GROWING);
            LT_EQ_INT(fail_at, f.calls);
            break;
        }
        LT_EQ_INT(rc, LT_ENOMEM);
        LT_EQ_INT(r.verdict, LT_TREND_TOO_SHORT);
        LT_EQ_UINT(r.n, 0);
        LT_EQ_INT(r.slope, 0);
    }
    /* Absurd sizes are refused before asking. */
    lt_trend_opts_t o = opts(0);
    o.max_points = (size_t)1 << 40;
    lt_trend_t r;
    LT_EQ_INT(lt_trend_analyze(t, v, N, &o, &r), 0);
    LT_EQ_UINT(r.raw.n, N);
}

static void test_select(void)
{
    static double a[3000], b[3000];
    seed(44);
    for (int round = 0; round < 30; round++) {
        size_t n = 1 + (size_t)(unif() * 2999);
        int levels = round % 3 == 0 ? 3 : 1000000;
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] = (double)(int)(unif() * levels);
        size_t k = (size_t)(unif() * (double)n);
        lt__trend_select(a, n, k);
        /* Rank k: as many smaller values before as a count says. */
        size_t less = 0, equal = 0;
        for (size_t i = 0; i < n; i++) {
            less += b[i] < a[k];
            equal += b[i] == a[k];
        }
        LT_LE_UINT(less, k);
        LT_GT_UINT(less + equal, k);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += i < k ? a[i] > a[k] : i > k ? a[i] < a[k] : 0;
        LT_EQ_UINT(bad, 0);
    }
}

int main(void)
{
    LT_RUN(test_linear);
    LT_RUN(test_slow_leak_in_sawtooth);
    LT_RUN(test_slow_leak_in_random_churn);
    LT_RUN(test_warmup_then_plateau);
    LT_RUN(test_bounded_lru);
    LT_RUN(test_exponential_saturation);
    LT_RUN(test_big_temporaries);
    LT_RUN(test_sawtooth);
    LT_RUN(test_flat);
    LT_RUN(test_step);
    LT_RUN(test_shrinking);
    LT_RUN(test_too_short);
    LT_RUN(test_fixed_warmup);
    LT_RUN(test_counts);
    LT_RUN(test_mann_kendall);
    LT_RUN(test_theil_sen_outliers);
    LT_RUN(test_long_series);
    LT_RUN(test_deterministic);
    LT_RUN(test_bad_input);
    LT_RUN(test_faults);
    LT_RUN(test_select);
    return lt_test_done();
}
