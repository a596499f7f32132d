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
#include <pthread.h>
#include <stdint.h>

#define RMQ_INDEX_HEADER 40
#define RMQ_INDEX_SLOT 4
#define RMQ_INDEX_ENTRY 20

typedef struct rmq_index_file {
    int fd;
    uint8_t *base;
    uint64_t size;
    uint64_t id;          /* unique within the index: names the file to the warm-ahead thread */
    uint64_t reserved_to; /* bytes from 0 known to be allocated on disk (posix_fallocate) */
    int created;          /* made by this process (else loaded at open: its slots hold data) */
    char name[32];
} rmq_index_file;

typedef struct rmq_index {
    int count;
    uint32_t slot_num;
    uint32_t index_num;
    rmq_index_file *files; /* oldest first */
    int cap;
    uint64_t next_id;
    /* Held by the warm-ahead thread while it prefaults an index file, and by whoever moves
     * the file list (realloc, drop) or unmaps a file, so it never touches a stale mapping. */
    pthread_mutex_t warm_lock;
    /* the writer's warm-ahead bookkeeping (under the store lock): the newest file it asked
     * to be warmed, and how far into it */
    uint64_t warm_file;
    uint64_t warm_to;
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
/* The hash seed of "topic#": every key of a topic is hashed on from it. */
int32_t rmq_index_topic_seed(const char *topic, int32_t topic_len);
/* Slot hashes of keys' tokens into out; the token count, or -1 if more than cap. */
int32_t rmq_index_hash_keys(int32_t seed, const char *keys, int32_t keys_len, uint32_t *out, int32_t cap);
/* Start loading the hash slots of these keys (the table is far larger than the cache,
 * so each insert would otherwise wait on a miss); slots[i] = hashes[i] % slot_num. */
void rmq_index_prefetch(rmq_index *idx, const uint32_t *hashes, uint32_t *slots, int32_t n);
/* Insert keys whose hashes and slots rmq_index_prefetch gave. */
int rmq_index_put_hashes(rmq_index *idx, const uint32_t *hashes, const uint32_t *slots, int32_t n, int64_t phys,
                         int64_t store_ts);
/* indexCount of the newest file's header (reference section 5); 0 without a file */
static inline uint32_t rmq_index_newest_count(const rmq_index *idx) {
    if (idx->count == 0) return 0;
    const uint8_t *p = idx->files[idx->count - 1].base + 36;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
int rmq_index_put_seeded(rmq_index *idx, int32_t seed, const char *keys, int32_t keys_len, int64_t phys,
                         int64_t store_ts);
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
