#include "group_commit.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* msync [from, to) of the CommitLog without any file being unmapped meanwhile */
static int sync_range(rmq_group_commit *g, int64_t from, int64_t to) {
    rmq_mfq *q = g->cl->q;
    pthread_mutex_lock(&q->warm_lock);
    int rc = rmq_commitlog_sync(g->cl, from, to);
    pthread_mutex_unlock(&q->warm_lock);
    return rc;
}

static void *flush_loop(void *arg) {
    rmq_group_commit *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopped) {
        if (g->requested <= g->flushed) {
            pthread_cond_wait(&g->work, &g->lock);
            continue;
        }
        if (g->arrivals < g->last_round) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += RMQ_GC_GATHER_US * 1000L;
            if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
            while (!g->stopped && g->arrivals < g->last_round)
                if (pthread_cond_timedwait(&g->work, &g->lock, &until) == ETIMEDOUT) break;
            if (g->stopped) break;
        }
        /* the writers that arrived since the last msync started are the ones this one covers */
        g->last_round = g->arrivals;
        g->arrivals = 0;
        int64_t from = g->flushed;
        /* everything written so far, not just what was asked: later puts ride along */
        int64_t to = __atomic_load_n(&g->cl->write_pos, __ATOMIC_ACQUIRE);
        if (to < g->requested) to = g->requested;
        pthread_mutex_unlock(&g->lock);
        int rc = sync_range(g, from, to);
        pthread_mutex_lock(&g->lock);
        if (rc == 0) {
            if (to > g->flushed) g->flushed = to;
            g->syncs++;
            g->error = 0;
        } else {
            g->error = rc;
        }
        pthread_cond_broadcast(&g->done);
        if (rc != 0 && g->requested > g->flushed) {
            /* do not spin on a failing msync: the waiters see the error; retry on the next request */
            g->requested = g->flushed;
        }
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

rmq_group_commit *rmq_gc_start(rmq_commitlog *cl, int64_t flushed) {
    rmq_group_commit *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->cl = cl;
    g->flushed = flushed;
    g->requested = flushed;
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_t wattr;
    pthread_condattr_init(&wattr);
    pthread_condattr_setclock(&wattr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->work, &wattr);
    pthread_condattr_destroy(&wattr);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->done, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&g->thread, NULL, flush_loop, g) != 0) {
        rmq_gc_free(g);
        return NULL;
    }
    g->started = 1;
    return g;
}

int rmq_gc_wait(rmq_group_commit *g, int64_t end, int64_t timeout_ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&g->lock);
    if (g->flushed >= end) { pthread_mutex_unlock(&g->lock); return 1; }
    g->arrivals++;
    if (!g->stopped && (end > g->requested || g->arrivals >= g->last_round)) {
        if (end > g->requested) g->requested = end;
        pthread_cond_signal(&g->work);
    }
    int rc = 1;
    while (g->flushed < end) {
        if (g->stopped) { rc = 0; break; }
        int w = pthread_cond_timedwait(&g->done, &g->lock, &deadline);
        if (g->flushed >= end) break;
        if (g->error) { rc = g->error; break; } /* the msync that should have covered us failed */
        if (w == ETIMEDOUT) { rc = 0; break; }
        if (end > g->requested && !g->stopped) { /* the flusher gave up after a failure: ask again */
            g->requested = end;
            pthread_cond_signal(&g->work);
        }
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}

int rmq_gc_flush_to(rmq_group_commit *g, int64_t target) {
    pthread_mutex_lock(&g->lock);
    int64_t from = g->flushed;
    int stopped = g->stopped;
    pthread_mutex_unlock(&g->lock);
    if (stopped || target <= from) return 0;
    int rc = sync_range(g, from, target);
    pthread_mutex_lock(&g->lock);
    if (rc == 0) {
        if (target > g->flushed) g->flushed = target;
        g->syncs++;
    }
    pthread_cond_broadcast(&g->done);
    pthread_mutex_unlock(&g->lock);
    return rc;
}

void rmq_gc_stop(rmq_group_commit *g) {
    if (!g) return;
    pthread_mutex_lock(&g->lock);
    int was = g->stopped;
    g->stopped = 1;
    pthread_cond_broadcast(&g->work);
    pthread_cond_broadcast(&g->done);
    pthread_mutex_unlock(&g->lock);
    if (!was && g->started) pthread_join(g->thread, NULL);
}

void rmq_gc_free(rmq_group_commit *g) {
    if (!g) return;
    rmq_gc_stop(g);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->work);
    pthread_cond_destroy(&g->done);
    free(g);
}
