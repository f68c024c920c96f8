/* libFuzzer target for the capture reader (src/core/capture.c).
 *
 * Each input is read twice, with checksums verified and with them skipped
 * (so that mutations get past the checksum into the record rules). Reading
 * must end cleanly, never crash or read out of bounds (ASan, UBSan). What
 * was read is then written again by the writer and read back, record by
 * record, which must give the same strings, frames, stacks, full checkpoint
 * states and trailer: a differential check of the delta encoding on both
 * sides.
 *
 * Build and run: make fuzz FUZZ_SECONDS=60 (see the Makefile). */
#include "alloc.h"
#include "capture.h"
#include "errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK(cond)                                                                                             \
    do {                                                                                                        \
        if (!(cond)) {                                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                          \
            abort();                                                                                            \
        }                                                                                                       \
    } while (0)

/* malloc-backed, so that ASan knows each block's exact bounds. */
static void *heap_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return calloc(1, size ? size : 1);
}

static void heap_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx, (void)size;
    free(ptr);
}

static const lt_alloc_t heap = {heap_alloc, heap_free, NULL};

/* The writer's file: one memory file, emptied for each input. */
static int out_fd = -1;

/* Reads every byte of a checkpoint's rows (so ASan checks them) and checks
 * the reader's promises: sorted, unique ids, below the table sizes. */
static void touch_checkpoint(const lt_capture_reader_t *r)
{
    const lt_capture_checkpoint_t *cp = &r->checkpoint;
    for (size_t i = 0; i < cp->nsites; i++) {
        CHECK(cp->sites[i].id < r->nstacks);
        CHECK(i == 0 || cp->sites[i - 1].id < cp->sites[i].id);
    }
    if (cp->has_census)
        for (size_t i = 0; i < cp->ncensus; i++) {
            CHECK(cp->census[i].id < r->nstrings);
            CHECK(i == 0 || cp->census[i - 1].id < cp->census[i].id);
        }
    else
        CHECK(cp->ncensus == 0);
}

static void touch_record(const lt_capture_reader_t *r, lt_capture_type_t type)
{
    size_t n = 0;
    volatile unsigned sink = 0;
    switch (type) {
    case LT_CAPTURE_STRING: {
        const char *s = lt_capture_reader_string(r, r->nstrings - 1, &n);
        CHECK(s != NULL);
        for (size_t i = 0; i < n; i++)
            sink += (unsigned char)s[i];
        break;
    }
    case LT_CAPTURE_FRAME: {
        const lt_capture_frame_t *f = lt_capture_reader_frame(r, r->nframes - 1);
        CHECK(f != NULL);
        CHECK(f->file == LT_CAPTURE_NONE || f->file < r->nstrings);
        CHECK(f->function == LT_CAPTURE_NONE || f->function < r->nstrings);
        break;
    }
    case LT_CAPTURE_STACK: {
        const uint32_t *ids = lt_capture_reader_stack(r, r->nstacks - 1, &n);
        CHECK(ids != NULL && n <= LT_CAPTURE_MAX_DEPTH);
        for (size_t i = 0; i < n; i++)
            CHECK(ids[i] < r->nframes);
        break;
    }
    case LT_CAPTURE_CHECKPOINT:
        touch_checkpoint(r);
        break;
    case LT_CAPTURE_TRAILER:
        CHECK(r->has_trailer);
        break;
    default:
        CHECK(!"an unexpected record type");
    }
    (void)sink;
}

/* A NUL-terminated copy (the writer takes C strings: an embedded NUL ends
 * the copy, which the comparison allows for). */
static char *cstr(lt_capture_str_t s)
{
    char *p = malloc(s.len + 1);
    CHECK(p != NULL);
    if (s.len > 0)
        memcpy(p, s.s, s.len);
    p[s.len] = '\0';
    return p;
}

static int str_eq_c(lt_capture_str_t got, lt_capture_str_t orig)
{
    size_t n = strnlen(orig.s, orig.len);
    return got.len == n && memcmp(got.s, orig.s, n) == 0;
}

/* Writes what r reads (header included) to out_fd. Returns the number of
 * records written after the header, or -1 when there is nothing to compare
 * (the reader ran out of memory on a huge but valid-looking input). */
static long rewrite(lt_capture_reader_t *r)
{
    const lt_capture_header_t *h = &r->header;
    char **argv = calloc(h->argc + 1, sizeof(*argv));
    CHECK(argv != NULL);
    for (size_t i = 0; i < h->argc; i++)
        argv[i] = cstr(h->argv[i]);
    char *pyver = cstr(h->python_version);
    lt_capture_meta_t meta = {
        .created_ns = h->created_ns,
        .pid = h->pid,
        .python_version = pyver,
        .argc = h->argc,
        .argv = (const char *const *)argv,
        .sample_mean = h->sample_mean,
        .mode = h->mode,
    };
    CHECK(ftruncate(out_fd, 0) == 0);
    CHECK(lseek(out_fd, 0, SEEK_SET) == 0);
    lt_capture_writer_t w;
    int rc = lt_capture_writer_open(&w, &heap, out_fd, &meta, 0);
    CHECK(rc == 0);
    long written = 0;
    lt_capture_type_t type;
    while ((rc = lt_capture_reader_next(r, &type)) == 1) {
        touch_record(r, type);
        uint32_t id = UINT32_MAX;
        size_t n = 0;
        switch (type) {
        case LT_CAPTURE_STRING: {
            const char *s = lt_capture_reader_string(r, r->nstrings - 1, &n);
            rc = lt_capture_writer_add_string(&w, s, n, &id);
            CHECK(rc == 0 && id == r->nstrings - 1);
            break;
        }
        case LT_CAPTURE_FRAME: {
            lt_capture_frame_t f = *lt_capture_reader_frame(r, r->nframes - 1);
            f.flags &= LT_CAPTURE_FRAME_NATIVE;         /* flags of newer versions are not written */
            rc = lt_capture_writer_add_frame(&w, &f, &id);
            CHECK(rc == 0 && id == r->nframes - 1);
            break;
        }
        case LT_CAPTURE_STACK: {
            const uint32_t *ids = lt_capture_reader_stack(r, r->nstacks - 1, &n);
            rc = lt_capture_writer_add_stack(&w, ids, n, &id);
            CHECK(rc == 0 && id == r->nstacks - 1);
            break;
        }
        case LT_CAPTURE_CHECKPOINT:
            rc = lt_capture_writer_checkpoint(&w, &r->checkpoint);
            CHECK(rc == 0);
            break;
        default:
            rc = lt_capture_writer_finish(&w, r->trailer.end_ns);
            CHECK(rc == 0);
            break;
        }
        written++;
    }
    if (rc == LT_ENOMEM)
        written = -1;
    else
        CHECK(rc == 0 && r->stop != LT_CAPTURE_READING);
    lt_capture_writer_release(&w);
    for (size_t i = 0; i < h->argc; i++)
        free(argv[i]);
    free(argv);
    free(pyver);
    return written;
}

static int rows_eq(const lt_capture_row_t *a, size_t na, const lt_capture_row_t *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i].id != b[i].id || a[i].bytes != b[i].bytes || a[i].count != b[i].count)
            return 0;
    return 1;
}

/* Reads `orig` (a fresh reader on the input) and `copy` (the rewritten
 * file) side by side: every record must be the same. */
static void compare(lt_capture_reader_t *orig, lt_capture_reader_t *copy, long records)
{
    const lt_capture_header_t *a = &orig->header, *b = &copy->header;
    CHECK(b->major == LT_CAPTURE_VERSION_MAJOR && b->minor == LT_CAPTURE_VERSION_MINOR);
    CHECK(a->created_ns == 0 || b->created_ns == a->created_ns);
    CHECK(a->pid == 0 || b->pid == a->pid);
    CHECK(b->sample_mean == a->sample_mean && b->mode == a->mode && b->argc == a->argc);
    CHECK(str_eq_c(b->python_version, a->python_version));
    for (size_t i = 0; i < a->argc; i++)
        CHECK(str_eq_c(b->argv[i], a->argv[i]));
    for (long k = 0; k < records; k++) {
        lt_capture_type_t ta, tb;
        CHECK(lt_capture_reader_next(orig, &ta) == 1);
        CHECK(lt_capture_reader_next(copy, &tb) == 1);
        CHECK(ta == tb);
        size_t na = 0, nb = 0;
        switch (ta) {
        case LT_CAPTURE_STRING: {
            const char *sa = lt_capture_reader_string(orig, orig->nstrings - 1, &na);
            const char *sb = lt_capture_reader_string(copy, copy->nstrings - 1, &nb);
            CHECK(na == nb && (na == 0 || memcmp(sa, sb, na) == 0));
            break;
        }
        case LT_CAPTURE_FRAME: {
            const lt_capture_frame_t *fa = lt_capture_reader_frame(orig, orig->nframes - 1);
            const lt_capture_frame_t *fb = lt_capture_reader_frame(copy, copy->nframes - 1);
            CHECK(fa->file == fb->file && fa->function == fb->function && fa->line == fb->line);
            CHECK((fa->flags & LT_CAPTURE_FRAME_NATIVE) == fb->flags && fa->address == fb->address);
            break;
        }
        case LT_CAPTURE_STACK: {
            const uint32_t *ia = lt_capture_reader_stack(orig, orig->nstacks - 1, &na);
            const uint32_t *ib = lt_capture_reader_stack(copy, copy->nstacks - 1, &nb);
            CHECK(na == nb && (na == 0 || memcmp(ia, ib, na * sizeof(*ia)) == 0));
            break;
        }
        case LT_CAPTURE_CHECKPOINT: {
            const lt_capture_checkpoint_t *ca = &orig->checkpoint, *cb = &copy->checkpoint;
            CHECK(ca->time_ns == cb->time_ns && ca->rss_bytes == cb->rss_bytes);
            CHECK(ca->py_heap_bytes == cb->py_heap_bytes && ca->native_heap_bytes == cb->native_heap_bytes);
            CHECK(memcmp(ca->fds, cb->fds, sizeof(ca->fds)) == 0 && ca->threads == cb->threads);
            CHECK(rows_eq(ca->sites, ca->nsites, cb->sites, cb->nsites));
            CHECK(ca->has_census == cb->has_census);
            CHECK(rows_eq(ca->census, ca->ncensus, cb->census, cb->ncensus));
            break;
        }
        default:
            CHECK(orig->trailer.end_ns == copy->trailer.end_ns);
            CHECK(memcmp(&orig->trailer, &copy->trailer, sizeof(orig->trailer)) == 0);
            break;
        }
    }
    lt_capture_type_t t;
    CHECK(lt_capture_reader_next(copy, &t) == 0);
    CHECK(copy->stop == (copy->has_trailer ? LT_CAPTURE_COMPLETE : LT_CAPTURE_UNFINISHED));
    CHECK(copy->skipped == 0);
}

static void run(const uint8_t *data, size_t size, unsigned flags)
{
    lt_capture_reader_t r;
    int rc = lt_capture_reader_open(&r, &heap, data, size, flags);
    if (rc < 0) {
        CHECK(rc == LT_EFORMAT || rc == LT_ENOMEM);
        CHECK(rc != LT_EFORMAT || r.why != NULL);
        return;
    }
    long records = rewrite(&r);
    CHECK(r.offset <= size && r.stop_offset <= size);
    CHECK((r.stop == LT_CAPTURE_TRUNCATED || r.stop == LT_CAPTURE_CORRUPT) == (r.why != NULL));
    CHECK(r.stop != LT_CAPTURE_COMPLETE || (r.has_trailer && r.offset == size));
    lt_capture_reader_release(&r);
    if (records < 0)
        return;

    off_t len = lseek(out_fd, 0, SEEK_END);
    CHECK(len > 0);
    uint8_t *copy = malloc((size_t)len);
    CHECK(copy != NULL && pread(out_fd, copy, (size_t)len, 0) == len);
    lt_capture_reader_t a, b;
    CHECK(lt_capture_reader_open(&a, &heap, data, size, flags) == 0);
    CHECK(lt_capture_reader_open(&b, &heap, copy, (size_t)len, 0) == 0);
    compare(&a, &b, records);
    lt_capture_reader_release(&a);
    lt_capture_reader_release(&b);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (out_fd < 0) {
        out_fd = memfd_create("fuzz_capture", MFD_CLOEXEC);
        CHECK(out_fd >= 0);
    }
    run(data, size, 0);
    run(data, size, LT_CAPTURE_READ_NO_CHECKSUM);
    return 0;
}
