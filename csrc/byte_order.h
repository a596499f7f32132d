/* Big-endian field access for the on-disk layouts.
 * Reference section header: every multi-byte integer RocketMQ stores is big-endian
 * (Java ByteBuffer default), so the store reads and writes through these helpers.
 * memcpy keeps unaligned access legal; the compiler turns it into one load/store. */
#ifndef RMQ_BYTE_ORDER_H
#define RMQ_BYTE_ORDER_H
#include <stdint.h>
#include <string.h>

static inline void rmq_put_be16(uint8_t *p, uint16_t v) { v = __builtin_bswap16(v); memcpy(p, &v, 2); }
static inline void rmq_put_be32(uint8_t *p, uint32_t v) { v = __builtin_bswap32(v); memcpy(p, &v, 4); }
static inline void rmq_put_be64(uint8_t *p, uint64_t v) { v = __builtin_bswap64(v); memcpy(p, &v, 8); }
static inline uint16_t rmq_get_be16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return __builtin_bswap16(v); }
static inline uint32_t rmq_get_be32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return __builtin_bswap32(v); }
static inline uint64_t rmq_get_be64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return __builtin_bswap64(v); }

#endif
