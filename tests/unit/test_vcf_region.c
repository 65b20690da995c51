/* test_vcf_region.c - indexed reads (core/vcf_region.c, docs/vcf-matching.md
 * "Indexed files"): regions merged; the same dosages, counts,
 * warnings and CLI output through a .tbi, a text VCF's .csi and a BCF's .csi
 * as from a streamed read; the fallbacks to streaming (no index, an index
 * older than the file, a damaged one, one for another file, a dense score,
 * a variant without a position, a descriptor); a gVCF block that starts far
 * left of a variant found through the index; and the streamed read's guards
 * on the records of the regions. */
#include <criterion/criterion.h>
#include <htslib/hts.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/vcf.h"
#include "core/vcf_region.h"
#include "helpers.h"

/* ---- merging ---- */

Test(vcf_region, regions_merge_within_a_chromosome_only)
{
    gr_region r[] = { { 2, 500, 500 },   { 1, 100, 100 }, { 1, 40000, 40000 }, { 1, 150, 150 },
                      { 1, 1100, 1100 }, { 2, 500, 500 }, { 1, 100, 100 },     { 3, 7, 9 } };
    size_t n = gr_regions_merge(r, sizeof r / sizeof *r, 1000);
    cr_assert_eq(n, 4);
    /* 100, 150 and 1100 are each under 1000 bases from the last: one region */
    cr_assert(r[0].code == 1 && r[0].beg == 100 && r[0].end == 1100);
    cr_assert(r[1].code == 1 && r[1].beg == 40000 && r[1].end == 40000);
    cr_assert(r[2].code == 2 && r[2].beg == 500 && r[2].end == 500, "repeats merge");
    cr_assert(r[3].code == 3 && r[3].beg == 7 && r[3].end == 9);
    cr_assert_eq(gr_regions_merge(r, 0, 1000), 0);
    gr_region apart[] = { { 1, 100, 100 }, { 1, 1101, 1101 } };
    cr_assert_eq(gr_regions_merge(apart, 2, 1000), 2, "1000 bases apart is not under 1000");
}

/* ---- files ---- */

static char *dir;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    cr_assert_eq(system(cmd), 0, "%s (bgzip, tabix and bcftools come with make deps)", cmd);
}

static const char *at(const char *name)
{
    static char path[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(at(name), "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    hts_set_log_level(HTS_LOG_OFF); /* the damaged indexes would be reported */
    dir = temp_bundle(NULL);
}

static void teardown(void)
{
    temp_bundle_free(dir);
}

TestSuite(vcf_index, .init = setup, .fini = teardown);

static gr_vcf_result *read_ok(const gr_model *m, const char *name, const gr_vcf_options *o)
{
    gr_vcf_result *r = NULL;
    gr_error err;
    cr_assert_eq(gr_vcf_read(m, at(name), -1, o, &r, &err), GR_OK, "%s: %s", name, err.text);
    return r;
}

static void same_result(const gr_vcf_result *a, const gr_vcf_result *b, const char *what)
{
    cr_assert_eq(a->n_samples, b->n_samples, "%s", what);
    cr_assert_eq(a->n_features, b->n_features, "%s", what);
    for (size_t s = 0; s < a->n_samples; s++)
        cr_assert_str_eq(a->sample_ids[s], b->sample_ids[s], "%s", what);
    cr_assert_eq(memcmp(a->dosage, b->dosage, a->n_samples * a->n_features * sizeof *a->dosage), 0,
                 "%s: dosages differ", what);
    cr_assert_eq(memcmp(&a->match, &b->match, sizeof a->match), 0, "%s: match counts differ", what);
    cr_assert_eq(a->n_warnings, b->n_warnings, "%s: warnings", what);
    for (size_t w = 0; w < a->n_warnings; w++)
        cr_assert_str_eq(a->warnings[w], b->warnings[w], "%s", what);
    cr_assert_str_eq(a->build, b->build, "%s", what);
}

/* Reads name streamed and through its index; checks that the index was used
 * (or not, as indexed says) and that the results agree. */
static void expect_same(const gr_model *m, const char *name, gr_vcf_options o, int indexed)
{
    o.use_index = 0;
    gr_vcf_result *s = read_ok(m, name, &o);
    o.use_index = 1;
    gr_vcf_result *i = read_ok(m, name, &o);
    cr_assert_eq(s->indexed, 0);
    cr_assert_eq(i->indexed, indexed, "%s: indexed %d, expected %d", name, i->indexed, indexed);
    same_result(s, i, name);
    if (indexed)
        cr_assert_leq(i->records, s->records);
    gr_vcf_result_free(s);
    gr_vcf_result_free(i);
}

#define FIX "tests/fixtures/vcf"

/* The fixture files with each kind of index, next to copies in dir. */
static void index_fixtures(void)
{
    sh("bgzip -c " FIX "/a.vcf > %s && tabix -p vcf %s", at("a_tbi.vcf.gz"), at("a_tbi.vcf.gz"));
    sh("bgzip -c " FIX "/a.vcf > %s && bcftools index -c %s", at("a_csi.vcf.gz"),
       at("a_csi.vcf.gz"));
    sh("cp " FIX "/b.vcf.gz %s && tabix -p vcf %s", at("b.vcf.gz"), at("b.vcf.gz"));
    sh("cp " FIX "/c.bcf %s && bcftools index %s", at("c.bcf"), at("c.bcf"));
    sh("bgzip -c " FIX "/gvcf.vcf > %s && tabix -p vcf %s", at("g.vcf.gz"), at("g.vcf.gz"));
    sh("cp " FIX "/ds.vcf.gz %s && tabix --csi -p vcf %s", at("ds.vcf.gz"), at("ds.vcf.gz"));
}

static const char *const indexed_fixtures[] = { "a_tbi.vcf.gz", "a_csi.vcf.gz", "b.vcf.gz",
                                                "c.bcf",        "g.vcf.gz",     "ds.vcf.gz" };
#define N_FIXTURES (sizeof indexed_fixtures / sizeof *indexed_fixtures)

Test(vcf_index, every_fixture_and_option_set_reads_the_same_through_the_index)
{
    index_fixtures();
    gr_model *m = fixture_model("vcf/model");
    gr_vcf_options sets[] = {
        { 0 },
        { .absent = GR_ABSENT_REF },
        { .filter_any = 1 },
        { .genotype = GR_GENO_GT },
        { .genotype = GR_GENO_DS },
        { .threads = 2 },
    };
    for (size_t f = 0; f < N_FIXTURES; f++)
        for (size_t k = 0; k < sizeof sets / sizeof *sets; k++)
            expect_same(m, indexed_fixtures[f], sets[k], 1);
    const char *s2[] = { "S2" };
    expect_same(m, "c.bcf", (gr_vcf_options){ .samples = s2, .n_samples = 1 }, 1);
    expect_same(m, "a_tbi.vcf.gz", (gr_vcf_options){ .samples = s2, .n_samples = 1 }, 1);
    gr_model_free(m);
}

Test(vcf_index, the_cli_prints_the_same_json_with_and_without_the_index)
{
    index_fixtures();
    for (size_t f = 0; f < N_FIXTURES; f++) {
        char *out[2], *err[2];
        for (int no_index = 0; no_index < 2; no_index++) {
            int rc = run_cli(&out[no_index], &err[no_index], NULL, "predict", "--model",
                             FIX "/model", "--vcf", at(indexed_fixtures[f]), "--top-k", "0",
                             "--allow-low-coverage", no_index ? "--no-index" : NULL, NULL);
            cr_assert_eq(rc, 0, "%s: %s", indexed_fixtures[f], err[no_index]);
        }
        cr_assert_str_eq(out[0], out[1], "%s", indexed_fixtures[f]);
        cr_assert(strstr(out[0], "\"results\""));
        for (int i = 0; i < 2; i++) {
            free(out[i]);
            free(err[i]);
        }
    }
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", FIX "/model", "--input", "x.json",
                         "--no-index", NULL),
                 2, "--no-index goes with --vcf");
    free(out);
    free(err);
}

static void set_mtime(const char *path, time_t t)
{
    struct timespec ts[2] = { { t, 0 }, { t, 0 } };
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

Test(vcf_index, no_stale_or_damaged_index_means_a_streamed_read)
{
    gr_model *m = fixture_model("vcf/model");
    gr_vcf_options none = { 0 };
    sh("bgzip -c " FIX "/a.vcf > %s", at("a.vcf.gz"));
    expect_same(m, "a.vcf.gz", none, 0); /* no index */
    sh("tabix -p vcf %s", at("a.vcf.gz"));
    expect_same(m, "a.vcf.gz", none, 1);
    /* an index older than its file: the file may have been rewritten */
    set_mtime(at("a.vcf.gz.tbi"), 1000000000);
    set_mtime(at("a.vcf.gz"), 1000000100);
    expect_same(m, "a.vcf.gz", none, 0);
    set_mtime(at("a.vcf.gz.tbi"), 1000000100);
    expect_same(m, "a.vcf.gz", none, 1);
    /* cut short, emptied, or not an index at all */
    sh("tabix -f -p vcf %s && head -c 40 %s > %s.cut && mv %s.cut %s", at("a.vcf.gz"),
       at("a.vcf.gz.tbi"), at("a.vcf.gz.tbi"), at("a.vcf.gz.tbi"), at("a.vcf.gz.tbi"));
    expect_same(m, "a.vcf.gz", none, 0);
    write_file("a.vcf.gz.tbi", "");
    expect_same(m, "a.vcf.gz", none, 0);
    sh("cp %s %s", at("a.vcf.gz"), at("a.vcf.gz.tbi")); /* BGZF, but a VCF */
    expect_same(m, "a.vcf.gz", none, 0);
    sh("head -c 100 /dev/urandom > %s", at("a.vcf.gz.tbi"));
    expect_same(m, "a.vcf.gz", none, 0);
    /* a .tbi does not serve a BCF (only a .csi does) */
    sh("cp " FIX "/c.bcf %s && bcftools index -f %s && mv %s.csi %s.tbi", at("c.bcf"), at("c.bcf"),
       at("c.bcf"), at("c.bcf"));
    expect_same(m, "c.bcf", none, 0);
    /* nor does a text VCF's .csi, which names its own sequences */
    sh("rm %s.tbi && bgzip -c " FIX "/a.vcf > %s && bcftools index -c %s && cp %s.csi %s.csi",
       at("c.bcf"), at("x.vcf.gz"), at("x.vcf.gz"), at("x.vcf.gz"), at("c.bcf"));
    expect_same(m, "c.bcf", none, 0);
    gr_model_free(m);
}

Test(vcf_index, uploads_unindexed_options_and_positionless_variants_stream)
{
    gr_model *m = fixture_model("vcf/model");
    sh("bgzip -c " FIX "/a.vcf > %s && tabix -p vcf %s", at("a.vcf.gz"), at("a.vcf.gz"));
    gr_vcf_options o = { .use_index = 1 };
    gr_vcf_result *r = NULL;
    int fd = open(at("a.vcf.gz"), O_RDONLY);
    cr_assert_eq(gr_vcf_read(m, at("a.vcf.gz"), fd, &o, &r, NULL), GR_OK);
    cr_assert_eq(r->indexed, 0, "a descriptor (an upload) is never sought in");
    gr_vcf_result_free(r);
    o.use_index = 0;
    r = read_ok(m, "a.vcf.gz", &o);
    cr_assert_eq(r->indexed, 0);
    gr_vcf_result_free(r);
    gr_model_free(m);
    /* a variant known only by its rsID (a PGS row whose harmonization
     * failed) is found anywhere in the file */
    char *b = temp_bundle("manifest.json",
                          "{\"name\":\"rs\",\"version\":\"1\",\"task\":\"regression\",\"format\":"
                          "\"pgs-catalog\",\"artifact\":\"s.txt\",\"genome_build\":\"GRCh38\"}",
                          "s.txt",
                          "#format_version=2.0\n#genome_build=GRCh37\n#HmPOS_build=GRCh38\n"
                          "rsID\tchr_name\tchr_position\teffect_allele\tother_allele\t"
                          "effect_weight\thm_rsID\thm_chr\thm_pos\n"
                          "rs1\t1\t100\tG\tA\t1\trs1\t1\t1000100\n"
                          "rs5550001\t2\t900\tA\tC\t1\trs5550001\t\t\n",
                          NULL);
    gr_error err;
    cr_assert_eq(gr_model_load(b, &m, &err), GR_OK, "%s", err.text);
    o.use_index = 1;
    r = read_ok(m, "a.vcf.gz", &o);
    cr_assert_eq(r->indexed, 0);
    cr_assert_eq(r->match.matched, 2, "the rsID-only variant is found");
    gr_vcf_result_free(r);
    gr_model_free(m);
    temp_bundle_free(b);
}

/* ---- generated files: many records, many BGZF blocks ---- */

static uint64_t rng_state = 88172645463325252ull;
static unsigned next_digit(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % 10);
}

static const char big_header[] =
    "##fileformat=VCFv4.2\n##reference=GRCh38\n"
    "##contig=<ID=chr1,length=248956422>\n##contig=<ID=chr2,length=242193529>\n"
    "##INFO=<ID=END,Number=1,Type=Integer,Description=\"end\">\n"
    "##INFO=<ID=AN,Number=1,Type=Integer,Description=\"an\">\n"
    "##INFO=<ID=X,Number=1,Type=String,Description=\"noise\">\n"
    "##ALT=<ID=NON_REF,Description=\"any\">\n"
    "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n";

/* chr1 and chr2 records every `step` bases from step to n * step, each with
 * `noise` random digits in INFO (so that the file takes many BGZF blocks);
 * extra lines are inserted, in order, before the record they precede. */
static void write_big(const char *name, int n, int step, int noise, const char *const *extra)
{
    FILE *f = fopen(at(name), "w");
    cr_assert_not_null(f);
    fputs(big_header, f);
    for (int c = 1; c <= 2; c++)
        for (int i = 1; i <= n; i++) {
            long pos = (long)i * step;
            for (const char *const *e = extra; e && *e; e++) {
                long epos = 0;
                int ec = 0;
                sscanf(*e, "chr%d\t%ld", &ec, &epos);
                if (ec == c && epos > pos - step && epos <= pos)
                    fputs(*e, f);
            }
            fprintf(f, "chr%d\t%ld\t.\tA\tG\t.\tPASS\tAN=4;X=", c, pos);
            for (int d = 0; d < noise; d++)
                fputc('0' + (int)next_digit(), f);
            fprintf(f, "\tGT\t0/1\t%s\n", i % 2 ? "1/1" : "0/0");
        }
    fclose(f);
}

/* A genorisk-linear bundle whose variants are (chrom, pos, ref A, alt G). */
static char *positions_bundle(const char *const *chrom, const long *pos, size_t n)
{
    size_t cap = 64 + n * 48;
    char *tsv = malloc(cap), *w = malloc(128 + n * 4);
    size_t at_tsv = (size_t)snprintf(tsv, cap, "feature_id\tchrom\tpos\tref\talt\tmean\trsid\n");
    size_t at_w =
        (size_t)sprintf(w, "{\"format\":\"genorisk-linear\",\"intercept\":0,\"weights\":[");
    for (size_t i = 0; i < n; i++) {
        at_tsv += (size_t)snprintf(tsv + at_tsv, cap - at_tsv, "v%zu\t%s\t%ld\tA\tG\t\t\n", i,
                                   chrom[i], pos[i]);
        at_w += (size_t)sprintf(w + at_w, "%s1", i ? "," : "");
    }
    strcpy(w + at_w, "],\"link\":\"identity\"}");
    char *b = temp_bundle("manifest.json",
                          "{\"name\":\"pos\",\"version\":\"1\",\"task\":\"regression\",\"format\":"
                          "\"genorisk-linear\",\"artifact\":\"model.json\",\"features\":"
                          "\"features.tsv\",\"genome_build\":\"GRCh38\",\"min_coverage\":0}",
                          "features.tsv", tsv, "model.json", w, NULL);
    free(tsv);
    free(w);
    return b;
}

static gr_model *load(const char *bundle)
{
    gr_model *m;
    gr_error err;
    cr_assert_eq(gr_model_load(bundle, &m, &err), GR_OK, "%s", err.text);
    return m;
}

/* The same text as name.vcf.gz with a .tbi, as .csi.vcf.gz with a .csi,
 * and as BCF with a .csi. */
static void index_three_ways(const char *name)
{
    char vcf[256];
    snprintf(vcf, sizeof vcf, "%s.vcf", name);
    char tbi[300], csi[300], bcf[300];
    snprintf(tbi, sizeof tbi, "%s", at(name));
    sh("bgzip -c %s > %s_tbi.vcf.gz && tabix -p vcf %s_tbi.vcf.gz", at(vcf), tbi, tbi);
    snprintf(csi, sizeof csi, "%s", at(name));
    sh("bgzip -c %s > %s_csi.vcf.gz && bcftools index -c %s_csi.vcf.gz", at(vcf), csi, csi);
    snprintf(bcf, sizeof bcf, "%s", at(name));
    sh("bcftools view -Ob -o %s.bcf %s 2>/dev/null && bcftools index %s.bcf", bcf, at(vcf), bcf);
}

Test(vcf_index, a_gvcf_block_that_starts_far_left_is_found)
{
    /* chr1: a reference block from 500 to 2,600,000 among records every 1000
     * bases; the variants at 2,500,500 (in no record) and 2,000,000 */
    const char *const extra[] = {
        "chr1\t500\t.\tC\t<NON_REF>\t.\tPASS\tEND=2600000\tGT\t0/0\t0/1\n", NULL
    };
    write_big("g.vcf", 3000, 1000, 60, extra);
    index_three_ways("g");
    const char *const chrom[] = { "1", "1", "2" };
    const long pos[] = { 2000000, 2500500, 1500000 };
    char *b = positions_bundle(chrom, pos, 3);
    gr_model *m = load(b);
    const char *const files[] = { "g_tbi.vcf.gz", "g_csi.vcf.gz", "g.bcf" };
    for (int i = 0; i < 3; i++) {
        expect_same(m, files[i], (gr_vcf_options){ 0 }, 1);
        gr_vcf_options o = { .use_index = 1 };
        gr_vcf_result *r = read_ok(m, files[i], &o);
        cr_assert_lt(r->records, 200, "%s: %zu records read of 6001", files[i], r->records);
        cr_assert_eq(r->dosage[1], 0, "%s: S1's block call is 0/0: dosage 0", files[i]);
        cr_assert_eq(r->dosage[3 + 1], GR_VCF_MISSING, "%s: S2's is 0/1: missing", files[i]);
        cr_assert_eq(r->match.matched, 3);
        gr_vcf_result_free(r);
    }
    gr_model_free(m);
    temp_bundle_free(b);
}

Test(vcf_index, a_dense_score_streams_and_a_sparse_one_does_not)
{
    write_big("d.vcf", 40000, 1000, 160, NULL); /* 80,000 records, over 2 MB of BGZF */
    sh("bgzip -c %s > %s && tabix -p vcf %s", at("d.vcf"), at("d.vcf.gz"), at("d.vcf.gz"));
    struct stat st;
    cr_assert_eq(stat(at("d.vcf.gz"), &st), 0);
    cr_assert_gt(st.st_size, 2 << 20, "half the file must be over 1 MiB");
    enum { DENSE = 600 };
    const char *chrom[DENSE];
    long pos[DENSE];
    for (int i = 0; i < DENSE; i++) { /* one variant every 100 records, both chromosomes */
        chrom[i] = i % 2 ? "2" : "1";
        pos[i] = (long)(i / 2) * 100000 + 50000;
    }
    char *b = positions_bundle(chrom, pos, DENSE);
    gr_model *m = load(b);
    expect_same(m, "d.vcf.gz", (gr_vcf_options){ 0 }, 0);
    gr_model_free(m);
    temp_bundle_free(b);
    b = positions_bundle(chrom, pos, 8);
    m = load(b);
    expect_same(m, "d.vcf.gz", (gr_vcf_options){ 0 }, 1);
    /* the index of a larger file next to a small one: its ranges lie past
     * the small file's end */
    sh("bgzip -c " FIX "/a.vcf > %s && cp %s.tbi %s.tbi", at("small.vcf.gz"), at("d.vcf.gz"),
       at("small.vcf.gz"));
    expect_same(m, "small.vcf.gz", (gr_vcf_options){ 0 }, 0);
    gr_model_free(m);
    temp_bundle_free(b);
}

Test(vcf_index, a_record_is_used_once_when_regions_share_ranges)
{
    /* a deletion from 100,500 to 130,000 overlaps both regions, so the
     * second one's ranges start at it, before the records the first region
     * used: they must not be used again (the variant at 101,000 would count
     * as matched twice) */
    const char *const extra[] = { "chr1\t100500\t.\tA\t<DEL>\t.\tPASS\tEND=130000\tGT\t0/1\t0/1\n",
                                  NULL };
    write_big("u.vcf", 3000, 1000, 60, extra);
    index_three_ways("u");
    const char *const chrom[] = { "1", "1", "1" };
    const long pos[] = { 100000, 101000, 125000 };
    char *b = positions_bundle(chrom, pos, 3);
    gr_model *m = load(b);
    const char *const files[] = { "u_tbi.vcf.gz", "u_csi.vcf.gz", "u.bcf" };
    for (int i = 0; i < 3; i++) {
        expect_same(m, files[i], (gr_vcf_options){ 0 }, 1);
        gr_vcf_options o = { .use_index = 1 };
        gr_vcf_result *r = read_ok(m, files[i], &o);
        cr_assert_eq(r->n_warnings, 0, "%s: %s", files[i], r->n_warnings ? r->warnings[0] : "");
        cr_assert_eq(r->match.matched, 3);
        gr_vcf_result_free(r);
    }
    gr_model_free(m);
    temp_bundle_free(b);
}

static gr_status read_err(const gr_model *m, const char *name, gr_vcf_options o, gr_error *err)
{
    gr_vcf_result *r = NULL;
    gr_status st = gr_vcf_read(m, at(name), -1, &o, &r, err);
    gr_vcf_result_free(r);
    return st;
}

/* Both reads refuse name, with the same status and the same words after
 * "record N " (N counts lines streamed, records read through the index). */
static void both_refuse(const gr_model *m, const char *name, gr_vcf_options o, const char *needle)
{
    gr_error s, i;
    o.use_index = 0;
    gr_status ss = read_err(m, name, o, &s);
    o.use_index = 1;
    gr_status si = read_err(m, name, o, &i);
    cr_assert_eq(ss, GR_EINPUT, "%s streamed: %s", name, s.text);
    cr_assert_eq(si, GR_EINPUT, "%s indexed: %s", name, i.text);
    cr_assert(strstr(s.text, needle), "%s streamed: '%s' lacks '%s'", name, s.text, needle);
    cr_assert(strstr(i.text, needle), "%s indexed: '%s' lacks '%s'", name, i.text, needle);
    const char *a = strchr(strstr(s.text, "record "), ' '),
               *b = strchr(strstr(i.text, "record "), ' ');
    cr_assert_str_eq(strchr(a + 1, ' '), strchr(b + 1, ' '), "%s", name);
}

Test(vcf_index, the_guards_of_a_streamed_read_hold_in_the_regions)
{
    const char *const chrom[] = { "1", "2", "2" };
    const long pos[] = { 1500000, 1000000, 2000000 };
    char *b = positions_bundle(chrom, pos, 3);
    gr_model *m = load(b);
    /* a record at a model position over the line limit */
    char long_rec[2200];
    int k = snprintf(long_rec, sizeof long_rec, "chr1\t1500000\t.\tA\tG\t.\tPASS\tX=");
    memset(long_rec + k, '7', 1500);
    strcpy(long_rec + k + 1500, "\tGT\t0/1\t0/1\n");
    const char *const too_long[] = { long_rec, NULL };
    write_big("l.vcf", 3000, 1000, 60, too_long);
    index_three_ways("l");
    gr_vcf_options o = { .max_line = 1000 };
    both_refuse(m, "l_tbi.vcf.gz", o, "over the 1000-byte line limit");
    both_refuse(m, "l_csi.vcf.gz", o, "over the 1000-byte line limit");
    both_refuse(m, "l.bcf", o, "over the 1000-byte line limit (");
    /* a FILTER that would write header attributes, and FORMAT values too
     * wide once parsed */
    const char *const bad_filter[] = { "chr2\t1000000\t.\tA\tG\t.\tq<x\t.\tGT\t0/1\t0/1\n", NULL };
    write_big("f.vcf", 3000, 1000, 60, bad_filter);
    sh("bgzip -c %s > %s && tabix -p vcf %s", at("f.vcf"), at("f.vcf.gz"), at("f.vcf.gz"));
    both_refuse(m, "f.vcf.gz", (gr_vcf_options){ 0 }, "its FILTER holds");
    char wide[1100];
    k = snprintf(wide, sizeof wide, "chr2\t2000000\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t");
    memset(wide + k, '1', 900);
    strcpy(wide + k + 900, "\n");
    const char *const too_wide[] = { wide, NULL };
    write_big("w.vcf", 3000, 1000, 60, too_wide);
    sh("bgzip -c %s > %s && tabix -p vcf %s", at("w.vcf"), at("w.vcf.gz"), at("w.vcf.gz"));
    both_refuse(m, "w.vcf.gz", (gr_vcf_options){ .max_line = 1000 }, "once parsed");
    gr_model_free(m);
    temp_bundle_free(b);
}

Test(vcf_index, a_long_line_outside_the_regions_is_not_read)
{
    /* the documented difference: records outside the regions are not read,
     * so their lines are not measured either */
    const char *const chrom[] = { "2" };
    const long pos[] = { 2500000 };
    char *b = positions_bundle(chrom, pos, 1);
    gr_model *m = load(b);
    char long_rec[2200];
    int k = snprintf(long_rec, sizeof long_rec, "chr1\t10500\t.\tA\tG\t.\tPASS\tX=");
    memset(long_rec + k, '7', 1500);
    strcpy(long_rec + k + 1500, "\tGT\t0/1\t0/1\n");
    const char *const extra[] = { long_rec, NULL };
    write_big("o.vcf", 3000, 1000, 60, extra);
    sh("bgzip -c %s > %s && tabix -p vcf %s", at("o.vcf"), at("o.vcf.gz"), at("o.vcf.gz"));
    gr_error err;
    cr_assert_eq(read_err(m, "o.vcf.gz", (gr_vcf_options){ .max_line = 1000 }, &err), GR_EINPUT);
    gr_vcf_options o = { .max_line = 1000, .use_index = 1 };
    gr_vcf_result *r = read_ok(m, "o.vcf.gz", &o);
    cr_assert_eq(r->indexed, 1);
    cr_assert_eq(r->match.matched, 1);
    gr_vcf_result_free(r);
    gr_model_free(m);
    temp_bundle_free(b);
}

static int stop_now(void *arg)
{
    return ++*(int *)arg > 1;
}

Test(vcf_index, a_stop_ends_an_indexed_read)
{
    write_big("s.vcf", 3000, 1000, 60, NULL);
    index_three_ways("s");
    const char *const chrom[] = { "1", "2" };
    const long pos[] = { 1000000, 2000000 };
    char *b = positions_bundle(chrom, pos, 2);
    gr_model *m = load(b);
    const char *const files[] = { "s_tbi.vcf.gz", "s.bcf" };
    for (int i = 0; i < 2; i++) {
        int asked = 0;
        gr_vcf_options o = { .use_index = 1, .stop = stop_now, .stop_arg = &asked };
        gr_error err;
        cr_assert_eq(read_err(m, files[i], o, &err), GR_EIO, "%s", files[i]);
        cr_assert_str_eq(err.text, "stopped");
        cr_assert_eq(asked, 2, "%s: asked before each region", files[i]);
    }
    gr_model_free(m);
    temp_bundle_free(b);
}
