/* test_manifest.c - manifest.json validation: every field's rule gives a
 * precise error naming the field. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static char *features, *model_json;

static void setup(void)
{
    features = read_text("tests/fixtures/lin_ols/features.tsv");
    model_json = read_text("tests/fixtures/lin_ols/model.json");
}

static void teardown(void)
{
    free(features);
    free(model_json);
}

TestSuite(manifest, .init = setup, .fini = teardown);

#define GOOD                                                                                       \
    "{\"name\":\"m\",\"version\":\"1\",\"task\":\"regression\",\"format\":\"genorisk-linear\","    \
    "\"artifact\":\"model.json\",\"features\":\"features.tsv\",\"genome_build\":\"GRCh38\""

static void expect(const char *manifest, gr_status st, const char *needle, const char *field)
{
    char *dir = temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json",
                            model_json, NULL);
    if (st == GR_OK) {
        gr_model *m = NULL;
        gr_error err;
        cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
        gr_model_free(m);
    } else {
        expect_load_error(dir, st, needle, field);
    }
    temp_bundle_free(dir);
}

Test(manifest, good_one_loads)
{
    expect(GOOD "}", GR_OK, NULL, NULL);
}
Test(manifest, optional_fields)
{
    expect(GOOD ",\"description\":\"d\",\"min_coverage\":0.5,\"$schema\":\"x\"}", GR_OK, NULL,
           NULL);
}
Test(manifest, invalid_json)
{
    expect(GOOD, GR_EMODEL, "invalid JSON", NULL);
}
Test(manifest, not_an_object)
{
    expect("[1]", GR_EMODEL, "JSON object", NULL);
}
Test(manifest, unknown_key)
{
    expect(GOOD ",\"genome_buid\":1}", GR_EMODEL, "unknown key", "genome_buid");
}
Test(manifest, duplicate_key)
{
    expect(GOOD ",\"name\":\"x\"}", GR_EMODEL, "duplicate", NULL);
}
Test(manifest, missing_name)
{
    expect("{\"version\":\"1\",\"task\":\"regression\",\"format\":\"genorisk-linear\","
           "\"artifact\":\"model.json\",\"features\":\"features.tsv\",\"genome_build\":\"GRCh38\"}",
           GR_EMODEL, "required", "name");
}
Test(manifest, bad_names)
{
    const char *bad[] = {
        "Upper", "-lead", "",
        "a b",   "x/y",   "a2345678901234567890123456789012345678901234567890123456789012345"
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char man[512];
        snprintf(man, sizeof man,
                 "{\"name\":\"%s\",\"version\":\"1\",\"task\":\"regression\",\"format\":\"genorisk-"
                 "linear\",\"artifact\":\"model.json\",\"features\":\"features.tsv\","
                 "\"genome_build\":\"GRCh38\"}",
                 bad[i]);
        expect(man, GR_EMODEL, "", "name");
    }
}
Test(manifest, wrong_type)
{
    expect(GOOD ",\"description\":3}", GR_EMODEL, "must be a string", "description");
}
Test(manifest, bad_task)
{
    char *m = replace_once(GOOD "}", "regression", "clustering");
    expect(m, GR_EMODEL, "classification", "task");
    free(m);
}
Test(manifest, unknown_format)
{
    char *m = replace_once(GOOD "}", "genorisk-linear", "onnx");
    expect(m, GR_EUNSUPPORTED, "unknown format", "format");
    free(m);
}
Test(manifest, bad_genome_build)
{
    char *m = replace_once(GOOD "}", "GRCh38", "hg19");
    expect(m, GR_EMODEL, "GRCh37", "genome_build");
    free(m);
}
Test(manifest, artifact_outside_bundle)
{
    char *m = replace_once(GOOD "}", "\"model.json\"", "\"../model.json\"");
    expect(m, GR_EMODEL, "inside the bundle", "artifact");
    free(m);
}
Test(manifest, features_required_for_non_pgs)
{
    char *m = replace_once(GOOD "}", ",\"features\":\"features.tsv\"", "");
    expect(m, GR_EMODEL, "required", "features");
    free(m);
}
Test(manifest, byte_order_mark_is_skipped)
{
    expect("\xEF\xBB\xBF" GOOD "}", GR_OK, NULL, NULL);
}

Test(manifest, impute_is_none_mean_or_cohort)
{
    expect(GOOD ",\"impute\":\"none\"}", GR_OK, NULL, NULL);
    expect(GOOD ",\"impute\":\"mean\"}", GR_OK, NULL, NULL);
    expect(GOOD ",\"impute\":\"cohort\"}", GR_OK, NULL, NULL);
    expect(GOOD ",\"impute\":\"median\"}", GR_EMODEL, "\"none\", \"mean\" or \"cohort\"", "impute");
    expect(GOOD ",\"impute\":null}", GR_EMODEL, "\"none\", \"mean\" or \"cohort\"", "impute");
}

/* The matching policy: a named set, then rules; a word out of place names
 * the key and its choices. */
Test(manifest, policy_and_its_rules)
{
    expect(GOOD ",\"policy\":\"pgsc\"}", GR_OK, NULL, NULL);
    expect(GOOD ",\"policy\":\"plink2\",\"ambiguous\":\"drop\",\"chrx\":\"skip\"}", GR_OK, NULL,
           NULL);
    expect(GOOD ",\"policy\":\"plink\"}", GR_EMODEL, "pgsc", "policy");
    expect(GOOD ",\"multiallelic\":\"yes\"}", GR_EMODEL, "drop or keep", "multiallelic");
    expect(GOOD ",\"chrx\":2}", GR_EMODEL, "must be a string", "chrx");
}

/* weight_transform is for scoring files of ratios; a linear model's
 * weights are its own. */
Test(manifest, weight_transform_is_for_pgs_catalog_only)
{
    expect(GOOD ",\"weight_transform\":\"none\"}", GR_OK, NULL, NULL);
    expect(GOOD ",\"weight_transform\":\"log\"}", GR_EMODEL, "pgs-catalog scoring files only",
           "weight_transform");
    expect(GOOD ",\"weight_transform\":1}", GR_EMODEL, "\"none\" or \"log\"", "weight_transform");
}

Test(manifest, impute_defaults_to_none_only_for_xgboost)
{
    gr_model *x = fixture_model("xgb_clf"), *l = fixture_model("lin_ols");
    cr_assert_eq(gr_model_get_info(x)->impute, GR_IMPUTE_NONE);
    cr_assert_eq(gr_model_get_info(l)->impute, GR_IMPUTE_MEAN);
    gr_model_free(x);
    gr_model_free(l);
}

Test(manifest, min_coverage_range)
{
    expect(GOOD ",\"min_coverage\":1.5}", GR_EMODEL, "0 to 1", "min_coverage");
}
Test(manifest, task_must_suit_link)
{
    char *m = replace_once(GOOD "}", "regression", "classification");
    expect(m, GR_EMODEL, "regression", "link");
    free(m);
}

Test(manifest, missing_directory_or_manifest)
{
    expect_load_error("/nonexistent/genorisk", GR_EIO, "cannot open", NULL);
    gr_model *m = (gr_model *)1;
    cr_assert_eq(gr_model_load("", &m, NULL), GR_EINVAL);
    cr_assert_null(m);
}

Test(manifest, pgs_rules)
{
    const char *pgs = "#genome_build=GRCh38\nchr_name\tchr_position\teffect_allele\teffect_weight\n"
                      "1\t5\tA\t0.1\n";
    char *dir = temp_bundle("manifest.json",
                            "{\"name\":\"p\",\"version\":\"1\",\"task\":\"classification\","
                            "\"format\":\"pgs-catalog\",\"artifact\":\"s.txt\","
                            "\"genome_build\":\"GRCh38\"}",
                            "s.txt", pgs, NULL);
    expect_load_error(dir, GR_EMODEL, "regression", "task");
    temp_bundle_free(dir);
    dir = temp_bundle("manifest.json",
                      "{\"name\":\"p\",\"version\":\"1\",\"task\":\"regression\","
                      "\"format\":\"pgs-catalog\",\"artifact\":\"s.txt\",\"features\":\"f.tsv\","
                      "\"genome_build\":\"GRCh38\"}",
                      "s.txt", pgs, NULL);
    expect_load_error(dir, GR_EMODEL, "remove this key", "features");
    temp_bundle_free(dir);
}
