#define _GNU_SOURCE
#include "warm_ahead.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Prefault in chunks so the lock that excludes unmapping is held briefly. */
#define WARM_CHUNK (1u << 20)
/* When the writer has overtaken the thread (it writes faster than pages can be
 * provisioned, as on a VM whose first touch of a guest page costs microseconds), the
 * thread skips to this far past the writer: the pages the writer is on it faults
 * itself, and prefaulting behind it only walks pages already there. The two then fault
 * different pages side by side instead of one after the other. */
#define OVERTAKEN_LEAD (512u << 10)
/* Jobs are taken a smaller chunk at a time between CommitLog chunks, so a 20 MB slot
 * table does not hold up the CommitLog window. */
#define JOB_CHUNK (256u << 10)
#define JOBS_PER_CHUNK 8

static void *warm_loop(void *arg);

rmq_warmer *rmq_warmer_start(rmq_mfq *q, uint64_t window, uint64_t pos) {
    rmq_warmer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->q = q;
    w->window = window;
    w->warmed_to = pos;
    w->pos = pos;
    w->writer_pos = pos;
    w->first_file = pos - pos % q->file_size;
    w->want = pos + window;
    w->kicked_to = pos + window;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, warm_loop, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        return NULL;
    }
    return w;
}

void rmq_warmer_kick(rmq_warmer *w, uint64_t pos) {
    uint64_t target = pos + w->window;
    w->kicked_to = target;
    pthread_mutex_lock(&w->lock);
    if (target > w->want) w->want = target;
    w->pos = pos;
    w->kicks++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void rmq_warmer_post(rmq_warmer *w, int kind, int read, void *owner, uint64_t id, uint64_t from, uint64_t to) {
    if (from >= to) return;
    pthread_mutex_lock(&w->lock);
    w->jobs_posted++;
    if (w->njobs == RMQ_WARM_JOBS) {
        w->jobs_dropped++;
    } else {
        w->jobs[w->njobs++] = (rmq_warm_job){kind, read, owner, id, from, to};
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
}

void rmq_warmer_wait_idle(rmq_warmer *w) {
    pthread_mutex_lock(&w->lock);
    while (!w->stop && (w->warmed_to < w->want || w->njobs > 0)) pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void rmq_warmer_stop(rmq_warmer *w) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

static void prefault(uint8_t *base, uint64_t len) {
    if (len == 0) return;
    /* best effort: older kernels lack MADV_POPULATE_WRITE (23) and simply fault later */
    if (madvise(base, len, 23) != 0) madvise(base, len, MADV_WILLNEED);
}

/* For pages that already hold data (an index file loaded at open): read them in
 * (MADV_POPULATE_READ, 22) without dirtying them all, which a write fault would. */
static void prefault_read(uint8_t *base, uint64_t len) {
    if (len == 0) return;
    if (madvise(base, len, 22) != 0) madvise(base, len, MADV_WILLNEED);
}

/* Prefault [from, to) as far as one file reaches; returns where it stopped (> from),
 * or a negative errno when the next file cannot be prepared. */
static int64_t warm_step(rmq_warmer *w, uint64_t from, uint64_t to) {
    static long page = 0;
    if (!page) page = sysconf(_SC_PAGESIZE);
    rmq_mfq *q = w->q;
    pthread_mutex_lock(&q->warm_lock);
    rmq_segment *s = rmq_mfq_find(q, from);
    if (s) {
        uint64_t end = s->from + s->size;
        uint64_t stop = to < end ? to : end;
        uint64_t a = (from - s->from) & ~(uint64_t)(page - 1);
        prefault(s->base + a, stop - s->from - a);
        pthread_mutex_unlock(&q->warm_lock);
        return (int64_t)stop;
    }
    /* an empty log starts with the file holding the write position (the first put rolls
     * onto it); else the next file is the one after the last */
    uint64_t next = q->count ? rmq_mfq_end_offset(q) : w->first_file;
    pthread_mutex_unlock(&q->warm_lock);
    /* Only ever the very next file: never one past it (a gap), nor one already rolled
     * onto (the writer published it after `next` was read; its O_EXCL create makes a
     * late prepare of it a no-op anyway). */
    if (from < next || from >= next + q->file_size) return (int64_t)to;
    /* Files smaller than two windows (test-sized stores) are not prepared ahead: creating
     * one inside a roll is cheap, and a standby would be written ahead of almost every put. */
    if (q->count && q->file_size < 2 * w->window) return (int64_t)to;
    /* past the end of the last file: prepare the next one and warm its head */
    int rc = rmq_mfq_prepare(q, next);
    if (rc < 0) return rc;
    pthread_mutex_lock(&q->warm_lock);
    uint64_t stop = to;
    pthread_mutex_lock(&q->standby_lock);
    uint8_t *base = NULL;
    if (q->has_standby && q->standby.from == next) {
        base = q->standby.base;
        if (stop > next + q->standby.size) stop = next + q->standby.size;
    }
    pthread_mutex_unlock(&q->standby_lock);
    /* the mapping stays valid while warm_lock is held: a standby is only unmapped under it
     * (adopting it as the current file moves the struct, not the mapping) */
    if (base) prefault(base, stop - next);
    pthread_mutex_unlock(&q->warm_lock);
    return (int64_t)(stop > from ? stop : to);
}

/* Prefault one chunk of a job: [from, returned end). The mapping is looked up again
 * under its owner's warm_lock, which whoever unmaps it holds too; a range whose file is
 * gone (deleted, truncated) or not created yet is skipped. */
static uint64_t job_step(rmq_warm_job *j) {
    static long page = 0;
    if (!page) page = sysconf(_SC_PAGESIZE);
    uint64_t from = j->from, to = j->to - j->from > JOB_CHUNK ? j->from + JOB_CHUNK : j->to;
    if (j->kind == RMQ_WARM_MFQ) {
        rmq_mfq *q = j->owner;
        pthread_mutex_lock(&q->warm_lock);
        rmq_segment *s = rmq_mfq_find(q, from);
        if (s) {
            uint64_t end = s->from + s->size;
            if (to > end) to = end;
            uint64_t a = (from - s->from) & ~(uint64_t)(page - 1);
            prefault(s->base + a, to - s->from - a);
        }
        pthread_mutex_unlock(&q->warm_lock);
    } else {
        rmq_index *idx = j->owner;
        pthread_mutex_lock(&idx->warm_lock);
        for (int i = idx->count - 1; i >= 0; i--) {
            rmq_index_file *f = &idx->files[i];
            if (f->id != j->id) continue;
            if (to > f->size) to = f->size;
            uint64_t a = from & ~(uint64_t)(page - 1);
            if (to > a) (j->read ? prefault_read : prefault)(f->base + a, to - a);
            break;
        }
        pthread_mutex_unlock(&idx->warm_lock);
    }
    return to > from ? to : j->to;
}

/* Called with w->lock held; runs one chunk of the next job with it released. */
static void run_job(rmq_warmer *w) {
    rmq_warm_job j = w->jobs[0]; /* stays queued (so wait_idle waits) until done */
    pthread_mutex_unlock(&w->lock);
    uint64_t done = job_step(&j);
    pthread_mutex_lock(&w->lock);
    w->job_bytes += done - j.from;
    /* the queue only grew at the back meanwhile; an unfinished job goes behind the others
     * (round robin), so a queue's next pages do not wait for a whole slot table */
    w->njobs--;
    for (int i = 0; i < w->njobs; i++) w->jobs[i] = w->jobs[i + 1];
    if (done < j.to) {
        j.from = done;
        w->jobs[w->njobs++] = j;
    }
    pthread_cond_broadcast(&w->cond);
}

static void *warm_loop(void *arg) {
    rmq_warmer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && w->warmed_to >= w->want && w->njobs == 0) pthread_cond_wait(&w->cond, &w->lock);
        if (w->stop) break;
        if (w->njobs > 0) {
            run_job(w);
            if (w->warmed_to >= w->want) continue;
        }
        if (w->stop) break;
        uint64_t target = w->want;
        /* pages the writer already passed need no warming */
        uint64_t from = w->warmed_to > w->pos ? w->warmed_to : w->pos;
        pthread_mutex_unlock(&w->lock);
        int err = 0;
        uint64_t done = from;
        while (done < target) {
            uint64_t writer = __atomic_load_n(&w->writer_pos, __ATOMIC_RELAXED);
            if (writer > done) {
                done = writer + OVERTAKEN_LEAD;
                if (done >= target) break;
            }
            uint64_t to = done + WARM_CHUNK < target ? done + WARM_CHUNK : target;
            int64_t r = warm_step(w, done, to);
            if (r < 0) { err = (int)r; break; }
            w->warmed_bytes += (uint64_t)r - done;
            done = (uint64_t)r;
            if (__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) break;
            /* Queued jobs between CommitLog chunks: their pages are the ones right at the
             * writer's position (the CommitLog window reaches much further ahead), so they
             * go first, up to JOBS_PER_CHUNK chunks so that a big one (a slot table) does
             * not stall the window. */
            pthread_mutex_lock(&w->lock);
            for (int k = 0; k < JOBS_PER_CHUNK && w->njobs > 0 && !w->stop; k++) run_job(w);
            pthread_mutex_unlock(&w->lock);
        }
        pthread_mutex_lock(&w->lock);
        w->last_error = err;
        /* on failure (e.g. the disk is full for the next file) give up on this target;
         * the next kick retries and the writer's own roll reports the error */
        if (target > w->warmed_to) w->warmed_to = target;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}
