/* test_bcf_peek.c - core/bcf_peek.c: the size it reads ahead of each record
 * is the size bcf_read then reads, and peeking changes nothing bcf_read sees,
 * in every packaging where 8 bytes can straddle a block: BGZF from htslib,
 * BGZF with tiny and with full 65536-byte blocks, one plain gzip member, and
 * uncompressed BCF. */
#include <criterion/criterion.h>
#include <htslib/bgzf.h>
#include <htslib/hts.h>
#include <htslib/vcf.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bcf_peek.h"
#include "helpers.h"

#define RECORDS 6000

static char *dir;
static unsigned char *raw; /* the uncompressed BCF stream */
static size_t raw_len;

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* A BCF whose records differ in size (an INFO string of 0..96 bytes), made
 * with htslib, then read back whole as its uncompressed stream. */
static void setup(void)
{
    dir = temp_bundle("README", "bcf_peek", NULL);
    char vcf[512], bcf[512];
    path_of(vcf, sizeof vcf, "in.vcf");
    path_of(bcf, sizeof bcf, "in.bcf");
    FILE *f = fopen(vcf, "w");
    cr_assert_not_null(f);
    fputs("##fileformat=VCFv4.2\n##contig=<ID=1>\n"
          "##INFO=<ID=PAD,Number=1,Type=String,Description=\"pad\">\n"
          "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\n",
          f);
    for (int i = 0; i < RECORDS; i++) {
        char pad[100];
        int n = (i * 37) % 97;
        memset(pad, 'a' + i % 26, (size_t)n);
        pad[n] = '\0';
        fprintf(f, "1\t%d\trs%d\tA\tG\t.\tPASS\t%s%s\tGT\t0/1\t1/1\t0/0\n", 1000 + i, i,
                n ? "PAD=" : ".", pad);
    }
    fclose(f);
    htsFile *in = hts_open(vcf, "r"), *out = hts_open(bcf, "wb");
    cr_assert(in && out);
    bcf_hdr_t *h = bcf_hdr_read(in);
    cr_assert_not_null(h);
    cr_assert_eq(bcf_hdr_write(out, h), 0);
    bcf1_t *r = bcf_init();
    while (bcf_read(in, h, r) == 0)
        cr_assert_eq(bcf_write(out, h, r), 0);
    bcf_destroy(r);
    bcf_hdr_destroy(h);
    hts_close(in);
    cr_assert_eq(hts_close(out), 0);

    BGZF *z = bgzf_open(bcf, "r");
    cr_assert_not_null(z);
    size_t cap = 1 << 20;
    raw = malloc(cap);
    ssize_t n;
    while ((n = bgzf_read(z, raw + raw_len, cap - raw_len)) > 0) {
        raw_len += (size_t)n;
        if (raw_len == cap)
            raw = realloc(raw, cap *= 2);
    }
    bgzf_close(z);
    cr_assert(raw_len > 3 * 65536, "the stream spans several 64 KiB blocks (%zu bytes)", raw_len);
}

static void teardown(void)
{
    free(raw);
    temp_bundle_free(dir);
}

TestSuite(bcf_peek, .init = setup, .fini = teardown);

static void write_all(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* The header's length: magic, l_text and the text. */
static size_t header_len(void)
{
    return 9 + ((size_t)raw[5] | (size_t)raw[6] << 8 | (size_t)raw[7] << 16 | (size_t)raw[8] << 24);
}

/* raw as BGZF blocks: the header in one (htslib tells BCF from its first
 * block), then blocks holding sizes[0], sizes[1], ... bytes in turn (the
 * list repeats), then the EOF block. */
static void write_bgzf(const char *path, const size_t *sizes, size_t n_sizes)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    size_t cap = raw_len * 40 + 2 * 65536; /* 1-byte blocks cost 27 bytes each */
    unsigned char *out = malloc(cap), *o = out;
    for (size_t at = 0, k = 0; at < raw_len; k++) {
        size_t n = at ? sizes[k % n_sizes] : header_len();
        n = n < raw_len - at ? n : raw_len - at;
        unsigned char *h = o;
        static const unsigned char head[16] = { 31, 139, 8, 4, 0,   0,   0, 0,
                                                0,  255, 6, 0, 'B', 'C', 2, 0 };
        memcpy(h, head, sizeof head);
        size_t z = libdeflate_deflate_compress(c, raw + at, n, h + 18, 65536);
        cr_assert(z > 0 && z + 26 <= 65536);
        size_t bsize = z + 26 - 1;
        h[16] = (unsigned char)bsize, h[17] = (unsigned char)(bsize >> 8);
        uint32_t crc = libdeflate_crc32(0, raw + at, n);
        unsigned char *t = h + 18 + z;
        for (int i = 0; i < 4; i++)
            t[i] = (unsigned char)(crc >> 8 * i), t[4 + i] = (unsigned char)(n >> 8 * i);
        o = t + 8;
        at += n;
    }
    static const unsigned char eof[28] = { 31, 139, 8,  4, 0, 0, 0, 0, 0, 255, 6, 0, 66, 67,
                                           2,  0,   27, 0, 3, 0, 0, 0, 0, 0,   0, 0, 0,  0 };
    memcpy(o, eof, sizeof eof);
    o += sizeof eof;
    write_all(path, out, (size_t)(o - out));
    free(out);
    libdeflate_free_compressor(c);
}

/* Reads path record by record, peeking before each: the peeked size must be
 * what bcf_read then takes, and the records must be the file's, in order. */
static void read_peeking(const char *path, const char *what)
{
    htsFile *f = hts_open(path, "r");
    cr_assert_not_null(f, "%s", what);
    cr_assert_eq(hts_get_format(f)->format, bcf, "%s", what);
    bcf_hdr_t *h = bcf_hdr_read(f);
    cr_assert_not_null(h, "%s", what);
    bcf1_t *r = bcf_init();
    int i = 0;
    uint64_t size = 0;
    for (;;) {
        int peek = gr_bcf_peek_size(f->fp.bgzf, &size);
        cr_assert_geq(peek, 0, "%s: record %d", what, i);
        int ret = bcf_read(f, h, r);
        if (!peek) {
            cr_assert_eq(ret, -1, "%s: the end", what);
            break;
        }
        cr_assert_eq(ret, 0, "%s: record %d", what, i);
        cr_assert_eq(size, 24 + r->shared.l + r->indiv.l, "%s: record %d", what, i);
        cr_assert_eq(r->pos + 1, 1000 + i, "%s: record %d", what, i);
        cr_assert_eq(bcf_unpack(r, BCF_UN_INFO), 0);
        cr_assert_eq(bcf_get_info(h, r, "PAD") != NULL, (i * 37) % 97 != 0, "%s: record %d", what,
                     i);
        i++;
    }
    cr_assert_eq(i, RECORDS, "%s", what);
    bcf_destroy(r);
    bcf_hdr_destroy(h);
    hts_close(f);
}

Test(bcf_peek, bgzf_as_htslib_writes_it)
{
    char p[512];
    path_of(p, sizeof p, "in.bcf");
    read_peeking(p, "htslib BGZF");
}

Test(bcf_peek, bgzf_with_tiny_and_full_blocks)
{
    char p[512];
    path_of(p, sizeof p, "tiny.bcf");
    static const size_t tiny[] = { 1, 3, 7, 2, 5, 11, 8, 13, 4, 6 }; /* every straddle */
    write_bgzf(p, tiny, sizeof tiny / sizeof *tiny);
    read_peeking(p, "BGZF, blocks of 1-13 bytes");
    static const size_t full[] = { 65536 }; /* no room to put bytes back in front */
    path_of(p, sizeof p, "full.bcf");
    write_bgzf(p, full, 1);
    read_peeking(p, "BGZF, 65536-byte blocks");
    static const size_t odd[] = { 65536, 65531, 9, 65535 };
    path_of(p, sizeof p, "odd.bcf");
    write_bgzf(p, odd, 4);
    read_peeking(p, "BGZF, mixed block sizes");
}

Test(bcf_peek, plain_gzip_and_uncompressed)
{
    char p[512];
    path_of(p, sizeof p, "gz.bcf");
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    size_t cap = libdeflate_gzip_compress_bound(c, raw_len);
    unsigned char *gz = malloc(cap);
    size_t n = libdeflate_gzip_compress(c, raw, raw_len, gz, cap);
    cr_assert(n > 0);
    write_all(p, gz, n);
    free(gz);
    libdeflate_free_compressor(c);
    read_peeking(p, "one gzip member");
    path_of(p, sizeof p, "raw.bcf");
    write_all(p, raw, raw_len);
    read_peeking(p, "uncompressed");
}

/* The fuzzed case: the first record claims 4 GB of shared data. The peek
 * sees it before bcf_read would allocate 6 GB for it. */
Test(bcf_peek, a_record_claiming_gigabytes)
{
    size_t first = header_len();
    unsigned char *bad = malloc(raw_len);
    memcpy(bad, raw, raw_len);
    memset(bad + first, 0xF0, 4);
    char p[512];
    path_of(p, sizeof p, "huge.bcf");
    write_all(p, bad, raw_len);
    free(bad);
    htsFile *f = hts_open(p, "r");
    bcf_hdr_t *h = bcf_hdr_read(f);
    cr_assert_not_null(h);
    uint64_t size = 0;
    cr_assert_eq(gr_bcf_peek_size(f->fp.bgzf, &size), 1);
    cr_assert_gt(size, (uint64_t)0xF0F0F0F0);
    bcf_hdr_destroy(h);
    hts_close(f);
}
