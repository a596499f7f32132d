/* IndexFile: hash index from "topic#key" to CommitLog offsets, for QUERY_MESSAGE.
 *
 * Why: reference section 5, "IndexFile" -- a 40-byte header, maxHashSlotNum 4-byte
 * slots holding the newest entry number for the slot, then maxIndexNum 20-byte
 * entries `keyHash | phyOffset | timeDiff | prevIndex` chained through prevIndex.
 * Files are index/<yyyyMMddHHmmssSSS> (local time of the first message), sparse
 * mmaps; a full file rolls to a new one. Inserts happen inside the CommitLog put
 * and the look-up walks chains here, so neither runs Python per entry. */
#ifndef RMQ_INDEX_FILE_H
#define RMQ_INDEX_FILE_H
#include <stdint.h>

#define RMQ_INDEX_HEADER 40
#define RMQ_INDEX_SLOT 4
#define RMQ_INDEX_ENTRY 20

typedef struct rmq_index_file {
    int fd;
    uint8_t *base;
    uint64_t size;
    char name[32];
} rmq_index_file;

typedef struct rmq_index {
    rmq_index_file *files; /* oldest first */
    int count;
    int cap;
    uint32_t slot_num;
    uint32_t index_num;
    char dir[4096];
} rmq_index;

rmq_index *rmq_index_new(const char *dir, uint32_t slot_num, uint32_t index_num);
void rmq_index_free(rmq_index *idx);
int rmq_index_load(rmq_index *idx, const char *name);
/* Java String.hashCode of the UTF-8 text, computed over its UTF-16 code units */
int32_t rmq_java_hash(const char *utf8, int64_t len, int32_t seed);
/* Index `topic#token` for each non-empty space-separated token of keys. */
int rmq_index_put(rmq_index *idx, const char *topic, int32_t topic_len, const char *keys, int32_t keys_len,
                  int64_t phys, int64_t store_ts);
int rmq_index_query(rmq_index *idx, const char *key, int32_t key_len, int64_t begin_ms, int64_t end_ms,
                    int32_t max_count, int64_t *out_phys);
int64_t rmq_index_truncate(rmq_index *idx, int64_t phys_limit);
int64_t rmq_index_end_phys(rmq_index *idx, int i);
int64_t rmq_index_begin_ts(rmq_index *idx, int i);
int64_t rmq_index_end_ts(rmq_index *idx, int i);
int32_t rmq_index_count(rmq_index *idx, int i);
int rmq_index_drop_first(rmq_index *idx);
int rmq_index_sync(rmq_index *idx);

#endif
