/* test_predict_json.c - the predict request/response JSON (api/): genotype
 * keys and values, dense dosages, warnings, limits, top_k, explain and
 * group_by. */
#include <criterion/criterion.h>
#include <htslib/kstring.h>
#include <sys/resource.h>
#include <time.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/predict_json.h"
#include "api/predict_run.h"
#include "helpers.h"

/* margin = 0.5 + 1*a + 2*b + 3*c; mean(a) = 1, so a missing a is imputed. */
static gr_model *m;
static char *dir;

static void setup(void)
{
    dir = temp_bundle(
        "manifest.json",
        "{\"name\":\"lin3\",\"version\":\"2.0\",\"task\":\"regression\",\"format\":\"genorisk-"
        "linear\","
        "\"artifact\":\"model.json\",\"features\":\"features.tsv\",\"genome_build\":\"GRCh38\"}",
        "features.tsv",
        "feature_id\tchrom\tpos\tref\talt\tmean\trsid\n"
        "a\t1\t100\tA\tG\t1\trs1\n"
        "b\t1\t200\tC\tT\t\trs2\n"
        "c\t2\t300\tG\tA\t\trs3\n",
        "model.json",
        "{\"format\":\"genorisk-linear\",\"intercept\":0.5,\"weights\":[1,2,3],\"link\":"
        "\"identity\"}",
        NULL);
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
}

static void teardown(void)
{
    gr_model_free(m);
    temp_bundle_free(dir);
}

TestSuite(predict_json, .init = setup, .fini = teardown);

/* The settings run() predicts with, as query parameters would give them:
 * the suite's tests of keys, values and encoding score whatever the
 * coverage; the coverage tests reset this. */
static gr_api_settings given = { -1, -1, -1, 1, -1, -1, -1, -1, NAN, -1 };

/* Parses and predicts body for model mm through the pipeline; returns the
 * response (new) or NULL with *st set. */
static json_t *run_model(const gr_model *mm, const char *body, gr_status *st, gr_error *err)
{
    gr_api_request req;
    gr_api_limits lim = { .max_samples = 3 };
    json_t *resp = NULL;
    *st = gr_api_request_read(mm, body, strlen(body), &lim, &req, err);
    if (*st == GR_OK) {
        gr_api_job job;
        gr_api_job_init(&job, mm, &req, NULL, &given);
        *st = gr_api_predict_all(&job, &resp, err);
        cr_assert(!*st == !!resp, "a response exactly when the status is GR_OK");
    }
    gr_api_request_clear(&req);
    return resp;
}

static json_t *run(const char *body, gr_status *st, gr_error *err)
{
    return run_model(m, body, st, err);
}

static json_t *ok(const char *body)
{
    gr_status st;
    gr_error err;
    json_t *r = run(body, &st, &err);
    cr_assert_eq(st, GR_OK, "%s: %s", err.field, err.text);
    return r;
}

static void fails(const char *body, gr_status want, const char *field, const char *needle)
{
    gr_status st;
    gr_error err;
    json_t *r = run(body, &st, &err);
    cr_assert_null(r);
    cr_assert_eq(st, want, "body %s: got %s (%s)", body, gr_strerror(st), err.text);
    cr_assert_str_eq(err.field, field, "body %s", body);
    cr_assert(strstr(err.text, needle), "'%s' lacks '%s'", err.text, needle);
}

/* Follows a dotted path ("results.0.margin"); array steps are numbers. */
static json_t *at(json_t *o, const char *path)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
        o = json_is_array(o) ? json_array_get(o, strtoul(t, NULL, 10)) : json_object_get(o, t);
    cr_assert(o, "no %s", path);
    return o;
}
static double num(json_t *o, const char *path)
{
    return json_number_value(at(o, path));
}
static const char *str(json_t *o, const char *path)
{
    return json_string_value(at(o, path));
}

Test(predict_json, keys_values_and_response_shape)
{
    json_t *r = ok("{\"samples\":[{\"id\":\"P1\",\"genotypes\":{\"rs1\":2,\"1:200:C:T\":\"0/1\","
                   "\"chr2:300:g:a\":\"1|1\"}}],\"explain\":true,\"top_k\":2}");
    cr_assert_str_eq(str(r, "model.name"), "lin3");
    cr_assert_str_eq(str(r, "model.version"), "2.0");
    cr_assert_str_eq(str(r, "results.0.sample"), "P1");
    cr_assert_float_eq(num(r, "results.0.margin"), 0.5 + 2 + 2 + 6, 1e-12);
    cr_assert_float_eq(num(r, "results.0.score"), 10.5, 1e-12);
    cr_assert_eq(json_integer_value(at(r, "results.0.coverage.expected")), 3);
    cr_assert_eq(json_integer_value(at(r, "results.0.coverage.observed")), 3);
    cr_assert_eq(json_integer_value(at(r, "results.0.coverage.imputed")), 0);
    cr_assert_str_eq(str(r, "results.0.explanation.space"), "identity");
    cr_assert_str_eq(str(r, "results.0.explanation.method"), "linear_exact");
    cr_assert_float_eq(num(r, "results.0.explanation.base_value"), 0.5 + 1, 1e-12);
    cr_assert_eq(json_array_size(at(r, "results.0.explanation.attributions")), 2);
    /* c adds 6, b 2, a 1 (2 - mean 1): largest magnitude first */
    cr_assert_str_eq(str(r, "results.0.explanation.attributions.0.feature"), "c");
    cr_assert_float_eq(num(r, "results.0.explanation.attributions.0.value"), 6, 1e-12);
    cr_assert_float_eq(num(r, "results.0.explanation.attributions.0.dosage"), 2, 0);
    cr_assert_str_eq(str(r, "results.0.explanation.attributions.1.feature"), "b");
    cr_assert_eq(json_array_size(at(r, "warnings")), 0);
    json_decref(r);
}

Test(predict_json, defaults_top_k_zero_and_imputation)
{
    json_t *r = ok("{\"samples\":[{\"genotypes\":{\"rs2\":1,\"rs1\":null}}],\"top_k\":0}");
    cr_assert(json_is_null(at(r, "results.0.sample")));
    cr_assert_eq(json_integer_value(at(r, "results.0.index")), 0);
    /* a imputed at its mean 1, b = 1, c missing without a mean adds nothing */
    cr_assert_float_eq(num(r, "results.0.margin"), 0.5 + 1 + 2, 1e-12);
    cr_assert_eq(json_integer_value(at(r, "results.0.coverage.imputed")), 1);
    cr_assert_eq(json_integer_value(at(r, "results.0.coverage.missing")), 1);
    cr_assert_eq(json_integer_value(at(r, "results.0.coverage.observed")), 1);
    /* top_k 0: every feature, model order */
    cr_assert_str_eq(str(r, "results.0.explanation.attributions.0.feature"), "a");
    cr_assert(json_is_true(at(r, "results.0.explanation.attributions.0.imputed")));
    cr_assert_float_eq(num(r, "results.0.explanation.attributions.0.dosage"), 1, 0);
    cr_assert(json_is_null(at(r, "results.0.explanation.attributions.2.dosage")));
    cr_assert_str_eq(str(r, "results.0.explanation.attributions.2.feature"), "c");
    json_decref(r);
}

Test(predict_json, explain_false_and_dense_dosages)
{
    json_t *r = ok("{\"samples\":[{\"id\":\"x\",\"dosages\":[0,0.5,null]}],\"explain\":false}");
    cr_assert_null(json_object_get(json_array_get(at(r, "results"), 0), "explanation"));
    cr_assert_float_eq(num(r, "results.0.margin"), 0.5 + 0 + 1, 1e-12);
    json_decref(r);
}

Test(predict_json, default_top_k_is_ten_capped_at_feature_count)
{
    json_t *r = ok("{\"samples\":[{\"genotypes\":{\"a\":0}}]}");
    cr_assert_eq(json_array_size(at(r, "results.0.explanation.attributions")), 3);
    json_decref(r);
}

Test(predict_json, haploid_and_missing_gt_strings)
{
    json_t *r = ok("{\"samples\":[{\"genotypes\":{\"a\":\"G\",\"b\":\"./1\",\"c\":\".\"}}]}");
    cr_assert_float_eq(num(r, "results.0.margin"), 0.5 + 1, 1e-12);
    cr_assert_eq(json_integer_value(at(r, "results.0.coverage.missing")), 2);
    json_decref(r);
}

/* Haploid calls count as a VCF record's do (docs/vcf-matching.md, rule 6):
 * double on chrX, once elsewhere; a VCF of the same calls scores the same. */
Test(predict_json, haploid_chrx_counts_as_in_a_vcf)
{
    char *xdir = temp_bundle(
        "manifest.json",
        "{\"name\":\"linx\",\"version\":\"1\",\"task\":\"regression\",\"format\":\"genorisk-"
        "linear\","
        "\"artifact\":\"model.json\",\"features\":\"features.tsv\",\"genome_build\":\"GRCh38\"}",
        "features.tsv",
        "feature_id\tchrom\tpos\tref\talt\n"
        "x1\tX\t1000\tA\tG\n"
        "a1\t7\t2000\tC\tT\n",
        "model.json",
        "{\"format\":\"genorisk-linear\",\"intercept\":0,\"weights\":[1,10],\"link\":\"identity\"}",
        "in.vcf",
        "##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tM\n"
        "X\t1000\t.\tA\tG\t.\tPASS\t.\tGT\t1\n"
        "7\t2000\t.\tC\tT\t.\tPASS\t.\tGT\t1\n",
        NULL);
    gr_model *xm;
    gr_error err;
    cr_assert_eq(gr_model_load(xdir, &xm, &err), GR_OK, "%s", err.text);
    gr_status st;
    json_t *r =
        run_model(xm, "{\"samples\":[{\"genotypes\":{\"x1\":\"G\",\"a1\":\"T\"}}]}", &st, &err);
    cr_assert_eq(st, GR_OK, "%s", err.text);
    cr_assert_float_eq(num(r, "results.0.margin"), 2 * 1 + 1 * 10, 1e-12);
    json_decref(r);
    char path[512];
    snprintf(path, sizeof path, "%s/in.vcf", xdir);
    gr_vcf_options o = { 0 };
    gr_vcf_result *v = NULL;
    cr_assert_eq(gr_vcf_read(xm, path, -1, &o, &v, &err), GR_OK, "%s", err.text);
    double x[2];
    gr_vcf_sample_dosages(v, 0, x);
    cr_assert_float_eq(x[0], 2, 1e-12);
    cr_assert_float_eq(x[1], 1, 1e-12);
    gr_vcf_result_free(v);
    gr_model_free(xm);
    temp_bundle_free(xdir);
}

/* impute=none: a missing linear term adds nothing (its attribution is then
 * minus its expectation); impute=mean adds the mean's term (attribution 0). */
Test(predict_json, impute_none_adds_nothing_for_a_missing_term)
{
    given.impute = GR_IMPUTE_NONE;
    json_t *r = ok("{\"samples\":[{\"genotypes\":{\"b\":1,\"c\":1}}],\"top_k\":0}");
    cr_assert_float_eq(num(r, "results.0.margin"), 0.5 + 2 + 3, 1e-12);
    cr_assert_eq(json_integer_value(at(r, "results.0.coverage.missing")), 1);
    cr_assert_eq(json_integer_value(at(r, "results.0.coverage.imputed")), 0);
    cr_assert_float_eq(num(r, "results.0.explanation.attributions.0.value"), -1, 1e-12);
    cr_assert(json_is_null(at(r, "results.0.explanation.attributions.0.dosage")));
    json_decref(r);
    given.impute = GR_IMPUTE_MEAN;
    r = ok("{\"samples\":[{\"genotypes\":{\"b\":1,\"c\":1}}],\"top_k\":0}");
    cr_assert_float_eq(num(r, "results.0.margin"), 0.5 + 1 + 2 + 3, 1e-12);
    cr_assert_eq(json_integer_value(at(r, "results.0.coverage.imputed")), 1);
    cr_assert_float_eq(num(r, "results.0.explanation.attributions.0.value"), 0, 1e-12);
    json_decref(r);
    given.impute = -1;
}

/* min_coverage 0.75 over 3 features: 2 observed is under it. */
Test(predict_json, coverage_gate_as_for_vcf)
{
    given.allow_low_coverage = -1;
    fails("{\"samples\":[{\"genotypes\":{\"a\":1,\"b\":1}}]}", GR_ECOVERAGE, "coverage",
          "sample #1: 2 of 3 model variants observed (66.7%), below the model's min_coverage "
          "of 75%");
    json_t *r = ok("{\"samples\":[{\"id\":\"full\",\"genotypes\":{\"a\":1,\"b\":1,\"c\":0}},"
                   "{\"id\":\"thin\",\"genotypes\":{\"a\":1}}]}");
    cr_assert(json_is_number(at(r, "results.0.score")));
    cr_assert_null(json_object_get(at(r, "results.1"), "score"));
    cr_assert_str_eq(str(r, "results.1.sample"), "thin");
    cr_assert_str_eq(str(r, "results.1.error.type"), "urn:genorisk:problem:low-coverage");
    cr_assert_str_eq(str(r, "results.1.error.field"), "coverage");
    cr_assert_null(json_object_get(at(r, "results.1.error"), "request_id"));
    cr_assert(strstr(str(r, "results.1.error.detail"), "sample #2: 1 of 3"));
    cr_assert_eq(json_integer_value(at(r, "results.1.coverage.observed")), 1);
    cr_assert(strstr(str(r, "warnings.0"), "1 of 2 samples are below"));
    json_decref(r);
    fails("{\"samples\":[{\"genotypes\":{}},{\"genotypes\":{\"a\":1}}]}", GR_ECOVERAGE, "coverage",
          "none of the 2 samples has enough");
    given.allow_low_coverage = 1;
    r = ok("{\"samples\":[{\"genotypes\":{\"a\":1}}]}");
    cr_assert(json_is_true(at(r, "results.0.low_coverage")));
    json_decref(r);
    r = ok("{\"samples\":[{\"genotypes\":{\"a\":1,\"b\":0,\"c\":0}}]}");
    cr_assert_null(json_object_get(at(r, "results.0"), "low_coverage"));
    json_decref(r);
}

/* Allele letters are matched to the model's alleles by the VCF rules:
 * a is A>G (counted G), b C>T, c G>A. */
Test(predict_json, allele_letters_match_as_in_a_vcf)
{
    static const struct {
        const char *value;
        double dosage;
    } cases[] = {
        { "A/G", 1 },   { "G|G", 2 }, { "AG", 1 },
        { "ga", 1 },    { "A/A", 0 }, { "T/C", 1 }, /* the other strand */
        { "C/C", 2 },                               /* the other strand: C pairs with G */
        { "--", NAN },                              /* a no-call, as genotyping arrays write it */
        { "./.", NAN }, { "0/1", 1 }, { "1|1", 2 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char body[200];
        snprintf(body, sizeof body,
                 "{\"samples\":[{\"genotypes\":{\"a\":\"%s\",\"b\":0,\"c\":0}}],\"top_k\":0}",
                 cases[i].value);
        json_t *r = ok(body);
        double want = 0.5 + (isnan(cases[i].dosage) ? 1 : cases[i].dosage); /* mean 1 */
        cr_assert_float_eq(num(r, "results.0.margin"), want, 1e-12, "%s", cases[i].value);
        json_decref(r);
    }
    fails("{\"samples\":[{\"genotypes\":{\"a\":\"A/C\"}}]}", GR_EINPUT, "samples[0].genotypes.a",
          "not this variant's (A/G, on either strand)");
    fails("{\"samples\":[{\"genotypes\":{\"a\":\"AGT\"}}]}", GR_EINPUT, "samples[0].genotypes.a",
          "not this variant's");
}

/* Numbers in strings are refused whatever the number: "1" would be a
 * haploid call to a VCF reader and a dosage to a person. */
Test(predict_json, numeric_strings_are_all_refused)
{
    const char *values[] = { "0", "1", "2", "0.5", "1.0" };
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        char body[120];
        snprintf(body, sizeof body, "{\"samples\":[{\"genotypes\":{\"a\":\"%s\"}}]}", values[i]);
        fails(body, GR_EINPUT, "samples[0].genotypes.a",
              i < 3 ? "a number in a string is ambiguous" : "a call such as");
    }
}

/* A chrom:pos:ref:alt key is matched like a VCF record and orients
 * numbers and "0/1" by its own REF and ALT. */
Test(predict_json, locus_keys_orient_numbers_and_calls)
{
    static const struct {
        const char *key, *value;
        double dosage; /* of a's counted allele G */
    } cases[] = {
        { "1:100:A:G", "1", 1 },       { "1:100:A:G", "\"0/0\"", 0 },
        { "1:100:G:A", "2", 0 }, /* swapped: 2 copies of A */
        { "1:100:G:A", "0.5", 1.5 },   { "1:100:G:A", "\"0/0\"", 2 },
        { "1:100:G:A", "\"0|1\"", 1 }, { "chr1:100:t:c", "\"1/1\"", 2 }, /* flipped */
        { "1:100:C:T", "\"1/1\"", 0 },                                   /* flipped and swapped */
        { "1:100:G:A", "\"G/G\"", 2 }, /* letters follow the model's alleles */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char body[200];
        snprintf(body, sizeof body,
                 "{\"samples\":[{\"genotypes\":{\"%s\":%s,\"b\":0,\"c\":0}}],\"top_k\":0}",
                 cases[i].key, cases[i].value);
        json_t *r = ok(body);
        cr_assert_float_eq(num(r, "results.0.margin"), 0.5 + cases[i].dosage, 1e-12, "%s: %s",
                           cases[i].key, cases[i].value);
        json_decref(r);
    }
}

/* For a PGS the effect allele may be the VCF's REF: "0/1" under an rsID or
 * the variant id cannot be read, and is refused saying what to send. */
Test(predict_json, pgs_calls_need_a_key_that_spells_ref_and_alt)
{
    gr_model *pm = fixture_model("pgs000001");
    gr_status st;
    gr_error err;
    /* rs78540526: chr11:69516650, other allele C, effect allele T */
    json_t *r =
        run_model(pm, "{\"samples\":[{\"genotypes\":{\"rs78540526\":\"0/1\"}}]}", &st, &err);
    cr_assert_null(r);
    cr_assert_eq(st, GR_EINPUT);
    cr_assert_str_eq(err.field, "samples[0].genotypes.rs78540526");
    cr_assert(strstr(err.text, "chrom:pos:REF:ALT"), "%s", err.text);
    /* the VCF's REF T (the effect allele) and ALT C: 0/0 is two effect alleles */
    const char *as_vcf =
        "{\"samples\":[{\"genotypes\":{\"11:69516650:T:C\":\"0/0\"}}],\"top_k\":0}";
    const char *as_letters = "{\"samples\":[{\"genotypes\":{\"rs78540526\":\"T/T\"}}],\"top_k\":0}";
    const char *as_number = "{\"samples\":[{\"genotypes\":{\"rs78540526\":2}}],\"top_k\":0}";
    double margin[3];
    const char *bodies[3] = { as_vcf, as_letters, as_number };
    for (int i = 0; i < 3; i++) {
        r = run_model(pm, bodies[i], &st, &err);
        cr_assert_eq(st, GR_OK, "%s", err.text);
        margin[i] = num(r, "results.0.margin");
        json_decref(r);
    }
    cr_assert_float_eq(margin[0], margin[2], 1e-12);
    cr_assert_float_eq(margin[1], margin[2], 1e-12);
    cr_assert(fabs(margin[2]) > 1e-6);
    gr_model_free(pm);
}

static char comp(char b)
{
    return b == 'A' ? 'T' : b == 'T' ? 'A' : b == 'C' ? 'G' : 'C';
}

/* The VCF text read for pm as a file (default options); returns new. */
static gr_vcf_result *read_vcf_text(const gr_model *pm, const char *vcf)
{
    gr_error err;
    char *vdir = temp_bundle("in.vcf", vcf, NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/in.vcf", vdir);
    gr_vcf_options o = { 0 };
    gr_vcf_result *vr = NULL;
    cr_assert_eq(gr_vcf_read(pm, path, -1, &o, &vr, &err), GR_OK, "%s", err.text);
    temp_bundle_free(vdir);
    return vr;
}

/* The same genotypes, spelled as a VCF spells them (REF and ALT in the
 * genome's order, which for a PGS is the effect allele as often as not, or
 * on the other strand) score the same from JSON as from the VCF. */
Test(predict_json, json_spelled_as_the_vcf_scores_as_the_vcf)
{
    gr_model *pm;
    gr_error err;
    cr_assert_eq(gr_model_load("models/cad-pgs-demo", &pm, &err), GR_OK, "%s", err.text);
    size_t nf = gr_model_get_info(pm)->n_features;
    static const char *const gt[] = { "0/0", "0/1", "1|1" };
    char *vcf = NULL, *body = NULL;
    size_t vlen = 0, blen = 0;
    FILE *v = open_memstream(&vcf, &vlen), *b = open_memstream(&body, &blen);
    fprintf(v, "##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
               "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n");
    fprintf(b, "{\"top_k\":0,\"samples\":[");
    for (int smp = 0; smp < 2; smp++) {
        fprintf(b, "%s{\"id\":\"S%d\",\"genotypes\":{", smp ? "," : "", smp + 1);
        for (size_t i = 0; i < nf; i++) {
            const gr_feature *f = gr_model_feature(pm, i);
            char ref[2] = { f->ref[0], 0 }, alt[2] = { f->alt[0], 0 };
            int swapped = i % 3 == 1, flipped = i % 3 == 2 && comp(f->ref[0]) != f->alt[0];
            if (swapped) {
                ref[0] = f->alt[0];
                alt[0] = f->ref[0];
            } else if (flipped) {
                ref[0] = comp(f->ref[0]);
                alt[0] = comp(f->alt[0]);
            }
            const char *call = gt[(i * 7 + (size_t)smp) % 3];
            if (smp == 0)
                fprintf(v, "%s\t%lld\t.\t%s\t%s\t.\tPASS\t.\tGT\t%s\t%s\n", f->chrom,
                        (long long)f->pos, ref, alt, call, gt[(i * 7 + 1) % 3]);
            fprintf(b, "%s\"chr%s:%lld:%s:%s\":\"%s\"", i ? "," : "", f->chrom, (long long)f->pos,
                    ref, alt, call);
        }
        fprintf(b, "}}");
    }
    fprintf(b, "]}");
    fclose(v);
    fclose(b);
    gr_status st;
    json_t *from_json = run_model(pm, body, &st, &err);
    cr_assert_eq(st, GR_OK, "%s: %s", err.field, err.text);
    gr_vcf_result *vr = read_vcf_text(pm, vcf);
    cr_assert_gt(vr->match.swapped, 50);
    cr_assert_gt(vr->match.flipped, 50);
    gr_api_job job;
    gr_api_job_init(&job, pm, NULL, vr, NULL);
    json_t *from_vcf = NULL;
    cr_assert_eq(gr_api_predict_all(&job, &from_vcf, &err), GR_OK, "%s", err.text);
    /* and the keys' matching is counted as the records' was */
    static const char *const counts[] = { "matched", "flipped", "swapped", "ambiguous" };
    for (size_t c = 0; c < 4; c++) {
        char jp[60], vp[60];
        snprintf(jp, sizeof jp, "results.0.coverage.%s", counts[c]);
        snprintf(vp, sizeof vp, "results.0.coverage.%s", counts[c]);
        cr_assert_eq(json_integer_value(at(from_json, jp)), json_integer_value(at(from_vcf, vp)),
                     "%s: JSON %lld, VCF %lld", counts[c],
                     (long long)json_integer_value(at(from_json, jp)),
                     (long long)json_integer_value(at(from_vcf, vp)));
    }
    for (int smp = 0; smp < 2; smp++) {
        char at_path[40];
        snprintf(at_path, sizeof at_path, "results.%d.margin", smp);
        cr_assert_float_eq(num(from_json, at_path), num(from_vcf, at_path), 1e-9,
                           "sample %d: JSON %.9g, VCF %.9g", smp, num(from_json, at_path),
                           num(from_vcf, at_path));
    }
    json_decref(from_json);
    json_decref(from_vcf);
    gr_vcf_result_free(vr);
    free(vcf);
    free(body);
    gr_model_free(pm);
}

Test(predict_json, byte_order_mark_before_a_body_is_skipped)
{
    const char body[] = "\xEF\xBB\xBF{\"samples\":[{\"dosages\":[1,1,1]}]}";
    json_error_t je;
    json_t *doc = gr_api_json_loadb(body, sizeof body - 1, 0, &je);
    cr_assert(doc, "%s", je.text);
    json_decref(doc);
    cr_assert_null(gr_api_json_loadb(body + 1, sizeof body - 2, 0, &je),
                   "a broken mark is not one");
}

Test(predict_json, unknown_keys_warn)
{
    json_t *r = ok("{\"samples\":[{\"genotypes\":{\"a\":1,\"rsX\":1,\"rsY\":2}}]}");
    cr_assert_eq(json_array_size(at(r, "warnings")), 1);
    const char *w = str(r, "warnings.0");
    cr_assert(strstr(w, "samples[0]: 2 genotype keys are not in the model, ignored: rsX, rsY"),
              "%s", w);
    json_decref(r);
}

Test(predict_json, errors_name_the_field)
{
    fails("[]", GR_EINPUT, "", "JSON object");
    fails("{\"samples\":[]}", GR_EINPUT, "samples", "empty");
    fails("{}", GR_EINPUT, "samples", "required");
    fails("{\"samples\":{}}", GR_EINPUT, "samples", "array");
    fails("{\"samples\":[{},{},{},{}]}", GR_ELIMIT, "samples", "at most 3");
    fails("{\"samples\":[{\"genotypes\":{}}],\"expain\":true}", GR_EINPUT, "expain", "unknown key");
    fails("{\"samples\":[{\"genotypes\":{}}],\"explain\":1}", GR_EINPUT, "explain",
          "true or false");
    fails("{\"samples\":[{\"genotypes\":{}}],\"top_k\":-1}", GR_EINPUT, "top_k", ">= 0");
    fails("{\"samples\":[{\"genotypes\":{}}],\"top_k\":1.5}", GR_EINPUT, "top_k", "whole number");
    fails("{\"samples\":[1]}", GR_EINPUT, "samples[0]", "object");
    fails("{\"samples\":[{\"id\":\"p\"}]}", GR_EINPUT, "samples[0]", "genotypes");
    fails("{\"samples\":[{\"genotypes\":{},\"dosages\":[]}]}", GR_EINPUT, "samples[0]", "not both");
    fails("{\"samples\":[{\"genotype\":{}}]}", GR_EINPUT, "samples[0].genotype", "unknown key");
    fails("{\"samples\":[{\"id\":5,\"genotypes\":{}}]}", GR_EINPUT, "samples[0].id", "string");
    fails("{\"samples\":[{\"genotypes\":[]}]}", GR_EINPUT, "samples[0].genotypes", "object");
    fails("{\"samples\":[{\"genotypes\":{\"a\":2.5}}]}", GR_EINPUT, "samples[0].genotypes.a",
          "0 to 2");
    fails("{\"samples\":[{\"genotypes\":{\"a\":-1}}]}", GR_EINPUT, "samples[0].genotypes.a",
          "0 to 2");
    fails("{\"samples\":[{\"genotypes\":{\"a\":\"0/2\"}}]}", GR_EINPUT, "samples[0].genotypes.a",
          "0 (REF), 1 (ALT)");
    fails("{\"samples\":[{\"genotypes\":{\"a\":\"0/1/1\"}}]}", GR_EINPUT, "samples[0].genotypes.a",
          "a call such as");
    fails("{\"samples\":[{\"genotypes\":{\"a\":\"\"}}]}", GR_EINPUT, "samples[0].genotypes.a",
          "a call such as");
    fails("{\"samples\":[{\"genotypes\":{\"a\":\" 0/1\"}}]}", GR_EINPUT, "samples[0].genotypes.a",
          "a call such as");
    fails("{\"samples\":[{\"genotypes\":{\"a\":true}}]}", GR_EINPUT, "samples[0].genotypes.a",
          "a call such as");
    fails("{\"samples\":[{\"genotypes\":{\"a\":1,\"rs1\":1}}]}", GR_EINPUT,
          "samples[0].genotypes.rs1", "already given as 'a'");
    fails("{\"samples\":[{\"dosages\":[1,2]}]}", GR_EINPUT, "samples[0].dosages", "2 values");
    fails("{\"samples\":[{\"dosages\":[1,2,\"1\"]}]}", GR_EINPUT, "samples[0].dosages[2]",
          "0 to 2");
    fails("{\"samples\":[{\"dosages\":{}}]}", GR_EINPUT, "samples[0].dosages", "array");
}

Test(predict_json, errors_never_echo_genotype_values)
{
    gr_status st;
    gr_error err;
    json_t *r =
        run("{\"samples\":[{\"id\":\"SECRET-ID\",\"genotypes\":{\"a\":1.75,\"b\":\"0/7\"}}]}", &st,
            &err);
    cr_assert_null(r);
    cr_assert_eq(st, GR_EINPUT);
    cr_assert_null(strstr(err.text, "0/7"));
    cr_assert_null(strstr(err.text, "SECRET"));
    cr_assert_null(strstr(err.field, "SECRET"));
}

Test(predict_json, model_metadata)
{
    json_t *o = gr_api_model_json(m, 1);
    cr_assert_str_eq(str(o, "name"), "lin3");
    cr_assert_str_eq(str(o, "format"), "genorisk-linear");
    cr_assert_str_eq(str(o, "task"), "regression");
    cr_assert_eq(json_integer_value(at(o, "n_features")), 3);
    cr_assert_eq(json_integer_value(at(o, "n_features_with_mean")), 1);
    cr_assert_str_eq(str(o, "explanation.space"), "identity");
    cr_assert_str_eq(str(o, "files.features"), "features.tsv");
    json_decref(o);
}

/* top_k = k must be the first k of every attribution ranked by magnitude,
 * whichever selection path (small k, large k) produced it. */
Test(predict_json_topk, selection_matches_a_full_sort)
{
    gr_model *xm = fixture_model("xgb_clf");
    fixture_cases fc;
    fixture_cases_load("xgb_clf", &fc);
    long ks[] = { 1, 5, 32, 33, 39 };
    for (size_t r = 0; r < 5; r++) {
        gr_api_request all = { .n_samples = 1,
                               .n_features = 40,
                               .ids = json_pack("[n]"),
                               .x = fc.X + r * 40,
                               .explain = 1,
                               .top_k = 0,
                               .warnings = json_array() };
        gr_api_job job;
        gr_api_job_init(&job, xm, &all, NULL, NULL);
        json_t *full = NULL;
        cr_assert_eq(gr_api_predict_all(&job, &full, NULL), GR_OK);
        json_t *fa = at(full, "results.0.explanation.attributions");
        for (size_t kk = 0; kk < sizeof ks / sizeof *ks; kk++) {
            gr_api_settings k = gr_api_settings_unset();
            k.top_k = ks[kk];
            gr_api_job_init(&job, xm, &all, NULL, &k);
            json_t *part = NULL;
            cr_assert_eq(gr_api_predict_all(&job, &part, NULL), GR_OK);
            json_t *pa = at(part, "results.0.explanation.attributions");
            cr_assert_eq(json_array_size(pa), (size_t)ks[kk]);
            for (size_t i = 0; i < json_array_size(pa); i++) {
                double v = fabs(json_number_value(json_object_get(json_array_get(pa, i), "value")));
                if (i > 0) /* non-increasing */
                    cr_assert_geq(fabs(json_number_value(
                                      json_object_get(json_array_get(pa, i - 1), "value"))),
                                  v);
                size_t bigger =
                    0; /* features strictly larger in magnitude: all must be listed before */
                for (size_t j = 0; j < json_array_size(fa); j++)
                    bigger +=
                        fabs(json_number_value(json_object_get(json_array_get(fa, j), "value"))) >
                        v;
                cr_assert_leq(bigger, i, "row %zu k %ld: item %zu is not among the largest", r,
                              ks[kk], i);
            }
            json_decref(part);
        }
        json_decref(full);
        json_decref(all.ids);
        json_decref(all.warnings);
    }
    fixture_cases_free(&fc);
    gr_model_free(xm);
}

/* Reads text for the suite's model with limits lim; returns the status
 * and leaves the reason in err. */
static gr_status read_only(const char *text, size_t len, const gr_api_limits *lim, gr_error *err)
{
    gr_api_request req;
    gr_status st = gr_api_request_read(m, text, len, lim, &req, err);
    gr_api_request_clear(&req);
    return st;
}

Test(predict_json, depth_string_and_syntax)
{
    gr_error err;
    const char *ok = "{\"samples\":[{\"id\":\"a\\\"[[[[\\\\\",\"dosages\":[1,2]}]}";
    gr_api_limits lim = { .max_depth = 4, .max_string = 64 };
    cr_assert_neq(read_only(ok, strlen(ok), &lim, &err), GR_ESYNTAX, "%s", err.text);
    lim.max_depth = 3;
    cr_assert_eq(read_only(ok, strlen(ok), &lim, &err), GR_ESYNTAX);
    cr_assert(strstr(err.text, "deeper than 3 levels"), "%s", err.text);
    lim = (gr_api_limits){ .max_depth = 4, .max_string = 8 };
    cr_assert_eq(read_only(ok, strlen(ok), &lim, &err), GR_ESYNTAX);
    cr_assert(strstr(err.text, "longer than 8 bytes"), "%s", err.text);
    cr_assert_null(strstr(err.text, "[[[["), "the string is quoted: %s", err.text);
    /* malformed text, said where, never quoted */
    static const struct {
        const char *text, *why;
    } bad[] = {
        { "]]]{", "line 1, column 1: a value was expected" },
        { "{\"samples\":[{}]", "line 1, column 16: ',' or '}' expected" },
        { "{\"samples\":[{}}]}", "column 15: ',' or ']' expected" },
        { "{\"samples\":[{},]}", "column 16: a value" },
        { "{\"samples\":[{\"id\":\"abc}]}", "a string does not end" },
        { "{\"samples\":[{\"id\":tru}]}", "line 1, column 21: invalid token" },
        { "{\"samples\":[],\"samples\":[]}", "column 15: duplicate object key" },
        { "{\"samples\":[{}]} x", "line 1, column 18: the text goes on" },
        { "{\"samples\":[{\"id\":\"a\",\"id\":\"b\"}]}", "duplicate object key" },
        { "", "the text is empty" },
        { "{\"samples\":[{}],\"explain\":\xef\xbb\xbftrue}", "line 1, column 28: invalid token" },
        { "{\"samples\":[{}],\n\"explain\":nope}", "line 2, column 14: invalid token" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(read_only(bad[i].text, strlen(bad[i].text), NULL, &err), GR_ESYNTAX, "%s",
                     bad[i].text);
        cr_assert(strstr(err.text, bad[i].why), "%s: '%s' lacks '%s'", bad[i].text, err.text,
                  bad[i].why);
        cr_assert_null(strstr(err.text, "abc"), "%s", err.text);
    }
    /* a NUL byte is text after the object too */
    cr_assert_eq(read_only("{\"samples\":[{}]}\0", 17, NULL, &err), GR_ESYNTAX);
    cr_assert(strstr(err.text, "column 17: the text goes on after the object"), "%s", err.text);
    /* JSON, but not a request: an input error, as before */
    cr_assert_eq(read_only("[1,2]", 5, NULL, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "must be a JSON object"), "%s", err.text);
    /* depth counts what is open, not what was ever opened */
    const char *wide = "{\"samples\":[{\"dosages\":[],\"id\":null}],\"explain\":[[],[],[],[]]}";
    lim = (gr_api_limits){ .max_depth = 4, .max_string = 8 };
    cr_assert_eq(read_only(wide, strlen(wide), &lim, &err), GR_EINPUT, "%s", err.text);
}

/* Memory is measured on the plain build: a sanitizer's shadow memory and
 * quarantine would count too. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MEASURES_MEMORY 0
#else
#define MEASURES_MEMORY 1
#endif

/* The process's peak resident memory so far, bytes. */
static size_t peak_rss(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (size_t)ru.ru_maxrss * 1024;
}

/* {"samples":[ s, s, ... ]} of n copies of s; new. */
static char *body_of(const char *s, size_t n, size_t *len)
{
    size_t k = strlen(s), total = 14 + n * (k + 1);
    char *b = malloc(total + 1), *p = b;
    cr_assert_not_null(b);
    p += sprintf(p, "{\"samples\":[");
    for (size_t i = 0; i < n; i++) {
        memcpy(p, s, k);
        p += k;
        *p++ = i + 1 < n ? ',' : ']';
    }
    p += sprintf(p, "}");
    *len = (size_t)(p - b);
    return b;
}

/* A body cost jansson about 75x its size before any limit was looked at:
 * 16 MiB of empty samples peaked at 1.26 GB for a refusal. The sample
 * count is now checked before any sample is parsed, at a cost that grows
 * with the text, and a body within the limits costs a small multiple of
 * its size, not of its tree. */
Test(predict_json, body_cost_is_linear_in_its_size)
{
    gr_error err;
    size_t len[2];
    double t[2];
    for (int big = 0; big < 2; big++) {
        char *b = body_of("{}", big ? 3 * 1800000 : 1800000, &len[big]);
        size_t before = peak_rss();
        t[big] = INFINITY;
        for (int run = 0; run < GR_TIMING_RUNS; run++) {
            double t0 = cpu_seconds();
            cr_assert_eq(read_only(b, len[big], NULL, &err), GR_ELIMIT);
            t[big] = fmin(t[big], cpu_seconds() - t0);
        }
        cr_assert(strstr(err.text, "samples; at most 10000 per request"), "%s", err.text);
        if (MEASURES_MEMORY)
            cr_assert_leq(peak_rss() - before, len[big] / 4, "%zu-byte body: the peak grew by %zu",
                          len[big], peak_rss() - before);
        free(b);
    }
    cr_assert(grows_linearly(t[0], t[1]), "%zu bytes %.3f s, %zu bytes %.3f s", len[0], t[0],
              len[1], t[1]);
    /* 10,000 samples of every feature by key: read at 2x the body at most */
    kstring_t k = { 0, 0, NULL };
    kputs("{\"id\":\"sample\",\"genotypes\":{", &k);
    for (size_t j = 0; j < gr_model_get_info(m)->n_features; j++)
        ksprintf(&k, "%s\"%s\":1", j ? "," : "", gr_model_feature(m, j)->id);
    kputs("}}", &k);
    size_t n;
    char *b = body_of(k.s, 10000, &n);
    free(k.s);
    size_t before = peak_rss();
    gr_api_request req;
    cr_assert_eq(gr_api_request_read(m, b, n, NULL, &req, &err), GR_OK, "%s", err.text);
    size_t grew = peak_rss() - before;
    gr_api_request_clear(&req);
    if (MEASURES_MEMORY)
        cr_assert_leq(grew, 2 * n, "a %zu-byte body: the peak grew by %zu", n, grew);
    free(b);
}

/* An answer is bounded: refused before a byte is written when even its
 * least size is over max_bytes, and cut where it would pass it otherwise.
 * (A 38 KB VCF of 10,000 samples once answered 219 MB at top_k=0.) */
Test(predict_json, answers_bounded_by_max_bytes)
{
    size_t blen;
    char *samples = body_of("{\"dosages\":[0,1,2]}", 20, &blen);
    char body[2048];
    snprintf(body, sizeof body, "%.*s,\"top_k\":0}", (int)blen - 1, samples);
    free(samples);
    gr_api_request req;
    gr_error err;
    cr_assert_eq(gr_api_request_read(m, body, strlen(body), NULL, &req, &err), GR_OK, "%s",
                 err.text);
    gr_api_job job;
    gr_api_job_init(&job, m, &req, NULL, &given);
    json_t *doc = NULL;
    cr_assert_eq(gr_api_predict_all(&job, &doc, &err), GR_OK, "%s", err.text);
    char *text = json_dumps(doc, JSON_COMPACT);
    size_t full = strlen(text);
    free(text);
    json_decref(doc);
    /* 20 samples x 3 attributions: at least 20 x (100 + 3 x 32) bytes */
    job.max_bytes = 3000;
    cr_assert_eq(gr_api_predict_all(&job, &doc, &err), GR_ELIMIT);
    cr_assert(strstr(err.text, "(20 samples x 3 attributions), over the 3000-byte limit"), "%s",
              err.text);
    cr_assert_null(doc);
    /* over the least size, under the real one: cut where it would pass */
    job.max_bytes = full - 100;
    cr_assert_eq(gr_api_predict_all(&job, &doc, &err), GR_ELIMIT);
    cr_assert(strstr(err.text, "the answer grew past the"), "%s", err.text);
    job.max_bytes = full + 200; /* the document and the request's own members */
    cr_assert_eq(gr_api_predict_all(&job, &doc, &err), GR_OK, "%s", err.text);
    json_decref(doc);
    gr_api_request_clear(&req);
}

/* ---- group_by: attributions summed per locus or gene ---- */

/* Checks the groups of every result of resp against its attributions (all
 * of them: top_k 0) under model gm's loci (by 1) or genes (2): each group's
 * value is the sum of its members' to 1e-12, members named by the locus or,
 * for a feature naming none, by its own id; largest |value| first;
 * base_value + the groups' sum is the margin. Returns the groups seen. */
static size_t check_groups(const gr_model *gm, json_t *resp, int by)
{
    size_t n = 0;
    json_t *results = at(resp, "results");
    for (size_t i = 0; i < json_array_size(results); i++) {
        json_t *ex = at(json_array_get(results, i), "explanation");
        json_t *attrs = at(ex, "attributions"), *groups = at(ex, "groups");
        size_t nf = gr_model_get_info(gm)->n_features, members = 0;
        cr_assert_eq(json_array_size(attrs), nf, "top_k 0: every attribution");
        double total = num(ex, "base_value"), prev = INFINITY;
        for (size_t g = 0; g < json_array_size(groups); g++) {
            json_t *grp = json_array_get(groups, g);
            const char *name = json_string_value(json_object_get(grp, "group"));
            double want = 0;
            size_t count = 0;
            for (size_t a = 0; a < nf; a++) {
                json_t *at_a = json_array_get(attrs, a);
                const char *id = json_string_value(json_object_get(at_a, "feature"));
                const gr_feature *f = gr_model_feature(gm, (size_t)gr_model_find_feature(gm, id));
                const char *label = by == 1 ? f->locus : f->gene;
                if (label[0] ? !strcmp(label, name) : !strcmp(f->id, name)) {
                    want += json_number_value(json_object_get(at_a, "value"));
                    count++;
                }
            }
            double value = json_number_value(json_object_get(grp, "value"));
            cr_assert(fabs(value - want) <= 1e-12, "group %s: %.17g, its members sum to %.17g",
                      name, value, want);
            cr_assert_eq(json_integer_value(json_object_get(grp, "features")), (json_int_t)count,
                         "group %s", name);
            cr_assert_leq(fabs(value), prev, "group %s is out of order", name);
            prev = fabs(value);
            total += value;
            members += count;
            n++;
        }
        cr_assert_eq(members, nf, "every feature in exactly one group");
        cr_assert(fabs(total - num(json_array_get(results, i), "margin")) <= 1e-12,
                  "base_value + groups %.17g, margin %.17g", total,
                  num(json_array_get(results, i), "margin"));
    }
    return n;
}

/* PGS000001's 77 variants name 50-odd loci (its locus_name): a random
 * sample's groups add up to their members, in order of magnitude, and to
 * the margin; top_k keeps the first k groups. */
Test(predict_json, group_by_locus_sums_each_locus_of_a_pgs)
{
    gr_model *pm = fixture_model("pgs000001");
    size_t nf = gr_model_get_info(pm)->n_features;
    char body[4096];
    int len = snprintf(body, sizeof body, "{\"group_by\":\"locus\",\"top_k\":0,\"samples\":[");
    srand(7);
    for (int smp = 0; smp < 3; smp++) {
        len += snprintf(body + len, sizeof body - (size_t)len, "%s{\"dosages\":[", smp ? "," : "");
        for (size_t j = 0; j < nf; j++)
            len += snprintf(body + len, sizeof body - (size_t)len, "%s%.3f", j ? "," : "",
                            (double)(rand() % 2001) / 1000.0);
        len += snprintf(body + len, sizeof body - (size_t)len, "]}");
    }
    snprintf(body + len, sizeof body - (size_t)len, "]}");
    gr_status st;
    gr_error err;
    json_t *all = run_model(pm, body, &st, &err);
    cr_assert_eq(st, GR_OK, "%s: %s", err.field, err.text);
    size_t n = check_groups(pm, all, 1);
    cr_assert_lt(n, 3 * nf, "variants of one locus were summed");
    cr_assert_gt(n, 3 * 40);
    /* top_k 3: the first three groups, and the attributions as top_k says */
    char *k3 = replace_once(body, "\"top_k\":0", "\"top_k\":3");
    json_t *top = run_model(pm, k3, &st, &err);
    cr_assert_eq(st, GR_OK, "%s", err.text);
    for (int smp = 0; smp < 3; smp++) {
        char path[64];
        snprintf(path, sizeof path, "results.%d.explanation.groups", smp);
        cr_assert_eq(json_array_size(at(top, path)), 3);
        for (int g = 0; g < 3; g++)
            cr_assert(json_equal(json_array_get(at(top, path), (size_t)g),
                                 json_array_get(at(all, path), (size_t)g)));
        snprintf(path, sizeof path, "results.%d.explanation.attributions", smp);
        cr_assert_eq(json_array_size(at(top, path)), 3);
    }
    /* none, and no group_by: no groups */
    char *none = replace_once(body, "\"locus\"", "\"none\"");
    json_t *plain = run_model(pm, none, &st, &err);
    cr_assert_eq(st, GR_OK, "%s", err.text);
    cr_assert_null(json_object_get(at(plain, "results.0.explanation"), "groups"));
    json_decref(plain);
    json_decref(top);
    json_decref(all);
    free(none);
    free(k3);
    gr_model_free(pm);
}

/* A feature naming no gene is a group of its own, named by its feature_id;
 * the groups still add up to the margin. */
Test(predict_json, a_feature_naming_no_gene_is_its_own_group)
{
    char *gdir = temp_bundle(
        "manifest.json",
        "{\"name\":\"genes\",\"version\":\"1\",\"task\":\"regression\",\"format\":\"genorisk-"
        "linear\",\"artifact\":\"model.json\",\"features\":\"features.tsv\","
        "\"genome_build\":\"GRCh38\"}",
        "features.tsv",
        "feature_id\tchrom\tpos\tref\talt\tmean\tgene\n"
        "a\t1\t100\tA\tG\t1\tAPOB\n"
        "b\t1\t200\tC\tT\t0.5\t\n"
        "c\t2\t300\tG\tA\t0.2\tAPOB\n"
        "d\t2\t400\tG\tA\t0.1\tLPA\n",
        "model.json",
        "{\"format\":\"genorisk-linear\",\"intercept\":0.5,\"weights\":[1,-2,3,0.25],\"link\":"
        "\"identity\"}",
        NULL);
    gr_model *gm;
    gr_error err;
    cr_assert_eq(gr_model_load(gdir, &gm, &err), GR_OK, "%s", err.text);
    gr_status st;
    json_t *r = run_model(
        gm, "{\"group_by\":\"gene\",\"top_k\":0,\"samples\":[{\"dosages\":[2,2,1,0]}]}", &st, &err);
    cr_assert_eq(st, GR_OK, "%s", err.text);
    cr_assert_eq(check_groups(gm, r, 2), 3);
    /* APOB = 1*(2-1) + 3*(1-0.2) = 3.4, b = -2*(2-0.5) = -3, LPA = 0.25*(0-0.1) */
    cr_assert_str_eq(str(r, "results.0.explanation.groups.0.group"), "APOB");
    cr_assert_float_eq(num(r, "results.0.explanation.groups.0.value"), 3.4, 1e-12);
    cr_assert_str_eq(str(r, "results.0.explanation.groups.1.group"), "b");
    cr_assert_float_eq(num(r, "results.0.explanation.groups.1.value"), -3, 1e-12);
    cr_assert_eq(json_integer_value(at(r, "results.0.explanation.groups.1.features")), 1);
    cr_assert_str_eq(str(r, "results.0.explanation.groups.2.group"), "LPA");
    json_decref(r);
    /* this model names genes but no locus: group_by=locus is refused */
    gr_api_settings s = gr_api_settings_unset();
    char why[320];
    cr_assert_eq(gr_api_setting_parse(&s, "group_by", "locus", why, sizeof why), 1);
    cr_assert_eq(gr_api_group_by_ok(gm, &s, why, sizeof why), 0);
    cr_assert(strstr(why, "names no locus"), "%s", why);
    s.group_by = GR_API_GROUP_GENE;
    cr_assert_eq(gr_api_group_by_ok(gm, &s, why, sizeof why), 1);
    gr_model_free(gm);
    temp_bundle_free(gdir);
}

/* group_by's values, in the body and as a query parameter or flag; a model
 * naming no locus is refused, not answered with a group per variant. */
Test(predict_json, group_by_values_and_a_model_without_loci)
{
    fails("{\"samples\":[{\"dosages\":[1,1,1]}],\"group_by\":\"pathway\"}", GR_EINPUT, "group_by",
          "\"none\", \"locus\"");
    fails("{\"samples\":[{\"dosages\":[1,1,1]}],\"group_by\":1}", GR_EINPUT, "group_by",
          "\"gene\"");
    fails("{\"samples\":[{\"dosages\":[1,1,1]}],\"group_by\":\"locus\"}", GR_EINPUT, "group_by",
          "model lin3 names no locus for any of its variants");
    fails("{\"samples\":[{\"dosages\":[1,1,1]}],\"group_by\":\"gene\"}", GR_EINPUT, "group_by",
          "a gene column in features.tsv");
    fails("{\"samples\":[{\"dosages\":[1,1,1]}],\"group_by\":\"none\",\"group_by\":\"none\"}",
          GR_ESYNTAX, "", "duplicate");
    json_t *r = ok("{\"samples\":[{\"dosages\":[1,1,1]}],\"group_by\":\"none\"}");
    cr_assert_null(json_object_get(at(r, "results.0.explanation"), "groups"));
    json_decref(r);
    fails("{\"samples\":[{\"dosages\":[1,1,1]}],\"group\":\"locus\"}", GR_EINPUT, "group",
          "samples, explain, top_k and group_by");

    gr_api_settings s = gr_api_settings_unset();
    char why[240] = "";
    cr_assert_eq(s.group_by, -1);
    cr_assert_eq(gr_api_setting_parse(&s, "group_by", "Locus", why, sizeof why), 0);
    cr_assert(strstr(why, "none") && strstr(why, "locus") && strstr(why, "gene"), "%s", why);
    cr_assert_eq(gr_api_setting_parse(&s, "group_by", NULL, why, sizeof why), 0);
    cr_assert_eq(gr_api_setting_parse(&s, "group_by", "gene", why, sizeof why), 1);
    cr_assert_eq(s.group_by, GR_API_GROUP_GENE);
    cr_assert_eq(gr_api_setting_parse(&s, "group_by", "none", why, sizeof why), 1);
    cr_assert_eq(s.group_by, GR_API_GROUP_NONE);
    cr_assert_eq(gr_api_group_by_ok(m, &s, why, sizeof why), 1, "none asks nothing");
    cr_assert_eq(gr_api_group_by_ok(m, NULL, why, sizeof why), 1);
}

/* The same rule for a VCF as for JSON: PGS000001's variants as VCF records
 * and as JSON keys give the same groups. */
Test(predict_json, vcf_and_json_get_the_same_groups)
{
    gr_model *pm = fixture_model("pgs000001");
    size_t nf = gr_model_get_info(pm)->n_features;
    static const char *const gt[] = { "0/0", "0/1", "1/1" };
    char *vcf = NULL, *body = NULL;
    size_t vlen = 0, blen = 0;
    FILE *v = open_memstream(&vcf, &vlen), *b = open_memstream(&body, &blen);
    fprintf(v, "##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
               "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n");
    fprintf(b, "{\"top_k\":0,\"group_by\":\"locus\",\"samples\":[{\"id\":\"S1\",\"genotypes\":{");
    for (size_t i = 0; i < nf; i++) {
        const gr_feature *f = gr_model_feature(pm, i);
        const char *call = gt[(i * 5) % 3];
        fprintf(v, "%s\t%lld\t.\t%s\t%s\t.\tPASS\t.\tGT\t%s\n", f->chrom, (long long)f->pos, f->ref,
                f->alt, call);
        fprintf(b, "%s\"%s:%lld:%s:%s\":\"%s\"", i ? "," : "", f->chrom, (long long)f->pos, f->ref,
                f->alt, call);
    }
    fprintf(b, "}}]}");
    fclose(v);
    fclose(b);
    gr_status st;
    gr_error err;
    json_t *from_json = run_model(pm, body, &st, &err);
    cr_assert_eq(st, GR_OK, "%s: %s", err.field, err.text);
    gr_vcf_result *vr = read_vcf_text(pm, vcf);
    gr_api_settings s = gr_api_settings_unset();
    s.top_k = 0;
    s.group_by = GR_API_GROUP_LOCUS;
    gr_api_job job;
    gr_api_job_init(&job, pm, NULL, vr, &s);
    json_t *from_vcf = NULL;
    cr_assert_eq(gr_api_predict_all(&job, &from_vcf, &err), GR_OK, "%s", err.text);
    check_groups(pm, from_vcf, 1);
    json_t *gj = at(from_json, "results.0.explanation.groups"),
           *gv = at(from_vcf, "results.0.explanation.groups");
    cr_assert_eq(json_array_size(gj), json_array_size(gv));
    for (size_t g = 0; g < json_array_size(gj); g++) {
        json_t *a = json_array_get(gj, g), *c = json_array_get(gv, g);
        cr_assert_str_eq(json_string_value(json_object_get(a, "group")),
                         json_string_value(json_object_get(c, "group")));
        cr_assert_float_eq(json_number_value(json_object_get(a, "value")),
                           json_number_value(json_object_get(c, "value")), 1e-12);
    }
    json_decref(from_json);
    json_decref(from_vcf);
    gr_vcf_result_free(vr);
    free(vcf);
    free(body);
    gr_model_free(pm);
}

/* ---- the fast reader (api/json_sample.c) against the complete one ---- */

/* Reads body on `threads` threads into req (cleared by the caller). */
static gr_status read_req(const char *body, int threads, gr_api_request *req, gr_error *err)
{
    gr_api_limits lim = { .max_samples = 100, .max_depth = 32, .max_string = 65536 };
    gr_error_clear(err);
    return gr_api_request_read_threads(m, body, strlen(body), &lim, threads, req, err);
}

/* Two reads of the same request gave the same answer. */
static void same_request(gr_api_request *a, gr_api_request *b, const char *what)
{
    size_t nf = gr_model_get_info(m)->n_features;
    double xa[8], xb[8];
    cr_assert_eq(a->n_samples, b->n_samples, "%s", what);
    for (size_t i = 0; i < a->n_samples; i++) {
        gr_api_request_dosages(a, i, xa);
        gr_api_request_dosages(b, i, xb);
        cr_assert(!memcmp(xa, xb, nf * sizeof *xa), "%s: sample %zu's dosages differ", what, i);
        cr_assert(!memcmp(&a->match[i], &b->match[i], sizeof a->match[i]), "%s: sample %zu", what,
                  i);
        cr_assert_eq(a->keyed[i], b->keyed[i], "%s", what);
        cr_assert_eq(a->first_cell[i + 1] - a->first_cell[i],
                     b->first_cell[i + 1] - b->first_cell[i], "%s: sample %zu", what, i);
    }
    cr_assert(json_equal(a->ids, b->ids), "%s: ids differ", what);
    cr_assert(json_equal(a->warnings, b->warnings), "%s: warnings differ", what);
}

/* The sample {"genotypes":{members},"id":"s"} read the fast way, and with
 * its id key escaped ("\u0069d"), which the fast reader leaves to the
 * complete one: the same answer, or the same error. Returns the status;
 * *a is sample 0's dosages when GR_OK. */
static gr_status both_ways(const char *members, double *a, gr_error *err)
{
    char fast[512], slow[512];
    snprintf(fast, sizeof fast, "{\"samples\":[{\"genotypes\":{%s},\"id\":\"s\"}]}", members);
    snprintf(slow, sizeof slow, "{\"samples\":[{\"genotypes\":{%s},\"\\u0069d\":\"s\"}]}", members);
    gr_api_request rf, rs;
    gr_error es;
    gr_status sf = read_req(fast, 1, &rf, err), ss = read_req(slow, 1, &rs, &es);
    cr_assert_eq(sf, ss, "%s: %s (%s) vs %s (%s)", members, gr_strerror(sf), err->text,
                 gr_strerror(ss), es.text);
    cr_assert_str_eq(err->text, es.text, "%s", members);
    cr_assert_str_eq(err->field, es.field, "%s", members);
    if (!sf) {
        same_request(&rf, &rs, members);
        gr_api_request_dosages(&rf, 0, a);
    }
    gr_api_request_clear(&rf);
    gr_api_request_clear(&rs);
    return sf;
}

Test(predict_json, fast_and_complete_reads_agree)
{
    static const struct {
        const char *members;
        gr_status st;
        double a; /* feature a's dosage when GR_OK (NaN: missing) */
    } cases[] = {
        { "\"a\":1,\"b\":0,\"c\":2", GR_OK, 1 },
        { "\"rs\\u0031\":1", GR_OK, 1 },
        { "\"\\u0061\":2", GR_OK, 2 },
        { "\"a\":1e0", GR_OK, 1 },
        { "\"a\":2E-0", GR_OK, 2 },
        { "\"a\":-0", GR_OK, 0 },
        { "\"a\":-0.0", GR_OK, 0 },
        { "\"a\":0.5", GR_OK, 0.5 },
        { "\"a\":0.1", GR_OK, 0.1 },
        { "\"a\":1.2345678901234567", GR_OK, 1.2345678901234567 },
        { "\"a\":2.0", GR_OK, 2 },
        { "\"a\":1e-400", GR_OK, 0 },
        { "\"a\":00.5", GR_ESYNTAX, 0 },
        { "\"a\":2.0000001", GR_EINPUT, 0 },
        { "\"a\":-1e-9", GR_EINPUT, 0 },
        { "\"a\":1e400", GR_ESYNTAX, 0 },
        { "\"a\":-1e400", GR_ESYNTAX, 0 },
        { "\"a\":123456789012345678901234", GR_ESYNTAX, 0 },
        { "\"a\":18446744073709551617", GR_ESYNTAX, 0 }, /* 2^64 + 1 */
        { "\"a\":-18446744073709551616", GR_ESYNTAX, 0 },
        { "\"a\":1234567890123456789", GR_EINPUT, 0 },
        { "\"a\":01", GR_ESYNTAX, 0 },
        { "\"a\":1.", GR_ESYNTAX, 0 },
        { "\"a\":.5", GR_ESYNTAX, 0 },
        { "\"a\":+1", GR_ESYNTAX, 0 },
        { "\"a\":1e", GR_ESYNTAX, 0 },
        { "\"a\":1x", GR_ESYNTAX, 0 },
        { "\"a\":null", GR_OK, NAN },
        { "\"a\":nul", GR_ESYNTAX, 0 },
        { "\"a\":nullx", GR_ESYNTAX, 0 },
        { "\"a\":true", GR_EINPUT, 0 },
        { "\"a\":[1]", GR_EINPUT, 0 },
        { "\"a\":{\"x\":1}", GR_EINPUT, 0 },
        { "\"a\":\"0/1\"", GR_OK, 1 },
        { "\"a\":\"1|1\"", GR_OK, 2 },
        { "\"a\":\"./.\"", GR_OK, NAN },
        { "\"a\":\"A/G\"", GR_OK, 1 },
        { "\"a\":\"T/C\"", GR_OK, 1 },
        { "\"a\":\"\\u0030/1\"", GR_OK, 1 },
        { "\"a\":\"0/2\"", GR_EINPUT, 0 },
        { "\"a\":\"1\"", GR_EINPUT, 0 },
        { "\"a\":\"0/1\x01\"", GR_ESYNTAX, 0 },
        { "\"a\":\"\xc3\xa9\"", GR_EINPUT, 0 },
        { "\"a\":\"\xc3\"", GR_ESYNTAX, 0 },
        { "\"1:100:A:G\":\"0/1\"", GR_OK, 1 },
        { "\"1:100:G:A\":0", GR_OK, 2 },
        { "\"1:100:G:A\":\"0/0\"", GR_OK, 2 },
        { "\"a\\xff\":1", GR_ESYNTAX, 0 },
        { "\"a\xff\":1", GR_ESYNTAX, 0 },
        { "\"\xc3\xa9\":1", GR_OK, NAN },
        { "\"a\":1,\"a\":1", GR_ESYNTAX, 0 },
        { "\"a\":1,\"rs1\":2", GR_EINPUT, 0 },
        { "\"a\":1,\"1:100:A:G\":2", GR_EINPUT, 0 },
        { "\"zz\":1,\"a\":0", GR_OK, 0 },
        { "\"zz\":1,\"zz\":2", GR_ESYNTAX, 0 },
        { "\"a\":1,", GR_ESYNTAX, 0 },
        { "\"a\" 1", GR_ESYNTAX, 0 },
        { "\"a\"", GR_ESYNTAX, 0 },
        { "a:1", GR_ESYNTAX, 0 },
        { " \"a\" :\t1 \n,\r\"b\" : 2 ", GR_OK, 1 },
        { "", GR_OK, NAN },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gr_error err;
        double a[8];
        gr_status st = both_ways(cases[i].members, a, &err);
        cr_assert_eq(st, cases[i].st, "%s: %s (%s)", cases[i].members, gr_strerror(st), err.text);
        if (st)
            continue;
        if (isnan(cases[i].a))
            cr_assert(isnan(a[0]), "%s: %g", cases[i].members, a[0]);
        else
            cr_assert(a[0] == cases[i].a, "%s: %.17g", cases[i].members, a[0]);
    }
    /* errors name the field, never the value */
    gr_error err;
    double a[8];
    cr_assert_eq(both_ways("\"b\":1,\"a\":2.0000001", a, &err), GR_EINPUT);
    cr_assert_str_eq(err.field, "samples[0].genotypes.a");
    cr_assert_null(strstr(err.text, "2.0000001"), "%s", err.text);
}

/* A body of n samples, sample i's member text from make(i). */
static char *samples_body(size_t n, void (*make)(size_t, kstring_t *))
{
    kstring_t k = { 0, 0, NULL };
    kputs("{\"samples\":[", &k);
    for (size_t i = 0; i < n; i++) {
        ksprintf(&k, "%s{\"id\":\"s%zu\",\"genotypes\":{", i ? ",\n" : "", i);
        make(i, &k);
        kputs("}}", &k);
    }
    kputs("],\"top_k\":2}", &k);
    return k.s;
}

static void varied(size_t i, kstring_t *k)
{
    static const char *const v[] = { "0", "1", "2", "null", "\"0/1\"", "0.25", "0.1", "\"G/G\"" };
    ksprintf(k, "\"a\":%s,\"rs2\":%s", v[i % 8], v[(i / 8) % 8]);
    if (i % 5 == 0)
        ksprintf(k, ",\"2:300:G:A\":%s", v[(i / 3) % 8]);
    if (i % 7 == 3)
        kputs(",\"unknown\":1", k); /* a warning, read the complete way */
}

static void bad_at_25_and_33(size_t i, kstring_t *k)
{
    varied(i, k);
    if (i == 25)
        kputs(",\"c\":3", k);
    if (i == 33)
        kputs(",\"c\":tru", k);
}

static void bad_at_33(size_t i, kstring_t *k)
{
    varied(i, k);
    if (i == 33)
        kputs(",\"c\":tru", k);
}

static void unbalanced_at_30(size_t i, kstring_t *k)
{
    bad_at_25_and_33(i, k);
    if (i == 30)
        kputs(",\"b\":[1}", k); /* the walk of the text stops here */
}

/* Samples read on several threads read as on one, errors too: the first
 * sample in error wins, and an error of the text's anywhere wins over any
 * sample's. The text is walked by several threads too, each from a
 * guessed sample start. */
Test(predict_json, threads_read_as_one)
{
    void (*const makes[])(size_t, kstring_t *) = { varied, bad_at_25_and_33, bad_at_33,
                                                   unbalanced_at_30, varied };
    const char *const fields[] = { "", "samples[25].genotypes.c", "", "", "samples" };
    const gr_status want[] = { GR_OK, GR_EINPUT, GR_ESYNTAX, GR_ESYNTAX, GR_ELIMIT };
    for (size_t mk = 0; mk < 5; mk++) {
        char *body = samples_body(mk == 4 ? 150 : 40, makes[mk]);
        gr_api_request one, many;
        gr_error e1, en;
        gr_status s1 = read_req(body, 1, &one, &e1);
        cr_assert_eq(s1, want[mk], "%s", e1.text);
        cr_assert_str_eq(e1.field, fields[mk]);
        if (mk == 2)
            cr_assert(strstr(e1.text, "line 34, column "), "%s", e1.text);
        if (mk == 3)
            cr_assert(strstr(e1.text, "line 31, column "), "%s", e1.text);
        if (mk == 4)
            cr_assert(strstr(e1.text, "150 samples; at most 100"), "%s", e1.text);
        for (int t = 2; t <= 64; t *= 2) {
            gr_status sn = read_req(body, t, &many, &en);
            cr_assert_eq(sn, s1, "%d threads: %s", t, en.text);
            cr_assert_str_eq(en.text, e1.text, "%d threads", t);
            cr_assert_str_eq(en.field, e1.field, "%d threads", t);
            if (!s1)
                same_request(&one, &many, "threads");
            gr_api_request_clear(&many);
        }
        if (!s1) {
            cr_assert_eq(json_array_size(one.warnings), 6);
            double x[8];
            gr_api_request_dosages(&one, 6, x); /* "0.1" is kept exactly */
            cr_assert(x[0] == 0.1, "%.17g", x[0]);
        }
        gr_api_request_clear(&one);
        free(body);
    }
}
