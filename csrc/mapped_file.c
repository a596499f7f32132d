#define _GNU_SOURCE
#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void segment_path(const rmq_mfq *q, uint64_t from, char *out, size_t n) {
    /* Reference section 4: UtilAll.offset2FileName = %020d of the start offset. */
    snprintf(out, n, "%s/%020" PRIu64, q->dir, from);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

rmq_mfq *rmq_mfq_new(const char *dir, uint64_t file_size, int cap, int preallocate) {
    rmq_mfq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->segs = calloc((size_t)cap, sizeof(rmq_segment));
    if (!q->segs) { free(q); return NULL; }
    q->cap = cap;
    q->file_size = file_size;
    q->preallocate = preallocate;
    snprintf(q->dir, sizeof q->dir, "%s", dir);
    pthread_mutex_init(&q->standby_lock, NULL);
    pthread_cond_init(&q->standby_cond, NULL);
    pthread_mutex_init(&q->warm_lock, NULL);
    return q;
}

static void unmap_segment(rmq_segment *s) {
    if (s->base) munmap(s->base, s->size);
    if (s->fd >= 0) close(s->fd);
    s->base = NULL;
    s->fd = -1;
}

void rmq_mfq_free(rmq_mfq *q) {
    if (!q) return;
    for (int i = 0; i < q->count; i++) unmap_segment(&q->segs[i]);
    if (q->has_standby) unmap_segment(&q->standby);
    pthread_mutex_destroy(&q->standby_lock);
    pthread_cond_destroy(&q->standby_cond);
    pthread_mutex_destroy(&q->warm_lock);
    free(q->segs);
    free(q);
}

static void prefault(uint8_t *base, uint64_t len) {
    if (len == 0) return;
    /* best effort: older kernels lack MADV_POPULATE_WRITE and simply fault later */
    if (madvise(base, len, MADV_POPULATE_WRITE) != 0) madvise(base, len, MADV_WILLNEED);
}

/* unmap and delete a file that never joined the log (a standby) */
static void discard_segment(rmq_mfq *q, rmq_segment *s) {
    char path[4200];
    segment_path(q, s->from, path, sizeof path);
    pthread_mutex_lock(&q->warm_lock);
    unmap_segment(s);
    pthread_mutex_unlock(&q->warm_lock);
    unlink(path);
}

/* open (or create) and map one file; touches nothing in q but reads its settings */
static int open_segment(const rmq_mfq *q, uint64_t from, int create, int populate, rmq_segment *out) {
    char path[4200];
    segment_path(q, from, path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0644);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); return -e; }
    if ((uint64_t)st.st_size != q->file_size) {
        int rc = 0;
        if ((uint64_t)st.st_size > q->file_size) rc = -EINVAL; /* a file of another size: refuse to guess */
        if (rc == 0 && q->preallocate) {
            rc = posix_fallocate(fd, 0, (off_t)q->file_size);
            if (rc == EOPNOTSUPP || rc == EINVAL) rc = 0; /* no fallocate here: sparse it is */
            else if (rc != 0) rc = -rc;
        }
        if (rc == 0 && ftruncate(fd, (off_t)q->file_size) != 0) rc = -errno;
        if (rc != 0) {
            close(fd);
            if (create) unlink(path); /* a failed roll leaves nothing behind */
            return rc;
        }
    }
    void *base = mmap(NULL, q->file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        if (create) unlink(path);
        return -e;
    }
    if (populate) prefault(base, q->file_size);
    out->fd = fd;
    out->base = base;
    out->from = from;
    out->size = q->file_size;
    return 0;
}

static int publish(rmq_mfq *q, const rmq_segment *seg) {
    q->segs[q->count] = *seg;
    /* publish after the slot is filled: a flusher reads count with acquire */
    __atomic_store_n(&q->count, q->count + 1, __ATOMIC_RELEASE);
    return 0;
}

static int check_next(const rmq_mfq *q, uint64_t from) {
    if (q->count >= q->cap) return -EMFILE;
    if (q->count > 0 && from != q->segs[q->count - 1].from + q->file_size) return -EINVAL;
    return 0;
}

int rmq_mfq_load(rmq_mfq *q, uint64_t from) {
    int rc = check_next(q, from);
    rmq_segment seg;
    if (rc == 0) rc = open_segment(q, from, 0, 0, &seg);
    return rc == 0 ? publish(q, &seg) : rc;
}

int rmq_mfq_roll(rmq_mfq *q, uint64_t from) {
    int rc = check_next(q, from);
    if (rc != 0) return rc;
    rmq_segment seg, stale;
    int have = 0, drop = 0;
    pthread_mutex_lock(&q->standby_lock);
    while (q->preparing && q->preparing_from == from) pthread_cond_wait(&q->standby_cond, &q->standby_lock);
    if (q->has_standby) {
        if (q->standby.from == from) {
            seg = q->standby;
            have = 1;
        } else { /* prepared for an offset the log no longer reaches (truncated): drop it */
            stale = q->standby;
            drop = 1;
        }
        q->has_standby = 0;
    }
    pthread_mutex_unlock(&q->standby_lock);
    if (drop) discard_segment(q, &stale);
    if (!have) {
        rc = open_segment(q, from, 1, 0, &seg);
        if (rc != 0) return rc;
    }
    return publish(q, &seg);
}

int rmq_mfq_prepare(rmq_mfq *q, uint64_t from) {
    pthread_mutex_lock(&q->standby_lock);
    if (q->has_standby || q->preparing) { pthread_mutex_unlock(&q->standby_lock); return 0; }
    q->preparing = 1;
    q->preparing_from = from;
    pthread_mutex_unlock(&q->standby_lock);
    rmq_segment seg;
    int rc = open_segment(q, from, 1, 0, &seg); /* EEXIST if the writer got there first */
    pthread_mutex_lock(&q->standby_lock);
    if (rc == 0) {
        q->standby = seg;
        q->has_standby = 1;
    }
    q->preparing = 0;
    pthread_cond_broadcast(&q->standby_cond);
    pthread_mutex_unlock(&q->standby_lock);
    return rc == -EEXIST ? 0 : rc;
}

void rmq_mfq_discard_standby(rmq_mfq *q) {
    rmq_segment stale;
    int drop = 0;
    pthread_mutex_lock(&q->standby_lock);
    while (q->preparing) pthread_cond_wait(&q->standby_cond, &q->standby_lock);
    if (q->has_standby) {
        stale = q->standby;
        drop = 1;
        q->has_standby = 0;
    }
    pthread_mutex_unlock(&q->standby_lock);
    if (drop) discard_segment(q, &stale);
}

int rmq_mfq_warm(rmq_mfq *q, uint64_t offset) {
    static long page = 0;
    if (!page) page = sysconf(_SC_PAGESIZE);
    rmq_segment *s = rmq_mfq_find(q, offset);
    if (!s) return 0;
    uint64_t at = (offset - s->from) & ~(uint64_t)(page - 1);
    prefault(s->base + at, s->size - at);
    return 0;
}

rmq_segment *rmq_mfq_find(rmq_mfq *q, uint64_t offset) {
    int n = __atomic_load_n(&q->count, __ATOMIC_ACQUIRE);
    if (n == 0) return NULL;
    uint64_t first = q->segs[0].from;
    if (offset < first) return NULL;
    /* files are contiguous and equal-sized: direct index, no search */
    uint64_t i = (offset - first) / q->file_size;
    if (i >= (uint64_t)n) return NULL;
    return &q->segs[i];
}

uint64_t rmq_mfq_min_offset(const rmq_mfq *q) { return q->count ? q->segs[0].from : 0; }
uint64_t rmq_mfq_end_offset(const rmq_mfq *q) {
    return q->count ? q->segs[q->count - 1].from + q->file_size : 0;
}

int rmq_mfq_drop_first(rmq_mfq *q) {
    if (q->count == 0) return -ENOENT;
    char path[4200];
    segment_path(q, q->segs[0].from, path, sizeof path);
    pthread_mutex_lock(&q->warm_lock);
    unmap_segment(&q->segs[0]);
    q->gen++;
    memmove(&q->segs[0], &q->segs[1], sizeof(rmq_segment) * (size_t)(q->count - 1));
    q->count--;
    pthread_mutex_unlock(&q->warm_lock);
    return unlink(path) == 0 ? 0 : -errno;
}

int rmq_mfq_drop_last(rmq_mfq *q) {
    if (q->count == 0) return -ENOENT;
    char path[4200];
    rmq_segment *s = &q->segs[q->count - 1];
    segment_path(q, s->from, path, sizeof path);
    pthread_mutex_lock(&q->warm_lock);
    q->count--;
    q->gen++;
    unmap_segment(s);
    pthread_mutex_unlock(&q->warm_lock);
    return unlink(path) == 0 ? 0 : -errno;
}

int rmq_mfq_sync(rmq_mfq *q, uint64_t from, uint64_t to) {
    static long page = 0;
    if (!page) page = sysconf(_SC_PAGESIZE);
    int n = __atomic_load_n(&q->count, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n && from < to; i++) {
        rmq_segment *s = &q->segs[i];
        uint64_t end = s->from + s->size;
        if (end <= from) continue;
        if (s->from >= to) break;
        uint64_t a = (from > s->from ? from : s->from) - s->from;
        uint64_t b = (to < end ? to : end) - s->from;
        uint64_t a_page = a & ~(uint64_t)(page - 1);
        if (msync(s->base + a_page, b - a_page, MS_SYNC) != 0) return -errno;
    }
    return 0;
}
