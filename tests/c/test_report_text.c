/* Tests of the terminal report writer: a snapshot of the demo report, the
 * verdict lines, colour only when asked, hostile strings neutralised (no
 * control byte, C1 or bidi control reaches the terminal), the number
 * formats, the source-line callback, and every allocation failure. */
#include "alloc.h"
#include "errors.h"
#include "utf8.h"
#include "lt_test.h"
#include "report.h"
#include "report_sample.h"
#include "report_text.h"
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

static const char demo_expected[] =
    "LEAK (confidence 0.97) after 60.0 s\n"
    "  python 3.11.7: service.py --port 8080 --workers 4\n"
    "\n"
    "#1 billing.Invoice  objects, unbounded-container, confidence 0.97\n"
    "   growth   +51,000 objects, +94.0 MiB\n"
    "   rate     850 objects/s, 1.6 MiB/s\n"
    "   site     /srv/app/billing/invoice.py:42 in create_invoice\n"
    "            | invoice = Invoice(customer, items, issued=now())\n"
    "   held by  sys.modules['billing.cache'] \xe2\x86\x92 billing.cache._invoices \xe2\x86\x92 dict['INV-2024-0042'] "
    "\xe2\x86\x92 billing.Invoice\n"
    "   hint     billing.cache._invoices keeps every Invoice that create_invoice() makes (850 a second) and never "
    "drops one: bound it (functools.lru_cache(maxsize=...), a TTL cache) or delete the entry when the invoice is "
    "paid.\n"
    "\n"
    "#2 fd  resource, unclosed-resource, confidence 0.91\n"
    "   growth   +240 handles\n"
    "   rate     4.00 handles/s\n"
    "   site     /srv/app/reports/export.py:88 in export_csv\n"
    "            | f = open(path, \"w\")\n"
    "   held by  reports.export._open_files \xe2\x86\x92 list[240] \xe2\x86\x92 _io.TextIOWrapper\n"
    "   hint     export_csv() opens a file on every call and keeps it in reports.export._open_files without "
    "closing it: use `with open(path, \"w\") as f:`.\n"
    "\n"
    "#3 native  native, native, confidence 0.74\n"
    "   growth   +48.0 MiB\n"
    "   rate     819.2 KiB/s\n"
    "   site     /srv/app/imaging/thumbs.py:17 in make_thumbnail\n"
    "            | return _resize(buf, width, height)\n"
    "   hint     RSS grows faster than the Python heap: memory allocated in C under make_thumbnail() "
    "(imaging._resize) is not freed.\n"
    "\n"
    "warnings\n"
    "  huge-object: one bytes object of 64.0 MiB is alive (reports/export.py:120, render_rows): not a leak, but "
    "it is a large share of the heap\n";

static const lt_report_source_t demo_source = {report_sample_source, NULL};

static void test_snapshot(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(report_sample_demo(&r), 0);
    LT_EQ_INT(lt_report_write_text(&r, &out, 0, &demo_source), 0);
    LT_EQ_STR(lt_strbuf_str(&out), demo_expected);

    /* Without a source: the same minus the "| ..." lines. */
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_report_write_text(&r, &out, 0, NULL), 0);
    LT_NULL(strstr(out.data, "| "));
    LT_EQ_UINT(out.len, strlen(demo_expected) - strlen("            | invoice = Invoice(customer, items, issued=now())\n")
                            - strlen("            | f = open(path, \"w\")\n")
                            - strlen("            | return _resize(buf, width, height)\n"));
    lt_report_release(&r);
    teardown();
}

static void test_color(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(report_sample_demo(&r), 0);
    LT_EQ_INT(lt_report_write_text(&r, &out, 1, &demo_source), 0);
    LT_EQ_INT(strncmp(out.data, "\033[1;31mLEAK\033[0m (confidence 0.97) after 60.0 s\n", 46), 0);
    LT_NOT_NULL(strstr(out.data, "\n\033[1m#1 billing.Invoice\033[0m  \033[2mobjects, unbounded-container, "
                                 "confidence 0.97\033[0m\n"));
    LT_NOT_NULL(strstr(out.data, "\n   \033[2mgrowth\033[0m   +51,000 objects, +94.0 MiB\n"));
    /* Colour off: not one escape. */
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_report_write_text(&r, &out, 0, &demo_source), 0);
    LT_NULL(memchr(out.data, '\033', out.len));
    lt_report_release(&r);
    teardown();
}

#define CHECK_TEXT(r, color, expect)                                                                    \
    do {                                                                                                \
        lt_strbuf_reset(&out);                                                                          \
        LT_EQ_INT(lt_report_write_text((r), &out, (color), NULL), 0);                                   \
        LT_EQ_STR(lt_strbuf_str(&out), (expect));                                                       \
    } while (0)

static void test_verdicts(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    CHECK_TEXT(&r, 0, "inconclusive after 0.0 s\n");
    r.duration_s = 12.04;
    CHECK_TEXT(&r, 0, "inconclusive after 12.0 s\n");
    r.advice = "run for at least 60 s";
    CHECK_TEXT(&r, 0, "inconclusive: run for at least 60 s\n");
    CHECK_TEXT(&r, 1, "\033[1;33minconclusive\033[0m: run for at least 60 s\n");
    r.verdict = LT_VERDICT_NO_LEAK;
    r.advice = NULL;
    r.confidence = 0.9;
    r.duration_s = 30;
    CHECK_TEXT(&r, 0, "no leak found (confidence 0.90) after 30.0 s\n");
    CHECK_TEXT(&r, 1, "\033[1;32mno leak found\033[0m (confidence 0.90) after 30.0 s\n");
    r.verdict = LT_VERDICT_LEAK;
    r.confidence = 0.97;
    CHECK_TEXT(&r, 0, "LEAK (confidence 0.97) after 30.0 s\n");
    r.confidence = NAN;
    r.duration_s = INFINITY;
    CHECK_TEXT(&r, 0, "LEAK (confidence ?) after ? s\n");
    /* Advice on a decided verdict goes last. */
    r.confidence = 1;
    r.duration_s = 5;
    r.advice = "also try --trace";
    CHECK_TEXT(&r, 0, "LEAK (confidence 1.00) after 5.0 s\n\nadvice: also try --trace\n");
    /* The command line: quoted where it has blanks. */
    static const char *const argv[] = {"app.py", "a b", ""};
    r.advice = NULL;
    r.python = "3.13.0";
    r.argv = argv;
    r.argc = 3;
    CHECK_TEXT(&r, 0, "LEAK (confidence 1.00) after 5.0 s\n  python 3.13.0: app.py 'a b' ''\n");
    /* A verdict outside the contract is shown, sanitised. */
    r.verdict = "maybe\x1b[2J";
    r.argc = 0;
    r.python = NULL;
    CHECK_TEXT(&r, 0, "maybe\xe2\x90\x9b[2J (confidence 1.00) after 5.0 s\n");
    lt_report_release(&r);
    teardown();
}

/* 1 if the text has no byte a terminal would act on, except the newline and
 * (when colour is on) our own SGR sequences. */
static int terminal_safe(const char *s, size_t len, int color, size_t *where)
{
    static const char *const ours[] = {"\033[0m", "\033[1m", "\033[2m", "\033[1;31m", "\033[1;32m",
                                       "\033[1;33m", "\033[36m"};
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        *where = i;
        if (c == '\033' && color) {
            size_t k;
            for (k = 0; k < sizeof(ours) / sizeof(ours[0]); k++)
                if (strncmp(s + i, ours[k], strlen(ours[k])) == 0)
                    break;
            if (k == sizeof(ours) / sizeof(ours[0]))
                return 0;
            i += strlen(ours[k]);
            continue;
        }
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            return 0;
        uint32_t cp;
        int valid;
        size_t n = lt_utf8_decode(s + i, len - i, &cp, &valid);
        if (!valid || (cp >= 0x80 && cp <= 0x9f) || lt_utf8_is_bidi_control(cp))
            return 0;
        i += n;
    }
    return 1;
}

static void test_hostile(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(report_sample_hostile(&r), 0);
    lt_report_source_t src = {report_sample_hostile_source, NULL};
    for (int color = 0; color <= 1; color++) {
        lt_strbuf_reset(&out);
        LT_EQ_INT(lt_report_write_text(&r, &out, color, &src), 0);
        size_t where = 0;
        if (!LT_CHECK(terminal_safe(out.data, out.len, color, &where)))
            lt__write_escaped("text", out.data, out.len, where);
        /* What the escapes became: control pictures and \u notation. */
        LT_NOT_NULL(strstr(out.data, "\xe2\x90\x9b]0;pwned\xe2\x90\x87"));   /* ␛]0;pwned␇ */
        LT_NOT_NULL(strstr(out.data, "\\u009b2J"));
        LT_NOT_NULL(strstr(out.data, "\\u202edlrow"));
        /* The 10 kB name is cut. */
        LT_NOT_NULL(strstr(out.data, "xxx\xe2\x80\xa6"));
        LT_LT_UINT(out.len, 12000);
        /* No line of the report can be faked: each line starts as ours. */
        const char *line = out.data;
        while (line != NULL && *line != '\0') {
            const char *p = line;
            while (*p == '\033') {
                p = strchr(p, 'm');
                p = p ? p + 1 : line;
            }
            LT_CHECK(*p == '\n' || *p == ' ' || *p == '#' || strncmp(p, "LEAK", 4) == 0
                     || strncmp(p, "warnings", 8) == 0 || strncmp(p, "advice", 6) == 0);
            line = strchr(line, '\n');
            line = line ? line + 1 : NULL;
        }
    }
    lt_report_release(&r);
    teardown();
}

static void test_source(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(report_sample_demo(&r), 0);
    r.nleaks = 1;
    r.nwarnings = 0;
    r.argc = 0;
    r.python = NULL;
    /* A callback that knows nothing, and an empty struct. */
    lt_report_source_t none = {NULL, NULL};
    LT_EQ_INT(lt_report_write_text(&r, &out, 0, &none), 0);
    LT_NULL(strstr(out.data, "| "));
    lt_report_release(&r);
    teardown();
}

#define CHECK_FMT(call, expect)                                                                         \
    do {                                                                                                \
        char buf_[40];                                                                                  \
        int n_ = call;                                                                                  \
        LT_EQ_STR(buf_, (expect));                                                                      \
        LT_EQ_INT(n_, (int)strlen(expect));                                                             \
    } while (0)
#define BYTES(v, plus) lt_report_text_format_bytes(buf_, sizeof(buf_), (v), (plus))
#define COUNT(v, plus) lt_report_text_format_count(buf_, sizeof(buf_), (v), (plus))
#define RATE(v) lt_report_text_format_rate(buf_, sizeof(buf_), (v))

static void test_formats(void)
{
    CHECK_FMT(BYTES(0, 0), "0 B");
    CHECK_FMT(BYTES(0, 1), "0 B");
    CHECK_FMT(BYTES(512, 1), "+512 B");
    CHECK_FMT(BYTES(1023, 0), "1023 B");
    CHECK_FMT(BYTES(1024, 0), "1.0 KiB");
    CHECK_FMT(BYTES(1536, 0), "1.5 KiB");
    CHECK_FMT(BYTES(1048524, 0), "1023.9 KiB");
    CHECK_FMT(BYTES(1048575, 0), "1.0 MiB");        /* not "1024.0 KiB" */
    CHECK_FMT(BYTES(-2048, 1), "-2.0 KiB");
    CHECK_FMT(BYTES(98566144, 1), "+94.0 MiB");
    CHECK_FMT(BYTES(3.5 * 1024 * 1024 * 1024, 0), "3.5 GiB");
    CHECK_FMT(BYTES(1e30, 0), "867361737988.4 EiB");
    CHECK_FMT(BYTES(NAN, 1), "?");
    CHECK_FMT(BYTES(-INFINITY, 1), "?");
    CHECK_FMT(COUNT(0, 1), "0");
    CHECK_FMT(COUNT(999, 1), "+999");
    CHECK_FMT(COUNT(1000, 0), "1,000");
    CHECK_FMT(COUNT(-1234567, 1), "-1,234,567");
    CHECK_FMT(COUNT(INT64_MIN, 0), "-9,223,372,036,854,775,808");
    CHECK_FMT(COUNT(INT64_MAX, 1), "+9,223,372,036,854,775,807");
    CHECK_FMT(RATE(850), "850");
    CHECK_FMT(RATE(99.96), "100");
    CHECK_FMT(RATE(85.04), "85.0");
    CHECK_FMT(RATE(8.5), "8.50");
    CHECK_FMT(RATE(0.854), "0.85");
    CHECK_FMT(RATE(-3), "-3.00");
    CHECK_FMT(RATE(NAN), "?");
    /* Cut to the buffer, snprintf-style. */
    char small[4];
    LT_EQ_INT(lt_report_text_format_count(small, sizeof(small), 123456, 0), 7);
    LT_EQ_STR(small, "123");
}

static void test_einval(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(lt_report_write_text(NULL, &out, 0, NULL), LT_EINVAL);
    LT_EQ_INT(lt_report_write_text(&r, NULL, 0, NULL), LT_EINVAL);
    r.verdict = NULL;
    LT_EQ_INT(lt_report_write_text(&r, &out, 0, NULL), LT_EINVAL);
    r.verdict = LT_VERDICT_LEAK;
    r.nleaks = 1;
    LT_EQ_INT(lt_report_write_text(&r, &out, 0, NULL), LT_EINVAL);
    lt_report_leak_t l = {0};
    l.nholder_path = 2;
    r.leaks = &l;
    LT_EQ_INT(lt_report_write_text(&r, &out, 0, NULL), LT_EINVAL);
    l.nholder_path = 0;
    r.nwarnings = 1;
    LT_EQ_INT(lt_report_write_text(&r, &out, 0, NULL), LT_EINVAL);
    LT_EQ_UINT(out.len, 0);
    /* A leak of NULL strings and zeros is fine. */
    r.nwarnings = 0;
    LT_EQ_INT(lt_report_write_text(&r, &out, 0, NULL), 0);
    LT_EQ_STR(lt_strbuf_str(&out), "LEAK (confidence 0.00) after 0.0 s\n\n#1   , , confidence 0.00\n   growth   +0\n");
    lt_report_release(&r);
    teardown();
}

static void test_faults(void)
{
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(report_sample_hostile(&r), 0);
    lt_report_source_t src = {report_sample_hostile_source, NULL};
    lt_strbuf_t ref;
    lt_strbuf_init(&ref, &lt_test_heap);
    LT_EQ_INT(lt_report_write_text(&r, &ref, 1, &src), 0);
    int ok = 0;
    for (long fail_at = 0; fail_at < 40 && !ok; fail_at++) {
        for (int persistent = 0; persistent <= 1; persistent++) {
            lt_failing_alloc_init(&fa, &lt_test_heap, -1, 0);
            lt_strbuf_init(&out, &fa.base);
            LT_EQ_INT(lt_strbuf_puts(&out, "keep"), 0);
            fa.fail_at = fa.calls + fail_at;
            fa.persistent = persistent;
            int rc = lt_report_write_text(&r, &out, 1, &src);
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
    LT_RUN(test_snapshot);
    LT_RUN(test_color);
    LT_RUN(test_verdicts);
    LT_RUN(test_hostile);
    LT_RUN(test_source);
    LT_RUN(test_formats);
    LT_RUN(test_einval);
    LT_RUN(test_faults);
    return lt_test_done();
}
