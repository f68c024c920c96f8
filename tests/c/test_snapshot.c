/* Tests of lt_snapshot: ordering, the top limit, JSON and text forms with
 * hostile type names, and allocation failures (text unchanged). */
#include "errors.h"
#include "json_check.h"
#include "lt_test.h"
#include "snapshot.h"
#include "strbuf.h"

#include <string.h>

static lt_snapshot_row_t rows_init[] = {
    {"int", 100, 2800, 0, 0},
    {"billing.Invoice", 500, 28000, 400, 22400},
    {"dict", 200, 28000, 10, 1000},
    {"evil\"\n\x1b[2J", 1, 10, 1, 10},
};

static void test_sort_and_json(void)
{
    lt_snapshot_row_t rows[4];
    memcpy(rows, rows_init, sizeof(rows));
    lt_snapshot_sort(rows, 4);
    LT_EQ_STR(rows[0].type, "billing.Invoice");     /* same bytes as dict, more objects */
    LT_EQ_STR(rows[1].type, "dict");
    LT_EQ_STR(rows[2].type, "int");
    lt_snapshot_t s = {42, 1.5, 1000000, 58810, 801, 7, 2, 3, rows, 4, 3};
    lt_strbuf_t b;
    lt_strbuf_init(&b, &lt_test_heap);
    LT_EQ_INT(lt_snapshot_write_json(&s, &b), 0);
    LT_CHECK(json_check(lt_strbuf_str(&b), b.len, NULL));
    LT_CHECK(strstr(lt_strbuf_str(&b), "\"schema\": \"leaktrace/snapshot-1\", \"pid\": 42, \"uptime_s\": 1.5") != NULL);
    LT_CHECK(strstr(lt_strbuf_str(&b), "\"ntypes\": 4") != NULL);
    LT_CHECK(strstr(lt_strbuf_str(&b), "{\"type\": \"billing.Invoice\", \"count\": 500, \"bytes\": 28000, "
                                       "\"count_delta\": 400, \"bytes_delta\": 22400}") != NULL);
    LT_CHECK(strstr(lt_strbuf_str(&b), "evil") == NULL);    /* beyond top */
    s.top = 0;
    lt_strbuf_reset(&b);
    LT_EQ_INT(lt_snapshot_write_json(&s, &b), 0);
    LT_CHECK(json_check(lt_strbuf_str(&b), b.len, NULL));
    LT_CHECK(strstr(lt_strbuf_str(&b), "evil\\\"\\n\\u001b[2J") != NULL);
    lt_strbuf_reset(&b);
    LT_EQ_INT(lt_snapshot_write_text(&s, &b), 0);
    LT_CHECK(strchr(lt_strbuf_str(&b), '\x1b') == NULL);
    LT_CHECK(strstr(lt_strbuf_str(&b), "billing.Invoice") != NULL);
    LT_CHECK(strstr(lt_strbuf_str(&b), "+22400") != NULL);
    s.top = 1;
    lt_strbuf_reset(&b);
    LT_EQ_INT(lt_snapshot_write_text(&s, &b), 0);
    LT_CHECK(strstr(lt_strbuf_str(&b), "... 3 more types\n") != NULL);
    lt_snapshot_t empty = {1, 0, 0, 0, 0, 0, 0, 0, NULL, 0, 0};
    lt_strbuf_reset(&b);
    LT_EQ_INT(lt_snapshot_write_json(&empty, &b), 0);
    LT_CHECK(json_check(lt_strbuf_str(&b), b.len, NULL));
    empty.nrows = 1;
    LT_EQ_INT(lt_snapshot_write_json(&empty, &b), LT_EINVAL);
    lt_strbuf_clear(&b);
}

static void test_faults(void)
{
    lt_snapshot_row_t rows[4];
    memcpy(rows, rows_init, sizeof(rows));
    lt_snapshot_t s = {42, 1.5, 1000000, 58810, 801, 7, 2, 3, rows, 4, 0};
    for (int fail_at = 0; fail_at < 30; fail_at++) {
        for (int text = 0; text < 2; text++) {
            lt_failing_alloc_t f;
            lt_failing_alloc_init(&f, &lt_test_heap, fail_at, 0);
            lt_strbuf_t b;
            lt_strbuf_init(&b, &f.base);
            if (lt_strbuf_puts(&b, "x") == 0) {
                int rc = text ? lt_snapshot_write_text(&s, &b) : lt_snapshot_write_json(&s, &b);
                if (rc < 0) {
                    LT_EQ_INT(rc, LT_ENOMEM);
                    LT_EQ_STR(lt_strbuf_str(&b), "x");
                }
            }
            lt_strbuf_clear(&b);
            LT_EQ_INT(f.live, 0);
        }
    }
}

int main(void)
{
    LT_RUN(test_sort_and_json);
    LT_RUN(test_faults);
    return lt_test_done();
}
