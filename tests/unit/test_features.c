/* test_features.c - features.tsv parsing and the genotype-key index
 * (feature_id, rsid, chrom:pos:ref:alt with any chromosome spelling). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/lines.h"
#include "helpers.h"

#define MANIFEST                                                                                   \
    "{\"name\":\"m\",\"version\":\"1\",\"task\":\"regression\",\"format\":\"genorisk-linear\","    \
    "\"artifact\":\"model.json\",\"features\":\"features.tsv\",\"genome_build\":\"GRCh38\"}"
#define MODEL2                                                                                     \
    "{\"format\":\"genorisk-linear\",\"intercept\":0,\"weights\":[1,2],\"link\":\"identity\"}"

static gr_model *load2(const char *tsv)
{
    char *dir =
        temp_bundle("manifest.json", MANIFEST, "features.tsv", tsv, "model.json", MODEL2, NULL);
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
    temp_bundle_free(dir);
    return m;
}

static void bad(const char *tsv, const char *needle, const char *field, long line)
{
    char *dir =
        temp_bundle("manifest.json", MANIFEST, "features.tsv", tsv, "model.json", MODEL2, NULL);
    gr_model *m = NULL;
    gr_error err;
    cr_assert_neq(gr_model_load(dir, &m, &err), GR_OK, "expected failure for: %s", tsv);
    cr_assert(strstr(err.text, needle), "'%s' lacks '%s'", err.text, needle);
    if (field)
        cr_assert_str_eq(err.field, field);
    if (line)
        cr_assert_eq(err.line, line, "line %ld, expected %ld", err.line, line);
    cr_assert(strstr(err.source, "features.tsv"));
    temp_bundle_free(dir);
}

/* Editors on Windows start a file with a byte-order mark: the header that
 * visibly has feature_id must be read as having it. */
Test(features, byte_order_mark_is_skipped)
{
    gr_model *m = load2("\xEF\xBB\xBF"
                        "feature_id\tchrom\tpos\tref\talt\r\n"
                        "snp1\t1\t100\tA\tG\r\nsnp2\t2\t200\tC\tT\r\n");
    cr_assert_str_eq(gr_model_feature(m, 0)->id, "snp1");
    gr_model_free(m);
    /* only at the start of the file: elsewhere it is part of the text */
    m = load2("feature_id\tchrom\tpos\tref\talt\n\xEF\xBB\xBF"
              "snp1\t1\t100\tA\tG\n"
              "snp2\t2\t200\tC\tT\n");
    cr_assert_str_eq(gr_model_feature(m, 0)->id, "\xEF\xBB\xBF"
                                                 "snp1");
    gr_model_free(m);
}

Test(features, parses_and_normalises)
{
    gr_model *m = load2("feature_id\tchrom\tpos\tref\talt\tmean\trsid\tgene\r\n"
                        "snp1\tchr1\t100\ta\tg\t0.5\trs1\tX1\r\n"
                        "snp2\t23\t200\tC\tT\tNA\t\tX2\r\n");
    const gr_feature *f = gr_model_feature(m, 0);
    cr_assert_str_eq(f->chrom, "1");
    cr_assert_str_eq(f->ref, "A");
    cr_assert_str_eq(f->alt, "G");
    cr_assert_float_eq(f->mean, 0.5, 0);
    cr_assert_str_eq(f->rsid, "rs1");
    f = gr_model_feature(m, 1);
    cr_assert_str_eq(f->chrom, "X");
    cr_assert(isnan(f->mean));
    cr_assert_str_eq(f->rsid, "");
    cr_assert_null(gr_model_feature(m, 2));
    cr_assert_eq(gr_model_find_feature(m, "snp1"), 0);
    cr_assert_eq(gr_model_find_feature(m, "rs1"), 0);
    cr_assert_eq(gr_model_find_feature(m, "1:100:A:G"), 0);
    cr_assert_eq(gr_model_find_feature(m, "chr1:100:a:g"), 0);
    cr_assert_eq(gr_model_find_feature(m, "chrX:200:C:T"), 1);
    cr_assert_eq(gr_model_find_feature(m, "23:200:C:T"), 1);
    cr_assert_eq(gr_model_find_feature(m, "1:100:G:A"), 0); /* swapped, as a VCF record */
    cr_assert_eq(gr_model_find_feature(m, "1:100:T:C"), 0); /* the other strand */
    cr_assert_eq(gr_model_find_feature(m, "1:100:A:C"), -1);
    cr_assert_eq(gr_model_find_feature(m, "1:101:A:G"), -1);
    cr_assert_eq(gr_model_find_feature(m, "rs2"), -1);
    cr_assert_eq(gr_model_get_info(m)->n_features_with_mean, 1);
    cr_assert_str_eq(gr_model_feature(m, 0)->gene, "X1");
    cr_assert_str_eq(gr_model_feature(m, 1)->gene, "X2");
    cr_assert_str_eq(gr_model_feature(m, 0)->locus, "", "no locus column: none");
    gr_model_free(m);
}

/* The optional locus and gene columns (what group_by sums attributions by):
 * read as written, "", NA and "." meaning none, counted in the model's
 * info; a name repeated on the next row is stored once. */
Test(features, locus_and_gene_columns_are_optional_and_read)
{
    gr_model *m = load2("feature_id\tchrom\tpos\tref\talt\tgene\tlocus\n"
                        "snp1\t1\t100\tA\tG\tCDKN2B-AS1\t9p21\n"
                        "snp2\t1\t200\tC\tT\tNA\t9p21\n");
    const gr_feature *a = gr_model_feature(m, 0), *b = gr_model_feature(m, 1);
    cr_assert_str_eq(a->locus, "9p21");
    cr_assert_str_eq(a->gene, "CDKN2B-AS1");
    cr_assert_str_eq(b->locus, "9p21");
    cr_assert_str_eq(b->gene, "", "NA is no gene");
    cr_assert_eq(a->locus, b->locus, "a repeated locus is stored once");
    cr_assert_eq(gr_model_get_info(m)->n_features_with_locus, 2);
    cr_assert_eq(gr_model_get_info(m)->n_features_with_gene, 1);
    gr_model_free(m);
    m = load2("feature_id\tchrom\tpos\tref\talt\tlocus\n"
              "snp1\t1\t100\tA\tG\t.\n"
              "snp2\t1\t200\tC\tT\t\n");
    cr_assert_str_eq(gr_model_feature(m, 0)->locus, "");
    cr_assert_str_eq(gr_model_feature(m, 1)->locus, "");
    cr_assert_str_eq(gr_model_feature(m, 1)->gene, "");
    cr_assert_eq(gr_model_get_info(m)->n_features_with_locus, 0);
    gr_model_free(m);
    bad("feature_id\tchrom\tpos\tref\talt\tgene\n"
        "snp1\t1\t100\tA\tG\tBR\xC3\n"
        "snp2\t1\t200\tC\tT\tX\n",
        "not UTF-8", "gene", 2);
}

Test(features, shared_rsid_is_ambiguous)
{
    gr_model *m = load2("feature_id\tchrom\tpos\tref\talt\trsid\n"
                        "a\t1\t100\tA\tG\trs9\n"
                        "b\t1\t100\tA\tT\trs9\n");
    cr_assert_eq(gr_model_find_feature(m, "rs9"), -2);
    cr_assert_eq(gr_model_find_feature(m, "a"), 0);
    cr_assert_eq(gr_model_find_feature(m, "1:100:A:T"), 1);
    gr_model_free(m);
}

Test(features, chromosome_names)
{
    char out[16];
    cr_assert_str_eq(gr_chrom_normalize("chr7", out, sizeof out), "7");
    cr_assert_str_eq(gr_chrom_normalize("CHRX", out, sizeof out), "X");
    cr_assert_str_eq(gr_chrom_normalize("24", out, sizeof out), "Y");
    cr_assert_str_eq(gr_chrom_normalize("chrM", out, sizeof out), "MT");
    cr_assert_str_eq(gr_chrom_normalize("M", out, sizeof out), "MT");
    cr_assert_str_eq(gr_chrom_normalize("MT", out, sizeof out), "MT");
    cr_assert_str_eq(gr_chrom_normalize("22", out, sizeof out), "22");
}

Test(features, malformed)
{
    bad("", "no header", NULL, 0);
    bad("feature_id\tchrom\tpos\tref\n", "lacks the required column", "alt", 1);
    bad("feature_id\tchrom\tpos\tref\talt\nx\t1\t0\tA\tG\ny\t1\t2\tA\tG\n", "positive integer",
        "pos", 2);
    bad("feature_id\tchrom\tpos\tref\talt\nx\t1\t5\tA\tZ\ny\t1\t2\tA\tG\n", "A, C, G, T", "alt", 2);
    bad("feature_id\tchrom\tpos\tref\talt\nx\t1\t5\t\tG\ny\t1\t2\tA\tG\n", "A, C, G, T", "ref", 2);
    bad("feature_id\tchrom\tpos\tref\talt\tmean\nx\t1\t5\tA\tG\t2.5\ny\t1\t2\tA\tG\t1\n",
        "from 0 to 2", "mean", 2);
    bad("feature_id\tchrom\tpos\tref\talt\nx\t1\t5\tA\ny\t1\t2\tA\tG\n", "4 columns", NULL, 2);
    bad("feature_id\tchrom\tpos\tref\talt\n\t1\t5\tA\tG\ny\t1\t2\tA\tG\n", "empty", "feature_id",
        2);
    bad("feature_id\tchrom\tpos\tref\talt\tmean\nx\t1\t5\tA\tG\tinf\ny\t1\t2\tA\tG\t1\n",
        "from 0 to 2", "mean", 2);
    bad("feature_id\tchrom\tpos\tref\talt\tmean\nx\t1\t5\tA\tG\tnan\ny\t1\t2\tA\tG\t1\n",
        "from 0 to 2", "mean", 2);
    bad("feature_id\tchrom\tpos\tref\talt\n", "no feature rows", NULL, 0);
    bad("feature_id\tchrom\tpos\tref\talt\nx\t1\t5\tA\tG\nx\t1\t6\tA\tG\n", "more than once",
        "feature_id", 0);
}

/* Before: a line was read whole, however long (issue 10, item 13). */
Test(features, a_line_past_1_mib_is_refused_naming_it)
{
    size_t n = GR_MODEL_MAX_LINE + 1;
    char *tsv = malloc(n + 200);
    strcpy(tsv, "feature_id\tchrom\tpos\tref\talt\nx\t1\t5\tA\tG\n");
    size_t h = strlen(tsv);
    memset(tsv + h, 'y', n); /* a feature_id nothing else bounds */
    strcpy(tsv + h + n, "\t1\t6\tA\tG\n");
    char *dir =
        temp_bundle("manifest.json", MANIFEST, "features.tsv", tsv, "model.json", MODEL2, NULL);
    free(tsv);
    gr_model *m = NULL;
    gr_error err;
    gr_status st = gr_model_load(dir, &m, &err);
    temp_bundle_free(dir);
    gr_model_free(m);
    cr_assert_eq(st, GR_ELIMIT, "%s: %.200s", gr_strerror(st), err.text);
    cr_assert(strstr(err.text, "line longer than 1 MiB, the longest a model file may have"),
              "%.200s", err.text);
    cr_assert_eq(err.line, 3);
    cr_assert(strstr(err.source, "features.tsv"));
}

Test(features, row_count_must_match_the_model)
{
    char *dir = temp_bundle("manifest.json", MANIFEST, "features.tsv",
                            "feature_id\tchrom\tpos\tref\talt\nx\t1\t5\tA\tG\ny\t1\t6\tA\tG\n"
                            "z\t1\t7\tA\tG\n",
                            "model.json", MODEL2, NULL);
    expect_load_error(dir, GR_EMODEL, "lists 3 features", "weights");
    temp_bundle_free(dir);
}

/* A bundle's features alone (gr_model_load_features): keys match as in the
 * whole model, the two read input alike, it cannot predict, and a bundle
 * whose variants are its artifact is refused. */
Test(features, a_bundle_loaded_for_its_features_alone)
{
    static const char *const dirs[] = { "tests/fixtures/xgb_clf", "tests/fixtures/sk_rf_clf",
                                        "tests/fixtures/lin_ols" };
    for (size_t k = 0; k < sizeof dirs / sizeof *dirs; k++) {
        gr_model *whole, *feats;
        gr_error err;
        cr_assert_eq(gr_model_load(dirs[k], &whole, &err), GR_OK, "%s", err.text);
        cr_assert_eq(gr_model_load_features(dirs[k], &feats, &err), GR_OK, "%s", err.text);
        cr_assert(gr_model_same_features(whole, feats), "%s", dirs[k]);
        cr_assert(gr_model_same_features(feats, whole), "%s", dirs[k]);
        size_t n = gr_model_get_info(whole)->n_features;
        cr_assert_eq(gr_model_get_info(feats)->n_features, n);
        for (size_t j = 0; j < n; j++) {
            const char *id = gr_model_feature(whole, j)->id;
            cr_assert_eq(gr_model_find_feature(feats, id), (long)j, "%s: %s", dirs[k], id);
        }
        gr_workspace *ws = gr_workspace_new(feats);
        double *x = calloc(n, sizeof *x);
        gr_prediction p;
        cr_assert_eq(gr_predict(feats, ws, x, &p, NULL, NULL, &err), GR_EINVAL);
        cr_assert(strstr(err.text, "features only"), "%s", err.text);
        free(x);
        gr_workspace_free(ws);
        gr_model_free(feats);
        gr_model_free(whole);
    }
    /* other features, other rules: not the same */
    gr_model *a, *b;
    gr_error err;
    cr_assert_eq(gr_model_load_features("tests/fixtures/xgb_clf", &a, &err), GR_OK);
    cr_assert_eq(gr_model_load_features("tests/fixtures/sk_rf_clf", &b, &err), GR_OK);
    cr_assert_not(gr_model_same_features(a, b));
    gr_model_free(b);
    gr_model *m = load2("feature_id\tchrom\tpos\tref\talt\nf0\t1\t100\tA\tG\nf1\t1\t200\tC\tT\n");
    char *dir =
        temp_bundle("manifest.json", MANIFEST, "features.tsv",
                    "feature_id\tchrom\tpos\tref\talt\nf0\t1\t100\tA\tG\nf1\t1\t201\tC\tT\n",
                    "model.json", MODEL2, NULL);
    cr_assert_eq(gr_model_load_features(dir, &b, &err), GR_OK, "%s", err.text);
    cr_assert_not(gr_model_same_features(m, b), "a position differs");
    gr_model_free(b);
    gr_model_free(m);
    temp_bundle_free(dir);
    gr_model_free(a);
    cr_assert_eq(gr_model_load_features("tests/fixtures/pgs000001", &a, &err), GR_EUNSUPPORTED);
    cr_assert_null(a);
    cr_assert(strstr(err.text, "artifact"), "%s", err.text);
}
