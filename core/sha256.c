/* sha256.c - SHA-256 as FIPS 180-4 section 6.2 gives it (see sha256.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"

#define CHUNK 65536 /* bytes of a file read at a time */

/* FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be32(uint8_t *p, uint32_t x)
{
    p[0] = (uint8_t)(x >> 24);
    p[1] = (uint8_t)(x >> 16);
    p[2] = (uint8_t)(x >> 8);
    p[3] = (uint8_t)x;
}

/* The message schedule W of 6.2.2 step 1. */
static void schedule(const uint8_t *block, uint32_t w[64])
{
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
}

/* One round of 6.2.2 step 3 on the working variables a..h, renamed by the
 * caller instead of moved (moving them was a memmove a round, half the
 * cost): d and h are the two that change. */
static inline void round1(uint32_t a, uint32_t b, uint32_t c, uint32_t *d, uint32_t e, uint32_t f,
                          uint32_t g, uint32_t *h, uint32_t kw)
{
    uint32_t t1 = *h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kw;
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    *d += t1;
    *h = t1 + t2;
}

/* One 64-byte block into the state: 6.2.2 steps 2 to 4, eight rounds at a
 * time so that each variable comes back to its own name. */
static void compress(uint32_t h[8], const uint8_t *block)
{
    uint32_t w[64];
    schedule(block, w);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t += 8) {
        round1(a, b, c, &d, e, f, g, &hh, K[t] + w[t]);
        round1(hh, a, b, &c, d, e, f, &g, K[t + 1] + w[t + 1]);
        round1(g, hh, a, &b, c, d, e, &f, K[t + 2] + w[t + 2]);
        round1(f, g, hh, &a, b, c, d, &e, K[t + 3] + w[t + 3]);
        round1(e, f, g, &hh, a, b, c, &d, K[t + 4] + w[t + 4]);
        round1(d, e, f, &g, hh, a, b, &c, K[t + 5] + w[t + 5]);
        round1(c, d, e, &f, g, hh, a, &b, K[t + 6] + w[t + 6]);
        round1(b, c, d, &e, f, g, hh, &a, K[t + 7] + w[t + 7]);
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define GR_SHA_NI 1

/* 1 when this CPU has the SHA extensions and the SSSE3/SSE4.1 they come
 * with (CPUID leaf 7 EBX bit 29; leaf 1 ECX bits 9 and 19). */
static int cpu_has_sha(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
        return 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
}

/* n blocks with the x86 SHA extensions (Intel's "SHA-NI"; about ten times
 * the scalar code): the same rounds, four at a time, with the state held as
 * ABEF/CDGH as the instructions want it. Only called when the CPU says it
 * has them (blocks below). */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_ni(uint32_t h[8], const uint8_t *p,
                                                                    size_t n)
{
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i s1 = _mm_loadu_si128((const __m128i *)&h[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);       /* CDAB */
    s1 = _mm_shuffle_epi32(s1, 0x1B);         /* EFGH */
    __m128i s0 = _mm_alignr_epi8(tmp, s1, 8); /* ABEF */
    s1 = _mm_blend_epi16(s1, tmp, 0xF0);      /* CDGH */
    for (; n; n--, p += 64) {
        __m128i abef = s0, cdgh = s1, m[4];
        for (int i = 0; i < 4; i++)
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), swap);
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            if (i >= 4) /* W[i] from W[i-4..i-1], held in m[i & 3] round the ring */
                m[i & 3] = _mm_sha256msg2_epu32(
                    _mm_add_epi32(_mm_sha256msg1_epu32(m[i & 3], m[(i + 1) & 3]),
                                  _mm_alignr_epi8(m[(i + 3) & 3], m[(i + 2) & 3], 4)),
                    m[(i + 3) & 3]);
            __m128i wk = _mm_add_epi32(m[i & 3], _mm_loadu_si128((const __m128i *)&K[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, wk);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(wk, 0x0E));
        }
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);   /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);    /* DCHG */
    s0 = _mm_blend_epi16(tmp, s1, 0xF0); /* DCBA */
    s1 = _mm_alignr_epi8(s1, tmp, 8);    /* ABEF */
    _mm_storeu_si128((__m128i *)&h[0], s0);
    _mm_storeu_si128((__m128i *)&h[4], s1);
}
#endif

/* n whole blocks at p into ctx: SHA-NI unless ctx->portable (which
 * gr_sha256_init sets when the CPU lacks it), else the scalar rounds. */
static void blocks(gr_sha256_ctx *ctx, const uint8_t *p, size_t n)
{
#ifdef GR_SHA_NI
    if (n && !ctx->portable) {
        compress_ni(ctx->h, p, n);
        return;
    }
#endif
    for (; n; n--, p += 64)
        compress(ctx->h, p);
}

void gr_sha256_init(gr_sha256_ctx *ctx)
{
    /* 5.3.3: the fractional parts of the square roots of the first 8 primes */
    static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(ctx->h, h0, sizeof h0);
    ctx->bytes = 0;
    ctx->fill = 0;
#ifdef GR_SHA_NI
    ctx->portable = !cpu_has_sha(); /* one CPUID per digest */
#else
    ctx->portable = 1;
#endif
}

void gr_sha256_update(gr_sha256_ctx *ctx, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (!n)
        return;
    ctx->bytes += n;
    if (ctx->fill) {
        size_t take = n < 64 - ctx->fill ? n : 64 - ctx->fill;
        memcpy(ctx->block + ctx->fill, p, take);
        ctx->fill += take;
        p += take;
        n -= take;
        if (ctx->fill < 64)
            return;
        blocks(ctx, ctx->block, 1);
        ctx->fill = 0;
    }
    blocks(ctx, p, n / 64);
    p += n / 64 * 64;
    n %= 64;
    if (n)
        memcpy(ctx->block, p, n);
    ctx->fill = n;
}

/* 5.1.1: a 1 bit, zeros to 56 bytes mod 64, the length in bits. */
void gr_sha256_final(gr_sha256_ctx *ctx, uint8_t out[GR_SHA256_SIZE])
{
    uint64_t bits = ctx->bytes * 8;
    ctx->block[ctx->fill++] = 0x80;
    if (ctx->fill > 56) {
        memset(ctx->block + ctx->fill, 0, 64 - ctx->fill);
        blocks(ctx, ctx->block, 1);
        ctx->fill = 0;
    }
    memset(ctx->block + ctx->fill, 0, 56 - ctx->fill);
    store_be32(ctx->block + 56, (uint32_t)(bits >> 32));
    store_be32(ctx->block + 60, (uint32_t)bits);
    blocks(ctx, ctx->block, 1);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, ctx->h[i]);
    ctx->fill = 0;
}

void gr_sha256_hex(const uint8_t d[GR_SHA256_SIZE], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < GR_SHA256_SIZE; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[64] = '\0';
}

/* Opens path for reading when it is a regular file; O_NONBLOCK so that a
 * FIFO is refused rather than waited on. */
static gr_status open_regular(const char *path, int *fd, gr_error *err)
{
    struct stat sb;
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0)
        return gr_error_set(err, errno == ENOMEM ? GR_ENOMEM : GR_EIO, path, 0, NULL,
                            "cannot open: %s", strerror(errno));
    gr_status st = GR_OK;
    if (fstat(*fd, &sb))
        st = gr_error_set(err, GR_EIO, path, 0, NULL, "cannot open: %s", strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = gr_error_set(err, GR_EIO, path, 0, NULL,
                          "not a regular file (a device, FIFO, socket or directory): only a "
                          "plain file is hashed");
    else if (fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK))
        st = gr_error_set(err, GR_EIO, path, 0, NULL, "cannot read: %s", strerror(errno));
    if (st) {
        close(*fd);
        *fd = -1;
    }
    return st;
}

gr_status gr_sha256_file(const char *path, gr_sha256_ctx *ctx, gr_error *err)
{
    int fd = -1;
    uint8_t *buf = NULL;
    gr_status st = open_regular(path, &fd, err);
    if (st)
        goto fail;
    if (!(buf = malloc(CHUNK))) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    for (;;) {
        ssize_t got = read(fd, buf, CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            st = gr_error_set(err, GR_EIO, path, 0, NULL, "cannot read: %s", strerror(errno));
            goto fail;
        }
        if (got == 0)
            break;
        gr_sha256_update(ctx, buf, (size_t)got);
    }

fail:
    free(buf);
    if (fd >= 0)
        close(fd);
    return st;
}
