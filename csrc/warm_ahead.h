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
 * window/2 bytes; nothing here is on the put path otherwise. */
#ifndef RMQ_WARM_AHEAD_H
#define RMQ_WARM_AHEAD_H
#include <pthread.h>
#include <stdint.h>
#include "mapped_file.h"

typedef struct rmq_warmer {
    rmq_mfq *q;
    uint64_t window;     /* bytes kept prefaulted ahead of the write position */
    uint64_t kicked_to;  /* writer side (under the store lock): the last target asked for */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t want;       /* warm up to here (guarded by lock) */
    uint64_t warmed_to;  /* prefaulted up to here (guarded by lock) */
    uint64_t pos;        /* write position at the last kick (guarded by lock) */
    uint64_t first_file; /* start of the file holding the write position at start */
    int stop;
    int last_error;      /* negative errno of the last failed preparation, 0 if none */
    uint64_t kicks;      /* statistics for tests and logs */
    uint64_t warmed_bytes;
    pthread_t thread;
} rmq_warmer;

/* Start the thread and warm [pos, pos + window) in the background. NULL on failure. */
rmq_warmer *rmq_warmer_start(rmq_mfq *q, uint64_t window, uint64_t pos);
/* Writer: ask for [pos, pos + window) to be warmed (wakes the thread). */
void rmq_warmer_kick(rmq_warmer *w, uint64_t pos);
/* Writer: the write position moved to pos. Cheap unless pos crossed the half window. */
static inline void rmq_warmer_note(rmq_warmer *w, uint64_t pos) {
    if (w && pos + w->window / 2 > w->kicked_to) rmq_warmer_kick(w, pos);
}
/* Block until everything asked so far is warmed (tests, benchmarks). */
void rmq_warmer_wait_idle(rmq_warmer *w);
/* Stop and join the thread, free it. */
void rmq_warmer_stop(rmq_warmer *w);

#endif
