/* A test-only program that writes a sample report in every format, for the
 * browser test (tests/python/unit/test_report_html_browser.py) and for
 * looking at the page by hand:
 *
 *   report_demo demo|hostile|empty PREFIX
 *
 * writes PREFIX.html, PREFIX.json and PREFIX.txt (no colour). "demo" is a
 * leaking service with three findings, "hostile" has strings that try to
 * break out of every context, "empty" is a fresh report (inconclusive,
 * nothing measured). Exit status 0, or 1 with a message on stderr. */
#include "alloc.h"
#include "errors.h"
#include "report.h"
#include "report_html.h"
#include "report_json.h"
#include "report_sample.h"
#include "report_text.h"
#include "strbuf.h"

#include <stdio.h>
#include <string.h>

static int write_file(const char *prefix, const char *ext, const lt_strbuf_t *b)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s%s", prefix, ext) >= (int)sizeof(path))
        return -1;
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    size_t n = fwrite(lt_strbuf_str(b), 1, b->len, f);
    int rc = fclose(f);
    return n == b->len && rc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: report_demo demo|hostile|empty PREFIX\n");
        return 2;
    }
    lt_report_t r;
    lt_report_init(&r, &lt_page_alloc);
    lt_report_source_t src = {report_sample_source, NULL};
    int rc = 0;
    if (strcmp(argv[1], "demo") == 0) {
        rc = report_sample_demo(&r);
    } else if (strcmp(argv[1], "hostile") == 0) {
        rc = report_sample_hostile(&r);
        src.source_line = report_sample_hostile_source;
    } else if (strcmp(argv[1], "empty") != 0) {
        fprintf(stderr, "report_demo: unknown sample %s\n", argv[1]);
        return 2;
    }
    lt_strbuf_t html, json, text;
    lt_strbuf_init(&html, &lt_page_alloc);
    lt_strbuf_init(&json, &lt_page_alloc);
    lt_strbuf_init(&text, &lt_page_alloc);
    if (rc == 0)
        rc = lt_report_write_html(&r, &html, &src);
    if (rc == 0)
        rc = lt_report_write_json(&r, &json);
    if (rc == 0)
        rc = lt_report_write_text(&r, &text, 0, &src);
    if (rc < 0)
        fprintf(stderr, "report_demo: %s\n", lt_strerror(rc));
    else if (write_file(argv[2], ".html", &html) < 0 || write_file(argv[2], ".json", &json) < 0
             || write_file(argv[2], ".txt", &text) < 0)
        rc = -1;
    lt_strbuf_clear(&html);
    lt_strbuf_clear(&json);
    lt_strbuf_clear(&text);
    lt_report_release(&r);
    return rc < 0 ? 1 : 0;
}
