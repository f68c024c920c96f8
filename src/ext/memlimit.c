/* The watcher thread behind --memory-limit: polls memwatch until a limit is
 * reached or it is stopped, then calls back once. */
#include "memlimit.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static void *memlimit_thread(void *arg)
{
    lt_memlimit_t *m = arg;
    for (;;) {
        lt_memwatch_sample_t sample;
        int hit = lt_memwatch_poll(&m->watch, &sample);
        if (hit < 0)
            break;              /* statm unreadable: nothing left to watch */
        if (hit != LT_MEMWATCH_NONE) {
            atomic_store(&m->polling, 0);
            m->fn(m->ctx, hit, &sample);
            return NULL;
        }
        pthread_mutex_lock(&m->mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += LT_MEMLIMIT_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu, &until) != ETIMEDOUT)
            ;
        int stop = m->stop;
        pthread_mutex_unlock(&m->mu);
        if (stop)
            break;
    }
    atomic_store(&m->polling, 0);
    return NULL;
}

int lt_memlimit_start(lt_memlimit_t *m, uint64_t limit, lt_memlimit_fn fn, void *ctx)
{
    memset(m, 0, sizeof(*m));
    int rc = lt_memwatch_open(&m->watch, limit, NULL);
    if (rc < 0)
        return rc;
    m->fn = fn;
    m->ctx = ctx;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_store(&m->polling, 1);
    if (pthread_create(&m->thread, NULL, memlimit_thread, m) != 0) {
        atomic_store(&m->polling, 0);
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        lt_memwatch_close(&m->watch);
        return -EAGAIN;
    }
    m->running = 1;
    return 0;
}

void lt_memlimit_stop(lt_memlimit_t *m)
{
    if (!m->running)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    lt_memwatch_close(&m->watch);
    m->running = 0;
    atomic_store(&m->polling, 0);
}

void lt_memlimit_forget_after_fork(lt_memlimit_t *m)
{
    if (!m->running)
        return;
    lt_memwatch_close(&m->watch);
    m->running = 0;
    atomic_store(&m->polling, 0);
}
