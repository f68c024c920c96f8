/* Sample reports for the report writers' tests and for report_demo: a
 * realistic leaking service (three findings, a minute of samples, a flame
 * graph), a hostile one whose every string tries to break out of its
 * context (HTML, JSON, the terminal), and the source-line callbacks that go
 * with them. The strings are static; the arrays come from the report's
 * arena, so building one exercises it too. Test-only. */
#ifndef LT_REPORT_SAMPLE_H
#define LT_REPORT_SAMPLE_H

#include "alloc.h"
#include "errors.h"
#include "report.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SAMPLE_MIB (1024.0 * 1024.0)

static inline void *sample_array(lt_report_t *r, size_t n, size_t size, int *rc)
{
    void *p = lt_arena_alloc(&r->arena, n * size);
    if (p == NULL)
        *rc = LT_ENOMEM;
    return p;
}

/* A minute of samples of a service that warms up for five seconds, then
 * leaks about 2.4 MiB/s of RSS, 1.6 MiB/s of it Python heap, and a file
 * descriptor every quarter second. */
static inline int sample_series(lt_report_t *r, size_t n)
{
    int rc = 0;
    double *t = sample_array(r, n, sizeof(double), &rc);
    double *rss = sample_array(r, n, sizeof(double), &rc);
    double *heap = sample_array(r, n, sizeof(double), &rc);
    double *fds = sample_array(r, n, sizeof(double), &rc);
    double *threads = sample_array(r, n, sizeof(double), &rc);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        double s = (double)i;
        double warm = 1 - exp(-s / 2.0);
        t[i] = s;
        heap[i] = (22 + 8 * warm + 1.6 * s + 0.4 * sin(s * 1.7)) * SAMPLE_MIB;
        rss[i] = heap[i] + (26 + 4 * warm + 0.8 * s + 0.3 * cos(s * 1.3)) * SAMPLE_MIB;
        fds[i] = 9 + floor(s * 4);
        threads[i] = s < 3 ? 2 + s : 5;
    }
    r->series = (lt_report_series_t){n, t, rss, heap, fds, threads};
    return 0;
}

static const lt_report_frame_t sample_tb_invoice[] = {
    {"/srv/app/billing/invoice.py", 42, "create_invoice"},
    {"/srv/app/billing/api.py", 117, "post_invoice"},
    {"/srv/app/web/router.py", 63, "dispatch"},
    {"/usr/lib/python3.11/socketserver.py", 683, "process_request_thread"},
};
static const char *const sample_path_invoice[] = {
    "sys.modules['billing.cache']", "billing.cache._invoices", "dict['INV-2024-0042']", "billing.Invoice",
};
static const lt_report_frame_t sample_tb_fd[] = {
    {"/srv/app/reports/export.py", 88, "export_csv"},
    {"/srv/app/reports/jobs.py", 31, "nightly"},
};
static const char *const sample_path_fd[] = {
    "reports.export._open_files", "list[240]", "_io.TextIOWrapper",
};
static const lt_report_frame_t sample_tb_native[] = {
    {"/srv/app/imaging/thumbs.py", 17, "make_thumbnail"},
    {"/srv/app/imaging/api.py", 54, "thumbnail"},
};

/* The flame graph's stacks, innermost frame first. */
static const lt_report_frame_t sample_flame_a[] = {
    {"/srv/app/billing/invoice.py", 42, "create_invoice"},
    {"/srv/app/billing/api.py", 117, "post_invoice"},
    {"/srv/app/web/router.py", 63, "dispatch"},
    {"/srv/app/main.py", 12, "serve"},
};
static const lt_report_frame_t sample_flame_b[] = {
    {"/srv/app/billing/lines.py", 20, "add_line"},
    {"/srv/app/billing/invoice.py", 45, "create_invoice"},
    {"/srv/app/billing/api.py", 117, "post_invoice"},
    {"/srv/app/web/router.py", 63, "dispatch"},
    {"/srv/app/main.py", 12, "serve"},
};
static const lt_report_frame_t sample_flame_c[] = {
    {"/srv/app/imaging/thumbs.py", 17, "make_thumbnail"},
    {"/srv/app/imaging/api.py", 54, "thumbnail"},
    {"/srv/app/web/router.py", 63, "dispatch"},
    {"/srv/app/main.py", 12, "serve"},
};
static const lt_report_frame_t sample_flame_d[] = {
    {"/srv/app/reports/export.py", 120, "render_rows"},
    {"/srv/app/reports/export.py", 90, "export_csv"},
    {"/srv/app/reports/jobs.py", 31, "nightly"},
    {"/srv/app/main.py", 30, "scheduler"},
};
static const lt_report_frame_t sample_flame_e[] = {
    {"/srv/app/web/session.py", 71, "load_session"},
    {"/srv/app/web/router.py", 58, "dispatch"},
    {"/srv/app/main.py", 12, "serve"},
};
static const lt_report_frame_t sample_flame_f[] = {
    {"/usr/lib/python3.11/json/decoder.py", 353, "raw_decode"},
    {"/usr/lib/python3.11/json/decoder.py", 337, "decode"},
    {"/srv/app/web/router.py", 60, "dispatch"},
    {"/srv/app/main.py", 12, "serve"},
};

static inline int report_sample_demo(lt_report_t *r)
{
    static const char *const argv[] = {"service.py", "--port", "8080", "--workers", "4"};
    static const lt_report_warning_t warnings[] = {
        {"huge-object", "one bytes object of 64.0 MiB is alive (reports/export.py:120, render_rows): "
                        "not a leak, but it is a large share of the heap"},
    };
    int rc = 0;
    r->verdict = LT_VERDICT_LEAK;
    r->confidence = 0.97;
    r->duration_s = 60.0;
    r->python = "3.11.7";
    r->argv = argv;
    r->argc = 5;
    r->warnings = warnings;
    r->nwarnings = 1;
    r->advice = NULL;
    rc = sample_series(r, 61);
    if (rc < 0)
        return rc;

    lt_report_leak_t *l = sample_array(r, 3, sizeof(*l), &rc);
    lt_report_flame_t *fl = sample_array(r, 6, sizeof(*fl), &rc);
    if (rc < 0)
        return rc;
    l[0] = (lt_report_leak_t){
        .what = LT_WHAT_OBJECTS, .type = "billing.Invoice", .category = LT_CAT_UNBOUNDED_CONTAINER,
        .count_delta = 51000, .bytes_delta = 98566144, .bytes_per_second = 1677721.6, .confidence = 0.97,
        .has_alloc_site = 1, .alloc_site = sample_tb_invoice[0],
        .traceback = sample_tb_invoice, .ntraceback = 4,
        .holder_path = sample_path_invoice, .nholder_path = 4,
        .hint = "billing.cache._invoices keeps every Invoice that create_invoice() makes (850 a second) and "
                "never drops one: bound it (functools.lru_cache(maxsize=...), a TTL cache) or delete the "
                "entry when the invoice is paid.",
        .count_per_second = 850.0,
    };
    l[1] = (lt_report_leak_t){
        .what = LT_WHAT_RESOURCE, .type = "fd", .category = LT_CAT_UNCLOSED_RESOURCE,
        .count_delta = 240, .bytes_delta = 0, .bytes_per_second = 0, .confidence = 0.91,
        .has_alloc_site = 1, .alloc_site = sample_tb_fd[0],
        .traceback = sample_tb_fd, .ntraceback = 2,
        .holder_path = sample_path_fd, .nholder_path = 3,
        .hint = "export_csv() opens a file on every call and keeps it in reports.export._open_files without "
                "closing it: use `with open(path, \"w\") as f:`.",
        .count_per_second = 4.0,
    };
    l[2] = (lt_report_leak_t){
        .what = LT_WHAT_NATIVE, .type = "native", .category = LT_CAT_NATIVE,
        .count_delta = 0, .bytes_delta = 50331648, .bytes_per_second = 838860.8, .confidence = 0.74,
        .has_alloc_site = 1, .alloc_site = sample_tb_native[0],
        .traceback = sample_tb_native, .ntraceback = 2,
        .holder_path = NULL, .nholder_path = 0,
        .hint = "RSS grows faster than the Python heap: memory allocated in C under make_thumbnail() "
                "(imaging._resize) is not freed.",
        .count_per_second = 0,
    };
    r->leaks = l;
    r->nleaks = 3;

    fl[0] = (lt_report_flame_t){sample_flame_a, 4, 61.0 * SAMPLE_MIB};
    fl[1] = (lt_report_flame_t){sample_flame_b, 5, 33.0 * SAMPLE_MIB};
    fl[2] = (lt_report_flame_t){sample_flame_c, 4, 48.0 * SAMPLE_MIB};
    fl[3] = (lt_report_flame_t){sample_flame_d, 4, 64.0 * SAMPLE_MIB};
    fl[4] = (lt_report_flame_t){sample_flame_e, 3, 9.5 * SAMPLE_MIB};
    fl[5] = (lt_report_flame_t){sample_flame_f, 4, 4.2 * SAMPLE_MIB};
    r->flame = fl;
    r->nflame = 6;
    return 0;
}

/* The lines the demo's frames point at. */
static inline const char *report_sample_source(const char *file, int64_t line, void *ctx)
{
    static const struct {
        const char *file;
        int64_t line;
        const char *text;
    } lines[] = {
        {"/srv/app/billing/invoice.py", 42, "        invoice = Invoice(customer, items, issued=now())\n"},
        {"/srv/app/billing/api.py", 117, "    inv = create_invoice(req.customer, req.items)"},
        {"/srv/app/web/router.py", 63, "        return handler(request)"},
        {"/srv/app/reports/export.py", 88, "    f = open(path, \"w\")"},
        {"/srv/app/reports/jobs.py", 31, "    export_csv(rows, f\"/var/reports/{day}.csv\")"},
        {"/srv/app/imaging/thumbs.py", 17, "    return _resize(buf, width, height)"},
        {"/srv/app/imaging/api.py", 54, "    thumb = make_thumbnail(data, 128, 128)"},
    };
    (void)ctx;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        if (lines[i].line == line && strcmp(lines[i].file, file) == 0)
            return lines[i].text;
    return NULL;
}

/* Strings that try to end their context: HTML elements and attributes, the
 * script blocks, JSON strings, terminal escapes, bidi overrides, invalid
 * UTF-8, line and paragraph separators. */
#define HOSTILE_SCRIPT "<script>document.documentElement.setAttribute('data-pwned','1')</script>"
#define HOSTILE_ATTR "\"><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','2')\">"
#define HOSTILE_END_SCRIPT "</script><script>document.documentElement.setAttribute('data-pwned','3')</script>"
#define HOSTILE_TERM "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\r\x08\x9b" "31m\xc2\x9b" "2J"
#define HOSTILE_MISC "& &amp; &lt; ' \" \\ \t\n\r \xe2\x80\xa8\xe2\x80\xa9 \xe2\x80\xae" "dlrow \xff\xfe\xc0\xaf\xed\xa0\x80 <!-- ]]>"

static char sample_long_name[10 * 1024 + 1];

static inline const char *report_sample_hostile_source(const char *file, int64_t line, void *ctx)
{
    (void)file;
    (void)ctx;
    return line % 2 ? "</pre>" HOSTILE_SCRIPT HOSTILE_TERM : "  \t" HOSTILE_MISC "  \n";
}

static inline int report_sample_hostile(lt_report_t *r)
{
    static const char *argv[] = {HOSTILE_SCRIPT, HOSTILE_ATTR, "</title>" HOSTILE_SCRIPT, HOSTILE_TERM, ""};
    static const char *path[] = {HOSTILE_END_SCRIPT, HOSTILE_ATTR, HOSTILE_MISC, sample_long_name, HOSTILE_TERM};
    static lt_report_frame_t tb[] = {
        {HOSTILE_END_SCRIPT, 1, HOSTILE_SCRIPT},
        {HOSTILE_MISC, 2, HOSTILE_ATTR},
        {NULL, -1, NULL},
    };
    static lt_report_warning_t warnings[] = {
        {HOSTILE_SCRIPT, HOSTILE_END_SCRIPT},
        {HOSTILE_TERM, HOSTILE_MISC},
    };
    int rc = 0;
    memset(sample_long_name, 'x', sizeof(sample_long_name) - 1);
    memcpy(sample_long_name, "<script>", 8);
    tb[2].file = sample_long_name;
    tb[2].function = sample_long_name;

    r->verdict = LT_VERDICT_LEAK;
    r->confidence = NAN;
    r->duration_s = INFINITY;
    r->python = "</title>" HOSTILE_SCRIPT;
    r->argv = argv;
    r->argc = 5;
    r->warnings = warnings;
    r->nwarnings = 2;
    r->advice = HOSTILE_END_SCRIPT HOSTILE_TERM;
    rc = sample_series(r, 5);
    if (rc < 0)
        return rc;
    ((double *)r->series.rss)[2] = NAN;
    ((double *)r->series.heap)[3] = -INFINITY;

    lt_report_leak_t *l = sample_array(r, 2, sizeof(*l), &rc);
    lt_report_flame_t *fl = sample_array(r, 2, sizeof(*fl), &rc);
    if (rc < 0)
        return rc;
    l[0] = (lt_report_leak_t){
        .what = HOSTILE_ATTR, .type = HOSTILE_SCRIPT, .category = HOSTILE_ATTR,
        .count_delta = INT64_MIN, .bytes_delta = INT64_MAX, .bytes_per_second = NAN, .confidence = -INFINITY,
        .has_alloc_site = 1, .alloc_site = {HOSTILE_END_SCRIPT, INT64_MIN, HOSTILE_MISC},
        .traceback = tb, .ntraceback = 3,
        .holder_path = path, .nholder_path = 5,
        .hint = HOSTILE_END_SCRIPT HOSTILE_ATTR HOSTILE_TERM HOSTILE_MISC,
        .count_per_second = INFINITY,
    };
    l[1] = (lt_report_leak_t){
        .what = LT_WHAT_OBJECTS, .type = sample_long_name, .category = LT_CAT_OTHER,
        .count_delta = 3, .bytes_delta = -4096, .bytes_per_second = -1.5, .confidence = 0.5,
        .hint = sample_long_name,
        .count_per_second = 0.05,
    };
    r->leaks = l;
    r->nleaks = 2;
    fl[0] = (lt_report_flame_t){tb, 3, 1000.0};
    fl[1] = (lt_report_flame_t){tb + 1, 2, NAN};
    r->flame = fl;
    r->nflame = 2;
    return 0;
}

#endif
