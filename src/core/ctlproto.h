/* The control socket's protocol (production mode, docs/production.md):
 * parsing a request and framing the answer. A request is one line,
 *     report [json] [text] [html]      (json when no format is named)
 *     snapshot [json|text] [top=N]
 *     metrics
 *     ping
 * or a minimal HTTP/1.x GET of /metrics, /report.json, /report.html,
 * /report.txt or /snapshot.json, so that a Unix-socket-aware proxy can hand
 * the metrics to Prometheus. A line answer is a sequence of frames
 * "<format> <length>\n<bytes>" closed by "end\n", or one line
 * "error <message>\n"; an HTTP answer is an HTTP/1.0 response with
 * Content-Length that closes the connection. Pure functions on buffers:
 * no I/O, no globals, thread-safe. */
#ifndef LT_CTLPROTO_H
#define LT_CTLPROTO_H

#include "strbuf.h"

#include <stddef.h>

/* The longest request (an HTTP request's headers included). */
#define LT_CTL_MAX_REQUEST 8192
/* The largest top=N of a snapshot. */
#define LT_CTL_MAX_TOP 10000

typedef enum lt_ctl_command {
    LT_CTL_REPORT = 1,
    LT_CTL_SNAPSHOT = 2,
    LT_CTL_METRICS = 3,
    LT_CTL_PING = 4,
} lt_ctl_command_t;

/* Formats, as a bit set. */
#define LT_CTL_JSON 1u
#define LT_CTL_TEXT 2u
#define LT_CTL_HTML 4u
#define LT_CTL_PROM 8u

typedef struct lt_ctl_request {
    lt_ctl_command_t command;
    unsigned formats;           /* LT_CTL_* bits, at least one */
    unsigned top;               /* snapshot: the number of types (default 25) */
    int http;                   /* the request was an HTTP GET: answer in HTTP */
    char error[128];            /* why the request is bad, when it is */
} lt_ctl_request_t;

/* Parses the first len bytes received so far. Returns 1 when they hold a
 * complete, valid request (*req filled); 0 when more bytes are needed (the
 * line, or the HTTP headers, have not ended); LT_EINVAL for a bad request
 * (req->error says why, req->http whether to answer in HTTP); LT_ERANGE
 * when len reaches LT_CTL_MAX_REQUEST without a complete request. Pure. */
int lt_ctl_parse(const char *buf, size_t len, lt_ctl_request_t *req);

/* "json", "text", "html", "prometheus" for one format bit; NULL otherwise. */
const char *lt_ctl_format_name(unsigned format);

/* Appends one frame: "<format name> <len>\n" then the body. 0, LT_EINVAL
 * (not one known format bit) or LT_ENOMEM (text of out unchanged). */
int lt_ctl_frame(lt_strbuf_t *out, unsigned format, const char *body, size_t len);
/* Appends "end\n". 0 or LT_ENOMEM. */
int lt_ctl_end(lt_strbuf_t *out);
/* Appends the whole answer to a request for one body: an HTTP response
 * (status 200, the format's content type) when req->http, else a frame
 * for it and the end line. 0, LT_EINVAL, LT_ENOMEM (out unchanged). */
int lt_ctl_answer(lt_strbuf_t *out, const lt_ctl_request_t *req, unsigned format, const char *body, size_t len);
/* Appends an error answer: "error <message>\n" (newlines in message
 * become spaces), or an HTTP response with `status` (400, 404, 403, 500,
 * 503) and the message as a text/plain body. 0 or LT_ENOMEM. */
int lt_ctl_error(lt_strbuf_t *out, int http, int status, const char *message);

#endif
