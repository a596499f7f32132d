/* Warm-ahead: keep a bounded window of the CommitLog just ahead of the write position
 * prefaulted, from a background thread.
 *
 * Why: a put that copies into a page never touched takes a page fault (several us per
 * 4 KiB page), which dominates small batched puts. Prefaulting the whole 1 GiB file at
 * open (the old warm-up) made open take seconds and dirtied 1 GiB of page cache that
 * writeback then wrote out as zeros. Instead the files are created preallocated but
 * unwritten (posix_fallocate, then ftruncate; see mapped_file.c) and this thread
 * prefaults (MADV_POPULATE_WRITE) only [write position, write position + window),
 * chunk by chunk, on the other core. When the window reaches past the end of the
 * current file it creates the next file (the standby, RocketMQ's
 * AllocateMappedFileService) and warms its head, so a roll is a pointer move onto
 * resident pages. The writer kicks the thread (one mutex + signal) only every
 * window/2 bytes; nothing here is on the put path otherwise.
 *
 * The same thread also prefaults the small files written on every put besides the
 * CommitLog: the ConsumeQueue just ahead of each written queue's end and the IndexFile
 * (its whole hash-slot table when a file is created -- keys land on random slots, so a
 * new file would otherwise take a first-touch fault on most inserts until the table is
 * resident -- and its entries just ahead of the newest). The writer posts those ranges
 * as jobs (rmq_warmer_post) when its position crosses half a window; the thread takes
 * them between CommitLog chunks. Jobs name a queue's rmq_mfq or the index, which must
 * outlive the thread (both are freed only after rmq_warmer_stop); the mappings inside
 * them are found again under their warm_lock for every chunk, as unmapping takes it. */
#ifndef RMQ_WARM_AHEAD_H
#define RMQ_WARM_AHEAD_H
#include <pthread.h>
#include <stdint.h>
#include "index_file.h"
#include "mapped_file.h"

#define RMQ_WARM_MFQ 1   /* owner: rmq_mfq (a ConsumeQueue); from/to: its global offsets */
#define RMQ_WARM_INDEX 2 /* owner: rmq_index; id: rmq_index_file.id; from/to: bytes in that file */
#define RMQ_WARM_JOBS 256 /* queued jobs; a post finding the queue full is dropped (the writer faults instead) */

typedef struct rmq_warm_job {
    int kind;
    int read;  /* populate readable only: pages that hold data, which a write fault would dirty */
    void *owner;
    uint64_t id;
    uint64_t from, to;
} rmq_warm_job;

typedef struct rmq_warmer {
    rmq_mfq *q;
    uint64_t window;     /* bytes kept prefaulted ahead of the write position */
    uint64_t kicked_to;  /* writer side (under the store lock): the last target asked for */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t want;       /* warm up to here (guarded by lock) */
    uint64_t warmed_to;  /* prefaulted up to here (guarded by lock) */
    uint64_t pos;        /* write position at the last kick (guarded by lock) */
    uint64_t writer_pos; /* write position after the last put (relaxed atomic; a hint) */
    uint64_t first_file; /* start of the file holding the write position at start */
    int stop;
    int last_error;      /* negative errno of the last failed preparation, 0 if none */
    uint64_t kicks;      /* statistics for tests and logs */
    uint64_t warmed_bytes;
    rmq_warm_job jobs[RMQ_WARM_JOBS]; /* FIFO, jobs[0] next (guarded by lock) */
    int njobs;
    uint64_t jobs_posted, jobs_dropped, job_bytes; /* statistics */
    pthread_t thread;
} rmq_warmer;

/* Start the thread and warm [pos, pos + window) in the background. NULL on failure. */
rmq_warmer *rmq_warmer_start(rmq_mfq *q, uint64_t window, uint64_t pos);
/* Writer: ask for [pos, pos + window) to be warmed (wakes the thread). */
void rmq_warmer_kick(rmq_warmer *w, uint64_t pos);
/* Writer: the write position moved to pos. Cheap unless pos crossed the half window. */
static inline void rmq_warmer_note(rmq_warmer *w, uint64_t pos) {
    if (!w) return;
    __atomic_store_n(&w->writer_pos, pos, __ATOMIC_RELAXED);
    if (pos + w->window / 2 > w->kicked_to) rmq_warmer_kick(w, pos);
}
/* Writer: queue [from, to) of a ConsumeQueue or an index file for prefaulting. */
void rmq_warmer_post(rmq_warmer *w, int kind, int read, void *owner, uint64_t id, uint64_t from, uint64_t to);
/* Block until everything asked so far is warmed, jobs included (tests, benchmarks). */
void rmq_warmer_wait_idle(rmq_warmer *w);
/* Stop and join the thread, free it. */
void rmq_warmer_stop(rmq_warmer *w);

#endif
