/* lt_repeatcheck: sustained growth across repeated runs (repeatcheck.h). */
#include "repeatcheck.h"

#include "errors.h"

#include <math.h>
#include <string.h>

void lt_repeatcheck_opts_init(lt_repeatcheck_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->repeat = 5;
}

/* Insertion sort of a copy: n is at most LT_REPEATCHECK_MAX_RUNS and
 * usually 5 to 10, where nothing beats it. */
double lt_repeatcheck_median(const double *v, size_t n)
{
    double tmp[LT_REPEATCHECK_MAX_RUNS];
    if (n == 0 || n > LT_REPEATCHECK_MAX_RUNS)
        return 0;
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        size_t j = i;
        while (j > 0 && tmp[j - 1] > x) {
            tmp[j] = tmp[j - 1];
            j--;
        }
        tmp[j] = x;
    }
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* P(X >= k) for X ~ Binomial(n, 1/2), summed in logs (n <= 1000). */
static double sign_tail(size_t k, size_t n)
{
    if (k == 0)
        return 1;
    double p = 0;
    for (size_t i = k; i <= n; i++)
        p += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) - (double)n * log(2.0));
    return p > 1 ? 1 : p;
}

typedef struct measure {
    size_t grew, shrank;
    double median, total;
} measure_t;

static measure_t measure(const double *d, size_t n, double step)
{
    measure_t m = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        m.grew += d[i] >= step;
        m.shrank += d[i] <= -step;
        m.total += d[i];
    }
    m.median = lt_repeatcheck_median(d, n);
    return m;
}

/* Nominal sizes for count-only kinds, so that they rank among bytes. */
static double nominal_size(lt_cand_kind_t kind)
{
    /* (if, not switch: LT_CAND_TASKS is outside the enumeration) */
    if (kind == LT_CAND_FDS)
        return 1024;
    if (kind == LT_CAND_THREADS)
        return 65536;
    if (kind == LT_CAND_TASKS)
        return 2048;
    return 64;
}

static double allowance(const lt_repeatcheck_opts_t *o, lt_cand_kind_t kind)
{
    if (kind == LT_CAND_FDS)
        return o->max_fds;
    if (kind == LT_CAND_THREADS)
        return o->max_threads;
    if (kind == LT_CAND_TASKS)
        return o->max_tasks;
    return o->max_objects;
}

int lt_repeatcheck_decide(const lt_repeatcheck_opts_t *o, const lt_repeatcheck_series_t *series, size_t n,
                          lt_repeatcheck_result_t *out)
{
    if (o == NULL || (n > 0 && (series == NULL || out == NULL)))
        return LT_EINVAL;
    size_t r = o->repeat;
    if (r < 1 || r > LT_REPEATCHECK_MAX_RUNS || o->min_runs > r)
        return LT_EINVAL;
    if (!(o->max_objects >= 0) || !(o->max_bytes >= 0) || !(o->max_fds >= 0) || !(o->max_threads >= 0) ||
        !(o->max_tasks >= 0) || !(o->noise_bytes >= 0))
        return LT_EINVAL;
    size_t need = o->min_runs ? o->min_runs : r - r / 4;
    size_t may_shrink = r - need;
    for (size_t i = 0; i < n; i++) {
        const lt_repeatcheck_series_t *s = &series[i];
        int counts = s->kind == LT_CAND_TYPE || s->kind == LT_CAND_FDS || s->kind == LT_CAND_THREADS ||
                     s->kind == LT_CAND_TASKS;
        int bytes = s->kind == LT_CAND_TYPE || s->kind == LT_CAND_SITE;
        if (!counts && !bytes)
            return LT_EINVAL;
        if ((counts && s->count == NULL) || (bytes && s->bytes == NULL))
            return LT_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const lt_repeatcheck_series_t *s = &series[i];
        lt_repeatcheck_result_t *x = &out[i];
        memset(x, 0, sizeof(*x));
        int has_count = s->kind != LT_CAND_SITE, has_bytes = s->bytes != NULL && s->kind != LT_CAND_FDS &&
                                                             s->kind != LT_CAND_THREADS && s->kind != LT_CAND_TASKS;
        measure_t mc = {0, 0, 0, 0}, mb = {0, 0, 0, 0};
        int leak_c = 0, leak_b = 0;
        if (has_count) {
            mc = measure(s->count, r, 1);
            leak_c = mc.grew >= need && mc.shrank <= may_shrink && mc.median > allowance(o, s->kind);
        }
        if (has_bytes) {
            /* A delta of exactly noise_bytes is still no change. */
            double step = o->noise_bytes > 0 ? nextafter(o->noise_bytes, INFINITY) : 1;
            mb = measure(s->bytes, r, step);
            leak_b = mb.grew >= need && mb.shrank <= may_shrink && mb.median > o->max_bytes;
        }
        x->median_count = mc.median;
        x->total_count = mc.total;
        x->median_bytes = mb.median;
        x->total_bytes = mb.total;
        /* The deciding measure: the one that leaks (count first: exact and
         * free of resizing), else the one that grew more often. */
        x->by_count = has_count && (leak_c || (!leak_b && (!has_bytes || mc.grew >= mb.grew)));
        x->leaking = leak_c || leak_b;
        const measure_t *m = x->by_count ? &mc : &mb;
        x->grew_runs = m->grew;
        x->shrank_runs = m->shrank;
        x->confidence = 1 - sign_tail(m->grew, r);
        double per_run = has_bytes && mb.median > 0 ? mb.median : 0;
        double by_number = mc.median > 0 ? mc.median * nominal_size(s->kind) : 0;
        x->score = per_run > by_number ? per_run : by_number;
    }
    return 0;
}

size_t lt_repeatcheck_order(const lt_repeatcheck_result_t *res, size_t n, size_t *idx)
{
    size_t leaking = 0;
    for (size_t i = 0; i < n; i++) {
        leaking += res[i].leaking != 0;
        size_t j = i;
        /* Insertion: results are few (the candidates that grew at all). */
        while (j > 0) {
            const lt_repeatcheck_result_t *a = &res[idx[j - 1]], *b = &res[i];
            int before = b->leaking != a->leaking ? b->leaking > a->leaking : b->score > a->score;
            if (!before)
                break;
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return leaking;
}
