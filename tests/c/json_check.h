/* A strict JSON checker for the report writers' tests: is a text exactly
 * one RFC 8259 value, with well-formed UTF-8 and no raw control characters
 * in strings? Recursive descent, no allocation; says where it stopped.
 * Test-only. */
#ifndef LT_JSON_CHECK_H
#define LT_JSON_CHECK_H

#include "utf8.h"

#include <stddef.h>
#include <string.h>

typedef struct json_check {
    const char *s;
    size_t len;
    size_t at;                  /* where the first error is, when there is one */
    int depth;
} json_check_t;

static inline int jc_value(json_check_t *c);

static inline void jc_ws(json_check_t *c)
{
    while (c->at < c->len && strchr(" \t\n\r", c->s[c->at]) != NULL && c->s[c->at] != '\0')
        c->at++;
}

static inline int jc_lit(json_check_t *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->at < n || memcmp(c->s + c->at, word, n) != 0)
        return 0;
    c->at += n;
    return 1;
}

static inline int jc_hex(char h)
{
    return (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
}

static inline int jc_string(json_check_t *c)
{
    if (c->at >= c->len || c->s[c->at] != '"')
        return 0;
    c->at++;
    while (c->at < c->len) {
        unsigned char ch = (unsigned char)c->s[c->at];
        if (ch == '"') {
            c->at++;
            return 1;
        }
        if (ch < 0x20)
            return 0;
        if (ch == '\\') {
            if (c->at + 1 >= c->len)
                return 0;
            char e = c->s[c->at + 1];
            if (e == 'u') {
                if (c->len - c->at < 6)
                    return 0;
                for (int k = 2; k < 6; k++)
                    if (!jc_hex(c->s[c->at + k]))
                        return 0;
                c->at += 6;
            } else if (strchr("\"\\/bfnrt", e) != NULL && e != '\0') {
                c->at += 2;
            } else {
                return 0;
            }
            continue;
        }
        if (ch >= 0x80) {
            uint32_t cp;
            int valid;
            size_t n = lt_utf8_decode(c->s + c->at, c->len - c->at, &cp, &valid);
            if (!valid)
                return 0;
            c->at += n;
            continue;
        }
        c->at++;
    }
    return 0;
}

static inline int jc_digits(json_check_t *c)
{
    size_t from = c->at;
    while (c->at < c->len && c->s[c->at] >= '0' && c->s[c->at] <= '9')
        c->at++;
    return c->at > from;
}

static inline int jc_number(json_check_t *c)
{
    if (c->at < c->len && c->s[c->at] == '-')
        c->at++;
    if (c->at < c->len && c->s[c->at] == '0')
        c->at++;
    else if (!jc_digits(c))
        return 0;
    if (c->at < c->len && c->s[c->at] == '.') {
        c->at++;
        if (!jc_digits(c))
            return 0;
    }
    if (c->at < c->len && (c->s[c->at] == 'e' || c->s[c->at] == 'E')) {
        c->at++;
        if (c->at < c->len && (c->s[c->at] == '+' || c->s[c->at] == '-'))
            c->at++;
        if (!jc_digits(c))
            return 0;
    }
    return 1;
}

static inline int jc_members(json_check_t *c, char close, int object)
{
    c->at++;
    jc_ws(c);
    if (c->at < c->len && c->s[c->at] == close) {
        c->at++;
        return 1;
    }
    for (;;) {
        if (object) {
            if (!jc_string(c))
                return 0;
            jc_ws(c);
            if (c->at >= c->len || c->s[c->at] != ':')
                return 0;
            c->at++;
        }
        if (!jc_value(c))
            return 0;
        jc_ws(c);
        if (c->at >= c->len)
            return 0;
        if (c->s[c->at] == close) {
            c->at++;
            return 1;
        }
        if (c->s[c->at] != ',')
            return 0;
        c->at++;
        jc_ws(c);
    }
}

static inline int jc_value(json_check_t *c)
{
    jc_ws(c);
    if (c->at >= c->len || c->depth > 64)
        return 0;
    char ch = c->s[c->at];
    int ok;
    c->depth++;
    if (ch == '{')
        ok = jc_members(c, '}', 1);
    else if (ch == '[')
        ok = jc_members(c, ']', 0);
    else if (ch == '"')
        ok = jc_string(c);
    else if (ch == 't')
        ok = jc_lit(c, "true");
    else if (ch == 'f')
        ok = jc_lit(c, "false");
    else if (ch == 'n')
        ok = jc_lit(c, "null");
    else
        ok = jc_number(c);
    c->depth--;
    return ok;
}

/* 1 if s[0..len) is one JSON value and nothing else but blanks; otherwise 0,
 * with *where (if not NULL) the byte offset where the checker stopped. */
static inline int json_check(const char *s, size_t len, size_t *where)
{
    json_check_t c = {s, len, 0, 0};
    int ok = jc_value(&c);
    if (ok) {
        jc_ws(&c);
        ok = c.at == len;
    }
    if (where != NULL)
        *where = c.at;
    return ok;
}

/* 1 if s[0..len) is well-formed UTF-8. */
static inline int utf8_check(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        int valid;
        size_t n = lt_utf8_decode(s + i, len - i, &cp, &valid);
        if (!valid)
            return 0;
        i += n;
    }
    return 1;
}

#endif
