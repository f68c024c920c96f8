/* Graphviz dot writer with escaping. */
#include "dot.h"
#include "errors.h"

#include <string.h>

int lt_dot_escape(lt_strbuf_t *out, const char *s)
{
    size_t len = strlen(s);
    int cut = len > LT_DOT_MAX_LABEL;
    if (cut) {
        len = LT_DOT_MAX_LABEL - 3;
        /* Back up to the start of a UTF-8 sequence. */
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc = 0;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = lt_strbuf_append(out, esc, 2);
        } else if (c == '\n') {
            rc = lt_strbuf_append(out, "\\n", 2);
        } else if (c < 0x20 || c == 0x7f) {
            continue;
        } else {
            rc = lt_strbuf_append(out, (const char *)&s[i], 1);
        }
        if (rc < 0)
            return rc;
    }
    return cut ? lt_strbuf_append(out, "...", 3) : 0;
}

int lt_dot_begin(lt_strbuf_t *out, const char *graph_name)
{
    int rc = lt_strbuf_puts(out, "digraph \"");
    if (rc == 0)
        rc = lt_dot_escape(out, graph_name);
    if (rc == 0)
        rc = lt_strbuf_puts(out, "\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
                                 "  edge [fontname=\"monospace\", fontsize=9];\n");
    return rc;
}

int lt_dot_node(lt_strbuf_t *out, size_t id, const char *label, int style)
{
    static const char *const styles[] = {
        "",
        ", style=filled, fillcolor=\"#cfe8ff\"",
        ", style=filled, fillcolor=\"#ffd6d6\"",
    };
    int rc = lt_strbuf_printf(out, "  n%zu [label=\"", id);
    if (rc == 0)
        rc = lt_dot_escape(out, label);
    if (rc == 0)
        rc = lt_strbuf_printf(out, "\"%s];\n", styles[style >= 0 && style <= 2 ? style : 0]);
    return rc;
}

int lt_dot_edge(lt_strbuf_t *out, size_t from, size_t to, const char *label)
{
    int rc = lt_strbuf_printf(out, "  n%zu -> n%zu", from, to);
    if (rc == 0 && label != NULL && label[0] != '\0') {
        rc = lt_strbuf_puts(out, " [label=\"");
        if (rc == 0)
            rc = lt_dot_escape(out, label);
        if (rc == 0)
            rc = lt_strbuf_puts(out, "\"]");
    }
    if (rc == 0)
        rc = lt_strbuf_puts(out, ";\n");
    return rc;
}

int lt_dot_end(lt_strbuf_t *out)
{
    return lt_strbuf_puts(out, "}\n");
}
