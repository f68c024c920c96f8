/* Writes the seed corpus of fuzz_capture: a few valid captures made by the
 * writer (header only; every record kind with native frames, empty stacks,
 * checkpoints with and without a census, added, changed and removed rows;
 * many small deltas; a file without a trailer; one cut inside a record).
 *
 * Usage: gen_corpus DIR (DIR must exist). */
#include "alloc.h"
#include "capture.h"
#include "errors.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(call)                                                                                             \
    do {                                                                                                        \
        int rc_ = (call);                                                                                       \
        if (rc_ < 0) {                                                                                          \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, lt_strerror(rc_));           \
            exit(1);                                                                                            \
        }                                                                                                       \
    } while (0)

static const char *dir;

static int create(const char *name, lt_capture_writer_t *w, uint64_t mode, const char *const *argv, size_t argc)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    lt_capture_meta_t meta = {
        .created_ns = 1700000000000000000ull,
        .pid = 1234,
        .python_version = "3.12.1",
        .argc = argc,
        .argv = argv,
        .sample_mean = mode == LT_CAPTURE_MODE_SAMPLED ? 512 * 1024 : 0,
        .mode = mode,
    };
    CHECK(lt_capture_writer_open(w, &lt_page_alloc, fd, &meta, 0));
    return fd;
}

static void tables(lt_capture_writer_t *w, int nstrings, int nframes, int nstacks)
{
    char s[64];
    for (int i = 0; i < nstrings; i++) {
        int n = snprintf(s, sizeof(s), i % 3 ? "func_%d" : "/app/mod%d.py", i);
        CHECK(lt_capture_writer_add_string(w, s, (size_t)n, NULL));
    }
    for (int i = 0; i < nframes; i++) {
        lt_capture_frame_t f = {(uint32_t)(i % nstrings), (uint32_t)((i * 7 + 1) % nstrings), (uint32_t)(i * 13),
                                0, 0};
        if (i % 5 == 4) {
            f.flags = LT_CAPTURE_FRAME_NATIVE;
            f.address = 0x7f0000000000ull + (uint64_t)i * 0x1234;
        }
        if (i % 7 == 6)
            f.function = LT_CAPTURE_NONE;
        CHECK(lt_capture_writer_add_frame(w, &f, NULL));
    }
    uint32_t ids[8];
    for (int i = 0; i < nstacks; i++) {
        int depth = i % 9 == 8 ? 0 : 1 + i % 8;
        for (int d = 0; d < depth; d++)
            ids[d] = (uint32_t)((i + d * 3) % nframes);
        CHECK(lt_capture_writer_add_stack(w, ids, (size_t)depth, NULL));
    }
}

static void checkpoints(lt_capture_writer_t *w, int n, int nsites, int ntypes, int census_every)
{
    lt_capture_row_t sites[64], census[64];
    for (int c = 0; c < n; c++) {
        int ns = 0, nt = 0;
        for (int i = 0; i < nsites; i++) {
            if ((i + c) % 5 == 0)
                continue;                       /* comes and goes */
            sites[ns].id = (uint32_t)i;
            sites[ns].count = (uint64_t)(1 + (i * c) % 4);
            sites[ns].bytes = sites[ns].count * 512 * 1024;
            ns++;
        }
        for (int i = 0; i < ntypes; i++) {
            census[nt].id = (uint32_t)i;
            census[nt].count = (uint64_t)(100 + i + (c % 3));
            census[nt].bytes = census[nt].count * 56;
            nt++;
        }
        lt_capture_checkpoint_t cp;
        memset(&cp, 0, sizeof(cp));
        cp.time_ns = (uint64_t)c * 10000000000ull;
        cp.rss_bytes = (uint64_t)(200 + c) << 20;
        cp.py_heap_bytes = (uint64_t)(100 + c / 2) << 20;
        cp.native_heap_bytes = c % 2 ? 4096 : 0;
        for (int k = 0; k < LT_CAPTURE_FD_KINDS; k++)
            cp.fds[k] = (uint64_t)(k + c % 3);
        cp.threads = 2 + (uint64_t)(c % 2);
        cp.sites = sites;
        cp.nsites = (size_t)ns;
        cp.has_census = census_every > 0 && c % census_every == 0;
        cp.census = census;
        cp.ncensus = (size_t)nt;
        CHECK(lt_capture_writer_checkpoint(w, &cp));
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    static const char *const args[] = {"app.py", "--serve", "-v"};
    lt_capture_writer_t w;
    int fd;

    fd = create("header_only.lt", &w, LT_CAPTURE_MODE_OFF, NULL, 0);
    lt_capture_writer_release(&w);
    close(fd);

    fd = create("small.lt", &w, LT_CAPTURE_MODE_SAMPLED, args, 3);
    tables(&w, 6, 8, 5);
    checkpoints(&w, 4, 5, 3, 2);
    CHECK(lt_capture_writer_finish(&w, 40000000000ull));
    lt_capture_writer_release(&w);
    close(fd);

    fd = create("deltas.lt", &w, LT_CAPTURE_MODE_TRACE, args, 1);
    tables(&w, 20, 30, 40);
    checkpoints(&w, 30, 40, 20, 3);
    CHECK(lt_capture_writer_finish(&w, 300000000000ull));
    lt_capture_writer_release(&w);
    close(fd);

    /* Unfinished: no trailer, as after a kill between records. */
    fd = create("unfinished.lt", &w, LT_CAPTURE_MODE_SAMPLED, args, 2);
    tables(&w, 4, 4, 4);
    checkpoints(&w, 3, 4, 4, 1);
    lt_capture_writer_release(&w);
    close(fd);

    /* Cut inside its last record. */
    fd = create("torn.lt", &w, LT_CAPTURE_MODE_SAMPLED, args, 3);
    tables(&w, 5, 5, 5);
    checkpoints(&w, 2, 5, 5, 1);
    uint64_t size = w.bytes_written;
    lt_capture_writer_release(&w);
    if (ftruncate(fd, (off_t)(size - 3)) != 0) {
        perror("ftruncate");
        return 1;
    }
    close(fd);
    return 0;
}
