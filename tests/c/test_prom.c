/* Tests of lt_prom: names, HELP/TYPE lines, label escaping, value forms,
 * and every allocation failure (text unchanged). */
#include "alloc.h"
#include "errors.h"
#include "lt_test.h"
#include "prom.h"
#include "strbuf.h"

#include <math.h>
#include <string.h>

static void test_names(void)
{
    LT_EQ_INT(lt_prom_metric_name_ok("leaktrace_rss_bytes"), 1);
    LT_EQ_INT(lt_prom_metric_name_ok("a:b_c9"), 1);
    LT_EQ_INT(lt_prom_metric_name_ok("_x"), 1);
    LT_EQ_INT(lt_prom_metric_name_ok("9x"), 0);
    LT_EQ_INT(lt_prom_metric_name_ok(""), 0);
    LT_EQ_INT(lt_prom_metric_name_ok(NULL), 0);
    LT_EQ_INT(lt_prom_metric_name_ok("a-b"), 0);
    LT_EQ_INT(lt_prom_label_name_ok("type"), 1);
    LT_EQ_INT(lt_prom_label_name_ok("a:b"), 0);
    LT_EQ_INT(lt_prom_label_name_ok("__name__"), 0);
}

static void test_family(void)
{
    lt_strbuf_t b;
    lt_strbuf_init(&b, &lt_test_heap);
    LT_EQ_INT(lt_prom_family(&b, "m_bytes", "gauge", "line one\nback\\slash \"quoted\""), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "# HELP m_bytes line one\\nback\\\\slash \"quoted\"\n# TYPE m_bytes gauge\n");
    lt_strbuf_reset(&b);
    LT_EQ_INT(lt_prom_family(&b, "m", "histogram", "x"), LT_EINVAL);
    LT_EQ_INT(lt_prom_family(&b, "bad name", "gauge", "x"), LT_EINVAL);
    LT_EQ_INT(lt_prom_family(&b, "m", "counter", NULL), LT_EINVAL);
    LT_EQ_STR(lt_strbuf_str(&b), "");
    lt_strbuf_clear(&b);
}

static void test_samples(void)
{
    lt_strbuf_t b;
    lt_strbuf_init(&b, &lt_test_heap);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 0, 42), 0);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 0, 0.1), 0);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 0, 1e300), 0);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 0, -2.5), 0);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 0, NAN), 0);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 0, INFINITY), 0);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 0, -INFINITY), 0);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 0, 40), 0);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 0, 123456789012), 0);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 0, 1.0 / 3), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "m 42\nm 0.1\nm 1e+300\nm -2.5\nm NaN\nm +Inf\nm -Inf\nm 40\nm 123456789012\n"
                                 "m 0.3333333333333333\n");
    lt_strbuf_reset(&b);
    const char *labels[] = {"type", "a\"b\\c\nd", "kind", "x"};
    LT_EQ_INT(lt_prom_sample(&b, "leaktrace_leak_confidence", labels, 2, 0.75), 0);
    LT_EQ_STR(lt_strbuf_str(&b), "leaktrace_leak_confidence{type=\"a\\\"b\\\\c\\nd\",kind=\"x\"} 0.75\n");
    lt_strbuf_reset(&b);
    const char *bad[] = {"__x", "v"};
    LT_EQ_INT(lt_prom_sample(&b, "m", bad, 1, 1), LT_EINVAL);
    const char *nullv[] = {"k", NULL};
    LT_EQ_INT(lt_prom_sample(&b, "m", nullv, 1, 1), LT_EINVAL);
    LT_EQ_INT(lt_prom_sample(&b, "m", NULL, 1, 1), LT_EINVAL);
    LT_EQ_STR(lt_strbuf_str(&b), "");
    lt_strbuf_clear(&b);
}

static void test_faults(void)
{
    const char *labels[] = {"type", "some\\long \"label\" value to make the buffer grow more than once"};
    for (int fail_at = 0; fail_at < 20; fail_at++) {
        lt_failing_alloc_t f;
        lt_failing_alloc_init(&f, &lt_test_heap, fail_at, 0);
        lt_strbuf_t b;
        lt_strbuf_init(&b, &f.base);
        int rc = lt_strbuf_puts(&b, "kept\n");
        if (rc == 0) {
            rc = lt_prom_family(&b, "m", "gauge", "help text");
            if (rc == 0)
                rc = lt_prom_sample(&b, "m", labels, 1, 3);
            if (rc < 0) {
                LT_EQ_INT(rc, LT_ENOMEM);
                LT_CHECK(strncmp(lt_strbuf_str(&b), "kept\n", 5) == 0);
                LT_CHECK(b.len == 5 || lt_strbuf_str(&b)[b.len - 1] == '\n');
            }
        }
        lt_strbuf_clear(&b);
        LT_EQ_INT(f.live, 0);
    }
}

int main(void)
{
    LT_RUN(test_names);
    LT_RUN(test_family);
    LT_RUN(test_samples);
    LT_RUN(test_faults);
    return lt_test_done();
}
