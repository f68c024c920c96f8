/* Graphviz dot output: every label escaped and cut to a readable length, so
 * names and keys taken from a program can never break the graph's syntax. */
#ifndef LT_DOT_H
#define LT_DOT_H

#include "strbuf.h"

#include <stddef.h>

/* Longest label kept, in bytes; longer ones are cut at a UTF-8 boundary and
 * end in "...". */
#define LT_DOT_MAX_LABEL 120

/* Appends `s` to out as the inside of a dot double-quoted string: quotes and
 * backslashes escaped, newlines as \n, other control bytes dropped, cut at
 * LT_DOT_MAX_LABEL. Returns 0 or LT_ENOMEM; on error the text of out is as
 * it was before the call (its storage may have grown). */
int lt_dot_escape(lt_strbuf_t *out, const char *s);

/* Each returns 0 or LT_ENOMEM, writing all of its element or, on error,
 * nothing (out's text as before the call). Node ids are small integers chosen
 * by the caller; `style` is one of the LT_DOT_NODE_* values (others are
 * plain). Labels are escaped as by lt_dot_escape; an edge's label may be NULL
 * or "" for none. */
enum { LT_DOT_NODE_PLAIN = 0, LT_DOT_NODE_ROOT = 1, LT_DOT_NODE_TARGET = 2 };
int lt_dot_begin(lt_strbuf_t *out, const char *graph_name);
int lt_dot_node(lt_strbuf_t *out, size_t id, const char *label, int style);
int lt_dot_edge(lt_strbuf_t *out, size_t from, size_t to, const char *label);
int lt_dot_end(lt_strbuf_t *out);

#endif
