/* Tests of lt_ctl: complete, incomplete, bad and oversized requests (line
 * and HTTP), and the framing of answers and errors. */
#include "ctlproto.h"
#include "errors.h"
#include "lt_test.h"
#include "strbuf.h"

#include <string.h>

static int parse(const char *s, lt_ctl_request_t *r)
{
    return lt_ctl_parse(s, strlen(s), r);
}

static void test_lines(void)
{
    lt_ctl_request_t r;
    LT_EQ_INT(parse("report\n", &r), 1);
    LT_EQ_INT(r.command, LT_CTL_REPORT);
    LT_EQ_UINT(r.formats, LT_CTL_JSON);
    LT_EQ_INT(r.http, 0);
    LT_EQ_INT(parse("report  text html\r\n", &r), 1);
    LT_EQ_UINT(r.formats, LT_CTL_TEXT | LT_CTL_HTML);
    LT_EQ_INT(parse("snapshot text top=5\n", &r), 1);
    LT_EQ_INT(r.command, LT_CTL_SNAPSHOT);
    LT_EQ_UINT(r.formats, LT_CTL_TEXT);
    LT_EQ_UINT(r.top, 5);
    LT_EQ_INT(parse("snapshot\n", &r), 1);
    LT_EQ_UINT(r.top, 25);
    LT_EQ_UINT(r.formats, LT_CTL_JSON);
    LT_EQ_INT(parse("metrics\n", &r), 1);
    LT_EQ_INT(r.command, LT_CTL_METRICS);
    LT_EQ_UINT(r.formats, LT_CTL_PROM);
    LT_EQ_INT(parse("ping\n", &r), 1);
    LT_EQ_INT(r.command, LT_CTL_PING);
    /* Incomplete: no line end yet. */
    LT_EQ_INT(parse("report js", &r), 0);
    LT_EQ_INT(parse("", &r), 0);
}

static void test_bad_lines(void)
{
    lt_ctl_request_t r;
    LT_EQ_INT(parse("\n", &r), LT_EINVAL);
    LT_EQ_STR(r.error, "empty request");
    LT_EQ_INT(parse("shutdown now\n", &r), LT_EINVAL);
    LT_EQ_STR(r.error, "unknown command 'shutdown'");
    LT_EQ_INT(parse("report prometheus\n", &r), LT_EINVAL);
    LT_EQ_INT(parse("metrics json\n", &r), LT_EINVAL);
    LT_EQ_INT(parse("snapshot json text\n", &r), LT_EINVAL);
    LT_EQ_INT(parse("snapshot top=0\n", &r), LT_EINVAL);
    LT_EQ_INT(parse("snapshot top=99999999999999999999\n", &r), LT_EINVAL);
    LT_EQ_INT(parse("snapshot top=5x\n", &r), LT_EINVAL);
    LT_EQ_INT(parse("report top=5\n", &r), LT_EINVAL);
    LT_EQ_INT(parse("a b c d e f g h i\n", &r), LT_EINVAL);
    LT_EQ_INT(lt_ctl_parse("rep\0rt\n", 7, &r), LT_EINVAL);
    /* A control character from the peer never reaches the message. */
    LT_EQ_INT(parse("\x1b[2Jx\n", &r), LT_EINVAL);
    LT_CHECK(strchr(r.error, '\x1b') == NULL);
    /* Too long without a line end. */
    static char big[LT_CTL_MAX_REQUEST + 10];
    memset(big, 'a', sizeof(big));
    LT_EQ_INT(lt_ctl_parse(big, LT_CTL_MAX_REQUEST, &r), LT_ERANGE);
    LT_EQ_INT(lt_ctl_parse(big, LT_CTL_MAX_REQUEST - 1, &r), 0);
    LT_EQ_INT(lt_ctl_parse(NULL, 0, &r), LT_EINVAL);
}

static void test_http(void)
{
    lt_ctl_request_t r;
    LT_EQ_INT(parse("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", &r), 1);
    LT_EQ_INT(r.http, 1);
    LT_EQ_INT(r.command, LT_CTL_METRICS);
    LT_EQ_UINT(r.formats, LT_CTL_PROM);
    LT_EQ_INT(parse("GET /report.html?x=1 HTTP/1.0\n\n", &r), 1);
    LT_EQ_INT(r.command, LT_CTL_REPORT);
    LT_EQ_UINT(r.formats, LT_CTL_HTML);
    LT_EQ_INT(parse("GET /snapshot.json HTTP/1.1\r\n\r\n", &r), 1);
    LT_EQ_INT(r.command, LT_CTL_SNAPSHOT);
    /* Headers not ended yet. */
    LT_EQ_INT(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", &r), 0);
    LT_EQ_INT(r.http, 1);
    LT_EQ_INT(parse("GET /admin HTTP/1.1\r\n\r\n", &r), LT_EINVAL);
    LT_EQ_INT(r.http, 1);
    LT_EQ_STR(r.error, "no such path '/admin'");
    LT_EQ_INT(parse("GET /metrics\r\n\r\n", &r), LT_EINVAL);
}

static void test_answers(void)
{
    lt_strbuf_t b;
    lt_strbuf_init(&b, &lt_test_heap);
    lt_ctl_request_t r;
    LT_EQ_INT(parse("report json text\n", &r), 1);
    LT_EQ_INT(lt_ctl_frame(&b, LT_CTL_JSON, "{}\n", 3), 0);
    LT_EQ_INT(lt_ctl_frame(&b, LT_CTL_TEXT, "", 0), 0);
    LT_EQ_INT(lt_ctl_end(&b), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "json 3\n{}\ntext 0\nend\n");
    LT_EQ_INT(lt_ctl_frame(&b, 3, "x", 1), LT_EINVAL);
    lt_strbuf_reset(&b);
    LT_EQ_INT(lt_ctl_answer(&b, &r, LT_CTL_PROM, "m 1\n", 4), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "prometheus 4\nm 1\nend\n");
    lt_strbuf_reset(&b);
    LT_EQ_INT(parse("GET /metrics HTTP/1.1\r\n\r\n", &r), 1);
    LT_EQ_INT(lt_ctl_answer(&b, &r, LT_CTL_PROM, "m 1\n", 4), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                                 "Content-Length: 4\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nm 1\n");
    lt_strbuf_reset(&b);
    LT_EQ_INT(lt_ctl_error(&b, 0, 400, "bad\nthing"), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "error bad thing\n");
    lt_strbuf_reset(&b);
    LT_EQ_INT(lt_ctl_error(&b, 1, 404, "no"), 0);
    LT_CHECK(strncmp(lt_strbuf_str(&b), "HTTP/1.0 404 Not Found\r\n", 24) == 0);
    LT_CHECK(strstr(lt_strbuf_str(&b), "\r\n\r\nno\n") != NULL);
    lt_strbuf_clear(&b);
}

static void test_faults(void)
{
    lt_ctl_request_t r;
    LT_EQ_INT(parse("report\n", &r), 1);
    for (int fail_at = 0; fail_at < 10; fail_at++) {
        lt_failing_alloc_t f;
        lt_failing_alloc_init(&f, &lt_test_heap, fail_at, 0);
        lt_strbuf_t b;
        lt_strbuf_init(&b, &f.base);
        if (lt_strbuf_puts(&b, "x") == 0) {
            int rc = lt_ctl_answer(&b, &r, LT_CTL_JSON, "{\"a\": 1}\n", 9);
            if (rc < 0) {
                LT_EQ_INT(rc, LT_ENOMEM);
                LT_EQ_STR(lt_strbuf_str(&b), "x");
            }
        }
        lt_strbuf_clear(&b);
        LT_EQ_INT(f.live, 0);
    }
}

int main(void)
{
    LT_RUN(test_lines);
    LT_RUN(test_bad_lines);
    LT_RUN(test_http);
    LT_RUN(test_answers);
    LT_RUN(test_faults);
    return lt_test_done();
}
