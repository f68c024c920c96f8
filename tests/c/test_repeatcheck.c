/* Tests of lt_repeatcheck: steady leaks of one object per run decide, a
 * cache filled in one run, a container resizing now and then, churn and
 * byte noise do not; allowances, min_runs, every kind, the ordering, the
 * sign-test confidence and bad input. */
#include "errors.h"
#include "lt_test.h"
#include "repeatcheck.h"

#include <math.h>

static lt_repeatcheck_series_t type_series(const double *count, const double *bytes)
{
    return (lt_repeatcheck_series_t){LT_CAND_TYPE, 1, count, bytes};
}

static lt_repeatcheck_result_t decide1(const lt_repeatcheck_opts_t *o, lt_repeatcheck_series_t s)
{
    lt_repeatcheck_result_t r;
    memset(&r, 0, sizeof(r));
    LT_EQ_INT(lt_repeatcheck_decide(o, &s, 1, &r), 0);
    return r;
}

static void test_steady_leak(void)
{
    lt_repeatcheck_opts_t o;
    lt_repeatcheck_opts_init(&o);
    /* One instance per run, 56 bytes each: the smallest leak there is. */
    double c[5] = {1, 1, 1, 1, 1}, b[5] = {56, 56, 56, 56, 56};
    lt_repeatcheck_result_t r = decide1(&o, type_series(c, b));
    LT_EQ_INT(r.leaking, 1);
    LT_EQ_INT(r.by_count, 1);
    LT_EQ_UINT(r.grew_runs, 5);
    LT_CHECK(r.median_count == 1 && r.total_count == 5 && r.median_bytes == 56 && r.total_bytes == 280);
    /* 1 - 1/32 */
    LT_CHECK(fabs(r.confidence - 0.96875) < 1e-9);
    LT_CHECK(r.score == 64);    /* the nominal 64 B beats 56 */
}

static void test_one_off_fill(void)
{
    lt_repeatcheck_opts_t o;
    lt_repeatcheck_opts_init(&o);
    /* A cache that fills with 1000 entries in the first measured run: the
     * sum is large, the growth is not sustained. */
    double c[5] = {1000, 0, 0, 0, 0}, b[5] = {120000, 0, 0, 0, 0};
    lt_repeatcheck_result_t r = decide1(&o, type_series(c, b));
    LT_EQ_INT(r.leaking, 0);
    LT_EQ_UINT(r.grew_runs, 1);
    LT_CHECK(r.total_count == 1000);
    /* Two fills (a cache of two sizes) are not sustained either. */
    double c2[5] = {0, 500, 0, 300, 0};
    r = decide1(&o, type_series(c2, c2));
    LT_EQ_INT(r.leaking, 0);
}

static void test_resizing_container(void)
{
    lt_repeatcheck_opts_t o;
    lt_repeatcheck_opts_init(&o);
    /* A list that over-allocates grows its bytes every few appends only,
     * while the count of lists stays put. */
    double c[5] = {0, 0, 0, 0, 0}, b[5] = {0, 32, 0, 0, 64};
    LT_EQ_INT(decide1(&o, type_series(c, b)).leaking, 0);
    /* A list of the same object appended 100 times a run grows every run:
     * bytes decide. */
    double b2[5] = {800, 800, 832, 800, 800};
    lt_repeatcheck_result_t r = decide1(&o, type_series(c, b2));
    LT_EQ_INT(r.leaking, 1);
    LT_EQ_INT(r.by_count, 0);
    LT_CHECK(r.median_bytes == 800);
}

static void test_churn_and_noise(void)
{
    lt_repeatcheck_opts_t o;
    lt_repeatcheck_opts_init(&o);
    /* Up, down, up, down: a buffer reused. */
    double c[5] = {3, -3, 3, -3, 3};
    LT_EQ_INT(decide1(&o, type_series(c, c)).leaking, 0);
    /* Grows 4 times but gives it back once: allowed with 4 of 5 ... */
    double c2[5] = {2, 2, -1, 2, 2};
    LT_EQ_INT(decide1(&o, type_series(c2, c2)).leaking, 1);
    /* ... not with two drops. */
    double c3[6] = {2, -1, 2, -1, 2, 2};
    o.repeat = 6;
    LT_EQ_INT(decide1(&o, type_series(c3, c3)).leaking, 0);
    /* Byte noise below noise_bytes is no growth. */
    o.repeat = 5;
    o.noise_bytes = 64;
    double z[5] = {0, 0, 0, 0, 0}, nb[5] = {64, 16, 64, 8, 64};
    LT_EQ_INT(decide1(&o, type_series(z, nb)).leaking, 0);
    double big[5] = {65, 128, 65, 200, 65};
    LT_EQ_INT(decide1(&o, type_series(z, big)).leaking, 1);
}

static void test_allowances(void)
{
    lt_repeatcheck_opts_t o;
    lt_repeatcheck_opts_init(&o);
    double c[5] = {10, 10, 10, 10, 10}, b[5] = {4000, 4000, 4000, 4000, 4000};
    o.max_objects = 10;
    /* The count is within its allowance; the bytes are not. */
    lt_repeatcheck_result_t r = decide1(&o, type_series(c, b));
    LT_EQ_INT(r.leaking, 1);
    LT_EQ_INT(r.by_count, 0);
    o.max_bytes = 4000;
    LT_EQ_INT(decide1(&o, type_series(c, b)).leaking, 0);
    o.max_objects = 9.5;
    r = decide1(&o, type_series(c, b));
    LT_EQ_INT(r.leaking, 1);
    LT_EQ_INT(r.by_count, 1);
}

static void test_min_runs(void)
{
    lt_repeatcheck_opts_t o;
    lt_repeatcheck_opts_init(&o);
    o.repeat = 10;
    /* Automatic: 8 of 10. */
    double c7[10] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
    double c8[10] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    LT_EQ_INT(decide1(&o, type_series(c7, c7)).leaking, 0);
    LT_EQ_INT(decide1(&o, type_series(c8, c8)).leaking, 1);
    o.min_runs = 7;
    LT_EQ_INT(decide1(&o, type_series(c7, c7)).leaking, 1);
    /* One run: any growth (the caller calls it growth, not a leak). */
    o.repeat = 1;
    o.min_runs = 0;
    LT_EQ_INT(decide1(&o, type_series(c7, c7)).leaking, 1);
    double c0[1] = {0};
    LT_EQ_INT(decide1(&o, type_series(c0, c0)).leaking, 0);
    /* Two runs: both must grow. */
    o.repeat = 2;
    o.min_runs = 0;
    LT_EQ_INT(decide1(&o, type_series(c7, c7)).leaking, 1);
    double c1[2] = {1, 0};
    LT_EQ_INT(decide1(&o, type_series(c1, c1)).leaking, 0);
    /* Three: all three (3 - 3/4 = 3). */
    o.repeat = 3;
    double c21[3] = {1, 1, 0};
    LT_EQ_INT(decide1(&o, type_series(c21, c21)).leaking, 0);
}

static void test_kinds(void)
{
    lt_repeatcheck_opts_t o;
    lt_repeatcheck_opts_init(&o);
    double one[5] = {1, 1, 1, 1, 1}, kb[5] = {1024, 1024, 1024, 1024, 1024};
    lt_repeatcheck_series_t s[4] = {
        {LT_CAND_FDS, 0, one, NULL},
        {LT_CAND_THREADS, 0, one, NULL},
        {LT_CAND_TASKS, 0, one, NULL},
        {LT_CAND_SITE, 7, NULL, kb},
    };
    lt_repeatcheck_result_t r[4];
    LT_EQ_INT(lt_repeatcheck_decide(&o, s, 4, r), 0);
    for (int i = 0; i < 4; i++)
        LT_EQ_INT(r[i].leaking, 1);
    LT_EQ_INT(r[3].by_count, 0);
    LT_CHECK(r[1].score == 65536 && r[0].score == 1024 && r[2].score == 2048);
    o.max_fds = 1;
    o.max_threads = 1;
    o.max_tasks = 1;
    o.max_bytes = 1024;
    LT_EQ_INT(lt_repeatcheck_decide(&o, s, 4, r), 0);
    for (int i = 0; i < 4; i++)
        LT_EQ_INT(r[i].leaking, 0);
}

static void test_order(void)
{
    lt_repeatcheck_result_t r[4];
    memset(r, 0, sizeof(r));
    r[0].score = 100;
    r[1].leaking = 1;
    r[1].score = 10;
    r[2].leaking = 1;
    r[2].score = 50;
    r[3].score = 100;
    size_t idx[4];
    LT_EQ_UINT(lt_repeatcheck_order(r, 4, idx), 2);
    LT_EQ_UINT(idx[0], 2);
    LT_EQ_UINT(idx[1], 1);
    LT_EQ_UINT(idx[2], 0);      /* ties keep the input order */
    LT_EQ_UINT(idx[3], 3);
    LT_EQ_UINT(lt_repeatcheck_order(r, 0, idx), 0);
}

static void test_median(void)
{
    double v[5] = {5, 1, 4, 2, 3};
    LT_CHECK(lt_repeatcheck_median(v, 5) == 3);
    LT_CHECK(v[0] == 5);        /* unchanged */
    LT_CHECK(lt_repeatcheck_median(v, 4) == 3);     /* 1 2 4 5 */
    LT_CHECK(lt_repeatcheck_median(v, 0) == 0);
    LT_CHECK(lt_repeatcheck_median(v, LT_REPEATCHECK_MAX_RUNS + 1) == 0);
}

static void test_confidence(void)
{
    lt_repeatcheck_opts_t o;
    lt_repeatcheck_opts_init(&o);
    o.repeat = 10;
    double c[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    lt_repeatcheck_result_t r = decide1(&o, type_series(c, c));
    /* P(X >= 9 | n=10) = 11/1024 */
    LT_CHECK(fabs(r.confidence - (1 - 11.0 / 1024)) < 1e-9);
    o.repeat = LT_REPEATCHECK_MAX_RUNS;
    static double many[LT_REPEATCHECK_MAX_RUNS];
    for (size_t i = 0; i < LT_REPEATCHECK_MAX_RUNS; i++)
        many[i] = 1;
    r = decide1(&o, type_series(many, many));
    LT_EQ_INT(r.leaking, 1);
    LT_CHECK(r.confidence > 0.999999 && r.confidence <= 1);
}

static void test_bad_input(void)
{
    lt_repeatcheck_opts_t o;
    lt_repeatcheck_opts_init(&o);
    double c[5] = {1, 1, 1, 1, 1};
    lt_repeatcheck_series_t s = type_series(c, c);
    lt_repeatcheck_result_t r;
    LT_EQ_INT(lt_repeatcheck_decide(NULL, &s, 1, &r), LT_EINVAL);
    LT_EQ_INT(lt_repeatcheck_decide(&o, NULL, 1, &r), LT_EINVAL);
    LT_EQ_INT(lt_repeatcheck_decide(&o, &s, 1, NULL), LT_EINVAL);
    LT_EQ_INT(lt_repeatcheck_decide(&o, NULL, 0, NULL), 0);
    o.repeat = 0;
    LT_EQ_INT(lt_repeatcheck_decide(&o, &s, 1, &r), LT_EINVAL);
    o.repeat = LT_REPEATCHECK_MAX_RUNS + 1;
    LT_EQ_INT(lt_repeatcheck_decide(&o, &s, 1, &r), LT_EINVAL);
    o.repeat = 5;
    o.min_runs = 6;
    LT_EQ_INT(lt_repeatcheck_decide(&o, &s, 1, &r), LT_EINVAL);
    o.min_runs = 0;
    o.max_bytes = -1;
    LT_EQ_INT(lt_repeatcheck_decide(&o, &s, 1, &r), LT_EINVAL);
    o.max_bytes = NAN;
    LT_EQ_INT(lt_repeatcheck_decide(&o, &s, 1, &r), LT_EINVAL);
    o.max_bytes = 0;
    lt_repeatcheck_series_t nob = type_series(c, NULL);
    LT_EQ_INT(lt_repeatcheck_decide(&o, &nob, 1, &r), LT_EINVAL);
    lt_repeatcheck_series_t fds = {LT_CAND_FDS, 0, NULL, c};
    LT_EQ_INT(lt_repeatcheck_decide(&o, &fds, 1, &r), LT_EINVAL);
    lt_repeatcheck_series_t heap = {LT_CAND_HEAP, 0, c, c};
    LT_EQ_INT(lt_repeatcheck_decide(&o, &heap, 1, &r), LT_EINVAL);
}

int main(void)
{
    LT_RUN(test_steady_leak);
    LT_RUN(test_one_off_fill);
    LT_RUN(test_resizing_container);
    LT_RUN(test_churn_and_noise);
    LT_RUN(test_allowances);
    LT_RUN(test_min_runs);
    LT_RUN(test_kinds);
    LT_RUN(test_order);
    LT_RUN(test_median);
    LT_RUN(test_confidence);
    LT_RUN(test_bad_input);
    return lt_test_done();
}
