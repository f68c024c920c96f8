/* Graphviz dot writer with escaping. */
#include "dot.h"
#include "errors.h"

#include <string.h>

/* Undoes a partial write: each writer below appends several pieces, and a
 * failure half-way must not leave half a node or an open quote behind. */
static int dot_rollback(lt_strbuf_t *out, size_t mark, int rc)
{
    if (rc < 0 && out->data != NULL) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

/* The escaping itself; on failure the caller rolls back. Plain bytes are
 * appended in runs, escapes one by one. */
static int dot_escape_append(lt_strbuf_t *out, const char *s)
{
    size_t len = strlen(s);
    int cut = len > LT_DOT_MAX_LABEL;
    if (cut) {
        len = LT_DOT_MAX_LABEL - 3;
        /* Back up to the start of a UTF-8 sequence. */
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    size_t run = 0;             /* start of the pending run of plain bytes */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\')
            continue;
        int rc = lt_strbuf_append(out, s + run, i - run);
        if (rc == 0 && (c == '"' || c == '\\')) {
            char esc[2] = {'\\', (char)c};
            rc = lt_strbuf_append(out, esc, 2);
        } else if (rc == 0 && c == '\n') {
            rc = lt_strbuf_append(out, "\\n", 2);
        }
        /* Any other control byte is dropped. */
        if (rc < 0)
            return rc;
        run = i + 1;
    }
    int rc = lt_strbuf_append(out, s + run, len - run);
    if (rc == 0 && cut)
        rc = lt_strbuf_append(out, "...", 3);
    return rc;
}

int lt_dot_escape(lt_strbuf_t *out, const char *s)
{
    return dot_rollback(out, out->len, dot_escape_append(out, s));
}

int lt_dot_begin(lt_strbuf_t *out, const char *graph_name)
{
    size_t mark = out->len;
    int rc = lt_strbuf_puts(out, "digraph \"");
    if (rc == 0)
        rc = dot_escape_append(out, graph_name);
    if (rc == 0)
        rc = lt_strbuf_puts(out, "\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
                                 "  edge [fontname=\"monospace\", fontsize=9];\n");
    return dot_rollback(out, mark, rc);
}

int lt_dot_node(lt_strbuf_t *out, size_t id, const char *label, int style)
{
    static const char *const styles[] = {
        "",
        ", style=filled, fillcolor=\"#cfe8ff\"",
        ", style=filled, fillcolor=\"#ffd6d6\"",
    };
    size_t mark = out->len;
    int rc = lt_strbuf_printf(out, "  n%zu [label=\"", id);
    if (rc == 0)
        rc = dot_escape_append(out, label);
    if (rc == 0)
        rc = lt_strbuf_printf(out, "\"%s];\n", styles[style >= 0 && style <= 2 ? style : 0]);
    return dot_rollback(out, mark, rc);
}

int lt_dot_edge(lt_strbuf_t *out, size_t from, size_t to, const char *label)
{
    size_t mark = out->len;
    int rc = lt_strbuf_printf(out, "  n%zu -> n%zu", from, to);
    if (rc == 0 && label != NULL && label[0] != '\0') {
        rc = lt_strbuf_puts(out, " [label=\"");
        if (rc == 0)
            rc = dot_escape_append(out, label);
        if (rc == 0)
            rc = lt_strbuf_puts(out, "\"]");
    }
    if (rc == 0)
        rc = lt_strbuf_puts(out, ";\n");
    return dot_rollback(out, mark, rc);
}

int lt_dot_end(lt_strbuf_t *out)
{
    return lt_strbuf_puts(out, "}\n");
}
