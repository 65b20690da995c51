/* test_trees.c - genorisk-trees models exported from scikit-learn: scores
 * against predict_proba/predict (1e-9), SHAP against brute-force Shapley
 * enumeration, and malformed artifacts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static void check(const char *name, gr_space space)
{
    gr_model *m = fixture_model(name);
    fixture_cases fc;
    fixture_cases_load(name, &fc);
    const gr_model_info *in = gr_model_get_info(m);
    cr_assert_eq(in->space, space, "%s: space %d", name, in->space);
    size_t n = fc.cols;
    gr_workspace *ws = gr_workspace_new(m);
    double phi[16], bf[16];
    for (size_t r = 0; r < fc.rows; r++) {
        const double *x = fc.X + r * n;
        gr_prediction p;
        cr_assert_eq(gr_predict(m, ws, x, &p, phi, NULL, NULL), GR_OK);
        cr_assert(fabs(p.score - fc.score[r]) <= 1e-9, "%s row %zu: score %.17g, sklearn %.17g",
                  name, r, p.score, fc.score[r]);
        cr_assert(fabs(p.margin - fc.margin[r]) <= 1e-9, "%s row %zu: margin %.17g, sklearn %.17g",
                  name, r, p.margin, fc.margin[r]);
        double base = brute_force_tree_shap(m, x, bf);
        cr_assert(fabs(p.base_value - base) <= 1e-9, "%s row %zu: base %.17g vs %.17g", name, r,
                  p.base_value, base);
        double sum = p.base_value;
        for (size_t j = 0; j < n; j++) {
            cr_assert(fabs(phi[j] - bf[j]) <= 1e-9, "%s row %zu feature %zu: %.17g vs brute %.17g",
                      name, r, j, phi[j], bf[j]);
            sum += phi[j];
        }
        double explained = space == GR_SPACE_PROBABILITY ? p.score : p.margin;
        cr_assert(fabs(sum - explained) <= 1e-9 * fmax(1, fabs(explained)));
    }
    gr_workspace_free(ws);
    fixture_cases_free(&fc);
    gr_model_free(m);
}

Test(trees, random_forest_classifier)
{
    check("sk_rf_clf", GR_SPACE_PROBABILITY);
}
Test(trees, random_forest_classifier_weighted)
{
    check("sk_rf_clf_weighted", GR_SPACE_PROBABILITY);
}
Test(trees, random_forest_regressor)
{
    check("sk_rf_reg", GR_SPACE_IDENTITY);
}
Test(trees, extra_trees_classifier)
{
    check("sk_et_clf", GR_SPACE_PROBABILITY);
}
Test(trees, extra_trees_regressor)
{
    check("sk_et_reg", GR_SPACE_IDENTITY);
}
Test(trees, gradient_boosting_classifier)
{
    check("sk_gb_clf", GR_SPACE_MARGIN);
}
Test(trees, gradient_boosting_regressor)
{
    check("sk_gb_reg", GR_SPACE_IDENTITY);
}
Test(trees, decision_tree_classifier)
{
    check("sk_dt_clf", GR_SPACE_PROBABILITY);
}
Test(trees, decision_tree_regressor)
{
    check("sk_dt_reg", GR_SPACE_IDENTITY);
}

Test(trees, missing_value_without_mean_takes_default_branch)
{
    /* default_left marks the heavier child; a NaN must follow it, and SHAP
     * must still add up. */
    gr_model *m = fixture_model("sk_dt_reg");
    gr_workspace *ws = gr_workspace_new(m);
    double x[10], phi[10], bf[10];
    for (int i = 0; i < 10; i++)
        x[i] = NAN;
    gr_prediction p;
    cr_assert_eq(gr_predict(m, ws, x, &p, phi, NULL, NULL), GR_OK);
    double base = brute_force_tree_shap(m, x, bf);
    double sum = p.base_value;
    for (int j = 0; j < 10; j++) {
        cr_assert(fabs(phi[j] - bf[j]) < 1e-9);
        sum += phi[j];
    }
    cr_assert(fabs(base - p.base_value) < 1e-9);
    cr_assert(fabs(sum - p.margin) < 1e-9);
    gr_workspace_free(ws);
    gr_model_free(m);
}

/* ---- malformed artifacts ---- */

static char *manifest, *features, *model_json;

static void load_originals(void)
{
    manifest = read_text("tests/fixtures/sk_rf_clf/manifest.json");
    features = read_text("tests/fixtures/sk_rf_clf/features.tsv");
    model_json = read_text("tests/fixtures/sk_rf_clf/model.json");
}

static void free_originals(void)
{
    free(manifest);
    free(features);
    free(model_json);
}

static void broken_json(json_t *root, gr_status st, const char *needle, const char *field)
{
    char *bad = json_dumps(root, 0);
    char *dir =
        temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json", bad, NULL);
    expect_load_error(dir, st, needle, field);
    temp_bundle_free(dir);
    free(bad);
    json_decref(root);
}

static json_t *tree0(json_t *root)
{
    return json_array_get(json_object_get(root, "trees"), 0);
}

TestSuite(trees_bad, .init = load_originals, .fini = free_originals);

Test(trees_bad, feature_count_mismatch)
{
    json_t *r = json_loads(model_json, 0, NULL);
    json_object_set_new(r, "n_features", json_integer(11));
    broken_json(r, GR_EMODEL, "10 features", "n_features");
}

Test(trees_bad, empty_forest)
{
    json_t *r = json_loads(model_json, 0, NULL);
    json_object_set_new(r, "trees", json_array());
    broken_json(r, GR_EMODEL, "empty", "trees");
}

Test(trees_bad, cyclic_tree)
{
    json_t *r = json_loads(model_json, 0, NULL);
    json_t *cl = json_object_get(tree0(r), "children_left");
    json_array_set_new(cl, 0, json_integer(0));
    broken_json(r, GR_EMODEL, "reached twice", "trees[0]");
}

Test(trees_bad, shared_child)
{
    json_t *r = json_loads(model_json, 0, NULL);
    json_t *cl = json_object_get(tree0(r), "children_left");
    json_t *cr = json_object_get(tree0(r), "children_right");
    json_array_set(cr, 0, json_array_get(cl, 0));
    broken_json(r, GR_EMODEL, "children", "trees[0]");
}

Test(trees_bad, split_feature_out_of_range)
{
    json_t *r = json_loads(model_json, 0, NULL);
    json_array_set_new(json_object_get(tree0(r), "feature"), 0, json_integer(10));
    broken_json(r, GR_EMODEL, "splits on feature 10", "trees[0]");
}

Test(trees_bad, array_length_mismatch)
{
    json_t *r = json_loads(model_json, 0, NULL);
    json_array_append_new(json_object_get(tree0(r), "value"), json_real(0.5));
    broken_json(r, GR_EMODEL, "entries", "trees[0].value");
}

Test(trees_bad, negative_cover)
{
    json_t *r = json_loads(model_json, 0, NULL);
    json_array_set_new(json_object_get(tree0(r), "cover"), 0, json_real(-1));
    broken_json(r, GR_EMODEL, "cover", "trees[0]");
}

Test(trees_bad, wrong_type)
{
    json_t *r = json_loads(model_json, 0, NULL);
    json_array_set_new(json_object_get(tree0(r), "threshold"), 0, json_string("0.5"));
    broken_json(r, GR_EMODEL, "not a finite number", "trees[0].threshold[0]");
}

Test(trees_bad, unknown_link)
{
    json_t *r = json_loads(model_json, 0, NULL);
    json_object_set_new(r, "link", json_string("probit"));
    broken_json(r, GR_EMODEL, "identity", "link");
}

Test(trees_bad, logistic_link_needs_classification)
{
    char *man = replace_once(manifest, "\"classification\"", "\"regression\"");
    json_t *r = json_loads(model_json, 0, NULL);
    json_object_set_new(r, "link", json_string("logistic"));
    char *bad = json_dumps(r, 0);
    char *dir =
        temp_bundle("manifest.json", man, "features.tsv", features, "model.json", bad, NULL);
    expect_load_error(dir, GR_EMODEL, "classification", "link");
    temp_bundle_free(dir);
    free(bad);
    free(man);
    json_decref(r);
}
