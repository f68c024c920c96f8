/* Tests of the HTML report writer: the escaping function, the demo page's
 * content (findings, source lines, holder paths, the embedded JSON equal to
 * the JSON writer's output, no network reference), the hostile page (no
 * string leaves its context: no injected element, no extra script block, no
 * raw control character), the verdict classes, and every allocation
 * failure. The page's behaviour in a browser is tested from Python
 * (tests/python/unit/test_report_html_browser.py). */
#include "alloc.h"
#include "errors.h"
#include "json_check.h"
#include "lt_test.h"
#include "report.h"
#include "report_html.h"
#include "report_json.h"
#include "report_sample.h"
#include "strbuf.h"

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

#define CHECK_ESCAPE(s, max, expect)                                                                    \
    do {                                                                                                \
        lt_strbuf_reset(&out);                                                                          \
        LT_EQ_INT(lt_report_html_escape(&out, (s), (max)), 0);                                          \
        LT_EQ_STR(lt_strbuf_str(&out), (expect));                                                       \
    } while (0)

static void test_escape(void)
{
    setup();
    CHECK_ESCAPE("", 100, "");
    CHECK_ESCAPE(NULL, 100, "");
    CHECK_ESCAPE("plain text", 100, "plain text");
    CHECK_ESCAPE("<a href='x'>&amp;</a>", 100, "&lt;a href=&#39;x&#39;&gt;&amp;amp;&lt;/a&gt;");
    CHECK_ESCAPE("say \"hi\"", 100, "say &quot;hi&quot;");
    CHECK_ESCAPE("tab\tnl\n", 100, "tab\tnl\n");                 /* harmless in HTML */
    CHECK_ESCAPE("\x1b[31m\r\x01", 100, "\xe2\x90\x9b[31m\xe2\x90\x8d\xe2\x90\x81");  /* ␛ ␍ ␁ */
    CHECK_ESCAPE("del\x7f", 100, "del\xe2\x90\xa1");
    CHECK_ESCAPE("c1\xc2\x9b", 100, "c1\\u009b");
    CHECK_ESCAPE("\xe2\x80\xae" "dlrow", 100, "\\u202edlrow");
    CHECK_ESCAPE("bad\xff\xc0\xaf", 100, "bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    CHECK_ESCAPE("caf\xc3\xa9 \xe2\x80\xa8", 100, "caf\xc3\xa9 \xe2\x80\xa8");   /* fine in HTML text */
    /* Cut after max bytes of input, never inside a character. */
    CHECK_ESCAPE("abcdef", 3, "abc\xe2\x80\xa6");
    CHECK_ESCAPE("abc", 3, "abc");
    CHECK_ESCAPE("ab\xc3\xa9" "def", 3, "ab\xc3\xa9\xe2\x80\xa6");
    CHECK_ESCAPE("<<<<", 2, "&lt;&lt;\xe2\x80\xa6");
    /* Appends. */
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_strbuf_puts(&out, "pre "), 0);
    LT_EQ_INT(lt_report_html_escape(&out, "<", 10), 0);
    LT_EQ_STR(lt_strbuf_str(&out), "pre &lt;");
    teardown();
}

/* Occurrences of needle in the page. */
static size_t count(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + len, needle))
        n++;
    return n;
}

/* The text of <script type="application/json" id="ID">...</script>. */
static const char *json_block(const char *page, const char *id, size_t *len)
{
    char open[128];
    snprintf(open, sizeof(open), "<script type=\"application/json\" id=\"%s\">", id);
    const char *from = strstr(page, open);
    if (from == NULL)
        return NULL;
    from += strlen(open);
    const char *to = strstr(from, "</script>");
    if (to == NULL)
        return NULL;
    *len = (size_t)(to - from);
    return from;
}

static const lt_report_source_t demo_source = {report_sample_source, NULL};

static void test_demo_page(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(report_sample_demo(&r), 0);
    LT_EQ_INT(lt_report_write_html(&r, &out, &demo_source), 0);
    const char *page = lt_strbuf_str(&out);

    LT_EQ_INT(strncmp(page, "<!doctype html>\n<html lang=\"en\" class=\"v-leak\">", 47), 0);
    LT_CHECK(out.len > 8 && strcmp(page + out.len - 8, "</html>\n") == 0);
    LT_CHECK(utf8_check(page, out.len));
    LT_NOT_NULL(strstr(page, "<title>Leak found \xe2\x80\x93 service.py --port 8080 --workers 4 \xe2\x80\x93 leaktrace</title>"));
    LT_NOT_NULL(strstr(page, "<h1 class=\"verdict\">Leak found<small>confidence 97&nbsp;%</small></h1>"));
    LT_NOT_NULL(strstr(page, "Content-Security-Policy\" content=\"default-src 'none'; style-src 'sha256-"));
    /* The findings, with their growth, site, source line and path. */
    LT_NOT_NULL(strstr(page, "<h3 class=\"name\">billing.Invoice</h3><span class=\"tag cat-unbounded-container\">"));
    LT_NOT_NULL(strstr(page, "<h3 class=\"name\">fd</h3><span class=\"tag cat-unclosed-resource\">"));
    LT_NOT_NULL(strstr(page, "<h3 class=\"name\">native</h3><span class=\"tag cat-native\">"));
    LT_NOT_NULL(strstr(page, "id=\"finding-3\""));
    LT_NULL(strstr(page, "id=\"finding-4\""));
    LT_NOT_NULL(strstr(page, "<div class=\"v\">+51,000</div><div class=\"v2\">objects &middot; +94.0 MiB</div>"));
    LT_NOT_NULL(strstr(page, "<div class=\"v\">850/s</div><div class=\"v2\">objects &middot; 1.6 MiB/s</div>"));
    LT_NOT_NULL(strstr(page, "<pre class=\"src\">invoice = Invoice(customer, items, issued=now())</pre>"));
    LT_NOT_NULL(strstr(page, "<pre class=\"src\">f = open(path, &quot;w&quot;)</pre>"));
    LT_NOT_NULL(strstr(page, "<li class=\"name\">sys.modules[&#39;billing.cache&#39;]</li>"));
    LT_NOT_NULL(strstr(page, "<div class=\"holder\" data-leak=\"0\"></div>"));
    LT_NULL(strstr(page, "data-leak=\"2\""));  /* the native finding has no path */
    LT_NOT_NULL(strstr(page, "<summary>Traceback: 4 frames, innermost first</summary>"));
    LT_NOT_NULL(strstr(page, "<span class=\"kind\">huge-object</span>"));

    /* Self-contained: three script blocks, no reference to anything outside
     * (the one URL is the SVG namespace, a name, not a fetch). */
    LT_EQ_UINT(count(page, "<script"), 3);
    LT_EQ_UINT(count(page, "</script>"), 3);
    LT_EQ_UINT(count(page, "http"), count(page, "http://www.w3.org/2000/svg") + count(page, "http-equiv="));
    LT_NULL(strstr(page, "<link"));
    LT_NULL(strstr(page, " src="));
    LT_NULL(strstr(page, "@import"));
    LT_EQ_UINT(count(page, "url("), count(page, "url(#"));  /* only the page's own markers */

    /* The embedded report is the JSON writer's output, '<' as \u003c. */
    size_t len = 0;
    const char *json = json_block(page, "lt-report", &len);
    if (LT_NOT_NULL(json)) {
        LT_CHECK(json_check(json, len, NULL));
        lt_strbuf_t want, got;
        lt_strbuf_init(&want, &lt_test_heap);
        lt_strbuf_init(&got, &lt_test_heap);
        LT_EQ_INT(lt_report_write_json(&r, &want), 0);
        for (size_t i = 0; i < len; i++) {
            if (strncmp(json + i, "\\u003c", 6) == 0) {
                LT_EQ_INT(lt_strbuf_append(&got, "<", 1), 0);
                i += 5;
            } else {
                LT_EQ_INT(lt_strbuf_append(&got, json + i, 1), 0);
            }
        }
        LT_EQ_STR(lt_strbuf_str(&got), lt_strbuf_str(&want));
        lt_strbuf_clear(&want);
        lt_strbuf_clear(&got);
    }
    json = json_block(page, "lt-flame-data", &len);
    if (LT_NOT_NULL(json)) {
        LT_CHECK(json_check(json, len, NULL));
        LT_EQ_UINT(count(json, "\"live_bytes\""), 6);
    }
    lt_report_release(&r);
    teardown();
}

static void test_hostile_page(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(report_sample_hostile(&r), 0);
    lt_report_source_t src = {report_sample_hostile_source, NULL};
    LT_EQ_INT(lt_report_write_html(&r, &out, &src), 0);
    const char *page = lt_strbuf_str(&out);

    LT_CHECK(utf8_check(page, out.len));
    /* No string became markup: no injected element or attribute. */
    LT_NULL(strstr(page, HOSTILE_SCRIPT));
    LT_NULL(strstr(page, "<img"));
    LT_NULL(strstr(page, "</title><script"));
    LT_NULL(strstr(page, "</pre><script"));
    LT_NULL(strstr(page, "<!--"));
    LT_EQ_UINT(count(page, "<script"), 3);
    LT_EQ_UINT(count(page, "</script"), 3);
    LT_EQ_UINT(count(page, "<title>"), 1);
    /* ... but it is all there, as text. */
    LT_NOT_NULL(strstr(page, "&lt;script&gt;document.documentElement.setAttribute(&#39;data-pwned&#39;,&#39;1&#39;)"
                             "&lt;/script&gt;"));
    LT_NOT_NULL(strstr(page, "&quot;&gt;&lt;img src=x onerror=&quot;"));
    LT_NOT_NULL(strstr(page, "&amp; &amp;amp; &amp;lt; &#39; &quot; \\ \t\n\xe2\x90\x8d"));
    /* No raw control character, C1 or bidi control anywhere in the page. */
    size_t bad = 0;
    for (size_t i = 0; i < out.len;) {
        unsigned char c = (unsigned char)page[i];
        uint32_t cp;
        int valid;
        size_t n = lt_utf8_decode(page + i, out.len - i, &cp, &valid);
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || (cp >= 0x80 && cp <= 0x9f)
            || lt_utf8_is_bidi_control(cp))
            bad++;
        i += n;
    }
    LT_EQ_UINT(bad, 0);
    /* The JSON blocks stay valid and closed; U+2028 never raw inside. */
    size_t len = 0;
    const char *json = json_block(page, "lt-report", &len);
    if (LT_NOT_NULL(json)) {
        size_t where = 0;
        if (!LT_CHECK(json_check(json, len, &where)))
            lt__write_escaped("json", json, len, where);
        LT_NULL(memchr(json, '<', len));
        LT_NULL(strstr(json, "\xe2\x80\xa8"));
        /* The 10 kB name is whole in the data (twice: type and hint). */
        LT_GE_UINT(len, 2 * (sizeof(sample_long_name) - 1));
    }
    json = json_block(page, "lt-flame-data", &len);
    if (LT_NOT_NULL(json)) {
        LT_CHECK(json_check(json, len, NULL));
        LT_NULL(memchr(json, '<', len));
    }
    /* ... and cut for display. */
    LT_NOT_NULL(strstr(page, "<h3 class=\"name\">&lt;script&gt;xxx"));
    LT_NOT_NULL(strstr(page, "xxx\xe2\x80\xa6</h3>"));
    /* A category outside the contract gets no class of its own. */
    LT_NOT_NULL(strstr(page, "<span class=\"tag cat-other\">&quot;&gt;&lt;img"));
    lt_report_release(&r);
    teardown();
}

static void test_verdicts(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(lt_report_write_html(&r, &out, NULL), 0);
    LT_NOT_NULL(strstr(out.data, "class=\"v-inconclusive\""));
    LT_NOT_NULL(strstr(out.data, "<h1 class=\"verdict\">Inconclusive</h1>"));
    LT_NOT_NULL(strstr(out.data, "<title>Inconclusive \xe2\x80\x93 leaktrace</title>"));
    LT_NOT_NULL(strstr(out.data, "<h2>Findings<span class=\"n\">0</span></h2>"));
    LT_NOT_NULL(strstr(out.data, "<script type=\"application/json\" id=\"lt-flame-data\">[]</script>"));
    LT_NULL(strstr(out.data, "id=\"warnings\""));
    r.advice = "run for at least 60 s";
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_report_write_html(&r, &out, NULL), 0);
    LT_NOT_NULL(strstr(out.data, "<p class=\"advice\">run for at least 60 s</p>"));
    r.verdict = LT_VERDICT_NO_LEAK;
    r.confidence = 0.9;
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_report_write_html(&r, &out, NULL), 0);
    LT_NOT_NULL(strstr(out.data, "class=\"v-no-leak\""));
    LT_NOT_NULL(strstr(out.data, "<h1 class=\"verdict\">No leak found<small>confidence 90&nbsp;%</small></h1>"));
    r.verdict = "<b>odd</b>";
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_report_write_html(&r, &out, NULL), 0);
    LT_NOT_NULL(strstr(out.data, "class=\"v-inconclusive\""));
    LT_NOT_NULL(strstr(out.data, "<h1 class=\"verdict\">&lt;b&gt;odd&lt;/b&gt;<small>"));
    lt_report_release(&r);
    teardown();
}

static void test_einval(void)
{
    setup();
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(lt_report_write_html(NULL, &out, NULL), LT_EINVAL);
    LT_EQ_INT(lt_report_write_html(&r, NULL, NULL), LT_EINVAL);
    r.nflame = 1;
    LT_EQ_INT(lt_report_write_html(&r, &out, NULL), LT_EINVAL);
    lt_report_flame_t f = {NULL, 2, 10};
    r.flame = &f;
    LT_EQ_INT(lt_report_write_html(&r, &out, NULL), LT_EINVAL);
    f.nframes = 0;
    r.verdict = NULL;
    LT_EQ_INT(lt_report_write_html(&r, &out, NULL), LT_EINVAL);
    r.verdict = LT_VERDICT_LEAK;
    r.nleaks = 1;
    LT_EQ_INT(lt_report_write_html(&r, &out, NULL), LT_EINVAL);
    LT_EQ_UINT(out.len, 0);
    r.nleaks = 0;
    LT_EQ_INT(lt_report_write_html(&r, &out, NULL), 0);
    LT_NOT_NULL(strstr(out.data, "id=\"lt-flame-data\">[\n{\"live_bytes\": 10.0, \"frames\": []}]</script>"));
    lt_report_release(&r);
    teardown();
}

static void test_faults(void)
{
    lt_report_t r;
    lt_report_init(&r, &lt_test_heap);
    LT_EQ_INT(report_sample_demo(&r), 0);
    lt_strbuf_t ref;
    lt_strbuf_init(&ref, &lt_test_heap);
    LT_EQ_INT(lt_report_write_html(&r, &ref, &demo_source), 0);
    int ok = 0;
    for (long fail_at = 0; fail_at < 60 && !ok; fail_at++) {
        for (int persistent = 0; persistent <= 1; persistent++) {
            lt_failing_alloc_init(&fa, &lt_test_heap, -1, 0);
            lt_strbuf_init(&out, &fa.base);
            LT_EQ_INT(lt_strbuf_puts(&out, "keep"), 0);
            fa.fail_at = fa.calls + fail_at;
            fa.persistent = persistent;
            int rc = lt_report_write_html(&r, &out, &demo_source);
            if (rc == 0) {
                LT_EQ_UINT(out.len, 4 + ref.len);
                LT_EQ_INT(memcmp(out.data + 4, ref.data, ref.len), 0);
                ok = 1;
            } else {
                LT_EQ_INT(rc, LT_ENOMEM);
                LT_EQ_STR(lt_strbuf_str(&out), "keep");
            }
            lt_strbuf_clear(&out);
            LT_EQ_INT(fa.live, 0);              /* the scratch JSON buffers too */
        }
    }
    LT_CHECK(ok);
    lt_strbuf_clear(&ref);
    lt_report_release(&r);
}

static void test_launcher_files(void)
{
    static const char *launcher[] = {
        "/venv/lib/python3.11/site-packages/leaktrace/cli.py", "/usr/lib/python3.9/runpy.py", "<frozen runpy>",
        "/src/leaktrace/__main__.py",
    };
    static const char *program[] = {
        "/srv/app/billing.py", "<frozen runpy>x", "runpy.py.bak", "/srv/leaktrace.py", "/srv/myrunpy.pyc", "",
    };
    for (size_t i = 0; i < sizeof(launcher) / sizeof(*launcher); i++)
        LT_EQ_INT(lt_report_launcher_file(launcher[i], strlen(launcher[i])), 1);
    for (size_t i = 0; i < sizeof(program) / sizeof(*program); i++)
        LT_EQ_INT(lt_report_launcher_file(program[i], strlen(program[i])), 0);
    /* The length bounds the scan: a prefix of a launcher path is not one. */
    const char *cut = "/site-packages/leaktrace/cli.py";
    LT_EQ_INT(lt_report_launcher_file(cut, 20), 0);
}

int main(void)
{
    LT_RUN(test_escape);
    LT_RUN(test_demo_page);
    LT_RUN(test_hostile_page);
    LT_RUN(test_verdicts);
    LT_RUN(test_einval);
    LT_RUN(test_faults);
    LT_RUN(test_launcher_files);
    return lt_test_done();
}
