/* test_xgboost.c - xgboost-json models: margins, scores and SHAP values
 * against XGBoost 1.7's own predict / pred_contribs (tools/make_fixtures.py),
 * and every kind of malformed model file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/predict_run.h"
#include "core/json_arrays.h"
#include "helpers.h"

static void check_parity(const char *name, double tol)
{
    gr_model *m = fixture_model(name);
    fixture_cases fc;
    fixture_cases_load(name, &fc);
    size_t n = fc.cols;
    cr_assert_eq(gr_model_get_info(m)->n_features, n);
    gr_workspace *ws = gr_workspace_new(m);
    double *phi = malloc(n * sizeof *phi);
    for (size_t r = 0; r < fc.rows; r++) {
        gr_prediction p;
        gr_error err;
        cr_assert_eq(gr_predict(m, ws, fc.X + r * n, &p, phi, NULL, &err), GR_OK, "%s", err.text);
        cr_assert(fabs(p.margin - fc.margin[r]) <= tol, "%s row %zu: margin %.9g, xgboost %.9g",
                  name, r, p.margin, fc.margin[r]);
        cr_assert(fabs(p.score - fc.score[r]) <= tol, "%s row %zu: score %.9g, xgboost %.9g", name,
                  r, p.score, fc.score[r]);
        const double *c = fc.contribs + r * (n + 1);
        cr_assert(fabs(p.base_value - c[n]) <= tol, "%s row %zu: base %.9g, xgboost bias %.9g",
                  name, r, p.base_value, c[n]);
        double sum = p.base_value;
        for (size_t j = 0; j < n; j++) {
            cr_assert(fabs(phi[j] - c[j]) <= tol, "%s row %zu feature %zu: phi %.9g, xgboost %.9g",
                      name, r, j, phi[j], c[j]);
            sum += phi[j];
        }
        cr_assert(fabs(sum - p.margin) <= 1e-6 * fmax(1, fabs(p.margin)),
                  "%s row %zu: additivity %.12g vs margin %.12g", name, r, sum, p.margin);
    }
    free(phi);
    gr_workspace_free(ws);
    fixture_cases_free(&fc);
    gr_model_free(m);
}

Test(xgboost, classifier_matches_xgboost)
{
    check_parity("xgb_clf", 1e-5);
}
Test(xgboost, missing_values_and_base_score)
{
    check_parity("xgb_clf_missing", 1e-5);
}
Test(xgboost, regression_with_base_score)
{
    check_parity("xgb_reg", 1e-5);
}
Test(xgboost, deep_trees)
{
    check_parity("xgb_deep", 1e-5);
}
Test(xgboost, fractional_dosages_compare_in_float)
{
    check_parity("xgb_fractional", 1e-5);
}

Test(xgboost, logitraw_margin_and_probability)
{
    /* XGBoost's predict() returns the margin for binary:logitraw; genorisk
     * reports it as margin and its logistic as the score. */
    gr_model *m = fixture_model("xgb_logitraw");
    fixture_cases fc;
    fixture_cases_load("xgb_logitraw", &fc);
    gr_workspace *ws = gr_workspace_new(m);
    for (size_t r = 0; r < fc.rows; r++) {
        gr_prediction p;
        cr_assert_eq(gr_predict(m, ws, fc.X + r * fc.cols, &p, NULL, NULL, NULL), GR_OK);
        cr_assert(fabs(p.margin - fc.margin[r]) < 1e-5);
        cr_assert(fabs(p.score - 1 / (1 + exp(-fc.margin[r]))) < 1e-6);
    }
    gr_workspace_free(ws);
    fixture_cases_free(&fc);
    gr_model_free(m);
}

/* A model loaded on several threads is the model loaded on one: every
 * fixture's margins, scores and SHAP values equal to the bit. */
Test(xgboost, loaded_on_threads_it_is_the_same_model)
{
    static const char *const names[] = { "xgb_clf", "xgb_clf_missing", "xgb_deep", "xgb_reg" };
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char dir[128];
        snprintf(dir, sizeof dir, "tests/fixtures/%s", names[k]);
        gr_model *one, *four;
        gr_error err;
        cr_assert_eq(gr_model_load(dir, &one, &err), GR_OK, "%s", err.text);
        cr_assert_eq(gr_model_load_threads(dir, 4, &four, &err), GR_OK, "%s", err.text);
        cr_assert_str_eq(gr_model_get_info(one)->sha256, gr_model_get_info(four)->sha256);
        fixture_cases fc;
        fixture_cases_load(names[k], &fc);
        size_t n = fc.cols;
        gr_workspace *w1 = gr_workspace_new(one), *w4 = gr_workspace_new(four);
        double *p1 = malloc((n + 1) * sizeof *p1), *p4 = malloc((n + 1) * sizeof *p4);
        for (size_t r = 0; r < fc.rows; r++) {
            gr_prediction a, b;
            cr_assert_eq(gr_predict(one, w1, fc.X + r * n, &a, p1, NULL, NULL), GR_OK);
            cr_assert_eq(gr_predict(four, w4, fc.X + r * n, &b, p4, NULL, NULL), GR_OK);
            cr_assert(!memcmp(&a.margin, &b.margin, sizeof a.margin) &&
                          !memcmp(&a.score, &b.score, sizeof a.score) &&
                          !memcmp(p1, p4, n * sizeof *p1),
                      "%s row %zu differs", names[k], r);
        }
        free(p1);
        free(p4);
        gr_workspace_free(w1);
        gr_workspace_free(w4);
        fixture_cases_free(&fc);
        gr_model_free(one);
        gr_model_free(four);
    }
}

Test(xgboost, info_describes_the_model)
{
    gr_model *m = fixture_model("xgb_clf");
    const gr_model_info *in = gr_model_get_info(m);
    cr_assert_str_eq(in->name, "xgb_clf");
    cr_assert_eq(in->format, GR_FORMAT_XGBOOST_JSON);
    cr_assert_eq(in->space, GR_SPACE_MARGIN);
    cr_assert_eq(in->n_trees, 30);
    cr_assert(in->max_depth >= 1 && in->max_depth <= 4);
    cr_assert(strstr(in->algorithm, "xgboost 1.7"));
    cr_assert_str_eq(in->explain_method, "tree_shap_path_dependent");
    gr_model_free(m);
}

Test(xgboost, out_of_range_dosage_is_input_error)
{
    gr_model *m = fixture_model("xgb_clf");
    gr_workspace *ws = gr_workspace_new(m);
    double x[40];
    for (int i = 0; i < 40; i++)
        x[i] = 1;
    x[7] = 2.5;
    gr_prediction p;
    gr_error err;
    cr_assert_eq(gr_predict(m, ws, x, &p, NULL, NULL, &err), GR_EINPUT);
    cr_assert_str_eq(err.field, gr_model_feature(m, 7)->id);
    x[7] = INFINITY;
    cr_assert_eq(gr_predict(m, ws, x, &p, NULL, NULL, &err), GR_EINPUT);
    x[7] = -0.1;
    cr_assert_eq(gr_predict(m, ws, x, &p, NULL, NULL, &err), GR_EINPUT);
    gr_workspace_free(ws);
    gr_model_free(m);
}

Test(xgboost, workspace_of_another_model_is_refused)
{
    gr_model *a = fixture_model("xgb_clf"), *b = fixture_model("xgb_reg");
    gr_workspace *ws = gr_workspace_new(b);
    double x[40] = { 0 };
    gr_prediction p;
    cr_assert_eq(gr_predict(a, ws, x, &p, NULL, NULL, NULL), GR_EINVAL);
    gr_workspace_free(ws);
    gr_model_free(a);
    gr_model_free(b);
}

/* ---- missing genotypes in every input form (xgb_clf_missing: trained
 * with NaN, features.tsv with means, as docs/model-format.md recommends) ---- */

/* Checks a response's results against XGBoost's margin and pred_contribs
 * for every fixture row, every feature explained (top_k 0). */
static void check_response(const char *form, json_t *doc, const fixture_cases *fc, double tol)
{
    json_t *res = json_object_get(doc, "results");
    size_t n = fc->cols;
    cr_assert_eq(json_array_size(res), fc->rows, "%s", form);
    for (size_t r = 0; r < fc->rows; r++) {
        json_t *one = json_array_get(res, r);
        double margin = json_number_value(json_object_get(one, "margin"));
        cr_assert(fabs(margin - fc->margin[r]) <= tol, "%s row %zu: margin %.9g, xgboost %.9g",
                  form, r, margin, fc->margin[r]);
        json_t *ex = json_object_get(one, "explanation");
        const double *c = fc->contribs + r * (n + 1);
        double base = json_number_value(json_object_get(ex, "base_value"));
        cr_assert(fabs(base - c[n]) <= tol, "%s row %zu: base %.9g, bias %.9g", form, r, base,
                  c[n]);
        json_t *attrs = json_object_get(ex, "attributions");
        cr_assert_eq(json_array_size(attrs), n);
        for (size_t j = 0; j < n; j++) {
            json_t *a = json_array_get(attrs, j);
            double v = json_number_value(json_object_get(a, "value"));
            cr_assert(fabs(v - c[j]) <= tol, "%s row %zu feature %zu: phi %.9g, xgboost %.9g", form,
                      r, j, v, c[j]);
            cr_assert_null(json_object_get(a, "imputed"), "%s: nothing is imputed", form);
        }
        size_t missing = 0;
        for (size_t j = 0; j < n; j++)
            missing += isnan(fc->X[r * n + j]);
        json_t *cov = json_object_get(one, "coverage");
        cr_assert_eq(json_integer_value(json_object_get(cov, "missing")), (json_int_t)missing);
        cr_assert_eq(json_integer_value(json_object_get(cov, "imputed")), 0);
    }
}

/* Every row as a JSON request: each missing call in turn as null, an
 * absent key or "./."; observed ones as numbers and GT strings. */
static char *json_request(const gr_model *m, const fixture_cases *fc)
{
    json_t *samples = json_array();
    size_t k = 0;
    for (size_t r = 0; r < fc->rows; r++) {
        json_t *g = json_object();
        for (size_t j = 0; j < fc->cols; j++) {
            double d = fc->X[r * fc->cols + j];
            const char *id = gr_model_feature(m, j)->id;
            static const char *const gt[] = { "0/0", "0|1", "1/1" };
            if (isnan(d)) {
                switch (k++ % 3) {
                case 0: json_object_set_new(g, id, json_null()); break;
                case 1: break; /* absent */
                default: json_object_set_new(g, id, json_string("./.")); break;
                }
            } else if (j % 2) {
                json_object_set_new(g, id, json_string(gt[(int)d]));
            } else {
                json_object_set_new(g, id, json_real(d));
            }
        }
        json_array_append_new(samples, json_pack("{s:o}", "genotypes", g));
    }
    json_t *body = json_pack("{s:o, s:i}", "samples", samples, "top_k", 0);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

/* Every row as a sample of a VCF: GT 0/0, 0/1, 1/1, or ./. when missing. */
static char *vcf_text(const gr_model *m, const fixture_cases *fc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n");
    fprintf(f, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT");
    for (size_t r = 0; r < fc->rows; r++)
        fprintf(f, "\tS%zu", r);
    fputc('\n', f);
    for (size_t j = 0; j < fc->cols; j++) {
        const gr_feature *ft = gr_model_feature(m, j);
        fprintf(f, "%s\t%lld\t.\t%s\t%s\t.\tPASS\t.\tGT", ft->chrom, (long long)ft->pos, ft->ref,
                ft->alt);
        static const char *const gt[] = { "0/0", "0/1", "1/1" };
        for (size_t r = 0; r < fc->rows; r++) {
            double d = fc->X[r * fc->cols + j];
            fprintf(f, "\t%s", isnan(d) ? "./." : gt[(int)d]);
        }
        fputc('\n', f);
    }
    fclose(f);
    return buf;
}

Test(xgboost, missing_genotypes_score_as_xgboost_in_every_input_form)
{
    gr_model *m = fixture_model("xgb_clf_missing");
    cr_assert_gt(gr_model_get_info(m)->n_features_with_mean, 0, "the fixture has means");
    cr_assert_eq(gr_model_get_info(m)->impute, GR_IMPUTE_NONE, "xgboost-json defaults to none");
    fixture_cases fc;
    fixture_cases_load("xgb_clf_missing", &fc);
    gr_api_settings given = gr_api_settings_unset();
    given.allow_low_coverage = 1; /* row 0 has nothing observed */
    gr_error err;

    char *body = json_request(m, &fc);
    gr_api_request req;
    cr_assert_eq(gr_api_request_read(m, body, strlen(body), NULL, &req, &err), GR_OK, "%s",
                 err.text);
    gr_api_job job;
    gr_api_job_init(&job, m, &req, NULL, &given);
    json_t *doc = NULL;
    cr_assert_eq(gr_api_predict_all(&job, &doc, &err), GR_OK, "%s", err.text);
    check_response("JSON", doc, &fc, 1e-5);
    json_decref(doc);

    char *vcf = vcf_text(m, &fc);
    char *dir = temp_bundle("in.vcf", vcf, NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/in.vcf", dir);
    gr_vcf_options o = { 0 };
    gr_vcf_result *v = NULL;
    cr_assert_eq(gr_vcf_read(m, path, -1, &o, &v, &err), GR_OK, "%s", err.text);
    gr_api_job_init(&job, m, NULL, v, &given);
    job.set.top_k = 0;
    cr_assert_eq(gr_api_predict_all(&job, &doc, &err), GR_OK, "%s", err.text);
    check_response("VCF", doc, &fc, 1e-5);
    json_decref(doc);

    /* impute=mean is still there when asked for, and then differs */
    given.impute = GR_IMPUTE_MEAN;
    gr_api_job_init(&job, m, &req, NULL, &given);
    cr_assert_eq(gr_api_predict_all(&job, &doc, &err), GR_OK, "%s", err.text);
    json_t *row0 = json_array_get(json_object_get(doc, "results"), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(row0, "coverage"), "imputed")),
                 40);
    cr_assert(fabs(json_number_value(json_object_get(row0, "margin")) - fc.margin[0]) > 1e-3,
              "imputing the means moves row 0 off XGBoost's default branches");
    json_decref(doc);

    gr_vcf_result_free(v);
    temp_bundle_free(dir);
    free(vcf);
    gr_api_request_clear(&req);
    free(body);
    fixture_cases_free(&fc);
    gr_model_free(m);
}

/* ---- malformed models: each a copy of xgb_clf with one thing broken ---- */

static char *manifest, *features, *model_json;

static void load_originals(void)
{
    manifest = read_text("tests/fixtures/xgb_clf/manifest.json");
    features = read_text("tests/fixtures/xgb_clf/features.tsv");
    model_json = read_text("tests/fixtures/xgb_clf/model.json");
}

static void free_originals(void)
{
    free(manifest);
    free(features);
    free(model_json);
}

static void broken(const char *from, const char *to, gr_status st, const char *needle,
                   const char *field)
{
    char *bad = replace_once(model_json, from, to);
    char *dir =
        temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json", bad, NULL);
    expect_load_error(dir, st, needle, field);
    temp_bundle_free(dir);
    free(bad);
}

TestSuite(xgboost_bad, .init = load_originals, .fini = free_originals);

Test(xgboost_bad, unsupported_objective)
{
    broken("\"binary:logistic\"", "\"multi:softprob\"", GR_EUNSUPPORTED, "not supported",
           "objective");
}

Test(xgboost_bad, old_reg_linear_name_is_accepted_only_for_regression)
{
    broken("\"binary:logistic\"", "\"reg:linear\"", GR_EMODEL, "regression", "objective");
}

Test(xgboost_bad, dart_booster)
{
    broken("\"name\":\"gbtree\"", "\"name\":\"dart\"", GR_EUNSUPPORTED, "only gbtree", NULL);
}

Test(xgboost_bad, multiclass)
{
    broken("\"num_class\":\"0\"", "\"num_class\":\"3\"", GR_EUNSUPPORTED, "multi-class", NULL);
}

Test(xgboost_bad, feature_count_mismatch)
{
    broken("\"num_feature\":\"40\",\"num_target\"", "\"num_feature\":\"41\",\"num_target\"",
           GR_EMODEL, "features file lists 40", "num_feature");
}

Test(xgboost_bad, child_index_out_of_range)
{
    broken("\"left_children\":[1,", "\"left_children\":[9999,", GR_EMODEL, "children", "trees[0]");
}

Test(xgboost_bad, cycle)
{
    broken("\"left_children\":[1,", "\"left_children\":[0,", GR_EMODEL, "reached twice",
           "trees[0]");
}

Test(xgboost_bad, truncated_file)
{
    char *bad = strdup(model_json);
    bad[strlen(bad) / 2] = '\0';
    char *dir =
        temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json", bad, NULL);
    expect_load_error(dir, GR_EMODEL, "invalid JSON", NULL);
    temp_bundle_free(dir);
    free(bad);
}

Test(xgboost_bad, wrong_types)
{
    broken("\"split_conditions\":[", "\"split_conditions\":[\"x\",", GR_EMODEL, "entries",
           "split_conditions");
    broken("\"base_score\":\"", "\"base_score\":\"abc", GR_EMODEL, "not a single number",
           "base_score");
}

Test(xgboost_bad, logistic_base_score_out_of_range)
{
    char *a = strstr(model_json, "\"base_score\":\"");
    cr_assert(a);
    const char *end = strchr(a + 14, '"');
    char from[64];
    snprintf(from, sizeof from, "%.*s", (int)(end - a + 1), a);
    broken(from, "\"base_score\":\"1.5\"", GR_EMODEL, "strictly between 0 and 1", "base_score");
}

Test(xgboost_bad, categorical_split)
{
    broken("\"split_type\":[0", "\"split_type\":[1", GR_EUNSUPPORTED, "categorical", "trees[0]");
}

Test(xgboost_bad, empty_forest)
{
    json_t *root = json_loads(model_json, 0, NULL);
    json_t *model = json_object_get(
        json_object_get(json_object_get(root, "learner"), "gradient_booster"), "model");
    json_object_set_new(model, "trees", json_array());
    json_object_set_new(model, "tree_info", json_array());
    char *bad = json_dumps(root, 0);
    char *dir =
        temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json", bad, NULL);
    expect_load_error(dir, GR_EMODEL, "empty", "trees");
    temp_bundle_free(dir);
    free(bad);
    json_decref(root);
}

Test(xgboost_bad, feature_names_must_match_features_file)
{
    char *bad = replace_once(model_json, "\"feature_names\":[]", "\"feature_names\":[\"a\",\"b\"]");
    char *dir =
        temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json", bad, NULL);
    expect_load_error(dir, GR_EMODEL, "2 names", "feature_names");
    temp_bundle_free(dir);
    free(bad);
}

Test(xgboost_bad, missing_model_file)
{
    char *dir = temp_bundle("manifest.json", manifest, "features.tsv", features, NULL);
    expect_load_error(dir, GR_EIO, "cannot open", NULL);
    temp_bundle_free(dir);
}

/* A hand-written single-tree model, to reach depths and shapes XGBoost
 * itself would not write. */
static char *chain_model(int depth)
{
    /* node i (< depth) splits feature 0 and has a leaf on the right; the
     * chain continues left. Nodes: internal 0..depth-1, leaves after. */
    size_t n = (size_t)depth * 2 + 1;
    size_t cap = n * 64 + 2048, len = 0;
    char *s = malloc(cap);
#define ADD(...) len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__)
    ADD("{\"learner\":{\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_class\":\"0\","
        "\"num_feature\":\"40\"},\"objective\":{\"name\":\"binary:logistic\"},"
        "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"tree_info\":[0],\"trees\":[{"
        "\"tree_param\":{\"num_nodes\":\"%zu\"},\"left_children\":[",
        n);
    for (size_t i = 0; i < n; i++)
        ADD("%s%lld", i ? "," : "", i < (size_t)depth ? (long long)(i + 1) : -1LL);
    ADD("],\"right_children\":[");
    for (size_t i = 0; i < n; i++)
        ADD("%s%lld", i ? "," : "", i < (size_t)depth ? (long long)(depth + 1 + i) : -1LL);
    ADD("],\"split_indices\":[");
    for (size_t i = 0; i < n; i++)
        ADD("%s%zu", i ? "," : "", i % 40);
    ADD("],\"split_conditions\":[");
    for (size_t i = 0; i < n; i++)
        ADD("%s0.5", i ? "," : "");
    ADD("],\"default_left\":[");
    for (size_t i = 0; i < n; i++)
        ADD("%s1", i ? "," : "");
    ADD("],\"sum_hessian\":[");
    for (size_t i = 0; i < n; i++)
        ADD("%s1", i ? "," : "");
    ADD("],\"split_type\":[");
    for (size_t i = 0; i < n; i++)
        ADD("%s0", i ? "," : "");
    ADD("]}]}}}}");
#undef ADD
    return s;
}

Test(xgboost_bad, deeper_than_supported)
{
    char *ok = chain_model(GR_MAX_TREE_DEPTH);
    char *dir =
        temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json", ok, NULL);
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
    cr_assert_eq(gr_model_get_info(m)->max_depth, GR_MAX_TREE_DEPTH);
    gr_model_free(m);
    temp_bundle_free(dir);
    free(ok);

    char *deep = chain_model(GR_MAX_TREE_DEPTH + 1);
    dir =
        temp_bundle("manifest.json", manifest, "features.tsv", features, "model.json", deep, NULL);
    expect_load_error(dir, GR_ELIMIT, "deeper than", "trees[0]");
    temp_bundle_free(dir);
    free(deep);
}

/* ---- the lean reader of model.json (core/json_arrays.c) ---- */

static const char *const lean_keys[] = { "left_children",
                                         "right_children",
                                         "split_indices",
                                         "split_conditions",
                                         "sum_hessian",
                                         "default_left",
                                         "split_type",
                                         "base_weights",
                                         "loss_changes",
                                         "parents",
                                         "a",
                                         NULL };

static char *temp_json(const char *text, size_t n)
{
    char *path = strdup("/tmp/gr_lean_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Every marked array holds what Jansson makes of the same text, to the bit. */
static void same_numbers(const gr_json_side *side, json_t *lean, json_t *full, int *marked)
{
    if (json_is_object(full)) {
        const char *key;
        json_t *v;
        json_object_foreach(full, key, v) same_numbers(side, json_object_get(lean, key), v, marked);
        return;
    }
    size_t n;
    const gr_json_num *nums = gr_json_side_array(side, lean, &n);
    if (!nums) {
        if (json_is_array(full))
            for (size_t i = 0; i < json_array_size(full); i++)
                same_numbers(side, json_array_get(lean, i), json_array_get(full, i), marked);
        return;
    }
    (*marked)++;
    cr_assert_eq(n, json_array_size(full));
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(full, i);
        if (json_is_integer(v)) {
            cr_assert_eq(nums[i].kind, GR_JNUM_INT);
            cr_assert_eq(nums[i].v.i, json_integer_value(v));
        } else if (json_is_real(v)) {
            double d = json_real_value(v);
            cr_assert_eq(nums[i].kind, GR_JNUM_REAL);
            cr_assert_eq(memcmp(&nums[i].v.d, &d, sizeof d), 0, "entry %zu: %.17g vs %.17g", i,
                         nums[i].v.d, d);
        } else {
            cr_assert(json_is_boolean(v));
            cr_assert_eq(nums[i].kind, GR_JNUM_BOOL);
            cr_assert_eq(nums[i].v.i, json_is_true(v));
        }
    }
}

/* On one thread and on several (the arrays listed, then read in parallel):
 * the same numbers, Jansson's. */
static void lean_matches_jansson(const char *path, int at_least)
{
    for (int threads = 1; threads <= 3; threads++) {
        gr_error e1, e2;
        gr_json_side *side = NULL;
        json_t *full = gr_json_load(path, 0, GR_MODEL_MAX_JSON, &e1);
        json_t *lean =
            gr_json_load_lean(path, 0, GR_MODEL_MAX_JSON, lean_keys, NULL, threads, &side, &e2);
        cr_assert(full, "%s", e1.text);
        cr_assert(lean, "%s", e2.text);
        int marked = 0;
        same_numbers(side, lean, full, &marked);
        cr_assert_geq(marked, at_least, "%s, %d threads: %d arrays marked", path, threads, marked);
        json_decref(full);
        json_decref(lean);
        gr_json_side_free(side);
    }
}

Test(xgboost_lean, every_tree_array_of_the_fixtures_reads_as_jansson_reads_it)
{
    static const char *const names[] = { "xgb_clf",        "xgb_clf_missing", "xgb_deep",
                                         "xgb_fractional", "xgb_logitraw",    "xgb_reg" };
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char path[128];
        snprintf(path, sizeof path, "tests/fixtures/%s/model.json", names[k]);
        char *text = read_text(path);
        json_t *doc = json_loads(text, 0, NULL);
        size_t nt = json_array_size(json_object_get(
            json_object_get(json_object_get(json_object_get(doc, "learner"), "gradient_booster"),
                            "model"),
            "trees"));
        cr_assert_gt(nt, 0);
        /* at least the long arrays of every tree are taken out */
        int want = -(int)nt;
        lean_matches_jansson(path, -want);
        json_decref(doc);
        free(text);
    }
}

static void same_error(const char *text)
{
    char *path = temp_json(text, strlen(text));
    for (int threads = 1; threads <= 2; threads++) {
        gr_error e1, e2;
        gr_json_side *side = NULL;
        cr_assert_null(gr_json_load(path, 0, GR_MODEL_MAX_JSON, &e1));
        cr_assert_null(
            gr_json_load_lean(path, 0, GR_MODEL_MAX_JSON, lean_keys, NULL, threads, &side, &e2));
        cr_assert_null(side);
        cr_assert_eq(e1.status, e2.status);
        cr_assert_eq(e1.line, e2.line);
        cr_assert_str_eq(e1.text, e2.text, "%s (%d threads)", text, threads);
    }
    unlink(path);
    free(path);
}

Test(xgboost_lean, what_jansson_refuses_it_refuses_in_the_same_words)
{
    same_error("{\"a\":[1,2,3,4,5,6,99999999999999999999999]}");
    same_error("{\"a\":[1,2,3,4,5,6,-99999999999999999999999]}");
    same_error("{\"a\":[1,2,3,4,5,6,7,8,1e999]}");
    same_error("{\"a\":[01,2,3,4,5,6,7,8,9]}");
    same_error("{\"a\":[1.,2,3,4,5,6,7,8,9]}");
    same_error("{\"a\":[1,2,3,4,5,6,7,8,9,]}");
    same_error("{\"a\":[1,2,3,4,5,6,7,8,9] x}");
    same_error("{\"a\":[1,2,3,4,5,6,7,8,9],}");
    same_error("{\"a\":[1,2,3,4,5,6,7,8,9]");
    same_error("{\"a\":[1,2,3,4,5,6,7,8,9,\n truex]}");
    same_error("{\"a\":[1,2,3,4,5,6,7,8,9");
    same_error("{\"a\":[1,2,3,4,5,6,7,8,-]}");
    same_error("{\"a\":\"\x01gr0\",\"b\":[1,2,3,4,5,6,7,8,9,10]}");
}

static json_t *lean_of_threads(const char *text, int threads, gr_json_side **side)
{
    char *path = temp_json(text, strlen(text));
    gr_error err;
    json_t *root =
        gr_json_load_lean(path, 0, GR_MODEL_MAX_JSON, lean_keys, NULL, threads, side, &err);
    cr_assert(root, "%s: %s", text, err.text);
    unlink(path);
    free(path);
    return root;
}

Test(xgboost_lean, only_plain_number_arrays_under_the_names_are_taken_out)
{
    for (int threads = 1; threads <= 2; threads++) {
        gr_json_side *side;
        size_t n;
        /* a string among the numbers, an escaped key, a short array: Jansson's */
        const char *kept[] = { "{\"a\":[1,2,3,4,5,6,\"x\",8,9,10]}",
                               "{\"\\u0061\":[1,2,3,4,5,6,7,8,9,10]}",
                               "{\"a\":[1]}",
                               "{\"b\":[1,2,3,4,5,6,7,8,9,10]}",
                               "[\"a\",[1,2,3,4,5,6,7,8,9,10]]",
                               "{\"s\":\"\\u0001gr0\",\"a\":[1,2,3,4,5,6,7,8,9,10]}",
                               "{\"a\":[1,2,3,4,5,6,\"x]\",8,9,10]}",
                               "{\"a\":[[1,2,3,4,5,6],[7,8,9,10]]}" };
        for (size_t k = 0; k < sizeof kept / sizeof *kept; k++) {
            json_t *root = lean_of_threads(kept[k], threads, &side);
            cr_assert_null(side, "%s (%d threads)", kept[k], threads);
            json_decref(root);
        }
        json_t *root =
            lean_of_threads("\xEF\xBB\xBF{\"s\":\"x\\\"a\\\":[1,2,3]\", \"a\" : [ true ,false,-0,"
                            "-0.0, 2.5E-3 ,9223372036854775807,1e-400 ], \"z\":[]}",
                            threads, &side);
        cr_assert_not_null(side);
        const gr_json_num *a = gr_json_side_array(side, json_object_get(root, "a"), &n);
        cr_assert_not_null(a);
        cr_assert_eq(n, 7);
        cr_assert(a[0].kind == GR_JNUM_BOOL && a[0].v.i == 1 && a[1].kind == GR_JNUM_BOOL &&
                  a[1].v.i == 0);
        cr_assert(a[2].kind == GR_JNUM_INT && a[2].v.i == 0);
        cr_assert(a[3].kind == GR_JNUM_REAL && a[3].v.d == 0 && signbit(a[3].v.d));
        cr_assert(a[4].kind == GR_JNUM_REAL && a[4].v.d == strtod("2.5E-3", NULL));
        cr_assert(a[5].kind == GR_JNUM_INT && a[5].v.i == INT64_MAX);
        cr_assert(a[6].kind == GR_JNUM_REAL && a[6].v.d == 0);
        cr_assert_str_eq(json_string_value(json_object_get(root, "s")), "x\"a\":[1,2,3]");
        cr_assert(json_is_array(json_object_get(root, "z")));
        cr_assert_null(gr_json_side_array(side, json_object_get(root, "s"), &n));
        json_decref(root);
        gr_json_side_free(side);
    }
}

/* A document whose arrays are not all what the parallel listing takes
 * them for (a string holding ']', a nested array, a string among numbers,
 * before and after plain ones) is read again the serial way: the same
 * tree and numbers as Jansson's, on any number of threads. */
Test(xgboost_lean, a_listing_proved_wrong_is_read_the_serial_way)
{
    const char *text =
        "{\"o\":{\"a\":[1,2,3,4,5,6,7,8,9,10]},\"p\":{\"a\":[1,2,\"x]\",4,5,6,7,8,9,10]},"
        "\"q\":{\"a\":[[1,2,3],[4,5,6,7,8]]},\"r\":{\"a\":[1,2,3,\"y\",5,6,7,8,9,10]},"
        "\"t\":{\"a\":[1.5,2.5,3.5,4.5,5.5,6.5]}}";
    char *path = temp_json(text, strlen(text));
    lean_matches_jansson(path, 2);
    unlink(path);
    free(path);
}

/* Arrays under the skip names are checked and left out: neither in the
 * tree as numbers nor in the side table, and one Jansson refuses is
 * refused in Jansson's words. */
Test(xgboost_lean, skipped_arrays_are_checked_and_left_out)
{
    static const char *const keys[] = { "a", NULL }, *const skip[] = { "b", NULL };
    const char *text = "{\"a\":[1,2,3,4,5,6,7,8,9,10],\"b\":[1.5,2.5,3.5,4.5,5.5],"
                       "\"c\":[1,2,3,4,5,6,7,8,9,10]}";
    char *path = temp_json(text, strlen(text));
    gr_json_side *side = NULL;
    gr_error err;
    size_t n;
    json_t *root = gr_json_load_lean(path, 0, GR_MODEL_MAX_JSON, keys, skip, 1, &side, &err);
    cr_assert(root, "%s", err.text);
    cr_assert_not_null(gr_json_side_array(side, json_object_get(root, "a"), &n));
    cr_assert_eq(n, 10);
    json_t *b = json_object_get(root, "b");
    cr_assert(json_is_string(b), "a skipped array is a marker");
    cr_assert_null(gr_json_side_array(side, b, &n), "and resolves to nothing");
    cr_assert_eq(json_array_size(json_object_get(root, "c")), 10, "other names are Jansson's");
    json_decref(root);
    gr_json_side_free(side);
    unlink(path);
    free(path);
    /* a bad number among the skipped is still an error, in Jansson's words */
    const char *bad = "{\"a\":[1,2,3,4,5,6,7,8,9,10],\"b\":[1.5,2.5,01,4.5,5.5]}";
    path = temp_json(bad, strlen(bad));
    gr_error e1, e2;
    side = NULL;
    cr_assert_null(gr_json_load(path, 0, GR_MODEL_MAX_JSON, &e1));
    cr_assert_null(gr_json_load_lean(path, 0, GR_MODEL_MAX_JSON, keys, skip, 1, &side, &e2));
    cr_assert_null(side);
    cr_assert_str_eq(e1.text, e2.text);
    unlink(path);
    free(path);
}

/* Numbers converted from their digits (the fast path) equal strtod's and
 * strtoll's to the bit: 20,000 reals spelled every way a writer spells
 * them (%.1g to %.17g, fixed, leading and trailing zeros, exponents, -0)
 * and integers up to 19 digits, read by the lean reader and by Jansson. */
Test(xgboost_lean, numbers_read_from_their_digits_equal_strtod)
{
    unsigned long long r = 0x9E3779B97F4A7C15ULL;
    size_t cap = 4 << 20, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text + n, cap - n, "{\"split_conditions\":[");
    static const char *const fixed[] = { "0.5",
                                         "-0.0",
                                         "0.000123",
                                         "123456789012345.6",
                                         "1.5e22",
                                         "1e23",
                                         "9007199254740993.0",
                                         "1E-22",
                                         "4.9e-324",
                                         "2.2250738585072014e-308",
                                         "0.1e1",
                                         "100000000000000000000000.0",
                                         "0e400",
                                         "-1.25E+05" };
    for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++)
        n += (size_t)snprintf(text + n, cap - n, "%s,", fixed[k]);
    for (int k = 0; k < 20000; k++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        double mag = pow(10.0, (double)(int)(r % 61) - 30);
        double v = (double)(r >> 11) / 9007199254740992.0 * mag * (r & 1 ? -1 : 1);
        int prec = 1 + (int)((r >> 5) % 17);
        if (k % 3 == 0)
            n += (size_t)snprintf(text + n, cap - n, "%.*f,", 1 + prec % 12, v);
        else
            n += (size_t)snprintf(text + n, cap - n, "%.*g,", prec, v);
    }
    n += (size_t)snprintf(text + n, cap - n, "1.0],\"left_children\":[");
    for (int k = 0; k < 2000; k++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        long long v = (long long)(r >> (1 + r % 60)); /* below 2^63, as Jansson needs */
        n += (size_t)snprintf(text + n, cap - n, "%s%lld,", k % 2 ? "-" : "", v);
    }
    n += (size_t)snprintf(text + n, cap - n, "0,-0,999999999999999999,1000000000000000000]}");
    char *path = temp_json(text, n);
    lean_matches_jansson(path, 2);
    unlink(path);
    free(path);
    free(text);
}
