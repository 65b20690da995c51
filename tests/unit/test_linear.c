/* test_linear.c - genorisk-linear models against scikit-learn's
 * predict_proba/predict, and their exact SHAP values
 * phi_i = w_i (x_i - mean_i), base = intercept + sum w_i mean_i. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "helpers.h"

static void check(const char *name)
{
    gr_model *m = fixture_model(name);
    fixture_cases fc;
    fixture_cases_load(name, &fc);
    size_t n = fc.cols;
    gr_workspace *ws = gr_workspace_new(m);
    double *phi = malloc(n * sizeof *phi);
    const gr_linear *l = m->linear;
    for (size_t r = 0; r < fc.rows; r++) {
        const double *x = fc.X + r * n;
        gr_prediction p;
        cr_assert_eq(gr_predict(m, ws, x, &p, phi, NULL, NULL), GR_OK);
        cr_assert(fabs(p.score - fc.score[r]) <= 1e-9, "%s row %zu: %.17g vs sklearn %.17g", name,
                  r, p.score, fc.score[r]);
        cr_assert(fabs(p.margin - fc.margin[r]) <= 1e-9 * fmax(1, fabs(fc.margin[r])));
        double base = l->intercept, sum;
        for (size_t j = 0; j < n; j++) {
            double w = l->c[3 * j + 1], mean = gr_model_feature(m, j)->mean;
            double mu = isnan(mean) ? 0 : mean;
            base += w * mu;
            double want = isnan(x[j]) ? 0 : w * (x[j] - mu);
            cr_assert(fabs(phi[j] - want) <= 1e-12, "%s row %zu feature %zu", name, r, j);
        }
        cr_assert(fabs(p.base_value - base) <= 1e-9);
        sum = p.base_value;
        for (size_t j = 0; j < n; j++)
            sum += phi[j];
        cr_assert(fabs(sum - p.margin) <= 1e-9 * fmax(1, fabs(p.margin)));
    }
    free(phi);
    gr_workspace_free(ws);
    fixture_cases_free(&fc);
    gr_model_free(m);
}

Test(linear, logistic_regression)
{
    check("lin_logistic");
}
Test(linear, ordinary_least_squares)
{
    check("lin_ols");
}
Test(linear, ridge)
{
    check("lin_ridge");
}
Test(linear, lasso)
{
    check("lin_lasso");
}
Test(linear, elastic_net)
{
    check("lin_enet");
}

Test(linear, space_and_method)
{
    gr_model *m = fixture_model("lin_logistic");
    cr_assert_eq(gr_model_get_info(m)->space, GR_SPACE_MARGIN);
    cr_assert_str_eq(gr_model_get_info(m)->explain_method, "linear_exact");
    gr_model_free(m);
    m = fixture_model("lin_ols");
    cr_assert_eq(gr_model_get_info(m)->space, GR_SPACE_IDENTITY);
    gr_model_free(m);
}

Test(linear, missing_with_mean_is_imputed_without_mean_adds_nothing)
{
    const char *manifest =
        "{\"name\":\"lin\",\"version\":\"1\",\"task\":\"regression\",\"format\":\"genorisk-"
        "linear\","
        "\"artifact\":\"model.json\",\"features\":\"features.tsv\",\"genome_build\":\"GRCh38\"}";
    const char *features = "feature_id\tchrom\tpos\tref\talt\tmean\n"
                           "a\t1\t10\tA\tG\t0.5\n"
                           "b\t1\t20\tC\tT\t\n";
    const char *model = "{\"format\":\"genorisk-linear\",\"intercept\":1.0,\"weights\":[2.0,3.0],"
                        "\"link\":\"identity\"}";
    char *dir =
        temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json", model, NULL);
    gr_model *m = NULL;
    cr_assert_eq(gr_model_load(dir, &m, NULL), GR_OK);
    gr_workspace *ws = gr_workspace_new(m);
    double x[2] = { NAN, NAN }, phi[2], used[2];
    gr_prediction p;
    cr_assert_eq(gr_predict(m, ws, x, &p, phi, used, NULL), GR_OK);
    cr_assert_float_eq(p.margin, 1.0 + 2.0 * 0.5, 1e-15);
    cr_assert_eq(p.n_imputed, 1);
    cr_assert_eq(p.n_missing, 1);
    cr_assert_eq(p.n_observed, 0);
    cr_assert_float_eq(used[0], 0.5, 0);
    cr_assert(isnan(used[1]));
    cr_assert_float_eq(phi[0], 0, 1e-15);
    cr_assert_float_eq(phi[1], 0, 1e-15);
    x[0] = 2;
    x[1] = 1;
    cr_assert_eq(gr_predict(m, ws, x, &p, phi, used, NULL), GR_OK);
    cr_assert_float_eq(p.margin, 1 + 4 + 3, 1e-15);
    cr_assert_float_eq(phi[0], 2 * (2 - 0.5), 1e-15);
    cr_assert_float_eq(phi[1], 3, 1e-15);
    cr_assert_float_eq(p.base_value, 1 + 1, 1e-15);
    gr_workspace_free(ws);
    gr_model_free(m);
    temp_bundle_free(dir);
}

Test(linear, weight_count_mismatch)
{
    char *manifest = read_text("tests/fixtures/lin_ols/manifest.json");
    char *features = read_text("tests/fixtures/lin_ols/features.tsv");
    char *dir = temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json",
                            "{\"format\":\"genorisk-linear\",\"intercept\":0,\"weights\":[1,2],"
                            "\"link\":\"identity\"}",
                            NULL);
    expect_load_error(dir, GR_EMODEL, "2 weights", "weights");
    temp_bundle_free(dir);
    dir = temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json",
                      "{\"format\":\"genorisk-linear\",\"intercept\":\"0\",\"weights\":[],"
                      "\"link\":\"identity\"}",
                      NULL);
    expect_load_error(dir, GR_EMODEL, "weights", "weights");
    temp_bundle_free(dir);
    free(manifest);
    free(features);
}
