/* Tests of the dot writer: escaping, UTF-8-safe truncation, the exact text of
 * begin/node/edge/end, and every allocation failure (output unchanged). */
#include "alloc.h"
#include "dot.h"
#include "errors.h"
#include "lt_test.h"
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

/* Escapes s into a fresh buffer and compares with `expect`. */
#define CHECK_ESCAPE(s, expect)                                                                         \
    do {                                                                                                \
        lt_strbuf_reset(&out);                                                                          \
        LT_EQ_INT(lt_dot_escape(&out, (s)), 0);                                                         \
        LT_EQ_STR(lt_strbuf_str(&out), (expect));                                                       \
    } while (0)

static void test_escape(void)
{
    setup();
    CHECK_ESCAPE("", "");
    CHECK_ESCAPE("plain text 123", "plain text 123");
    CHECK_ESCAPE("say \"hi\"", "say \\\"hi\\\"");
    CHECK_ESCAPE("C:\\path\\", "C:\\\\path\\\\");
    CHECK_ESCAPE("\\\"", "\\\\\\\"");           /* backslash then quote */
    CHECK_ESCAPE("line1\nline2\n", "line1\\nline2\\n");
    CHECK_ESCAPE("tab\there\rcr", "tabherecr"); /* other control bytes dropped */
    CHECK_ESCAPE("\x01\x02\x1f\x7f", "");
    CHECK_ESCAPE("a\x1b[31mred", "a[31mred");   /* no terminal escapes */
    CHECK_ESCAPE("{}<>|;[]=", "{}<>|;[]=");     /* fine inside a quoted string */
    CHECK_ESCAPE("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x8d",
                 "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x8d"); /* UTF-8 kept as is */
    /* Appends: what was there stays. */
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_strbuf_puts(&out, "pre "), 0);
    LT_EQ_INT(lt_dot_escape(&out, "\"x\""), 0);
    LT_EQ_STR(lt_strbuf_str(&out), "pre \\\"x\\\"");
    teardown();
}

/* 1 if s[0..len) is well-formed UTF-8 (no truncated or stray sequences). */
static int valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0 || i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += n;
    }
    return 1;
}

static void test_truncation(void)
{
    setup();
    char s[400], expect[400];

    /* Exactly the limit: kept whole. One more byte: cut to limit-3 + "...". */
    memset(s, 'a', LT_DOT_MAX_LABEL);
    s[LT_DOT_MAX_LABEL] = '\0';
    CHECK_ESCAPE(s, s);
    memset(s, 'a', LT_DOT_MAX_LABEL + 1);
    s[LT_DOT_MAX_LABEL + 1] = '\0';
    memset(expect, 'a', LT_DOT_MAX_LABEL - 3);
    memcpy(expect + LT_DOT_MAX_LABEL - 3, "...", 4);
    CHECK_ESCAPE(s, expect);
    LT_EQ_UINT(out.len, LT_DOT_MAX_LABEL);

    /* A multi-byte character at every position around the cut: it is kept
     * only if it ends before the cut, never split. */
    static const char *const chars[] = {"\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x90\x8d"};
    const size_t keep = LT_DOT_MAX_LABEL - 3;
    for (size_t w = 0; w < 3; w++) {
        size_t clen = strlen(chars[w]);
        for (size_t at = keep - 6; at <= keep + 2; at++) {
            memset(s, 'a', at);
            memcpy(s + at, chars[w], clen);
            memset(s + at + clen, 'b', 200);
            s[at + clen + 200] = '\0';
            /* A char straddling the cut goes whole; otherwise cut at keep. */
            size_t kept = at < keep && at + clen > keep ? at : keep;
            memcpy(expect, s, kept);
            memcpy(expect + kept, "...", 4);
            lt_strbuf_reset(&out);
            LT_EQ_INT(lt_dot_escape(&out, s), 0);
            if (!LT_EQ_STR(lt_strbuf_str(&out), expect))
                lt__printf(2, "    char width %zu at byte %zu\n", clen, at);
            LT_CHECK(valid_utf8((const unsigned char *)out.data, out.len));
            LT_LE_UINT(out.len, LT_DOT_MAX_LABEL);
        }
    }

    /* A label made only of multi-byte characters. */
    s[0] = '\0';
    for (int i = 0; i < 60; i++)
        strcat(s, "\xe6\x97\xa5");              /* 180 bytes */
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_escape(&out, s), 0);
    LT_EQ_UINT(out.len, 39 * 3 + 3);            /* 117 bytes = 39 whole chars */
    LT_CHECK(valid_utf8((const unsigned char *)out.data, out.len));
    LT_EQ_MEM(out.data + out.len - 3, 3, "...", 3);

    /* The limit is on the label's bytes; escapes can make the output longer
     * but never split an escape sequence. */
    memset(s, '"', 200);
    s[200] = '\0';
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_escape(&out, s), 0);
    LT_EQ_UINT(out.len, 2 * keep + 3);
    for (size_t i = 0; i + 3 < out.len; i += 2)
        if (!LT_EQ_MEM(out.data + i, 2, "\\\"", 2))
            break;

    /* Invalid UTF-8 (continuation bytes only) cannot hang or split: the cut
     * backs up to nothing at worst. */
    memset(s, 0x80, 200);
    s[200] = '\0';
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_escape(&out, s), 0);
    LT_CHECK(out.len <= LT_DOT_MAX_LABEL);
    LT_EQ_MEM(out.data + out.len - 3, 3, "...", 3);
    teardown();
}

static const char header_g[] = "digraph \"g\" {\n"
                               "  rankdir=LR;\n"
                               "  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
                               "  edge [fontname=\"monospace\", fontsize=9];\n";

static void test_graph_text(void)
{
    setup();
    LT_EQ_INT(lt_dot_begin(&out, "g"), 0);
    LT_EQ_STR(lt_strbuf_str(&out), header_g);

    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_begin(&out, "my \"graph\"\n"), 0);
    LT_EQ_MEM(out.data, 25, "digraph \"my \\\"graph\\\"\\n\" {", 25);

    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_node(&out, 0, "x", LT_DOT_NODE_PLAIN), 0);
    LT_EQ_STR(lt_strbuf_str(&out), "  n0 [label=\"x\"];\n");
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_node(&out, 3, "a\"b\\c\nd", LT_DOT_NODE_ROOT), 0);
    LT_EQ_STR(lt_strbuf_str(&out), "  n3 [label=\"a\\\"b\\\\c\\nd\", style=filled, fillcolor=\"#cfe8ff\"];\n");
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_node(&out, 18446744073709551615u, "", LT_DOT_NODE_TARGET), 0);
    LT_EQ_STR(lt_strbuf_str(&out),
              "  n18446744073709551615 [label=\"\", style=filled, fillcolor=\"#ffd6d6\"];\n");
    /* Unknown styles are plain. */
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_node(&out, 1, "y", -1), 0);
    LT_EQ_INT(lt_dot_node(&out, 2, "z", 3), 0);
    LT_EQ_STR(lt_strbuf_str(&out), "  n1 [label=\"y\"];\n  n2 [label=\"z\"];\n");

    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_edge(&out, 1, 2, NULL), 0);
    LT_EQ_INT(lt_dot_edge(&out, 2, 3, ""), 0);
    LT_EQ_INT(lt_dot_edge(&out, 3, 4, "['key\"']"), 0);
    LT_EQ_STR(lt_strbuf_str(&out), "  n1 -> n2;\n  n2 -> n3;\n  n3 -> n4 [label=\"['key\\\"']\"];\n");

    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_end(&out), 0);
    LT_EQ_STR(lt_strbuf_str(&out), "}\n");

    /* A whole graph in one buffer. */
    lt_strbuf_reset(&out);
    LT_EQ_INT(lt_dot_begin(&out, "g"), 0);
    LT_EQ_INT(lt_dot_node(&out, 0, "root", LT_DOT_NODE_ROOT), 0);
    LT_EQ_INT(lt_dot_node(&out, 1, "leak", LT_DOT_NODE_TARGET), 0);
    LT_EQ_INT(lt_dot_edge(&out, 0, 1, ".attr"), 0);
    LT_EQ_INT(lt_dot_end(&out), 0);
    char expect[1024];
    snprintf(expect, sizeof(expect),
             "%s"
             "  n0 [label=\"root\", style=filled, fillcolor=\"#cfe8ff\"];\n"
             "  n1 [label=\"leak\", style=filled, fillcolor=\"#ffd6d6\"];\n"
             "  n0 -> n1 [label=\".attr\"];\n"
             "}\n",
             header_g);
    LT_EQ_STR(lt_strbuf_str(&out), expect);
    teardown();
}

/* Writes a graph whose text crosses several buffer growths. Each call that
 * fails must leave the output exactly as it was (no half node), and a retry
 * after a one-shot failure must succeed. Returns the failures seen. */
static int dot_sequence(lt_strbuf_t *o, const lt_failing_alloc_t *f)
{
    static char label[300];
    static char snapshot[200000];
    memset(label, 'n', sizeof(label) - 1);
    memcpy(label, "\"quoted\\ \xe6\x97\xa5\n", 13);
    int failures = 0;
    for (int step = 0; step < 400; step++) {
        for (int attempt = 0; attempt < 2; attempt++) {
            size_t len = o->len;
            if (len < sizeof(snapshot))
                memcpy(snapshot, lt_strbuf_str(o), len);
            int rc;
            if (step == 0)
                rc = lt_dot_begin(o, label);
            else if (step == 399)
                rc = lt_dot_end(o);
            else if (step % 2)
                rc = lt_dot_node(o, (size_t)step, label + step % 150, step % 3);
            else
                rc = lt_dot_edge(o, (size_t)step - 1, (size_t)step + 1, label + step % 200);
            if (rc == 0)
                break;
            failures++;
            LT_EQ_INT(rc, LT_ENOMEM);
            LT_EQ_UINT(o->len, len);
            if (len < sizeof(snapshot))
                LT_EQ_MEM(lt_strbuf_str(o), len, snapshot, len);
            LT_EQ_UINT(strlen(lt_strbuf_str(o)), len);
            if (f->persistent)
                break;
            LT_EQ_INT(attempt, 0);
        }
    }
    return failures;
}

static void test_faults(void)
{
    /* The reference output, with no failure. */
    static char reference[200000];
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &lt_test_heap, -1, 0);
    lt_strbuf_t b;
    lt_strbuf_init(&b, &f.base);
    LT_EQ_INT(dot_sequence(&b, &f), 0);
    size_t ref_len = b.len;
    LT_LT_UINT(ref_len, sizeof(reference));
    memcpy(reference, lt_strbuf_str(&b), ref_len < sizeof(reference) ? ref_len : 0);
    lt_strbuf_clear(&b);
    LT_EQ_INT(f.live, 0);

    long fail_at;
    for (fail_at = 0; fail_at < 1000; fail_at++) {
        int done = 0;
        for (int persistent = 0; persistent <= 1; persistent++) {
            lt_failing_alloc_init(&f, &lt_test_heap, fail_at, persistent);
            lt_strbuf_init(&b, &f.base);
            int failures = dot_sequence(&b, &f);
            if (f.calls > fail_at)
                LT_GT_INT(failures, 0);
            else
                done = 1;
            /* A one-shot failure and its retry produce the same graph. */
            if (!persistent)
                LT_EQ_MEM(lt_strbuf_str(&b), b.len, reference, ref_len);
            lt_strbuf_clear(&b);
            LT_EQ_INT(f.live, 0);
        }
        if (done)
            break;
    }
    LT_GE_INT(fail_at, 5);
    LT_LT_INT(fail_at, 1000);
}

int main(void)
{
    LT_RUN(test_escape);
    LT_RUN(test_truncation);
    LT_RUN(test_graph_text);
    LT_RUN(test_faults);
    return lt_test_done();
}
