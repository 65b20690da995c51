/* test_vcf.c - the VCF matching rules of docs/vcf-matching.md, one model
 * variant per rule, read from plain, BGZF and BCF copies of one file. */
#include <criterion/criterion.h>
#include <htslib/kstring.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/predict_json.h"
#include "api/predict_run.h"
#include "api/predict_vcf.h"
#include "core/match.h"
#include "core/vcf.h"
#include "helpers.h"

#define NF 13
static const char features[] =
    "feature_id\tchrom\tpos\tref\talt\tmean\trsid\n"
    "f0\t1\t100\tA\tG\t\t\n"       /* plain match */
    "f1\t1\t200\tC\tT\t\t\n"       /* REF/ALT swapped in the VCF */
    "f2\t1\t300\tA\tC\t\t\n"       /* other strand */
    "f3\t1\t400\tA\tC\t\t\n"       /* other strand, swapped */
    "f4\t1\t500\tA\tT\t\t\n"       /* A/T: strand-ambiguous, swapped */
    "f5\t1\t600\tG\tA\t\t\n"       /* second ALT of a multi-allelic record */
    "f6\t2\t1000\tC\tT\t\trs777\n" /* found by rsID at another position */
    "f7\t2\t2000\tG\tC\t\t\n"      /* two records: the first wins */
    "f8\t2\t3000\tT\tG\t\t\n"      /* FILTER LowQual */
    "f9\t2\t4000\tA\tG\t\t\n"      /* inside a gVCF reference block */
    "f10\t2\t5000\tC\tA\t0.4\t\n"  /* absent from the VCF; has a mean */
    "f11\tX\t100\tA\tG\t\t\n"      /* haploid chrX call */
    "f12\t3\t100\tA\tG\t\t\n";     /* DS */

static const char vcf[] =
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=chr1,length=248956422>\n##contig=<ID=2>\n##contig=<ID=chrX>\n##contig=<ID=3>\n"
    "##FILTER=<ID=LowQual,Description=\"low\">\n"
    "##INFO=<ID=END,Number=1,Type=Integer,Description=\"end\">\n"
    "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
    "##FORMAT=<ID=DS,Number=A,Type=Float,Description=\"dosage\">\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
    "chr1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1\n"
    "chr1\t200\t.\tT\tC\t.\tPASS\t.\tGT\t0/0\t0/1\n"
    "chr1\t300\t.\tT\tG\t.\tPASS\t.\tGT\t1/1\t0/0\n"
    "chr1\t400\t.\tG\tT\t.\tPASS\t.\tGT\t0/1\t1|1\n"
    "chr1\t500\t.\tT\tA\t.\t.\t.\tGT\t0/0\t./.\n"
    "chr1\t600\t.\tG\tC,A\t.\tPASS\t.\tGT\t0/2\t2/2\n"
    "2\t1005\trs777\tC\tT\t.\tPASS\t.\tGT\t0/1\t0/0\n"
    "2\t2000\t.\tG\tC\t.\tPASS\t.\tGT\t1/1\t0/1\n"
    "2\t2000\t.\tG\tC\t.\tPASS\t.\tGT\t0/0\t0/0\n"
    "2\t3000\t.\tT\tG\t.\tLowQual\t.\tGT\t1/1\t1/1\n"
    "2\t3900\t.\tA\t<NON_REF>\t.\t.\tEND=4100\tGT\t0/0\t./.\n"
    "chrX\t100\t.\tA\tG\t.\tPASS\t.\tGT\t1\t0/1\n"
    "3\t100\t.\tA\tG\t.\tPASS\t.\tGT:DS\t0/1:0.25\t1/1:1.9\n";

static char *dir;
static gr_model *m;

static void setup(void)
{
    char w[256] = "{\"format\":\"genorisk-linear\",\"intercept\":0,\"weights\":[1";
    for (int i = 1; i < NF; i++)
        strcat(w, ",1");
    strcat(w, "],\"link\":\"identity\"}");
    dir =
        temp_bundle("manifest.json",
                    "{\"name\":\"rules\",\"version\":\"1\",\"task\":\"regression\",\"format\":"
                    "\"genorisk-linear\",\"artifact\":\"model.json\",\"features\":\"features.tsv\","
                    "\"genome_build\":\"GRCh38\",\"min_coverage\":0.5}",
                    "features.tsv", features, "model.json", w, "in.vcf", vcf, NULL);
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
    char cmd[1024];
    snprintf(
        cmd, sizeof cmd,
        "bgzip -c %s/in.vcf > %s/in.vcf.gz && bcftools view -Ob -o %s/in.bcf %s/in.vcf 2>/dev/null",
        dir, dir, dir, dir);
    cr_assert_eq(system(cmd), 0, "bgzip and bcftools come with make deps");
}

static void teardown(void)
{
    gr_model_free(m);
    temp_bundle_free(dir);
}

TestSuite(vcf, .init = setup, .fini = teardown);

static gr_vcf_result *read_file(const char *name, gr_vcf_options *o)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gr_vcf_result *r = NULL;
    gr_error err;
    cr_assert_eq(gr_vcf_read(m, path, -1, o, &r, &err), GR_OK, "%s: %s", name, err.text);
    return r;
}

/* expected dosages, NaN = missing */
#define M NAN
static void expect(gr_vcf_result *r, size_t s, const double *want, const char *what)
{
    double x[NF];
    gr_vcf_sample_dosages(r, s, x);
    for (int f = 0; f < NF; f++) {
        if (isnan(want[f]))
            cr_assert(isnan(x[f]), "%s sample %zu f%d: expected missing, got %g", what, s, f, x[f]);
        else
            cr_assert(fabs(x[f] - want[f]) < 1e-4, "%s sample %zu f%d: expected %g, got %g", what,
                      s, f, want[f], x[f]);
    }
}

Test(vcf, every_rule_in_plain_bgzf_and_bcf)
{
    const double s1[NF] = { 1, 2, 2, 1, 2, 1, 1, 2, M, 0, M, 2, 0.25 };
    const double s2[NF] = { 2, 1, 0, 0, M, 2, 0, 1, M, M, M, 1, 1.9 };
    const char *files[] = { "in.vcf", "in.vcf.gz", "in.bcf" };
    for (int i = 0; i < 3; i++) {
        gr_vcf_options o = { 0 };
        gr_vcf_result *r = read_file(files[i], &o);
        cr_assert_eq(r->n_samples, 2);
        cr_assert_str_eq(r->sample_ids[0], "S1");
        expect(r, 0, s1, files[i]);
        expect(r, 1, s2, files[i]);
        const gr_vcf_match *c = &r->match;
        cr_assert_eq(c->matched, 11, "%s matched %zu", files[i], c->matched);
        cr_assert_eq(c->flipped, 2);
        cr_assert_eq(c->swapped, 3);
        /* f4 (A/T) and f7 (G/C) */
        cr_assert_eq(c->ambiguous, 2, "%s ambiguous %zu", files[i], c->ambiguous);
        cr_assert_eq(c->multiallelic, 1);
        /* the per-sample counts follow from the dosages and the impute rule */
        gr_workspace *ws = gr_workspace_new(m);
        gr_workspace_set_impute(ws, GR_IMPUTE_MEAN);
        double x[NF];
        gr_prediction p;
        gr_vcf_sample_dosages(r, 0, x);
        cr_assert_eq(gr_predict(m, ws, x, &p, NULL, NULL, NULL), GR_OK);
        cr_assert_eq(p.n_missing, 1); /* f8 */
        cr_assert_eq(p.n_imputed, 1); /* f10 has a mean */
        cr_assert_eq(p.n_observed, NF - 2);
        gr_vcf_sample_dosages(r, 1, x);
        cr_assert_eq(gr_predict(m, ws, x, &p, NULL, NULL, NULL), GR_OK);
        cr_assert_eq(p.n_missing, 3); /* f4, f8, f9 */
        cr_assert_eq(p.n_imputed, 1); /* f10 */
        gr_workspace_set_impute(ws, GR_IMPUTE_NONE);
        cr_assert_eq(gr_predict(m, ws, x, &p, NULL, NULL, NULL), GR_OK);
        cr_assert_eq(p.n_missing, 4);
        cr_assert_eq(p.n_imputed, 0);
        gr_workspace_free(ws);
        int dup = 0, rsid = 0;
        for (size_t w = 0; w < r->n_warnings; w++) {
            dup |= strstr(r->warnings[w], "more than one record") != NULL;
            rsid |= strstr(r->warnings[w], "by rsID") != NULL;
        }
        cr_assert(dup && rsid, "%s: warnings for the duplicate and the rsID match", files[i]);
        cr_assert_str_eq(r->build, "GRCh38");
        gr_vcf_result_free(r);
    }
}

Test(vcf, options_filter_absent_genotype_and_samples)
{
    gr_vcf_options o = { .filter_any = 1, .absent = GR_ABSENT_REF, .genotype = GR_GENO_GT };
    const char *only[] = { "S2" };
    o.samples = only;
    o.n_samples = 1;
    gr_vcf_result *r = read_file("in.vcf.gz", &o);
    cr_assert_eq(r->n_samples, 1);
    cr_assert_str_eq(r->sample_ids[0], "S2");
    const double s2[NF] = { 2, 1, 0, 0, M, 2, 0, 1, 2, M, 0, 1, 2 };
    expect(r, 0, s2, "filter=any absent=ref genotype=gt");
    gr_vcf_result_free(r);
    o = (gr_vcf_options){ .genotype = GR_GENO_DS };
    r = read_file("in.vcf", &o);
    cr_assert(fabs((double)r->dosage[12] / GR_VCF_DOSAGE_SCALE - 0.25) < 1e-4);
    cr_assert_eq(r->dosage[0], GR_VCF_MISSING, "genotype=ds: no DS, no dosage");
    gr_vcf_result_free(r);
}

static void expect_error(const char *text, const char *needle, const gr_vcf_options *o)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bad.vcf", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    gr_vcf_result *r = NULL;
    gr_error err;
    gr_vcf_options none = { 0 };
    gr_status st = gr_vcf_read(m, path, -1, o ? o : &none, &r, &err);
    cr_assert_neq(st, GR_OK, "expected an error with '%s'", needle);
    cr_assert_null(r);
    cr_assert(strstr(err.text, needle), "'%s' lacks '%s'", err.text, needle);
}

Test(vcf, bad_input)
{
    expect_error("not a vcf at all\n", "not a", NULL);
    expect_error("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                 "1\t100\t.\tA\tG\t.\t.\t.\n",
                 "no samples", NULL);
    expect_error("##fileformat=VCFv4.2\n##contig=<ID=1,length=249250621>\n"
                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n",
                 "GRCh37", NULL);
    const char *who[] = { "NOBODY" };
    gr_vcf_options o = { .samples = who, .n_samples = 1 };
    expect_error(vcf, "not in the VCF", &o);
    gr_vcf_options tiny = { .max_line = 40 };
    expect_error(vcf, "limit", &tiny);
    expect_error("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
                 "1\tnotanumber\t.\tA\tG\t.\t.\t.\tGT\t0/1\n1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\n",
                 "not a valid VCF record", NULL);
    /* a truncated BGZF file */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "head -c 200 %s/in.vcf.gz > %s/cut.vcf.gz", dir, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/cut.vcf.gz", dir);
    gr_vcf_result *r = NULL;
    gr_error err;
    gr_vcf_options none = { 0 };
    cr_assert_neq(gr_vcf_read(m, cmd, -1, &none, &r, &err), GR_OK);
    cr_assert_null(r);
}

Test(vcf, byte_order_mark_before_the_header_is_skipped)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bom.vcf", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s%s", "\xEF\xBB\xBF", vcf);
    fclose(f);
    gr_vcf_options o = { 0 };
    gr_vcf_result *r = read_file("bom.vcf", &o), *plain = read_file("in.vcf", &o);
    cr_assert_eq(r->n_samples, 2);
    cr_assert_eq(memcmp(r->dosage, plain->dosage, 2 * NF * sizeof *r->dosage), 0);
    gr_vcf_result_free(r);
    gr_vcf_result_free(plain);
}

Test(vcf, reads_from_a_descriptor)
{
    char path[512];
    snprintf(path, sizeof path, "%s/in.bcf", dir);
    FILE *f = fopen(path, "rb");
    gr_vcf_result *r = NULL;
    gr_vcf_options o = { 0 };
    cr_assert_eq(gr_vcf_read(m, "upload", dup(fileno(f)), &o, &r, NULL), GR_OK);
    fclose(f);
    cr_assert_eq(r->n_samples, 2);
    gr_vcf_result_free(r);
}

/* tests/fixtures/vcf/expected.json (tools/make_vcf_data.py fixtures): every
 * file and option set against dosages worked out by the rules. */
Test(vcf_fixtures, expected_dosages)
{
    gr_model *fm = fixture_model("vcf/model");
    json_t *doc = json_load_file("tests/fixtures/vcf/expected.json", 0, NULL);
    cr_assert_not_null(doc);
    json_t *cases = json_object_get(doc, "cases");
    cr_assert(json_array_size(cases) >= 10);
    size_t nf = gr_model_get_info(fm)->n_features;
    double *x = malloc(nf * sizeof *x);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i), *o = json_object_get(c, "options");
        const char *file = json_string_value(json_object_get(c, "file"));
        const char *name = json_string_value(json_object_get(c, "options_name"));
        gr_vcf_options opt = { 0 };
        json_t *v;
        if ((v = json_object_get(o, "absent")))
            cr_assert(gr_api_parse_absent(json_string_value(v), &opt.absent));
        if ((v = json_object_get(o, "genotype")))
            cr_assert(gr_api_parse_genotype(json_string_value(v), &opt.genotype));
        if ((v = json_object_get(o, "filter")))
            opt.filter_any = !strcmp(json_string_value(v), "any");
        json_t *want_samples = json_object_get(c, "samples");
        const char *chosen[16];
        json_t *sel = json_object_get(o, "sample");
        if (json_is_array(sel)) {
            for (size_t k = 0; k < json_array_size(sel) && k < 16; k++)
                chosen[k] = json_string_value(json_array_get(sel, k));
            opt.samples = chosen;
            opt.n_samples = json_array_size(sel);
        }
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/vcf/%s", file);
        gr_vcf_result *r = NULL;
        gr_error err;
        cr_assert_eq(gr_vcf_read(fm, path, -1, &opt, &r, &err), GR_OK, "%s/%s: %s", file, name,
                     err.text);
        cr_assert_eq(r->n_samples, json_array_size(want_samples), "%s/%s", file, name);
        json_t *dos = json_object_get(c, "dosages");
        for (size_t s = 0; s < r->n_samples; s++) {
            cr_assert_str_eq(r->sample_ids[s], json_string_value(json_array_get(want_samples, s)));
            gr_vcf_sample_dosages(r, s, x);
            json_t *row = json_array_get(dos, s);
            for (size_t f = 0; f < nf; f++) {
                json_t *w = json_array_get(row, f);
                if (json_is_null(w))
                    cr_assert(isnan(x[f]), "%s/%s sample %zu feature %zu: want missing, got %g",
                              file, name, s, f, x[f]);
                else
                    cr_assert(fabs(x[f] - json_number_value(w)) < 1e-4,
                              "%s/%s sample %zu feature %zu: want %g, got %g", file, name, s, f,
                              json_number_value(w), x[f]);
            }
        }
        gr_vcf_result_free(r);
    }
    free(x);
    json_decref(doc);
    gr_model_free(fm);
}

Test(vcf, lower_case_all_sites_and_non_reference_calls_in_blocks)
{
    const char *text =
        "##fileformat=VCFv4.2\n"
        "##INFO=<ID=END,Number=1,Type=Integer,Description=\"end\">\n"
        "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
        "chr1\t100\t.\ta\tg\t.\tPASS\t.\tGT\t0/1\t1/1\n" /* lower-case bases */
        "chr1\t200\t.\tC\t.\t.\tPASS\t.\tGT\t0/0\t./.\n" /* all-sites record, no ALT */
        "2\t3900\t.\tA\t<NON_REF>\t.\t.\tEND=4100\tGT\t0/1\t0/0\n";
    char path[512];
    snprintf(path, sizeof path, "%s/sites.vcf", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    gr_vcf_options o = { 0 };
    gr_vcf_result *r = read_file("sites.vcf", &o);
    double x[NF];
    gr_vcf_sample_dosages(r, 0, x);
    cr_assert_float_eq(x[0], 1, 1e-9, "lower-case alleles match");
    cr_assert_float_eq(x[1], 0, 1e-9, "a 0/0 call at a site with no ALT is observed: dosage 0");
    cr_assert(isnan(x[9]), "a 0/1 call in a reference block is not a reference call");
    gr_vcf_sample_dosages(r, 1, x);
    cr_assert_float_eq(x[0], 2, 1e-9);
    cr_assert(isnan(x[1]), "a missing call stays missing");
    cr_assert_float_eq(x[9], 0, 1e-9, "a 0/0 call in a reference block is dosage 0");
    gr_vcf_result_free(r);
}

static int has_warning(const gr_vcf_result *r, const char *needle)
{
    for (size_t w = 0; w < r->n_warnings; w++)
        if (strstr(r->warnings[w], needle))
            return 1;
    return 0;
}

static gr_vcf_result *read_vcf_text(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    gr_vcf_options o = { 0 };
    return read_file(name, &o);
}

/* The variants-only warning is for files without reference calls: a gVCF
 * holds them in its reference blocks, and must not get it. */
Test(vcf, gvcf_reference_blocks_count_as_reference_calls)
{
    const char *head = "##fileformat=VCFv4.2\n"
                       "##INFO=<ID=END,Number=1,Type=Integer,Description=\"end\">\n"
                       "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
                       "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
                       "chr1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n";
    char text[1024];
    snprintf(text, sizeof text, "%s2\t3900\t.\tA\t<NON_REF>\t.\t.\tEND=4100\tGT\t0/0\n", head);
    gr_vcf_result *r = read_vcf_text("g.vcf", text);
    cr_assert(!has_warning(r, "no homozygous-reference calls"), "%s",
              r->n_warnings ? r->warnings[0] : "");
    gr_vcf_result_free(r);
    r = read_vcf_text("v.vcf", head); /* variants only: the warning is right */
    cr_assert(has_warning(r, "no homozygous-reference calls"));
    gr_vcf_result_free(r);
}

/* Rule 9 by any chromosome's length, not only chromosome 1's. */
Test(vcf, genome_build_from_any_chromosome_length)
{
    static const char *const contigs[] = { "##contig=<ID=chr22,length=51304566>",
                                           "##contig=<ID=X,length=155270560>",
                                           "##contig=<ID=2,length=243199373>" };
    for (size_t i = 0; i < 3; i++) {
        char text[1024];
        snprintf(
            text, sizeof text,
            "##fileformat=VCFv4.2\n%s\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
            "chr1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n",
            contigs[i]);
        expect_error(text, "the VCF is on GRCh37", NULL);
    }
    gr_vcf_result *r =
        read_vcf_text("b38.vcf", "##fileformat=VCFv4.2\n##contig=<ID=chr22,length=50818468>\n"
                                 "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
                                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
                                 "chr1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n");
    cr_assert_str_eq(r->build, "GRCh38");
    gr_vcf_result_free(r);
}

/* Found while fuzzing: END below POS made a block reach every later model
 * variant, on every chromosome, and call them homozygous reference. */
Test(vcf, block_end_before_its_start_covers_no_other_variant)
{
    const char *text = "##fileformat=VCFv4.2\n"
                       "##INFO=<ID=END,Number=1,Type=Integer,Description=\"end\">\n"
                       "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
                       "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
                       "2\t3900\t.\tA\t<NON_REF>\t.\t.\tEND=-5\tGT\t0/0\t0/0\n"
                       "2\t3950\t.\tA\t<NON_REF>\t.\t.\tEND=.\tGT\t0/0\t0/0\n";
    char path[512];
    snprintf(path, sizeof path, "%s/negative_end.vcf", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    gr_vcf_options o = { 0 };
    gr_vcf_result *r = read_file("negative_end.vcf", &o);
    double x[NF];
    gr_vcf_sample_dosages(r, 0, x);
    for (int i = 0; i < NF; i++)
        cr_assert(isnan(x[i]), "f%d lies in neither block", i);
    gr_vcf_result_free(r);
}

Test(vcf, header_size_limit)
{
    char paths[3][512];
    const char *names[3] = { "in.vcf", "in.vcf.gz", "in.bcf" };
    for (int i = 0; i < 3; i++)
        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
    size_t header = (size_t)(strstr(vcf, "\nchr1\t") + 1 - vcf); /* through the #CHROM line */
    gr_vcf_options o = { .max_header = header };
    gr_vcf_result *r = NULL;
    gr_error err;
    for (int i = 0; i < 2; i++) { /* plain and BGZF: exactly at the limit, then one over */
        o.max_header = header;
        cr_assert_eq(gr_vcf_read(m, paths[i], -1, &o, &r, &err), GR_OK, "%s", err.text);
        gr_vcf_result_free(r);
        o.max_header = header - 1;
        cr_assert_eq(gr_vcf_read(m, paths[i], -1, &o, &r, &err), GR_EINPUT);
        cr_assert(strstr(err.text, "header is over the"), "%s", err.text);
        cr_assert_str_eq(err.field, "header");
    }
    o.max_header = 100; /* BCF: its l_text field */
    cr_assert_eq(gr_vcf_read(m, paths[2], -1, &o, &r, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "BCF header is"), "%s", err.text);
    o.max_header = 1 << 20;
    cr_assert_eq(gr_vcf_read(m, paths[2], -1, &o, &r, &err), GR_OK, "%s", err.text);
    gr_vcf_result_free(r);
    /* from a descriptor: read to size it, then rewound and read for real */
    o.max_header = header;
    int fd = open(paths[1], O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(gr_vcf_read(m, "fd", fd, &o, &r, &err), GR_OK, "%s", err.text);
    cr_assert_eq(r->n_samples, 2);
    gr_vcf_result_free(r);
    /* a pipe cannot be rewound: refused, not misread */
    int p[2];
    cr_assert_eq(pipe(p), 0);
    close(p[1]);
    cr_assert_eq(gr_vcf_read(m, "pipe", p[0], &o, &r, &err), GR_EINVAL);
    cr_assert(strstr(err.text, "seekable"), "%s", err.text);
}

/* htslib declares a name the header lacks by parsing a header line built
 * around it; a name with ',' or '>' would add attributes of its own, such as
 * IDX=248956422 (a 4 GB dictionary; found by fuzzing). Each such record is
 * refused, naming the field, and so is a line with no tabs. The records are
 * ones the model wants (by position or rsID), so each is really parsed. */
Test(vcf, names_that_would_write_header_attributes)
{
#define HEAD                                                                                       \
    "##fileformat=VCFv4.2\n##contig=<ID=1>\n##contig=<ID=2>\n"                                     \
    "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"                                   \
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
    expect_error(HEAD "9,IDX=248956422\t1005\trs777\tC\tT\t.\tPASS\t.\tGT\t0/1\n",
                 "its CHROM holds ','", NULL);
    expect_error(HEAD "1\t100\t.\tA\tG\t.\tX,IDX=248956422\t.\tGT\t0/1\n", "its FILTER holds",
                 NULL);
    expect_error(HEAD "1\t100\t.\tA\tG\t.\tPASS\t.\tGT:Z,IDX=248956422\t0/1:1\n",
                 "its FORMAT holds", NULL);
    expect_error(HEAD "1\t100\t.\tA\tG\t.\tPASS\tK>=1\tGT\t0/1\n", "its INFO holds", NULL);
    expect_error(HEAD "X,IDX=248956422>\n", "not a valid VCF record: it has no tabs", NULL);
    /* commas, quotes and brackets in INFO values are values, not names */
    char path[512];
    snprintf(path, sizeof path, "%s/ok.vcf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(HEAD "1\t100\t.\tA\tG\t.\tPASS\tK=a,b;L=\"<x>\"\tGT\t0/1\n", f);
    fclose(f);
    gr_vcf_result *r = NULL;
    gr_error err;
    gr_vcf_options o = { 0 };
    cr_assert_eq(gr_vcf_read(m, path, -1, &o, &r, &err), GR_OK, "%s", err.text);
    double x[NF];
    gr_vcf_sample_dosages(r, 0, x);
    cr_assert_float_eq(x[0], 1.0, 1e-9);
    gr_vcf_result_free(r);
#undef HEAD
}

/* BCF records are under the line limit too, measured from their length
 * fields before htslib allocates what they claim: one claiming 4 GB is
 * refused without the 6 GB allocation htslib would make for it. */
Test(vcf, bcf_records_under_the_line_limit)
{
    char path[512], cmd[1200];
    snprintf(path, sizeof path, "%s/raw.bcf", dir);
    snprintf(cmd, sizeof cmd, "bgzip -dc %s/in.bcf > %s", dir, path);
    cr_assert_eq(system(cmd), 0);
    gr_vcf_result *r = NULL;
    gr_error err;
    gr_vcf_options o = { .max_line = 20 }; /* a record has 24 fixed bytes */
    cr_assert_eq(gr_vcf_read(m, path, -1, &o, &r, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "record 1 is over the 20-byte line limit ("), "%s", err.text);
    cr_assert_null(r);
    o.max_line = 0; /* 64 MiB */
    cr_assert_eq(gr_vcf_read(m, path, -1, &o, &r, &err), GR_OK, "%s", err.text);
    gr_vcf_result_free(r);
    r = NULL;

    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    unsigned char h[9];
    cr_assert_eq(fread(h, 1, 9, f), 9);
    long first = 9 + (long)(h[5] | h[6] << 8 | h[7] << 16 | (unsigned long)h[8] << 24);
    cr_assert_eq(fseek(f, first, SEEK_SET), 0);
    cr_assert_eq(fwrite("\xf0\xff\xff\xff", 1, 4, f), 4);
    fclose(f);
    cr_assert_eq(gr_vcf_read(m, path, -1, &o, &r, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "record 1 is over the 67108864-byte line limit (4294"), "%s",
              err.text);
    cr_assert_null(r);
}

/* htslib gives every sample room for the widest value of each FORMAT field,
 * so one long value among many samples costs samples x its length. Such a
 * record is refused before htslib parses it: here 1,000 samples and one
 * 10 kB value, about 40 MB by the estimate, against the 4 MiB that a 1 MiB
 * line limit allows. The same line is fine for two selected samples, and
 * short values are fine for all 1,000. */
Test(vcf, format_values_times_samples_under_a_ceiling)
{
    enum { SAMPLES = 1000, LONG = 10000 };
    kstring_t head = { 0, 0, NULL }, rec = { 0, 0, NULL };
    ksprintf(&head, "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
                    "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
                    "##FORMAT=<ID=ST,Number=1,Type=String,Description=\"a string\">\n"
                    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT");
    for (int s = 1; s <= SAMPLES; s++)
        ksprintf(&head, "\tS%d", s);
    kputc('\n', &head);
    kputs("1\t100\t.\tA\tG\t.\tPASS\t.\tGT:ST\t0/1:", &rec);
    for (int i = 0; i < LONG; i++)
        kputc('x', &rec);
    for (int s = 2; s <= SAMPLES; s++)
        kputs("\t0/0:.", &rec);
    kputc('\n', &rec);
    char path[512];
    snprintf(path, sizeof path, "%s/wide.vcf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(head.s, f);
    fputs(rec.s, f);
    fclose(f);
    gr_vcf_result *r = NULL;
    gr_error err;
    gr_vcf_options o = { .max_line = 1 << 20 };
    cr_assert_eq(gr_vcf_read(m, path, -1, &o, &r, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "record 1 would take 38 MiB once parsed for 1000 samples"), "%s",
              err.text);
    cr_assert(strstr(err.text, "over the 4-MiB limit"), "%s", err.text);
    cr_assert_null(r);

    const char *two[] = { "S2", "S3" };
    gr_vcf_options some = { .max_line = 1 << 20, .samples = two, .n_samples = 2 };
    cr_assert_eq(gr_vcf_read(m, path, -1, &some, &r, &err), GR_OK, "%s", err.text);
    double x[NF];
    gr_vcf_sample_dosages(r, 0, x);
    cr_assert_float_eq(x[0], 0.0, 1e-9);
    gr_vcf_result_free(r);
    r = NULL;

    f = fopen(path, "w");
    fputs(head.s, f);
    fputs("1\t100\t.\tA\tG\t.\tPASS\t.\tGT:ST\t0/1:abc", f);
    for (int s = 2; s <= SAMPLES; s++)
        fputs("\t1/1:.", f);
    fputc('\n', f);
    fclose(f);
    cr_assert_eq(gr_vcf_read(m, path, -1, &o, &r, &err), GR_OK, "%s", err.text);
    cr_assert_eq(r->n_samples, SAMPLES);
    gr_vcf_sample_dosages(r, 0, x);
    cr_assert_float_eq(x[0], 1.0, 1e-9);
    gr_vcf_sample_dosages(r, SAMPLES - 1, x);
    cr_assert_float_eq(x[0], 2.0, 1e-9);
    gr_vcf_result_free(r);
    free(head.s);
    free(rec.s);
}

/* max_samples counts the samples read, those selected or else the file's,
 * and is checked before anything is sized by that count. */
Test(vcf, max_samples)
{
    char path[512];
    snprintf(path, sizeof path, "%s/in.vcf.gz", dir);
    gr_vcf_result *r = NULL;
    gr_error err;
    gr_vcf_options o = { .max_samples = 1 };
    cr_assert_eq(gr_vcf_read(m, path, -1, &o, &r, &err), GR_ELIMIT);
    cr_assert_str_eq(err.field, "sample");
    cr_assert(strstr(err.text, "the VCF holds 2 samples; at most 1 per request"), "%s", err.text);
    cr_assert_null(r);
    const char *one[] = { "S2" };
    o.samples = one, o.n_samples = 1;
    cr_assert_eq(gr_vcf_read(m, path, -1, &o, &r, &err), GR_OK, "%s", err.text);
    cr_assert_eq(r->n_samples, 1);
    gr_vcf_result_free(r);
}

/* IDX attributes in every spelling htslib takes: any case, a sign or spaces
 * before the number (each came from fuzzing or from reading htslib). */
Test(vcf, header_idx_in_any_spelling)
{
    const char *lines[] = { "##contig=<ID=9,IDX=268435455>", "##contig=<ID=9,idx=268435455>",
                            "##contig=<ID=9,iDx=+268435455>", "##contig=<ID=9,IDX= 268435455>",
                            "##INFO=<ID=Q,Number=1,Type=Integer,Description=\"q\",IdX=268435455>" };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "##fileformat=VCFv4.2\n\n%s\n"
                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
                 "1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n",
                 lines[i]);
        gr_vcf_options o = { .max_header = 1 << 20 };
        expect_error(text, "IDX=268435455 attribute", &o);
    }
}

/* A VCF whose records (at a model position, or symbolic at another) each
 * use `keys` INFO keys, FILTERs or FORMAT keys the header does not declare;
 * n names in all, `undeclared` of them distinct. Returns new text. */
static char *undeclared_vcf(size_t n, size_t distinct, int where)
{
    kstring_t k = { 0, 0, NULL };
    kputs("##fileformat=VCFv4.2\n##contig=<ID=1>\n"
          "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n",
          &k);
    for (size_t i = 0; i < n; i++) {
        size_t id = i % distinct;
        const char *alt = i % 2 ? "G" : "<X>"; /* symbolic records reach htslib anywhere */
        const char *pos = i % 2 ? "100" : "7777";
        if (where == 0)
            ksprintf(&k, "1\t%s\t.\tA\t%s\t.\tPASS\tK%zu=1\tGT\t0/1\n", pos, alt, id);
        else if (where == 1)
            ksprintf(&k, "1\t%s\t.\tA\t%s\t.\tF%zu\t.\tGT\t0/1\n", pos, alt, id);
        else
            ksprintf(&k, "1\t%s\t.\tA\t%s\t.\tPASS\t.\tGT:Q%zu\t0/1:1\n", pos, alt, id);
    }
    return k.s;
}

/* Each name a record uses without its header declaring it makes htslib
 * rebuild the header: 40k, 80k and 120k took 2.8, 9.2 and 17.5 s. A few
 * are read as before; more than the allowance are refused, naming one, at
 * a cost that does not grow with the file. */
Test(vcf, undeclared_names_are_bounded)
{
    for (int where = 0; where < 3; where++) {
        char *ok = undeclared_vcf(2000, 20, where);
        gr_vcf_result *r = read_vcf_text("few.vcf", ok);
        double x[NF];
        gr_vcf_sample_dosages(r, 0, x);
        /* a record whose FILTER is not PASS is left out, as any other */
        if (where == 1)
            cr_assert(isnan(x[0]), "FILTER F1: %g", x[0]);
        else
            cr_assert_float_eq(x[0], 1.0, 1e-9, "where %d: %g", where, x[0]);
        gr_vcf_result_free(r);
        free(ok);
    }
    static const char *const named[] = { "the INFO key 'K256'", "the FILTER 'F256'",
                                         "the FORMAT key 'Q256'" };
    double t[2];
    for (int where = 0; where < 3; where++) {
        for (int big = 0; big < 2; big++) {
            size_t n = big ? 120000 : 40000;
            char *text = undeclared_vcf(n, n, where);
            t[big] = INFINITY;
            for (int run = 0; run < GR_TIMING_RUNS; run++) {
                double t0 = cpu_seconds();
                expect_error(text, "declare them in the header", NULL);
                t[big] = fmin(t[big], cpu_seconds() - t0);
            }
            expect_error(text, named[where], NULL);
            free(text);
        }
        /* 3x the names, linear time */
        cr_assert(grows_linearly(t[0], t[1]), "40k names %.3f s, 120k %.3f s", t[0], t[1]);
    }
}

/* A header of n names made of "Aa" and "BB" pairs, which all share one X31
 * hash, as sample names (kind 0), contig IDs (1) or INFO IDs (2); or, with
 * ordinary set, names s0, s1, ... Returns new text. */
static char *colliding_vcf(size_t n, int kind, int ordinary)
{
    kstring_t k = { 0, 0, NULL }, samples = { 0, 0, NULL };
    int bits = 1;
    while (((size_t)1 << bits) < n)
        bits++;
    kputs("##fileformat=VCFv4.2\n##contig=<ID=1>\n"
          "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n",
          &k);
    for (size_t i = 0; i < n; i++) {
        char name[80] = "c";
        for (int b = 0; b < bits; b++)
            strcat(name, i >> b & 1 ? "BB" : "Aa");
        if (ordinary)
            snprintf(name, sizeof name, "s%zu", i);
        if (kind == 0)
            ksprintf(&samples, "\t%s", name);
        else if (kind == 1)
            ksprintf(&k, "##contig=<ID=%s>\n", name);
        else
            ksprintf(&k, "##INFO=<ID=%s,Number=1,Type=Integer,Description=\"x\">\n", name);
    }
    ksprintf(&k, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT%s\n",
             kind == 0 ? samples.s : "\tS1");
    kputs("1\t100\t.\tA\tG\t.\tPASS\t.\tGT", &k);
    for (size_t i = 0; i < (kind == 0 ? n : 1); i++)
        kputs("\t0/1", &k);
    kputc('\n', &k);
    free(samples.s);
    return k.s;
}

/* Names built to share htslib's unseeded hash made reading a header
 * quadratic: 40k sample names 5.5 s, 40k contig IDs 12.6 s, 3x the names
 * 10x the time. They are refused before htslib reads them, at a cost that
 * grows no faster than the header; ordinary names of the same number pass. */
Test(vcf, header_names_built_to_collide)
{
    static const char *const what[] = { "sample names", "contig names",
                                        "INFO, FILTER and FORMAT names" };
    gr_vcf_options o = { .max_header = (size_t)64 << 20, .max_samples = 1 };
    for (int kind = 0; kind < 3; kind++) {
        double t[2];
        for (int big = 0; big < 2; big++) {
            char *text = colliding_vcf(big ? 120000 : 40000, kind, 0);
            t[big] = INFINITY;
            for (int run = 0; run < GR_TIMING_RUNS; run++) {
                double t0 = cpu_seconds();
                expect_error(text, what[kind], &o);
                t[big] = fmin(t[big], cpu_seconds() - t0);
            }
            free(text);
        }
        cr_assert(grows_linearly(t[0], t[1]), "%s: 40k %.3f s, 120k %.3f s", what[kind], t[0],
                  t[1]);
        /* as many ordinary names are read (the one sample asked for) */
        char *text = colliding_vcf(40000, kind, 1);
        char path[512];
        snprintf(path, sizeof path, "%s/ordinary.vcf", dir);
        FILE *f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        free(text);
        const char *one[] = { kind == 0 ? "s7" : "S1" };
        gr_vcf_options pick = { .max_header = (size_t)64 << 20, .samples = one, .n_samples = 1 };
        gr_vcf_result *r = read_file("ordinary.vcf", &pick);
        cr_assert_eq(r->n_samples, 1);
        gr_vcf_result_free(r);
    }
}

/* The matching policy, each rule against its peer's: an A/T SNV, a
 * multi-allelic record, a chrX variant, an unmatched one and a missing
 * call, read for two models at once (a panel) under pgsc, plink2 and
 * trained; and the same genotypes as JSON score the same. */
static const char policy_score[] = "#genome_build=GRCh38\n"
                                   "chr_name\tchr_position\teffect_allele\tother_allele\t"
                                   "effect_weight\tallelefrequency_effect\n"
                                   "1\t100\tG\tA\t1\t0.5\n"       /* plain: matched */
                                   "1\t200\tT\tA\t10\t0.5\n"      /* A/T: ambiguous */
                                   "1\t300\tC\tA\t100\t0.5\n"     /* in a G,C record */
                                   "X\t400\tT\tC\t1000\t0.5\n"    /* chrX, haploid */
                                   "1\t500\tT\tC\t10000\t0.5\n"   /* no record */
                                   "1\t600\tT\tC\t100000\t0.5\n"; /* missing call */
static const char policy_vcf[] = "##fileformat=VCFv4.2\n##contig=<ID=1>\n##contig=<ID=X>\n"
                                 "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
                                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
                                 "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\n"
                                 "1\t200\t.\tA\tT\t.\t.\t.\tGT\t1/1\t0/1\n"
                                 "1\t300\t.\tA\tG,C\t.\t.\t.\tGT\t0/2\t2/2\n"
                                 "X\t400\t.\tC\tT\t.\t.\t.\tGT\t1\t0/1\n"
                                 "1\t600\t.\tC\tT\t.\t.\t.\tGT\t./.\t1/1\n";

/* A bundle of policy_score (PGS, min_coverage 0) with policy_vcf beside it
 * as p.vcf; returns its directory (temp_bundle_free). */
static char *policy_bundle(void)
{
    return temp_bundle("manifest.json",
                       "{\"name\":\"p\",\"version\":\"1\",\"task\":\"regression\",\"format\":"
                       "\"pgs-catalog\",\"artifact\":\"s.txt\",\"genome_build\":\"GRCh38\","
                       "\"min_coverage\":0}",
                       "s.txt", policy_score, "p.vcf", policy_vcf, NULL);
}

Test(vcf, matching_policy_rules_and_their_peers)
{
    char *b = policy_bundle();
    gr_model *pm = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(b, &pm, &err), GR_OK, "%s", err.text);
    cr_assert_eq(gr_model_get_info(pm)->policy.name, GR_POLICY_PGSC, "a PGS defaults to pgsc");
    gr_policy pol[3] = { gr_policy_named(GR_POLICY_PGSC), gr_policy_named(GR_POLICY_PLINK2),
                         gr_policy_named(GR_POLICY_TRAINED) };
    gr_vcf_model ms[3] = { { pm, &pol[0] }, { pm, &pol[1] }, { pm, &pol[2] } };
    char path[600];
    snprintf(path, sizeof path, "%s/p.vcf", b);
    gr_vcf_options o = { 0 };
    gr_vcf_result *r = NULL;
    cr_assert_eq(gr_vcf_read_models(ms, 3, path, -1, &o, &r, &err), GR_OK, "%s", err.text);
    cr_assert_eq(r->n_models, 3);
    static const gr_var_status want[3][6] = {
        { GR_VAR_MATCHED, GR_VAR_AMBIGUOUS, GR_VAR_MULTIALLELIC, GR_VAR_CHRX_SKIPPED,
          GR_VAR_NO_RECORD, GR_VAR_MATCHED },
        { GR_VAR_MATCHED, GR_VAR_MATCHED, GR_VAR_MATCHED, GR_VAR_MATCHED, GR_VAR_NO_RECORD,
          GR_VAR_MATCHED },
        { GR_VAR_MATCHED, GR_VAR_MATCHED, GR_VAR_MATCHED, GR_VAR_MATCHED, GR_VAR_NO_RECORD,
          GR_VAR_MATCHED },
    };
    for (size_t k = 0; k < 3; k++)
        for (size_t j = 0; j < 6; j++)
            cr_assert_eq(r->status[r->model_first[k] + j], want[k][j], "policy %zu variant %zu: %s",
                         k, j, gr_var_status_name((gr_var_status)r->status[r->model_first[k] + j]));
    /* one record, one number, whichever model uses it */
    cr_assert_eq(r->record[r->model_first[1]], r->record[r->model_first[2]]);
    /* S1's scores: pgsc 1 (1:100 only; the missing call at 600 takes the
     * cohort mean of S2 alone, 2 -> 200000); plink2 adds the A/T (2 x 10),
     * 1:300 (1 x 100), X haploid doubled (2000); 1:500 is left out under
     * both; trained imputes 1:500 (no sample has it: the model's mean,
     * 1 x 10000) with the manifest's impute, cohort, a PGS's default */
    static const double s1[3] = { 1 + 200000, 1 + 20 + 100 + 2000 + 200000,
                                  1 + 20 + 100 + 2000 + 10000 + 200000 };
    for (size_t k = 0; k < 3; k++) {
        gr_api_job job;
        gr_api_settings given = gr_api_settings_unset();
        given.policy = (int)pol[k].name;
        gr_api_job_init(&job, pm, NULL, r, &given);
        gr_api_job_set_vcf_model(&job, k);
        gr_api_scorer *sc = gr_api_scorer_new(&job, NULL);
        gr_prediction p;
        const double *x, *used;
        int scored;
        cr_assert_eq(gr_api_scorer_run(sc, 0, &p, &x, &used, &scored, &err), GR_OK);
        cr_assert_float_eq(p.margin, s1[k], 1e-9, "policy %zu: %.17g", k, p.margin);
        gr_api_scorer_free(sc);
    }
    gr_vcf_result_free(r);
    gr_model_free(pm);
    temp_bundle_free(b);
}

/* One rule, one place: the same genotypes as JSON (chrom:pos:ref:alt keys,
 * GT strings, a null call, no key for the multi-allelic site) score as the
 * VCF does under every policy, and the coverage counts agree. */
Test(vcf, matching_policy_json_scores_as_the_vcf)
{
    char *b = policy_bundle();
    static const char body[] =
        "{\"samples\":[{\"id\":\"S1\",\"genotypes\":{\"1:100:A:G\":\"0/1\",\"1:200:A:T\":\"1/1\","
        "\"X:400:C:T\":\"T\",\"1:600:C:T\":\"./.\"}},"
        "{\"id\":\"S2\",\"genotypes\":{\"1:100:A:G\":\"1/1\",\"1:200:A:T\":\"0/1\","
        "\"X:400:C:T\":\"0/1\",\"1:600:C:T\":\"1/1\"}}]}";
    gr_model *pm = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(b, &pm, &err), GR_OK, "%s", err.text);
    char path[600];
    snprintf(path, sizeof path, "%s/p.vcf", b);
    gr_api_request req;
    cr_assert_eq(gr_api_request_read(pm, body, strlen(body), NULL, &req, &err), GR_OK, "%s",
                 err.text);
    for (int pol = GR_POLICY_PGSC; pol <= GR_POLICY_PLINK2; pol++) {
        gr_api_settings given = gr_api_settings_unset();
        given.policy = pol;
        gr_policy p;
        gr_impute imp;
        gr_api_resolve_policy(pm, &given, &p, &imp);
        gr_vcf_model one = { pm, &p };
        gr_vcf_options o = { 0 };
        gr_vcf_result *r = NULL;
        cr_assert_eq(gr_vcf_read_models(&one, 1, path, -1, &o, &r, &err), GR_OK, "%s", err.text);
        gr_api_job jv, jj;
        gr_api_job_init(&jv, pm, NULL, r, &given);
        gr_api_job_init(&jj, pm, &req, NULL, &given);
        gr_api_scorer *sv = gr_api_scorer_new(&jv, NULL), *sj = gr_api_scorer_new(&jj, NULL);
        for (size_t s = 0; s < 2; s++) {
            gr_prediction a, c;
            const double *x, *used;
            int scored;
            cr_assert_eq(gr_api_scorer_run(sv, s, &a, &x, &used, &scored, &err), GR_OK);
            cr_assert_eq(gr_api_scorer_run(sj, s, &c, &x, &used, &scored, &err), GR_OK);
            /* plink2 keeps the multi-allelic record the JSON cannot spell */
            double extra = pol == GR_POLICY_PLINK2 ? (s == 0 ? 100 : 200) : 0;
            cr_assert_float_eq(a.margin, c.margin + extra, 1e-9,
                               "policy %d sample %zu: %.17g %.17g", pol, s, a.margin, c.margin);
            cr_assert_eq(a.n_imputed, c.n_imputed, "policy %d sample %zu", pol, s);
        }
        gr_api_scorer_free(sv);
        gr_api_scorer_free(sj);
        gr_vcf_result_free(r);
    }
    gr_api_request_clear(&req);
    gr_model_free(pm);
    temp_bundle_free(b);
}

/* An input read from a descriptor (an upload, standard input) has no index
 * beside it: htslib must not look for one under its label in the working
 * directory (it once opened upload.csi there; a FIFO of that name hung the
 * read). */
Test(vcf, a_descriptor_input_never_loads_an_index_from_the_working_directory)
{
    char tmpl[] = "/tmp/genorisk-cwd-XXXXXX", old[4096];
    cr_assert(mkdtemp(tmpl) && getcwd(old, sizeof old));
    char path[600], fifo[600];
    snprintf(path, sizeof path, "%s/upload.vcf", tmpl);
    FILE *f = fopen(path, "w");
    fputs(policy_vcf, f);
    fclose(f);
    static const char *const names[] = { "upload.csi", "upload.tbi" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(fifo, sizeof fifo, "%s/%s", tmpl, names[i]);
        cr_assert_eq(mkfifo(fifo, 0600), 0);
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(tmpl))
            _exit(3);
        gr_vcf_options o = { 0 };
        gr_vcf_result *r = NULL;
        gr_error e;
        int fd = open("upload.vcf", O_RDONLY);
        _exit(gr_vcf_read(m, "upload", fd, &o, &r, &e) == GR_OK ? 0 : 2);
    }
    int status = -1, waited = 0;
    for (int t = 0; t < 100 && !(waited = waitpid(pid, &status, WNOHANG)); t++)
        usleep(50000);
    if (!waited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    for (size_t i = 0; i < 2; i++) {
        snprintf(fifo, sizeof fifo, "%s/%s", tmpl, names[i]);
        unlink(fifo);
    }
    unlink(path);
    rmdir(tmpl);
    cr_assert(waited, "the read hung on a FIFO named like an index in the working directory");
    cr_assert(WIFEXITED(status), "status %d", status);
}

/* Review fixes: a variant the VCF leaves out as multi-allelic is never
 * imputed (under trained, which imputes the unmatched); variants one gVCF
 * block covers each count in ALLELE_CT and DENOM; a recessive term
 * imputed at mean 0.5 adds its Hardy-Weinberg expectation, 0.0625 w. */
Test(vcf, left_out_blocks_and_recessive_terms_count_right)
{
    static const char score[] = "#genome_build=GRCh38\n"
                                "chr_name\tchr_position\teffect_allele\tother_allele\t"
                                "effect_weight\tis_recessive\tallelefrequency_effect\n"
                                "1\t100\tG\tA\t1\tFalse\t0.5\n"
                                "1\t300\tC\tA\t100\tFalse\t0.5\n"
                                "1\t700\tT\tC\t1000\tFalse\t0.5\n"
                                "1\t750\tT\tC\t10000\tFalse\t0.5\n"
                                "1\t900\tT\tC\t100000\tTrue\t0.25\n";
    static const char gvcf[] = "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
                               "##INFO=<ID=END,Number=1,Type=Integer,Description=\"end\">\n"
                               "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
                               "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
                               "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\n"
                               "1\t300\t.\tA\tG,C\t.\t.\t.\tGT\t0/2\n"
                               "1\t650\t.\tC\t<NON_REF>\t.\t.\tEND=800\tGT\t0/0\n"
                               "1\t900\t.\tC\tT\t.\t.\t.\tGT\t./.\n";
    char *b = temp_bundle("manifest.json",
                          "{\"name\":\"r\",\"version\":\"1\",\"task\":\"regression\",\"format\":"
                          "\"pgs-catalog\",\"artifact\":\"s.txt\",\"genome_build\":\"GRCh38\","
                          "\"min_coverage\":0,\"policy\":\"trained\",\"multiallelic\":\"drop\","
                          "\"impute\":\"mean\"}",
                          "s.txt", score, "g.vcf", gvcf, NULL);
    gr_model *pm = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(b, &pm, &err), GR_OK, "%s", err.text);
    char path[600];
    snprintf(path, sizeof path, "%s/g.vcf", b);
    gr_vcf_options o = { 0 };
    gr_vcf_result *r = NULL;
    cr_assert_eq(gr_vcf_read(pm, path, -1, &o, &r, &err), GR_OK, "%s", err.text);
    cr_assert_eq(r->status[1], GR_VAR_MULTIALLELIC);
    gr_api_job job;
    gr_api_job_init(&job, pm, NULL, r, NULL);
    gr_api_scorer *sc = gr_api_scorer_new(&job, NULL);
    gr_prediction p;
    const double *x, *used;
    int scored;
    cr_assert_eq(gr_api_scorer_run(sc, 0, &p, &x, &used, &scored, &err), GR_OK);
    /* 1 (G) + 0 (1:300 left out) + 0 + 0 (the block's hom-ref calls) +
     * 100000 x 0.0625 (recessive, missing, imputed at frequency 0.25) */
    cr_assert_float_eq(p.margin, 1 + 100000 * 0.0625, 1e-9, "%.17g", p.margin);
    gr_api_pgs g;
    gr_api_scorer_pgs(sc, &p, x, &g);
    cr_assert_eq(g.allele_ct, 6, "1:100 and the block's two variants: %zu", g.allele_ct);
    cr_assert_eq(g.denom, 8, "and 1:900 imputed: %zu", g.denom);
    gr_api_scorer_free(sc);
    gr_vcf_result_free(r);
    gr_model_free(pm);
    temp_bundle_free(b);
}

/* The reader walks the model's sorted positions along a sorted file; a file
 * in another order (back to an earlier position, a jump past many of the
 * model's positions) must find the same records: vcf's lines reordered,
 * the two 2:2000 records kept in their order (the first wins). */
Test(vcf, records_in_any_order_find_the_same_variants)
{
    const double s1[NF] = { 1, 2, 2, 1, 2, 1, 1, 2, M, 0, M, 2, 0.25 };
    const double s2[NF] = { 2, 1, 0, 0, M, 2, 0, 1, M, M, M, 1, 1.9 };
    static const int order[] = { 0, 12, 1, 2, 5, 3, 4, 7, 6, 8, 9, 11, 10 };
    const char *body = strstr(vcf, "#CHROM");
    const char *lines[13];
    const char *at = strchr(body, '\n') + 1;
    for (int i = 0; i < 13; i++, at = strchr(at, '\n') + 1)
        lines[i] = at;
    char text[4096];
    size_t n = (size_t)(lines[0] - vcf);
    memcpy(text, vcf, n);
    for (int i = 0; i < 13; i++) {
        size_t len = (size_t)(strchr(lines[order[i]], '\n') + 1 - lines[order[i]]);
        memcpy(text + n, lines[order[i]], len);
        n += len;
    }
    text[n] = '\0';
    cr_assert_eq(n, strlen(vcf));
    gr_vcf_result *r = read_vcf_text("shuffled.vcf", text);
    gr_vcf_result_free(r);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bcftools view -Ob -o %s/shuffled.bcf %s/shuffled.vcf 2>/dev/null",
             dir, dir);
    cr_assert_eq(system(cmd), 0);
    const char *files[] = { "shuffled.vcf", "shuffled.bcf" };
    for (int i = 0; i < 2; i++) {
        gr_vcf_options o = { 0 };
        r = read_file(files[i], &o);
        expect(r, 0, s1, files[i]);
        expect(r, 1, s2, files[i]);
        cr_assert_eq(r->match.matched, 11, "%s matched %zu", files[i], r->match.matched);
        gr_vcf_result_free(r);
    }
}

/* One rsID on two variants that are not neighbours in the score (a
 * multi-allelic site listed apart): each record found by that rsID is
 * matched against the whole group, wherever its rows are. */
Test(vcf, an_rsid_group_split_in_the_score_is_found_whole)
{
    char *b =
        temp_bundle("manifest.json",
                    "{\"name\":\"g\",\"version\":\"1\",\"task\":\"regression\",\"format\":"
                    "\"pgs-catalog\",\"artifact\":\"s.txt\",\"genome_build\":\"GRCh38\","
                    "\"min_coverage\":0}",
                    "s.txt",
                    "#genome_build=GRCh38\n"
                    "rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
                    "rs1\t1\t100\tG\tA\t1\n"
                    "rs2\t1\t200\tT\tC\t10\n"
                    "rs1\t1\t300\tT\tG\t100\n",
                    "g.vcf",
                    "##fileformat=VCFv4.2\n##contig=<ID=1>\n##contig=<ID=2>\n"
                    "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
                    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
                    "2\t50\trs1\tA\tG\t.\t.\t.\tGT\t0/1\n"
                    "2\t60\trs1\tG\tT\t.\t.\t.\tGT\t1/1\n"
                    "2\t70\trs2\tC\tT\t.\t.\t.\tGT\t0/0\n",
                    NULL);
    gr_model *gm = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(b, &gm, &err), GR_OK, "%s", err.text);
    char path[600];
    snprintf(path, sizeof path, "%s/g.vcf", b);
    gr_vcf_options o = { 0 };
    gr_vcf_result *r = NULL;
    cr_assert_eq(gr_vcf_read(gm, path, -1, &o, &r, &err), GR_OK, "%s", err.text);
    cr_assert_eq(r->match.matched, 3, "matched %zu", r->match.matched);
    double x[3];
    gr_vcf_sample_dosages(r, 0, x);
    cr_assert(x[0] == 1 && x[1] == 0 && x[2] == 2, "dosages %g %g %g", x[0], x[1], x[2]);
    gr_vcf_result_free(r);
    gr_model_free(gm);
    temp_bundle_free(b);
}
