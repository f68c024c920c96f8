/* Trend statistics of one time series (a type's count, a site's live bytes,
 * RSS, open descriptors...): does it grow in a sustained way, or is it flat,
 * a warm-up that plateaus, a sawtooth that gives its growth back, shrinking,
 * or too short to tell? Robust and deterministic: no least-squares slope
 * decides anything, no random numbers are drawn.
 *
 * The method, in the order lt_trend_analyze applies it:
 *
 * 1. Warm-up cut. With opts->warmup_s >= 0 the points with
 *    t - t[0] < warmup_s are dropped. Otherwise (automatic) the cut is a
 *    change-point search on the slope: for every split c the series is fitted
 *    by two independent lines, [start, c) and [c, n) (one pass of running
 *    sums, O(n)); if the best split leaves at most cut_ratio (0.5) of the
 *    squared residuals that one line leaves, the part before it is warm-up
 *    (a fill that levels off, a step, an import-time spike) and is dropped.
 *    The search repeats on what is left (at most 3 times: a saturating curve
 *    needs more than one knee) and never drops more than max_warmup_frac of
 *    the points. A steady trend, with or without noise or churn, is one
 *    line: no split halves its residuals, so nothing is cut.
 *
 * 2. On the window left: the Theil-Sen slope (median of pairwise slopes;
 *    at most max_points points, evenly subsampled beyond, so at most
 *    max_points^2/2 slopes) with Sen's confidence interval, the Mann-Kendall
 *    S, its variance with the tie correction, Z (continuity corrected) and
 *    p-values from erfc. Checkpoints are close together, so noise is often
 *    autocorrelated (a drifting RSS, a staircase), which makes Mann-Kendall
 *    overconfident: Var(S) is inflated by Hamed and Rao's factor n/n*
 *    (significant lags, up to 64, of the autocorrelation of the residuals'
 *    ranks),
 *    floored by the AR(1) factor 1 + 2 sum (1 - k/n) rho1^k when the lag-1
 *    correlation is significant (detrending makes far lags negative, which
 *    can cancel the near ones in Hamed-Rao's sum), capped at n/3. Sen's
 *    interval uses the inflated variance too. The noise level is
 *    1.4826 * MAD of the residuals about the Theil-Sen line.
 *
 * 3. Churn (sawtooth) detection. A zigzag with hysteresis h finds swings
 *    down by at least h = max(5 * robust SD of the first differences,
 *    min_growth / 4): steps of noise never make such a swing, the drop at
 *    the end of each tooth does. When there are at least 2 such drops, the
 *    largest is beyond noise_k * noise, and together they give back at
 *    least half of what the series gained, the series is churning, and the
 *    raw series says nothing about retention (a sawtooth's ramps make
 *    Mann-Kendall "significant" with no growth at all). The decision is
 *    then taken on the troughs: the lowest point after each drop, i.e. the
 *    level memory returns to. Rising troughs are a leak hidden in churn
 *    (the 200 B/request case); level troughs are a SAWTOOTH. Fewer than 5
 *    troughs cannot tell (even 4 monotonic ones miss p < 0.01): SAWTOOTH,
 *    with needed_s saying how long 6 cycles take.
 *
 * 4. Decision on the raw window (or the troughs):
 *    GROWING   one-sided p_up < alpha (on Z_eff), growth = slope * span at
 *              least max(min_growth, noise_k * noise), and no levelling off:
 *    PLATEAU   the same, but the tail (last third, at least 5 points; for
 *              troughs, when there are 8 or more) is significantly flatter
 *              (tail slope <= 0.3 * slope and its upper bound < slope), or
 *              the second half is significantly slower than the first
 *              (slope ratio <= 0.5, intervals disjoint): a decelerating
 *              fill, such as a cache warming up with random keys, which
 *              approaches its size exponentially.
 *    SHRINKING the mirror image (p_down < alpha, -growth large enough).
 *    SAWTOOTH  churning, and the troughs neither rise nor fall.
 *    On troughs, noise is their residuals' MAD but at least the noise of
 *    single points (robust SD of the first differences / sqrt 2): a trough
 *    is one checkpoint, and a few troughs scatter little by chance.
 *    FLAT      anything else: no growth beyond noise.
 *    TOO_SHORT fewer than min_points points, or a window shorter than
 *              min_span_s, after the cut.
 *    A step (a one-time fill) is cut as warm-up when it happens in the
 *    first max_warmup_frac of the run; later, its flat end makes it FLAT
 *    or PLATEAU.
 *
 * 5. Confidence, in the verdict, 0..1.
 *    GROWING: sig * sqrt(size_noise * size_min) * (0.8 + 0.2 * max(tau, 0))
 *      sig        = Phi(Z_eff - z_alpha): 0.5 at the significance threshold;
 *      size_noise = 1 - 2^(-growth / (noise_k * noise)): 0.5 at threshold;
 *      size_min   = 1 - 2^(-growth / min_growth) (1 when min_growth is 0);
 *      tau        = Kendall's tau (monotonicity): a noisy but real trend
 *                   loses at most a fifth.
 *      Significance gates and size scales: overwhelming evidence of a
 *      growth only somewhat above the noise (a slow leak in heavy churn)
 *      scores about 0.7; a large growth at the edge of significance about
 *      0.45. Callers treat >= 0.5 as confident and a lower GROWING as "run
 *      longer".
 *    PLATEAU: 0.5 + 0.5 * (1 - slope ratio / its threshold).
 *    FLAT, SAWTOOTH, SHRINKING: how surely it does not grow: with g_hi the
 *      upper end of Sen's 95 % interval times the span and thr =
 *      max(min_growth, noise_k * noise), 1 - 2^(-thr / g_hi) (1 when
 *      g_hi <= 0): 0.5 when a growth as large as the threshold cannot be
 *      ruled out, near 1 when even the interval's end is far below it. The
 *      second half of the window is judged the same way and the surer of
 *      the two counts (a fill that stopped early leaves a wide interval on
 *      the whole window but a flat end).
 *    TOO_SHORT: 0.
 *
 * Measured on synthetic series (10 s at 10 checkpoints/s, 400 seeds each,
 * min_growth 0): linear growth at 50 noise: all GROWING, slope error 0.6 %;
 * 200 KB/s inside a 2 MB sawtooth (periods 0.37 to 1.3 s): all GROWING,
 * confidence 0.8-1; inside +-1 MB uniform random churn: 96 % GROWING; fill
 * then flat, steps, flat noise, sawtooths without a trend: 0-1.5 % GROWING;
 * exponential saturation (tau 1.5 s): 1.5 %; random walks: ~18 % (no test
 * of trend tells a random walk from a trend in one short window: the
 * min_growth thresholds are the guard there).
 *
 * 6. needed_s: for TOO_SHORT, for a GROWING series not yet clear
 *    (confidence < 0.75) and for a SAWTOOTH with too few cycles, an estimate
 *    of the total observation time (from t[0]) after which the call should
 *    be clear: at the current slope, until the growth is twice the
 *    threshold and Z_eff exceeds z_alpha by 1.5 (Z grows about as
 *    span^1.5 at a fixed checkpoint rate); 0 when the run suffices or
 *    nothing can be estimated.
 *
 * Thread-safety: none needed; every call uses only its arguments. */
#ifndef LT_TREND_H
#define LT_TREND_H

#include "alloc.h"

#include <stddef.h>

typedef enum lt_trend_verdict {
    LT_TREND_TOO_SHORT = 0,
    LT_TREND_FLAT = 1,
    LT_TREND_GROWING = 2,
    LT_TREND_PLATEAU = 3,
    LT_TREND_SAWTOOTH = 4,
    LT_TREND_SHRINKING = 5,
} lt_trend_verdict_t;

/* "too-short", "flat", "growing", "plateau", "sawtooth", "shrinking";
 * "unknown" for any other value. Static strings. */
const char *lt_trend_verdict_name(lt_trend_verdict_t v);

typedef struct lt_trend_opts {
    const lt_alloc_t *a;        /* scratch memory; required */
    double warmup_s;            /* < 0: automatic cut; >= 0: drop t - t[0] < warmup_s */
    double max_warmup_frac;     /* the automatic cut keeps at least 1 - this of the points (0.5) */
    double min_growth;          /* the smallest growth over the window that matters, in v's unit (0) */
    double alpha;               /* one-sided significance level (0.01) */
    double noise_k;             /* growth must exceed noise_k * noise (2) */
    double min_span_s;          /* a shorter window is TOO_SHORT (0) */
    size_t min_points;          /* a window with fewer points is TOO_SHORT (8) */
    size_t max_points;          /* Theil-Sen and Mann-Kendall use at most this many points (512) */
} lt_trend_opts_t;

/* Fills *o with the defaults above (automatic warm-up) and allocator a. */
void lt_trend_opts_init(lt_trend_opts_t *o, const lt_alloc_t *a);

/* Statistics of one fit (Theil-Sen + Mann-Kendall) on a set of points. */
typedef struct lt_trend_fit {
    size_t n;                   /* points used (after subsampling) */
    double slope;               /* Theil-Sen, v units per second */
    double slope_lo, slope_hi;  /* Sen's 95 % interval (autocorrelation-corrected) */
    double intercept;           /* fitted value at the window's first time */
    double noise;               /* 1.4826 * MAD of the residuals */
    double s;                   /* Mann-Kendall S */
    double var_s;               /* Var(S), ties corrected (not inflated) */
    double z;                   /* Z with continuity correction */
    double z_eff;               /* Z after the autocorrelation correction */
    double acf1;                /* lag-1 autocorrelation of the residuals */
    double p;                   /* two-sided p-value of z_eff */
    double tau;                 /* Kendall's tau-a, S / (n (n - 1) / 2) */
} lt_trend_fit_t;

typedef struct lt_trend {
    lt_trend_verdict_t verdict;
    double confidence;          /* in the verdict, 0..1 (see 5. above) */
    size_t start;               /* index of the first point after the warm-up cut */
    size_t n;                   /* points in the window (input n - start) */
    double warmup_s;            /* t[start] - t[0] */
    double span_s;              /* t[n-1] - t[start] */
    /* The deciding numbers: the troughs' when churn is set, else the raw
     * window's. */
    double slope;               /* per second */
    double slope_lo, slope_hi;
    double growth;              /* slope * span_s */
    double threshold;           /* max(min_growth, noise_k * noise) that growth is held to */
    double noise;
    lt_trend_fit_t raw;         /* the whole window */
    lt_trend_fit_t troughs;     /* the troughs (n = 0 unless churn) */
    double tail_slope;          /* Theil-Sen slope of the tail; 0 when not tested */
    int tail_tested;
    int churn;                  /* the troughs decided */
    size_t drops;               /* zigzag swings down by at least the threshold h */
    double drop_h;              /* h */
    double giveback;            /* sum of those drops / sum of all rises (0..1) */
    double needed_s;            /* see 6. above; 0 when not needed */
} lt_trend_t;

/* Analyses the series (t[i], v[i]), i < n: t in seconds, non-decreasing,
 * finite; v finite. Writes *out (every field) and returns 0; n < 2 or a
 * window too short gives verdict TOO_SHORT, not an error. Returns
 * LT_EINVAL (NULL opts/out/allocator, NULL arrays with n > 0, a non-finite
 * number, t decreasing) or LT_ENOMEM; on error *out is zeroed with verdict
 * TOO_SHORT. Allocates O(n + max_points^2 / 2) doubles of scratch from
 * opts->a, all freed before it returns. Deterministic. */
int lt_trend_analyze(const double *t, const double *v, size_t n, const lt_trend_opts_t *opts, lt_trend_t *out);

/* Internal but shared with the timeline: rearranges a[0..n) so that a[k]
 * holds the value of rank k, nothing larger before it and nothing smaller
 * after (a 3-way quickselect, median-of-3 pivots, no allocation). k < n. */
void lt__trend_select(double *a, size_t n, size_t k);

#endif
