/* CommitLog: the append-only log of stored-message records, and the one-call put.
 *
 * Why: reference section 4 fixes the record layout (V1/V2 magic, body CRC, 91 bytes
 * of overhead for IPv4) and the end-of-file blank (`int remaining | int 0xCBD43194`,
 * written when msgLen + 8 > remaining, then roll). A put -- encode the record, CRC,
 * blank/roll, the ConsumeQueue entry and the index entries -- is one C call per
 * message (one per batch), because per-field Python calls would cost more than the
 * memcpy itself. Reads (PULL scans, look-ups) and the crash-recovery tail scan are
 * here too, for the same reason. */
#ifndef RMQ_COMMITLOG_H
#define RMQ_COMMITLOG_H
#include <stdint.h>
#include "body_ref.h"
#include "consume_queue.h"
#include "index_file.h"
#include "mapped_file.h"
#include "warm_ahead.h"

#define RMQ_MAGIC_V1 0xDAA320A7u
#define RMQ_MAGIC_V2 0xDAA320ABu
#define RMQ_MAGIC_BLANK 0xCBD43194u
#define RMQ_BLANK_MIN 8 /* CommitLog.END_FILE_MIN_BLANK_LENGTH */

/* put errors (negative errno values are passed through as well) */
#define RMQ_E_TOO_LARGE (-100001)     /* record longer than max_message_size */
#define RMQ_E_FILE_TOO_SMALL (-100002) /* record + blank does not fit an empty segment */
#define RMQ_E_BAD_BATCH (-100003)      /* a SEND_BATCH body whose lengths do not add up, or empty */
#define RMQ_E_NO_UNIQ_KEY (-100004)    /* an inner message without UNIQ_KEY (when required) */
#define RMQ_E_PROPS_TOO_LARGE (-100005) /* inner properties over 32767 bytes */
#define RMQ_E_BATCH_TOO_MANY (-100006) /* more inner messages than phys_out holds */

typedef struct rmq_commitlog {
    rmq_mfq *q;
    rmq_index *index;          /* NULL: no key index */
    int64_t write_pos;         /* global offset of the next record; bytes below are complete */
    int64_t last_store_ts;     /* store timestamp of the last record (checkpoint) */
    int64_t last_queue_offset; /* queue offset given to the last record put */
    int32_t max_message_size;
    int32_t store_host_len;    /* 8 (IPv4 + port) or 20 (IPv6 + port) */
    uint8_t store_host[20];
    rmq_warmer *warmer;        /* NULL: no warm-ahead (warm_mapped_file_enable off) */
    /* the file being appended to (cache; valid while q->gen == w_gen) */
    uint8_t *w_base;
    uint64_t w_from, w_end, w_gen;
    uint8_t *keys_buf;         /* "UNIQ_KEY KEYS" of one encoded-batch record (under the store lock) */
} rmq_commitlog;

typedef struct rmq_get_result {
    int64_t next_offset;
    int64_t bytes;
    int32_t count;
} rmq_get_result;

typedef struct rmq_recover_result {
    int64_t valid_end;       /* offset after the last valid record (or blank) */
    int64_t last_record;     /* offset of the last valid record, -1 if none */
    int64_t records;         /* valid records walked */
    int32_t stop_reason;     /* 0 clean end, 1 bad magic, 2 bad size, 3 bad CRC, 4 wrong physical offset, 5 bad lengths */
} rmq_recover_result;

rmq_commitlog *rmq_commitlog_new(const char *dir, uint64_t file_size, int cap, int32_t max_message_size,
                                 const char *store_host, int32_t store_host_len);
void rmq_commitlog_free(rmq_commitlog *cl);

/* Plain message: born timestamp = store timestamp, born host = store host, sys flag 0.
 * cq: the target queue, which also names the topic and queue id; PREPARED/ROLLBACK
 * transaction types are written but not dispatched (queue offset 0). keys: "UNIQ_KEY KEYS..." space separated,
 * each indexed as topic#key. Returns the record's physical offset or an error. */
int64_t rmq_put_simple(rmq_commitlog *cl, rmq_cq *cq, const char *body, int32_t body_len, const char *props,
                       int32_t props_len, int32_t flag, int64_t store_ts, int64_t tag_code, const char *keys,
                       int32_t keys_len);
/* Every field given (MessageExt from the broker). born_host: ip+port, 8 or 20 bytes. */
int64_t rmq_put_ext(rmq_commitlog *cl, rmq_cq *cq, const char *body, int32_t body_len, const char *props,
                    int32_t props_len, int32_t flag, int32_t sys_flag, int64_t born_ts, const char *born_host, int32_t born_host_len, int64_t store_ts,
                    int32_t reconsume_times, int64_t prepared_offset, int64_t tag_code, const char *keys,
                    int32_t keys_len);
/* n records of one topic/queue. Bodies are either the blob `bodies` (body_lens[i] bytes
 * each, in order) or, when body_refs is not NULL, an array of n rmq_body_ref giving each
 * body's address, length and flag (bodies, body_lens and flags are then unused). A NULL length array with a non-NULL blob means every
 * record has the same properties (keys) of uniform_*_len bytes; NULL tag_codes means
 * uniform_tag_code for all; NULL flags means 0. All or nothing:
 * on error nothing of the batch stays visible. Returns n or an error; phys_out[i]
 * gets each record's offset. */
int64_t rmq_put_batch(rmq_commitlog *cl, rmq_cq *cq, int32_t n,
                      const char *bodies, const int32_t *body_lens, const char *body_refs, const char *props, const int32_t *props_lens,
                      const int32_t *flags, const int64_t *tag_codes, const char *keys, const int32_t *keys_lens,
                      int32_t sys_flag, int64_t born_ts, const char *born_host,
                      int32_t born_host_len, int64_t store_ts, int32_t uniform_props_len,
                      int64_t uniform_tag_code, int32_t uniform_keys_len, int64_t *phys_out);

/* One record from a property string as sent (reference section 4, "Properties string":
 * SEND_MESSAGE's header properties, stored as given): the tag code is the Java hash of
 * its TAGS (or tag_code when use_tag_code), its UNIQ_KEY and KEYS tokens are indexed,
 * as rmq_put_ext with the keys a put of the decoded message builds. NULL born_host: the
 * store host. Returns the record's offset or an error, like rmq_put_ext. */
int64_t rmq_put_encoded(rmq_commitlog *cl, rmq_cq *cq, const char *body, int32_t body_len, const char *props,
                        int32_t props_len, int32_t flag, int32_t sys_flag, int64_t born_ts, const char *born_host,
                        int32_t born_host_len, int64_t store_ts, int32_t reconsume_times, int32_t use_tag_code,
                        int64_t tag_code);
/* A SEND_BATCH request body as it came off the wire (reference section 4, "SEND_BATCH
 * body": per message `int TOTALSIZE | int MAGIC | int BODYCRC | int FLAG | int bodyLen |
 * body | short propLen | props`), stored record by record with each inner message's own
 * flag, body and properties bytes as sent; the tag code is the Java hash of its TAGS and
 * its UNIQ_KEY and KEYS are indexed, as for a put. sys_flag, born_ts and born_host are
 * the batch's (NULL born_host: the store host). require_uniq: refuse (before anything is
 * visible) a batch with an inner message lacking UNIQ_KEY, so the caller can add them.
 * All or nothing. Returns the number of records (phys_out[i] each one's offset, at most
 * phys_cap) or an error; *bytes_out = the records' total size. */
int64_t rmq_put_batch_encoded(rmq_commitlog *cl, rmq_cq *cq, const char *wire, int64_t wire_len, int32_t sys_flag,
                              int64_t born_ts, const char *born_host, int32_t born_host_len, int64_t store_ts,
                              int32_t require_uniq, int64_t *phys_out, int32_t phys_cap, int64_t *bytes_out);

int rmq_get(rmq_commitlog *cl, rmq_cq *cq, int64_t offset, int32_t max_count, int64_t max_bytes,
            const int64_t *tags, int32_t ntags, char *out, int64_t out_cap, rmq_get_result *res);
/* size of the valid record at phys (magic checked), or < 0 */
int32_t rmq_record_size(rmq_commitlog *cl, int64_t phys);
const char *rmq_record_ptr(rmq_commitlog *cl, int64_t phys);
int64_t rmq_record_store_ts(rmq_commitlog *cl, int64_t phys);
int64_t rmq_cq_offset_by_time(rmq_commitlog *cl, rmq_cq *cq, int64_t ts_ms, int32_t upper);

int rmq_commitlog_recover(rmq_commitlog *cl, int64_t start, int check_crc, rmq_recover_result *res);
/* Set the end of the log: zero [end, end of its file) when zero_tail, delete later files. */
int rmq_commitlog_truncate(rmq_commitlog *cl, int64_t end, int zero_tail);
/* Valid records in [from, to), up to max; returns count, *next = where to continue. */
int32_t rmq_commitlog_walk(rmq_commitlog *cl, int64_t from, int64_t to, int32_t max, int64_t *phys_out,
                           int32_t *size_out, int64_t *next);
int rmq_commitlog_sync(rmq_commitlog *cl, int64_t from, int64_t to);
/* Start the warm-ahead thread (warm_ahead.h) at the current write position; 0 or -errno. */
int rmq_commitlog_start_warmer(rmq_commitlog *cl, int64_t window);
/* Stop it (before the mappings go away); no-op without one. */
void rmq_commitlog_stop_warmer(rmq_commitlog *cl);
/* Warm-ahead statistics (tests, logs): 0 CommitLog bytes prefaulted, 1 ConsumeQueue and
 * index bytes prefaulted, 2 jobs posted, 3 jobs dropped (queue full); -1 without a thread. */
int64_t rmq_commitlog_warm_stat(rmq_commitlog *cl, int32_t which);
/* Wait until the warm-ahead window is prefaulted (tests, benchmarks); no-op without one. */
void rmq_commitlog_warm_wait(rmq_commitlog *cl);

#endif
