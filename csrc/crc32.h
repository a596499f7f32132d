/* CRC32 (IEEE, reflected, poly 0xEDB88320) of message bodies.
 * Reference section 4: the stored BODYCRC is crc32(body) & 0x7FFFFFFF. Slicing-by-8
 * because every put checksums its whole body and recovery re-checksums the tail. */
#ifndef RMQ_CRC32_H
#define RMQ_CRC32_H
#include <stddef.h>
#include <stdint.h>

uint32_t rmq_crc32(uint32_t crc, const uint8_t *data, size_t len);
/* memcpy(dst, src, len) and return rmq_crc32(0, src, len), in one pass where the CPU
 * allows (the ranges must not overlap) */
uint32_t rmq_crc32_copy(uint8_t *dst, const uint8_t *src, size_t len);

#endif
