/* test_vcf_body.c - the parallel VCF body reader: every wanted line comes
 * back once, in order, with its record number, whatever the compression
 * (plain, gzip, BGZF with any block layout), the thread count, and where
 * lines fall across blocks and batches; damaged data and long lines are
 * errors, never silence. */
#include <criterion/criterion.h>
#include <htslib/bgzf.h>
#include <htslib/hts.h>
#include <htslib/kstring.h>
#include <htslib/vcf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/vcf_body.h"

static const char header[] = "##fileformat=VCFv4.2\n"
                             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n";

typedef struct {
    size_t record, len;
    uint64_t hash;
    int wanted;
    int32_t tag;
} seen;

typedef struct {
    seen *v;
    size_t n, cap;
    size_t fail_at; /* the sink fails at this record (0: never) */
} sink_log;

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* Wanted: POS divisible by 7; malformed: a line starting "bad". The tag is
 * the POS, to check it travels with the line. */
static int filter(void *arg, const char *s, size_t len, int32_t *tag, size_t *hint)
{
    (void)arg;
    (void)hint;
    if (len >= 3 && !memcmp(s, "bad", 3))
        return -1;
    const char *t = memchr(s, '\t', len);
    if (!t)
        return 0;
    long pos = strtol(t + 1, NULL, 10);
    *tag = (int32_t)pos;
    return pos % 7 == 0;
}

static gr_status sink(void *arg, const char *s, size_t len, size_t record, int wanted, int32_t tag,
                      gr_error *err)
{
    sink_log *lg = arg;
    if (lg->fail_at && record == lg->fail_at)
        return gr_error_set(err, GR_EINPUT, NULL, 0, NULL, "sink stops at %zu", record);
    if (lg->n == lg->cap) {
        lg->cap = lg->cap ? 2 * lg->cap : 1024;
        lg->v = realloc(lg->v, lg->cap * sizeof *lg->v);
        cr_assert(lg->v);
    }
    lg->v[lg->n++] = (seen){ record, len, fnv(s, len), wanted, tag };
    return GR_OK;
}

/* The expected sink calls, straight from the body text. */
static void expected(const char *body, sink_log *lg)
{
    size_t record = 0;
    const char *s = body;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        record++;
        size_t l = len && s[len - 1] == '\r' ? len - 1 : len;
        int32_t tag = 0;
        int w = l && s[0] != '#' ? filter(NULL, s, l, &tag, NULL) : 0;
        if (w)
            sink(lg, s, l, record, w, tag, NULL);
        s += len + (nl != NULL);
    }
}

/* A body of n ordinary lines, with CRLF endings, empty and comment lines, a
 * malformed line, one line of big_line bytes, and no final newline. */
static char *make_body(size_t n, size_t big_line)
{
    kstring_t b = { 0, 0, NULL };
    for (size_t i = 1; i <= n; i++) {
        if (i == n / 2) {
            ksprintf(&b, "1\t%zu\t.\tA\tG\t.\t.\tPAD=", i * 7);
            for (size_t k = 0; k < big_line; k++)
                kputc('x', &b);
            kputs("\tGT\t0/1\n", &b);
            continue;
        }
        if (i % 997 == 0)
            kputs("\n", &b);
        if (i % 1499 == 0)
            kputs("# a comment line\n", &b);
        if (i == n / 3)
            kputs("bad line\n", &b);
        ksprintf(&b, "chr1\t%zu\trs%zu\tA\tG\t.\tPASS\tDP=%zu\tGT\t0/1%s", i, i, i % 50,
                 i % 1000 == 0 ? "\r\n" : "\n");
    }
    kputs("2\t7007\t.\tC\tT\t.\t.\t.\tGT\t1/1", &b); /* no newline */
    return b.s;
}

static char dir[] = "/tmp/gr_body_XXXXXX";

static void setup(void)
{
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static char *path_of(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static void write_plain(const char *name, const char *body)
{
    FILE *f = fopen(path_of(name), "w");
    cr_assert(f);
    fputs(header, f);
    fputs(body, f);
    cr_assert_eq(fclose(f), 0);
}

/* BGZF with a block boundary right after the header, then blocks of `chunk`
 * text bytes (0: bgzf's own 64 KiB blocks). */
static void write_bgzf(const char *name, const char *body, size_t chunk)
{
    BGZF *z = bgzf_open(path_of(name), "w");
    cr_assert(z);
    cr_assert_eq(bgzf_write(z, header, strlen(header)), (ssize_t)strlen(header));
    if (chunk)
        cr_assert_eq(bgzf_flush(z), 0);
    size_t n = strlen(body);
    for (size_t at = 0; at < n;) {
        size_t k = chunk ? (chunk < n - at ? chunk : n - at) : n - at;
        cr_assert_eq(bgzf_write(z, body + at, k), (ssize_t)k);
        if (chunk)
            cr_assert_eq(bgzf_flush(z), 0);
        at += k;
    }
    cr_assert_eq(bgzf_close(z), 0);
}

static gr_status read_body(const char *name, int threads, size_t max_line, sink_log *lg,
                           size_t *records, gr_error *err)
{
    htsFile *fp = hts_open(path_of(name), "r");
    cr_assert(fp, "%s", name);
    bcf_hdr_t *hdr = bcf_hdr_read(fp);
    cr_assert(hdr, "%s", name);
    gr_body_reader rd = { name, threads, max_line, filter, sink, lg, NULL, NULL };
    gr_status st = gr_vcf_body_read(fp, &rd, records, err);
    bcf_hdr_destroy(hdr);
    hts_close(fp);
    return st;
}

static void expect_same(const char *name, const char *body, int threads)
{
    sink_log want = { 0 }, got = { 0 };
    gr_error err;
    size_t records = 0;
    expected(body, &want);
    gr_status st = read_body(name, threads, (size_t)64 << 20, &got, &records, &err);
    cr_assert_eq(st, GR_OK, "%s, %d threads: %s", name, threads, err.text);
    cr_assert_eq(got.n, want.n, "%s, %d threads: %zu lines, want %zu", name, threads, got.n,
                 want.n);
    for (size_t i = 0; i < want.n; i++)
        cr_assert(!memcmp(&got.v[i], &want.v[i], sizeof got.v[i]),
                  "%s, %d threads: line %zu: record %zu (want %zu), len %zu (want %zu)", name,
                  threads, i, got.v[i].record, want.v[i].record, got.v[i].len, want.v[i].len);
    size_t lines = *body && body[strlen(body) - 1] != '\n'; /* a last line without newline */
    for (const char *p = body; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(records, lines, "%s, %d threads: %zu records, want %zu", name, threads, records,
                 lines);
    free(want.v);
    free(got.v);
}

TestSuite(vcf_body, .init = setup, .fini = teardown);

Test(vcf_body, every_wanted_line_once_in_order)
{
    /* a 2.5 MiB line spans several batches; odd block sizes put line ends
     * on and next to block and batch boundaries */
    char *body = make_body(60000, (size_t)5 << 19);
    write_plain("plain.vcf", body);
    char cmd[600], plain[256];
    snprintf(plain, sizeof plain, "%s", path_of("plain.vcf"));
    snprintf(cmd, sizeof cmd, "gzip -c '%s' > '%s'", plain, path_of("gz.vcf.gz"));
    cr_assert_eq(system(cmd), 0);
    write_bgzf("bgzf.vcf.gz", body, 0);
    write_bgzf("small.vcf.gz", body, 4093);
    write_bgzf("tiny.vcf.gz", body, 61);
    const char *names[] = { "plain.vcf", "gz.vcf.gz", "bgzf.vcf.gz", "small.vcf.gz",
                            "tiny.vcf.gz" };
    const int threads[] = { 0, 1, 3 };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        for (size_t t = 0; t < 3; t++)
            expect_same(names[i], body, threads[t]);
    free(body);
}

Test(vcf_body, header_only_and_one_line)
{
    write_bgzf("empty.vcf.gz", "", 0);
    write_plain("empty.vcf", "");
    for (int t = 0; t < 3; t += 2) {
        expect_same("empty.vcf.gz", "", t);
        expect_same("empty.vcf", "", t);
    }
    write_bgzf("one.vcf.gz", "1\t14\t.\tA\tG\t.\t.\t.\tGT\t0/1\n", 0);
    expect_same("one.vcf.gz", "1\t14\t.\tA\tG\t.\t.\t.\tGT\t0/1\n", 2);
}

static void expect_error(const char *name, int threads, size_t max_line, const char *needle,
                         size_t fail_at)
{
    sink_log got = { .fail_at = fail_at };
    gr_error err;
    size_t records = 0;
    gr_status st = read_body(name, threads, max_line, &got, &records, &err);
    cr_assert_eq(st, GR_EINPUT, "%s, %d threads: status %d", name, threads, st);
    cr_assert(strstr(err.text, needle), "%s, %d threads: '%s' lacks '%s'", name, threads, err.text,
              needle);
    free(got.v);
}

Test(vcf_body, damaged_compressed_data_is_an_error)
{
    char *body = make_body(40000, 10);
    write_bgzf("whole.vcf.gz", body, 0);
    FILE *f = fopen(path_of("whole.vcf.gz"), "rb");
    cr_assert(f);
    char *data = malloc(4 << 20);
    size_t n = fread(data, 1, 4 << 20, f);
    fclose(f);
    cr_assert_gt(n, 100000);
    /* cut inside a block, cut at the EOF block, one flipped byte mid-file */
    FILE *g = fopen(path_of("cut.vcf.gz"), "wb");
    fwrite(data, 1, n - 20000, g);
    fclose(g);
    data[n / 2] ^= 0x55;
    g = fopen(path_of("flipped.vcf.gz"), "wb");
    fwrite(data, 1, n, g);
    fclose(g);
    data[n / 2] ^= 0x55;
    /* data that inflates but whose CRC32 is wrong: the third block's CRC */
    size_t at = 0;
    for (int blk = 0; blk < 2; blk++)
        at +=
            ((size_t)(unsigned char)data[at + 16] | (size_t)(unsigned char)data[at + 17] << 8) + 1;
    size_t total =
        ((size_t)(unsigned char)data[at + 16] | (size_t)(unsigned char)data[at + 17] << 8) + 1;
    data[at + total - 8] ^= 1;
    g = fopen(path_of("crc.vcf.gz"), "wb");
    fwrite(data, 1, n, g);
    fclose(g);
    for (int t = 0; t < 3; t += 2) {
        expect_error("cut.vcf.gz", t, 1000, "truncated or corrupt compressed data", 0);
        expect_error("flipped.vcf.gz", t, 1000, "truncated or corrupt compressed data", 0);
        expect_error("crc.vcf.gz", t, 1000, "truncated or corrupt compressed data", 0);
    }
    free(data);
    free(body);
}

/* The record number of the line holding needle. */
static size_t record_of(const char *body, const char *needle)
{
    size_t record = 1;
    const char *at = strstr(body, needle);
    cr_assert(at);
    for (const char *p = body; p < at; p++)
        record += *p == '\n';
    return record;
}

Test(vcf_body, long_lines_and_sink_errors_stop_the_read)
{
    char *body = make_body(30000, 3000);
    char msg[100];
    snprintf(msg, sizeof msg, "record %zu is over the 2000-byte line limit",
             record_of(body, "PAD="));
    write_bgzf("long.vcf.gz", body, 0);
    write_plain("long.vcf", body);
    sink_log want = { 0 };
    expected(body, &want);
    size_t early = want.v[3].record, late = want.v[want.n * 9 / 10].record;
    char stop_early[40], stop_late[40];
    snprintf(stop_early, sizeof stop_early, "sink stops at %zu", early);
    snprintf(stop_late, sizeof stop_late, "sink stops at %zu", late);
    for (int t = 0; t < 3; t += 2) {
        /* a long line inside one batch */
        expect_error("long.vcf.gz", t, 2000, msg, 0);
        expect_error("long.vcf", t, 2000, msg, 0);
        expect_error("long.vcf.gz", t, 100000, stop_early, early);
        expect_error("long.vcf.gz", t, 100000, stop_late, late);
    }
    free(want.v);
    free(body);
    /* and one carried across batches */
    char *huge = make_body(3000, (size_t)3 << 20);
    snprintf(msg, sizeof msg, "record %zu is over the 1048576-byte line limit",
             record_of(huge, "PAD="));
    write_bgzf("huge.vcf.gz", huge, 0);
    write_plain("huge.vcf", huge);
    for (int t = 0; t < 3; t += 2) {
        expect_error("huge.vcf.gz", t, (size_t)1 << 20, msg, 0);
        expect_error("huge.vcf", t, (size_t)1 << 20, msg, 0);
    }
    free(huge);
}
