/* lt_timeline: bounded per-id series from checkpoints, and their analysis
 * into ranked growing candidates and a verdict. */
#include "timeline.h"
#include "errors.h"
#include "procfs.h"
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The process group's series ids. */
enum {
    P_RSS = 0,
    P_HEAP = 1,
    P_NATIVE = 2,
    P_FD0 = 3,                  /* .. P_FD0 + LT_CAPTURE_FD_KINDS - 1 */
    P_THREADS = P_FD0 + LT_CAPTURE_FD_KINDS,
    P_RESIDUE,
    P_FDS,
    P_COUNT
};

#define SERIES_MAT 1u           /* has an array holding every point */
#define SERIES_PENDING 2u       /* gets its array filled by the add being prepared */
#define SERIES_EVICTED 4u       /* dropped: its rows are ignored */
#define SERIES_RANGE 8u         /* min/max hold at least one value */

#define ARRAY_MIN_CAP 16
#define NOMINAL_OBJECT 64.0
#define NOMINAL_FD 1024.0
#define NOMINAL_THREAD 65536.0

const char *lt_cand_kind_name(lt_cand_kind_t kind)
{
    switch (kind) {
    case LT_CAND_TYPE: return "type";
    case LT_CAND_SITE: return "site";
    case LT_CAND_FDS: return "fds";
    case LT_CAND_FD_KIND: return "fd-kind";
    case LT_CAND_THREADS: return "threads";
    case LT_CAND_NATIVE: return "native";
    case LT_CAND_HEAP: return "heap";
    }
    return "unknown";
}

/* Top-level packages of the standard library (and CPython's own private
 * modules) whose types users meet in a census. */
static const char *const stdlib_modules[] = {
    "_abc", "_asyncio", "_collections", "_contextvars", "_csv", "_ctypes", "_decimal", "_elementtree",
    "_frozen_importlib", "_frozen_importlib_external", "_functools", "_hashlib", "_io", "_json", "_lzma",
    "_pickle", "_queue", "_random", "_socket", "_sqlite3", "_sre", "_ssl", "_struct", "_thread",
    "_weakref", "_weakrefset", "abc", "argparse", "array", "ast", "asyncio", "atexit", "base64", "bisect",
    "builtins", "bz2", "codecs", "collections", "concurrent", "contextlib", "contextvars", "copy", "csv",
    "ctypes", "dataclasses", "datetime", "decimal", "dis", "email", "encodings", "enum", "fractions",
    "functools", "gc", "gzip", "hashlib", "heapq", "hmac", "html", "http", "importlib", "inspect", "io",
    "ipaddress", "itertools", "json", "logging", "lzma", "mmap", "multiprocessing", "numbers",
    "operator", "os", "pathlib", "pickle", "platform", "posix", "pprint", "queue", "random", "re",
    "select", "selectors", "shutil", "signal", "socket", "socketserver", "sqlite3", "ssl", "stat",
    "statistics", "string", "struct", "subprocess", "sys", "tempfile", "textwrap", "threading", "time",
    "tokenize", "traceback", "types", "typing", "unittest", "urllib", "uuid", "warnings", "weakref",
    "xml", "zipfile", "zipimport", "zlib", "zoneinfo",
};

int lt_timeline_user_type(const char *name, size_t len)
{
    if (name == NULL)
        return 0;
    size_t dot = 0;
    while (dot < len && name[dot] != '.')
        dot++;
    if (dot == 0 || dot >= len)
        return 0;
    for (size_t i = 0; i < sizeof(stdlib_modules) / sizeof(stdlib_modules[0]); i++) {
        const char *m = stdlib_modules[i];
        if (strlen(m) == dot && memcmp(m, name, dot) == 0)
            return 0;
    }
    return 1;
}

void lt_timeline_opts_init(lt_timeline_opts_t *o)
{
    o->max_points = 512;
    o->max_series = 8192;
}

static void group_init(lt__tl_group_t *g, int has_count, size_t max_series)
{
    memset(g, 0, sizeof(*g));
    g->has_count = has_count;
    g->stride = 1;
    g->max_series = max_series;
}

int lt_timeline_init(lt_timeline_t *tl, const lt_alloc_t *a, const lt_timeline_opts_t *opts)
{
    lt_timeline_opts_t d;
    lt_timeline_opts_init(&d);
    if (opts == NULL)
        opts = &d;
    if (tl == NULL || a == NULL || opts->max_points < 16 || opts->max_points % 2 != 0 ||
        opts->max_points > ((size_t)1 << 24) || opts->max_series < 4)
        return LT_EINVAL;
    memset(tl, 0, sizeof(*tl));
    tl->a = a;
    tl->max_points = opts->max_points;
    group_init(&tl->proc, 0, P_COUNT);
    group_init(&tl->census, 1, opts->max_series);
    group_init(&tl->sites, 1, opts->max_series);
    return 0;
}

/* ---- Series storage --------------------------------------------------- */

static size_t series_bytes(const lt__tl_group_t *g, size_t cap)
{
    return cap * (g->has_count ? 2 : 1) * sizeof(double);
}

static void series_free(const lt_alloc_t *a, const lt__tl_group_t *g, lt__tl_series_t *s)
{
    lt_free(a, s->b, series_bytes(g, s->cap));
    s->b = s->c = NULL;
    s->cap = 0;
}

static void group_release(const lt_alloc_t *a, lt__tl_group_t *g)
{
    for (size_t i = 0; i < g->nseries; i++)
        series_free(a, g, &g->series[i]);
    lt_free(a, g->series, g->series_cap * sizeof(lt__tl_series_t));
    lt_free(a, g->map, g->map_cap * sizeof(uint32_t));
    lt_free(a, g->t, g->tcap * sizeof(double));
    group_init(g, g->has_count, g->max_series);
}

void lt_timeline_release(lt_timeline_t *tl)
{
    if (tl == NULL || tl->a == NULL)
        return;
    group_release(tl->a, &tl->proc);
    group_release(tl->a, &tl->census);
    group_release(tl->a, &tl->sites);
    tl->checkpoints = 0;
    tl->t0_ns = tl->last_ns = 0;
    tl->native_tracked = 0;
}

static inline size_t map_hash(uint32_t id, size_t cap)
{
    return (size_t)(((uint64_t)id * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (cap - 1);
}

/* The slot holding id, or the empty slot where it would go. */
static size_t map_slot(const uint32_t *map, size_t cap, const lt__tl_series_t *series, uint32_t id)
{
    size_t i = map_hash(id, cap);
    while (map[i] != 0 && series[map[i] - 1].id != id)
        i = (i + 1) & (cap - 1);
    return i;
}

static lt__tl_series_t *group_find(const lt__tl_group_t *g, uint32_t id)
{
    if (g->map_cap == 0)
        return NULL;
    size_t i = map_slot(g->map, g->map_cap, g->series, id);
    return g->map[i] ? &g->series[g->map[i] - 1] : NULL;
}

/* Finds or creates the series of id; *index is its index. */
static int group_get(const lt_alloc_t *a, lt__tl_group_t *g, uint32_t id, size_t *index)
{
    lt__tl_series_t *s = group_find(g, id);
    if (s != NULL) {
        *index = (size_t)(s - g->series);
        return 0;
    }
    if (g->nseries >= UINT32_MAX - 1)
        return LT_ENOMEM;
    if (g->nseries == g->series_cap) {
        size_t cap = g->series_cap ? 2 * g->series_cap : 64;
        lt__tl_series_t *ns = lt_alloc(a, cap * sizeof(*ns));
        if (ns == NULL)
            return LT_ENOMEM;
        if (g->nseries)
            memcpy(ns, g->series, g->nseries * sizeof(*ns));
        lt_free(a, g->series, g->series_cap * sizeof(*ns));
        g->series = ns;
        g->series_cap = cap;
    }
    if (2 * (g->nseries + 1) > g->map_cap) {
        size_t cap = g->map_cap ? 2 * g->map_cap : 128;
        uint32_t *map = lt_alloc(a, cap * sizeof(uint32_t));
        if (map == NULL)
            return LT_ENOMEM;
        for (size_t i = 0; i < g->nseries; i++)
            map[map_slot(map, cap, g->series, g->series[i].id)] = (uint32_t)i + 1;
        lt_free(a, g->map, g->map_cap * sizeof(uint32_t));
        g->map = map;
        g->map_cap = cap;
    }
    s = &g->series[g->nseries];
    memset(s, 0, sizeof(*s));
    s->id = id;
    if (g->idx > 0) {
        /* Absent, so 0, at every earlier point. */
        s->flags = SERIES_RANGE;
    }
    g->map[map_slot(g->map, g->map_cap, g->series, id)] = (uint32_t)g->nseries + 1;
    *index = g->nseries++;
    return 0;
}

/* Makes s's array hold at least `need` points, keeping the first `keep`. */
static int series_reserve(const lt_alloc_t *a, const lt__tl_group_t *g, lt__tl_series_t *s, size_t need, size_t keep,
                          size_t max_points)
{
    if (s->cap >= need)
        return 0;
    size_t cap = s->cap ? s->cap : ARRAY_MIN_CAP;
    while (cap < need)
        cap *= 2;
    if (cap > max_points)
        cap = max_points;
    double *b = lt_alloc(a, series_bytes(g, cap));
    if (b == NULL)
        return LT_ENOMEM;
    double *c = g->has_count ? b + cap : NULL;
    if (keep > s->cap)
        keep = s->cap;
    if (keep > 0) {
        memcpy(b, s->b, keep * sizeof(double));
        if (c != NULL)
            memcpy(c, s->c, keep * sizeof(double));
    }
    lt_free(a, s->b, series_bytes(g, s->cap));
    s->b = b;
    s->c = c;
    s->cap = cap;
    return 0;
}

static double series_range(const lt__tl_series_t *s)
{
    if (!(s->flags & SERIES_RANGE))
        return 0;
    return (s->maxb - s->minb) + NOMINAL_OBJECT * (s->maxc - s->minc);
}

/* Drops the arrays of the half of the series with the smallest range
 * (the value being added included). Scratch: one array of ranges. */
static int group_evict(const lt_alloc_t *a, lt__tl_group_t *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->nseries; i++)
        n += g->series[i].b != NULL;
    if (n == 0)
        return 0;
    double *r = lt_alloc(a, n * sizeof(double));
    if (r == NULL)
        return LT_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < g->nseries; i++)
        if (g->series[i].b != NULL)
            r[k++] = series_range(&g->series[i]);
    lt__trend_select(r, n, (n - 1) / 2);
    double cut = r[(n - 1) / 2];
    lt_free(a, r, n * sizeof(double));
    for (size_t i = 0; i < g->nseries; i++) {
        lt__tl_series_t *s = &g->series[i];
        if (s->b == NULL || series_range(s) > cut)
            continue;
        series_free(a, g, s);
        s->flags = (s->flags & ~(SERIES_MAT | SERIES_PENDING)) | SERIES_EVICTED;
        g->narrays--;
        g->dropped++;
    }
    return 0;
}

/* s (at index i) changed: give it an array, filled in commit. */
static int series_materialize(lt_timeline_t *tl, lt__tl_group_t *g, size_t i, size_t need)
{
    lt__tl_series_t *s = &g->series[i];
    if (s->b == NULL) {
        if (g->narrays >= g->max_series) {
            int rc = group_evict(tl->a, g);
            if (rc < 0)
                return rc;
            s = &g->series[i];
            if (s->flags & SERIES_EVICTED)
                return 0;
            if (g->narrays >= g->max_series) {
                s->flags |= SERIES_EVICTED;
                g->dropped++;
                return 0;
            }
        }
        int rc = series_reserve(tl->a, g, s, need, 0, tl->max_points);
        if (rc < 0)
            return rc;
        g->narrays++;
    } else {
        int rc = series_reserve(tl->a, g, s, need, 0, tl->max_points);
        if (rc < 0)
            return rc;
    }
    s->flags |= SERIES_PENDING;
    return 0;
}

/* ---- Adding a checkpoint: prepare (may allocate), then commit (cannot
 * fail) ------------------------------------------------------------------ */

typedef struct rows {
    const lt_capture_row_t *r;
    size_t n;
    const double *vals;         /* instead of r: vals[id], id < n */
} rows_t;

static inline void row_get(const rows_t *rs, size_t k, uint32_t *id, double *b, double *c)
{
    if (rs->vals != NULL) {
        *id = (uint32_t)k;
        *b = rs->vals[k];
        *c = 0;
    } else {
        *id = rs->r[k].id;
        *b = (double)rs->r[k].bytes;
        *c = (double)rs->r[k].count;
    }
}

static inline void range_add(lt__tl_series_t *s, double b, double c)
{
    if (!(s->flags & SERIES_RANGE)) {
        s->minb = s->maxb = b;
        s->minc = s->maxc = c;
        s->flags |= SERIES_RANGE;
        return;
    }
    s->minb = b < s->minb ? b : s->minb;
    s->maxb = b > s->maxb ? b : s->maxb;
    s->minc = c < s->minc ? c : s->minc;
    s->maxc = c > s->maxc ? c : s->maxc;
}

static int group_prepare(lt_timeline_t *tl, lt__tl_group_t *g, const rows_t *rs)
{
    uint64_t gen = ++g->gen;
    g->drop_prov = g->provisional;
    size_t n0 = g->n - (g->drop_prov ? 1 : 0);
    g->decimate = n0 == tl->max_points;
    g->idx = g->decimate ? n0 / 2 : n0;
    size_t need = g->idx + 1;
    size_t keep = g->n;
    if (need > g->tcap) {
        size_t cap = g->tcap ? 2 * g->tcap : ARRAY_MIN_CAP;
        while (cap < need)
            cap *= 2;
        if (cap > tl->max_points)
            cap = tl->max_points;
        double *t = lt_alloc(tl->a, cap * sizeof(double));
        if (t == NULL)
            return LT_ENOMEM;
        if (g->n)
            memcpy(t, g->t, g->n * sizeof(double));
        lt_free(tl->a, g->t, g->tcap * sizeof(double));
        g->t = t;
        g->tcap = cap;
    }
    for (size_t k = 0; k < rs->n; k++) {
        uint32_t id;
        double b, c;
        row_get(rs, k, &id, &b, &c);
        if (b == 0 && c == 0)
            continue;           /* the same as absent */
        size_t i;
        int rc = group_get(tl->a, g, id, &i);
        if (rc < 0)
            return rc;
        lt__tl_series_t *s = &g->series[i];
        if (s->flags & SERIES_EVICTED)
            continue;
        s->gen = gen;
        /* Ranges are updated here, before anything can fail: eviction
         * needs the value being added, and a range too wide after a failed
         * add only costs an analysis. */
        range_add(s, b, c);
        if (s->flags & SERIES_MAT)
            rc = series_reserve(tl->a, g, s, need, keep, tl->max_points);
        else if (g->idx > 0 && (b != s->cb || c != s->cc))
            rc = series_materialize(tl, g, i, need);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < g->nseries; i++) {
        lt__tl_series_t *s = &g->series[i];
        if (s->gen == gen || (s->flags & SERIES_EVICTED))
            continue;
        range_add(s, 0, 0);
        int rc = 0;
        if (s->flags & SERIES_MAT)
            rc = series_reserve(tl->a, g, s, need, keep, tl->max_points);
        else if (g->idx > 0 && (s->cb != 0 || s->cc != 0))
            rc = series_materialize(tl, g, i, need);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void group_unprepare(lt__tl_group_t *g)
{
    /* Arrays given to pending series stay, reserved for a retry. */
    for (size_t i = 0; i < g->nseries; i++)
        g->series[i].flags &= ~SERIES_PENDING;
}

static void group_commit(lt__tl_group_t *g, const rows_t *rs, double time)
{
    if (g->drop_prov)
        g->n--;
    if (g->decimate) {
        size_t half = g->n / 2;
        for (size_t j = 0; j < half; j++)
            g->t[j] = g->t[2 * j];
        for (size_t i = 0; i < g->nseries; i++) {
            lt__tl_series_t *s = &g->series[i];
            if (!(s->flags & SERIES_MAT))
                continue;
            for (size_t j = 0; j < half; j++) {
                s->b[j] = s->b[2 * j];
                if (s->c != NULL)
                    s->c[j] = s->c[2 * j];
            }
        }
        g->n = half;
        g->stride *= 2;
    }
    size_t idx = g->n;
    g->t[idx] = time;
    for (size_t i = 0; i < g->nseries; i++) {
        lt__tl_series_t *s = &g->series[i];
        if (!(s->flags & SERIES_PENDING))
            continue;
        for (size_t j = 0; j < idx; j++) {
            s->b[j] = s->cb;
            if (s->c != NULL)
                s->c[j] = s->cc;
        }
        s->flags = (s->flags & ~SERIES_PENDING) | SERIES_MAT;
    }
    for (size_t k = 0; k < rs->n; k++) {
        uint32_t id;
        double b, c;
        row_get(rs, k, &id, &b, &c);
        if (b == 0 && c == 0)
            continue;
        lt__tl_series_t *s = group_find(g, id);
        if (s == NULL || (s->flags & SERIES_EVICTED))
            continue;
        if (s->flags & SERIES_MAT) {
            s->b[idx] = b;
            if (s->c != NULL)
                s->c[idx] = c;
        } else if (idx == 0) {
            s->cb = b;
            s->cc = c;
        }
    }
    for (size_t i = 0; i < g->nseries; i++) {
        lt__tl_series_t *s = &g->series[i];
        if (s->gen == g->gen || (s->flags & SERIES_EVICTED))
            continue;
        if (s->flags & SERIES_MAT) {
            s->b[idx] = 0;
            if (s->c != NULL)
                s->c[idx] = 0;
        }
    }
    g->n = idx + 1;
    uint64_t k = g->seen++;
    g->provisional = k % g->stride != 0;
}

int lt_timeline_add(lt_timeline_t *tl, const lt_capture_checkpoint_t *cp)
{
    if (tl == NULL || tl->a == NULL || cp == NULL || (cp->nsites > 0 && cp->sites == NULL) ||
        (cp->has_census && cp->ncensus > 0 && cp->census == NULL) ||
        (tl->checkpoints > 0 && cp->time_ns < tl->last_ns))
        return LT_EINVAL;
    uint64_t t0 = tl->checkpoints > 0 ? tl->t0_ns : cp->time_ns;
    double time = (double)(cp->time_ns - t0) / 1e9;

    double vals[P_COUNT];
    vals[P_RSS] = (double)cp->rss_bytes;
    vals[P_HEAP] = (double)cp->py_heap_bytes;
    vals[P_NATIVE] = (double)cp->native_heap_bytes;
    double fds = 0;
    for (int k = 0; k < LT_CAPTURE_FD_KINDS; k++) {
        vals[P_FD0 + k] = (double)cp->fds[k];
        fds += (double)cp->fds[k];
    }
    vals[P_THREADS] = (double)cp->threads;
    vals[P_RESIDUE] = (double)cp->rss_bytes - (double)cp->py_heap_bytes;
    vals[P_FDS] = fds;
    rows_t pr = {NULL, P_COUNT, vals};
    rows_t sr = {cp->sites, cp->nsites, NULL};
    rows_t cr = {cp->census, cp->has_census ? cp->ncensus : 0, NULL};

    int rc = group_prepare(tl, &tl->proc, &pr);
    if (rc == 0)
        rc = group_prepare(tl, &tl->sites, &sr);
    if (rc == 0 && cp->has_census)
        rc = group_prepare(tl, &tl->census, &cr);
    if (rc < 0) {
        group_unprepare(&tl->proc);
        group_unprepare(&tl->sites);
        group_unprepare(&tl->census);
        return rc;
    }
    group_commit(&tl->proc, &pr, time);
    group_commit(&tl->sites, &sr, time);
    if (cp->has_census)
        group_commit(&tl->census, &cr, time);
    tl->t0_ns = t0;
    tl->last_ns = cp->time_ns;
    tl->checkpoints++;
    if (cp->native_heap_bytes > 0)
        tl->native_tracked = 1;
    return 0;
}

int lt_timeline_kept(const lt_timeline_t *tl)
{
    return tl != NULL && tl->checkpoints > 0 && !tl->proc.provisional;
}

/* ---- Analysis ----------------------------------------------------------- */

void lt_analysis_opts_init(lt_analysis_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->warmup_s = -1;
    o->alpha = 0.01;
    o->min_confidence = 0.5;
    o->min_points = 8;
    o->min_duration_s = 0;
    o->min_count = 50;
    o->min_bytes = 64 * 1024;
    o->min_native = 1024 * 1024;
    o->min_fds = 3;
    o->min_threads = 3;
    o->max_candidates = 0;
}

typedef struct actx {
    const lt_timeline_t *tl;
    const lt_analysis_opts_t *o;
    lt_analysis_t *out;
    double *flat;               /* scratch: a constant series, max_points doubles */
} actx_t;

/* The screen: a coarse, liberal trend (96 points, alpha 0.2, half the
 * thresholds) that every series which could be GROWING passes; most flat
 * series stop there at a fiftieth of the cost. */
#define SCREEN_POINTS 96
#define SCREEN_ALPHA 0.2

static int series_trend_opts(actx_t *x, const lt__tl_group_t *g, const lt__tl_series_t *s, int counts,
                             const lt_trend_opts_t *to, lt_trend_t *tr);

static int series_trend(actx_t *x, const lt__tl_group_t *g, const lt__tl_series_t *s, int counts, double min_growth,
                        lt_trend_t *tr)
{
    lt_trend_opts_t to;
    lt_trend_opts_init(&to, x->tl->a);
    to.warmup_s = x->o->warmup_s;
    to.alpha = x->o->alpha;
    to.min_points = x->o->min_points;
    to.min_growth = min_growth;
    x->out->analysed++;
    return series_trend_opts(x, g, s, counts, &to, tr);
}

/* 1 when the series may grow: worth the full test. */
static int series_screen(actx_t *x, const lt__tl_group_t *g, const lt__tl_series_t *s, int counts, double min_growth,
                         int *rc)
{
    lt_trend_opts_t to;
    lt_trend_opts_init(&to, x->tl->a);
    to.warmup_s = x->o->warmup_s;
    to.alpha = x->o->alpha > SCREEN_ALPHA ? x->o->alpha : SCREEN_ALPHA;
    to.min_points = x->o->min_points;
    to.min_growth = min_growth / 2;
    to.noise_k /= 2;
    to.max_points = SCREEN_POINTS;
    lt_trend_t tr;
    *rc = series_trend_opts(x, g, s, counts, &to, &tr);
    x->out->screened++;
    return *rc == 0 && (tr.verdict == LT_TREND_GROWING || tr.verdict == LT_TREND_PLATEAU);
}

static int series_trend_opts(actx_t *x, const lt__tl_group_t *g, const lt__tl_series_t *s, int counts,
                             const lt_trend_opts_t *opts, lt_trend_t *tr)
{
    lt_trend_opts_t to = *opts;
    const double *v;
    if (s != NULL && (s->flags & SERIES_MAT)) {
        v = counts ? s->c : s->b;
    } else {
        double k = s == NULL ? 0 : counts ? s->cc : s->cb;
        for (size_t i = 0; i < g->n; i++)
            x->flat[i] = k;
        v = x->flat;
    }
    return lt_trend_analyze(g->t, v, g->n, &to, tr);
}

static int push(lt_analysis_t *out, const lt_candidate_t *c)
{
    if (out->ncandidates == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 32;
        lt_candidate_t *n = lt_alloc(out->a, cap * sizeof(*n));
        if (n == NULL)
            return LT_ENOMEM;
        if (out->ncandidates)
            memcpy(n, out->candidates, out->ncandidates * sizeof(*n));
        lt_free(out->a, out->candidates, out->cap * sizeof(*n));
        out->candidates = n;
        out->cap = cap;
    }
    out->candidates[out->ncandidates++] = *c;
    return 0;
}

static void cand_init(lt_candidate_t *c, lt_cand_kind_t kind, uint32_t id)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->id = id;
    c->echo_of = -1;
}

/* Fills the rates, deltas and first/last values of c from a trend of the
 * series v (counts or bytes). */
static void cand_fill(lt_candidate_t *c, const lt_trend_t *tr, const lt__tl_group_t *g, const lt__tl_series_t *s,
                      int counts)
{
    double first = 0, last = 0;
    if (g->n > 0) {
        if (s != NULL && (s->flags & SERIES_MAT)) {
            const double *v = counts ? s->c : s->b;
            first = v[tr->start < g->n ? tr->start : 0];
            last = v[g->n - 1];
        } else if (s != NULL) {
            first = last = counts ? s->cc : s->cb;
        }
    }
    double delta = tr->slope * tr->span_s;
    int64_t d = fabs(delta) < 9e18 ? (int64_t)llround(delta) : 0;
    if (counts) {
        c->count_per_second = tr->slope;
        c->count_delta = d;
        c->first_count = first;
        c->last_count = last;
    } else {
        c->bytes_per_second = tr->slope;
        c->bytes_delta = d;
        c->first_bytes = first;
        c->last_bytes = last;
    }
}

static int screened_out(const lt__tl_series_t *s, int counts, double min_growth)
{
    if (!(s->flags & SERIES_MAT))
        return 1;               /* constant */
    double r = counts ? s->maxc - s->minc : s->maxb - s->minb;
    return r < min_growth / 2;
}

/* A process series as a candidate, when it grows. */
static int proc_candidate(actx_t *x, int pid, int kind, uint32_t id, int counts, double min_growth, lt_trend_t *keep)
{
    const lt__tl_group_t *g = &x->tl->proc;
    const lt__tl_series_t *s = group_find(g, (uint32_t)pid);
    lt_trend_t tr;
    int rc = series_trend(x, g, s, 0, min_growth, &tr);
    if (rc < 0)
        return rc;
    if (keep != NULL)
        *keep = tr;
    if (kind < 0 || tr.verdict != LT_TREND_GROWING)
        return 0;
    lt_candidate_t c;
    cand_init(&c, (lt_cand_kind_t)kind, id);
    c.trend = tr;
    c.by_count = counts;
    cand_fill(&c, &tr, g, s, 0);
    if (counts) {
        c.count_per_second = c.bytes_per_second;
        c.count_delta = c.bytes_delta;
        c.first_count = c.first_bytes;
        c.last_count = c.last_bytes;
        c.bytes_per_second = 0;
        c.bytes_delta = 0;
        c.first_bytes = c.last_bytes = 0;
    }
    return push(x->out, &c);
}

/* A census type or a site: both series, the growing (surer) one decides. */
static int row_candidate(actx_t *x, const lt__tl_group_t *g, const lt__tl_series_t *s, lt_cand_kind_t kind)
{
    const lt_analysis_opts_t *o = x->o;
    if (screened_out(s, 0, o->min_bytes) && (kind == LT_CAND_SITE || screened_out(s, 1, o->min_count)))
        return 0;
    int rc = 0;
    int mb = !screened_out(s, 0, o->min_bytes) && series_screen(x, g, s, 0, o->min_bytes, &rc);
    if (rc < 0)
        return rc;
    int mc = kind == LT_CAND_TYPE && !screened_out(s, 1, o->min_count) && series_screen(x, g, s, 1, o->min_count, &rc);
    if (rc < 0)
        return rc;
    if (!mb && !mc)
        return 0;
    lt_trend_t tb, tc;
    rc = series_trend(x, g, s, 0, o->min_bytes, &tb);
    if (rc == 0)
        rc = series_trend(x, g, s, 1, o->min_count, &tc);
    if (rc < 0)
        return rc;
    int gb = tb.verdict == LT_TREND_GROWING;
    int gc = kind == LT_CAND_TYPE && tc.verdict == LT_TREND_GROWING;
    if (!gb && !gc)
        return 0;
    lt_candidate_t c;
    cand_init(&c, kind, s->id);
    c.by_count = gc && (!gb || tc.confidence > tb.confidence);
    c.trend = c.by_count ? tc : tb;
    c.other = c.by_count ? tb : tc;
    cand_fill(&c, &tb, g, s, 0);
    cand_fill(&c, &tc, g, s, 1);
    return push(x->out, &c);
}

/* ---- Ranking ------------------------------------------------------------ */

typedef struct name {
    const char *s;
    size_t len;
} name_t;

static int name_is(const name_t *n, const char *lit)
{
    size_t l = strlen(lit);
    return n->s != NULL && n->len == l && memcmp(n->s, lit, l) == 0;
}

static int name_in(const name_t *n, const char *const *list)
{
    for (; *list != NULL; list++)
        if (name_is(n, *list))
            return 1;
    return 0;
}

static const char *const atomic_types[] = {"str", "int", "float", "bytes", "bytearray", "complex", "tuple", NULL};
static const char *const container_types[] = {"dict", "list", "set", "collections.deque", "collections.OrderedDict",
                                              "collections.defaultdict", NULL};

static double cand_rate(const lt_candidate_t *c)
{
    double nominal = 0;
    switch (c->kind) {
    case LT_CAND_TYPE:
    case LT_CAND_SITE: nominal = NOMINAL_OBJECT; break;
    case LT_CAND_FDS:
    case LT_CAND_FD_KIND: nominal = NOMINAL_FD; break;
    case LT_CAND_THREADS: nominal = NOMINAL_THREAD; break;
    default: break;
    }
    double r = c->bytes_per_second > 0 ? c->bytes_per_second : 0;
    double byc = c->count_per_second * nominal;
    return byc > r ? byc : r;
}

/* < 0 when a ranks before b. A total order: ties end on kind and id. */
static int cand_cmp(const lt_candidate_t *a, const lt_candidate_t *b)
{
    int ea = a->echo_of >= 0, eb = b->echo_of >= 0;
    if (ea != eb)
        return ea - eb;
    if (a->confident != b->confident)
        return b->confident - a->confident;
    int sa = a->kind == LT_CAND_SITE, sb = b->kind == LT_CAND_SITE;
    if (sa != sb)
        return sa - sb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->kind != b->kind)
        return (int)a->kind - (int)b->kind;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void idx_sift(size_t *ix, size_t root, size_t n, const lt_candidate_t *c)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && cand_cmp(&c[ix[child + 1]], &c[ix[child]]) > 0)
            child++;
        if (cand_cmp(&c[ix[child]], &c[ix[root]]) <= 0)
            return;
        size_t tmp = ix[root];
        ix[root] = ix[child];
        ix[child] = tmp;
        root = child;
    }
}

/* Sorts the candidates by cand_cmp, remapping echo_of. */
static int rank(lt_analysis_t *out)
{
    size_t n = out->ncandidates;
    if (n < 2)
        return 0;
    size_t *ix = lt_alloc(out->a, 2 * n * sizeof(size_t));
    lt_candidate_t *sorted = lt_alloc(out->a, n * sizeof(lt_candidate_t));
    if (ix == NULL || sorted == NULL) {
        lt_free(out->a, ix, 2 * n * sizeof(size_t));
        lt_free(out->a, sorted, n * sizeof(lt_candidate_t));
        return LT_ENOMEM;
    }
    size_t *pos = ix + n;
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    for (size_t i = n / 2; i-- > 0;)
        idx_sift(ix, i, n, out->candidates);
    for (size_t end = n - 1; end > 0; end--) {
        size_t tmp = ix[0];
        ix[0] = ix[end];
        ix[end] = tmp;
        idx_sift(ix, 0, end, out->candidates);
    }
    for (size_t i = 0; i < n; i++)
        pos[ix[i]] = i;
    for (size_t i = 0; i < n; i++) {
        sorted[i] = out->candidates[ix[i]];
        if (sorted[i].echo_of >= 0)
            sorted[i].echo_of = (long)pos[sorted[i].echo_of];
    }
    lt_free(out->a, out->candidates, out->cap * sizeof(lt_candidate_t));
    out->candidates = sorted;
    out->cap = n;
    lt_free(out->a, ix, 2 * n * sizeof(size_t));
    return 0;
}

/* Scores and echoes (see timeline.h). */
static int mark_echoes(actx_t *x)
{
    lt_analysis_t *out = x->out;
    size_t n = out->ncandidates;
    lt_candidate_t *c = out->candidates;
    if (n == 0)
        return 0;
    name_t *names = lt_alloc(x->tl->a, n * sizeof(name_t));
    if (names == NULL)
        return LT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        names[i].s = NULL;
        names[i].len = 0;
        if (c[i].kind == LT_CAND_TYPE && x->o->type_name != NULL)
            names[i].s = x->o->type_name(x->o->type_name_ctx, c[i].id, &names[i].len);
        if (names[i].s == NULL)
            names[i].len = 0;
        c[i].user_type = c[i].kind == LT_CAND_TYPE && lt_timeline_user_type(names[i].s, names[i].len);
        c[i].confident = c[i].trend.verdict == LT_TREND_GROWING && c[i].trend.confidence >= x->o->min_confidence;
        c[i].score = c[i].trend.confidence * cand_rate(&c[i]) * (c[i].user_type ? 2 : 1);
    }
    /* A dict growing with a user type's instances. */
    for (size_t i = 0; i < n; i++) {
        if (c[i].kind != LT_CAND_TYPE || !name_is(&names[i], "dict") || !(c[i].count_per_second > 0))
            continue;
        double best = 0.3;
        for (size_t j = 0; j < n; j++) {
            if (!c[j].user_type || !(c[j].count_per_second > 0))
                continue;
            double d = fabs(c[i].count_per_second - c[j].count_per_second) / c[j].count_per_second;
            if (d <= best) {
                best = d;
                c[i].echo_of = (long)j;
            }
        }
    }
    /* Atomic children of the strongest growing user type or container. */
    long leader = -1;
    for (size_t j = 0; j < n; j++) {
        if (c[j].kind != LT_CAND_TYPE || c[j].echo_of >= 0 || !(c[j].user_type || name_in(&names[j], container_types)))
            continue;
        if (leader < 0 || cand_cmp(&c[j], &c[leader]) < 0)
            leader = (long)j;
    }
    for (size_t i = 0; i < n; i++)
        if (c[i].kind == LT_CAND_TYPE && c[i].echo_of < 0 && leader >= 0 && (long)i != leader &&
            name_in(&names[i], atomic_types))
            c[i].echo_of = leader;
    /* Totals that a more specific finding explains. */
    long fd_leader = -1, native_heap = -1, row_leader = -1;
    for (size_t j = 0; j < n; j++) {
        if (c[j].kind == LT_CAND_FD_KIND && (fd_leader < 0 || c[j].count_per_second > c[fd_leader].count_per_second))
            fd_leader = (long)j;
        if (c[j].kind == LT_CAND_NATIVE && c[j].id == 1)
            native_heap = (long)j;
        if ((c[j].kind == LT_CAND_TYPE || c[j].kind == LT_CAND_SITE) && c[j].echo_of < 0 &&
            (row_leader < 0 || cand_cmp(&c[j], &c[row_leader]) < 0))
            row_leader = (long)j;
    }
    for (size_t i = 0; i < n; i++) {
        if (c[i].kind == LT_CAND_FDS)
            c[i].echo_of = fd_leader;
        else if (c[i].kind == LT_CAND_NATIVE && c[i].id == 0)
            c[i].echo_of = native_heap;
        else if (c[i].kind == LT_CAND_HEAP)
            c[i].echo_of = row_leader;
    }
    lt_free(x->tl->a, names, n * sizeof(name_t));
    return 0;
}

/* ---- The verdict -------------------------------------------------------- */

static double not_growing(const lt_trend_t *t)
{
    if (t->verdict == LT_TREND_GROWING)
        return 1 - t->confidence;
    return t->confidence;
}

static void advise(lt_analysis_t *out, double needed, const char *why)
{
    double d = out->duration_s;
    if (!(needed > d))
        needed = 2 * d;
    if (needed < 10 && !(d > 0))
        needed = 10;
    needed = ceil(needed);
    out->needed_s = needed;
    snprintf(out->advice, sizeof(out->advice), "%s: run for at least %.0f s (observed %.1f s, %llu checkpoints)", why,
             needed, d, (unsigned long long)out->checkpoints);
}

static int opts_valid(const lt_analysis_opts_t *o)
{
    return o->alpha > 0 && o->alpha < 0.5 && o->min_confidence >= 0 && o->min_confidence <= 1 &&
           o->min_count >= 0 && o->min_bytes >= 0 && o->min_native >= 0 && o->min_fds >= 0 &&
           o->min_threads >= 0 && o->min_duration_s >= 0 && isfinite(o->warmup_s) && isfinite(o->min_duration_s);
}

void lt_analysis_release(lt_analysis_t *out)
{
    if (out == NULL || out->a == NULL)
        return;
    lt_free(out->a, out->candidates, out->cap * sizeof(lt_candidate_t));
    out->candidates = NULL;
    out->ncandidates = out->cap = 0;
}

int lt_timeline_analyze(const lt_timeline_t *tl, const lt_analysis_opts_t *opts, lt_analysis_t *out)
{
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (tl == NULL || tl->a == NULL || opts == NULL || out == NULL || !opts_valid(opts))
        return LT_EINVAL;
    const lt_analysis_opts_t *o = opts;
    out->a = tl->a;
    out->checkpoints = tl->checkpoints;
    const lt__tl_group_t *pg = &tl->proc;
    out->duration_s = pg->n > 0 ? pg->t[pg->n - 1] : 0;
    out->dropped_series = tl->census.dropped + tl->sites.dropped;

    actx_t x = {tl, o, out, NULL};
    size_t flat_n = tl->max_points;
    x.flat = lt_alloc(tl->a, flat_n * sizeof(double));
    int rc = x.flat == NULL ? LT_ENOMEM : 0;

    /* The process: global trends, then its candidates. */
    if (rc == 0)
        rc = proc_candidate(&x, P_RSS, -1, 0, 0, o->min_native, &out->rss);
    if (rc == 0)
        rc = proc_candidate(&x, P_HEAP, LT_CAND_HEAP, 0, 0, o->min_bytes, &out->heap);
    if (rc == 0)
        rc = proc_candidate(&x, P_RESIDUE, LT_CAND_NATIVE, 0, 0, o->min_native, &out->residue);
    if (rc == 0 && tl->native_tracked)
        rc = proc_candidate(&x, P_NATIVE, LT_CAND_NATIVE, 1, 0, o->min_native, NULL);
    if (rc == 0)
        rc = proc_candidate(&x, P_FDS, LT_CAND_FDS, 0, 1, o->min_fds, &out->fds);
    for (int k = 0; rc == 0 && k < LT_CAPTURE_FD_KINDS; k++) {
        const lt__tl_series_t *s = group_find(pg, (uint32_t)(P_FD0 + k));
        if (s != NULL && !screened_out(s, 0, o->min_fds))
            rc = proc_candidate(&x, P_FD0 + k, LT_CAND_FD_KIND, (uint32_t)k, 1, o->min_fds, NULL);
    }
    if (rc == 0)
        rc = proc_candidate(&x, P_THREADS, LT_CAND_THREADS, 0, 1, o->min_threads, &out->threads);

    /* Types and sites. */
    for (size_t i = 0; rc == 0 && i < tl->census.nseries; i++)
        if (!(tl->census.series[i].flags & SERIES_EVICTED))
            rc = row_candidate(&x, &tl->census, &tl->census.series[i], LT_CAND_TYPE);
    for (size_t i = 0; rc == 0 && i < tl->sites.nseries; i++)
        if (!(tl->sites.series[i].flags & SERIES_EVICTED))
            rc = row_candidate(&x, &tl->sites, &tl->sites.series[i], LT_CAND_SITE);
    lt_free(tl->a, x.flat, flat_n * sizeof(double));

    if (rc == 0)
        rc = mark_echoes(&x);
    if (rc == 0)
        rc = rank(out);
    if (rc < 0) {
        lt_analysis_release(out);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    if (o->max_candidates > 0 && out->ncandidates > o->max_candidates) {
        out->ncandidates = o->max_candidates;
        for (size_t i = 0; i < out->ncandidates; i++)
            if (out->candidates[i].echo_of >= (long)out->ncandidates)
                out->candidates[i].echo_of = -1;
    }

    /* The verdict. */
    out->verdict = LT_VERDICT_NO_LEAK;
    if (out->rss.verdict == LT_TREND_TOO_SHORT || out->duration_s < o->min_duration_s) {
        out->verdict = LT_VERDICT_INCONCLUSIVE;
        double need = out->rss.needed_s > o->min_duration_s ? out->rss.needed_s : o->min_duration_s;
        advise(out, need, "too short to tell");
        return 0;
    }
    double best = -1, need = 0;
    int growing = 0;
    for (size_t i = 0; i < out->ncandidates; i++) {
        const lt_candidate_t *c = &out->candidates[i];
        if (c->confident && c->trend.confidence > best)
            best = c->trend.confidence;
        if (!c->confident) {
            growing = 1;
            if (c->trend.needed_s > need)
                need = c->trend.needed_s;
        }
    }
    if (best >= 0) {
        out->verdict = LT_VERDICT_LEAK;
        out->confidence = best;
    } else if (growing) {
        out->verdict = LT_VERDICT_INCONCLUSIVE;
        advise(out, need, "growth not yet clear of the noise");
    } else {
        const lt_trend_t *g[] = {&out->rss, &out->heap, &out->residue, &out->fds, &out->threads};
        double c = 1;
        for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
            if (not_growing(g[i]) < c)
                c = not_growing(g[i]);
        out->confidence = c;
    }
    return 0;
}
