/* The HTML report writer: fills the slots of the compiled-in page template
 * with escaped text and the embedded JSON the page's script draws from. */
#include "report_html.h"
#include "errors.h"
#include "report_json.h"
#include "utf8.h"

/* Generated from report_template.html at build time (meson custom_target). */
#include "report_html_template.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Traceback frames shown per finding; the JSON block keeps them all. */
#define HTML_MAX_FRAMES 100

/* A sticky-error writer (as in report_json.c): appends after the first
 * failure are no-ops; the caller's text is restored once, at the end. */
typedef struct hw {
    lt_strbuf_t *out;
    int rc;
} hw_t;

static void hw_raw(hw_t *w, const char *s, size_t len)
{
    if (w->rc == 0)
        w->rc = lt_strbuf_append(w->out, s, len);
}

static void hw_puts(hw_t *w, const char *s)
{
    hw_raw(w, s, strlen(s));
}

/* Formats numbers (never program text) through a stack buffer. */
static void hw_printf(hw_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hw_printf(hw_t *w, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* Only short formats are used; a cut one is a bug to be seen in the
     * tests, not text to be lost quietly. */
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        if (w->rc == 0)
            w->rc = n < 0 ? LT_EINVAL : LT_ERANGE;
        return;
    }
    hw_raw(w, buf, (size_t)n);
}

/* The escaping of lt_report_html_escape over s[0..len); on failure the
 * caller rolls back. */
static int html_escape_append(lt_strbuf_t *out, const char *s, size_t len, size_t max)
{
    size_t i = 0, run = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        if (i >= max) {
            rc = lt_strbuf_append(out, s + run, i - run);
            if (rc == 0)
                rc = lt_strbuf_puts(out, "\xe2\x80\xa6");
            return rc;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '&' && c != '<' && c != '>' && c != '"' && c != '\'') {
            i++;
            continue;
        }
        if (c == '\n' || c == '\t') {
            i++;
            continue;
        }
        uint32_t cp = c;
        int valid = 1;
        size_t n = 1;
        if (c >= 0x80) {
            n = lt_utf8_decode(s + i, len - i, &cp, &valid);
            if (valid && cp > 0x9f && !lt_utf8_is_bidi_control(cp)) {
                i += n;
                continue;
            }
        }
        rc = lt_strbuf_append(out, s + run, i - run);
        if (rc < 0)
            break;
        char pic[3] = {'\xe2', '\x90', (char)(0x80 + (cp & 0x1f))};   /* U+2400 + cp */
        switch (cp) {
        case '&': rc = lt_strbuf_puts(out, "&amp;"); break;
        case '<': rc = lt_strbuf_puts(out, "&lt;"); break;
        case '>': rc = lt_strbuf_puts(out, "&gt;"); break;
        case '"': rc = lt_strbuf_puts(out, "&quot;"); break;
        case '\'': rc = lt_strbuf_puts(out, "&#39;"); break;
        case 0x7f: rc = lt_strbuf_puts(out, "\xe2\x90\xa1"); break;   /* ␡ */
        default:
            if (!valid)
                rc = lt_strbuf_puts(out, "\xef\xbf\xbd");
            else if (cp < 0x20)
                rc = lt_strbuf_append(out, pic, 3);
            else
                rc = lt_strbuf_printf(out, "\\u%04" PRIx32, cp);
            break;
        }
        i += n;
        run = i;
    }
    if (rc == 0)
        rc = lt_strbuf_append(out, s + run, len - run);
    return rc;
}

int lt_report_html_escape(lt_strbuf_t *out, const char *s, size_t max)
{
    if (s == NULL)
        return 0;
    size_t mark = out->len;
    int rc = html_escape_append(out, s, strlen(s), max);
    if (rc < 0 && out->data != NULL) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

static void hw_text(hw_t *w, const char *s, size_t max)
{
    if (w->rc == 0 && s != NULL)
        w->rc = html_escape_append(w->out, s, strlen(s), max);
}

/* Appends a JSON document for a <script type="application/json"> block:
 * '<' only occurs inside JSON strings, where \u003c means the same, so the
 * block can contain neither "</script" nor "<!--". U+2028 and U+2029 are
 * already escaped by the JSON writer. */
static void hw_embed_json(hw_t *w, const lt_strbuf_t *json)
{
    const char *s = lt_strbuf_str(json);
    size_t run = 0;
    for (size_t i = 0; i < json->len; i++) {
        if (s[i] != '<')
            continue;
        hw_raw(w, s + run, i - run);
        hw_puts(w, "\\u003c");
        run = i + 1;
    }
    hw_raw(w, s + run, json->len - run);
}

/* Nouns for a finding's count, by its "what". */
static const char *leak_noun(const char *what)
{
    if (what == NULL)
        return "";
    if (strcmp(what, LT_WHAT_OBJECTS) == 0)
        return "objects";
    if (strcmp(what, LT_WHAT_MEMORY) == 0 || strcmp(what, LT_WHAT_NATIVE) == 0)
        return "allocations";
    if (strcmp(what, LT_WHAT_RESOURCE) == 0)
        return "handles";
    return "";
}

/* The CSS class of a category: only the known ones get a colour, so the
 * class attribute never carries program text. */
static const char *category_class(const char *cat)
{
    static const char *const known[] = {
        LT_CAT_UNBOUNDED_CONTAINER, LT_CAT_REFERENCE_CYCLE, LT_CAT_UNCLOSED_RESOURCE, LT_CAT_THREAD,
        LT_CAT_EXCEPTION_TRACEBACK, LT_CAT_CALLBACK_REGISTRATION, LT_CAT_NATIVE,
    };
    for (size_t i = 0; cat != NULL && i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(cat, known[i]) == 0)
            return known[i];
    return "other";
}

static void hw_percent(hw_t *w, double v)
{
    if (isfinite(v))
        hw_printf(w, "%.0f&nbsp;%%", v * 100 > 1e6 ? 1e6 : v * 100 < -1e6 ? -1e6 : v * 100);
    else
        hw_puts(w, "?");
}

/* A source line from the caller, trimmed, in a <pre>; nothing if unknown. */
static void hw_source(hw_t *w, const lt_report_source_t *src, const char *file, int64_t line)
{
    if (src == NULL || src->source_line == NULL || file == NULL || w->rc != 0)
        return;
    const char *text = src->source_line(file, line, src->ctx);
    if (text == NULL)
        return;
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n'
                       || text[len - 1] == '\r'))
        len--;
    if (len == 0)
        return;
    hw_puts(w, "<pre class=\"src\">");
    if (w->rc == 0)
        w->rc = html_escape_append(w->out, text, len, LT_REPORT_TEXT_MAX_NAME);
    hw_puts(w, "</pre>");
}

/* "<code>file:line</code> in <code>function</code>" and the source line. */
static void hw_frame(hw_t *w, const lt_report_frame_t *f, const lt_report_source_t *src)
{
    hw_puts(w, "<div class=\"loc\"><code class=\"name\">");
    hw_text(w, f->file, LT_REPORT_TEXT_MAX_NAME);
    hw_printf(w, ":%" PRId64 "</code> in <code class=\"name\">", f->line);
    hw_text(w, f->function, LT_REPORT_TEXT_MAX_NAME);
    hw_puts(w, "</code></div>");
    hw_source(w, src, f->file, f->line);
}

static void hw_leak(hw_t *w, size_t index, const lt_report_leak_t *l, const lt_report_source_t *src)
{
    char a[40], b[40];
    const char *noun = leak_noun(l->what);

    hw_printf(w, "<article class=\"card\" id=\"finding-%zu\">\n<div class=\"card-head\"><span class=\"rank\">%zu</span>"
                 "<h3 class=\"name\">", index + 1, index + 1);
    hw_text(w, l->type, LT_REPORT_TEXT_MAX_NAME);
    hw_puts(w, "</h3><span class=\"tag cat-");
    hw_puts(w, category_class(l->category));
    hw_puts(w, "\">");
    hw_text(w, l->category, LT_REPORT_TEXT_MAX_NAME);
    hw_puts(w, "</span><span class=\"tag what\">");
    hw_text(w, l->what, LT_REPORT_TEXT_MAX_NAME);
    hw_puts(w, "</span></div>\n<div class=\"stats\">\n");

    /* Growth: the count when there is one, the bytes beside it. */
    hw_puts(w, "<div class=\"stat\"><div class=\"k\">growth</div><div class=\"v\">");
    lt_report_text_format_count(a, sizeof(a), l->count_delta, 1);
    lt_report_text_format_bytes(b, sizeof(b), (double)l->bytes_delta, 1);
    if (l->count_delta != 0) {
        hw_puts(w, a);
        hw_puts(w, "</div><div class=\"v2\">");
        hw_puts(w, noun);
        hw_puts(w, l->bytes_delta != 0 && noun[0] != '\0' ? " &middot; " : "");
        hw_puts(w, l->bytes_delta != 0 ? b : "");
    } else {
        hw_puts(w, b);
        hw_puts(w, "</div><div class=\"v2\">");
    }
    hw_puts(w, "</div></div>\n");

    int has_count_rate = isfinite(l->count_per_second) && l->count_per_second != 0;
    int has_bytes_rate = isfinite(l->bytes_per_second) && l->bytes_per_second != 0;
    if (has_count_rate || has_bytes_rate) {
        hw_puts(w, "<div class=\"stat\"><div class=\"k\">rate</div><div class=\"v\">");
        lt_report_text_format_rate(a, sizeof(a), l->count_per_second);
        lt_report_text_format_bytes(b, sizeof(b), l->bytes_per_second, 0);
        if (has_count_rate) {
            hw_puts(w, a);
            hw_puts(w, "/s</div><div class=\"v2\">");
            hw_puts(w, noun);
            if (has_bytes_rate) {
                hw_puts(w, noun[0] != '\0' ? " &middot; " : "");
                hw_puts(w, b);
                hw_puts(w, "/s");
            }
        } else {
            hw_puts(w, b);
            hw_puts(w, "/s</div><div class=\"v2\">");
        }
        hw_puts(w, "</div></div>\n");
    }

    double pct = isfinite(l->confidence) ? l->confidence * 100 : 0;
    pct = pct < 0 ? 0 : pct > 100 ? 100 : pct;
    hw_puts(w, "<div class=\"stat\"><div class=\"k\">confidence</div><div class=\"v\">");
    hw_percent(w, l->confidence);
    hw_puts(w, "</div><svg class=\"bar\" viewBox=\"0 0 100 6\" preserveAspectRatio=\"none\" aria-hidden=\"true\">"
               "<rect class=\"track\" width=\"100\" height=\"6\" rx=\"3\"/><rect class=\"fill\" width=\"");
    hw_printf(w, "%.1f", pct);
    hw_puts(w, "\" height=\"6\" rx=\"3\"/></svg></div>\n</div>\n");

    if (l->hint != NULL && l->hint[0] != '\0') {
        hw_puts(w, "<p class=\"hint\"><b>Fix</b>");
        hw_text(w, l->hint, LT_REPORT_TEXT_MAX_HINT);
        hw_puts(w, "</p>\n");
    }

    if (l->nholder_path > 0) {
        hw_printf(w, "<h4>Held by</h4>\n<div class=\"holder\" data-leak=\"%zu\"></div>\n<ol class=\"path-text\">",
                  index);
        for (size_t i = 0; i < l->nholder_path; i++) {
            hw_puts(w, "<li class=\"name\">");
            hw_text(w, l->holder_path[i], LT_REPORT_TEXT_MAX_PATH_ELEMENT);
            hw_puts(w, "</li>");
        }
        hw_puts(w, "</ol>\n");
    }

    if (l->has_alloc_site) {
        hw_puts(w, "<h4>Allocated at</h4>\n<div class=\"site\">");
        hw_frame(w, &l->alloc_site, src);
        hw_puts(w, "</div>\n");
    }
    if (l->ntraceback > 0) {
        hw_printf(w, "<details class=\"tb\"><summary>Traceback: %zu frame%s, innermost first</summary>\n<ol>\n",
                  l->ntraceback, l->ntraceback == 1 ? "" : "s");
        size_t shown = l->ntraceback < HTML_MAX_FRAMES ? l->ntraceback : HTML_MAX_FRAMES;
        for (size_t i = 0; i < shown; i++) {
            hw_puts(w, "<li>");
            hw_frame(w, &l->traceback[i], src);
            hw_puts(w, "</li>\n");
        }
        if (shown < l->ntraceback)
            hw_printf(w, "<li class=\"note\">%zu more frames (all are in the JSON)</li>\n", l->ntraceback - shown);
        hw_puts(w, "</ol></details>\n");
    }
    hw_puts(w, "</article>\n");
}

static const char *verdict_class(const char *v)
{
    if (strcmp(v, LT_VERDICT_LEAK) == 0)
        return "leak";
    if (strcmp(v, LT_VERDICT_NO_LEAK) == 0)
        return "no-leak";
    return "inconclusive";
}

/* The verdict as a heading. */
static void hw_verdict_words(hw_t *w, const char *v)
{
    if (strcmp(v, LT_VERDICT_LEAK) == 0)
        hw_puts(w, "Leak found");
    else if (strcmp(v, LT_VERDICT_NO_LEAK) == 0)
        hw_puts(w, "No leak found");
    else if (strcmp(v, LT_VERDICT_INCONCLUSIVE) == 0)
        hw_puts(w, "Inconclusive");
    else
        hw_text(w, v, LT_REPORT_TEXT_MAX_NAME);
}

static void hw_argv(hw_t *w, const lt_report_t *r, size_t max_total)
{
    size_t used = 0;
    for (size_t i = 0; i < r->argc; i++) {
        const char *arg = r->argv[i] != NULL ? r->argv[i] : "";
        if (used >= max_total) {
            hw_puts(w, " \xe2\x80\xa6");
            return;
        }
        hw_puts(w, i > 0 ? " " : "");
        hw_text(w, arg, LT_REPORT_TEXT_MAX_NAME);
        used += strlen(arg) + 1;
    }
}

static void slot_title(hw_t *w, const lt_report_t *r)
{
    hw_verdict_words(w, r->verdict);
    if (r->argc > 0) {
        hw_puts(w, " \xe2\x80\x93 ");
        hw_argv(w, r, 80);
    }
    hw_puts(w, " \xe2\x80\x93 leaktrace");
}

static void slot_banner(hw_t *w, const lt_report_t *r)
{
    hw_puts(w, "<div class=\"brand\">leaktrace report</div>\n<h1 class=\"verdict\">");
    hw_verdict_words(w, r->verdict);
    if (strcmp(r->verdict, LT_VERDICT_INCONCLUSIVE) != 0) {
        hw_puts(w, "<small>confidence ");
        hw_percent(w, r->confidence);
        hw_puts(w, "</small>");
    }
    hw_puts(w, "</h1>\n<ul class=\"facts\">\n<li><b>run</b>");
    if (isfinite(r->duration_s) && fabs(r->duration_s) < 1e12)
        hw_printf(w, "%.1f&nbsp;s", r->duration_s);
    else
        hw_puts(w, "?");
    hw_printf(w, "</li>\n<li><b>findings</b>%zu</li>\n", r->nleaks);
    if (r->python != NULL && r->python[0] != '\0') {
        hw_puts(w, "<li><b>python</b>");
        hw_text(w, r->python, LT_REPORT_TEXT_MAX_PATH_ELEMENT);
        hw_puts(w, "</li>\n");
    }
    if (r->argc > 0) {
        hw_puts(w, "<li><b>command</b><code class=\"name\">");
        hw_argv(w, r, 2000);
        hw_puts(w, "</code></li>\n");
    }
    hw_puts(w, "</ul>\n");
    if (r->advice != NULL && r->advice[0] != '\0') {
        hw_puts(w, "<p class=\"advice\">");
        hw_text(w, r->advice, LT_REPORT_TEXT_MAX_HINT);
        hw_puts(w, "</p>\n");
    }
}

static void slot_warnings(hw_t *w, const lt_report_t *r)
{
    if (r->nwarnings == 0)
        return;
    hw_puts(w, "<section id=\"warnings\"><h2>Warnings</h2>\n<ul class=\"warnings\">\n");
    for (size_t i = 0; i < r->nwarnings; i++) {
        hw_puts(w, "<li><span class=\"kind\">");
        hw_text(w, r->warnings[i].kind, LT_REPORT_TEXT_MAX_NAME);
        hw_puts(w, "</span>");
        hw_text(w, r->warnings[i].message, LT_REPORT_TEXT_MAX_HINT);
        hw_puts(w, "</li>\n");
    }
    hw_puts(w, "</ul></section>\n");
}

static void slot_findings(hw_t *w, const lt_report_t *r, const lt_report_source_t *src)
{
    hw_printf(w, "<h2>Findings<span class=\"n\">%zu</span></h2>\n", r->nleaks);
    if (r->nleaks == 0) {
        hw_puts(w, "<div class=\"card ok-card\">");
        if (strcmp(r->verdict, LT_VERDICT_INCONCLUSIVE) == 0)
            hw_puts(w, "Nothing can be named yet: the run did not show steady growth or its absence.");
        else
            hw_puts(w, "Nothing kept growing: no objects, memory or resources accumulated during the run.");
        hw_puts(w, "</div>\n");
        return;
    }
    hw_puts(w, "<p class=\"sub\">Most significant first.</p>\n<div class=\"cards\">\n");
    for (size_t i = 0; i < r->nleaks; i++)
        hw_leak(w, i, &r->leaks[i], src);
    hw_puts(w, "</div>\n");
}

/* The JSON blocks are written to a scratch buffer first, then copied with
 * '<' escaped. */
static void slot_report_json(hw_t *w, const lt_report_t *r)
{
    if (w->rc != 0)
        return;
    lt_strbuf_t json;
    lt_strbuf_init(&json, w->out->a);
    w->rc = lt_report_write_json(r, &json);
    if (w->rc == 0)
        hw_embed_json(w, &json);
    lt_strbuf_clear(&json);
}

static int flame_json(const lt_report_t *r, lt_strbuf_t *json)
{
    int rc = lt_strbuf_puts(json, "[");
    for (size_t i = 0; i < r->nflame && rc == 0; i++) {
        const lt_report_flame_t *f = &r->flame[i];
        rc = lt_strbuf_puts(json, i > 0 ? ",\n{\"live_bytes\": " : "\n{\"live_bytes\": ");
        if (rc == 0)
            rc = lt_report_json_number(json, f->live_bytes);
        if (rc == 0)
            rc = lt_strbuf_puts(json, ", \"frames\": [");
        for (size_t k = 0; k < f->nframes && rc == 0; k++) {
            rc = lt_strbuf_puts(json, k > 0 ? ", {\"file\": " : "{\"file\": ");
            if (rc == 0)
                rc = lt_report_json_string(json, f->frames[k].file);
            if (rc == 0)
                rc = lt_strbuf_printf(json, ", \"line\": %" PRId64 ", \"function\": ", f->frames[k].line);
            if (rc == 0)
                rc = lt_report_json_string(json, f->frames[k].function);
            if (rc == 0)
                rc = lt_strbuf_puts(json, "}");
        }
        if (rc == 0)
            rc = lt_strbuf_puts(json, "]}");
    }
    if (rc == 0)
        rc = lt_strbuf_puts(json, "]");
    return rc;
}

static void slot_flame_json(hw_t *w, const lt_report_t *r)
{
    if (w->rc != 0)
        return;
    lt_strbuf_t json;
    lt_strbuf_init(&json, w->out->a);
    w->rc = flame_json(r, &json);
    if (w->rc == 0)
        hw_embed_json(w, &json);
    lt_strbuf_clear(&json);
}

static int html_check(const lt_report_t *r)
{
    if (r->verdict == NULL || (r->argc > 0 && r->argv == NULL) || (r->nleaks > 0 && r->leaks == NULL)
        || (r->nwarnings > 0 && r->warnings == NULL) || (r->nflame > 0 && r->flame == NULL))
        return LT_EINVAL;
    for (size_t i = 0; i < r->nleaks; i++) {
        const lt_report_leak_t *l = &r->leaks[i];
        if ((l->ntraceback > 0 && l->traceback == NULL) || (l->nholder_path > 0 && l->holder_path == NULL))
            return LT_EINVAL;
    }
    for (size_t i = 0; i < r->nflame; i++)
        if (r->flame[i].nframes > 0 && r->flame[i].frames == NULL)
            return LT_EINVAL;
    return 0;
}

int lt_report_write_html(const lt_report_t *r, lt_strbuf_t *out, const lt_report_source_t *src)
{
    if (r == NULL || out == NULL)
        return LT_EINVAL;
    int rc = html_check(r);
    if (rc < 0)
        return rc;
    hw_t w = {out, 0};
    size_t mark = out->len;

    for (size_t i = 0; i <= REPORT_TEMPLATE_NSLOTS && w.rc == 0; i++) {
        hw_puts(&w, report_template_parts[i]);
        if (i == REPORT_TEMPLATE_NSLOTS)
            break;
        const char *slot = report_template_slots[i];
        if (strcmp(slot, "verdict_class") == 0)
            hw_puts(&w, verdict_class(r->verdict));
        else if (strcmp(slot, "title") == 0)
            slot_title(&w, r);
        else if (strcmp(slot, "banner") == 0)
            slot_banner(&w, r);
        else if (strcmp(slot, "warnings") == 0)
            slot_warnings(&w, r);
        else if (strcmp(slot, "findings") == 0)
            slot_findings(&w, r, src);
        else if (strcmp(slot, "report_json") == 0)
            slot_report_json(&w, r);
        else if (strcmp(slot, "flame_json") == 0)
            slot_flame_json(&w, r);
        else
            w.rc = LT_EINVAL;   /* the template names a slot this writer lacks */
    }

    if (w.rc < 0 && out->data != NULL) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return w.rc;
}
