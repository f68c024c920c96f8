/* Tests of the capture file: round trip, every truncation point, every
 * single-bit flip, foreign files, hand-made records that break each rule,
 * the size of an hour of a steady program, write errors, and every
 * allocation failure of the writer and the reader (no trace left, no leak).
 *
 * The reader's tables come from a malloc-backed allocator and each input is
 * copied into a block of exactly its size, so AddressSanitizer sees any read
 * past the end (the page allocator would hide it in the page's slack). */
#include "alloc.h"
#include "capture.h"
#include "errors.h"
#include "lt_test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* ---- Helpers ---- */

/* A memory file for the writer; its bytes are read back with file_bytes. */
static int mem_file(void)
{
    return memfd_create("capture", MFD_CLOEXEC);
}

/* Copies the file's bytes into a new malloc'd block of exactly its size
 * (NULL for an empty file); *len gets the size. */
static unsigned char *file_bytes(int fd, size_t *len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    *len = end > 0 ? (size_t)end : 0;
    if (*len == 0)
        return NULL;
    unsigned char *p = malloc(*len);
    if (p == NULL || pread(fd, p, *len, 0) != (ssize_t)*len) {
        free(p);
        *len = 0;
        return NULL;
    }
    return p;
}

static unsigned char *copy_exact(const unsigned char *src, size_t len)
{
    unsigned char *p = malloc(len ? len : 1);
    if (len > 0)
        memcpy(p, src, len);
    return p;
}

static const char *const sample_argv[] = {"app.py", "--port", "8080"};

static lt_capture_meta_t sample_meta(void)
{
    lt_capture_meta_t m = {
        .created_ns = 1700000000123456789ull,
        .pid = 4242,
        .python_version = "3.11.7",
        .argc = 3,
        .argv = sample_argv,
        .sample_mean = 512 * 1024,
        .mode = LT_CAPTURE_MODE_SAMPLED,
    };
    return m;
}

/* The sample capture: what was written, to compare with what is read. */
static const char *const sample_strings[] = {"app.py", "main", "work", "libc.so.6", "malloc", "builtins.dict",
                                             "builtins.list", "", "late string \xc3\xa9"};
#define NSTRINGS_EARLY 8
static const lt_capture_frame_t sample_frames[] = {
    {0, 1, 10, 0, 0},
    {0, 2, 20, 0, 0},
    {3, 4, 0, LT_CAPTURE_FRAME_NATIVE, 0x7f0012345678ull},
    {LT_CAPTURE_NONE, LT_CAPTURE_NONE, 0, 0, 0},
    {0, LT_CAPTURE_NONE, 4000000000u, LT_CAPTURE_FRAME_NATIVE, UINT64_MAX},
};
static const uint32_t stack0[] = {1, 0};
static const uint32_t stack1[] = {2, 1, 0};
static const uint32_t stack3[] = {4, 3, 3, 3};
static const struct {
    const uint32_t *f;
    size_t n;
} sample_stacks[] = {{stack0, 2}, {stack1, 3}, {NULL, 0}, {stack3, 4}};

/* Checkpoints, each row list in the order given to the writer. */
static const lt_capture_row_t cp0_sites[] = {{1, 200, 2}, {0, 100, 1}};
static const lt_capture_row_t cp0_census[] = {{5, 1000, 10}};
static const lt_capture_row_t cp1_sites[] = {{1, 250, 3}, {2, 50, 1}, {3, UINT64_MAX, 0}};
static const lt_capture_row_t cp2_census[] = {{6, 56, 1}, {5, 1100, 11}};
static const lt_capture_row_t cp4_sites[] = {{3, 0, UINT64_MAX}, {0, 1, 1}};
static const lt_capture_row_t cp4_census[] = {{8, 7, 7}};

static lt_capture_checkpoint_t sample_cp(int i)
{
    lt_capture_checkpoint_t c;
    memset(&c, 0, sizeof(c));
    c.time_ns = (uint64_t)i * 10000000000ull + 17;
    c.rss_bytes = 50000000u + (uint64_t)i * 4096;
    c.py_heap_bytes = 20000000u - (uint64_t)i * 333;
    c.native_heap_bytes = i == 2 ? UINT64_MAX : 0;
    for (int k = 0; k < LT_CAPTURE_FD_KINDS; k++)
        c.fds[k] = (uint64_t)(k * 3 + i);
    c.threads = i == 3 ? 1 : 4;
    switch (i) {
    case 0:
        c.sites = cp0_sites, c.nsites = 2;
        c.has_census = 1, c.census = cp0_census, c.ncensus = 1;
        break;
    case 1:
        c.sites = cp1_sites, c.nsites = 3;   /* 0 removed, 1 changed, 2 and 3 new; no census */
        break;
    case 2:
        c.has_census = 1, c.census = cp2_census, c.ncensus = 2;  /* every site removed */
        break;
    case 3:
        c.has_census = 1, c.census = cp2_census, c.ncensus = 2;  /* nothing changed */
        c.time_ns = 5;                                           /* time may go back */
        break;
    default:
        c.sites = cp4_sites, c.nsites = 2;
        c.has_census = 1, c.census = cp4_census, c.ncensus = 1;  /* a string added late */
        break;
    }
    return c;
}
#define SAMPLE_CHECKPOINTS 5
#define SAMPLE_END_NS 99000000000ull

/* Step k of writing the sample capture: strings, frames, stacks, then
 * checkpoints with the last string and checkpoint after them, then the
 * trailer. Returns the writer's code, or 1 past the last step. */
#define NFRAMES ((int)(sizeof(sample_frames) / sizeof(sample_frames[0])))
static int sample_step(lt_capture_writer_t *w, int k)
{
    uint32_t id = UINT32_MAX;
    int rc;
    if (k < NSTRINGS_EARLY) {
        rc = lt_capture_writer_add_string(w, sample_strings[k], strlen(sample_strings[k]), &id);
        if (rc == 0)
            LT_EQ_UINT(id, k);
        return rc;
    }
    k -= NSTRINGS_EARLY;
    if (k < NFRAMES) {
        rc = lt_capture_writer_add_frame(w, &sample_frames[k], &id);
        if (rc == 0)
            LT_EQ_UINT(id, k);
        return rc;
    }
    k -= NFRAMES;
    if (k < 4) {
        rc = lt_capture_writer_add_stack(w, sample_stacks[k].f, sample_stacks[k].n, &id);
        if (rc == 0)
            LT_EQ_UINT(id, k);
        return rc;
    }
    k -= 4;
    lt_capture_checkpoint_t c = sample_cp(k < 4 ? k : 4);
    switch (k) {
    case 0: case 1: case 2: case 3: case 5:
        return lt_capture_writer_checkpoint(w, &c);
    case 4:
        return lt_capture_writer_add_string(w, sample_strings[8], strlen(sample_strings[8]), NULL);
    case 6:
        return lt_capture_writer_finish(w, SAMPLE_END_NS);
    default:
        return 1;
    }
}

/* Writes the whole sample. A step that fails with LT_ENOMEM is retried once
 * when `retry` (a one-shot fault). Returns 0, the first other error, or an
 * LT_ENOMEM that a retry did not cure. */
static int write_sample_body(lt_capture_writer_t *w, int retry)
{
    for (int k = 0;; k++) {
        int rc = sample_step(w, k);
        if (rc == LT_ENOMEM && retry)
            rc = sample_step(w, k);
        if (rc != 0)
            return rc == 1 ? 0 : rc;
    }
}

/* The sample capture as bytes (malloc'd, exact size). */
static unsigned char *sample_bytes(size_t *len)
{
    int fd = mem_file();
    lt_capture_writer_t w;
    lt_capture_meta_t m = sample_meta();
    unsigned char *out = NULL;
    *len = 0;
    if (!LT_EQ_INT(lt_capture_writer_open(&w, &heap, fd, &m, 0), 0))
        goto done;
    LT_EQ_INT(write_sample_body(&w, 0), 0);
    LT_EQ_UINT(w.bytes_written, (uint64_t)lseek(fd, 0, SEEK_END));
    lt_capture_writer_release(&w);
    out = file_bytes(fd, len);
done:
    close(fd);
    return out;
}

/* Compares a table read back with the rows written (any order). */
static int rows_match(const lt_capture_row_t *got, size_t ngot, const lt_capture_row_t *want, size_t nwant)
{
    int ok = LT_EQ_UINT(ngot, nwant);
    for (size_t i = 0; ok && i < nwant; i++) {
        size_t j = 0;
        while (j < ngot && got[j].id != want[i].id)
            j++;
        ok = LT_LT_UINT(j, ngot) && LT_EQ_UINT(got[j].bytes, want[i].bytes) &&
             LT_EQ_UINT(got[j].count, want[i].count);
    }
    for (size_t i = 1; ok && i < ngot; i++)
        ok = LT_LT_UINT(got[i - 1].id, got[i].id);      /* the reader gives them sorted */
    return ok;
}

static int checkpoint_matches(const lt_capture_checkpoint_t *got, int i)
{
    lt_capture_checkpoint_t want = sample_cp(i);
    int ok = LT_EQ_UINT(got->time_ns, want.time_ns) && LT_EQ_UINT(got->rss_bytes, want.rss_bytes) &&
             LT_EQ_UINT(got->py_heap_bytes, want.py_heap_bytes) &&
             LT_EQ_UINT(got->native_heap_bytes, want.native_heap_bytes) && LT_EQ_UINT(got->threads, want.threads);
    for (int k = 0; ok && k < LT_CAPTURE_FD_KINDS; k++)
        ok = LT_EQ_UINT(got->fds[k], want.fds[k]);
    ok = ok && rows_match(got->sites, got->nsites, want.sites, want.nsites);
    ok = ok && LT_EQ_INT(got->has_census, want.has_census);
    if (ok && want.has_census)
        ok = rows_match(got->census, got->ncensus, want.census, want.ncensus);
    else if (ok)
        ok = LT_EQ_UINT(got->ncensus, 0);
    return ok;
}

/* What one reading produced, to compare readings. */
typedef struct summary {
    int open_rc;
    uint64_t records;
    lt_capture_stop_t stop;
    uint32_t nstrings, nframes, nstacks;
    uint64_t ncheckpoints;
    size_t offset;
    int checkpoints_ok;         /* every checkpoint matched the sample */
} summary_t;

/* Reads a capture to its end (all records, checking each checkpoint
 * against the sample when `sample`). */
static summary_t read_all(const unsigned char *buf, size_t len, const lt_alloc_t *a, unsigned flags, int sample)
{
    summary_t s;
    memset(&s, 0, sizeof(s));
    s.checkpoints_ok = 1;
    lt_capture_reader_t r;
    s.open_rc = lt_capture_reader_open(&r, a, buf, len, flags);
    if (s.open_rc < 0)
        return s;
    lt_capture_type_t type;
    int rc;
    while ((rc = lt_capture_reader_next(&r, &type)) == 1) {
        if (sample && type == LT_CAPTURE_CHECKPOINT && !checkpoint_matches(&r.checkpoint, (int)r.ncheckpoints - 1))
            s.checkpoints_ok = 0;
    }
    LT_EQ_INT(rc, 0);
    LT_NE_INT(r.stop, LT_CAPTURE_READING);
    s.records = r.records;
    s.stop = r.stop;
    s.nstrings = r.nstrings;
    s.nframes = r.nframes;
    s.nstacks = r.nstacks;
    s.ncheckpoints = r.ncheckpoints;
    s.offset = r.offset;
    lt_capture_reader_release(&r);
    return s;
}

/* Appends a hand-made record to buf (cap bytes) at *len. */
static void put_record(unsigned char *buf, size_t *len, size_t cap, unsigned type, const unsigned char *payload,
                       size_t plen)
{
    size_t need = *len + 1 + 5 + plen + 4;
    if (!LT_LE_UINT(need, cap))
        return;
    size_t start = *len, i = start;
    buf[i++] = (unsigned char)type;
    size_t v = plen;
    do {
        buf[i++] = (unsigned char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v > 0);
    if (plen > 0)
        memcpy(buf + i, payload, plen);
    i += plen;
    uint32_t crc = lt__capture_crc32c(0, buf + start, i - start);
    for (int k = 0; k < 4; k++)
        buf[i++] = (unsigned char)(crc >> (8 * k));
    *len = i;
}

/* ---- Tests ---- */

static void test_round_trip(void)
{
    size_t len;
    unsigned char *buf = sample_bytes(&len);
    if (!LT_NOT_NULL(buf))
        return;
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &heap, -1, 0);
    lt_capture_reader_t r;
    if (!LT_EQ_INT(lt_capture_reader_open(&r, &f.base, buf, len, 0), 0))
        goto done;
    LT_EQ_UINT(r.header.major, LT_CAPTURE_VERSION_MAJOR);
    LT_EQ_UINT(r.header.minor, LT_CAPTURE_VERSION_MINOR);
    LT_EQ_UINT(r.header.created_ns, 1700000000123456789ull);
    LT_EQ_UINT(r.header.pid, 4242);
    LT_EQ_MEM(r.header.python_version.s, r.header.python_version.len, "3.11.7", 6);
    LT_EQ_UINT(r.header.sample_mean, 512 * 1024);
    LT_EQ_UINT(r.header.mode, LT_CAPTURE_MODE_SAMPLED);
    if (LT_EQ_UINT(r.header.argc, 3))
        for (int i = 0; i < 3; i++)
            LT_EQ_MEM(r.header.argv[i].s, r.header.argv[i].len, sample_argv[i], strlen(sample_argv[i]));

    /* The records, in the order written. */
    static const lt_capture_type_t order[] = {
        LT_CAPTURE_STRING, LT_CAPTURE_STRING, LT_CAPTURE_STRING, LT_CAPTURE_STRING, LT_CAPTURE_STRING,
        LT_CAPTURE_STRING, LT_CAPTURE_STRING, LT_CAPTURE_STRING, LT_CAPTURE_FRAME, LT_CAPTURE_FRAME,
        LT_CAPTURE_FRAME, LT_CAPTURE_FRAME, LT_CAPTURE_FRAME, LT_CAPTURE_STACK, LT_CAPTURE_STACK,
        LT_CAPTURE_STACK, LT_CAPTURE_STACK, LT_CAPTURE_CHECKPOINT, LT_CAPTURE_CHECKPOINT,
        LT_CAPTURE_CHECKPOINT, LT_CAPTURE_CHECKPOINT, LT_CAPTURE_STRING, LT_CAPTURE_CHECKPOINT,
        LT_CAPTURE_TRAILER,
    };
    size_t n = 0;
    lt_capture_type_t type;
    int rc;
    while ((rc = lt_capture_reader_next(&r, &type)) == 1) {
        if (!LT_LT_UINT(n, sizeof(order) / sizeof(order[0])) || !LT_EQ_INT(type, order[n]))
            break;
        if (type == LT_CAPTURE_CHECKPOINT)
            checkpoint_matches(&r.checkpoint, (int)r.ncheckpoints - 1);
        n++;
    }
    LT_EQ_INT(rc, 0);
    LT_EQ_UINT(n, sizeof(order) / sizeof(order[0]));
    LT_EQ_INT(r.stop, LT_CAPTURE_COMPLETE);
    LT_NULL(r.why);
    LT_EQ_UINT(r.offset, len);
    LT_EQ_UINT(r.records, n + 1);
    LT_EQ_UINT(r.skipped, 0);
    LT_EQ_INT(lt_capture_reader_next(&r, &type), 0);       /* stays at the end */

    for (uint32_t i = 0; i < 9; i++) {
        size_t slen = 0;
        const char *s = lt_capture_reader_string(&r, i, &slen);
        LT_EQ_MEM(s, slen, sample_strings[i], strlen(sample_strings[i]));
    }
    size_t slen;
    LT_NULL(lt_capture_reader_string(&r, 9, &slen));
    for (uint32_t i = 0; i < 5; i++) {
        const lt_capture_frame_t *fr = lt_capture_reader_frame(&r, i);
        if (!LT_NOT_NULL(fr))
            continue;
        LT_EQ_UINT(fr->file, sample_frames[i].file);
        LT_EQ_UINT(fr->function, sample_frames[i].function);
        LT_EQ_UINT(fr->line, sample_frames[i].line);
        LT_EQ_UINT(fr->flags, sample_frames[i].flags);
        LT_EQ_UINT(fr->address, sample_frames[i].address);
    }
    LT_NULL(lt_capture_reader_frame(&r, 5));
    for (uint32_t i = 0; i < 4; i++) {
        size_t depth = 99;
        const uint32_t *ids = lt_capture_reader_stack(&r, i, &depth);
        if (!LT_NOT_NULL(ids) || !LT_EQ_UINT(depth, sample_stacks[i].n))
            continue;
        for (size_t k = 0; k < depth; k++)
            LT_EQ_UINT(ids[k], sample_stacks[i].f[k]);
    }
    LT_NULL(lt_capture_reader_stack(&r, 4, &slen));
    LT_EQ_INT(r.has_trailer, 1);
    LT_EQ_UINT(r.trailer.end_ns, SAMPLE_END_NS);
    LT_EQ_UINT(r.trailer.strings, 9);
    LT_EQ_UINT(r.trailer.frames, 5);
    LT_EQ_UINT(r.trailer.stacks, 4);
    LT_EQ_UINT(r.trailer.checkpoints, SAMPLE_CHECKPOINTS);
    lt_capture_reader_release(&r);
    LT_EQ_INT(f.live, 0);
done:
    free(buf);
}

/* A capture with no records after the header, and one with no argv. */
static void test_minimal(void)
{
    int fd = mem_file();
    lt_capture_writer_t w;
    lt_capture_meta_t m;
    memset(&m, 0, sizeof(m));
    if (!LT_EQ_INT(lt_capture_writer_open(&w, &heap, fd, &m, LT_CAPTURE_FSYNC), 0))
        return;
    lt_capture_writer_release(&w);
    size_t len;
    unsigned char *buf = file_bytes(fd, &len);
    close(fd);
    lt_capture_reader_t r;
    if (LT_EQ_INT(lt_capture_reader_open(&r, &heap, buf, len, 0), 0)) {
        LT_GT_UINT(r.header.created_ns, 1600000000ull * 1000000000ull);   /* "now" was filled in */
        LT_EQ_UINT(r.header.pid, (uint64_t)getpid());
        LT_EQ_UINT(r.header.argc, 0);
        LT_NULL(r.header.argv);
        LT_EQ_UINT(r.header.python_version.len, 0);
        LT_EQ_UINT(r.header.mode, LT_CAPTURE_MODE_OFF);
        lt_capture_type_t type;
        LT_EQ_INT(lt_capture_reader_next(&r, &type), 0);
        LT_EQ_INT(r.stop, LT_CAPTURE_UNFINISHED);
        LT_EQ_UINT(r.records, 1);
        LT_EQ_UINT(r.ncheckpoints, 0);
        LT_EQ_UINT(r.checkpoint.nsites, 0);
        lt_capture_reader_release(&r);
    }
    free(buf);
    LT_EQ_STR(lt_capture_mode_name(LT_CAPTURE_MODE_OFF), "off");
    LT_EQ_STR(lt_capture_mode_name(LT_CAPTURE_MODE_SAMPLED), "sampled");
    LT_EQ_STR(lt_capture_mode_name(LT_CAPTURE_MODE_TRACE), "trace");
    LT_NULL(lt_capture_mode_name(77));
}

/* Every cut of the sample file: the complete records before the cut are
 * read, with the same state as in the whole file, and the stop says
 * whether the cut fell between records or inside one. */
static void test_truncation(void)
{
    size_t len;
    unsigned char *full = sample_bytes(&len);
    if (!LT_NOT_NULL(full))
        return;
    /* Where each record ends, and the state after it. */
    enum { MAXREC = 64 };
    size_t ends[MAXREC];
    summary_t after[MAXREC];
    size_t nrec = 0;
    lt_capture_reader_t r;
    if (!LT_EQ_INT(lt_capture_reader_open(&r, &heap, full, len, 0), 0))
        goto done;
    lt_capture_type_t type;
    do {
        ends[nrec] = r.offset;
        memset(&after[nrec], 0, sizeof(after[nrec]));
        after[nrec].nstrings = r.nstrings;
        after[nrec].nframes = r.nframes;
        after[nrec].nstacks = r.nstacks;
        after[nrec].ncheckpoints = r.ncheckpoints;
        nrec++;
    } while (nrec < MAXREC && lt_capture_reader_next(&r, &type) == 1);
    lt_capture_reader_release(&r);
    LT_EQ_UINT(ends[nrec - 1], len);

    long checked = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        unsigned char *buf = copy_exact(full, cut);
        summary_t s = read_all(buf, cut, &heap, 0, 1);
        free(buf);
        if (cut < ends[0]) {
            if (!LT_EQ_INT(s.open_rc, LT_EFORMAT))
                break;
            continue;
        }
        size_t k = 0;                           /* records complete before the cut */
        while (k + 1 < nrec && ends[k + 1] <= cut)
            k++;
        if (!LT_EQ_INT(s.open_rc, 0) || !LT_EQ_UINT(s.records, k + 1) || !LT_EQ_UINT(s.offset, ends[k]) ||
            !LT_EQ_UINT(s.nstrings, after[k].nstrings) || !LT_EQ_UINT(s.nframes, after[k].nframes) ||
            !LT_EQ_UINT(s.nstacks, after[k].nstacks) || !LT_EQ_UINT(s.ncheckpoints, after[k].ncheckpoints) ||
            !LT_CHECK(s.checkpoints_ok))
            break;
        lt_capture_stop_t want = cut == len ? LT_CAPTURE_COMPLETE
                                 : cut == ends[k] ? LT_CAPTURE_UNFINISHED
                                                  : LT_CAPTURE_TRUNCATED;
        if (!LT_EQ_INT(s.stop, want))
            break;
        checked++;
    }
    LT_EQ_INT(checked, (long)(len - ends[0] + 1));
done:
    free(full);
}

/* Every single-bit flip of the sample file is caught: in the header the
 * file is refused, elsewhere reading stops at the record that holds the
 * flipped bit. Without checksums, flips must still never crash. */
static void test_bit_flips(void)
{
    size_t len;
    unsigned char *full = sample_bytes(&len);
    if (!LT_NOT_NULL(full))
        return;
    size_t ends[64], nrec = 0;
    lt_capture_reader_t r;
    if (!LT_EQ_INT(lt_capture_reader_open(&r, &heap, full, len, 0), 0))
        goto done;
    lt_capture_type_t type;
    do
        ends[nrec++] = r.offset;
    while (nrec < 64 && lt_capture_reader_next(&r, &type) == 1);
    lt_capture_reader_release(&r);

    unsigned char *buf = copy_exact(full, len);
    long failures_before = lt__failures;
    for (size_t i = 0; i < len && lt__failures == failures_before; i++) {
        size_t k = 0;                           /* records wholly before byte i */
        while (k < nrec && ends[k] <= i)
            k++;
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (unsigned char)(1u << bit);
            summary_t s = read_all(buf, len, &heap, 0, 0);
            if (k == 0) {
                LT_EQ_INT(s.open_rc, LT_EFORMAT);
            } else if (LT_EQ_INT(s.open_rc, 0)) {
                LT_EQ_UINT(s.records, k);
                LT_CHECK(s.stop == LT_CAPTURE_CORRUPT || s.stop == LT_CAPTURE_TRUNCATED);
            }
            summary_t u = read_all(buf, len, &heap, LT_CAPTURE_READ_NO_CHECKSUM, 0);
            if (u.open_rc == 0)
                LT_LE_UINT(u.offset, len);
            buf[i] ^= (unsigned char)(1u << bit);
        }
    }
    free(buf);
done:
    free(full);
}

static void check_foreign(const void *data, size_t len, const char *why_part)
{
    unsigned char *buf = copy_exact(data, len);
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &heap, -1, 0);
    lt_capture_reader_t r;
    int rc = lt_capture_reader_open(&r, &f.base, len ? buf : NULL, len, 0);
    LT_EQ_INT(rc, LT_EFORMAT);
    if (LT_NOT_NULL(r.why))
        LT_CHECK(strstr(r.why, why_part) != NULL);
    LT_EQ_INT(f.live, 0);
    free(buf);
}

static void test_foreign(void)
{
    check_foreign("", 0, "empty");
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    check_foreign(png, sizeof(png), "magic");
    check_foreign("hello, world\n", 13, "magic");
    static const unsigned char elf[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    check_foreign(elf, sizeof(elf), "magic");
    check_foreign("\x89LT", 3, "ends inside");                  /* a cut magic */
    check_foreign(LT_CAPTURE_MAGIC "\x01\x00\x00", 11, "ends inside");
    /* Random bytes, many lengths. */
    uint64_t x = 88172645463325252ull;
    unsigned char rnd[512];
    for (size_t n = 1; n <= sizeof(rnd); n += 7) {
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            rnd[i] = (unsigned char)x;
        }
        check_foreign(rnd, n, "magic");
    }
    /* Magic and random bytes after it. */
    memcpy(rnd, LT_CAPTURE_MAGIC "\x01\x00\x00\x00", 12);
    check_foreign(rnd, sizeof(rnd), "header");

    /* Other major versions: refused, with the version reported. The header
     * checksum covers the preamble, so it is recomputed. */
    size_t len;
    unsigned char *full = sample_bytes(&len);
    if (!LT_NOT_NULL(full))
        return;
    lt_capture_reader_t r;
    LT_EQ_INT(lt_capture_reader_open(&r, &heap, full, len, 0), 0);
    size_t header_end = r.offset;
    lt_capture_reader_release(&r);
    const unsigned majors[] = {2, 0, 0x1234};
    for (int i = 0; i < 3; i++) {
        unsigned char *buf = copy_exact(full, len);
        buf[8] = (unsigned char)majors[i];
        buf[9] = (unsigned char)(majors[i] >> 8);
        buf[10] = 7;                            /* minor 7 */
        uint32_t crc = lt__capture_crc32c(0, buf, header_end - 4);
        for (int k = 0; k < 4; k++)
            buf[header_end - 4 + k] = (unsigned char)(crc >> (8 * k));
        LT_EQ_INT(lt_capture_reader_open(&r, &heap, buf, len, 0), LT_EFORMAT);
        LT_EQ_UINT(r.header.major, majors[i]);
        LT_EQ_UINT(r.header.minor, 7);
        LT_CHECK(strstr(r.why, majors[i] > 1 ? "newer" : "unknown") != NULL);
        /* The same major with a newer minor is read. */
        buf[8] = LT_CAPTURE_VERSION_MAJOR, buf[9] = 0;
        crc = lt__capture_crc32c(0, buf, header_end - 4);
        for (int k = 0; k < 4; k++)
            buf[header_end - 4 + k] = (unsigned char)(crc >> (8 * k));
        summary_t s = read_all(buf, len, &heap, 0, 1);
        LT_EQ_INT(s.open_rc, 0);
        LT_EQ_INT(s.stop, LT_CAPTURE_COMPLETE);
        LT_CHECK(s.checkpoints_ok);
        free(buf);
    }
    free(full);
}

/* Records that pass their checksum but break a rule of the format, and
 * framing faults. Each is appended to a valid start (header, 2 strings, a
 * frame, a stack, a checkpoint). */
static void check_tail(const unsigned char *head, size_t hlen, const unsigned char *tail, size_t tlen,
                       lt_capture_stop_t stop, const char *why_part, uint64_t records)
{
    unsigned char *buf = malloc(hlen + tlen);
    memcpy(buf, head, hlen);
    if (tlen > 0)
        memcpy(buf + hlen, tail, tlen);
    lt_capture_reader_t r;
    if (LT_EQ_INT(lt_capture_reader_open(&r, &heap, buf, hlen + tlen, 0), 0)) {
        lt_capture_type_t type;
        while (lt_capture_reader_next(&r, &type) == 1)
            ;
        LT_EQ_INT(r.stop, stop);
        if (why_part != NULL && LT_NOT_NULL(r.why) && !LT_CHECK(strstr(r.why, why_part) != NULL))
            lt__printf(2, "    why: %s\n", r.why);
        LT_EQ_UINT(r.records, records);
        if (stop != LT_CAPTURE_COMPLETE && stop != LT_CAPTURE_UNFINISHED)
            LT_LE_UINT(r.stop_offset, hlen + (records > 6 ? tlen : 0));
        lt_capture_reader_release(&r);
    }
    free(buf);
}

static void test_rules(void)
{
    int fd = mem_file();
    lt_capture_writer_t w;
    lt_capture_meta_t m = sample_meta();
    if (!LT_EQ_INT(lt_capture_writer_open(&w, &heap, fd, &m, 0), 0))
        return;
    const lt_capture_frame_t fr = {0, 1, 3, 0, 0};
    const uint32_t st[] = {0};
    const lt_capture_row_t sites[] = {{0, 10, 1}};
    lt_capture_checkpoint_t cp;
    memset(&cp, 0, sizeof(cp));
    cp.sites = sites;
    cp.nsites = 1;
    LT_EQ_INT(lt_capture_writer_add_string(&w, "f.py", 4, NULL), 0);
    LT_EQ_INT(lt_capture_writer_add_string(&w, "g", 1, NULL), 0);
    LT_EQ_INT(lt_capture_writer_add_frame(&w, &fr, NULL), 0);
    LT_EQ_INT(lt_capture_writer_add_stack(&w, st, 1, NULL), 0);
    LT_EQ_INT(lt_capture_writer_checkpoint(&w, &cp), 0);
    lt_capture_writer_release(&w);
    size_t hlen;
    unsigned char *head = file_bytes(fd, &hlen);
    close(fd);
    if (!LT_NOT_NULL(head))
        return;
    /* 6 records so far: header, 2 strings, frame, stack, checkpoint. */
    unsigned char t[256];
    size_t n;

    check_tail(head, hlen, NULL, 0, LT_CAPTURE_UNFINISHED, NULL, 6);

    /* Unknown record types are skipped. */
    n = 0;
    put_record(t, &n, sizeof(t), 0x40, (const unsigned char *)"future", 6);
    put_record(t, &n, sizeof(t), LT_CAPTURE_STRING, (const unsigned char *)"h", 1);
    put_record(t, &n, sizeof(t), 0xff, NULL, 0);
    check_tail(head, hlen, t, n, LT_CAPTURE_UNFINISHED, NULL, 7);

    /* Frames: an undefined string; a line over 32 bits; a cut payload. */
    static const unsigned char bad_frame1[] = {3, 1, 5, 0};         /* file id 2: undefined */
    static const unsigned char bad_frame2[] = {1, 2, 0x80, 0x80, 0x80, 0x80, 0x10, 0};
    static const unsigned char bad_frame3[] = {1, 2, 5, 1};         /* native, no address */
    static const unsigned char good_frame[] = {1, 0, 5, 1, 0xff, 0x01, 0xaa};  /* extra byte ignored */
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_FRAME, bad_frame1, sizeof(bad_frame1));
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "string", 6);
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_FRAME, bad_frame2, sizeof(bad_frame2));
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "malformed", 6);
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_FRAME, bad_frame3, sizeof(bad_frame3));
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "malformed", 6);
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_FRAME, good_frame, sizeof(good_frame));
    check_tail(head, hlen, t, n, LT_CAPTURE_UNFINISHED, NULL, 7);

    /* Stacks: an undefined frame; a count larger than the payload. */
    static const unsigned char bad_stack1[] = {2, 0, 1};
    static const unsigned char bad_stack2[] = {5, 0, 0};
    static const unsigned char bad_stack3[] = {0xff, 0xff, 0x7f};
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_STACK, bad_stack1, sizeof(bad_stack1));
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "frame", 6);
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_STACK, bad_stack2, sizeof(bad_stack2));
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "malformed", 6);
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_STACK, bad_stack3, sizeof(bad_stack3));
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "malformed", 6);

    /* Checkpoints. The state so far: site 0 = (10, 1); 1 stack. Scalars:
     * flags, time, rss, py heap, native heap, 5 fd kinds, threads. */
#define SCALARS 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0
    static const unsigned char cp_remove_missing[] = {SCALARS, 1, 3, 0};   /* removes site 3 */
    static const unsigned char cp_remove_twice[] = {SCALARS, 2, 0, 0, 0};  /* more removals than rows */
    static const unsigned char cp_undefined[] = {SCALARS, 0, 1, 1, 2, 2};  /* adds stack 1: undefined */
    static const unsigned char cp_both[] = {SCALARS, 1, 0, 1, 0, 2, 2};    /* removes and changes site 0 */
    static const unsigned char cp_cut[] = {SCALARS, 0, 1, 0, 2};           /* a change cut short */
    static const unsigned char cp_many[] = {SCALARS, 0, 100, 0, 2, 2};     /* more changes than bytes */
    static const unsigned char cp_census_bad[] = {1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9, 1, 1};
    static const unsigned char cp_ok[] = {1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 4, 0xee};
    static const unsigned char cp_huge_id[] = {SCALARS, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0};
    static const unsigned char cp_scalar_cut[] = {0, 2, 0};
    const struct {
        const unsigned char *p;
        size_t n;
        lt_capture_stop_t stop;
        const char *why;
    } cps[] = {
        {cp_remove_missing, sizeof(cp_remove_missing), LT_CAPTURE_CORRUPT, "not there"},
        {cp_remove_twice, sizeof(cp_remove_twice), LT_CAPTURE_CORRUPT, "more rows"},
        {cp_undefined, sizeof(cp_undefined), LT_CAPTURE_CORRUPT, "not defined"},
        {cp_both, sizeof(cp_both), LT_CAPTURE_CORRUPT, "both"},
        {cp_cut, sizeof(cp_cut), LT_CAPTURE_CORRUPT, "malformed"},
        {cp_many, sizeof(cp_many), LT_CAPTURE_CORRUPT, "malformed"},
        {cp_census_bad, sizeof(cp_census_bad), LT_CAPTURE_CORRUPT, "not defined"},
        {cp_ok, sizeof(cp_ok), LT_CAPTURE_UNFINISHED, NULL},
        {cp_huge_id, sizeof(cp_huge_id), LT_CAPTURE_CORRUPT, "malformed"},
        {cp_scalar_cut, sizeof(cp_scalar_cut), LT_CAPTURE_CORRUPT, "malformed"},
    };
    for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
        n = 0;
        put_record(t, &n, sizeof(t), LT_CAPTURE_CHECKPOINT, cps[i].p, cps[i].n);
        check_tail(head, hlen, t, n, cps[i].stop, cps[i].why, cps[i].stop == LT_CAPTURE_UNFINISHED ? 7 : 6);
    }
    /* cp_ok removes site 0 and adds census row 1 = (-1 bytes, 2); the byte
     * after it stands for a field of a newer minor version. */
    {
        unsigned char *buf = malloc(hlen + 64);
        memcpy(buf, head, hlen);
        n = hlen;
        put_record(buf, &n, hlen + 64, LT_CAPTURE_CHECKPOINT, cp_ok, sizeof(cp_ok));
        lt_capture_reader_t r;
        lt_capture_type_t type;
        LT_EQ_INT(lt_capture_reader_open(&r, &heap, buf, n, 0), 0);
        while (lt_capture_reader_next(&r, &type) == 1)
            ;
        LT_EQ_UINT(r.ncheckpoints, 2);
        LT_EQ_UINT(r.checkpoint.time_ns, 1);
        LT_EQ_UINT(r.checkpoint.nsites, 0);
        LT_EQ_INT(r.checkpoint.has_census, 1);
        if (LT_EQ_UINT(r.checkpoint.ncensus, 1)) {
            LT_EQ_UINT(r.checkpoint.census[0].id, 1);
            LT_EQ_UINT(r.checkpoint.census[0].bytes, (uint64_t)-1);   /* zigzag 1 = -1 */
            LT_EQ_UINT(r.checkpoint.census[0].count, 2);
        }
        lt_capture_reader_release(&r);
        free(buf);
    }

    /* Trailers: counts that do not match; data after a good one. */
    static const unsigned char trailer_ok[] = {9, 2, 1, 1, 1};
    static const unsigned char trailer_bad[] = {9, 3, 1, 1, 1};
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_TRAILER, trailer_bad, sizeof(trailer_bad));
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "counts", 6);
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_TRAILER, trailer_ok, sizeof(trailer_ok));
    check_tail(head, hlen, t, n, LT_CAPTURE_COMPLETE, NULL, 7);
    put_record(t, &n, sizeof(t), LT_CAPTURE_STRING, (const unsigned char *)"x", 1);
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "trailer", 7);
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_TRAILER, trailer_ok, 3);
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "malformed", 6);

    /* A second header. */
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_HEADER, (const unsigned char *)"\0\0\0\0\0\0", 6);
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "second header", 6);

    /* Framing: a length of 6 varint bytes; a length over the limit; type 0
     * followed by data; a zero-filled tail; a cut length; a length that
     * runs past the end. */
    static const unsigned char long_varint[] = {2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0, 0, 0, 0};
    static const unsigned char over_limit[] = {2, 0x81, 0x80, 0x80, 0x80, 0x04, 0, 0, 0, 0};
    static const unsigned char type0[] = {0, 0, 0, 1};
    static const unsigned char zeros[4096] = {0};
    static const unsigned char cut_len[] = {2, 0x80};
    static const unsigned char past_end[] = {2, 100, 'a', 'b'};
    check_tail(head, hlen, long_varint, sizeof(long_varint), LT_CAPTURE_CORRUPT, "length", 6);
    check_tail(head, hlen, over_limit, sizeof(over_limit), LT_CAPTURE_CORRUPT, "longer", 6);
    check_tail(head, hlen, type0, sizeof(type0), LT_CAPTURE_CORRUPT, "type 0", 6);
    check_tail(head, hlen, zeros, sizeof(zeros), LT_CAPTURE_TRUNCATED, "zeros", 6);
    check_tail(head, hlen, zeros, 1, LT_CAPTURE_TRUNCATED, "zeros", 6);
    check_tail(head, hlen, cut_len, sizeof(cut_len), LT_CAPTURE_TRUNCATED, "inside", 6);
    check_tail(head, hlen, past_end, sizeof(past_end), LT_CAPTURE_TRUNCATED, "inside", 6);
    /* A checksum that does not match. */
    n = 0;
    put_record(t, &n, sizeof(t), LT_CAPTURE_STRING, (const unsigned char *)"abc", 3);
    t[n - 1] ^= 0x40;
    check_tail(head, hlen, t, n, LT_CAPTURE_CORRUPT, "checksum", 6);

    /* Header rules: a first record that is not a header; a malformed one. */
    {
        unsigned char buf[64];
        memcpy(buf, LT_CAPTURE_MAGIC "\x01\x00\x00\x00", 12);
        n = 12;
        put_record(buf, &n, sizeof(buf), LT_CAPTURE_STRING, (const unsigned char *)"x", 1);
        lt_capture_reader_t r;
        LT_EQ_INT(lt_capture_reader_open(&r, &heap, buf, n, 0), LT_EFORMAT);
        LT_CHECK(strstr(r.why, "not a header") != NULL);
        /* The header checksum starts at byte 0: rebuild it that way. */
        static const unsigned char argc_too_big[] = {1, 1, 1, 0, 0, 5, 1, 'a'};
        n = 12;
        put_record(buf, &n, sizeof(buf), LT_CAPTURE_HEADER, argc_too_big, sizeof(argc_too_big));
        uint32_t crc = lt__capture_crc32c(0, buf, n - 4);
        for (int k = 0; k < 4; k++)
            buf[n - 4 + k] = (unsigned char)(crc >> (8 * k));
        LT_EQ_INT(lt_capture_reader_open(&r, &heap, buf, n, 0), LT_EFORMAT);
        LT_CHECK(strstr(r.why, "malformed") != NULL);
        /* argc fits, its second string is cut: malformed, argv freed. */
        static const unsigned char argv_cut[] = {1, 1, 1, 0, 0, 2, 1, 'a', 9, 'b'};
        n = 12;
        put_record(buf, &n, sizeof(buf), LT_CAPTURE_HEADER, argv_cut, sizeof(argv_cut));
        crc = lt__capture_crc32c(0, buf, n - 4);
        for (int k = 0; k < 4; k++)
            buf[n - 4 + k] = (unsigned char)(crc >> (8 * k));
        lt_failing_alloc_t f;
        lt_failing_alloc_init(&f, &heap, -1, 0);
        LT_EQ_INT(lt_capture_reader_open(&r, &f.base, buf, n, 0), LT_EFORMAT);
        LT_CHECK(strstr(r.why, "malformed") != NULL);
        LT_EQ_INT(f.live, 0);
        LT_EQ_INT(f.calls, 1);
        /* And with the checksum not matching. */
        buf[n - 1] ^= 1;
        LT_EQ_INT(lt_capture_reader_open(&r, &heap, buf, n, 0), LT_EFORMAT);
        LT_CHECK(strstr(r.why, "damaged") != NULL);
        /* Skipping checksums salvages it... to the malformed argv. */
        LT_EQ_INT(lt_capture_reader_open(&r, &heap, buf, n, LT_CAPTURE_READ_NO_CHECKSUM), LT_EFORMAT);
        LT_CHECK(strstr(r.why, "malformed") != NULL);
    }
    free(head);
}

/* The size target: an hour of a steady program in sampled mode with a
 * checkpoint every 10 s (360), 400 live allocation sites with 16-frame
 * stacks and 300 types in the census, and some churn: 40 sites and 30
 * types change per checkpoint, every 10th checkpoint a site goes and a new
 * one comes. At most 1 MB. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void test_size_per_hour(void)
{
    enum { NSITES = 400, NTYPES = 300, DEPTH = 16, NFILES = 120, NFUNCS = 900, NCP = 360 };
    static lt_capture_row_t sites[NSITES + 200], census[NTYPES];
    static uint32_t frames[DEPTH];
    int fd = mem_file();
    lt_capture_writer_t w;
    lt_capture_meta_t m = sample_meta();
    if (!LT_EQ_INT(lt_capture_writer_open(&w, &lt_page_alloc, fd, &m, 0), 0))
        return;
    char name[128];
    int rc = 0;
    /* Strings: file paths, function names, type names. */
    for (int i = 0; rc == 0 && i < NFILES; i++) {
        int n = snprintf(name, sizeof(name), "/srv/app/venv/lib/python3.11/site-packages/pkg%d/module_%d.py", i % 17, i);
        rc = lt_capture_writer_add_string(&w, name, (size_t)n, NULL);
    }
    for (int i = 0; rc == 0 && i < NFUNCS; i++) {
        int n = snprintf(name, sizeof(name), "handle_request_part_%d", i);
        rc = lt_capture_writer_add_string(&w, name, (size_t)n, NULL);
    }
    uint32_t first_type = w.nstrings;
    for (int i = 0; rc == 0 && i < NTYPES; i++) {
        int n = snprintf(name, sizeof(name), "pkg%d.models.RecordType%d", i % 13, i);
        rc = lt_capture_writer_add_string(&w, name, (size_t)n, NULL);
    }
    /* Frames (each function once, at a line) and stacks sharing a trunk. */
    for (int i = 0; rc == 0 && i < NFUNCS; i++) {
        lt_capture_frame_t f = {(uint32_t)(i % NFILES), (uint32_t)(NFILES + i), (uint32_t)(10 + i * 7 % 900), 0, 0};
        rc = lt_capture_writer_add_frame(&w, &f, NULL);
    }
    uint32_t nstacks = 0;
    for (int s = 0; rc == 0 && s < NSITES + 200; s++) {
        for (int d = 0; d < DEPTH; d++)
            frames[d] = d < 6 ? (uint32_t)(rnd() % NFUNCS) : (uint32_t)(DEPTH - d);
        rc = lt_capture_writer_add_stack(&w, frames, DEPTH, NULL);
        nstacks++;
    }
    LT_EQ_INT(rc, 0);
    uint64_t tables = w.bytes_written;
    /* The steady state: live bytes are multiples of the sampling mean (each
     * sample stands for that many bytes). */
    size_t nsites = NSITES;
    for (int i = 0; i < NSITES; i++) {
        sites[i].id = (uint32_t)i;
        sites[i].count = 1 + rnd() % 50;
        sites[i].bytes = sites[i].count * 512 * 1024;
    }
    for (int i = 0; i < NTYPES; i++) {
        census[i].id = first_type + (uint32_t)i;
        census[i].count = 10 + rnd() % 100000;
        census[i].bytes = census[i].count * (16 + rnd() % 200);
    }
    uint32_t next_site = NSITES;
    uint64_t rss = 300u << 20;
    for (int c = 0; rc == 0 && c < NCP; c++) {
        /* Churn: 40 sites gain or lose a sample, 30 types change a little. */
        for (int k = 0; k < 40; k++) {
            lt_capture_row_t *s = &sites[rnd() % nsites];
            if (rnd() % 2 && s->count > 1) {
                s->count--;
                s->bytes -= 512 * 1024;
            } else {
                s->count++;
                s->bytes += 512 * 1024;
            }
        }
        for (int k = 0; k < 30; k++) {
            lt_capture_row_t *t = &census[rnd() % NTYPES];
            uint64_t d = rnd() % 20;
            t->count += d;
            t->bytes += d * 64;
        }
        /* Every 10th checkpoint a site goes and a new one comes. */
        if (c % 10 == 9 && next_site < nstacks) {
            sites[rnd() % nsites] = sites[nsites - 1];
            sites[nsites - 1].id = next_site++;
            sites[nsites - 1].count = 1;
            sites[nsites - 1].bytes = 512 * 1024;
        }
        lt_capture_checkpoint_t cp;
        memset(&cp, 0, sizeof(cp));
        cp.time_ns = (uint64_t)c * 10000000000ull + rnd() % 3000000;
        rss += (rnd() % 64) * 4096;
        rss -= (rnd() % 64) * 4096;
        cp.rss_bytes = rss;
        cp.py_heap_bytes = 200u << 20 | (rnd() % 100000);
        cp.fds[0] = 12 + rnd() % 2, cp.fds[1] = 40 + rnd() % 5, cp.fds[2] = 2, cp.fds[3] = 3, cp.fds[4] = 3;
        cp.threads = 9;
        cp.sites = sites;
        cp.nsites = nsites;
        cp.has_census = 1;                      /* a census at every checkpoint: the worst case */
        cp.census = census;
        cp.ncensus = NTYPES;
        rc = lt_capture_writer_checkpoint(&w, &cp);
    }
    LT_EQ_INT(rc, 0);
    LT_EQ_INT(lt_capture_writer_finish(&w, 3600000000000ull), 0);
    uint64_t total = w.bytes_written;
    lt__printf(1, "    capture of one steady hour: %llu bytes (%llu of strings, frames, stacks; %llu per checkpoint)\n",
               (unsigned long long)total, (unsigned long long)tables,
               (unsigned long long)((total - tables) / NCP));
    LT_LE_UINT(total, 1000000);
    lt_capture_writer_release(&w);

    /* It reads back to the last state written. */
    size_t len;
    unsigned char *buf = file_bytes(fd, &len);
    close(fd);
    lt_capture_reader_t r;
    if (LT_NOT_NULL(buf) && LT_EQ_INT(lt_capture_reader_open(&r, &lt_page_alloc, buf, len, 0), 0)) {
        lt_capture_type_t type;
        while (lt_capture_reader_next(&r, &type) == 1)
            ;
        LT_EQ_INT(r.stop, LT_CAPTURE_COMPLETE);
        LT_EQ_UINT(r.ncheckpoints, NCP);
        rows_match(r.checkpoint.sites, r.checkpoint.nsites, sites, nsites);
        rows_match(r.checkpoint.census, r.checkpoint.ncensus, census, NTYPES);
        lt_capture_reader_release(&r);
    }
    free(buf);
}

/* Argument and state errors, and write errors. */
static void test_writer_errors(void)
{
    lt_capture_writer_t w;
    lt_capture_meta_t m = sample_meta();
    LT_EQ_INT(lt_capture_writer_open(&w, &heap, -1, &m, 0), LT_EINVAL);
    LT_EQ_INT(lt_capture_writer_open(&w, &heap, 1, NULL, 0), LT_EINVAL);
    const char *const bad_argv[] = {"a", NULL};
    lt_capture_meta_t bad = m;
    bad.argc = 2, bad.argv = bad_argv;
    LT_EQ_INT(lt_capture_writer_open(&w, &heap, 1, &bad, 0), LT_EINVAL);
    bad.argv = NULL;
    LT_EQ_INT(lt_capture_writer_open(&w, &heap, 1, &bad, 0), LT_EINVAL);
    bad.argc = LT_CAPTURE_MAX_ARGC + 1;
    LT_EQ_INT(lt_capture_writer_open(&w, &heap, 1, &bad, 0), LT_EINVAL);

    /* A descriptor not open for writing: the error of write(2), nothing held. */
    int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
    lt_failing_alloc_t f;
    lt_failing_alloc_init(&f, &heap, -1, 0);
    LT_EQ_INT(lt_capture_writer_open(&w, &f.base, ro, &m, 0), -EBADF);
    LT_EQ_INT(f.live, 0);
    close(ro);
    /* A full device. */
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (full >= 0) {
        LT_EQ_INT(lt_capture_writer_open(&w, &f.base, full, &m, LT_CAPTURE_FSYNC), -ENOSPC);
        LT_EQ_INT(f.live, 0);
        close(full);
    }

    int fd = mem_file();
    if (!LT_EQ_INT(lt_capture_writer_open(&w, &f.base, fd, &m, LT_CAPTURE_FSYNC), 0))
        return;
    uint32_t id = 77;
    LT_EQ_INT(lt_capture_writer_add_string(&w, NULL, 1, &id), LT_EINVAL);
    LT_EQ_INT(lt_capture_writer_add_string(&w, NULL, 0, &id), 0);
    LT_EQ_UINT(id, 0);
    lt_capture_frame_t fr = {1, 0, 0, 0, 0};
    LT_EQ_INT(lt_capture_writer_add_frame(&w, &fr, NULL), LT_EINVAL);      /* string 1 not added */
    fr.file = 0, fr.flags = 2;
    LT_EQ_INT(lt_capture_writer_add_frame(&w, &fr, NULL), LT_EINVAL);      /* unknown flag */
    LT_EQ_INT(lt_capture_writer_add_frame(&w, NULL, NULL), LT_EINVAL);
    fr.flags = 0;
    LT_EQ_INT(lt_capture_writer_add_frame(&w, &fr, &id), 0);
    uint32_t st[] = {0, 1};
    LT_EQ_INT(lt_capture_writer_add_stack(&w, st, 2, NULL), LT_EINVAL);    /* frame 1 not added */
    LT_EQ_INT(lt_capture_writer_add_stack(&w, NULL, 1, NULL), LT_EINVAL);
    LT_EQ_INT(lt_capture_writer_add_stack(&w, st, LT_CAPTURE_MAX_DEPTH + 1, NULL), LT_ERANGE);
    LT_EQ_INT(lt_capture_writer_add_stack(&w, st, 1, &id), 0);
    lt_capture_row_t rows[] = {{0, 1, 1}, {0, 2, 2}};
    lt_capture_checkpoint_t cp;
    memset(&cp, 0, sizeof(cp));
    cp.sites = rows, cp.nsites = 2;
    LT_EQ_INT(lt_capture_writer_checkpoint(&w, &cp), LT_EINVAL);           /* duplicate */
    rows[1].id = 1;
    LT_EQ_INT(lt_capture_writer_checkpoint(&w, &cp), LT_EINVAL);           /* stack 1 not added */
    cp.sites = NULL;
    LT_EQ_INT(lt_capture_writer_checkpoint(&w, &cp), LT_EINVAL);
    cp.nsites = 0, cp.has_census = 1, cp.census = rows, cp.ncensus = 1;
    rows[0].id = 5;
    LT_EQ_INT(lt_capture_writer_checkpoint(&w, &cp), LT_EINVAL);           /* string 5 not added */
    LT_EQ_INT(lt_capture_writer_checkpoint(&w, NULL), LT_EINVAL);
    rows[0].id = 0;
    LT_EQ_INT(lt_capture_writer_checkpoint(&w, &cp), 0);
    LT_EQ_INT(lt_capture_writer_finish(&w, 1), 0);
    LT_EQ_INT(lt_capture_writer_add_string(&w, "x", 1, NULL), LT_EINVAL);
    LT_EQ_INT(lt_capture_writer_checkpoint(&w, &cp), LT_EINVAL);
    LT_EQ_INT(lt_capture_writer_finish(&w, 1), LT_EINVAL);
    lt_capture_writer_release(&w);
    LT_EQ_INT(f.live, 0);
    /* The refused calls left no trace. */
    size_t len;
    unsigned char *buf = file_bytes(fd, &len);
    close(fd);
    summary_t s = read_all(buf, len, &heap, 0, 0);
    LT_EQ_INT(s.stop, LT_CAPTURE_COMPLETE);
    LT_EQ_UINT(s.records, 6);
    free(buf);

    /* A write that stops half-way (a non-blocking pipe that fills up)
     * leaves a torn record: the error sticks, and the reader reads the
     * records before it. */
    int p[2];
    if (!LT_EQ_INT(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0))
        return;
    long cap = fcntl(p[1], F_GETPIPE_SZ);
    if (!LT_GT_INT(cap, 4096) || !LT_LE_INT(cap, 1 << 19) ||
        !LT_EQ_INT(lt_capture_writer_open(&w, &heap, p[1], &m, LT_CAPTURE_FSYNC), 0))
        return;
    LT_EQ_INT(lt_capture_writer_add_string(&w, "short", 5, NULL), 0);
    uint64_t before = w.bytes_written;
    static char big[1 << 20];
    memset(big, 'b', sizeof(big));
    int rc = lt_capture_writer_add_string(&w, big, (size_t)cap * 2, NULL);
    LT_EQ_INT(rc, -EAGAIN);
    LT_EQ_INT(w.error, -EAGAIN);
    LT_EQ_INT(lt_capture_writer_add_string(&w, "x", 1, NULL), -EAGAIN);
    LT_EQ_INT(lt_capture_writer_finish(&w, 1), -EAGAIN);
    LT_GT_UINT(w.bytes_written, before);        /* part of the big record went out */
    uint64_t written = w.bytes_written;
    lt_capture_writer_release(&w);
    static unsigned char got[1 << 20];
    ssize_t n = read(p[0], got, sizeof(got));
    close(p[0]);
    close(p[1]);
    if (LT_EQ_INT(n, (ssize_t)written)) {
        unsigned char *torn = copy_exact(got, (size_t)n);
        s = read_all(torn, (size_t)n, &heap, 0, 0);
        LT_EQ_INT(s.stop, LT_CAPTURE_TRUNCATED);
        LT_EQ_UINT(s.records, 2);
        free(torn);
    }
}

/* Every allocation of the writer fails once (the call is retried and the
 * file comes out byte for byte the same) or from then on (the calls fail
 * cleanly and what was written reads as a valid prefix); nothing leaks. */
static void test_writer_faults(void)
{
    size_t want_len;
    unsigned char *want = sample_bytes(&want_len);
    if (!LT_NOT_NULL(want))
        return;
    long fail_at;
    for (fail_at = 0; fail_at < 500; fail_at++) {
        int done = 0;
        for (int persistent = 0; persistent <= 1; persistent++) {
            lt_failing_alloc_t f;
            lt_failing_alloc_init(&f, &heap, fail_at, persistent);
            int fd = mem_file();
            lt_capture_writer_t w;
            lt_capture_meta_t m = sample_meta();
            int rc = lt_capture_writer_open(&w, &f.base, fd, &m, 0);
            if (rc == LT_ENOMEM && !persistent)
                rc = lt_capture_writer_open(&w, &f.base, fd, &m, 0);
            if (rc == 0) {
                rc = write_sample_body(&w, !persistent);
                lt_capture_writer_release(&w);
            }
            LT_EQ_INT(f.live, 0);
            size_t len;
            unsigned char *got = file_bytes(fd, &len);
            close(fd);
            if (f.calls <= fail_at) {
                done = 1;                        /* the whole run allocated less */
                LT_EQ_INT(rc, 0);
            } else if (!persistent) {
                LT_EQ_INT(rc, 0);
                LT_EQ_MEM(got, len, want, want_len);
            } else {
                LT_EQ_INT(rc, LT_ENOMEM);
                if (len > 0) {
                    LT_LT_UINT(len, want_len);
                    LT_EQ_MEM(got, len, want, len);
                    summary_t s = read_all(got, len, &heap, 0, 0);
                    LT_EQ_INT(s.stop, LT_CAPTURE_UNFINISHED);
                }
            }
            free(got);
        }
        if (done)
            break;
    }
    LT_GE_INT(fail_at, 5);
    LT_LT_INT(fail_at, 500);
    free(want);
}

/* Every allocation of the reader fails once (the call is retried and the
 * reading ends as without faults) or from then on (LT_ENOMEM, cleanly);
 * nothing leaks. */
static void test_reader_faults(void)
{
    size_t len;
    unsigned char *buf = sample_bytes(&len);
    if (!LT_NOT_NULL(buf))
        return;
    summary_t want = read_all(buf, len, &heap, 0, 1);
    long fail_at;
    for (fail_at = 0; fail_at < 500; fail_at++) {
        int done = 0;
        for (int persistent = 0; persistent <= 1; persistent++) {
            lt_failing_alloc_t f;
            lt_failing_alloc_init(&f, &heap, fail_at, persistent);
            lt_capture_reader_t r;
            int rc = lt_capture_reader_open(&r, &f.base, buf, len, 0);
            int nomem = rc == LT_ENOMEM;
            if (rc == LT_ENOMEM) {
                LT_EQ_INT(f.live, 0);
                if (!persistent)
                    rc = lt_capture_reader_open(&r, &f.base, buf, len, 0);
            }
            if (rc == 0) {
                lt_capture_type_t type;
                while ((rc = lt_capture_reader_next(&r, &type)) != 0) {
                    if (rc == LT_ENOMEM) {
                        nomem = 1;
                        if (persistent)
                            break;
                        continue;       /* the retry goes on where it failed */
                    }
                    if (type == LT_CAPTURE_CHECKPOINT)
                        checkpoint_matches(&r.checkpoint, (int)r.ncheckpoints - 1);
                }
                if (rc == 0) {
                    LT_EQ_INT(r.stop, want.stop);
                    LT_EQ_UINT(r.records, want.records);
                    LT_EQ_UINT(r.ncheckpoints, want.ncheckpoints);
                    LT_EQ_UINT(r.offset, len);
                }
                lt_capture_reader_release(&r);
            }
            LT_EQ_INT(f.live, 0);
            if (f.calls <= fail_at)
                done = 1;
            else
                LT_CHECK(nomem);
        }
        if (done)
            break;
    }
    LT_GE_INT(fail_at, 5);
    LT_LT_INT(fail_at, 500);
    free(buf);
}

int main(void)
{
    LT_RUN(test_round_trip);
    LT_RUN(test_minimal);
    LT_RUN(test_truncation);
    LT_RUN(test_bit_flips);
    LT_RUN(test_foreign);
    LT_RUN(test_rules);
    LT_RUN(test_size_per_hour);
    LT_RUN(test_writer_errors);
    LT_RUN(test_writer_faults);
    LT_RUN(test_reader_faults);
    return lt_test_done();
}
