#include "group_commit.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* sem_clockwait (glibc 2.30+) waits against CLOCK_MONOTONIC; sem_timedwait only against
 * CLOCK_REALTIME, which is what the deadline is then computed on */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 30))
#define RMQ_SEM_CLOCK CLOCK_MONOTONIC
#define RMQ_SEM_WAIT(sem, deadline) sem_clockwait((sem), CLOCK_MONOTONIC, (deadline))
#else
#define RMQ_SEM_CLOCK CLOCK_REALTIME
#define RMQ_SEM_WAIT(sem, deadline) sem_timedwait((sem), (deadline))
#endif

static void deadline_after(struct timespec *t, clockid_t clock, int64_t us) {
    clock_gettime(clock, t);
    t->tv_sec += us / 1000000;
    t->tv_nsec += (us % 1000000) * 1000L;
    if (t->tv_nsec >= 1000000000L) { t->tv_sec++; t->tv_nsec -= 1000000000L; }
}

/* msync [from, to) of the CommitLog without any file being unmapped meanwhile */
static int sync_range(rmq_group_commit *g, int64_t from, int64_t to) {
    rmq_mfq *q = g->cl->q;
    pthread_mutex_lock(&q->warm_lock);
    int rc = rmq_commitlog_sync(g->cl, from, to);
    pthread_mutex_unlock(&q->warm_lock);
    return rc;
}

/* Under g->lock: wake `w` (already unlinked) with `state` and `rc`. The post happens under
 * the lock, so a waiter that timed out and then finds its state set under the lock knows
 * the post is there to take. */
static void wake(rmq_gc_waiter *w, int32_t state, int32_t rc) {
    w->state = state;
    w->rc = rc;
    sem_post(&w->sem);
}

/* Under g->lock: the queue of waiters, doubly linked so that arriving (at the tail) and
 * leaving (anywhere: woken, timed out) take constant time with 64 writers queued. */
static void enqueue(rmq_group_commit *g, rmq_gc_waiter *w) {
    w->next = NULL;
    w->prev = g->tail;
    if (g->tail) g->tail->next = w;
    else g->head = w;
    g->tail = w;
}

static void unlink_waiter(rmq_group_commit *g, rmq_gc_waiter *w) {
    if (w->prev) w->prev->next = w->next;
    else g->head = w->next;
    if (w->next) w->next->prev = w->prev;
    else g->tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = 0;
}

/* Under g->lock: wake the first waiter that flushed covers. Covered writers resume one
 * after another, each waking the next on its way out of rmq_gc_wait, in arrival order: a
 * broadcast woke every writer at once to queue on the lock and then on the GIL. Ends grow
 * with arrival order, so the first covered one is almost always the head. */
static void wake_next_covered(rmq_group_commit *g) {
    for (rmq_gc_waiter *w = g->head; w != NULL; w = w->next)
        if (w->end <= g->flushed) {
            unlink_waiter(g, w);
            wake(w, 1, 1);
            return;
        }
}

/* Under g->lock: wake every waiter with `rc` (a failed msync's -errno, or 0 when stopping). */
static void wake_all(rmq_group_commit *g, int32_t rc) {
    while (g->head != NULL) {
        rmq_gc_waiter *w = g->head;
        unlink_waiter(g, w);
        wake(w, 2, rc);
    }
}

static void *flush_loop(void *arg) {
    rmq_group_commit *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopped) {
        if (g->requested <= g->flushed) {
            g->flusher = RMQ_GC_IDLE;
            pthread_cond_wait(&g->work, &g->lock);
            continue;
        }
        if (g->arrivals < g->last_round) {
            g->flusher = RMQ_GC_GATHERING;
            struct timespec until;
            deadline_after(&until, CLOCK_MONOTONIC, RMQ_GC_GATHER_US);
            while (!g->stopped && g->arrivals < g->last_round)
                if (pthread_cond_timedwait(&g->work, &g->lock, &until) == ETIMEDOUT) break;
            if (g->stopped) break;
        }
        g->flusher = RMQ_GC_SYNCING;
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
            wake_next_covered(g);
        } else {
            wake_all(g, rc); /* the msync that should have covered them failed */
            /* do not spin on a failing msync: retry when a writer asks again */
            if (g->requested > g->flushed) g->requested = g->flushed;
        }
    }
    g->flusher = RMQ_GC_IDLE;
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
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->work, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&g->thread, NULL, flush_loop, g) != 0) {
        rmq_gc_free(g);
        return NULL;
    }
    g->started = 1;
    return g;
}

/* Wait for the post, up to the deadline; 0 when posted, else ETIMEDOUT. */
static int wait_posted(sem_t *sem, const struct timespec *deadline) {
    for (;;) {
        if (RMQ_SEM_WAIT(sem, deadline) == 0) return 0;
        if (errno != EINTR) return ETIMEDOUT;
    }
}

int rmq_gc_wait(rmq_group_commit *g, int64_t end, int64_t timeout_ms) {
    struct timespec deadline;
    deadline_after(&deadline, RMQ_SEM_CLOCK, timeout_ms * 1000);
    rmq_gc_waiter me = {.next = NULL, .prev = NULL, .end = end, .state = 0, .rc = 0, .queued = 1};
    if (sem_init(&me.sem, 0, 0) != 0) return -errno;
    pthread_mutex_lock(&g->lock);
    if (g->flushed >= end || g->stopped) {
        int rc = g->flushed >= end;
        pthread_mutex_unlock(&g->lock);
        sem_destroy(&me.sem);
        return rc;
    }
    g->arrivals++;
    if (end > g->requested) g->requested = end;
    /* Wake the flusher only when it waits for this: idle, or gathering and this is the
     * last writer it waits for. Signalling it on every arrival woke it once a put, on the
     * other CPU, only to go back to sleep. */
    if (g->flusher == RMQ_GC_IDLE || (g->flusher == RMQ_GC_GATHERING && g->arrivals >= g->last_round))
        pthread_cond_signal(&g->work);
    enqueue(g, &me);
    pthread_mutex_unlock(&g->lock);
    int timed_out = wait_posted(&me.sem, &deadline);
    pthread_mutex_lock(&g->lock);
    if (timed_out) {
        if (me.queued) {
            unlink_waiter(g, &me);
            me.state = 2;
            me.rc = 0;
        } else {
            /* woken meanwhile: the post was made under the lock, take it */
            while (sem_wait(&me.sem) != 0 && errno == EINTR) {
            }
        }
    }
    /* Holding the lock here also waits out the waker's sem_post (made under the lock)
     * before this frame, and the semaphore in it, go away. */
    if (me.state == 1) wake_next_covered(g); /* hand the wake-up on: its wake overlaps our GIL wait */
    pthread_mutex_unlock(&g->lock);
    sem_destroy(&me.sem);
    return me.rc;
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
        wake_next_covered(g);
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}

void rmq_gc_stop(rmq_group_commit *g) {
    if (!g) return;
    pthread_mutex_lock(&g->lock);
    int was = g->stopped;
    g->stopped = 1;
    pthread_cond_broadcast(&g->work);
    wake_all(g, 0);
    pthread_mutex_unlock(&g->lock);
    if (!was && g->started) pthread_join(g->thread, NULL);
}

void rmq_gc_free(rmq_group_commit *g) {
    if (!g) return;
    rmq_gc_stop(g);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->work);
    free(g);
}
