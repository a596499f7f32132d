#include "crc32.h"

#include <string.h>

static uint32_t table[8][256];
static int table_ready = 0;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = table[0][i];
        for (int t = 1; t < 8; t++) {
            c = table[0][c & 0xFF] ^ (c >> 8);
            table[t][i] = c;
        }
    }
    table_ready = 1;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define RMQ_HAVE_CLMUL_PATH 1
/* Carry-less multiply folding (Intel, "Fast CRC Computation for Generic Polynomials
 * Using PCLMULQDQ"), bit-reflected constants for the IEEE polynomial, as in zlib's
 * and Chromium's crc32_simd. Why: the body CRC is the costliest step of a put of a
 * 1 KiB message with the table method (~2 GB/s); folding runs at memory speed.
 * Takes and returns the pre-inverted CRC; len >= 64 and a multiple of 16. */
/* The end of the folding: fold the remaining 16-byte blocks into the 128-bit remainder
 * x1, then reduce it to the 32-bit CRC (Barrett). len is a multiple of 16. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t fold_tail(__m128i x1, const uint8_t *buf, size_t len) {
    static const uint64_t k3k4[2] __attribute__((aligned(16))) = {0x01751997d0ULL, 0x00ccaa009eULL};
    static const uint64_t k5k0[2] __attribute__((aligned(16))) = {0x0163cd6124ULL, 0x0000000000ULL};
    static const uint64_t poly[2] __attribute__((aligned(16))) = {0x01db710641ULL, 0x01f7011641ULL};
    __m128i x0 = _mm_load_si128((const __m128i *)k3k4), x2, x3, x5;
    while (len >= 16) {
        x2 = _mm_loadu_si128((const __m128i *)buf);
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
        buf += 16;
        len -= 16;
    }
    x2 = _mm_clmulepi64_si128(x1, x0, 0x10); /* 128 -> 64 bits */
    x3 = _mm_setr_epi32(~0, 0, ~0, 0);
    x1 = _mm_srli_si128(x1, 8);
    x1 = _mm_xor_si128(x1, x2);
    x0 = _mm_loadl_epi64((const __m128i *)k5k0);
    x2 = _mm_srli_si128(x1, 4);
    x1 = _mm_and_si128(x1, x3);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    x0 = _mm_load_si128((const __m128i *)poly); /* Barrett reduction to 32 bits */
    x2 = _mm_and_si128(x1, x3);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
    x2 = _mm_and_si128(x2, x3);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

__attribute__((target("pclmul,sse4.1"))) static uint32_t crc32_clmul(const uint8_t *buf, size_t len, uint32_t crc) {
    static const uint64_t k1k2[2] __attribute__((aligned(16))) = {0x0154442bd4ULL, 0x01c6e41596ULL};
    static const uint64_t k3k4[2] __attribute__((aligned(16))) = {0x01751997d0ULL, 0x00ccaa009eULL};
    __m128i x0, x1, x2, x3, x4, x5, x6, x7, x8, y5, y6, y7, y8;

    x1 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
    x2 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
    x3 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
    x4 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    x0 = _mm_load_si128((const __m128i *)k1k2);
    buf += 64;
    len -= 64;
    while (len >= 64) { /* fold four 128-bit lanes in parallel */
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
        x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
        x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x2 = _mm_clmulepi64_si128(x2, x0, 0x11);
        x3 = _mm_clmulepi64_si128(x3, x0, 0x11);
        x4 = _mm_clmulepi64_si128(x4, x0, 0x11);
        y5 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
        y6 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
        y7 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
        y8 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), y5);
        x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), y6);
        x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), y7);
        x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), y8);
        buf += 64;
        len -= 64;
    }
    x0 = _mm_load_si128((const __m128i *)k3k4); /* fold the four lanes into one */
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x3), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x4), x5);
    return fold_tail(x1, buf, len);
}

static int clmul_state = -1; /* -1 unknown, 0 no, 1 yes */

/* The same folding four 512-bit registers wide (VPCLMULQDQ + AVX-512: 256 bytes per
 * step instead of 64), for CPUs that have it. Why: at 1 KiB bodies the 128-bit fold
 * still cost ~75 ns a record, as much as copying the record; this is ~3x faster.
 * Fold constants are k(n) = bit-reflected (x^n mod P) << 1, the convention of k1..k4
 * above; a 128-bit lane is folded D bits ahead with (k(D+32), k(D-32)).
 * With `copy` it also stores every block it loads to dst (all len bytes): a put copies
 * the body into the record and checksums it in one pass. Why: the fold is bound by the
 * carry-less multiplies and the copy into a not-yet-cached record by its stores, so
 * interleaved each runs in the other's shadow instead of one after the other. `copy`
 * is a constant at both call sites, so each gets its own branch-free body.
 * Takes and returns the pre-inverted CRC; len >= 256 and a multiple of 16. */
#define RMQ_VPCLMUL_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,vpclmulqdq,pclmul,sse4.1")))
RMQ_VPCLMUL_TARGET static inline __attribute__((always_inline)) uint32_t
crc32_vpclmul_fold(uint8_t *dst, const uint8_t *buf, size_t len, uint32_t crc, const int copy) {
    const __m512i k2048 = _mm512_broadcast_i32x4(_mm_set_epi64x(0x1322d1430LL, 0x11542778aLL));
    const __m512i k512 = _mm512_broadcast_i32x4(_mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL));
    /* lane i of the last register is folded (3 - i) * 128 bits ahead; lane 3 is kept */
    const __m512i klanes = _mm512_set_epi64(0, 0, 0xccaa009eLL, 0x1751997d0LL, 0x15a546366LL, 0xf1da05aaLL,
                                            0x174359406LL, 0x3db1ecdcLL);
#define RMQ_FOLD512(z, k, d) \
    _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128((z), (k), 0x00), _mm512_clmulepi64_epi128((z), (k), 0x11), (d), 0x96)
#define RMQ_LOAD(i) _mm512_loadu_si512((const void *)(buf + (i)))
#define RMQ_KEEP(i, v) \
    if (copy) _mm512_storeu_si512((void *)(dst + (i)), (v))
    __m512i z0 = RMQ_LOAD(0), z1 = RMQ_LOAD(64), z2 = RMQ_LOAD(128), z3 = RMQ_LOAD(192);
    RMQ_KEEP(0, z0);
    RMQ_KEEP(64, z1);
    RMQ_KEEP(128, z2);
    RMQ_KEEP(192, z3);
    z0 = _mm512_xor_si512(z0, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)crc)));
    buf += 256;
    dst += copy ? 256 : 0;
    len -= 256;
    while (len >= 256) {
        __m512i d0 = RMQ_LOAD(0), d1 = RMQ_LOAD(64), d2 = RMQ_LOAD(128), d3 = RMQ_LOAD(192);
        RMQ_KEEP(0, d0);
        RMQ_KEEP(64, d1);
        RMQ_KEEP(128, d2);
        RMQ_KEEP(192, d3);
        z0 = RMQ_FOLD512(z0, k2048, d0);
        z1 = RMQ_FOLD512(z1, k2048, d1);
        z2 = RMQ_FOLD512(z2, k2048, d2);
        z3 = RMQ_FOLD512(z3, k2048, d3);
        buf += 256;
        dst += copy ? 256 : 0;
        len -= 256;
    }
    z0 = RMQ_FOLD512(z0, k512, z1);
    z0 = RMQ_FOLD512(z0, k512, z2);
    z0 = RMQ_FOLD512(z0, k512, z3);
    while (len >= 64) {
        __m512i d0 = RMQ_LOAD(0);
        RMQ_KEEP(0, d0);
        z0 = RMQ_FOLD512(z0, k512, d0);
        buf += 64;
        dst += copy ? 64 : 0;
        len -= 64;
    }
#undef RMQ_KEEP
#undef RMQ_LOAD
#undef RMQ_FOLD512
    if (copy) memcpy(dst, buf, len); /* the last < 64 bytes, folded 16 at a time below */
    __m512i t = _mm512_xor_si512(_mm512_clmulepi64_epi128(z0, klanes, 0x00), _mm512_clmulepi64_epi128(z0, klanes, 0x11));
    __m128i x1 = _mm_xor_si128(_mm512_extracti32x4_epi32(t, 0), _mm512_extracti32x4_epi32(t, 1));
    x1 = _mm_xor_si128(x1, _mm512_extracti32x4_epi32(t, 2));
    x1 = _mm_xor_si128(x1, _mm512_extracti32x4_epi32(z0, 3));
    return fold_tail(x1, buf, len);
}

RMQ_VPCLMUL_TARGET static uint32_t crc32_vpclmul(const uint8_t *buf, size_t len, uint32_t crc) {
    return crc32_vpclmul_fold(NULL, buf, len, crc, 0);
}

static int vpclmul_state = -1; /* -1 unknown, 0 no, 1 yes */

/* Same contract as crc32_vpclmul; copies the len bytes to dst as it folds them. */
RMQ_VPCLMUL_TARGET static uint32_t crc32_vpclmul_copy(uint8_t *dst, const uint8_t *buf, size_t len, uint32_t crc) {
    return crc32_vpclmul_fold(dst, buf, len, crc, 1);
}
#endif

#ifdef RMQ_HAVE_CLMUL_PATH
static void detect(void) {
    if (clmul_state < 0) clmul_state = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    if (vpclmul_state < 0)
        vpclmul_state = clmul_state && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("vpclmulqdq");
}
#endif

uint32_t rmq_crc32_copy(uint8_t *dst, const uint8_t *src, size_t len) {
#ifdef RMQ_HAVE_CLMUL_PATH
    if (len >= 256) {
        if (vpclmul_state < 0) detect();
        if (vpclmul_state) {
            if (!table_ready) build_table();
            size_t chunk = len & ~(size_t)15;
            uint32_t crc = crc32_vpclmul_copy(dst, src, chunk, ~0u);
            memcpy(dst + chunk, src + chunk, len - chunk);
            return rmq_crc32(~crc, src + chunk, len - chunk); /* rmq_crc32 takes and gives the final form */
        }
    }
#endif
    memcpy(dst, src, len);
    return rmq_crc32(0, src, len);
}

uint32_t rmq_crc32(uint32_t crc, const uint8_t *p, size_t len) {
    if (!table_ready) build_table();
    crc = ~crc;
#ifdef RMQ_HAVE_CLMUL_PATH
    if (len >= 64) {
        if (vpclmul_state < 0) detect();
        if (clmul_state) {
            size_t chunk = len & ~(size_t)15;
            crc = (vpclmul_state && chunk >= 256) ? crc32_vpclmul(p, chunk, crc) : crc32_clmul(p, chunk, crc);
            p += chunk;
            len -= chunk;
        }
    }
#endif
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^ table[4][lo >> 24] ^
              table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^ table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) crc = table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
