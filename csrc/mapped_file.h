/* Memory-mapped segment files and the ordered list of them that makes one log.
 *
 * Why: the CommitLog and every ConsumeQueue are RocketMQ "MappedFileQueue"s -- a
 * directory of fixed-size files named %020d by their first global byte offset
 * (reference section 4, "Commitlog files named %020d"; section 5 for the CQ). The
 * C side owns the mappings (mmap/msync/madvise) so that a put is a memcpy into
 * memory that Python never has to touch.
 *
 * Concurrency contract: appending a segment (rmq_mfq_roll/rmq_mfq_load) publishes it
 * with a release store of `count`, and the segment array never moves while the
 * queue lives (fixed capacity), so a flusher may msync without the writer's lock.
 * Removing segments (retention, truncation) must exclude flushers and readers. */
#ifndef RMQ_MAPPED_FILE_H
#define RMQ_MAPPED_FILE_H
#include <pthread.h>
#include <stdint.h>

typedef struct rmq_segment {
    int fd;
    uint8_t *base;
    uint64_t from;   /* global offset of byte 0 of this file */
    uint64_t size;   /* file length == mapping length */
} rmq_segment;

typedef struct rmq_mfq {
    rmq_segment *segs; /* segs[0..count) ordered by `from`, contiguous */
    int count;
    int cap;
    int preallocate;   /* reserve blocks with posix_fallocate so a full disk fails the roll, not a write */
    uint64_t file_size;
    char dir[4096];
    /* The next file, created ahead by the warm-ahead thread (RocketMQ's
     * AllocateMappedFileService; warm_ahead.c prefaults its head) so a roll is a pointer
     * move, not a file creation plus page faults inside a put. Guarded by standby_lock;
     * the writer waits on standby_cond if it needs the very file being prepared. */
    pthread_mutex_t standby_lock;
    pthread_cond_t standby_cond;
    int preparing;
    uint64_t preparing_from;
    int has_standby;
    rmq_segment standby;
    /* Held by the warm-ahead thread while it prefaults a mapping, and by whoever unmaps
     * one (drop_first/drop_last, discarding a standby), so no prefault runs on an address
     * range that is being unmapped. Order: warm_lock before standby_lock. */
    pthread_mutex_t warm_lock;
    /* Bumped whenever a file is unmapped (drop_first/drop_last): a writer that caches
     * its current file's mapping to skip rmq_mfq_find per record rechecks it against
     * this. Written and read under the store lock. */
    uint64_t gen;
} rmq_mfq;

/* errors are negative errno values */
rmq_mfq *rmq_mfq_new(const char *dir, uint64_t file_size, int cap, int preallocate);
void rmq_mfq_free(rmq_mfq *q);
int rmq_mfq_load(rmq_mfq *q, uint64_t from);          /* map an existing file */
int rmq_mfq_roll(rmq_mfq *q, uint64_t from);          /* create and map a new file */
rmq_segment *rmq_mfq_find(rmq_mfq *q, uint64_t offset);
uint64_t rmq_mfq_min_offset(const rmq_mfq *q);        /* `from` of the first file, 0 if none */
uint64_t rmq_mfq_end_offset(const rmq_mfq *q);        /* end of the last file, 0 if none */
int rmq_mfq_drop_first(rmq_mfq *q);                   /* unmap and unlink the oldest file */
int rmq_mfq_drop_last(rmq_mfq *q);                    /* unmap and unlink the newest file */
int rmq_mfq_sync(rmq_mfq *q, uint64_t from, uint64_t to); /* msync(MS_SYNC) the byte range */
/* Prefault [offset, end of its file) writable (MADV_POPULATE_WRITE) */
int rmq_mfq_warm(rmq_mfq *q, uint64_t offset);
/* Create (preallocated, not written) and map the file starting at `from` as the standby
 * (no-op if one exists); warm_ahead.c prefaults the part of it that is about to be written */
int rmq_mfq_prepare(rmq_mfq *q, uint64_t from);
/* Unmap and delete an unused standby file (close) */
void rmq_mfq_discard_standby(rmq_mfq *q);

#endif
