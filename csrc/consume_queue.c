#include "consume_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "byte_order.h"
#include "index_file.h"

rmq_cq *rmq_cq_new(const char *dir, uint64_t file_size, int cap, const char *topic, int32_t topic_len,
                   int32_t queue_id) {
    rmq_cq *cq = calloc(1, sizeof *cq);
    if (!cq) return NULL;
    cq->topic = malloc((size_t)topic_len + 1);
    if (!cq->topic) { free(cq); return NULL; }
    memcpy(cq->topic, topic, (size_t)topic_len);
    cq->topic[topic_len] = 0;
    cq->topic_len = topic_len;
    cq->queue_id = queue_id;
    cq->index_seed = rmq_index_topic_seed(topic, topic_len);
    /* CQ files are small; sparse is fine (a full disk shows up on the CommitLog first) */
    cq->q = rmq_mfq_new(dir, file_size, cap, 0);
    if (!cq->q) { free(cq->topic); free(cq); return NULL; }
    return cq;
}

void rmq_cq_free(rmq_cq *cq) {
    if (!cq) return;
    rmq_mfq_free(cq->q);
    free(cq->topic);
    free(cq);
}

int rmq_cq_load(rmq_cq *cq, uint64_t from) {
    int rc = rmq_mfq_load(cq->q, from);
    if (rc == 0 && cq->q->count == 1) {
        cq->min_logical = (int64_t)(from / RMQ_CQ_UNIT);
        cq->max_logical = cq->min_logical;
    }
    return rc;
}

static inline void write_entry(uint8_t *p, int64_t phys, int32_t size, int64_t tag_code) {
    /* reference section 5: long commitLogOffset | int size | long tagsCode */
    rmq_put_be64(p, (uint64_t)phys);
    rmq_put_be32(p + 8, (uint32_t)size);
    rmq_put_be64(p + 12, (uint64_t)tag_code);
}

static uint8_t *slot_for(rmq_cq *cq, int64_t logical, int create) {
    uint64_t pos = (uint64_t)logical * RMQ_CQ_UNIT;
    rmq_segment *s = rmq_mfq_find(cq->q, pos);
    if (s) return s->base + (pos - s->from);
    if (!create) return NULL;
    uint64_t fs = cq->q->file_size;
    uint64_t from = pos - pos % fs;
    if (cq->q->count > 0 && from != rmq_mfq_end_offset(cq->q)) return NULL;
    if (rmq_mfq_roll(cq->q, from) != 0) return NULL;
    if (cq->q->count == 1) cq->min_logical = (int64_t)(from / RMQ_CQ_UNIT);
    s = rmq_mfq_find(cq->q, pos);
    return s ? s->base + (pos - s->from) : NULL;
}

int rmq_cq_append(rmq_cq *cq, int64_t phys, int32_t size, int64_t tag_code) {
    uint64_t pos = (uint64_t)cq->max_logical * RMQ_CQ_UNIT;
    uint8_t *p;
    if (pos >= cq->w_from && pos + RMQ_CQ_UNIT <= cq->w_end && cq->w_gen == cq->q->gen) {
        p = cq->w_base + (pos - cq->w_from);
    } else {
        p = slot_for(cq, cq->max_logical, 1);
        if (!p) return -ENOSPC;
        rmq_segment *s = rmq_mfq_find(cq->q, pos);
        cq->w_base = s->base;
        cq->w_from = s->from;
        cq->w_end = s->from + s->size;
        cq->w_gen = cq->q->gen;
    }
    write_entry(p, phys, size, tag_code);
    cq->max_logical++;
    return 0;
}

int rmq_cq_put_at(rmq_cq *cq, int64_t logical, int64_t phys, int32_t size, int64_t tag_code) {
    if (logical < cq->max_logical) return 0; /* already there */
    if (cq->q->count == 0) {
        /* an empty queue starts at the file holding `logical` (files before it were deleted) */
        uint64_t pos = (uint64_t)logical * RMQ_CQ_UNIT;
        uint64_t from = pos - pos % cq->q->file_size;
        int rc = rmq_mfq_roll(cq->q, from);
        if (rc != 0) return rc;
        cq->min_logical = logical;
        cq->max_logical = logical;
    }
    while (cq->max_logical < logical) { /* a gap stays as zero entries, which scans skip */
        if (!slot_for(cq, cq->max_logical, 1)) return -ENOSPC;
        cq->max_logical++;
    }
    return rmq_cq_append(cq, phys, size, tag_code);
}

int rmq_cq_read(rmq_cq *cq, int64_t logical, int64_t *phys, int32_t *size, int64_t *tag_code) {
    uint8_t *p = slot_for(cq, logical, 0);
    if (!p) return -1;
    *phys = (int64_t)rmq_get_be64(p);
    *size = (int32_t)rmq_get_be32(p + 8);
    *tag_code = (int64_t)rmq_get_be64(p + 12);
    return 0;
}

static int entry_valid(const uint8_t *p, int64_t commitlog_end) {
    int64_t phys = (int64_t)rmq_get_be64(p);
    int32_t size = (int32_t)rmq_get_be32(p + 8);
    return size > 0 && phys >= 0 && phys + size <= commitlog_end;
}

int64_t rmq_cq_recover(rmq_cq *cq, int64_t commitlog_end) {
    rmq_mfq *q = cq->q;
    int64_t dropped = 0;
    uint64_t per_file = q->file_size / RMQ_CQ_UNIT;
    /* Newest file first: a file whose first entry is already invalid holds nothing to keep. */
    while (q->count > 1 && !entry_valid(q->segs[q->count - 1].base, commitlog_end)) {
        rmq_segment *s = &q->segs[q->count - 1];
        for (uint64_t i = 0; i < per_file; i++)
            if (rmq_get_be32(s->base + i * RMQ_CQ_UNIT + 8) != 0) dropped++;
        rmq_mfq_drop_last(q);
    }
    if (q->count == 0) return dropped;
    rmq_segment *s = &q->segs[q->count - 1];
    uint64_t i = 0;
    while (i < per_file && entry_valid(s->base + i * RMQ_CQ_UNIT, commitlog_end)) i++;
    for (uint64_t j = i; j < per_file; j++) {
        uint8_t *p = s->base + j * RMQ_CQ_UNIT;
        if (rmq_get_be32(p + 8) != 0 || rmq_get_be64(p) != 0) {
            dropped++;
            memset(p, 0, RMQ_CQ_UNIT);
        }
    }
    cq->max_logical = (int64_t)(s->from / RMQ_CQ_UNIT + i);
    if (cq->min_logical > cq->max_logical) cq->min_logical = cq->max_logical;
    return dropped;
}

int rmq_cq_correct_min(rmq_cq *cq, int64_t commitlog_min) {
    rmq_mfq *q = cq->q;
    int deleted = 0;
    uint64_t per_file = q->file_size / RMQ_CQ_UNIT;
    for (;;) {
        if (q->count == 0) return deleted;
        rmq_segment *s = &q->segs[0];
        int64_t first = (int64_t)(s->from / RMQ_CQ_UNIT);
        int64_t last = first + (int64_t)per_file; /* exclusive */
        int64_t limit = cq->max_logical < last ? cq->max_logical : last;
        int64_t start = cq->min_logical > first ? cq->min_logical : first;
        for (int64_t n = start; n < limit; n++) {
            uint8_t *p = s->base + (uint64_t)(n - first) * RMQ_CQ_UNIT;
            if ((int64_t)rmq_get_be64(p) >= commitlog_min && rmq_get_be32(p + 8) > 0) {
                cq->min_logical = n;
                return deleted;
            }
        }
        if (limit < last || q->count == 1) {
            /* the file being written: nothing readable yet, the queue is empty from here */
            cq->min_logical = limit;
            return deleted;
        }
        rmq_mfq_drop_first(q);
        deleted++;
        cq->min_logical = last;
    }
}

int rmq_cq_sync(rmq_cq *cq) {
    return rmq_mfq_sync(cq->q, (uint64_t)cq->min_logical * RMQ_CQ_UNIT, rmq_mfq_end_offset(cq->q));
}
