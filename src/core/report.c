/* The report model's life cycle: an empty report and its release. */
#include "report.h"

#include <string.h>

/* An empty report says "inconclusive" rather than nothing: a writer handed a
 * report that the analysis never filled still produces a valid document. */
void lt_report_init(lt_report_t *r, const lt_alloc_t *a)
{
    memset(r, 0, sizeof(*r));
    lt_arena_init(&r->arena, a);
    r->verdict = LT_VERDICT_INCONCLUSIVE;
}

/* Every pointer of the report points into the arena, so after the release the
 * report is made empty again (on the same allocator) instead of being left
 * full of dangling pointers. */
void lt_report_release(lt_report_t *r)
{
    const lt_alloc_t *a = r->arena.a;
    lt_arena_release(&r->arena);
    lt_report_init(r, a);
}

static int has_suffix(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

int lt_report_launcher_file(const char *file, size_t len)
{
    static const char pkg[] = "/leaktrace/";
    for (size_t i = 0; i + sizeof(pkg) - 1 <= len; i++)
        if (memcmp(file + i, pkg, sizeof(pkg) - 1) == 0)
            return 1;
    return has_suffix(file, len, "/runpy.py") || (len == 14 && memcmp(file, "<frozen runpy>", 14) == 0);
}
