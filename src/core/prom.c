/* lt_prom: writing the Prometheus text exposition format. */
#include "prom.h"

#include "errors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int name_ok(const char *name, int colon)
{
    if (name == NULL || name[0] == '\0')
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
        int digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && p != name))
            return 0;
    }
    return 1;
}

int lt_prom_metric_name_ok(const char *name)
{
    return name_ok(name, 1);
}

int lt_prom_label_name_ok(const char *name)
{
    return name_ok(name, 0) && strncmp(name, "__", 2) != 0;
}

/* Appends s with '\\' and newline escaped, and '"' too when quote. */
static int append_escaped(lt_strbuf_t *out, const char *s, int quote)
{
    const char *run = s;
    for (const char *p = s;; p++) {
        const char *esc = NULL;
        if (*p == '\\')
            esc = "\\\\";
        else if (*p == '\n')
            esc = "\\n";
        else if (quote && *p == '"')
            esc = "\\\"";
        if (esc == NULL && *p != '\0')
            continue;
        int rc = lt_strbuf_append(out, run, (size_t)(p - run));
        if (rc == 0 && esc != NULL)
            rc = lt_strbuf_puts(out, esc);
        if (rc < 0)
            return rc;
        if (*p == '\0')
            return 0;
        run = p + 1;
    }
}

/* Restores out's text to `len` bytes after a failed append. */
static int rollback(lt_strbuf_t *out, size_t len, int rc)
{
    if (rc < 0 && out->data != NULL) {
        out->len = len;
        out->data[len] = '\0';
    }
    return rc;
}

int lt_prom_family(lt_strbuf_t *out, const char *name, const char *type, const char *help)
{
    if (out == NULL || help == NULL || type == NULL || !lt_prom_metric_name_ok(name))
        return LT_EINVAL;
    if (strcmp(type, "gauge") != 0 && strcmp(type, "counter") != 0 && strcmp(type, "untyped") != 0)
        return LT_EINVAL;
    size_t len = out->len;
    int rc = lt_strbuf_printf(out, "# HELP %s ", name);
    if (rc == 0)
        rc = append_escaped(out, help, 0);
    if (rc == 0)
        rc = lt_strbuf_printf(out, "\n# TYPE %s %s\n", name, type);
    return rollback(out, len, rc);
}

/* The shortest %g form that reads back as v (as Prometheus's own Go
 * client writes floats). */
static int append_value(lt_strbuf_t *out, double v)
{
    if (isnan(v))
        return lt_strbuf_puts(out, "NaN");
    if (isinf(v))
        return lt_strbuf_puts(out, v > 0 ? "+Inf" : "-Inf");
    char buf[40];
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        /* Integers (counts, bytes) as integers, not 4e+01. */
        snprintf(buf, sizeof(buf), "%.0f", v);
        return lt_strbuf_puts(out, buf);
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return lt_strbuf_puts(out, buf);
}

int lt_prom_sample(lt_strbuf_t *out, const char *name, const char *const *labels, size_t nlabels, double value)
{
    if (out == NULL || !lt_prom_metric_name_ok(name) || (nlabels > 0 && labels == NULL))
        return LT_EINVAL;
    for (size_t i = 0; i < nlabels; i++)
        if (!lt_prom_label_name_ok(labels[2 * i]) || labels[2 * i + 1] == NULL)
            return LT_EINVAL;
    size_t len = out->len;
    int rc = lt_strbuf_puts(out, name);
    for (size_t i = 0; rc == 0 && i < nlabels; i++) {
        rc = lt_strbuf_printf(out, "%s%s=\"", i == 0 ? "{" : ",", labels[2 * i]);
        if (rc == 0)
            rc = append_escaped(out, labels[2 * i + 1], 1);
        if (rc == 0)
            rc = lt_strbuf_puts(out, "\"");
    }
    if (rc == 0 && nlabels > 0)
        rc = lt_strbuf_puts(out, "}");
    if (rc == 0)
        rc = lt_strbuf_puts(out, " ");
    if (rc == 0)
        rc = append_value(out, value);
    if (rc == 0)
        rc = lt_strbuf_puts(out, "\n");
    return rollback(out, len, rc);
}
