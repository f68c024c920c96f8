/* lt_trend: warm-up cut, Theil-Sen slope, Mann-Kendall test, churn troughs,
 * plateau test and confidence of one series (the method is in trend.h). */
#include "trend.h"
#include "errors.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define TREND_CUT_RATIO 0.5     /* a split must leave at most this share of the residuals */
#define TREND_CUT_ROUNDS 3
#define TREND_MIN_SEG 3         /* points on each side of a split */
#define TREND_DROP_K 5.0        /* zigzag threshold, in robust SDs of the differences */
#define TREND_MIN_TROUGHS 5     /* fewer cannot reach p < 0.01 even when monotonic */
#define TREND_PLATEAU_FRAC 0.3
#define TREND_DECEL_FRAC 0.5     /* second-half slope over first-half slope */
#define TREND_TAIL_MIN 5
#define TREND_TROUGH_TAIL_MIN 8 /* troughs needed before their tail is tested */
#define TREND_GIVEBACK 0.5
#define TREND_HR_MAX_LAG 64    /* Hamed-Rao lags summed; the AR(1) floor covers longer memory */
#define TREND_CLEAR_CONF 0.75   /* GROWING below this gets a needed_s */
#define TREND_Z975 1.959963984540054
#define TREND_MAD_K 1.4826
#define TREND_SQRT2 1.4142135623730951

void lt_trend_opts_init(lt_trend_opts_t *o, const lt_alloc_t *a)
{
    o->a = a;
    o->warmup_s = -1;
    o->max_warmup_frac = 0.5;
    o->min_growth = 0;
    o->alpha = 0.01;
    o->noise_k = 2;
    o->min_span_s = 0;
    o->min_points = 8;
    o->max_points = 512;
}

const char *lt_trend_verdict_name(lt_trend_verdict_t v)
{
    switch (v) {
    case LT_TREND_TOO_SHORT: return "too-short";
    case LT_TREND_FLAT: return "flat";
    case LT_TREND_GROWING: return "growing";
    case LT_TREND_PLATEAU: return "plateau";
    case LT_TREND_SAWTOOTH: return "sawtooth";
    case LT_TREND_SHRINKING: return "shrinking";
    }
    return "unknown";
}

/* ---- Order statistics ---------------------------------------------------- */

static inline void swap_d(double *a, double *b)
{
    double x = *a;
    *a = *b;
    *b = x;
}

static inline double median3(double a, double b, double c)
{
    if (a < b)
        return b < c ? b : (a < c ? c : a);
    return a < c ? a : (b < c ? c : b);
}

void lt__trend_select(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        double p = median3(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]);
        /* [lo, lt) < p, [lt, i) == p, [gt, hi) > p: equal keys (flat
         * series give many equal slopes) end the search at once. */
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (a[i] < p)
                swap_d(&a[lt++], &a[i++]);
            else if (a[i] > p)
                swap_d(&a[i], &a[--gt]);
            else
                i++;
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return;
    }
}

/* Median of a[0..n), n > 0; permutes a. */
static double median(double *a, size_t n)
{
    size_t k = (n - 1) / 2;
    lt__trend_select(a, n, k);
    if (n % 2 == 1)
        return a[k];
    double next = a[k + 1];
    for (size_t i = k + 2; i < n; i++)
        if (a[i] < next)
            next = a[i];
    return 0.5 * (a[k] + next);
}

static void sift_down(double *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (!(a[child] > a[root]))
            return;
        swap_d(&a[root], &a[child]);
        root = child;
    }
}

static void heapsort_d(double *a, size_t n)
{
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        swap_d(&a[0], &a[end]);
        sift_down(a, 0, end);
    }
}

/* ---- Normal distribution -------------------------------------------------- */

static double phi(double z) { return 0.5 * erfc(-z / TREND_SQRT2); }

/* The upper alpha quantile: z with 1 - Phi(z) = alpha, by bisection (the
 * tail is monotonic; 200 halvings reach double precision). */
static double z_upper(double alpha)
{
    double lo = -40, hi = 40;
    for (int i = 0; i < 200 && hi - lo > 1e-12; i++) {
        double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(mid / TREND_SQRT2) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* ---- One fit: Theil-Sen + Mann-Kendall ------------------------------------ */

typedef struct scratch {
    double *slopes;             /* m (m - 1) / 2 */
    double *st, *sv;            /* the subsample, m each */
    double *tmp;                /* n */
    double *tt, *tv;            /* troughs, n each */
    size_t m;                   /* subsample capacity */
} scratch_t;

/* Fits (t[i] - t0, v[i]), i < n, using at most sc->m points spread evenly
 * (first and last included). */
static void fit_points(const double *t, const double *v, size_t n, double t0, scratch_t *sc, lt_trend_fit_t *f)
{
    memset(f, 0, sizeof(*f));
    size_t m = n < sc->m ? n : sc->m;
    f->n = m;
    if (m < 2) {
        if (m == 1)
            f->intercept = v[0];
        return;
    }
    double *st = sc->st, *sv = sc->sv, *tmp = sc->tmp;
    for (size_t k = 0; k < m; k++) {
        size_t i = (size_t)((uint64_t)k * (n - 1) / (m - 1));
        st[k] = t[i] - t0;
        sv[k] = v[i];
    }

    /* Pairwise slopes and S together. Pairs at the same time carry no
     * slope and no order. */
    size_t ns = 0;
    double s = 0;
    for (size_t i = 0; i + 1 < m; i++)
        for (size_t j = i + 1; j < m; j++) {
            double dt = st[j] - st[i];
            if (!(dt > 0))
                continue;
            double dv = sv[j] - sv[i];
            sc->slopes[ns++] = dv / dt;
            s += (dv > 0) - (dv < 0);
        }

    /* Var(S) with the tie correction: groups of equal values. */
    memcpy(tmp, sv, m * sizeof(double));
    heapsort_d(tmp, m);
    double md = (double)m;
    double var = md * (md - 1) * (2 * md + 5);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && tmp[j] == tmp[i])
            j++;
        double g = (double)(j - i);
        if (g > 1)
            var -= g * (g - 1) * (2 * g + 5);
        i = j;
    }
    var /= 18;
    if (var < 0)
        var = 0;

    double slope = ns > 0 ? median(sc->slopes, ns) : 0;
    for (size_t k = 0; k < m; k++)
        tmp[k] = sv[k] - slope * st[k];
    double icpt = median(tmp, m);

    /* Residuals about the line: noise (MAD) and lag-1 autocorrelation. */
    for (size_t k = 0; k < m; k++)
        tmp[k] = sv[k] - (icpt + slope * st[k]);
    double *res = sc->st;       /* st is no longer needed once residuals exist */
    for (size_t k = 0; k < m; k++)
        res[k] = tmp[k];
    double med = median(tmp, m);
    for (size_t k = 0; k < m; k++)
        tmp[k] = fabs(res[k] - med);
    double noise = TREND_MAD_K * median(tmp, m);

    /* Hamed and Rao's correction: Var(S) * n/n*, n/n* = 1 + 2 / (n (n-1)
     * (n-2)) * sum over lags k of (n-k)(n-k-1)(n-k-2) rho(k), with rho the
     * autocorrelation of the residuals' ranks, significant lags only. Ranks
     * make it robust to outliers; a random walk's residuals are correlated
     * at many lags, which lag 1 alone would underrate. */
    memcpy(tmp, res, m * sizeof(double));
    heapsort_d(tmp, m);
    for (size_t k = 0; k < m; k++) {
        /* Average rank of res[k] among the sorted values (ties share). */
        size_t lo = 0, hi = m;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (tmp[mid] < res[k])
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t first = lo;
        hi = m;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (tmp[mid] <= res[k])
                lo = mid + 1;
            else
                hi = mid;
        }
        res[k] = 0.5 * (double)(first + lo - 1);
    }
    double mean = (md - 1) / 2;
    double den = 0;
    for (size_t k = 0; k < m; k++)
        den += (res[k] - mean) * (res[k] - mean);
    double acf = 0, inflate = 1;
    if (den > 0 && m >= 4) {
        double bound = TREND_Z975 / sqrt(md);
        double sum = 0;
        for (size_t lag = 1; lag + 2 < m && lag <= TREND_HR_MAX_LAG; lag++) {
            double num = 0;
            for (size_t k = 0; k + lag < m; k++)
                num += (res[k] - mean) * (res[k + lag] - mean);
            double rho = num / den;
            if (lag == 1)
                acf = rho;
            if (fabs(rho) <= bound)
                continue;
            double nk = (double)(m - lag);
            sum += nk * (nk - 1) * (nk - 2) * rho;
        }
        inflate = 1 + 2 * sum / (md * (md - 1) * (md - 2));
        /* Detrending makes far lags negative, which can cancel the near
         * ones in that sum: the AR(1) factor of a significant lag-1
         * correlation, 1 + 2 sum (1 - k/n) rho^k, is a floor. */
        if (acf > bound) {
            double ar = 1, pw = 1;
            for (size_t lag = 1; lag < m; lag++) {
                pw *= acf;
                if (pw < 1e-6)
                    break;
                ar += 2 * (1 - (double)lag / md) * pw;
            }
            if (ar > inflate)
                inflate = ar;
        }
        if (inflate < 1)
            inflate = 1;
        if (inflate > md / 3)
            inflate = md / 3;
    }
    double var_eff = var * inflate;

    double adj = s > 0 ? s - 1 : s < 0 ? s + 1 : 0;
    f->slope = slope;
    f->intercept = icpt;
    f->noise = noise;
    f->s = s;
    f->var_s = var;
    f->z = var > 0 ? adj / sqrt(var) : 0;
    f->z_eff = var_eff > 0 ? adj / sqrt(var_eff) : 0;
    f->acf1 = acf;
    f->p = erfc(fabs(f->z_eff) / TREND_SQRT2);
    if (f->p > 1)
        f->p = 1;
    f->tau = s / (md * (md - 1) / 2);

    /* Sen's interval: the slopes of rank (N - C) / 2 and (N + C) / 2 + 1
     * (1-based), C = z_0.975 sqrt(Var S). */
    f->slope_lo = f->slope_hi = slope;
    if (ns > 1) {
        double c = TREND_Z975 * sqrt(var_eff);
        double r1 = floor(((double)ns - c) / 2);
        double r2 = ceil(((double)ns + c) / 2) + 1;
        size_t k1 = r1 < 1 ? 0 : (size_t)r1 - 1;
        size_t k2 = r2 > (double)ns ? ns - 1 : (size_t)r2 - 1;
        /* The median's selection left [0, km] <= slopes[km] <= (km, ns):
         * each bound is looked for in its own side only. */
        size_t km = (ns - 1) / 2;
        if (k1 > km)
            k1 = km;
        if (k2 < km)
            k2 = km;
        if (k1 < km)
            lt__trend_select(sc->slopes, km, k1);
        f->slope_lo = sc->slopes[k1];
        if (k2 > km)
            lt__trend_select(sc->slopes + km + 1, ns - km - 1, k2 - km - 1);
        f->slope_hi = sc->slopes[k2];
        if (f->slope_lo > slope)
            f->slope_lo = slope;
        if (f->slope_hi < slope)
            f->slope_hi = slope;
    }
}

/* ---- Warm-up: two-line change-point search -------------------------------- */

typedef struct sums {
    double k, x, y, xx, xy, yy;
} sums_t;

static inline void sums_add(sums_t *s, double x, double y)
{
    s->k += 1;
    s->x += x;
    s->y += y;
    s->xx += x * x;
    s->xy += x * y;
    s->yy += y * y;
}

/* Squared residuals of the least-squares line through the points summed in s. */
static double sums_sse(const sums_t *s)
{
    if (s->k < 2)
        return 0;
    double sxx = s->xx - s->x * s->x / s->k;
    double syy = s->yy - s->y * s->y / s->k;
    double sxy = s->xy - s->x * s->y / s->k;
    double sse = sxx > 0 ? syy - sxy * sxy / sxx : syy;
    return sse > 0 ? sse : 0;
}

static size_t warmup_auto(const double *t, const double *v, size_t n, const lt_trend_opts_t *o)
{
    size_t min_right = o->min_points > TREND_MIN_SEG ? o->min_points : TREND_MIN_SEG;
    if (n < min_right + TREND_MIN_SEG)
        return 0;
    double frac = o->max_warmup_frac;
    size_t cmax = frac > 0 ? (size_t)(frac * (double)n) : 0;
    if (cmax > n - min_right)
        cmax = n - min_right;
    size_t s = 0;
    for (int round = 0; round < TREND_CUT_ROUNDS; round++) {
        if (s + TREND_MIN_SEG > cmax)
            break;
        /* Coordinates relative to the first point keep the sums small. */
        sums_t all = {0, 0, 0, 0, 0, 0};
        for (size_t i = s; i < n; i++)
            sums_add(&all, t[i] - t[s], v[i] - v[s]);
        double sse1 = sums_sse(&all);
        double syy = all.yy - all.y * all.y / all.k;
        /* A line that fits to rounding error has no warm-up to find. */
        if (!(sse1 > 1e-10 * syy))
            break;
        sums_t left = {0, 0, 0, 0, 0, 0};
        double best = HUGE_VAL;
        size_t best_c = 0;
        for (size_t i = s; i < cmax; i++) {
            sums_add(&left, t[i] - t[s], v[i] - v[s]);
            size_t c = i + 1;
            if (c - s < TREND_MIN_SEG)
                continue;
            sums_t right = {all.k - left.k, all.x - left.x, all.y - left.y,
                            all.xx - left.xx, all.xy - left.xy, all.yy - left.yy};
            double sse2 = sums_sse(&left) + sums_sse(&right);
            if (sse2 < best) {
                best = sse2;
                best_c = c;
            }
        }
        if (best_c == 0 || best > TREND_CUT_RATIO * sse1)
            break;
        s = best_c;
    }
    return s;
}

/* ---- Churn: zigzag troughs -------------------------------------------------- */

typedef struct zig {
    size_t ntroughs;
    size_t drops;
    double drop_sum, max_drop;
} zig_t;

/* Swings down by at least h; the lowest point of each down swing is a
 * trough (the last one may still be falling at the end of the window). */
static void zigzag(const double *t, const double *v, size_t n, double h, double *tt, double *tv, zig_t *z)
{
    memset(z, 0, sizeof(*z));
    int down = 0;
    double hi = v[0], peak = 0, lo = 0;
    size_t lo_i = 0;
    for (size_t i = 1; i <= n; i++) {
        int end = i == n;
        if (!end && !down) {
            if (v[i] > hi)
                hi = v[i];
            else if (hi - v[i] >= h) {
                down = 1;
                peak = hi;
                lo = v[i];
                lo_i = i;
            }
            continue;
        }
        if (!down)
            break;
        if (!end && v[i] < lo) {
            lo = v[i];
            lo_i = i;
            continue;
        }
        if (end || v[i] - lo >= h) {
            tt[z->ntroughs] = t[lo_i];
            tv[z->ntroughs] = lo;
            z->ntroughs++;
            double d = peak - lo;
            z->drops++;
            z->drop_sum += d;
            if (d > z->max_drop)
                z->max_drop = d;
            down = 0;
            if (!end)
                hi = v[i];
        }
    }
}

/* ---- Decision ----------------------------------------------------------- */

static double not_growing_conf(double g_hi, double thr)
{
    if (!(g_hi > 0))
        return 1;
    if (!(thr > 0))
        return 0.5;
    return 1 - exp2(-thr / g_hi);
}

static double growing_conf(const lt_trend_fit_t *f, double growth, double noise, const lt_trend_opts_t *o,
                           double z_alpha)
{
    double sig = phi(f->z_eff - z_alpha);
    double sn = noise > 0 ? 1 - exp2(-growth / (o->noise_k * noise)) : 1;
    double sm = o->min_growth > 0 ? 1 - exp2(-growth / o->min_growth) : 1;
    /* Significance gates, size scales: overwhelming evidence of a growth
     * only somewhat above the noise is a finding; a growth far above the
     * noise at the edge of significance is not yet. */
    double c = sig * sqrt(sn * sm);
    double tau = f->tau > 0 ? (f->tau < 1 ? f->tau : 1) : 0;
    c *= 0.8 + 0.2 * tau;
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

/* Total observation time after which a growth like the current one should
 * be clear (see trend.h, 6.). */
static double needed_growing(const lt_trend_fit_t *f, double growth, double thr, double warmup, double span,
                             double z_alpha)
{
    double need = 1.25;
    if (growth > 0 && thr > 0 && 2 * thr / growth > need)
        need = 2 * thr / growth;
    if (f->z_eff > 0) {
        double r = pow((z_alpha + 1.5) / f->z_eff, 2.0 / 3.0);
        if (r > need)
            need = r;
    }
    if (need > 100)
        need = 100;
    return warmup + span * need;
}

static void trend_zero(lt_trend_t *out)
{
    memset(out, 0, sizeof(*out));
    out->verdict = LT_TREND_TOO_SHORT;
}

static int opts_valid(const lt_trend_opts_t *o)
{
    return o != NULL && o->a != NULL && o->alpha > 0 && o->alpha < 0.5 && o->noise_k >= 0 &&
           o->min_growth >= 0 && o->min_span_s >= 0 && o->max_warmup_frac >= 0 && o->max_warmup_frac < 1 &&
           o->max_points >= 2 && isfinite(o->min_growth) && isfinite(o->warmup_s) && isfinite(o->min_span_s);
}

int lt_trend_analyze(const double *t, const double *v, size_t n, const lt_trend_opts_t *opts, lt_trend_t *out)
{
    if (out == NULL)
        return LT_EINVAL;
    trend_zero(out);
    if (!opts_valid(opts) || (n > 0 && (t == NULL || v == NULL)))
        return LT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(t[i]) || !isfinite(v[i]) || (i > 0 && t[i] < t[i - 1]))
            return LT_EINVAL;
    const lt_trend_opts_t *o = opts;
    size_t min_points = o->min_points > 2 ? o->min_points : 2;
    double dt = n >= 2 && t[n - 1] > t[0] ? (t[n - 1] - t[0]) / (double)(n - 1) : 0;

    /* 1. The warm-up. */
    size_t start = 0;
    if (o->warmup_s >= 0) {
        while (start < n && t[start] - t[0] < o->warmup_s)
            start++;
    } else {
        start = warmup_auto(t, v, n, o);
    }
    out->start = start;
    out->n = n - start;
    out->warmup_s = start < n ? t[start] - t[0] : (n > 0 ? t[n - 1] - t[0] : 0);
    out->span_s = start < n ? t[n - 1] - t[start] : 0;
    double span = out->span_s;
    if (out->n < min_points || !(span > 0) || span < o->min_span_s) {
        /* How long until min_points survive the cut and the span is long
         * enough, at the current checkpoint rate. */
        double pts = (double)min_points;
        if (o->warmup_s < 0)
            pts /= 1 - o->max_warmup_frac;
        double need = dt * (pts - 1);
        if (o->warmup_s >= 0)
            need += o->warmup_s;
        double by_span = o->min_span_s + (o->warmup_s >= 0 ? o->warmup_s : out->warmup_s);
        out->needed_s = need > by_span ? need : by_span;
        return 0;
    }

    /* Scratch: one block. */
    size_t L = n - start;
    size_t m = L < o->max_points ? L : o->max_points;
    size_t nslopes = m * (m - 1) / 2;
    size_t total = nslopes + 2 * m + 3 * L;
    double *block = NULL;
    if (m <= ((size_t)1 << 26) && total <= SIZE_MAX / sizeof(double))
        block = lt_alloc(o->a, total * sizeof(double));
    if (block == NULL) {
        trend_zero(out);
        return LT_ENOMEM;
    }
    scratch_t sc;
    sc.slopes = block;
    sc.st = block + nslopes;
    sc.sv = sc.st + m;
    sc.tmp = sc.sv + m;
    sc.tt = sc.tmp + L;
    sc.tv = sc.tt + L;
    sc.m = m;

    const double *wt = t + start, *wv = v + start;
    double t0 = wt[0];
    double z_alpha = z_upper(o->alpha);

    /* 2. The whole window. */
    fit_points(wt, wv, L, t0, &sc, &out->raw);
    const lt_trend_fit_t *raw = &out->raw;

    /* 3. Churn: robust SD of the first differences, then the zigzag. */
    double rises = 0;
    for (size_t i = 0; i + 1 < L; i++) {
        double d = wv[i + 1] - wv[i];
        sc.tmp[i] = d;
        if (d > 0)
            rises += d;
    }
    double dmed = median(sc.tmp, L - 1);
    for (size_t i = 0; i + 1 < L; i++)
        sc.tmp[i] = fabs(wv[i + 1] - wv[i] - dmed);
    double sd_diff = TREND_MAD_K * median(sc.tmp, L - 1);
    double scale = fabs(wv[0]) > fabs(wv[L - 1]) ? fabs(wv[0]) : fabs(wv[L - 1]);
    double h = TREND_DROP_K * sd_diff;
    if (h < o->min_growth / 4)
        h = o->min_growth / 4;
    if (h < 1e-9 * scale)
        h = 1e-9 * scale;
    if (h <= 0)
        h = 1e-300;
    zig_t z;
    zigzag(wt, wv, L, h, sc.tt, sc.tv, &z);
    out->drops = z.drops;
    out->drop_h = h;
    out->giveback = rises > 0 ? z.drop_sum / rises : 0;
    if (out->giveback > 1)
        out->giveback = 1;
    out->churn = z.drops >= 2 && z.max_drop >= o->noise_k * raw->noise && z.max_drop >= o->min_growth / 4 &&
                 out->giveback >= TREND_GIVEBACK;

    /* 4. The decision. */
    const lt_trend_fit_t *f = raw;
    if (out->churn) {
        fit_points(sc.tt, sc.tv, z.ntroughs, t0, &sc, &out->troughs);
        f = &out->troughs;
    }
    out->slope = f->slope;
    out->slope_lo = f->slope_lo;
    out->slope_hi = f->slope_hi;
    out->noise = f->noise;
    /* A trough is one checkpoint: its level is no surer than the noise of
     * single points (the differences' SD / sqrt 2), whatever a handful of
     * troughs' own scatter suggests. */
    if (out->churn && out->noise < sd_diff / TREND_SQRT2)
        out->noise = sd_diff / TREND_SQRT2;
    out->growth = f->slope * span;
    double thr = o->noise_k * out->noise;
    if (thr < o->min_growth)
        thr = o->min_growth;
    out->threshold = thr;
    double p_up = 0.5 * erfc(f->z_eff / TREND_SQRT2);
    double p_down = 0.5 * erfc(-f->z_eff / TREND_SQRT2);
    double g_hi = f->slope_hi * span;

    if (out->churn && z.ntroughs < TREND_MIN_TROUGHS) {
        /* Too few cycles to see whether the troughs rise. */
        out->verdict = LT_TREND_SAWTOOTH;
        double raw_thr = o->noise_k * raw->noise > o->min_growth ? o->noise_k * raw->noise : o->min_growth;
        out->confidence = 0.5 * not_growing_conf(raw->slope_hi * span, raw_thr);
        double cycle = span / (double)(z.drops > 0 ? z.drops : 1);
        out->needed_s = out->warmup_s + cycle * (TREND_MIN_TROUGHS + 1);
    } else if (p_up < o->alpha && out->growth > 0 && out->growth >= thr) {
        /* Growing, unless it levels off: a tail (last third) significantly
         * flatter than the window, or a second half significantly slower
         * than the first (a decelerating fill: a cache warming up with
         * random keys approaches its size exponentially). */
        size_t fn = out->churn ? z.ntroughs : L;
        const double *ft = out->churn ? sc.tt : wt, *fv = out->churn ? sc.tv : wv;
        size_t tail_min = out->churn ? 4 : TREND_TAIL_MIN;
        size_t tail = (fn + 2) / 3;
        if (tail < tail_min)
            tail = tail_min;
        int plateau = 0;
        double ratio = 1;
        if (out->churn ? fn >= TREND_TROUGH_TAIL_MIN : fn >= 3 * tail_min) {
            lt_trend_fit_t tf, h1, h2;
            fit_points(ft + fn - tail, fv + fn - tail, tail, t0, &sc, &tf);
            out->tail_slope = tf.slope;
            out->tail_tested = 1;
            if (tf.slope <= TREND_PLATEAU_FRAC * f->slope && tf.slope_hi < f->slope) {
                plateau = 1;
                ratio = tf.slope / f->slope;
            }
            size_t half = fn / 2;
            fit_points(ft, fv, half, t0, &sc, &h1);
            fit_points(ft + half, fv + half, fn - half, t0, &sc, &h2);
            if (!plateau && h1.slope > 0 && h2.slope <= TREND_DECEL_FRAC * h1.slope && h2.slope_hi < h1.slope_lo) {
                plateau = 1;
                ratio = h2.slope / h1.slope;
            }
        }
        if (plateau) {
            out->verdict = LT_TREND_PLATEAU;
            double r = ratio > 0 ? ratio / TREND_PLATEAU_FRAC : 0;
            out->confidence = 0.5 + 0.5 * (1 - (r < 1 ? r : 1));
        } else {
            out->verdict = LT_TREND_GROWING;
            out->confidence = growing_conf(f, out->growth, out->noise, o, z_alpha);
            if (out->confidence < TREND_CLEAR_CONF)
                out->needed_s = needed_growing(f, out->growth, thr, out->warmup_s, span, z_alpha);
        }
    } else {
        out->verdict = out->churn ? LT_TREND_SAWTOOTH : LT_TREND_FLAT;
        if (p_down < o->alpha && out->growth < 0 && -out->growth >= thr)
            out->verdict = LT_TREND_SHRINKING;
        /* How surely it does not grow: judged on the window, or on its
         * second half when that is surer (a fill that stopped early in the
         * window leaves a wide interval on the whole but a flat end). */
        out->confidence = not_growing_conf(g_hi, thr);
        size_t fn = out->churn ? z.ntroughs : L;
        if (fn >= 2 * TREND_TAIL_MIN) {
            const double *ft = out->churn ? sc.tt : wt, *fv = out->churn ? sc.tv : wv;
            lt_trend_fit_t h2;
            fit_points(ft + fn / 2, fv + fn / 2, fn - fn / 2, t0, &sc, &h2);
            double c2 = not_growing_conf(h2.slope_hi * span, thr);
            if (c2 > out->confidence)
                out->confidence = c2;
        }
    }

    lt_free(o->a, block, total * sizeof(double));
    return 0;
}
