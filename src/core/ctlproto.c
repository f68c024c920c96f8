/* lt_ctl: the control socket's requests and answers. */
#include "ctlproto.h"

#include "errors.h"
#include "prom.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_TOP 25

static int set_error(lt_ctl_request_t *req, const char *what, const char *word, size_t len)
{
    if (len > 40)
        len = 40;
    snprintf(req->error, sizeof(req->error), "%s%s%.*s%s", what, word ? " '" : "", (int)len, word ? word : "",
             word ? "'" : "");
    /* The word came from the peer: keep the message one printable line. */
    for (char *p = req->error; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
    return LT_EINVAL;
}

static int word_is(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

static unsigned format_bit(const char *w, size_t n)
{
    if (word_is(w, n, "json"))
        return LT_CTL_JSON;
    if (word_is(w, n, "text"))
        return LT_CTL_TEXT;
    if (word_is(w, n, "html"))
        return LT_CTL_HTML;
    if (word_is(w, n, "prometheus"))
        return LT_CTL_PROM;
    return 0;
}

/* A line request, without its line end. */
static int parse_line(const char *p, size_t len, lt_ctl_request_t *req)
{
    const char *end = p + len;
    const char *w[8];
    size_t wl[8];
    size_t nw = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end)
            break;
        const char *s = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        if (nw == 8)
            return set_error(req, "too many words in the request", NULL, 0);
        w[nw] = s;
        wl[nw++] = (size_t)(p - s);
    }
    if (nw == 0)
        return set_error(req, "empty request", NULL, 0);
    if (word_is(w[0], wl[0], "report"))
        req->command = LT_CTL_REPORT;
    else if (word_is(w[0], wl[0], "snapshot"))
        req->command = LT_CTL_SNAPSHOT;
    else if (word_is(w[0], wl[0], "metrics"))
        req->command = LT_CTL_METRICS;
    else if (word_is(w[0], wl[0], "ping"))
        req->command = LT_CTL_PING;
    else
        return set_error(req, "unknown command", w[0], wl[0]);
    for (size_t i = 1; i < nw; i++) {
        unsigned bit = format_bit(w[i], wl[i]);
        if (req->command == LT_CTL_SNAPSHOT && wl[i] > 4 && memcmp(w[i], "top=", 4) == 0) {
            unsigned long v = 0;
            size_t k = 4;
            for (; k < wl[i] && w[i][k] >= '0' && w[i][k] <= '9' && v <= LT_CTL_MAX_TOP; k++)
                v = v * 10 + (unsigned long)(w[i][k] - '0');
            if (k != wl[i] || v == 0 || v > LT_CTL_MAX_TOP)
                return set_error(req, "top= wants a number from 1 to 10000, not", w[i], wl[i]);
            req->top = (unsigned)v;
            continue;
        }
        int allowed = req->command == LT_CTL_REPORT ? (bit & (LT_CTL_JSON | LT_CTL_TEXT | LT_CTL_HTML)) != 0
                      : req->command == LT_CTL_SNAPSHOT ? (bit & (LT_CTL_JSON | LT_CTL_TEXT)) != 0
                      : req->command == LT_CTL_METRICS ? bit == LT_CTL_PROM
                                                       : 0;
        if (!allowed)
            return set_error(req, "unexpected argument", w[i], wl[i]);
        if (req->command == LT_CTL_SNAPSHOT && req->formats != 0)
            return set_error(req, "a snapshot has one format", NULL, 0);
        req->formats |= bit;
    }
    if (req->formats == 0)
        req->formats = req->command == LT_CTL_METRICS ? LT_CTL_PROM
                       : req->command == LT_CTL_PING  ? LT_CTL_TEXT
                                                      : LT_CTL_JSON;
    return 1;
}

static int parse_http(const char *line, size_t len, lt_ctl_request_t *req)
{
    req->http = 1;
    /* "GET <target> HTTP/1.x" */
    const char *sp = memchr(line + 4, ' ', len - 4);
    if (sp == NULL || (size_t)(line + len - sp) < 9 || memcmp(sp + 1, "HTTP/1.", 7) != 0)
        return set_error(req, "not an HTTP/1.x request", NULL, 0);
    const char *target = line + 4;
    size_t tl = (size_t)(sp - target);
    const char *q = memchr(target, '?', tl);
    if (q != NULL)
        tl = (size_t)(q - target);
    static const struct {
        const char *path;
        lt_ctl_command_t command;
        unsigned format;
    } routes[] = {
        {"/metrics", LT_CTL_METRICS, LT_CTL_PROM},   {"/report.json", LT_CTL_REPORT, LT_CTL_JSON},
        {"/report.html", LT_CTL_REPORT, LT_CTL_HTML}, {"/report.txt", LT_CTL_REPORT, LT_CTL_TEXT},
        {"/snapshot.json", LT_CTL_SNAPSHOT, LT_CTL_JSON},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (word_is(target, tl, routes[i].path)) {
            req->command = routes[i].command;
            req->formats = routes[i].format;
            return 1;
        }
    return set_error(req, "no such path", target, tl);
}

int lt_ctl_parse(const char *buf, size_t len, lt_ctl_request_t *req)
{
    if (buf == NULL || req == NULL)
        return LT_EINVAL;
    memset(req, 0, sizeof(*req));
    req->top = DEFAULT_TOP;
    int http = len >= 4 && memcmp(buf, "GET ", 4) == 0;
    const char *nl = memchr(buf, '\n', len);
    if (http) {
        /* The request is complete at the blank line after the headers. */
        int done = 0;
        for (size_t i = 0; i + 1 < len && !done; i++)
            done = buf[i] == '\n' && (buf[i + 1] == '\n' || (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n'));
        if (!done) {
            req->http = 1;
            if (len >= LT_CTL_MAX_REQUEST)
                return LT_ERANGE;
            return 0;
        }
    } else if (nl == NULL) {
        if (len >= LT_CTL_MAX_REQUEST)
            return LT_ERANGE;
        return 0;
    }
    size_t ll = (size_t)(nl - buf);
    if (ll > 0 && buf[ll - 1] == '\r')
        ll--;
    for (size_t i = 0; i < ll; i++)
        if (buf[i] == '\0')
            return set_error(req, "NUL byte in the request", NULL, 0);
    return http ? parse_http(buf, ll, req) : parse_line(buf, ll, req);
}

const char *lt_ctl_format_name(unsigned format)
{
    switch (format) {
    case LT_CTL_JSON:
        return "json";
    case LT_CTL_TEXT:
        return "text";
    case LT_CTL_HTML:
        return "html";
    case LT_CTL_PROM:
        return "prometheus";
    default:
        return NULL;
    }
}

static int rollback(lt_strbuf_t *out, size_t len, int rc)
{
    if (rc < 0 && out->data != NULL) {
        out->len = len;
        out->data[len] = '\0';
    }
    return rc;
}

int lt_ctl_frame(lt_strbuf_t *out, unsigned format, const char *body, size_t len)
{
    const char *name = lt_ctl_format_name(format);
    if (name == NULL || out == NULL || (body == NULL && len > 0))
        return LT_EINVAL;
    size_t at = out->len;
    int rc = lt_strbuf_printf(out, "%s %zu\n", name, len);
    if (rc == 0)
        rc = lt_strbuf_append(out, body, len);
    return rollback(out, at, rc);
}

int lt_ctl_end(lt_strbuf_t *out)
{
    return lt_strbuf_puts(out, "end\n");
}

static const char *content_type(unsigned format)
{
    switch (format) {
    case LT_CTL_JSON:
        return "application/json";
    case LT_CTL_HTML:
        return "text/html; charset=utf-8";
    case LT_CTL_PROM:
        return LT_PROM_CONTENT_TYPE;
    default:
        return "text/plain; charset=utf-8";
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

static int http_response(lt_strbuf_t *out, int status, const char *type, const char *body, size_t len)
{
    size_t at = out->len;
    int rc = lt_strbuf_printf(out,
                              "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                              status, reason(status), type, len);
    if (rc == 0)
        rc = lt_strbuf_append(out, body, len);
    return rollback(out, at, rc);
}

int lt_ctl_answer(lt_strbuf_t *out, const lt_ctl_request_t *req, unsigned format, const char *body, size_t len)
{
    if (out == NULL || req == NULL || lt_ctl_format_name(format) == NULL || (body == NULL && len > 0))
        return LT_EINVAL;
    if (req->http)
        return http_response(out, 200, content_type(format), body, len);
    size_t at = out->len;
    int rc = lt_ctl_frame(out, format, body, len);
    if (rc == 0)
        rc = lt_ctl_end(out);
    return rollback(out, at, rc);
}

int lt_ctl_error(lt_strbuf_t *out, int http, int status, const char *message)
{
    if (out == NULL)
        return LT_EINVAL;
    char line[256];
    snprintf(line, sizeof(line), "%s", message ? message : "error");
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (http) {
        char body[260];
        int n = snprintf(body, sizeof(body), "%s\n", line);
        return http_response(out, status, "text/plain; charset=utf-8", body, (size_t)n);
    }
    return lt_strbuf_printf(out, "error %s\n", line);
}
