/* The exported control interface (control.h): registration of the Python
 * callbacks, stats, snapshots of the sites, symbolisation, checkpoints. */
#include "control.h"

#include "errors.h"
#include "nativestack.h"
#include "preload.h"
#include "symbolize.h"
#include "writer.h"

#include <string.h>

static int api_enabled(void) { return lt_pl_active(); }

static void api_stats(lt_preload_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    lt_pl_busy_enter();
    lt_pl_stats(out);
    out->unwinder = lt_nativestack_unwinder();
    out->capture_fd = lt_plw_fd();
    lt_pl_busy_leave();
}

static void api_snapshot_free(lt_preload_snapshot_t *s)
{
    if (s != NULL)
        lt_free(&lt_pl_alloc, s, s->bytes);
}

/* Rows are copied under the tables' lock; the frames of their stacks are
 * read after it (their records never change). */
static int api_snapshot(lt_preload_snapshot_t **out, int include_freed)
{
    *out = NULL;
    lt_pl_busy_enter();
    lt_pl_rows_t rows = {0};
    int rc = lt_pl_rows_take(&rows, include_freed);
    if (rc < 0)
        goto done;
    size_t nframes = 0;
    for (size_t i = 0; i < rows.n; i++) {
        size_t n;
        lt_pl_stack_frames(rows.rows[i].stack, &n);
        nframes += n;
    }
    size_t bytes = sizeof(lt_preload_snapshot_t) + rows.n * sizeof(lt_preload_site_t) +
                   nframes * sizeof(lt_preload_frame_t);
    lt_preload_snapshot_t *s = lt_alloc(&lt_pl_alloc, bytes);
    if (s == NULL) {
        rc = LT_ENOMEM;
        goto done;
    }
    s->bytes = bytes;
    s->nsites = rows.n;
    s->sites = (lt_preload_site_t *)(s + 1);
    lt_preload_frame_t *f = (lt_preload_frame_t *)(s->sites + rows.n);
    for (size_t i = 0; i < rows.n; i++) {
        const lt_pl_row_t *r = &rows.rows[i];
        lt_preload_site_t *site = &s->sites[i];
        size_t n;
        const uint32_t *ids = lt_pl_stack_frames(r->stack, &n);
        *site = (lt_preload_site_t){r->kind, r->stack, 0, 0, f, r->live_bytes, r->live_count, r->total_bytes,
                                    r->total_count};
        for (size_t k = 0; k < n; k++) {
            const lt_preload_frame_t *fr = lt_pl_frame(ids[k]);
            if (fr == NULL)
                continue;
            f[site->nframes++] = *fr;
            if (fr->flags & LT_PRELOAD_FRAME_NATIVE)
                site->nnative++;
        }
        f += site->nframes;
    }
    *out = s;
    rc = 0;
done:
    lt_pl_rows_release(&rows);
    lt_pl_busy_leave();
    return rc;
}

static int api_checkpoint(void) { return lt_plw_checkpoint(); }

static const lt_preload_api_t api = {
    LT_PRELOAD_API_VERSION,
    sizeof(lt_preload_api_t),
    lt_pl_set_python,
    api_enabled,
    api_stats,
    api_snapshot,
    api_snapshot_free,
    lt_symbolize,
    api_checkpoint,
};

__attribute__((visibility("default"))) const lt_preload_api_t *leaktrace_preload_api(void)
{
    return &api;
}
