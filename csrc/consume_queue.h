/* ConsumeQueue: the per topic/queue index of 20-byte entries into the CommitLog.
 *
 * Why: reference section 5, "ConsumeQueue entry" -- `long commitLogOffset | int size |
 * long tagsCode`, logical offset n at byte 20n, files of mappedFileSizeConsumeQueue
 * bytes under consumequeue/{topic}/{queueId}/%020d. Appends happen inside the
 * CommitLog put (one C call per message); scans with tag-code filters run here so
 * a PULL touches no Python per entry. */
#ifndef RMQ_CONSUME_QUEUE_H
#define RMQ_CONSUME_QUEUE_H
#include <stdint.h>
#include "mapped_file.h"

#define RMQ_CQ_UNIT 20

typedef struct rmq_cq {
    rmq_mfq *q;
    int64_t min_logical;  /* first readable logical offset */
    int64_t max_logical;  /* next logical offset to assign (== entry count incl. deleted) */
    /* the queue's identity, kept here so a put passes one pointer instead of three args */
    char *topic;
    int32_t topic_len;
    int32_t queue_id;
    int32_t index_seed;   /* rmq_index_topic_seed of the topic: its keys' hashes start from it */
    /* the file being appended to (cache; valid while q->gen == w_gen) */
    uint8_t *w_base;
    uint64_t w_from, w_end, w_gen;
    uint64_t warm_to;     /* the writer asked the warm-ahead thread to prefault up to here */
} rmq_cq;

rmq_cq *rmq_cq_new(const char *dir, uint64_t file_size, int cap, const char *topic, int32_t topic_len,
                   int32_t queue_id);
void rmq_cq_free(rmq_cq *cq);
int rmq_cq_load(rmq_cq *cq, uint64_t from);
int rmq_cq_append(rmq_cq *cq, int64_t phys, int32_t size, int64_t tag_code);
int rmq_cq_put_at(rmq_cq *cq, int64_t logical, int64_t phys, int32_t size, int64_t tag_code);
/* Read entry `logical`; 0 if present, -1 if out of the mapped range */
int rmq_cq_read(rmq_cq *cq, int64_t logical, int64_t *phys, int32_t *size, int64_t *tag_code);
/* Crash recovery: keep the leading run of entries with size > 0 and phys + size <=
 * commitlog_end, zero the rest of that file and delete later files. Returns the
 * number of entries dropped. */
int64_t rmq_cq_recover(rmq_cq *cq, int64_t commitlog_end);
/* Move min_logical to the first entry whose phys >= commitlog_min, deleting files
 * whose every entry is below it. Returns the number of files deleted. */
int rmq_cq_correct_min(rmq_cq *cq, int64_t commitlog_min);
int rmq_cq_sync(rmq_cq *cq);

#endif
