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
