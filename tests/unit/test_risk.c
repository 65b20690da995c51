/* test_risk.c - risk categories, the normal distribution and absolute risk
 * against SciPy (tests/fixtures/risk/risk.json, made by
 * tools/make_risk_fixture.py), and every validation error. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/risk.h"
#include "helpers.h"

#define FIXTURE "tests/fixtures/risk/risk.json"
#define REL_TOL 1e-9 /* the agreement asked of the models */

static json_t *fixture(void)
{
    json_error_t je;
    json_t *root = json_load_file(FIXTURE, 0, &je);
    cr_assert(root, "%s:%d: %s", FIXTURE, je.line, je.text);
    return root;
}

static double rel_err(double got, double want)
{
    return got == want ? 0 : fabs(got - want) / fabs(want);
}

/* ---- the normal distribution ---- */

Test(risk, quantile_agrees_with_scipy_into_the_tails)
{
    json_t *root = fixture(), *q = json_object_get(root, "quantile");
    size_t n = json_array_size(json_object_get(q, "p"));
    double worst = 0;
    cr_assert_gt(n, 200);
    for (size_t i = 0; i < n; i++) {
        double p = json_num_at(q, "p", i), want = json_num_at(q, "x", i), got = gr_norm_quantile(p);
        /* at p = 1/2 SciPy gives 0 exactly, as must we */
        double e = want == 0 ? fabs(got) : rel_err(got, want);
        cr_assert(e <= 1e-14, "p=%.17g: %.17g vs scipy %.17g (rel %.3g)", p, got, want, e);
        worst = fmax(worst, e);
    }
    cr_log_info("quantile: %zu points, worst relative difference from scipy %.3g", n, worst);
    json_decref(root);
}

Test(risk, cdf_agrees_with_scipy_into_the_lower_tail)
{
    json_t *root = fixture(), *c = json_object_get(root, "cdf");
    size_t n = json_array_size(json_object_get(c, "x"));
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double x = json_num_at(c, "x", i), want = json_num_at(c, "p", i),
               e = rel_err(gr_norm_cdf(x), want);
        cr_assert(e <= 1e-13, "x=%g: %.17g vs scipy %.17g", x, gr_norm_cdf(x), want);
        worst = fmax(worst, e);
    }
    cr_log_info("cdf: %zu points, worst relative difference from scipy %.3g", n, worst);
    json_decref(root);
}

Test(risk, quantile_edges_and_symmetry)
{
    cr_assert(isinf(gr_norm_quantile(0)) && gr_norm_quantile(0) < 0);
    cr_assert(isinf(gr_norm_quantile(1)) && gr_norm_quantile(1) > 0);
    cr_assert(isnan(gr_norm_quantile(-1e-300)));
    cr_assert(isnan(gr_norm_quantile(1.0000000000000002)));
    cr_assert(isnan(gr_norm_quantile(NAN)));
    cr_assert_eq(gr_norm_quantile(0.5), 0);
    for (double p = 0.001; p < 0.5; p += 0.0137)
        cr_assert_eq(gr_norm_quantile(1 - p), -gr_norm_quantile(1 - (1 - p)));
    /* the round trip, where Phi's own accuracy allows */
    for (double p = 1e-12; p < 0.5; p *= 3.7)
        cr_assert(rel_err(gr_norm_cdf(gr_norm_quantile(p)), p) <= 1e-14, "p=%g", p);
}

/* ---- absolute risk against SciPy ---- */

static double check_risks(const json_t *c, const gr_risk_model *m)
{
    double worst = 0;
    for (size_t j = 0; j < json_array_size(json_object_get(c, "z")); j++) {
        double z = json_num_at(c, "z", j), want = json_num_at(c, "risk", j),
               got = gr_risk_absolute(m, z);
        double e = rel_err(got, want);
        cr_assert(e <= REL_TOL, "K=%g z=%g: risk %.17g vs scipy %.17g", json_num(c, "prevalence"),
                  z, got, want);
        worst = fmax(worst, e);
    }
    return worst;
}

Test(risk, liability_r2_and_risks_agree_with_scipy)
{
    json_t *root = fixture(), *cases = json_object_get(root, "liability");
    double worst_r2 = 0, worst_t = 0, worst_risk = 0;
    cr_assert_gt(json_array_size(cases), 50);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        double K = json_num(c, "prevalence"), auc = json_num(c, "auc");
        gr_risk_model *m = NULL;
        gr_error err;
        cr_assert_eq(gr_risk_model_new(GR_RISK_LIABILITY_AUC, K, auc, &m, &err), GR_OK,
                     "K=%g AUC=%g: %s", K, auc, err.text);
        double e = rel_err(gr_risk_model_r2(m), json_num(c, "r2"));
        cr_assert(e <= REL_TOL, "K=%g AUC=%g: R2 %.17g vs scipy %.17g", K, auc, gr_risk_model_r2(m),
                  json_num(c, "r2"));
        worst_r2 = fmax(worst_r2, e);
        worst_t = fmax(worst_t, rel_err(gr_risk_model_threshold(m), json_num(c, "threshold")));
        worst_risk = fmax(worst_risk, check_risks(c, m));
        cr_assert(isnan(gr_risk_model_intercept(m)));
        gr_risk_model_free(m);
    }
    cr_assert(worst_t <= 1e-14);
    cr_log_info("liability: %zu cases, worst relative difference: R2 %.3g, T %.3g, risk %.3g",
                json_array_size(cases), worst_r2, worst_t, worst_risk);
    json_decref(root);
}

Test(risk, logistic_intercept_and_risks_agree_with_scipy)
{
    json_t *root = fixture(), *cases = json_object_get(root, "logistic");
    double worst_a = 0, worst_risk = 0;
    cr_assert_gt(json_array_size(cases), 50);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        double K = json_num(c, "prevalence"), odds = json_num(c, "odds_ratio"),
               want = json_num(c, "intercept");
        gr_risk_model *m = NULL;
        gr_error err;
        cr_assert_eq(gr_risk_model_new(GR_RISK_LOGISTIC_OR, K, odds, &m, &err), GR_OK,
                     "K=%g OR=%g: %s", K, odds, err.text);
        /* relative to 1 at least: at K = 1/2 the intercept is 0 */
        double e = fabs(gr_risk_model_intercept(m) - want) / fmax(1, fabs(want));
        cr_assert(e <= REL_TOL, "K=%g OR=%g: intercept %.17g vs scipy %.17g", K, odds,
                  gr_risk_model_intercept(m), want);
        worst_a = fmax(worst_a, e);
        worst_risk = fmax(worst_risk, check_risks(c, m));
        cr_assert(isnan(gr_risk_model_r2(m)) && isnan(gr_risk_model_threshold(m)));
        gr_risk_model_free(m);
    }
    cr_log_info("logistic: %zu cases, worst difference: intercept %.3g, risk %.3g (relative)",
                json_array_size(cases), worst_a, worst_risk);
    json_decref(root);
}

Test(risk, an_auc_no_score_reaches_at_the_prevalence_is_refused_with_the_maximum)
{
    json_t *root = fixture(), *cases = json_object_get(root, "unreachable");
    cr_assert_gt(json_array_size(cases), 0);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        gr_risk_model *m = (gr_risk_model *)&m;
        gr_error err;
        char max[32];
        cr_assert_eq(gr_risk_model_new(GR_RISK_LIABILITY_AUC, json_num(c, "prevalence"),
                                       json_num(c, "auc"), &m, &err),
                     GR_EINVAL);
        cr_assert_null(m);
        cr_assert_str_eq(err.field, "auc");
        snprintf(max, sizeof max, "at most %.6g,", json_num(c, "max_auc"));
        cr_assert(strstr(err.text, max), "%s lacks %s", err.text, max);
    }
    json_decref(root);
}

/* ---- the models' edges ---- */

static gr_risk_model *model(gr_risk_method method, double K, double effect)
{
    gr_risk_model *m = NULL;
    cr_assert_eq(gr_risk_model_new(method, K, effect, &m, NULL), GR_OK);
    return m;
}

Test(risk, infinite_scores_give_certainty_and_nan_gives_nan)
{
    gr_risk_method methods[] = { GR_RISK_LIABILITY_AUC, GR_RISK_LOGISTIC_OR };
    double effects[] = { 0.7, 1.5 };
    for (int i = 0; i < 2; i++) {
        gr_risk_model *m = model(methods[i], 0.1, effects[i]);
        cr_assert_eq(gr_risk_absolute(m, INFINITY), 1);
        cr_assert_eq(gr_risk_absolute(m, -INFINITY), 0);
        cr_assert(isnan(gr_risk_absolute(m, NAN)));
        cr_assert(gr_risk_absolute(m, 1) > gr_risk_absolute(m, 0));
        gr_risk_model_free(m);
    }
    gr_risk_model_free(NULL);
}

Test(risk, accessors_return_what_was_given)
{
    gr_risk_model *m = model(GR_RISK_LOGISTIC_OR, 0.05, 2);
    cr_assert_eq(gr_risk_model_method(m), GR_RISK_LOGISTIC_OR);
    cr_assert_eq(gr_risk_model_prevalence(m), 0.05);
    cr_assert_eq(gr_risk_model_effect(m), 2);
    gr_risk_model_free(m);
}

Test(risk, the_extreme_prevalences_allowed_still_solve)
{
    double Ks[] = { 1e-12, 1 - 1e-12 };
    for (int i = 0; i < 2; i++) {
        gr_risk_model *m = model(GR_RISK_LOGISTIC_OR, Ks[i], 1000);
        cr_assert(isfinite(gr_risk_model_intercept(m)));
        gr_risk_model_free(m);
        m = model(GR_RISK_LIABILITY_AUC, Ks[i], 0.6);
        cr_assert(gr_risk_model_r2(m) > 0 && gr_risk_model_r2(m) < 1);
        gr_risk_model_free(m);
    }
}

Test(risk, assumptions_are_listed_for_each_method)
{
    gr_risk_method methods[] = { GR_RISK_LIABILITY_AUC, GR_RISK_LOGISTIC_OR };
    const char *key[] = { "threshold", "log-odds" };
    double effects[] = { 0.7, 1.5 };
    for (int i = 0; i < 2; i++) {
        gr_risk_model *m = model(methods[i], 0.1, effects[i]);
        size_t n = 0;
        const char *const *a = gr_risk_assumptions(m, &n);
        int normal = 0, specific = 0;
        cr_assert_geq(n, 4);
        for (size_t j = 0; j < n; j++) {
            cr_assert(a[j] && a[j][0]);
            normal |= strstr(a[j], "normally distributed") != NULL;
            specific |= strstr(a[j], key[i]) != NULL;
        }
        cr_assert(normal && specific);
        gr_risk_model_free(m);
    }
}

/* ---- validation of a model ---- */

static void expect_model_error(gr_risk_method method, double K, double effect, const char *field,
                               const char *needle)
{
    gr_risk_model *m = (gr_risk_model *)&m;
    gr_error err;
    cr_assert_eq(gr_risk_model_new(method, K, effect, &m, &err), GR_EINVAL, "K=%g effect=%g", K,
                 effect);
    cr_assert_null(m);
    cr_assert_eq(err.status, GR_EINVAL);
    cr_assert_str_eq(err.field, field);
    cr_assert(strstr(err.text, needle), "'%s' lacks '%s'", err.text, needle);
}

Test(risk, every_model_validation_error)
{
    expect_model_error((gr_risk_method)7, 0.1, 0.7, "method", "unknown risk method 7");
    double bad_K[] = { 0, 1, -0.1, 1.5, 1e-13, 1 - 1e-13, NAN, INFINITY };
    for (size_t i = 0; i < sizeof bad_K / sizeof bad_K[0]; i++) {
        expect_model_error(GR_RISK_LIABILITY_AUC, bad_K[i], 0.7, "prevalence", "a prevalence");
        expect_model_error(GR_RISK_LOGISTIC_OR, bad_K[i], 1.5, "prevalence", "a prevalence");
    }
    double bad_auc[] = { 0.5, 1, 0.3, 1.2, NAN };
    for (size_t i = 0; i < sizeof bad_auc / sizeof bad_auc[0]; i++)
        expect_model_error(GR_RISK_LIABILITY_AUC, 0.1, bad_auc[i], "auc", "an AUC must be");
    expect_model_error(GR_RISK_LIABILITY_AUC, 0.1, 0.4, "auc", "negate it and give 1 - AUC");
    double bad_or[] = { 1, 0.5, 0, -2, 1000.5, INFINITY, NAN };
    for (size_t i = 0; i < sizeof bad_or / sizeof bad_or[0]; i++)
        expect_model_error(GR_RISK_LOGISTIC_OR, 0.1, bad_or[i], "odds_ratio",
                           "an odds ratio per SD must be");
    expect_model_error(GR_RISK_LOGISTIC_OR, 0.1, 0.8, "odds_ratio", "negate it and give 1 / OR");
}

/* ---- categories ---- */

Test(risk, default_categories_at_their_boundaries)
{
    const gr_risk_spec *s = gr_risk_spec_default();
    cr_assert_eq(gr_risk_spec_check(s, NULL), GR_OK);
    struct {
        double p;
        const char *name;
    } cases[] = { { 0, "low" },
                  { 19.999999, "low" },
                  { 20, "average" },
                  { 50, "average" },
                  { nextafter(80, 0), "average" },
                  { 80, "elevated" },
                  { 94.99, "elevated" },
                  { 95, "high" },
                  { 99.5, "high" },
                  { 100, "high" } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_str_eq(gr_risk_category(s, cases[i].p), cases[i].name, "percentile %.17g",
                         cases[i].p);
    cr_assert_null(gr_risk_category(s, -0.001));
    cr_assert_null(gr_risk_category(s, 100.001));
    cr_assert_null(gr_risk_category(s, NAN));
}

Test(risk, a_single_category_covers_everything)
{
    gr_risk_category_def one[] = { { "all", 0 } };
    gr_risk_spec s = { one, 1 };
    cr_assert_eq(gr_risk_spec_check(&s, NULL), GR_OK);
    cr_assert_str_eq(gr_risk_category(&s, 0), "all");
    cr_assert_str_eq(gr_risk_category(&s, 100), "all");
}

static void expect_spec_error(const gr_risk_category_def *cats, size_t n, const char *field,
                              const char *needle)
{
    gr_risk_spec s = { cats, n };
    gr_error err;
    cr_assert_eq(gr_risk_spec_check(&s, &err), GR_EINVAL, "expected %s", field);
    cr_assert_eq(err.status, GR_EINVAL);
    cr_assert_str_eq(err.field, field);
    cr_assert(strstr(err.text, needle), "'%s' lacks '%s'", err.text, needle);
}

Test(risk, every_category_validation_error)
{
    gr_error err;
    cr_assert_eq(gr_risk_spec_check(NULL, &err), GR_EINVAL);
    cr_assert_str_eq(err.field, "categories");
    gr_risk_category_def ok[] = { { "low", 0 }, { "high", 90 } };
    expect_spec_error(ok, 0, "categories", "at least one");
    expect_spec_error(NULL, 2, "categories", "at least one");

    gr_risk_category_def empty[] = { { "low", 0 }, { "", 50 } };
    expect_spec_error(empty, 2, "categories[1].name", "non-empty name");
    gr_risk_category_def null_name[] = { { NULL, 0 } };
    expect_spec_error(null_name, 1, "categories[0].name", "non-empty name");
    gr_risk_category_def first[] = { { "low", 5 }, { "high", 90 } };
    expect_spec_error(first, 2, "categories[0].lower", "start at percentile 0");
    gr_risk_category_def negative[] = { { "low", -1 }, { "high", 90 } };
    expect_spec_error(negative, 2, "categories[0].lower", "within [0, 100)");
    gr_risk_category_def hundred[] = { { "low", 0 }, { "top", 100 } };
    expect_spec_error(hundred, 2, "categories[1].lower", "within [0, 100)");
    gr_risk_category_def nan[] = { { "low", 0 }, { "mid", NAN } };
    expect_spec_error(nan, 2, "categories[1].lower", "within [0, 100)");
    gr_risk_category_def equal[] = { { "low", 0 }, { "mid", 50 }, { "high", 50 } };
    expect_spec_error(equal, 3, "categories[2].lower", "strictly increasing");
    gr_risk_category_def down[] = { { "low", 0 }, { "mid", 60 }, { "high", 40 } };
    expect_spec_error(down, 3, "categories[2].lower", "strictly increasing");
}
