/* Tests of lt_timeline: a leaking service (a user type with its __dict__
 * and str echoes, ranked first), the no-leak controls (warm-up plateau,
 * bounded LRU, big temporaries, flat), inconclusive runs (too short, not
 * yet confident) with advice, resource and native findings, thinning of
 * old points, lazy arrays and their eviction, census on some checkpoints
 * only, bad input, and every allocation failure in add and analyze. */
#include "alloc.h"
#include "capture.h"
#include "errors.h"
#include "lt_test.h"
#include "procfs.h"
#include "report.h"
#include "timeline.h"

#include <math.h>
#include <stdint.h>

static uint64_t rng;
static void seed(uint64_t s) { rng = s * UINT64_C(0x9E3779B97F4A7C15) + 1; }
static double unif(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
    double s = 0;
    for (int i = 0; i < 12; i++)
        s += unif();
    return s - 6;
}

/* Census type names by string id. */
enum { T_INVOICE, T_DICT, T_STR, T_LIST, T_INT, T_TUPLE, T_FUNCTION, T_CONN, T_NTYPES };
static const char *const type_names[] = {"billing.Invoice", "dict", "str", "list", "int", "tuple", "function",
                                         "sqlite3.Connection"};
static const char *name_of(const void *ctx, uint32_t id, size_t *len)
{
    (void)ctx;
    if (id >= T_NTYPES)
        return NULL;
    *len = strlen(type_names[id]);
    return type_names[id];
}

/* One checkpoint under construction. */
typedef struct cpb {
    lt_capture_checkpoint_t cp;
    lt_capture_row_t census[16], sites[16];
} cpb_t;

static void cpb_init(cpb_t *b, double t)
{
    memset(b, 0, sizeof(*b));
    b->cp.time_ns = (uint64_t)llround(t * 1e9);
    b->cp.census = b->census;
    b->cp.sites = b->sites;
    b->cp.has_census = 1;
    b->cp.threads = 4;
    b->cp.fds[LT_FD_FILE] = 5;
    b->cp.fds[LT_FD_PIPE] = 2;
}

static void type_row(cpb_t *b, uint32_t id, double count, double bytes)
{
    lt_capture_row_t r = {id, (uint64_t)llround(bytes), (uint64_t)llround(count)};
    b->census[b->cp.ncensus++] = r;
}

static void site_row(cpb_t *b, uint32_t id, double bytes)
{
    lt_capture_row_t r = {id, (uint64_t)llround(bytes), (uint64_t)llround(bytes / 100)};
    b->sites[b->cp.nsites++] = r;
}

static lt_analysis_opts_t aopts(void)
{
    lt_analysis_opts_t o;
    lt_analysis_opts_init(&o);
    o.type_name = name_of;
    return o;
}

/* The leaking service: INVOICES gains 85 Invoice objects per checkpoint
 * (850/s), each with a __dict__ and a str key; everything else churns. */
static void leaky(cpb_t *b, size_t i)
{
    double t = 0.1 * (double)i;
    cpb_init(b, t);
    double k = 85 * (double)i;
    type_row(b, T_INVOICE, 1000 + k, (1000 + k) * 56);
    type_row(b, T_DICT, 3000 + k + 40 * gauss(), (3000 + k) * 232 + 4000 * gauss());
    type_row(b, T_STR, 20000 + k + 30 * gauss(), (20000 + k) * 60 + 2000 * gauss());
    type_row(b, T_LIST, 800, 800 * 88);
    type_row(b, T_INT, 5000 + 20 * gauss(), (5000 + 20 * gauss()) * 28);
    type_row(b, T_TUPLE, 9000 + 15 * gauss(), 9000 * 64);
    type_row(b, T_FUNCTION, 4000, 4000 * 136);
    site_row(b, 1, 10e6 + k * 400);                 /* where the invoices come from */
    site_row(b, 2, 3e6 + 200e3 * gauss());          /* request temporaries */
    b->cp.py_heap_bytes = (uint64_t)llround(40e6 + k * 400 + 300e3 * gauss());
    b->cp.rss_bytes = b->cp.py_heap_bytes + (uint64_t)llround(30e6 + 100e3 * gauss());
}

static void fill(lt_timeline_t *tl, size_t n, void (*gen)(cpb_t *, size_t))
{
    for (size_t i = 0; i < n; i++) {
        cpb_t b;
        gen(&b, i);
        LT_EQ_INT(lt_timeline_add(tl, &b.cp), 0);
    }
}

static const lt_candidate_t *find(const lt_analysis_t *a, lt_cand_kind_t kind, uint32_t id, long *at)
{
    for (size_t i = 0; i < a->ncandidates; i++)
        if (a->candidates[i].kind == kind && a->candidates[i].id == id) {
            if (at)
                *at = (long)i;
            return &a->candidates[i];
        }
    return NULL;
}

static void test_leak_ranking(void)
{
    seed(1);
    lt_timeline_t tl;
    LT_EQ_INT(lt_timeline_init(&tl, &lt_test_heap, NULL), 0);
    fill(&tl, 101, leaky);
    LT_EQ_UINT(tl.checkpoints, 101);
    lt_analysis_opts_t o = aopts();
    lt_analysis_t a;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
    LT_EQ_STR(a.verdict, LT_VERDICT_LEAK);
    LT_GT_INT(a.confidence * 100, 90);
    LT_EQ_INT(llround(a.duration_s * 10), 100);
    LT_EQ_STR(a.advice, "");
    if (!LT_GE_UINT(a.ncandidates, 4))
        goto done;
    /* The user type first, by count, at 850/s. */
    const lt_candidate_t *c = &a.candidates[0];
    LT_EQ_INT(c->kind, LT_CAND_TYPE);
    LT_EQ_UINT(c->id, T_INVOICE);
    LT_EQ_INT(c->user_type, 1);
    LT_EQ_INT(c->confident, 1);
    LT_EQ_INT(c->echo_of, -1);
    LT_EQ_INT(llround(c->count_per_second), 850);
    LT_EQ_INT(llround(c->bytes_per_second), 850 * 56);
    LT_EQ_INT(c->count_delta, 8500);
    LT_EQ_INT(c->first_count, 1000);
    LT_EQ_INT(c->last_count, 1000 + 8500);
    /* Its __dict__s and its keys follow it. */
    long at;
    const lt_candidate_t *d = find(&a, LT_CAND_TYPE, T_DICT, &at);
    if (LT_NOT_NULL(d)) {
        LT_EQ_INT(d->echo_of, 0);
        LT_EQ_INT(d->user_type, 0);
    }
    const lt_candidate_t *s = find(&a, LT_CAND_TYPE, T_STR, NULL);
    if (LT_NOT_NULL(s))
        LT_EQ_INT(s->echo_of, 0);
    /* The site is a finding of its own, before the echoes. */
    const lt_candidate_t *site = find(&a, LT_CAND_SITE, 1, &at);
    if (LT_NOT_NULL(site)) {
        LT_EQ_INT(site->echo_of, -1);
        LT_LT_INT(at, (long)(d - a.candidates));
        LT_EQ_INT(llround(site->bytes_per_second), 340000);
    }
    /* The Python heap is explained by the type. */
    const lt_candidate_t *h = find(&a, LT_CAND_HEAP, 0, NULL);
    if (LT_NOT_NULL(h))
        LT_GE_INT(h->echo_of, 0);
    /* Not growing: list, int, tuple, function, the churning site, fds,
     * threads, the native residue. */
    LT_NULL(find(&a, LT_CAND_TYPE, T_LIST, NULL));
    LT_NULL(find(&a, LT_CAND_TYPE, T_INT, NULL));
    LT_NULL(find(&a, LT_CAND_TYPE, T_TUPLE, NULL));
    LT_NULL(find(&a, LT_CAND_TYPE, T_FUNCTION, NULL));
    LT_NULL(find(&a, LT_CAND_SITE, 2, NULL));
    LT_NULL(find(&a, LT_CAND_FDS, 0, NULL));
    LT_NULL(find(&a, LT_CAND_THREADS, 0, NULL));
    LT_NULL(find(&a, LT_CAND_NATIVE, 0, NULL));
    LT_EQ_INT(a.rss.verdict, LT_TREND_GROWING);
    LT_EQ_INT(a.threads.verdict, LT_TREND_FLAT);
    /* Echoes all rank after findings. */
    int seen_echo = 0, bad = 0;
    for (size_t i = 0; i < a.ncandidates; i++) {
        if (a.candidates[i].echo_of >= 0)
            seen_echo = 1;
        else if (seen_echo)
            bad++;
        if (a.candidates[i].echo_of >= (long)a.ncandidates)
            bad++;
    }
    LT_EQ_INT(bad, 0);
    /* max_candidates cuts the list and the echo links past it. */
    lt_analysis_t cut;
    o.max_candidates = 2;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &cut), 0);
    LT_EQ_UINT(cut.ncandidates, 2);
    LT_EQ_UINT(cut.candidates[0].id, T_INVOICE);
    lt_analysis_release(&cut);
    /* Without names the ranking still works, only blind to user types. */
    o = aopts();
    o.type_name = NULL;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &cut), 0);
    LT_EQ_STR(cut.verdict, LT_VERDICT_LEAK);
    LT_EQ_INT(cut.candidates[0].user_type, 0);
    lt_analysis_release(&cut);
done:
    lt_analysis_release(&a);
    LT_EQ_UINT(a.ncandidates, 0);
    lt_timeline_release(&tl);
}

/* ---- Controls: each must be no-leak. -------------------------------------- */

static double phase;

static void warm_plateau(cpb_t *b, size_t i)
{
    double t = 0.1 * (double)i;
    cpb_init(b, t);
    double fill = t < 3 ? t / 3 : 1;                 /* a cache of 5000 entries, full at 3 s */
    type_row(b, T_INVOICE, 5000 * fill, 5000 * fill * 56);
    type_row(b, T_DICT, 2000 + 5000 * fill, (2000 + 5000 * fill) * 232);
    type_row(b, T_STR, 10000 + 5000 * fill + 20 * gauss(), (10000 + 5000 * fill) * 60);
    site_row(b, 1, 5000 * fill * 400);
    b->cp.py_heap_bytes = (uint64_t)llround(40e6 + 5000 * fill * 400 + 100e3 * gauss());
    b->cp.rss_bytes = b->cp.py_heap_bytes + 30000000;
}

static void bounded_lru(cpb_t *b, size_t i)
{
    double t = 0.1 * (double)i;
    cpb_init(b, t);
    double n = t < 4.5 ? 850 * t : 850 * 4.5;        /* maxsize reached at 4.5 s */
    type_row(b, T_INVOICE, n + 3 * gauss(), n * 56);
    type_row(b, T_LIST, 2000, 2000 * 88);
    site_row(b, 1, n * 400 + 1000 * gauss());
    b->cp.py_heap_bytes = (uint64_t)llround(40e6 + n * 400 + 100e3 * gauss());
    b->cp.rss_bytes = b->cp.py_heap_bytes + 30000000;
}

static void temporaries(cpb_t *b, size_t i)
{
    double t = 0.1 * (double)i;
    cpb_init(b, t);
    int big = fmod(t / 1.4 + phase, 1.0) < 0.3;      /* a 50 MB list for 0.4 s every 1.4 s */
    type_row(b, T_LIST, 500 + big, 500 * 88 + big * 50e6);
    type_row(b, T_INT, 5000 + big * 1e6, (5000 + big * 1e6) * 28);
    site_row(b, 3, big * 50e6);
    b->cp.py_heap_bytes = (uint64_t)llround(40e6 + big * 78e6 + 100e3 * gauss());
    b->cp.rss_bytes = b->cp.py_heap_bytes + 30000000;
}

static void flat(cpb_t *b, size_t i)
{
    cpb_init(b, 0.1 * (double)i);
    type_row(b, T_DICT, 3000 + 30 * gauss(), 3000 * 232 + 5000 * gauss());
    type_row(b, T_STR, 20000 + 50 * gauss(), 20000 * 60 + 3000 * gauss());
    site_row(b, 2, 3e6 + 200e3 * gauss());
    b->cp.py_heap_bytes = (uint64_t)llround(40e6 + 300e3 * gauss());
    b->cp.rss_bytes = b->cp.py_heap_bytes + (uint64_t)llround(30e6 + 50e3 * gauss());
}

static void check_no_leak(void (*gen)(cpb_t *, size_t), const char *what)
{
    for (uint64_t s = 1; s <= 5; s++) {
        seed(s * 13);
        phase = unif();
        lt_timeline_t tl;
        lt_timeline_init(&tl, &lt_test_heap, NULL);
        fill(&tl, 101, gen);
        lt_analysis_opts_t o = aopts();
        lt_analysis_t a;
        LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
        if (!LT_EQ_STR(a.verdict, LT_VERDICT_NO_LEAK)) {
            lt__printf(2, "    control %s, seed %d: %zu candidates, first %s %u (%s, confidence %.2f)\n", what,
                       (int)s, a.ncandidates, a.ncandidates ? lt_cand_kind_name(a.candidates[0].kind) : "-",
                       a.ncandidates ? a.candidates[0].id : 0,
                       a.ncandidates ? lt_trend_verdict_name(a.candidates[0].trend.verdict) : "-",
                       a.ncandidates ? a.candidates[0].trend.confidence : 0);
        }
        LT_EQ_UINT(a.ncandidates, 0);
        LT_GT_INT(a.confidence * 100, 0);
        LT_LE_INT(a.confidence, 1);
        lt_analysis_release(&a);
        lt_timeline_release(&tl);
    }
}

static void test_controls(void)
{
    check_no_leak(warm_plateau, "warm-up plateau");
    check_no_leak(bounded_lru, "bounded LRU");
    check_no_leak(temporaries, "big temporaries");
    check_no_leak(flat, "flat");
}

/* ---- Inconclusive ----------------------------------------------------------- */

static void test_too_short(void)
{
    seed(2);
    lt_timeline_t tl;
    lt_timeline_init(&tl, &lt_test_heap, NULL);
    lt_analysis_opts_t o = aopts();
    lt_analysis_t a;
    /* Nothing at all. */
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
    LT_EQ_STR(a.verdict, LT_VERDICT_INCONCLUSIVE);
    LT_EQ_INT(a.needed_s, 10);
    lt_analysis_release(&a);
    /* Five checkpoints, half a second. */
    fill(&tl, 5, leaky);
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
    LT_EQ_STR(a.verdict, LT_VERDICT_INCONCLUSIVE);
    LT_GT_INT(a.needed_s, a.duration_s);
    LT_EQ_INT(a.needed_s, 2);            /* 16 points at 0.1 s, rounded up */
    LT_CHECK(strstr(a.advice, "run for at least 2 s") != NULL);
    LT_CHECK(strstr(a.advice, "too short") != NULL);
    lt_analysis_release(&a);
    lt_timeline_release(&tl);
    /* Long enough in points, shorter than asked. */
    lt_timeline_init(&tl, &lt_test_heap, NULL);
    fill(&tl, 101, flat);
    o.min_duration_s = 30;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
    LT_EQ_STR(a.verdict, LT_VERDICT_INCONCLUSIVE);
    LT_EQ_INT(a.needed_s, 30);
    lt_analysis_release(&a);
    lt_timeline_release(&tl);
}

/* Growing, but not yet surely: asked for 0.99, a noisy leak is short of it. */
static void noisy(cpb_t *b, size_t i)
{
    double t = 0.1 * (double)i;
    cpb_init(b, t);
    type_row(b, T_INVOICE, 1000 + 2 * (double)i + 40 * gauss(), 56000 + 600 * (double)i + 8000 * gauss());
    b->cp.py_heap_bytes = 40000000;
    b->cp.rss_bytes = 70000000;
}

static void test_not_yet_confident(void)
{
    seed(3);
    lt_timeline_t tl;
    lt_timeline_init(&tl, &lt_test_heap, NULL);
    fill(&tl, 101, noisy);
    lt_analysis_opts_t o = aopts();
    o.min_count = 20;
    o.min_bytes = 1000;
    lt_analysis_t a;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
    LT_EQ_STR(a.verdict, LT_VERDICT_LEAK);
    double conf = a.ncandidates ? a.candidates[0].trend.confidence : 0;
    LT_LT_INT(conf * 100, 99);
    lt_analysis_release(&a);
    o.min_confidence = 0.99;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
    LT_EQ_STR(a.verdict, LT_VERDICT_INCONCLUSIVE);
    LT_EQ_INT(a.confidence, 0);
    LT_GT_INT(a.needed_s, a.duration_s);
    LT_CHECK(strstr(a.advice, "not yet clear") != NULL);
    LT_CHECK(strstr(a.advice, "run for at least") != NULL);
    if (LT_GE_UINT(a.ncandidates, 1))
        LT_EQ_INT(a.candidates[0].confident, 0);
    lt_analysis_release(&a);
    lt_timeline_release(&tl);
}

/* ---- Resources and native memory --------------------------------------------- */

static void resources(cpb_t *b, size_t i)
{
    cpb_init(b, 0.1 * (double)i);
    b->cp.fds[LT_FD_SOCKET] = 3 + i;                /* a connection per checkpoint, never closed */
    b->cp.threads = 4 + i / 2;                      /* a thread every other checkpoint */
    type_row(b, T_CONN, 3 + (double)i, (3 + (double)i) * 200);
    b->cp.py_heap_bytes = 40000000;
    b->cp.rss_bytes = 70000000 + i * 100000;        /* thread stacks */
}

static void test_resources(void)
{
    lt_timeline_t tl;
    lt_timeline_init(&tl, &lt_test_heap, NULL);
    fill(&tl, 101, resources);
    lt_analysis_opts_t o = aopts();
    lt_analysis_t a;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
    LT_EQ_STR(a.verdict, LT_VERDICT_LEAK);
    long kind_at = -1, total_at = -1;
    const lt_candidate_t *k = find(&a, LT_CAND_FD_KIND, LT_FD_SOCKET, &kind_at);
    const lt_candidate_t *f = find(&a, LT_CAND_FDS, 0, &total_at);
    const lt_candidate_t *th = find(&a, LT_CAND_THREADS, 0, NULL);
    const lt_candidate_t *conn = find(&a, LT_CAND_TYPE, T_CONN, NULL);
    if (LT_NOT_NULL(k) && LT_NOT_NULL(f)) {
        LT_EQ_INT(k->by_count, 1);
        LT_EQ_INT(llround(k->count_per_second), 10);
        LT_EQ_INT(k->count_delta, 100);
        LT_EQ_INT(k->bytes_per_second, 0);
        LT_EQ_INT(f->echo_of, kind_at);
        LT_LT_INT(kind_at, total_at);
    }
    if (LT_NOT_NULL(th)) {
        LT_EQ_INT(llround(th->count_per_second), 5);
        LT_EQ_INT(th->echo_of, -1);
    }
    if (LT_NOT_NULL(conn))
        LT_EQ_INT(conn->by_count, 1);
    LT_NULL(find(&a, LT_CAND_FD_KIND, LT_FD_FILE, NULL));
    LT_EQ_INT(a.fds.verdict, LT_TREND_GROWING);
    lt_analysis_release(&a);
    lt_timeline_release(&tl);
}

static int native_tracked;
static void native(cpb_t *b, size_t i)
{
    cpb_init(b, 0.1 * (double)i);
    b->cp.py_heap_bytes = (uint64_t)llround(40e6 + 200e3 * gauss());
    b->cp.rss_bytes = b->cp.py_heap_bytes + 30000000 + i * 200000;  /* 2 MB/s outside Python */
    if (native_tracked)
        b->cp.native_heap_bytes = 5000000 + i * 200000;
    type_row(b, T_DICT, 3000, 3000 * 232);
}

static void test_native(void)
{
    for (native_tracked = 0; native_tracked < 2; native_tracked++) {
        seed(4);
        lt_timeline_t tl;
        lt_timeline_init(&tl, &lt_test_heap, NULL);
        fill(&tl, 101, native);
        LT_EQ_INT(tl.native_tracked, native_tracked);
        lt_analysis_opts_t o = aopts();
        lt_analysis_t a;
        LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
        LT_EQ_STR(a.verdict, LT_VERDICT_LEAK);
        long r_at = -1, h_at = -1;
        const lt_candidate_t *r = find(&a, LT_CAND_NATIVE, 0, &r_at);
        const lt_candidate_t *h = find(&a, LT_CAND_NATIVE, 1, &h_at);
        if (LT_NOT_NULL(r))
            LT_LT_INT(fabs(r->bytes_per_second - 2e6), 0.1e6);
        if (native_tracked) {
            if (LT_NOT_NULL(h) && r != NULL) {
                LT_EQ_INT(r->echo_of, h_at);
                LT_EQ_INT(h_at, 0);
            }
        } else {
            LT_NULL(h);
            if (r != NULL)
                LT_EQ_INT(r_at, 0);
        }
        LT_NULL(find(&a, LT_CAND_HEAP, 0, NULL));
        lt_analysis_release(&a);
        lt_timeline_release(&tl);
    }
}

/* ~200 B per request at 1000 requests/s (200 KB/s) at one site, inside a
 * +-1 MB sawtooth of request buffers: found in 10 s, through the screen. */
static void churny(cpb_t *b, size_t i)
{
    double t = 0.1 * (double)i;
    cpb_init(b, t);
    double saw = fmod(t / 0.7 + phase, 1.0) * 2e6 - 1e6;
    site_row(b, 5, 20e6 + 200e3 * t + saw + 10e3 * gauss());
    site_row(b, 6, 20e6 + saw + 10e3 * gauss());                     /* the churn alone */
    type_row(b, T_DICT, 3000 + 30 * gauss(), 3000 * 232 + 5000 * gauss());
    b->cp.py_heap_bytes = (uint64_t)llround(60e6 + 200e3 * t + 2 * saw);
    b->cp.rss_bytes = b->cp.py_heap_bytes + 30000000;
}

static void test_slow_leak_in_churn(void)
{
    for (uint64_t s = 1; s <= 5; s++) {
        seed(s * 101);
        phase = unif();
        lt_timeline_t tl;
        lt_timeline_init(&tl, &lt_test_heap, NULL);
        fill(&tl, 101, churny);
        lt_analysis_opts_t o = aopts();
        lt_analysis_t a;
        LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
        LT_EQ_STR(a.verdict, LT_VERDICT_LEAK);
        const lt_candidate_t *c = find(&a, LT_CAND_SITE, 5, NULL);
        if (LT_NOT_NULL(c)) {
            LT_EQ_INT(c->confident, 1);
            LT_EQ_INT(c->trend.churn, 1);
            LT_LT_INT(fabs(c->bytes_per_second - 200e3), 40e3);
        }
        LT_NULL(find(&a, LT_CAND_SITE, 6, NULL));
        LT_GE_UINT(a.screened, 2);      /* both sites went through the screen */
        lt_analysis_release(&a);
        lt_timeline_release(&tl);
    }
}

/* ---- Storage ------------------------------------------------------------------ */

static void linear(cpb_t *b, size_t i)
{
    cpb_init(b, 0.5 * (double)i);
    type_row(b, T_INVOICE, 100 + 10 * (double)i, (100 + 10 * (double)i) * 56);
    b->cp.py_heap_bytes = 40000000;
    b->cp.rss_bytes = 70000000;
}

/* max_points 16: the points stay evenly spaced, the newest is kept. */
static void test_thinning(void)
{
    lt_timeline_opts_t to = {16, 64};
    lt_timeline_t tl;
    LT_EQ_INT(lt_timeline_init(&tl, &lt_test_heap, &to), 0);
    for (size_t i = 0; i < 100; i++) {
        cpb_t b;
        linear(&b, i);
        LT_EQ_INT(lt_timeline_add(&tl, &b.cp), 0);
        const lt__tl_group_t *g = &tl.proc;
        LT_LE_UINT(g->n, 16);
        if (!LT_EQ_INT(llround(g->t[g->n - 1] * 10), llround(0.5 * (double)i * 10)))
            break;
        /* Kept points other than a provisional last one are stride apart. */
        size_t perm = g->n - (size_t)g->provisional;
        int uneven = 0;
        for (size_t j = 0; j < perm; j++)
            uneven += llround(g->t[j] * 10) != llround(0.5 * (double)(j * g->stride) * 10);
        LT_EQ_INT(uneven, 0);
    }
    LT_EQ_UINT(tl.proc.stride, 8);
    LT_EQ_UINT(tl.census.stride, 8);
    /* 100 checkpoints at stride 8: 0, 8, ..., 96 and the provisional 99. */
    LT_EQ_UINT(tl.proc.n, 14);
    LT_EQ_INT(tl.proc.provisional, 1);
    lt_analysis_opts_t o = aopts();
    o.min_points = 6;
    lt_analysis_t a;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
    LT_EQ_STR(a.verdict, LT_VERDICT_LEAK);
    if (LT_GE_UINT(a.ncandidates, 1)) {
        LT_EQ_UINT(a.candidates[0].id, T_INVOICE);
        LT_EQ_INT(llround(a.candidates[0].count_per_second), 20);
        LT_EQ_INT(a.candidates[0].last_count, 100 + 990);
    }
    LT_EQ_INT(llround(a.duration_s * 10), 495);
    lt_analysis_release(&a);
    lt_timeline_release(&tl);
}

/* lt_timeline_kept: a checkpoint is kept when it lands on the stride of
 * its time; a writer keeping only those (the production capture) stores
 * max_points, then max_points / 2 per doubling. */
static void test_kept(void)
{
    lt_timeline_opts_t to = {16, 64};
    lt_timeline_t tl;
    LT_EQ_INT(lt_timeline_init(&tl, &lt_test_heap, &to), 0);
    LT_EQ_INT(lt_timeline_kept(&tl), 0);
    LT_EQ_INT(lt_timeline_kept(NULL), 0);
    size_t kept = 0, wrong = 0;
    for (size_t i = 0; i < 100; i++) {
        cpb_t b;
        linear(&b, i);
        LT_EQ_INT(lt_timeline_add(&tl, &b.cp), 0);
        int k = lt_timeline_kept(&tl);
        kept += (size_t)k;
        wrong += k != (i % tl.proc.stride == 0);
    }
    LT_EQ_UINT(wrong, 0);
    /* 0..15 at stride 1, 16..30 at 2, 32..60 at 4, 64..96 at 8. */
    LT_EQ_UINT(kept, 16 + 8 + 8 + 5);
    lt_timeline_release(&tl);
}

static size_t arrays(const lt__tl_group_t *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->nseries; i++)
        n += g->series[i].b != NULL;
    return n;
}

/* Constant types hold no array; a type that appears late or changes does;
 * past max_series the flattest arrays go. */
static void test_lazy_and_eviction(void)
{
    lt_timeline_opts_t to = {64, 8};
    lt_timeline_t tl;
    LT_EQ_INT(lt_timeline_init(&tl, &lt_test_heap, &to), 0);
    for (size_t i = 0; i < 40; i++) {
        cpb_t b;
        cpb_init(&b, 0.1 * (double)i);
        for (uint32_t id = 100; id < 110; id++)
            type_row(&b, id, 7, 700);                      /* constant from the start */
        if (i >= 5)
            type_row(&b, 200, 3, 300);                     /* appears at 0.5 s */
        type_row(&b, 300, 10 + (double)i, 1000 + 100 * (double)i);  /* grows */
        /* Sites: 12 ids with ranges 1..12 KB of wobble, plus one leaking site. */
        for (uint32_t id = 1; id <= 12; id++)
            site_row(&b, id, 1e6 + (i % 2) * 1000.0 * id);
        site_row(&b, 99, 1e6 + 1e5 * (double)i);
        b.cp.py_heap_bytes = 40000000;
        b.cp.rss_bytes = 70000000;
        LT_EQ_INT(lt_timeline_add(&tl, &b.cp), 0);
    }
    LT_EQ_UINT(tl.census.nseries, 12);
    LT_EQ_UINT(arrays(&tl.census), 2);
    LT_EQ_UINT(tl.census.narrays, 2);
    LT_EQ_UINT(tl.census.dropped, 0);
    /* The sites overflowed 8 arrays: the flattest went, the leak stayed. */
    LT_GT_UINT(tl.sites.dropped, 0);
    LT_LE_UINT(tl.sites.narrays, 8);
    LT_EQ_UINT(arrays(&tl.sites), tl.sites.narrays);
    const lt__tl_series_t *leak = NULL;
    for (size_t i = 0; i < tl.sites.nseries; i++)
        if (tl.sites.series[i].id == 99)
            leak = &tl.sites.series[i];
    if (LT_NOT_NULL(leak))
        LT_NOT_NULL(leak->b);
    lt_analysis_opts_t o = aopts();
    o.min_bytes = 1000;
    o.min_count = 10;
    lt_analysis_t a;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
    LT_EQ_UINT(a.dropped_series, tl.sites.dropped);
    LT_NOT_NULL(find(&a, LT_CAND_SITE, 99, NULL));
    LT_NOT_NULL(find(&a, LT_CAND_TYPE, 300, NULL));
    LT_NULL(find(&a, LT_CAND_TYPE, 200, NULL));
    LT_NULL(find(&a, LT_CAND_TYPE, 100, NULL));
    lt_analysis_release(&a);
    lt_timeline_release(&tl);
}

/* A census on every third checkpoint only: its own time axis. */
static void test_census_gaps(void)
{
    seed(5);
    lt_timeline_t tl;
    lt_timeline_init(&tl, &lt_test_heap, NULL);
    for (size_t i = 0; i < 150; i++) {
        cpb_t b;
        leaky(&b, i);
        b.cp.has_census = i % 3 == 0;
        LT_EQ_INT(lt_timeline_add(&tl, &b.cp), 0);
    }
    LT_EQ_UINT(tl.proc.n, 150);
    LT_EQ_UINT(tl.census.n, 50);
    LT_EQ_INT(llround(tl.census.t[1] * 10), 3);
    lt_analysis_opts_t o = aopts();
    lt_analysis_t a;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), 0);
    LT_EQ_STR(a.verdict, LT_VERDICT_LEAK);
    const lt_candidate_t *c = find(&a, LT_CAND_TYPE, T_INVOICE, NULL);
    if (LT_NOT_NULL(c))
        LT_EQ_INT(llround(c->count_per_second), 850);
    lt_analysis_release(&a);
    lt_timeline_release(&tl);
}

static void test_bad_input(void)
{
    lt_timeline_t tl;
    lt_timeline_opts_t to = {15, 64};
    LT_EQ_INT(lt_timeline_init(&tl, &lt_test_heap, &to), LT_EINVAL);
    to.max_points = 8;
    LT_EQ_INT(lt_timeline_init(&tl, &lt_test_heap, &to), LT_EINVAL);
    to.max_points = 64;
    to.max_series = 2;
    LT_EQ_INT(lt_timeline_init(&tl, &lt_test_heap, &to), LT_EINVAL);
    LT_EQ_INT(lt_timeline_init(&tl, NULL, NULL), LT_EINVAL);
    LT_EQ_INT(lt_timeline_init(&tl, &lt_test_heap, NULL), 0);
    cpb_t b;
    cpb_init(&b, 5);
    LT_EQ_INT(lt_timeline_add(&tl, NULL), LT_EINVAL);
    LT_EQ_INT(lt_timeline_add(&tl, &b.cp), 0);
    cpb_init(&b, 4);
    LT_EQ_INT(lt_timeline_add(&tl, &b.cp), LT_EINVAL);     /* time going back */
    cpb_init(&b, 5);
    LT_EQ_INT(lt_timeline_add(&tl, &b.cp), 0);             /* same time is fine */
    b.cp.sites = NULL;
    b.cp.nsites = 1;
    LT_EQ_INT(lt_timeline_add(&tl, &b.cp), LT_EINVAL);
    LT_EQ_UINT(tl.checkpoints, 2);
    LT_EQ_INT(tl.proc.t[0], 0);                            /* times count from the first */
    lt_analysis_opts_t o = aopts();
    lt_analysis_t a;
    LT_EQ_INT(lt_timeline_analyze(NULL, &o, &a), LT_EINVAL);
    LT_EQ_INT(lt_timeline_analyze(&tl, NULL, &a), LT_EINVAL);
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, NULL), LT_EINVAL);
    o.alpha = 0.7;
    LT_EQ_INT(lt_timeline_analyze(&tl, &o, &a), LT_EINVAL);
    LT_EQ_UINT(a.ncandidates, 0);
    lt_analysis_release(&a);
    lt_timeline_release(&tl);
    lt_timeline_release(&tl);

    LT_EQ_INT(lt_timeline_user_type("billing.Invoice", 15), 1);
    LT_EQ_INT(lt_timeline_user_type("pkg.sub.Node", 12), 1);
    LT_EQ_INT(lt_timeline_user_type("__main__.Node", 13), 1);
    LT_EQ_INT(lt_timeline_user_type("dict", 4), 0);
    LT_EQ_INT(lt_timeline_user_type("collections.OrderedDict", 23), 0);
    LT_EQ_INT(lt_timeline_user_type("_io.TextIOWrapper", 17), 0);
    LT_EQ_INT(lt_timeline_user_type("threading.Thread", 16), 0);
    LT_EQ_INT(lt_timeline_user_type("sqlite3.Connection", 18), 0);
    LT_EQ_INT(lt_timeline_user_type(".x", 2), 0);
    LT_EQ_INT(lt_timeline_user_type("billing.Invoice", 7), 0);  /* "billing": no dot within len */
    LT_EQ_INT(lt_timeline_user_type(NULL, 0), 0);
    LT_EQ_STR(lt_cand_kind_name(LT_CAND_FD_KIND), "fd-kind");
    LT_EQ_STR(lt_cand_kind_name((lt_cand_kind_t)42), "unknown");
}

/* Compares the parts of two analyses that must agree. */
static int same_analysis(const lt_analysis_t *x, const lt_analysis_t *y)
{
    int ok = LT_EQ_STR(x->verdict, y->verdict);
    ok &= LT_EQ_UINT(x->ncandidates, y->ncandidates);
    for (size_t i = 0; ok && i < x->ncandidates; i++) {
        ok &= LT_EQ_INT(x->candidates[i].kind, y->candidates[i].kind);
        ok &= LT_EQ_UINT(x->candidates[i].id, y->candidates[i].id);
        ok &= LT_CHECK(x->candidates[i].trend.slope == y->candidates[i].trend.slope);
        ok &= LT_EQ_INT(x->candidates[i].echo_of, y->candidates[i].echo_of);
    }
    return ok;
}

/* Each allocation of add and of analyze fails in turn. A failed add leaves
 * the series as they were, so retrying it gives the same analysis as a run
 * without failures; a failed analyze holds nothing. */
static void test_faults(void)
{
    lt_timeline_opts_t to = {32, 64};
    lt_timeline_t ref;
    lt_timeline_init(&ref, &lt_test_heap, &to);
    seed(6);
    fill(&ref, 60, leaky);
    lt_analysis_opts_t o = aopts();
    lt_analysis_t want;
    LT_EQ_INT(lt_timeline_analyze(&ref, &o, &want), 0);
    LT_EQ_STR(want.verdict, LT_VERDICT_LEAK);

    long add_failures = 0;
    for (long fail_at = 0;; fail_at++) {
        lt_failing_alloc_t f;
        lt_failing_alloc_init(&f, &lt_test_heap, fail_at, 0);
        lt_timeline_t tl;
        lt_timeline_init(&tl, &f.base, &to);
        seed(6);
        int failed = 0;
        for (size_t i = 0; i < 60; i++) {
            cpb_t b;
            leaky(&b, i);
            int rc = lt_timeline_add(&tl, &b.cp);
            if (rc < 0) {
                LT_EQ_INT(rc, LT_ENOMEM);
                LT_EQ_UINT(tl.checkpoints, i);
                failed++;
                rc = lt_timeline_add(&tl, &b.cp);
            }
            LT_EQ_INT(rc, 0);
        }
        add_failures += failed;
        if (failed == 0) {
            LT_GE_INT(fail_at, 10);
            lt_timeline_release(&tl);
            LT_EQ_INT(f.live, 0);
            break;
        }
        lt_analysis_t got;
        LT_EQ_INT(lt_timeline_analyze(&tl, &o, &got), 0);
        same_analysis(&want, &got);
        lt_analysis_release(&got);
        lt_timeline_release(&tl);
        LT_EQ_INT(f.live, 0);
    }
    LT_GT_INT(add_failures, 10);

    for (long fail_at = 0;; fail_at++) {
        lt_failing_alloc_t f;
        lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
        lt_timeline_t tl;
        lt_timeline_init(&tl, &f.base, &to);
        seed(6);
        fill(&tl, 60, leaky);
        long live = f.live;
        f.calls = 0;
        f.fail_at = fail_at;
        lt_analysis_t got;
        int rc = lt_timeline_analyze(&tl, &o, &got);
        if (rc == 0) {
            same_analysis(&want, &got);
            lt_analysis_release(&got);
            lt_timeline_release(&tl);
            LT_EQ_INT(f.live, 0);
            LT_GT_INT(fail_at, 5);
            break;
        }
        LT_EQ_INT(rc, LT_ENOMEM);
        LT_EQ_UINT(got.ncandidates, 0);
        LT_NULL(got.candidates);
        LT_EQ_INT(f.live, live);
        lt_timeline_release(&tl);
        LT_EQ_INT(f.live, 0);
    }
    lt_analysis_release(&want);
    lt_timeline_release(&ref);
}

int main(void)
{
    LT_RUN(test_leak_ranking);
    LT_RUN(test_controls);
    LT_RUN(test_too_short);
    LT_RUN(test_not_yet_confident);
    LT_RUN(test_slow_leak_in_churn);
    LT_RUN(test_resources);
    LT_RUN(test_native);
    LT_RUN(test_thinning);
    LT_RUN(test_kept);
    LT_RUN(test_lazy_and_eviction);
    LT_RUN(test_census_gaps);
    LT_RUN(test_bad_input);
    LT_RUN(test_faults);
    return lt_test_done();
}
