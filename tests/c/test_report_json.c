/* Tests of the JSON report writer: the exact document for a small report and
 * an empty one, string escaping (RFC 8259, U+2028/2029, invalid UTF-8),
 * numbers (shortest round trip, ".0", null for non-finite), malformed
 * reports, random hostile strings (always valid JSON), every allocation
 * failure (output unchanged). */
#include "alloc.h"
#include "errors.h"
#include "json_check.h"
#include "lt_test.h"
#include "report.h"
#include "report_json.h"
#include "report_sample.h"
#include "strbuf.h"

#include <math.h>
#include <string.h>

static lt_failing_alloc_t fa;
static lt_strbuf_t out;

static void setup(void)
{
    lt_failing_alloc_init(&fa, &lt_test_heap, -1, 0);
    lt_strbuf_init(&out, &fa.base);
}

static void teardown(void)
{
    lt_strbuf_clear(&out);
    LT_EQ_INT(fa.live, 0);
}

static const double small_t[] = {0, 1.5};
static const double small_rss[] = {1048576, 2097152};
static const double small_heap[] = {524288, 786432};
static const double small_threads[] = {1, 1};
static const char *const small_argv[] = {"app.py", "-v"};
static const lt_report_frame_t small_tb[] = {{"app.py", 7, "grow"}, {"app.py", 12, "<module>"}};
static const char *const small_path[] = {"__main__", "cache"};
static const lt_report_warning_t small_warnings[] = {{"short-run", "only 12.5 s"}};
static lt_report_leak_t small_leak;

/* A report with one of everything, on static data. */
static void small_report(lt_report_t *r)
{
    lt_report_init(r, &lt_test_heap);
    r->verdict = LT_VERDICT_LEAK;
    r->confidence = 0.9;
    r->duration_s = 12.5;
    r->python = "3.12.1";
    r->argv = small_argv;
    r->argc = 2;
    r->series = (lt_report_series_t){2, small_t, small_rss, small_heap, NULL, small_threads};
    small_leak = (lt_report_leak_t){
        .what = LT_WHAT_OBJECTS, .type = "dict", .category = LT_CAT_UNBOUNDED_CONTAINER,
        .count_delta = 100, .bytes_delta = 23400, .bytes_per_second = 15600.5, .confidence = 0.875,
        .has_alloc_site = 1, .alloc_site = {"app.py", 7, "grow"},
        .traceback = small_tb, .ntraceback = 2, .holder_path = small_path, .nholder_path = 2,
        .hint = "bound cache", .count_per_second = 200.0 / 3,
    };
    r->leaks = &small_leak;
    r->nleaks = 1;
    r->warnings = small_warnings;
    r->nwarnings = 1;
}

static const char small_expected[] =
    "{\n"
    "  \"schema\": \"leaktrace/report-1\",\n"
    "  \"verdict\": \"leak\",\n"
    "  \"confidence\": 0.9,\n"
    "  \"duration_s\": 12.5,\n"
    "  \"python\": \"3.12.1\",\n"
    "  \"argv\": [\"app.py\", \"-v\"],\n"
    "  \"series\": {\n"
    "    \"t\": [0.0, 1.5],\n"
    "    \"rss\": [1048576.0, 2097152.0],\n"
    "    \"heap\": [524288.0, 786432.0],\n"
    "    \"fds\": [null, null],\n"
    "    \"threads\": [1.0, 1.0]\n"
    "  },\n"
    "  \"leaks\": [\n"
    "    {\n"
    "      \"what\": \"objects\",\n"
    "      \"type\": \"dict\",\n"
    "      \"category\": \"unbounded-container\",\n"
    "      \"count_delta\": 100,\n"
    "      \"bytes_delta\": 23400,\n"
    "      \"bytes_per_second\": 15600.5,\n"
    "      \"confidence\": 0.875,\n"
    "      \"alloc_site\": {\"file\": \"app.py\", \"line\": 7, \"function\": \"grow\"},\n"
    "      \"traceback\": [\n"
    "        {\"file\": \"app.py\", \"line\": 7, \"function\": \"grow\"},\n"
    "        {\"file\": \"app.py\", \"line\": 12, \"function\": \"<module>\"}\n"
    "      ],\n"
    "      \"holder_path\": [\"__main__\", \"cache\"],\n"
    "      \"hint\": \"bound cache\",\n"
    "      \"x_count_per_second\": 66.66666666666667\n"
    "    }\n"
    "  ],\n"
    "  \"warnings\": [\n"
    "    {\"kind\": \"short-run\", \"message\": \"only 12.5 s\"}\n"
    "  ],\n"
    "  \"advice\": null\n"
    "}\n";

static void test_exact_small(void)
{
    setup();
    lt_report_t r;
    small_report(&r);
    LT_EQ_INT(lt_report_write_json(&r, &out), 0);
    LT_EQ_STR(lt_strbuf_str(&out), small_expected);
    LT_CHECK(json_check(out.data, out.len, NULL));

    /* Appends: what was in the buffer stays. */
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_strbuf_puts(&out, "pre"), 0);
    LT_EQ_INT(lt_report_write_json(&r, &out), 0);
    LT_EQ_INT(strncmp(lt_strbuf_str(&out), "pre{\n", 5), 0);
    LT_EQ_UINT(out.len, 3 + strlen(small_expected));

    /* No alloc site, advice set, no warnings. */
    small_leak.has_alloc_site = 0;
    r.advice = "run for at least 60 s";
    r.nwarnings = 0;
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_report_write_json(&r, &out), 0);
    LT_NOT_NULL(strstr(out.data, "\"alloc_site\": null,\n"));
    LT_NOT_NULL(strstr(out.data, "\"warnings\": [],\n  \"advice\": \"run for at least 60 s\"\n}\n"));
    LT_CHECK(json_check(out.data, out.len, NULL));
    lt_report_release(&r);
    teardown();
}

static void test_empty(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_STR(r.verdict, LT_VERDICT_INCONCLUSIVE);
    LT_EQ_INT(lt_report_write_json(&r, &out), 0);
    LT_EQ_STR(lt_strbuf_str(&out),
              "{\n"
              "  \"schema\": \"leaktrace/report-1\",\n"
              "  \"verdict\": \"inconclusive\",\n"
              "  \"confidence\": 0.0,\n"
              "  \"duration_s\": 0.0,\n"
              "  \"python\": \"\",\n"
              "  \"argv\": [],\n"
              "  \"series\": {\n"
              "    \"t\": [],\n"
              "    \"rss\": [],\n"
              "    \"heap\": [],\n"
              "    \"fds\": [],\n"
              "    \"threads\": []\n"
              "  },\n"
              "  \"leaks\": [],\n"
              "  \"warnings\": [],\n"
              "  \"advice\": null\n"
              "}\n");

    /* A leak with empty arrays and NULL strings. */
    lt_report_leak_t l = {0};
    r.leaks = &l;
    r.nleaks = 1;
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_report_write_json(&r, &out), 0);
    LT_NOT_NULL(strstr(out.data, "\"what\": \"\",\n"));
    LT_NOT_NULL(strstr(out.data, "\"traceback\": [],\n      \"holder_path\": [],\n      \"hint\": \"\",\n"));
    LT_CHECK(json_check(out.data, out.len, NULL));
    lt_report_release(&r);
    teardown();
}

#define CHECK_STRING(s, expect)                                                                         \
    do {                                                                                                \
        lt_strbuf_reset(&out);                                                                          \
        LT_EQ_INT(lt_report_json_string(&out, (s)), 0);                                                 \
        LT_EQ_STR(lt_strbuf_str(&out), (expect));                                                       \
        LT_CHECK(json_check(out.data, out.len, NULL));                                                  \
    } while (0)

static void test_strings(void)
{
    setup();
    CHECK_STRING("", "\"\"");
    CHECK_STRING(NULL, "\"\"");
    CHECK_STRING("plain / text", "\"plain / text\"");
    CHECK_STRING("say \"hi\" \\o/", "\"say \\\"hi\\\" \\\\o/\"");
    CHECK_STRING("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    CHECK_STRING("\x01\x1f\x1b[31m", "\"\\u0001\\u001f\\u001b[31m\"");
    CHECK_STRING("del\x7f", "\"del\\u007f\"");
    CHECK_STRING("c1 \xc2\x80\xc2\x9b", "\"c1 \\u0080\\u009b\"");
    CHECK_STRING("\xc2\xa0 nbsp", "\"\xc2\xa0 nbsp\"");            /* U+00A0 stays */
    CHECK_STRING("ls \xe2\x80\xa8 ps \xe2\x80\xa9", "\"ls \\u2028 ps \\u2029\"");
    CHECK_STRING("\xe2\x80\xae" "dlrow \xe2\x81\xa6", "\"\\u202edlrow \\u2066\"");   /* bidi controls */
    CHECK_STRING("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x90\x8d", "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x90\x8d\"");
    CHECK_STRING("</script><!--", "\"</script><!--\"");         /* the HTML writer's business */
    /* Ill-formed UTF-8: one U+FFFD per maximal subpart. */
    CHECK_STRING("a\xff" "b", "\"a\xef\xbf\xbd" "b\"");
    CHECK_STRING("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");    /* overlong '/' */
    CHECK_STRING("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");  /* a surrogate */
    CHECK_STRING("\xe6\x97", "\"\xef\xbf\xbd\"");                /* cut short at the end */
    CHECK_STRING("\xe6\x97x", "\"\xef\xbf\xbdx\"");              /* cut short before a byte */
    CHECK_STRING("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");  /* > U+10FFFF */
    CHECK_STRING("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");            /* a real U+FFFD stays */
    teardown();
}

#define CHECK_NUMBER(v, expect)                                                                         \
    do {                                                                                                \
        lt_strbuf_reset(&out);                                                                          \
        LT_EQ_INT(lt_report_json_number(&out, (v)), 0);                                                 \
        LT_EQ_STR(lt_strbuf_str(&out), (expect));                                                       \
    } while (0)

static void test_numbers(void)
{
    setup();
    CHECK_NUMBER(0.0, "0.0");
    CHECK_NUMBER(-0.0, "-0.0");
    CHECK_NUMBER(1.0, "1.0");
    CHECK_NUMBER(30.0, "30.0");
    CHECK_NUMBER(-2.5, "-2.5");
    CHECK_NUMBER(0.1, "0.1");
    CHECK_NUMBER(0.97, "0.97");
    CHECK_NUMBER(1.0 / 3, "0.3333333333333333");
    CHECK_NUMBER(1048576.0, "1048576.0");
    CHECK_NUMBER(123456789012345680.0, "1.2345678901234568e+17");
    CHECK_NUMBER(1e300, "1e+300");
    CHECK_NUMBER(-1.5e-7, "-1.5e-07");
    CHECK_NUMBER(0.0001, "0.0001");
    CHECK_NUMBER(0.00012, "0.00012");
    CHECK_NUMBER(1e15, "1000000000000000.0");
    CHECK_NUMBER(1e16, "1e+16");
    CHECK_NUMBER(123.456, "123.456");
    CHECK_NUMBER(100.0, "100.0");
    CHECK_NUMBER(5e-324, "5e-324");
    CHECK_NUMBER(1.7976931348623157e308, "1.7976931348623157e+308");
    CHECK_NUMBER(NAN, "null");
    CHECK_NUMBER(-NAN, "null");
    CHECK_NUMBER(INFINITY, "null");
    CHECK_NUMBER(-INFINITY, "null");
    /* Every number reads back as itself. */
    double values[] = {0.1, 0.2, 0.3, 2.0 / 3, 1e21, 1e22, 123.456, 9007199254740993.0, 4.35, 1e-5};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        lt_strbuf_reset(&out);
        LT_EQ_INT(lt_report_json_number(&out, values[i]), 0);
        LT_CHECK(strtod(out.data, NULL) == values[i]);
        LT_CHECK(json_check(out.data, out.len, NULL));
    }
    teardown();
}

/* Non-finite numbers anywhere in a report: null, and still valid JSON. */
static void test_nonfinite_report(void)
{
    setup();
    lt_report_t r;
    small_report(&r);
    static const double bad[] = {NAN, INFINITY};
    r.confidence = NAN;
    r.duration_s = -INFINITY;
    r.series.rss = bad;
    small_leak.bytes_per_second = INFINITY;
    small_leak.confidence = NAN;
    small_leak.count_per_second = -INFINITY;
    LT_EQ_INT(lt_report_write_json(&r, &out), 0);
    LT_NOT_NULL(strstr(out.data, "\"confidence\": null,\n  \"duration_s\": null,\n"));
    LT_NOT_NULL(strstr(out.data, "\"rss\": [null, null],\n"));
    LT_NOT_NULL(strstr(out.data, "\"bytes_per_second\": null,\n      \"confidence\": null,\n"));
    LT_NOT_NULL(strstr(out.data, "\"x_count_per_second\": null\n"));
    LT_NULL(strstr(out.data, "nan"));
    LT_NULL(strstr(out.data, "inf"));
    LT_CHECK(json_check(out.data, out.len, NULL));
    lt_report_release(&r);
    teardown();
}

static void test_einval(void)
{
    setup();
    lt_report_t r;
    small_report(&r);
    LT_EQ_INT(lt_report_write_json(NULL, &out), LT_EINVAL);
    LT_EQ_INT(lt_report_write_json(&r, NULL), LT_EINVAL);
    r.verdict = NULL;
    LT_EQ_INT(lt_report_write_json(&r, &out), LT_EINVAL);
    r.verdict = LT_VERDICT_LEAK;
    r.argv = NULL;
    LT_EQ_INT(lt_report_write_json(&r, &out), LT_EINVAL);
    r.argv = small_argv;
    small_leak.traceback = NULL;
    LT_EQ_INT(lt_report_write_json(&r, &out), LT_EINVAL);
    small_leak.traceback = small_tb;
    small_leak.holder_path = NULL;
    LT_EQ_INT(lt_report_write_json(&r, &out), LT_EINVAL);
    small_leak.holder_path = small_path;
    r.leaks = NULL;
    LT_EQ_INT(lt_report_write_json(&r, &out), LT_EINVAL);
    r.leaks = &small_leak;
    r.warnings = NULL;
    LT_EQ_INT(lt_report_write_json(&r, &out), LT_EINVAL);
    LT_EQ_UINT(out.len, 0);                 /* nothing written on refusal */
    lt_report_release(&r);
    teardown();
}

/* A small deterministic generator (no rand(): its state is global). */
static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Random strings biased towards what breaks writers: controls, quotes,
 * backslashes, '<', bytes >= 0x80 (valid and not), U+2028. */
static void random_string(char *buf, size_t cap)
{
    static const char *const pieces[] = {"\"", "\\", "<", "</script>", "\xe2\x80\xa8", "\xc3\xa9", "\xf0\x9f\x90\x8d",
                                         "\xed\xa0\x80", "\xc0", "\x1b[", "\x7f", "\xc2\x9b", "u0000", "\\u"};
    size_t len = 0, want = next_rand() % (cap / 2);
    while (len < want) {
        uint32_t k = next_rand() % 4;
        if (k == 0) {
            const char *p = pieces[next_rand() % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t n = strlen(p);
            if (len + n >= cap - 1)
                break;
            memcpy(buf + len, p, n);
            len += n;
        } else {
            char c = (char)(next_rand() % 255 + 1);    /* any byte but NUL */
            buf[len++] = c;
        }
    }
    buf[len] = '\0';
}

static void test_random_strings(void)
{
    setup();
    lt_report_t r;
    small_report(&r);
    static char s[6][128];
    const char *path[2] = {s[3], s[4]};
    const char *argv[1] = {s[5]};
    int failures = 0;
    for (int round = 0; round < 3000 && failures < 3; round++) {
        for (int i = 0; i < 6; i++)
            random_string(s[i], sizeof(s[i]));
        small_leak.type = s[0];
        small_leak.hint = s[1];
        small_leak.alloc_site.function = s[2];
        small_leak.holder_path = path;
        r.argv = argv;
        r.argc = 1;
        r.python = s[round % 6];
        lt_strbuf_reset(&out);
        LT_EQ_INT(lt_report_write_json(&r, &out), 0);
        size_t where = 0;
        if (!LT_CHECK(json_check(out.data, out.len, &where)) || !LT_CHECK(utf8_check(out.data, out.len))) {
            lt__write_escaped("json", out.data, out.len, where);
            failures++;
        }
    }
    lt_report_release(&r);
    teardown();
}

/* The hostile sample: valid JSON, nothing raw that a terminal would act on. */
static void test_hostile(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(report_sample_hostile(&r), 0);
    LT_EQ_INT(lt_report_write_json(&r, &out), 0);
    size_t where = 0;
    if (!LT_CHECK(json_check(out.data, out.len, &where)))
        lt__write_escaped("json", out.data, out.len, where);
    LT_CHECK(utf8_check(out.data, out.len));
    LT_NULL(memchr(out.data, '\x1b', out.len));
    LT_NULL(strstr(out.data, "\xe2\x80\xa8"));
    LT_NOT_NULL(strstr(out.data, "\"count_delta\": -9223372036854775808,"));
    LT_NOT_NULL(strstr(out.data, "\"bytes_delta\": 9223372036854775807,"));
    /* The 10 kB name is kept whole: JSON is data, not display. */
    LT_GT_UINT(out.len, 4 * sizeof(sample_long_name));
    lt_report_release(&r);
    teardown();
}

/* Each allocation failing in turn: LT_ENOMEM and the text as before. */
static void test_faults(void)
{
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(report_sample_demo(&r), 0);
    lt_strbuf_t ref;
    lt_strbuf_init(&ref, &lt_test_heap);
    LT_EQ_INT(lt_report_write_json(&r, &ref), 0);
    int ok = 0;
    for (long fail_at = 0; fail_at < 40 && !ok; fail_at++) {
        for (int persistent = 0; persistent <= 1; persistent++) {
            lt_failing_alloc_init(&fa, &lt_test_heap, -1, 0);
            lt_strbuf_init(&out, &fa.base);
            LT_EQ_INT(lt_strbuf_puts(&out, "keep"), 0);
            fa.fail_at = fa.calls + fail_at;    /* counted from here */
            fa.persistent = persistent;
            int rc = lt_report_write_json(&r, &out);
            if (rc == 0) {
                LT_EQ_UINT(out.len, 4 + ref.len);
                LT_EQ_INT(memcmp(out.data + 4, ref.data, ref.len), 0);
                ok = 1;
            } else {
                LT_EQ_INT(rc, LT_ENOMEM);
                LT_EQ_STR(lt_strbuf_str(&out), "keep");
            }
            lt_strbuf_clear(&out);
            LT_EQ_INT(fa.live, 0);
        }
    }
    LT_CHECK(ok);
    lt_strbuf_clear(&ref);
    lt_report_release(&r);
}

int main(void)
{
    LT_RUN(test_exact_small);
    LT_RUN(test_empty);
    LT_RUN(test_strings);
    LT_RUN(test_numbers);
    LT_RUN(test_nonfinite_report);
    LT_RUN(test_einval);
    LT_RUN(test_random_strings);
    LT_RUN(test_hostile);
    LT_RUN(test_faults);
    return lt_test_done();
}
