#include "commitlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "byte_order.h"
#include "crc32.h"
#include "find_byte.h"

/* sysFlag bits used by the layout (reference section 3, "sysFlag bits") */
#define SF_BORNHOST_V6 0x10
#define SF_STOREHOST_V6 0x20
#define SF_TX_MASK 0xC
#define SF_TX_NOT 0x0
#define SF_TX_COMMIT 0x8
#define SF_TX_ROLLBACK 0xC

rmq_commitlog *rmq_commitlog_new(const char *dir, uint64_t file_size, int cap, int32_t max_message_size,
                                 const char *store_host, int32_t store_host_len) {
    if (store_host_len != 8 && store_host_len != 20) return NULL;
    rmq_commitlog *cl = calloc(1, sizeof *cl);
    if (!cl) return NULL;
    cl->q = rmq_mfq_new(dir, file_size, cap, 1);
    if (!cl->q) { free(cl); return NULL; }
    cl->keys_buf = malloc(2 * 65536 + 2);
    if (!cl->keys_buf) { rmq_mfq_free(cl->q); free(cl); return NULL; }
    cl->max_message_size = max_message_size;
    cl->store_host_len = store_host_len;
    memcpy(cl->store_host, store_host, (size_t)store_host_len);
    rmq_crc32(0, NULL, 0); /* build the CRC tables now, not racily inside a put */
    return cl;
}

void rmq_commitlog_free(rmq_commitlog *cl) {
    if (!cl) return;
    rmq_commitlog_stop_warmer(cl);
    rmq_mfq_free(cl->q);
    free(cl->keys_buf);
    free(cl);
}

/* Make room for `total` bytes at *pos: blank the rest of the file and roll when
 * total + 8 > remaining (reference section 4, "End-of-file blank"). */
static uint8_t *reserve(rmq_commitlog *cl, int64_t *pos, int32_t total) {
    rmq_mfq *q = cl->q;
    uint64_t p = (uint64_t)*pos;
    /* the common case: room in the file last written, which is still mapped */
    if (p >= cl->w_from && p < cl->w_end && (uint64_t)total + RMQ_BLANK_MIN <= cl->w_end - p && cl->w_gen == q->gen)
        return cl->w_base + (p - cl->w_from);
    rmq_segment *s = rmq_mfq_find(q, p);
    if (!s) {
        if (p % q->file_size != 0 || (q->count > 0 && p != rmq_mfq_end_offset(q))) { errno = EINVAL; return NULL; }
        int rc = rmq_mfq_roll(q, p);
        if (rc != 0) { errno = -rc; return NULL; }
        s = rmq_mfq_find(q, p);
    } else {
        uint64_t end = s->from + s->size;
        uint64_t remaining = end - p;
        if ((uint64_t)total + RMQ_BLANK_MIN > remaining) {
            /* create the next file first: if the disk is full nothing is written */
            if (!rmq_mfq_find(q, end)) {
                int rc = rmq_mfq_roll(q, end);
                if (rc != 0) { errno = -rc; return NULL; }
            }
            if (remaining >= RMQ_BLANK_MIN) {
                uint8_t *b = s->base + (p - s->from);
                rmq_put_be32(b, (uint32_t)remaining);
                rmq_put_be32(b + 4, RMQ_MAGIC_BLANK);
            }
            p = end;
            *pos = (int64_t)p;
            s = rmq_mfq_find(q, p);
        }
    }
    cl->w_base = s->base;
    cl->w_from = s->from;
    cl->w_end = s->from + s->size;
    cl->w_gen = q->gen;
    return s->base + (p - s->from);
}

static void zero_range(rmq_commitlog *cl, int64_t from, int64_t to) {
    while (from < to) {
        rmq_segment *s = rmq_mfq_find(cl->q, (uint64_t)from);
        if (!s) return;
        int64_t end = (int64_t)(s->from + s->size);
        int64_t stop = to < end ? to : end;
        memset(s->base + (from - (int64_t)s->from), 0, (size_t)(stop - from));
        from = stop;
    }
}

/* Undo a failed put or batch so that nothing of it stays visible or recoverable. */
static void roll_back(rmq_commitlog *cl, rmq_cq *cq, int64_t orig_pos, int64_t cur_pos, int64_t orig_cq_max) {
    zero_range(cl, orig_pos, cur_pos);
    if (cq && cq->max_logical > orig_cq_max) {
        for (int64_t n = orig_cq_max; n < cq->max_logical; n++) {
            uint64_t at = (uint64_t)n * RMQ_CQ_UNIT;
            rmq_segment *s = rmq_mfq_find(cq->q, at);
            if (s) memset(s->base + (at - s->from), 0, RMQ_CQ_UNIT);
        }
        cq->max_logical = orig_cq_max;
    }
    if (cl->index) rmq_index_truncate(cl->index, orig_pos);
}

/* How far past its write position each ConsumeQueue and the newest index file are kept
 * prefaulted by the warm-ahead thread (asked again each half window). Small on purpose:
 * a broker has thousands of queues, and 64 KiB is 3276 entries of a queue. */
#define CQ_WARM_WINDOW (64u << 10)
#define INDEX_WARM_WINDOW (256u << 10)

static void warm_cq(rmq_warmer *w, rmq_cq *cq) {
    uint64_t at = (uint64_t)cq->max_logical * RMQ_CQ_UNIT;
    if (at + CQ_WARM_WINDOW / 2 <= cq->warm_to) return;
    uint64_t from = cq->warm_to > at ? cq->warm_to : at;
    cq->warm_to = at + CQ_WARM_WINDOW;
    rmq_warmer_post(w, RMQ_WARM_MFQ, 0, cq->q, 0, from, cq->warm_to);
}

static void warm_index(rmq_warmer *w, rmq_index *idx) {
    if (idx->count == 0) return;
    rmq_index_file *f = &idx->files[idx->count - 1];
    uint64_t entries = RMQ_INDEX_HEADER + (uint64_t)idx->slot_num * RMQ_INDEX_SLOT;
    uint64_t at = entries + (uint64_t)rmq_index_newest_count(idx) * RMQ_INDEX_ENTRY;
    if (f->id != idx->warm_file) {
        /* a new newest file (created, or the first insert since open): its slot table,
         * only read in if it was loaded (its slots hold data; writing them all would
         * dirty 20 MB for writeback) */
        idx->warm_file = f->id;
        idx->warm_to = at;
        rmq_warmer_post(w, RMQ_WARM_INDEX, !f->created, idx, f->id, 0, entries);
    }
    if (at + INDEX_WARM_WINDOW / 2 <= idx->warm_to) return;
    uint64_t from = idx->warm_to > at ? idx->warm_to : at;
    idx->warm_to = at + INDEX_WARM_WINDOW;
    rmq_warmer_post(w, RMQ_WARM_INDEX, 0, idx, f->id, from, idx->warm_to);
}

/* Encode one record at *pos (after any blank/roll), then dispatch it to the CQ and
 * the index. *pos is advanced past the record as soon as it is written, so a
 * failing dispatch can be rolled back by the caller. Returns the record offset. */
static int64_t append_record(rmq_commitlog *cl, rmq_cq *cq, const uint8_t *topic, int32_t topic_len,
                             const uint8_t *body, int32_t body_len, const uint8_t *props, int32_t props_len,
                             int32_t queue_id, int32_t flag, int32_t sys_flag, int64_t born_ts,
                             const uint8_t *born_host, int32_t born_host_len, int64_t store_ts,
                             int32_t reconsume_times, int64_t prepared_offset, int64_t tag_code,
                             const uint8_t *keys, int32_t keys_len, int32_t index_seed, int64_t *pos) {
    /* IndexService.buildIndex skips rollback messages only. The keys are hashed first so
     * that their hash slots load while the record is copied. */
    uint32_t key_hashes[8], key_slots[8];
    int32_t nkeys = 0;
    int index_it = keys_len > 0 && cl->index && (sys_flag & SF_TX_MASK) != SF_TX_ROLLBACK;
    if (index_it) {
        nkeys = rmq_index_hash_keys(index_seed, (const char *)keys, keys_len, key_hashes, 8);
        if (nkeys > 0) rmq_index_prefetch(cl->index, key_hashes, key_slots, nkeys);
    }
    int v2 = topic_len > 127; /* autoMessageVersionOnTopicLen (reference section 4, MAGICCODE) */
    int32_t store_host_len = cl->store_host_len;
    sys_flag = born_host_len == 20 ? (sys_flag | SF_BORNHOST_V6) : (sys_flag & ~SF_BORNHOST_V6);
    sys_flag = store_host_len == 20 ? (sys_flag | SF_STOREHOST_V6) : (sys_flag & ~SF_STOREHOST_V6);
    int64_t total64 = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + born_host_len + 8 + store_host_len + 4 + 8 + 4 +
                      (int64_t)body_len + (v2 ? 2 : 1) + topic_len + 2 + props_len;
    if (total64 > cl->max_message_size) return RMQ_E_TOO_LARGE;
    if ((uint64_t)total64 + RMQ_BLANK_MIN > cl->q->file_size) return RMQ_E_FILE_TOO_SMALL;
    int32_t total = (int32_t)total64;
    uint8_t *p = reserve(cl, pos, total);
    if (!p) return -errno;
    int64_t phys = *pos;

    int tx = sys_flag & SF_TX_MASK;
    /* CommitLogDispatcherBuildConsumeQueue: only NOT_TYPE and COMMIT_TYPE are queued */
    if (tx != SF_TX_NOT && tx != SF_TX_COMMIT) cq = NULL;
    int64_t queue_offset = cq ? cq->max_logical : 0;

    /* reference section 4, "Stored message", fields 3-17 first; TOTALSIZE and MAGICCODE
     * (fields 1-2) last, so a process killed mid-record leaves a zero header that
     * recovery reads as the end of the log, never a record with a torn tail. */
    rmq_put_be32(p + 12, (uint32_t)queue_id);
    rmq_put_be32(p + 16, (uint32_t)flag);
    rmq_put_be64(p + 20, (uint64_t)queue_offset);
    rmq_put_be64(p + 28, (uint64_t)phys);
    rmq_put_be32(p + 36, (uint32_t)sys_flag);
    rmq_put_be64(p + 40, (uint64_t)born_ts);
    uint8_t *w = p + 48;
    memcpy(w, born_host, (size_t)born_host_len);
    w += born_host_len;
    rmq_put_be64(w, (uint64_t)store_ts);
    w += 8;
    memcpy(w, cl->store_host, (size_t)store_host_len);
    w += store_host_len;
    rmq_put_be32(w, (uint32_t)reconsume_times);
    rmq_put_be64(w + 4, (uint64_t)prepared_offset);
    rmq_put_be32(w + 12, (uint32_t)body_len);
    w += 16;
    /* copied and checksummed in one pass; BODYCRC (field 3) is written once known */
    rmq_put_be32(p + 8, rmq_crc32_copy(w, body, (size_t)body_len) & 0x7FFFFFFFu);
    w += body_len;
    if (v2) { rmq_put_be16(w, (uint16_t)topic_len); w += 2; }
    else { *w++ = (uint8_t)topic_len; }
    memcpy(w, topic, (size_t)topic_len);
    w += topic_len;
    rmq_put_be16(w, (uint16_t)props_len);
    if (props_len) memcpy(w + 2, props, (size_t)props_len);
    __atomic_signal_fence(__ATOMIC_RELEASE); /* program order is all a killed process needs */
    rmq_put_be32(p + 4, v2 ? RMQ_MAGIC_V2 : RMQ_MAGIC_V1);
    rmq_put_be32(p, (uint32_t)total);
    *pos = phys + total;

    if (index_it) {
        int rc = nkeys >= 0 ? rmq_index_put_hashes(cl->index, key_hashes, key_slots, nkeys, phys, store_ts)
                            : rmq_index_put_seeded(cl->index, index_seed, (const char *)keys, keys_len, phys, store_ts);
        if (rc != 0) return rc;
        if (cl->warmer) warm_index(cl->warmer, cl->index);
    }
    if (cq) {
        int rc = rmq_cq_append(cq, phys, total, tag_code);
        if (rc != 0) return rc;
        if (cl->warmer) warm_cq(cl->warmer, cq);
    }
    cl->last_queue_offset = queue_offset;
    cl->last_store_ts = store_ts;
    return phys;
}

int64_t rmq_put_ext(rmq_commitlog *cl, rmq_cq *cq, const char *body, int32_t body_len, const char *props,
                    int32_t props_len, int32_t flag, int32_t sys_flag, int64_t born_ts, const char *born_host, int32_t born_host_len, int64_t store_ts,
                    int32_t reconsume_times, int64_t prepared_offset, int64_t tag_code, const char *keys,
                    int32_t keys_len) {
    int64_t pos = cl->write_pos;
    int64_t cq_max = cq ? cq->max_logical : 0;
    if (!born_host) { born_host = (const char *)cl->store_host; born_host_len = cl->store_host_len; }
    int64_t phys = append_record(cl, cq, (const uint8_t *)cq->topic, cq->topic_len, (const uint8_t *)body, body_len,
                                 (const uint8_t *)props, props_len, cq->queue_id, flag, sys_flag, born_ts,
                                 (const uint8_t *)born_host, born_host_len, store_ts, reconsume_times,
                                 prepared_offset, tag_code, (const uint8_t *)keys, keys_len, cq->index_seed, &pos);
    if (phys < 0) {
        roll_back(cl, cq, cl->write_pos, pos, cq_max);
        return phys;
    }
    __atomic_store_n(&cl->write_pos, pos, __ATOMIC_RELEASE);
    rmq_warmer_note(cl->warmer, (uint64_t)pos);
    return phys;
}

int64_t rmq_put_simple(rmq_commitlog *cl, rmq_cq *cq, const char *body, int32_t body_len, const char *props,
                       int32_t props_len, int32_t flag, int64_t store_ts, int64_t tag_code, const char *keys,
                       int32_t keys_len) {
    return rmq_put_ext(cl, cq, body, body_len, props, props_len, flag, 0, store_ts, NULL, 0, store_ts, 0, 0, tag_code,
                       keys, keys_len);
}

int64_t rmq_put_batch(rmq_commitlog *cl, rmq_cq *cq, int32_t n,
                      const char *bodies, const int32_t *body_lens, const char *body_refs, const char *props, const int32_t *props_lens,
                      const int32_t *flags, const int64_t *tag_codes, const char *keys, const int32_t *keys_lens,
                      int32_t sys_flag, int64_t born_ts, const char *born_host,
                      int32_t born_host_len, int64_t store_ts, int32_t uniform_props_len,
                      int64_t uniform_tag_code, int32_t uniform_keys_len, int64_t *phys_out) {
    int64_t orig = cl->write_pos;
    int64_t pos = orig;
    int64_t cq_max = cq ? cq->max_logical : 0;
    if (!born_host) { born_host = (const char *)cl->store_host; born_host_len = cl->store_host_len; }
    const uint8_t *b = (const uint8_t *)bodies, *pr = (const uint8_t *)props, *k = (const uint8_t *)keys;
    int tx = sys_flag & SF_TX_MASK;
    int64_t first_queue_offset = (cq && (tx == SF_TX_NOT || tx == SF_TX_COMMIT)) ? cq->max_logical : 0;
    const rmq_body_ref *refs = (const rmq_body_ref *)body_refs;
    for (int32_t i = 0; i < n; i++) {
        int32_t bl, flag;
        if (refs) {
            b = (const uint8_t *)refs[i].body;
            bl = refs[i].body_len;
            flag = refs[i].flag;
        } else {
            bl = body_lens[i];
            flag = flags ? flags[i] : 0;
        }
        int32_t pl = props_lens ? props_lens[i] : (pr ? uniform_props_len : 0);
        int32_t kl = keys_lens ? keys_lens[i] : (k ? uniform_keys_len : 0);
        int64_t phys = append_record(cl, cq, (const uint8_t *)cq->topic, cq->topic_len, b, bl, pr, pl, cq->queue_id,
                                     flag, sys_flag, born_ts, (const uint8_t *)born_host,
                                     born_host_len, store_ts, 0, 0, tag_codes ? tag_codes[i] : uniform_tag_code, k,
                                     kl, cq->index_seed, &pos);
        if (phys < 0) {
            roll_back(cl, cq, orig, pos, cq_max);
            return phys;
        }
        if (phys_out) phys_out[i] = phys;
        b += bl;
        if (pr && props_lens) pr += pl;
        if (k && keys_lens) k += kl;
    }
    cl->last_queue_offset = first_queue_offset;
    __atomic_store_n(&cl->write_pos, pos, __ATOMIC_RELEASE);
    rmq_warmer_note(cl->warmer, (uint64_t)pos);
    return n;
}

/* TAGS, UNIQ_KEY and KEYS of a property string in one scan (reference section 4,
 * "Properties string": k \x01 v \x02 ...; entries with an empty key or value are
 * dropped, a later entry wins). Lengths are 0 when absent. */
typedef struct { const uint8_t *tags, *uniq, *keys; int32_t tags_len, uniq_len, keys_len; } batch_props;

static void scan_props(const uint8_t *p, int32_t len, batch_props *out) {
    const uint8_t *end = p + len;
    while (p < end) {
        const uint8_t *stop = rmq_find_byte(p, end, 2);
        /* An entry's key runs to its first \x01, so an entry is one of the three wanted
         * exactly when it starts with that key and \x01: a prefix test instead of a
         * second search of every entry for its separator. */
        size_t n = (size_t)(stop - p);
        if (n > 5 && p[4] == 1 && memcmp(p, "TAGS", 4) == 0) { out->tags = p + 5; out->tags_len = (int32_t)(n - 5); }
        else if (n > 5 && p[4] == 1 && memcmp(p, "KEYS", 4) == 0) { out->keys = p + 5; out->keys_len = (int32_t)(n - 5); }
        else if (n > 9 && p[8] == 1 && memcmp(p, "UNIQ_KEY", 8) == 0) { out->uniq = p + 9; out->uniq_len = (int32_t)(n - 9); }
        p = stop + 1;
    }
}

/* Index keys as a put builds them, "UNIQ_KEY KEYS" (message_store._encode_meta), into
 * cl->keys_buf (under the store lock); none without an index. Returns their length. */
static int32_t build_keys(rmq_commitlog *cl, const uint8_t *uniq, int32_t uniq_len, const uint8_t *keys,
                          int32_t keys_len) {
    int32_t kl = 0;
    if (!cl->index) return 0;
    if (uniq_len) { memcpy(cl->keys_buf, uniq, (size_t)uniq_len); kl = uniq_len; }
    if (keys_len) {
        if (kl) cl->keys_buf[kl++] = ' ';
        memcpy(cl->keys_buf + kl, keys, (size_t)keys_len);
        kl += keys_len;
    }
    return kl;
}

int64_t rmq_put_encoded(rmq_commitlog *cl, rmq_cq *cq, const char *body, int32_t body_len, const char *props,
                        int32_t props_len, int32_t flag, int32_t sys_flag, int64_t born_ts, const char *born_host,
                        int32_t born_host_len, int64_t store_ts, int32_t reconsume_times, int32_t use_tag_code,
                        int64_t tag_code) {
    batch_props bp = {0};
    if (props_len > 0) scan_props((const uint8_t *)props, props_len, &bp);
    int32_t kl = build_keys(cl, bp.uniq, bp.uniq_len, bp.keys, bp.keys_len);
    if (!use_tag_code) tag_code = bp.tags_len ? (int64_t)rmq_java_hash((const char *)bp.tags, bp.tags_len, 0) : 0;
    return rmq_put_ext(cl, cq, body, body_len, props, props_len, flag, sys_flag, born_ts, born_host, born_host_len,
                       store_ts, reconsume_times, 0, tag_code, (const char *)cl->keys_buf, kl);
}

int64_t rmq_put_batch_encoded(rmq_commitlog *cl, rmq_cq *cq, const char *wire, int64_t wire_len, int32_t sys_flag,
                              int64_t born_ts, const char *born_host, int32_t born_host_len, int64_t store_ts,
                              int32_t require_uniq, int64_t *phys_out, int32_t phys_cap, int64_t *bytes_out) {
    int64_t orig = cl->write_pos;
    int64_t pos = orig;
    int64_t cq_max = cq ? cq->max_logical : 0;
    if (!born_host) { born_host = (const char *)cl->store_host; born_host_len = cl->store_host_len; }
    int tx = sys_flag & SF_TX_MASK;
    int64_t first_queue_offset = (cq && (tx == SF_TX_NOT || tx == SF_TX_COMMIT)) ? cq->max_logical : 0;
    const uint8_t *w = (const uint8_t *)wire;
    int64_t at = 0, bytes = 0;
    int32_t n = 0;
    int64_t rc = 0;
    if (wire_len <= 0) return RMQ_E_BAD_BATCH;
    while (at < wire_len) {
        /* int TOTALSIZE | int MAGIC | int BODYCRC | int FLAG | int bodyLen | body | short propLen | props */
        if (wire_len - at < 22) { rc = RMQ_E_BAD_BATCH; break; }
        const uint8_t *r = w + at;
        int64_t total = (int32_t)rmq_get_be32(r);
        int32_t flag = (int32_t)rmq_get_be32(r + 12);
        int64_t body_len = (int32_t)rmq_get_be32(r + 16);
        if (total < 22 || total > wire_len - at || body_len < 0 || 20 + body_len + 2 > total) { rc = RMQ_E_BAD_BATCH; break; }
        const uint8_t *body = r + 20;
        int32_t props_len = rmq_get_be16(body + body_len);
        const uint8_t *props = body + body_len + 2;
        if (22 + body_len + props_len > total) { rc = RMQ_E_BAD_BATCH; break; }
        if (props_len > 32767) { rc = RMQ_E_PROPS_TOO_LARGE; break; }
        if (n >= phys_cap) { rc = RMQ_E_BATCH_TOO_MANY; break; }
        batch_props bp = {0};
        if (props_len) scan_props(props, props_len, &bp);
        const uint8_t *tags = bp.tags, *uniq = bp.uniq, *keys = bp.keys;
        int32_t tags_len = bp.tags_len, uniq_len = bp.uniq_len, keys_len = bp.keys_len;
        if (require_uniq && uniq_len == 0) { rc = RMQ_E_NO_UNIQ_KEY; break; }
        int32_t kl = build_keys(cl, uniq, uniq_len, keys, keys_len);
        int64_t tag_code = tags_len ? (int64_t)rmq_java_hash((const char *)tags, tags_len, 0) : 0;
        int64_t phys = append_record(cl, cq, (const uint8_t *)cq->topic, cq->topic_len, body, (int32_t)body_len, props,
                                     props_len, cq->queue_id, flag, sys_flag, born_ts, (const uint8_t *)born_host,
                                     born_host_len, store_ts, 0, 0, tag_code, cl->keys_buf, kl, cq->index_seed, &pos);
        if (phys < 0) { rc = phys; break; }
        bytes += pos - phys;
        phys_out[n++] = phys;
        at += total;
    }
    if (rc < 0) {
        roll_back(cl, cq, orig, pos, cq_max);
        return rc;
    }
    cl->last_queue_offset = first_queue_offset;
    __atomic_store_n(&cl->write_pos, pos, __ATOMIC_RELEASE);
    rmq_warmer_note(cl->warmer, (uint64_t)pos);
    *bytes_out = bytes;
    return n;
}

static const uint8_t *record_at(rmq_commitlog *cl, int64_t phys, int32_t size) {
    if (phys < 0 || phys + size > cl->write_pos) return NULL;
    rmq_segment *s = rmq_mfq_find(cl->q, (uint64_t)phys);
    if (!s || (uint64_t)phys + (uint64_t)size > s->from + s->size) return NULL;
    return s->base + ((uint64_t)phys - s->from);
}

int rmq_get(rmq_commitlog *cl, rmq_cq *cq, int64_t offset, int32_t max_count, int64_t max_bytes,
            const int64_t *tags, int32_t ntags, char *out, int64_t out_cap, rmq_get_result *res) {
    /* DefaultMessageStore.getMessage scans at most max(16000 bytes of CQ, maxMsgNums entries) */
    int64_t scan_limit = max_count > 800 ? max_count : 800;
    int64_t n = offset, end = cq->max_logical, bytes = 0;
    int32_t count = 0;
    int64_t cl_min = (int64_t)rmq_mfq_min_offset(cl->q);
    for (int64_t scanned = 0; n < end && scanned < scan_limit; scanned++) {
        int64_t phys, tag;
        int32_t size;
        if (rmq_cq_read(cq, n, &phys, &size, &tag) != 0) break;
        if (size <= 0 || phys < cl_min) { n++; continue; } /* gap or deleted by retention */
        if (ntags > 0) {
            int hit = 0;
            for (int32_t t = 0; t < ntags; t++) if (tags[t] == tag) { hit = 1; break; }
            if (!hit) { n++; continue; }
        }
        if (count > 0 && (bytes + size > max_bytes || bytes + size > out_cap)) break;
        if (bytes + size > out_cap) return -ENOBUFS;
        const uint8_t *rec = record_at(cl, phys, size);
        if (!rec) { n++; continue; }
        memcpy(out + bytes, rec, (size_t)size);
        bytes += size;
        count++;
        n++;
        if (count >= max_count) break;
    }
    res->next_offset = n;
    res->bytes = bytes;
    res->count = count;
    return count;
}

int32_t rmq_record_size(rmq_commitlog *cl, int64_t phys) {
    const uint8_t *p = record_at(cl, phys, 8);
    if (!p) return -1;
    uint32_t magic = rmq_get_be32(p + 4);
    if (magic != RMQ_MAGIC_V1 && magic != RMQ_MAGIC_V2) return -2;
    int32_t size = (int32_t)rmq_get_be32(p);
    if (size < 8 || !record_at(cl, phys, size)) return -3;
    return size;
}

const char *rmq_record_ptr(rmq_commitlog *cl, int64_t phys) { return (const char *)record_at(cl, phys, 8); }

static int64_t store_ts_of(const uint8_t *p) {
    uint32_t sys_flag = rmq_get_be32(p + 36);
    return (int64_t)rmq_get_be64(p + 48 + ((sys_flag & SF_BORNHOST_V6) ? 20 : 8));
}

int64_t rmq_record_store_ts(rmq_commitlog *cl, int64_t phys) {
    if (rmq_record_size(cl, phys) < 0) return -1;
    return store_ts_of(record_at(cl, phys, 8));
}

int64_t rmq_cq_offset_by_time(rmq_commitlog *cl, rmq_cq *cq, int64_t ts_ms, int32_t upper) {
    /* ConsumeQueue.getOffsetInQueueByTime(timestamp, boundaryType) as DefaultMessageStore
     * answers it, clamped to [min, max]. Store times only grow along a queue, so one search
     * for the first entry stored after the boundary serves both types:
     *   LOWER: the first offset stored at or after ts_ms (the first of equal times); max if none;
     *   UPPER: the last offset stored at or before ts_ms (the last of equal times); when every
     *          message is later, min (RocketMQ's 0, clamped); an empty queue answers min = max.
     * An entry whose record is gone (retention) or unreadable counts as stored before all. */
    int64_t lo = cq->min_logical, hi = cq->max_logical;
    int64_t min = lo;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, phys, tag;
        int32_t size;
        int64_t t = -1;
        if (rmq_cq_read(cq, mid, &phys, &size, &tag) == 0 && size > 0) t = rmq_record_store_ts(cl, phys);
        if (upper ? t > ts_ms : t >= ts_ms) hi = mid; else lo = mid + 1;
    }
    if (upper) return lo > min ? lo - 1 : min;
    return lo;
}

/* Does the record at p (remaining bytes before the file end) have a consistent
 * layout? Returns 0 or the stop reason (see rmq_recover_result). */
static int check_record(const uint8_t *p, int64_t pos, uint64_t remaining, int check_crc) {
    uint32_t total = rmq_get_be32(p);
    uint32_t magic = rmq_get_be32(p + 4);
    if (magic != RMQ_MAGIC_V1 && magic != RMQ_MAGIC_V2) return 1;
    if (total < 91 || (uint64_t)total + RMQ_BLANK_MIN > remaining) return 2;
    if ((int64_t)rmq_get_be64(p + 28) != pos) return 4;
    uint32_t sys_flag = rmq_get_be32(p + 36);
    uint64_t at = 48 + ((sys_flag & SF_BORNHOST_V6) ? 20 : 8) + 8 + ((sys_flag & SF_STOREHOST_V6) ? 20 : 8) + 12;
    if (at + 4 > total) return 5;
    uint64_t body_len = rmq_get_be32(p + at);
    uint64_t body_at = at + 4;
    at = body_at + body_len;
    if (at + 2 > total) return 5;
    uint64_t topic_len = magic == RMQ_MAGIC_V2 ? rmq_get_be16(p + at) : p[at];
    at += (magic == RMQ_MAGIC_V2 ? 2 : 1) + topic_len;
    if (at + 2 > total) return 5;
    at += 2 + rmq_get_be16(p + at);
    if (at != total) return 5;
    if (check_crc && (rmq_crc32(0, p + body_at, body_len) & 0x7FFFFFFFu) != rmq_get_be32(p + 8)) return 3;
    return 0;
}

int rmq_commitlog_recover(rmq_commitlog *cl, int64_t start, int check_crc, rmq_recover_result *res) {
    int64_t pos = start;
    res->last_record = -1;
    res->records = 0;
    res->stop_reason = 0;
    for (;;) {
        rmq_segment *s = rmq_mfq_find(cl->q, (uint64_t)pos);
        if (!s) break;
        uint64_t end = s->from + s->size;
        uint64_t remaining = end - (uint64_t)pos;
        const uint8_t *p = s->base + ((uint64_t)pos - s->from);
        if (remaining < RMQ_BLANK_MIN) { pos = (int64_t)end; continue; }
        uint32_t total = rmq_get_be32(p), magic = rmq_get_be32(p + 4);
        if (magic == RMQ_MAGIC_BLANK) {
            if (total != remaining) { res->stop_reason = 2; break; }
            pos = (int64_t)end;
            continue;
        }
        if (total == 0 && magic == 0) break; /* never written: the clean end */
        int reason = check_record(p, pos, remaining, check_crc);
        if (reason) { res->stop_reason = reason; break; }
        res->records++;
        res->last_record = pos;
        pos += total;
    }
    res->valid_end = pos;
    return 0;
}

int rmq_commitlog_truncate(rmq_commitlog *cl, int64_t end, int zero_tail) {
    rmq_mfq *q = cl->q;
    while (q->count > 0 && q->segs[q->count - 1].from > (uint64_t)end) rmq_mfq_drop_last(q);
    rmq_segment *s = rmq_mfq_find(q, (uint64_t)end);
    if (s && zero_tail) memset(s->base + ((uint64_t)end - s->from), 0, (size_t)(s->from + s->size - (uint64_t)end));
    __atomic_store_n(&cl->write_pos, end, __ATOMIC_RELEASE);
    return 0;
}

int32_t rmq_commitlog_walk(rmq_commitlog *cl, int64_t from, int64_t to, int32_t max, int64_t *phys_out,
                           int32_t *size_out, int64_t *next) {
    int32_t n = 0;
    int64_t pos = from;
    while (pos < to && n < max) {
        rmq_segment *s = rmq_mfq_find(cl->q, (uint64_t)pos);
        if (!s) break;
        uint64_t end = s->from + s->size;
        const uint8_t *p = s->base + ((uint64_t)pos - s->from);
        if (end - (uint64_t)pos < RMQ_BLANK_MIN || rmq_get_be32(p + 4) == RMQ_MAGIC_BLANK) { pos = (int64_t)end; continue; }
        int32_t total = (int32_t)rmq_get_be32(p);
        if (total <= 0) break;
        phys_out[n] = pos;
        size_out[n] = total;
        n++;
        pos += total;
    }
    *next = pos;
    return n;
}

int rmq_commitlog_sync(rmq_commitlog *cl, int64_t from, int64_t to) {
    return rmq_mfq_sync(cl->q, (uint64_t)from, (uint64_t)to);
}

int rmq_commitlog_start_warmer(rmq_commitlog *cl, int64_t window) {
    if (cl->warmer) return 0;
    if (window <= 0) return -EINVAL;
    cl->warmer = rmq_warmer_start(cl->q, (uint64_t)window, (uint64_t)cl->write_pos);
    return cl->warmer ? 0 : -ENOMEM;
}

void rmq_commitlog_stop_warmer(rmq_commitlog *cl) {
    rmq_warmer *w = cl->warmer;
    cl->warmer = NULL;
    rmq_warmer_stop(w);
}

int64_t rmq_commitlog_warm_stat(rmq_commitlog *cl, int32_t which) {
    rmq_warmer *w = cl->warmer;
    if (!w) return -1;
    pthread_mutex_lock(&w->lock);
    int64_t v = which == 0 ? (int64_t)w->warmed_bytes : which == 1 ? (int64_t)w->job_bytes
              : which == 2 ? (int64_t)w->jobs_posted : (int64_t)w->jobs_dropped;
    pthread_mutex_unlock(&w->lock);
    return v;
}

void rmq_commitlog_warm_wait(rmq_commitlog *cl) {
    if (cl->warmer) rmq_warmer_wait_idle(cl->warmer);
}
