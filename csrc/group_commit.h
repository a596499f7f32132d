/* Group commit for SYNC_FLUSH: one flusher thread, many waiting writers.
 *
 * Why: RocketMQ's GroupCommitService -- a put that must be durable queues a request;
 * a dedicated thread msyncs once up to the highest offset written so far and wakes
 * every waiter it covered; requests arriving during that msync are served by the next
 * one. The Python version ("the first waiter leads") re-elected a leader among woken
 * writer threads, which under the GIL started a new msync for one or two puts at a time
 * (~4 puts per msync with 64 writers). Here the flusher never holds the GIL, writers
 * wait on a pthread condition variable with the GIL released (cffi drops it for the
 * call), and an msync covers everything written while the previous one ran.
 *
 * Gathering: when fewer writers have arrived since the last msync started than that
 * msync covered, the flusher gives the others up to RMQ_GC_GATHER_US to arrive (they are usually queued behind
 * the GIL, a few microseconds apart), so one msync covers a whole wave of writers
 * instead of the first few. A lone writer never waits (1 of 1 is there).
 *
 * The msync runs under the CommitLog queue's warm_lock, which is also what removing a
 * file takes (mapped_file.h), so retention never unmaps a file under it. */
#ifndef RMQ_GROUP_COMMIT_H
#define RMQ_GROUP_COMMIT_H
#include <pthread.h>
#include <stdint.h>
#include "commitlog.h"

#define RMQ_GC_GATHER_US 200

typedef struct rmq_group_commit {
    rmq_commitlog *cl;
    pthread_mutex_t lock;
    pthread_cond_t work;   /* the flusher waits here for requested > flushed */
    pthread_cond_t done;   /* writers wait here for flushed to move */
    int64_t requested;     /* highest end offset a writer waits for */
    int64_t flushed;       /* bytes below are msync'ed */
    int64_t syncs;         /* msyncs done */
    int32_t error;         /* negative errno of the last failed msync, 0 after a good one */
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
