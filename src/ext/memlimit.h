/* The memory-limit watcher of a Session: a thread of its own that polls
 * memwatch (RSS and the cgroup's usage) every LT_MEMLIMIT_PERIOD_MS without
 * the GIL, and calls back once when a limit is reached. It knows nothing of
 * sessions: the callback says what to do. */
#ifndef LT_MEMLIMIT_H
#define LT_MEMLIMIT_H

#include "memwatch.h"

#include <pthread.h>
#include <stdatomic.h>

/* Between polls. A process that grows by 1 GB/s crosses at most 50 MB of
 * its limit before the watcher sees it. */
#define LT_MEMLIMIT_PERIOD_MS 50

/* Called from the watcher thread, without the GIL, once: `hit` is
 * LT_MEMWATCH_RSS or LT_MEMWATCH_CGROUP. It must not call into Python
 * without taking the GIL, and should return quickly (polling has stopped:
 * the watcher thread ends when it returns). */
typedef void (*lt_memlimit_fn)(void *ctx, int hit, const lt_memwatch_sample_t *sample);

/* All fields are private except `watch`, which may be read (limits). */
typedef struct lt_memlimit {
    lt_memwatch_t watch;
    lt_memlimit_fn fn;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;         /* protects stop */
    pthread_cond_t cv;
    int stop;
    int running;                /* the thread was started and not joined */
    _Atomic int polling;        /* the thread is alive (for thread counts) */
} lt_memlimit_t;

/* Opens the watch (see lt_memwatch_open; `limit` 0 watches only a cgroup
 * limit) and starts the thread. Returns 0, a negative LT_E code from
 * lt_memwatch_open, or -EAGAIN (no thread); on error nothing is held. */
int lt_memlimit_start(lt_memlimit_t *m, uint64_t limit, lt_memlimit_fn fn, void *ctx);

/* Stops and joins the thread, closes the watch. Must not be called from
 * the callback. Idempotent; m may be started again. */
void lt_memlimit_stop(lt_memlimit_t *m);

/* In a forked child: the thread did not survive the fork and the watch
 * reads the parent's /proc entry. Forgets both (closing the descriptors)
 * without joining, so that lt_memlimit_start can run again. */
void lt_memlimit_forget_after_fork(lt_memlimit_t *m);

#endif
