#define _GNU_SOURCE
#include "index_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "byte_order.h"
#include "find_byte.h"

/* header fields, reference section 5 */
#define H_BEGIN_TS 0
#define H_END_TS 8
#define H_BEGIN_PHY 16
#define H_END_PHY 24
#define H_SLOT_COUNT 32
#define H_INDEX_COUNT 36

static uint64_t file_size(const rmq_index *idx) {
    return RMQ_INDEX_HEADER + (uint64_t)idx->slot_num * RMQ_INDEX_SLOT + (uint64_t)idx->index_num * RMQ_INDEX_ENTRY;
}

rmq_index *rmq_index_new(const char *dir, uint32_t slot_num, uint32_t index_num) {
    rmq_index *idx = calloc(1, sizeof *idx);
    if (!idx) return NULL;
    idx->cap = 64;
    idx->files = calloc((size_t)idx->cap, sizeof(rmq_index_file));
    if (!idx->files) { free(idx); return NULL; }
    idx->slot_num = slot_num;
    idx->index_num = index_num;
    idx->next_id = 1;
    pthread_mutex_init(&idx->warm_lock, NULL);
    snprintf(idx->dir, sizeof idx->dir, "%s", dir);
    return idx;
}

static void unmap_file(rmq_index_file *f) {
    if (f->base) munmap(f->base, f->size);
    if (f->fd >= 0) close(f->fd);
    f->base = NULL;
    f->fd = -1;
}

void rmq_index_free(rmq_index *idx) {
    if (!idx) return;
    for (int i = 0; i < idx->count; i++) unmap_file(&idx->files[i]);
    pthread_mutex_destroy(&idx->warm_lock);
    free(idx->files);
    free(idx);
}

/* Reserve disk blocks for [f->reserved_to, end) (posix_fallocate), so that writing
 * there through the mapping cannot fail for a full disk (a SIGBUS): the put that needs
 * them gets the error instead. Not supported here: sparse it is, as for the CommitLog. */
static int reserve_to(rmq_index_file *f, uint64_t end) {
    if (end > f->size) end = f->size;
    if (end <= f->reserved_to) return 0;
    int rc = posix_fallocate(f->fd, (off_t)f->reserved_to, (off_t)(end - f->reserved_to));
    if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) return -rc;
    f->reserved_to = end;
    return 0;
}

/* Entries are reserved this far ahead of the one being written: one fallocate per
 * ~52k inserts. */
#define ENTRY_RESERVE (1u << 20)

static int map_index(rmq_index *idx, const char *name, int create) {
    if (idx->count == idx->cap) {
        /* only the writer (under the store lock) changes the index list; the warm-ahead
         * thread reads it under warm_lock */
        pthread_mutex_lock(&idx->warm_lock);
        rmq_index_file *grown = realloc(idx->files, sizeof(rmq_index_file) * (size_t)idx->cap * 2);
        if (grown) {
            idx->files = grown;
            idx->cap *= 2;
        }
        pthread_mutex_unlock(&idx->warm_lock);
        if (!grown) return -ENOMEM;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", idx->dir, name);
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0644);
    if (fd < 0) return -errno;
    uint64_t size = file_size(idx);
    struct stat st;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); return -e; }
    if (create) {
        if (ftruncate(fd, (off_t)size) != 0) { int e = errno; close(fd); unlink(path); return -e; }
    } else if ((uint64_t)st.st_size != size) {
        close(fd);
        return -EINVAL; /* made with other max_hash_slot_num/max_index_num */
    }
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) { int e = errno; close(fd); if (create) unlink(path); return -e; }
    rmq_index_file nf = {.fd = fd, .base = base, .size = size, .id = idx->next_id++, .created = create};
    snprintf(nf.name, sizeof nf.name, "%s", name);
    if (create) {
        /* the header and every hash slot now (inserts hit random slots), entries as they come */
        int rc = reserve_to(&nf, RMQ_INDEX_HEADER + (uint64_t)idx->slot_num * RMQ_INDEX_SLOT + ENTRY_RESERVE);
        if (rc != 0) { munmap(base, size); close(fd); unlink(path); return rc; }
        rmq_put_be32(nf.base + H_INDEX_COUNT, 1); /* entry 0 is the "empty" marker */
    }
    pthread_mutex_lock(&idx->warm_lock);
    idx->files[idx->count] = nf;
    idx->count++;
    pthread_mutex_unlock(&idx->warm_lock);
    return 0;
}

int rmq_index_load(rmq_index *idx, const char *name) {
    int rc = map_index(idx, name, 0);
    if (rc == 0) {
        rmq_index_file *f = &idx->files[idx->count - 1];
        if ((int32_t)rmq_get_be32(f->base + H_INDEX_COUNT) <= 0) rmq_put_be32(f->base + H_INDEX_COUNT, 1);
    }
    return rc;
}

static int roll(rmq_index *idx, int64_t store_ts) {
    /* name = local time yyyyMMddHHmmssSSS (UtilAll.timeMillisToHumanString); bump on clash */
    for (int attempt = 0; attempt < 1000; attempt++) {
        int64_t ms = store_ts + attempt;
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        localtime_r(&secs, &tm);
        char name[32];
        snprintf(name, sizeof name, "%04d%02d%02d%02d%02d%02d%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
        int rc = map_index(idx, name, 1);
        if (rc != -EEXIST) return rc;
    }
    return -EEXIST;
}

int32_t rmq_java_hash(const char *text, int64_t len, int32_t seed) {
    const uint8_t *s = (const uint8_t *)text;
    uint32_t h = (uint32_t)seed;
    int64_t i = 0;
    while (i < len) {
        /* ASCII, four at a time: h*31^4 + c0*31^3 + c1*31^2 + c2*31 + c3 is the same sum
         * mod 2^32 as four serial steps, but one multiply deep instead of four (a 32-char
         * UNIQ_KEY is hashed once per indexed message) */
        while (i + 4 <= len) {
            uint32_t word;
            memcpy(&word, s + i, 4);
            if (word & 0x80808080u) break;
            h = h * 923521u + s[i] * 29791u + s[i + 1] * 961u + s[i + 2] * 31u + s[i + 3];
            i += 4;
        }
        if (i >= len) break;
        uint32_t c = s[i];
        uint32_t cp;
        if (c < 0x80) { cp = c; i += 1; }
        else if ((c >> 5) == 0x6 && i + 1 < len) { cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F); i += 2; }
        else if ((c >> 4) == 0xE && i + 2 < len) {
            cp = ((c & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F); i += 3;
        } else if ((c >> 3) == 0x1E && i + 3 < len) {
            cp = ((c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) | ((uint32_t)(s[i + 2] & 0x3F) << 6) |
                 (s[i + 3] & 0x3F);
            i += 4;
        } else { cp = 0xFFFD; i += 1; }
        if (cp >= 0x10000) { /* Java strings are UTF-16: hash both surrogates */
            cp -= 0x10000;
            h = 31 * h + (0xD800 | (cp >> 10));
            h = 31 * h + (0xDC00 | (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

static uint32_t key_hash(int32_t h) {
    /* reference section 5: abs(hashCode), 0 when that is still negative (MIN_VALUE) */
    if (h == INT32_MIN) return 0;
    return (uint32_t)(h < 0 ? -h : h);
}

static int put_one(rmq_index *idx, uint32_t kh, uint32_t slot_no, int64_t phys, int64_t store_ts) {
    if (idx->count == 0 || rmq_get_be32(idx->files[idx->count - 1].base + H_INDEX_COUNT) >= idx->index_num) {
        int rc = roll(idx, store_ts);
        if (rc != 0) return rc;
    }
    uint8_t *b = idx->files[idx->count - 1].base;
    uint32_t count = rmq_get_be32(b + H_INDEX_COUNT);
    uint8_t *slot = b + RMQ_INDEX_HEADER + (uint64_t)slot_no * RMQ_INDEX_SLOT;
    int32_t prev = (int32_t)rmq_get_be32(slot);
    if (prev <= 0 || (uint32_t)prev > count) prev = 0;
    int64_t begin_ts = (int64_t)rmq_get_be64(b + H_BEGIN_TS);
    int64_t diff = (store_ts - begin_ts) / 1000;
    if (begin_ts <= 0 || diff < 0) diff = 0;
    else if (diff > INT32_MAX) diff = INT32_MAX;
    uint64_t at = RMQ_INDEX_HEADER + (uint64_t)idx->slot_num * RMQ_INDEX_SLOT + (uint64_t)count * RMQ_INDEX_ENTRY;
    rmq_index_file *f = &idx->files[idx->count - 1];
    if (at + RMQ_INDEX_ENTRY > f->reserved_to) {
        /* a file loaded at open has reserved_to 0: this reserves everything up to here once */
        int rc = reserve_to(f, at + ENTRY_RESERVE);
        if (rc != 0) return rc;
    }
    uint8_t *e = b + at;
    rmq_put_be32(e, kh);
    rmq_put_be64(e + 4, (uint64_t)phys);
    rmq_put_be32(e + 12, (uint32_t)diff);
    rmq_put_be32(e + 16, (uint32_t)prev);
    rmq_put_be32(slot, count);
    if (count <= 1) {
        rmq_put_be64(b + H_BEGIN_PHY, (uint64_t)phys);
        rmq_put_be64(b + H_BEGIN_TS, (uint64_t)store_ts);
    }
    if (prev == 0) rmq_put_be32(b + H_SLOT_COUNT, rmq_get_be32(b + H_SLOT_COUNT) + 1);
    rmq_put_be64(b + H_END_PHY, (uint64_t)phys);
    rmq_put_be64(b + H_END_TS, (uint64_t)store_ts);
    rmq_put_be32(b + H_INDEX_COUNT, count + 1);
    return 0;
}

int32_t rmq_index_topic_seed(const char *topic, int32_t topic_len) {
    return (int32_t)(31u * (uint32_t)rmq_java_hash(topic, topic_len, 0) + '#');
}

int32_t rmq_index_hash_keys(int32_t seed, const char *keys, int32_t keys_len, uint32_t *out, int32_t cap) {
    const uint8_t *p = (const uint8_t *)keys, *end = p + keys_len;
    int32_t n = 0;
    while (p < end) {
        const uint8_t *stop = rmq_find_byte(p, end, ' ');
        if (stop > p) {
            if (n == cap) return -1;
            out[n++] = key_hash(rmq_java_hash((const char *)p, stop - p, seed));
        }
        p = stop + 1;
    }
    return n;
}

void rmq_index_prefetch(rmq_index *idx, const uint32_t *hashes, uint32_t *slots, int32_t n) {
    for (int32_t i = 0; i < n; i++) slots[i] = hashes[i] % idx->slot_num;
    if (idx->count == 0) return;
    const uint8_t *b = idx->files[idx->count - 1].base;
    for (int32_t i = 0; i < n; i++) __builtin_prefetch(b + RMQ_INDEX_HEADER + (uint64_t)slots[i] * RMQ_INDEX_SLOT, 1);
}

int rmq_index_put_hashes(rmq_index *idx, const uint32_t *hashes, const uint32_t *slots, int32_t n, int64_t phys,
                         int64_t store_ts) {
    for (int32_t i = 0; i < n; i++) {
        int rc = put_one(idx, hashes[i], slots[i], phys, store_ts);
        if (rc != 0) return rc;
    }
    return 0;
}

int rmq_index_put_seeded(rmq_index *idx, int32_t seed, const char *keys, int32_t keys_len, int64_t phys,
                         int64_t store_ts) {
    int32_t i = 0;
    while (i < keys_len) {
        while (i < keys_len && keys[i] == ' ') i++;
        int32_t start = i;
        while (i < keys_len && keys[i] != ' ') i++;
        if (i > start) {
            uint32_t kh = key_hash(rmq_java_hash(keys + start, i - start, seed));
            int rc = put_one(idx, kh, kh % idx->slot_num, phys, store_ts);
            if (rc != 0) return rc;
        }
    }
    return 0;
}

int rmq_index_put(rmq_index *idx, const char *topic, int32_t topic_len, const char *keys, int32_t keys_len,
                  int64_t phys, int64_t store_ts) {
    return rmq_index_put_seeded(idx, rmq_index_topic_seed(topic, topic_len), keys, keys_len, phys, store_ts);
}

static int time_matched(const uint8_t *b, int64_t begin, int64_t end) {
    int64_t fb = (int64_t)rmq_get_be64(b + H_BEGIN_TS), fe = (int64_t)rmq_get_be64(b + H_END_TS);
    return (begin < fb && end > fe) || (begin >= fb && begin <= fe) || (end >= fb && end <= fe);
}

int rmq_index_query(rmq_index *idx, const char *key, int32_t key_len, int64_t begin_ms, int64_t end_ms,
                    int32_t max_count, int64_t *out_phys) {
    uint32_t kh = key_hash(rmq_java_hash(key, key_len, 0));
    int n = 0;
    /* newest file first, as IndexService.queryOffset */
    for (int fi = idx->count - 1; fi >= 0 && n < max_count; fi--) {
        const uint8_t *b = idx->files[fi].base;
        uint32_t count = rmq_get_be32(b + H_INDEX_COUNT);
        int64_t file_begin = (int64_t)rmq_get_be64(b + H_BEGIN_TS);
        if (count > 1 && time_matched(b, begin_ms, end_ms)) {
            const uint8_t *slot = b + RMQ_INDEX_HEADER + (uint64_t)(kh % idx->slot_num) * RMQ_INDEX_SLOT;
            int32_t cur = (int32_t)rmq_get_be32(slot);
            while (cur > 0 && (uint32_t)cur < count && n < max_count) {
                const uint8_t *e = b + RMQ_INDEX_HEADER + (uint64_t)idx->slot_num * RMQ_INDEX_SLOT +
                                   (uint64_t)cur * RMQ_INDEX_ENTRY;
                uint32_t h = rmq_get_be32(e);
                int64_t phys = (int64_t)rmq_get_be64(e + 4);
                int32_t diff = (int32_t)rmq_get_be32(e + 12);
                int32_t prev = (int32_t)rmq_get_be32(e + 16);
                if (diff < 0) break;
                int64_t t = file_begin + (int64_t)diff * 1000;
                /* timeDiff is whole seconds: widen by one second here; the caller checks
                 * the exact store timestamp of each message it reads */
                if (h == kh && t >= begin_ms - 1000 && t <= end_ms) out_phys[n++] = phys;
                if (prev <= 0 || prev >= cur || t < begin_ms - 1000) break;
                cur = prev;
            }
        }
        if (file_begin < begin_ms) break;
    }
    return n;
}

int64_t rmq_index_truncate(rmq_index *idx, int64_t phys_limit) {
    int64_t removed = 0;
    while (idx->count > 0) {
        rmq_index_file *f = &idx->files[idx->count - 1];
        uint8_t *b = f->base;
        uint32_t count = rmq_get_be32(b + H_INDEX_COUNT);
        uint8_t *entries = b + RMQ_INDEX_HEADER + (uint64_t)idx->slot_num * RMQ_INDEX_SLOT;
        /* undo inserts newest first: restoring each slot to the entry's prevIndex
         * exactly reverses the insertion, so the chains stay intact */
        while (count > 1) {
            uint8_t *e = entries + (uint64_t)(count - 1) * RMQ_INDEX_ENTRY;
            if ((int64_t)rmq_get_be64(e + 4) < phys_limit) break;
            uint32_t kh = rmq_get_be32(e);
            uint32_t prev = rmq_get_be32(e + 16);
            rmq_put_be32(b + RMQ_INDEX_HEADER + (uint64_t)(kh % idx->slot_num) * RMQ_INDEX_SLOT, prev);
            if (prev == 0) rmq_put_be32(b + H_SLOT_COUNT, rmq_get_be32(b + H_SLOT_COUNT) - 1);
            memset(e, 0, RMQ_INDEX_ENTRY);
            count--;
            removed++;
        }
        rmq_put_be32(b + H_INDEX_COUNT, count);
        if (count > 1) {
            uint8_t *last = entries + (uint64_t)(count - 1) * RMQ_INDEX_ENTRY;
            int64_t phys = (int64_t)rmq_get_be64(last + 4);
            rmq_put_be64(b + H_END_PHY, (uint64_t)phys);
            rmq_put_be64(b + H_END_TS,
                         rmq_get_be64(b + H_BEGIN_TS) + (uint64_t)rmq_get_be32(last + 12) * 1000);
            return removed;
        }
        /* nothing left in the newest file: remove it and look at the one before */
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", idx->dir, f->name);
        pthread_mutex_lock(&idx->warm_lock);
        unmap_file(f);
        idx->count--;
        pthread_mutex_unlock(&idx->warm_lock);
        unlink(path);
    }
    return removed;
}

int64_t rmq_index_end_phys(rmq_index *idx, int i) { return (int64_t)rmq_get_be64(idx->files[i].base + H_END_PHY); }
int64_t rmq_index_begin_ts(rmq_index *idx, int i) { return (int64_t)rmq_get_be64(idx->files[i].base + H_BEGIN_TS); }
int64_t rmq_index_end_ts(rmq_index *idx, int i) { return (int64_t)rmq_get_be64(idx->files[i].base + H_END_TS); }
int32_t rmq_index_count(rmq_index *idx, int i) { return (int32_t)rmq_get_be32(idx->files[i].base + H_INDEX_COUNT); }

int rmq_index_drop_first(rmq_index *idx) {
    if (idx->count == 0) return -ENOENT;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", idx->dir, idx->files[0].name);
    pthread_mutex_lock(&idx->warm_lock);
    unmap_file(&idx->files[0]);
    memmove(&idx->files[0], &idx->files[1], sizeof(rmq_index_file) * (size_t)(idx->count - 1));
    idx->count--;
    pthread_mutex_unlock(&idx->warm_lock);
    return unlink(path) == 0 ? 0 : -errno;
}

int rmq_index_sync(rmq_index *idx) {
    for (int i = 0; i < idx->count; i++)
        if (msync(idx->files[i].base, idx->files[i].size, MS_SYNC) != 0) return -errno;
    return 0;
}
