/* Group commit for SYNC_FLUSH: one flusher thread, many waiting writers.
 *
 * Why: RocketMQ's GroupCommitService -- a put that must be durable queues a request;
 * a dedicated thread msyncs once up to the highest offset written so far and wakes
 * every waiter it covered; requests arriving during that msync are served by the next
 * one. The flusher never holds the GIL; writers wait with the GIL released (cffi drops
 * it for the call).
 *
 * Waking: each writer waits on its own semaphore, queued in arrival order. After an
 * msync the flusher wakes the first covered writer, and each woken writer wakes the next
 * on its way out, so the next one's wake-up overlaps this one's wait for the GIL. A
 * condition-variable broadcast woke all of them at once: each then queued on the mutex
 * and again on the GIL, ~4-5 context switches a put with 64 writer threads, which cost
 * more than the msyncs. A woken writer does not take the lock again to return. Writers
 * signal the flusher only when it waits for them (idle, or gathering and the last one
 * it waits for), not on every arrival.
 *
 * Gathering: when fewer writers have arrived since the last msync started than that
 * msync covered, the flusher gives the others up to RMQ_GC_GATHER_US to arrive (they
 * come back one after another through the GIL), so one msync covers a whole wave of
 * writers instead of the first few. A lone writer never waits (1 of 1 is there).
 * RocketMQ's GroupCommitService waits up to 10 ms; 1 ms let 64 writer threads share
 * each msync ~55 ways here, where 200 us gave ~20.
 *
 * The msync runs under the CommitLog queue's warm_lock, which is also what removing a
 * file takes (mapped_file.h), so retention never unmaps a file under it. */
#ifndef RMQ_GROUP_COMMIT_H
#define RMQ_GROUP_COMMIT_H
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include "commitlog.h"

#define RMQ_GC_GATHER_US 1000

/* A writer waiting in rmq_gc_wait (on its own stack, queued under the lock). */
typedef struct rmq_gc_waiter {
    struct rmq_gc_waiter *next, *prev;
    int64_t end;          /* it waits for flushed >= end */
    sem_t sem;            /* posted once, under the lock, when state leaves 0 */
    int32_t state;        /* 0 waiting; 1 covered; 2 failed, stopped or timed out */
    int32_t rc;           /* what rmq_gc_wait returns */
    int32_t queued;       /* still in the queue (cleared when it leaves, under the lock) */
} rmq_gc_waiter;

enum { RMQ_GC_IDLE, RMQ_GC_GATHERING, RMQ_GC_SYNCING };

typedef struct rmq_group_commit {
    rmq_commitlog *cl;
    pthread_mutex_t lock;
    pthread_cond_t work;   /* the flusher waits here for requested > flushed */
    rmq_gc_waiter *head, *tail; /* writers waiting for flushed to move, in arrival order */
    int32_t flusher;       /* RMQ_GC_IDLE, _GATHERING or _SYNCING: when a writer must signal work */
    int64_t requested;     /* highest end offset a writer waits for */
    int64_t flushed;       /* bytes below are msync'ed */
    int64_t syncs;         /* msyncs done */
    int32_t stopped;       /* no more msyncs: waiters return at once */
    int32_t arrivals;      /* writers that started waiting since the last msync started */
    int32_t last_round;    /* arrivals the last msync covered */
    int32_t started;
    pthread_t thread;
} rmq_group_commit;

/* Start the flusher; bytes below `flushed` are already durable. NULL on failure. */
rmq_group_commit *rmq_gc_start(rmq_commitlog *cl, int64_t flushed);
/* Wait until bytes below `end` are durable: 1 yes, 0 timed out (or stopped first), or a
 * negative errno when the msync failed. */
int rmq_gc_wait(rmq_group_commit *g, int64_t end, int64_t timeout_ms);
/* msync up to `target` now, on the calling thread (flush(), close); 0 or -errno. */
int rmq_gc_flush_to(rmq_group_commit *g, int64_t target);
/* Stop and join the flusher (before the CommitLog is unmapped); waiters return. */
void rmq_gc_stop(rmq_group_commit *g);
/* Free (after rmq_gc_stop; Python calls it when the last reference goes). */
void rmq_gc_free(rmq_group_commit *g);

#endif
