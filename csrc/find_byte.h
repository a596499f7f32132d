/* memchr for the short fields of a put (a property string, an index key list).
 *
 * Why: libc memchr costs a call and its setup per use, and a SEND_BATCH record's
 * property scan and key split call it several times per message on strings of a few
 * dozen bytes; inlined, 16 bytes a step (SSE2, always there on x86-64), this is a
 * few instructions. Never reads past end. */
#ifndef RMQ_FIND_BYTE_H
#define RMQ_FIND_BYTE_H
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* first c in [p, end), or end */
static inline const uint8_t *rmq_find_byte(const uint8_t *p, const uint8_t *end, uint8_t c) {
#if defined(__SSE2__)
    const __m128i needle = _mm_set1_epi8((char)c);
    while (end - p >= 16) {
        int m = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), needle));
        if (m) return p + __builtin_ctz((unsigned)m);
        p += 16;
    }
#endif
    while (p < end && *p != c) p++;
    return p;
}

#endif
