/* The preload library's capture writer: a background thread that appends a
 * checkpoint of the native sites every interval, and the last one at exit.
 * New stacks and frames are written before the checkpoint that first names
 * them; native frames get the library path and function name of
 * lt_symbolize; mmap sites get an innermost pseudo-frame "mmap" so that a
 * reader can tell them from the heap's. */
#include "writer.h"

#include "capture.h"
#include "errors.h"
#include "intern.h"
#include "preload.h"
#include "procfs.h"
#include "symbolize.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert(LT_CAPTURE_FD_KINDS == LT_FD_KIND_COUNT, "the capture counts descriptors by procfs's kinds");

/* The writer's state. `lock` protects everything but `started`; it is held
 * by whoever writes (the thread, a forced checkpoint, the exit) for a whole
 * checkpoint, and across fork. Lock order: lock, then the tables' lock
 * (inside lt_pl_rows_take); lt_symbolize is called with `lock` held, never
 * with the tables' lock. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* wakes the thread early: stop */
    int wanted;                 /* a capture was asked for and is not given up */
    int opened;
    int finished;
    int fd;
    uint64_t mean;
    uint64_t interval_ns;
    char path[4096];
    _Atomic int started;        /* the thread was started (or must never be) */
    int running;                /* the thread exists and must be joined */
    int stop;
    pthread_t thread;
    uint64_t t0;                /* monotonic ns when the file was opened */
    lt_capture_writer_t w;
    lt_intern_t strings;        /* string -> intern id; capture id = intern id - 1 */
    uint32_t *frame_ids;        /* preload frame id -> capture frame id + 1; 0: not written */
    size_t frame_ids_cap;
    uint32_t *stack_ids[LT_PRELOAD_KINDS]; /* preload stack id -> capture stack id + 1 */
    size_t stack_ids_cap[LT_PRELOAD_KINDS];
    uint32_t mmap_frame;        /* capture frame id + 1 of the "mmap" pseudo-frame */
    lt_pl_rows_t rows;
    lt_capture_row_t *cp;
    size_t cp_cap;
} wr = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void lt_plw_configure(const char *path, uint64_t mean)
{
    wr.mean = mean;
    wr.interval_ns = 1000000000u;
    const char *iv = getenv("LEAKTRACE_NATIVE_INTERVAL");
    if (iv != NULL && *iv != '\0') {
        char *end;
        double s = strtod(iv, &end);
        if (*end == '\0' && s >= 0.01 && s <= 86400)
            wr.interval_ns = (uint64_t)(s * 1e9);
    }
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(wr.path)) {
        atomic_store(&wr.started, 1);
        return;
    }
    /* "%p" in the path stands for the pid: then every process writes its
     * own capture, exec'd children included, and the variable stays. */
    const char *p = strstr(path, "%p");
    if (p != NULL) {
        char pid[24];
        int n = snprintf(pid, sizeof(pid), "%ld", (long)getpid());
        size_t head = (size_t)(p - path), tail = strlen(p + 2);
        if (n <= 0 || head + (size_t)n + tail >= sizeof(wr.path)) {
            atomic_store(&wr.started, 1);
            return;
        }
        memcpy(wr.path, path, head);
        memcpy(wr.path + head, pid, (size_t)n);
        memcpy(wr.path + head + n, p + 2, tail + 1);
    } else {
        memcpy(wr.path, path, strlen(path) + 1);
        unsetenv("LEAKTRACE_CAPTURE");
    }
    wr.wanted = 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wr.cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* Gives the capture up (a write failed): the file keeps what was written. */
static void give_up_locked(void)
{
    wr.wanted = 0;
    if (wr.opened) {
        lt_capture_writer_release(&wr.w);
        close(wr.fd);
        wr.fd = -1;
        wr.opened = 0;
    }
}

/* The program's arguments from /proc/self/cmdline, in `buf` (lt_pl_alloc,
 * *cap bytes), split into argv (also from lt_pl_alloc, *argv_cap bytes). */
static size_t read_cmdline(char **buf, size_t *cap, const char ***argv, size_t *argv_cap)
{
    *buf = NULL;
    *argv = NULL;
    *cap = *argv_cap = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t c = 1 << 16, n = 0;
    char *b = lt_alloc(&lt_pl_alloc, c);
    if (b == NULL) {
        close(fd);
        return 0;
    }
    for (;;) {
        ssize_t k = read(fd, b + n, c - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        if (n == c - 1)
            break;              /* absurdly long: cut */
    }
    close(fd);
    b[n] = '\0';
    size_t argc = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i] == '\0')
            argc++;
    if (n > 0 && b[n - 1] != '\0')
        argc++;
    if (argc > LT_CAPTURE_MAX_ARGC)
        argc = LT_CAPTURE_MAX_ARGC;
    size_t ac = (argc + 1) * sizeof(char *);
    const char **av = lt_alloc(&lt_pl_alloc, ac);
    if (av == NULL) {
        lt_free(&lt_pl_alloc, b, c);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n && k < argc; k++) {
        av[k] = b + i;
        i += strlen(b + i) + 1;
    }
    *buf = b;
    *cap = c;
    *argv = av;
    *argv_cap = ac;
    return k;
}

static int open_locked(void)
{
    int fd = open(wr.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    char *buf;
    const char **argv;
    size_t cap, argv_cap;
    lt_capture_meta_t meta = {0};
    meta.argc = read_cmdline(&buf, &cap, &argv, &argv_cap);
    meta.argv = argv;
    meta.sample_mean = wr.mean;
    meta.mode = wr.mean ? LT_CAPTURE_MODE_SAMPLED : LT_CAPTURE_MODE_TRACE;
    int rc = lt_capture_writer_open(&wr.w, &lt_pl_alloc, fd, &meta, 0);
    lt_free(&lt_pl_alloc, buf, cap);
    lt_free(&lt_pl_alloc, (void *)argv, argv_cap);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    lt_intern_init(&wr.strings, &lt_pl_alloc);
    wr.fd = fd;
    wr.opened = 1;
    wr.t0 = monotonic_ns();
    return 0;
}

/* The capture id of a string (NULL: LT_CAPTURE_NONE), adding it once. */
static int string_id(const char *s, uint32_t *id)
{
    if (s == NULL) {
        *id = LT_CAPTURE_NONE;
        return 0;
    }
    size_t len = strlen(s);
    int added;
    uint32_t iid;
    int rc = lt_intern_get_or_add(&wr.strings, s, len, &iid, &added);
    if (rc < 0)
        return rc;
    if (added) {
        uint32_t cid;
        rc = lt_capture_writer_add_string(&wr.w, s, len, &cid);
        if (rc < 0)
            return rc;          /* the ids are out of step: the caller gives up */
        if (cid != iid - 1)
            return LT_EINVAL;
    }
    *id = iid - 1;
    return 0;
}

/* Makes the slot `i` of a growable uint32 map exist. */
static int map_reserve(uint32_t **map, size_t *cap, size_t i)
{
    if (i < *cap)
        return 0;
    size_t c = *cap ? *cap : 1024;
    while (c <= i)
        c *= 2;
    uint32_t *m = lt_alloc(&lt_pl_alloc, c * sizeof(*m));
    if (m == NULL)
        return LT_ENOMEM;
    if (*cap)
        memcpy(m, *map, *cap * sizeof(*m));
    lt_free(&lt_pl_alloc, *map, *cap * sizeof(*m));
    *map = m;
    *cap = c;
    return 0;
}

static int frame_id(uint32_t pid, uint32_t *out)
{
    int rc = map_reserve(&wr.frame_ids, &wr.frame_ids_cap, pid);
    if (rc < 0)
        return rc;
    if (wr.frame_ids[pid]) {
        *out = wr.frame_ids[pid] - 1;
        return 0;
    }
    const lt_preload_frame_t *f = lt_pl_frame(pid);
    if (f == NULL)
        return LT_EINVAL;
    lt_capture_frame_t cf = {LT_CAPTURE_NONE, LT_CAPTURE_NONE, f->line, 0, 0};
    if (f->flags & LT_PRELOAD_FRAME_NATIVE) {
        lt_preload_sym_t sym;
        cf.flags = LT_CAPTURE_FRAME_NATIVE;
        cf.address = f->address;
        if (lt_symbolize(f->address - 1, &sym) == 0) {
            if ((rc = string_id(sym.library, &cf.file)) < 0 || (rc = string_id(sym.function, &cf.function)) < 0)
                return rc;
        }
    } else if ((rc = string_id(f->file, &cf.file)) < 0 || (rc = string_id(f->function, &cf.function)) < 0) {
        return rc;
    }
    rc = lt_capture_writer_add_frame(&wr.w, &cf, out);
    if (rc < 0)
        return rc;
    wr.frame_ids[pid] = *out + 1;
    return 0;
}

static int stack_id(uint32_t kind, uint32_t stack, uint32_t *out)
{
    int rc = map_reserve(&wr.stack_ids[kind], &wr.stack_ids_cap[kind], stack);
    if (rc < 0)
        return rc;
    if (wr.stack_ids[kind][stack]) {
        *out = wr.stack_ids[kind][stack] - 1;
        return 0;
    }
    size_t n;
    const uint32_t *ids = lt_pl_stack_frames(stack, &n);
    if (ids == NULL && n > 0)
        return LT_EINVAL;
    uint32_t frames[1 + 128];
    size_t k = 0;
    if (kind == LT_PRELOAD_KIND_MMAP) {
        if (!wr.mmap_frame) {
            lt_capture_frame_t cf = {LT_CAPTURE_NONE, LT_CAPTURE_NONE, 0, LT_CAPTURE_FRAME_NATIVE, 0};
            uint32_t id;
            if ((rc = string_id("mmap", &cf.function)) < 0 || (rc = lt_capture_writer_add_frame(&wr.w, &cf, &id)) < 0)
                return rc;
            wr.mmap_frame = id + 1;
        }
        frames[k++] = wr.mmap_frame - 1;
    }
    for (size_t i = 0; i < n && k < sizeof(frames) / sizeof(frames[0]); i++)
        if ((rc = frame_id(ids[i], &frames[k++])) < 0)
            return rc;
    rc = lt_capture_writer_add_stack(&wr.w, frames, k, out);
    if (rc < 0)
        return rc;
    wr.stack_ids[kind][stack] = *out + 1;
    return 0;
}

static int checkpoint_locked(void)
{
    if (!wr.wanted)
        return LT_ENOENT;
    int rc = 0;
    if (!wr.opened && (rc = open_locked()) < 0)
        goto error;
    if ((rc = lt_pl_rows_take(&wr.rows, 0)) < 0)
        return rc;              /* no memory now: the next checkpoint may do */
    if (wr.rows.n > wr.cp_cap) {
        size_t cap = wr.rows.n + wr.rows.n / 2 + 64;
        lt_capture_row_t *cp = lt_alloc(&lt_pl_alloc, cap * sizeof(*cp));
        if (cp == NULL)
            return LT_ENOMEM;
        lt_free(&lt_pl_alloc, wr.cp, wr.cp_cap * sizeof(*cp));
        wr.cp = cp;
        wr.cp_cap = cap;
    }
    lt_capture_checkpoint_t c = {0};
    for (size_t i = 0; i < wr.rows.n; i++) {
        const lt_pl_row_t *r = &wr.rows.rows[i];
        if ((rc = stack_id(r->kind, r->stack, &wr.cp[i].id)) < 0)
            goto error;
        wr.cp[i].bytes = r->live_bytes;
        wr.cp[i].count = r->live_count;
    }
    c.sites = wr.cp;
    c.nsites = wr.rows.n;
    c.time_ns = monotonic_ns() - wr.t0;
    for (unsigned k = 0; k < LT_PRELOAD_KINDS; k++)
        c.native_heap_bytes += wr.rows.live_bytes[k];
    lt_proc_facts_t facts;
    if (lt_proc_read(0, &facts) == 0) {
        c.rss_bytes = facts.rss_bytes;
        c.threads = facts.threads;
        for (int k = 0; k < LT_CAPTURE_FD_KINDS; k++)
            c.fds[k] = facts.fds_by_kind[k];
    }
    if ((rc = lt_capture_writer_checkpoint(&wr.w, &c)) < 0)
        goto error;
    return 0;
error:
    if (rc != LT_ENOMEM)
        give_up_locked();
    return rc;
}

int lt_plw_checkpoint(void)
{
    lt_pl_busy_enter();
    pthread_mutex_lock(&wr.lock);
    int rc = wr.finished ? LT_ENOENT : checkpoint_locked();
    pthread_mutex_unlock(&wr.lock);
    lt_pl_busy_leave();
    return rc;
}

int lt_plw_fd(void)
{
    pthread_mutex_lock(&wr.lock);
    int fd = wr.opened ? wr.fd : -1;
    pthread_mutex_unlock(&wr.lock);
    return fd;
}

static void *writer_main(void *arg)
{
    (void)arg;
    lt_pl_busy_enter();         /* for good: nothing this thread does is recorded */
    pthread_mutex_lock(&wr.lock);
    while (!wr.stop && wr.wanted) {
        struct timespec ts;
        uint64_t due = monotonic_ns() + wr.interval_ns;
        ts.tv_sec = (time_t)(due / 1000000000u);
        ts.tv_nsec = (long)(due % 1000000000u);
        while (!wr.stop && monotonic_ns() < due)
            pthread_cond_timedwait(&wr.cond, &wr.lock, &ts);
        if (wr.stop)
            break;
        checkpoint_locked();
    }
    pthread_mutex_unlock(&wr.lock);
    return NULL;
}

void lt_plw_maybe_start(void)
{
    if (atomic_load_explicit(&wr.started, memory_order_relaxed) || atomic_exchange(&wr.started, 1))
        return;
    /* The thread takes no signal of the program's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_mutex_lock(&wr.lock);
    if (wr.wanted && !wr.finished && pthread_create(&wr.thread, NULL, writer_main, NULL) == 0)
        wr.running = 1;
    pthread_mutex_unlock(&wr.lock);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void lt_plw_finish(void)
{
    pthread_mutex_lock(&wr.lock);
    atomic_store(&wr.started, 1);   /* no thread from now on */
    int running = wr.running;
    wr.stop = 1;
    wr.running = 0;
    if (running)
        pthread_cond_signal(&wr.cond);
    pthread_mutex_unlock(&wr.lock);
    if (running) {
        /* A thread stuck in a write (a full pipe) is left behind, and so is
         * the final checkpoint: two writers cannot share the file. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        if (pthread_timedjoin_np(wr.thread, NULL, &ts) != 0)
            return;
    }
    pthread_mutex_lock(&wr.lock);
    if (wr.wanted && !wr.finished && checkpoint_locked() == 0 && wr.opened) {
        lt_capture_writer_finish(&wr.w, monotonic_ns() - wr.t0);
        lt_capture_writer_release(&wr.w);
        close(wr.fd);
        wr.fd = -1;
        wr.opened = 0;
    }
    wr.finished = 1;
    pthread_mutex_unlock(&wr.lock);
}

void lt_plw_atfork_prepare(void) { pthread_mutex_lock(&wr.lock); }
void lt_plw_atfork_parent(void) { pthread_mutex_unlock(&wr.lock); }

void lt_plw_atfork_child(void)
{
    /* The parent's thread and file are the parent's: the child forgets
     * both, without writing or releasing (the memory is a copy). */
    wr.wanted = 0;
    wr.running = 0;
    wr.opened = 0;
    if (wr.fd >= 0)
        close(wr.fd);
    wr.fd = -1;
    atomic_store(&wr.started, 1);
    pthread_mutex_init(&wr.lock, NULL);
}
