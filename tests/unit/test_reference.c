/* test_reference.c - reference bundles (core/reference.c): loading
 * models/demo-reference and what it says of itself; a precise error for
 * each kind of defect (small variants of its reference.json beside copies
 * of its other files); the random forest against a walk of classifier.json
 * written here; percentile, Z, Z_norm1 and Z_norm2 against the formulas of
 * docs/population.md computed here from the bundle's JSON; a model naming
 * a reference it cannot use; and the bundles' SHA-256 (core/digest.c). */
#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/reference.h"
#include "core/sha256.h"
#include "helpers.h"

#define REF "models/demo-reference"
#define REF_JSON REF "/reference.json"

static const char *const other_files[] = { "classifier.json", "projection.json",
                                           "projection_variants.tsv" };

/* The fixed sample of these tests: the example PCs of docs/population.md. */
static const double PCS[10] = { -1.85, 0.20, 1.35, -1.37, 0.93, -0.12, 0.56, 0.11, -2.00, 1.28 };

static gr_reference *load_demo(void)
{
    gr_reference *r = NULL;
    gr_error err;
    gr_status st = gr_reference_load(REF, &r, &err);
    cr_assert_eq(st, GR_OK, "%s: %s", err.source, err.text);
    cr_assert_not_null(r);
    return r;
}

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    cr_assert(root, "%s: %s", path, je.text);
    return root;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot create %s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* A new bundle directory: doc as its reference.json, copies of the demo
 * reference's other files (variants, when given, in place of
 * projection_variants.tsv). */
static char *bundle_with(json_t *doc, const char *variants)
{
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    cr_assert_not_null(text);
    char *dir = temp_bundle("reference.json", text, NULL);
    free(text);
    for (size_t i = 0; i < sizeof other_files / sizeof *other_files; i++) {
        char src[256];
        snprintf(src, sizeof src, REF "/%s", other_files[i]);
        char *body = read_text(src);
        write_file(dir, other_files[i],
                   variants && !strcmp(other_files[i], "projection_variants.tsv") ? variants
                                                                                  : body);
        free(body);
    }
    return dir;
}

/* Loads dir expecting st, with text (and the field, and the file the error
 * names) containing the needles. */
static void expect_ref_error(const char *dir, gr_status st, const char *text_needle,
                             const char *field_needle, const char *file_needle)
{
    gr_reference *r = NULL;
    gr_error err;
    gr_status got = gr_reference_load(dir, &r, &err);
    cr_assert_null(r);
    cr_assert_eq(got, st, "expected %s, got %s: %s: %s: %s", gr_strerror(st), gr_strerror(got),
                 err.source, err.field, err.text);
    cr_assert(strstr(err.text, text_needle), "error text '%s' lacks '%s'", err.text, text_needle);
    if (field_needle)
        cr_assert(strstr(err.field, field_needle), "error field '%s' lacks '%s'", err.field,
                  field_needle);
    if (file_needle)
        cr_assert(strstr(err.source, file_needle), "error source '%s' lacks '%s'", err.source,
                  file_needle);
}

/* The demo reference.json changed by edit, expected to fail so. */
static void defect(void (*edit)(json_t *), gr_status st, const char *text_needle,
                   const char *field_needle, const char *file_needle)
{
    json_t *doc = load_json(REF_JSON);
    edit(doc);
    char *dir = bundle_with(doc, NULL);
    json_decref(doc);
    expect_ref_error(dir, st, text_needle, field_needle, file_needle);
    temp_bundle_free(dir);
}

static json_t *dist_of(json_t *doc, const char *pop)
{
    return json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "scores"), "cad-pgs-demo"),
                        "distributions"),
        pop);
}

/* ---- loading the demo reference ---- */

Test(reference, demo_loads_and_describes_itself)
{
    gr_reference *r = load_demo();
    const gr_reference_info *in = gr_reference_get_info(r);
    cr_assert_str_eq(in->name, "demo-reference");
    cr_assert_str_eq(in->genome_build, "GRCh38");
    cr_assert_str_eq(in->label_column, "population");
    cr_assert_str_eq(in->dir, REF);
    cr_assert(strstr(in->description, "SYNTHETIC"));
    cr_assert(in->synthetic);
    cr_assert_eq(in->n_populations, 5);
    static const char *const pops[] = { "POP-A", "POP-B", "POP-C", "POP-D", "POP-E" };
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(in->populations[i], pops[i]);
    cr_assert_eq(in->n_pcs, 10);
    cr_assert_eq(in->n_classifier_pcs, 5);
    cr_assert_eq(in->n_norm_pcs, 4);
    cr_assert_float_eq(in->low_confidence_below, 0.5, 0);
    cr_assert_eq(in->n_reference, 650);
    cr_assert_eq(in->n_unrelated, 650);
    cr_assert_eq(in->n_scores, 1);
    cr_assert_eq(in->n_variants, 300);
    cr_assert_eq(strlen(in->sha256), 64);
    cr_assert_eq(gr_reference_score(r, "cad-pgs-demo"), 0);
    cr_assert_eq(gr_reference_score(r, "PGS000001"), -1);
    cr_assert_str_eq(gr_reference_score_id(r, 0), "cad-pgs-demo");
    const gr_model *v = gr_reference_variants(r);
    cr_assert_not_null(v);
    cr_assert_eq(gr_model_get_info(v)->n_features, 300);
    size_t n = 0;
    const double *pct = gr_reference_percentiles(r, 0, 3, &n);
    json_t *doc = load_json(REF_JSON);
    json_t *d = dist_of(doc, "POP-D");
    cr_assert_eq(n, (size_t)json_num(d, "n"));
    for (size_t i = 0; i < 101; i++)
        cr_assert_eq(pct[i], json_num_at(d, "percentiles", i), "percentile %zu", i);
    json_decref(doc);
    gr_reference_free(r);
}

Test(reference, demo_distributions_hold_what_their_mean_and_sd_say)
{
    /* the bundle's own consistency, which the adjustment tests below lean on */
    json_t *doc = load_json(REF_JSON), *pops = json_object_get(doc, "populations");
    for (size_t p = 0; p < json_array_size(pops); p++) {
        json_t *d = dist_of(doc, json_string_value(json_array_get(pops, p)));
        size_t n = json_array_size(json_object_get(d, "scores"));
        double s = 0, ss = 0;
        cr_assert_eq(n, (size_t)json_num(d, "n"));
        for (size_t i = 0; i < n; i++)
            s += json_num_at(d, "scores", i);
        double mean = s / (double)n;
        for (size_t i = 0; i < n; i++)
            ss += (json_num_at(d, "scores", i) - mean) * (json_num_at(d, "scores", i) - mean);
        cr_assert(fabs(mean - json_num(d, "mean")) < 1e-12, "population %zu mean", p);
        cr_assert(fabs(sqrt(ss / (double)n) - json_num(d, "sd")) < 1e-12, "population %zu sd", p);
    }
    json_decref(doc);
}

Test(reference, refuses_no_directory_and_a_missing_one)
{
    gr_reference *r = NULL;
    gr_error err;
    cr_assert_eq(gr_reference_load("", &r, &err), GR_EINVAL);
    cr_assert_null(r);
    cr_assert_eq(gr_reference_load("tests/no-such-reference", &r, &err), GR_EIO);
    cr_assert_null(r);
    cr_assert(strstr(err.source, "tests/no-such-reference/reference.json"), "%s", err.source);
}

/* ---- each kind of defect ---- */

static void wrong_format(json_t *d)
{
    json_object_set_new(d, "format", json_string("genorisk-trees"));
}
static void populations_unsorted(json_t *d)
{
    json_t *p = json_object_get(d, "populations");
    json_array_set_new(p, 0, json_string("POP-C"));
    json_array_set_new(p, 2, json_string("POP-A"));
}
static void populations_renamed(json_t *d)
{
    /* sorted still, but not the classifier's classes */
    json_array_set_new(json_object_get(d, "populations"), 4, json_string("POP-F"));
}
static void distribution_descending(json_t *d)
{
    json_t *s = json_object_get(dist_of(d, "POP-B"), "scores");
    json_t *first = json_deep_copy(json_array_get(s, 0));
    json_array_set_new(s, 0, json_deep_copy(json_array_get(s, 1)));
    json_array_set_new(s, 1, first);
}
static void percentiles_descending(json_t *d)
{
    json_t *s = json_object_get(dist_of(d, "POP-E"), "percentiles");
    json_array_set_new(s, 50, json_real(1e9));
}
static void no_z_norm1(json_t *d)
{
    json_object_del(json_object_get(json_object_get(d, "scores"), "cad-pgs-demo"), "z_norm1");
}
static void bad_genome_build(json_t *d)
{
    json_object_set_new(d, "genome_build", json_string("hg19"));
}
static void distribution_missing(json_t *d)
{
    json_object_del(json_object_get(json_object_get(json_object_get(d, "scores"), "cad-pgs-demo"),
                                    "distributions"),
                    "POP-C");
}
static void n_disagrees(json_t *d)
{
    json_object_set_new(dist_of(d, "POP-A"), "n", json_integer(131));
}
static void sd_zero(json_t *d)
{
    json_object_set_new(dist_of(d, "POP-A"), "sd", json_real(0));
}
static void norm_pcs_too_many(json_t *d)
{
    json_object_set_new(json_object_get(d, "normalization"), "n_pcs", json_integer(5));
}

Test(reference, wrong_format_is_named)
{
    defect(wrong_format, GR_EMODEL, "genorisk-reference", "format", "reference.json");
}

Test(reference, unsorted_populations_are_named_by_index)
{
    defect(populations_unsorted, GR_EMODEL, "sorted", "populations[1]", "reference.json");
}

Test(reference, populations_other_than_the_classifiers_classes)
{
    defect(populations_renamed, GR_EMODEL, "must equal the reference's populations", "classes",
           "classifier.json");
}

Test(reference, a_distribution_not_ascending)
{
    defect(distribution_descending, GR_EMODEL, "ascending",
           "scores.cad-pgs-demo.distributions.POP-B", "reference.json");
}

Test(reference, percentiles_not_ascending)
{
    defect(percentiles_descending, GR_EMODEL, "ascending",
           "scores.cad-pgs-demo.distributions.POP-E", "reference.json");
}

Test(reference, a_score_without_z_norm1)
{
    defect(no_z_norm1, GR_EMODEL, "z_norm1", "scores.cad-pgs-demo", "reference.json");
}

Test(reference, a_genome_build_other_than_grch37_or_38)
{
    defect(bad_genome_build, GR_EMODEL, "GRCh37", "genome_build", "reference.json");
}

Test(reference, a_population_without_its_distribution)
{
    defect(distribution_missing, GR_EMODEL, "missing or not an object",
           "scores.cad-pgs-demo.distributions.POP-C", "reference.json");
}

Test(reference, a_distribution_whose_n_is_not_its_scores)
{
    defect(n_disagrees, GR_EMODEL, "", "distributions.POP-A", "reference.json");
}

Test(reference, a_distribution_without_spread)
{
    defect(sd_zero, GR_EMODEL, "sd must be above 0", "distributions.POP-A", "reference.json");
}

Test(reference, more_normalization_pcs_than_the_classifier_needs_no_more_than_pcs)
{
    /* 5 of 10 PCs is allowed; the mean and sd must then have 5 values */
    defect(norm_pcs_too_many, GR_EMODEL, "", "normalization", "reference.json");
}

static void var_intercept_underflows(json_t *d)
{
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(d, "scores"), "cad-pgs-demo"), "z_norm2"),
        "var_intercept", json_integer(-1500));
}
static void sd_subnormal(json_t *d)
{
    json_object_set_new(dist_of(d, "POP-C"), "sd", json_real(1e-310));
}

Test(reference, a_score_whose_z_would_overflow_is_refused_at_load)
{
    /* found by fuzz_reference: they loaded, and every answer was a 500 */
    defect(var_intercept_underflows, GR_EMODEL, "not finite", "scores.cad-pgs-demo",
           "reference.json");
    defect(sd_subnormal, GR_EMODEL, "reads a score of POP-C to a Z that is not finite",
           "scores.cad-pgs-demo", "reference.json");
}

Test(reference, adjust_refuses_pcs_whose_z_overflows)
{
    gr_reference *r = load_demo();
    double far[10];
    for (size_t i = 0; i < 10; i++)
        far[i] = 1e300;
    gr_ancestry a;
    gr_adjusted adj;
    gr_error err;
    cr_assert_eq(gr_reference_classify(r, far, 10, &a, &err), GR_OK);
    cr_assert_eq(gr_reference_adjust(r, 0, &a, 0.2, &adj, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "score cad-pgs-demo read against reference demo-reference"), "%s",
              err.text);
    cr_assert_eq(gr_reference_classify(r, PCS, 10, &a, &err), GR_OK);
    cr_assert_eq(gr_reference_adjust(r, 0, &a, INFINITY, &adj, &err), GR_EINPUT);
    cr_assert_eq(gr_reference_adjust(r, 0, &a, 0.2, &adj, &err), GR_OK);
    gr_reference_free(r);
}

Test(reference, projection_variants_fewer_than_the_projections_rows)
{
    json_t *doc = load_json(REF_JSON);
    char *tsv = read_text(REF "/projection_variants.tsv");
    char *last = tsv + strlen(tsv) - 1; /* drop the last line */
    while (last > tsv && last[-1] != '\n')
        last--;
    *last = '\0';
    char *dir = bundle_with(doc, tsv);
    expect_ref_error(dir, GR_EMODEL, "one variant per row of projection_variants.tsv (299)", NULL,
                     "projection.json");
    temp_bundle_free(dir);
    free(tsv);
    json_decref(doc);
}

Test(reference, a_bundle_without_projection_adjusts_given_pcs_only)
{
    json_t *doc = load_json(REF_JSON);
    json_object_set_new(doc, "projection", json_null());
    char *dir = bundle_with(doc, NULL);
    gr_reference *r = NULL;
    gr_error err;
    cr_assert_eq(gr_reference_load(dir, &r, &err), GR_OK, "%s", err.text);
    cr_assert_eq(gr_reference_get_info(r)->n_variants, 0);
    cr_assert_null(gr_reference_variants(r));
    gr_reference_ws *ws = gr_reference_ws_new(r);
    double dosage[300] = { 0 };
    gr_ancestry a;
    cr_assert_eq(gr_reference_place(r, ws, dosage, &a, &err), GR_EUNSUPPORTED);
    cr_assert(strstr(err.text, "no projection"), "%s", err.text);
    cr_assert_eq(gr_reference_classify(r, PCS, 10, &a, &err), GR_OK);
    gr_reference_ws_free(ws);
    gr_reference_free(r);
    temp_bundle_free(dir);
    json_decref(doc);
}

/* ---- classifying ---- */

/* classifier.json's forest for class c at x, as scikit-learn evaluates it:
 * float32 inputs, x <= threshold goes left, the trees' mean. */
static double walk_forest(const json_t *forest, const double *x)
{
    const json_t *trees = json_object_get(forest, "trees");
    double sum = 0;
    for (size_t t = 0; t < json_array_size(trees); t++) {
        const json_t *tr = json_array_get(trees, t);
        size_t node = 0;
        while (json_integer_value(json_array_get(json_object_get(tr, "children_left"), node)) >=
               0) {
            size_t f =
                (size_t)json_integer_value(json_array_get(json_object_get(tr, "feature"), node));
            double th = json_number_value(json_array_get(json_object_get(tr, "threshold"), node));
            const char *side = (double)(float)x[f] <= th ? "children_left" : "children_right";
            node = (size_t)json_integer_value(json_array_get(json_object_get(tr, side), node));
        }
        sum += json_number_value(json_array_get(json_object_get(tr, "value"), node));
    }
    return sum / (double)json_array_size(trees);
}

Test(reference, classify_is_the_forests_walked_here)
{
    gr_reference *r = load_demo();
    json_t *cls = load_json(REF "/classifier.json"), *forests = json_object_get(cls, "forests");
    gr_ancestry a;
    gr_error err;
    cr_assert_eq(gr_reference_classify(r, PCS, 10, &a, &err), GR_OK, "%s", err.text);
    cr_assert_eq(a.n_pcs, 10);
    size_t best = 0;
    double want[5];
    for (size_t c = 0; c < 5; c++) {
        want[c] = walk_forest(json_array_get(forests, c), PCS);
        cr_assert(fabs(a.prob[c] - want[c]) < 1e-12, "class %zu: %.17g vs %.17g", c, a.prob[c],
                  want[c]);
        if (want[c] > want[best])
            best = c;
        cr_assert_eq(a.pcs[c], PCS[c]);
    }
    cr_assert_eq(a.most_similar, best);
    cr_assert_eq(a.low_confidence, want[best] < 0.5);
    /* docs/population.md's example: POP-D-like, with low confidence */
    cr_assert_str_eq(gr_reference_get_info(r)->populations[a.most_similar], "POP-D");
    cr_assert(a.low_confidence);
    json_decref(cls);
    gr_reference_free(r);
}

Test(reference, classify_refuses_too_few_pcs_and_values_that_are_not_finite)
{
    gr_reference *r = load_demo();
    gr_ancestry a;
    gr_error err;
    cr_assert_eq(gr_reference_classify(r, PCS, 4, &a, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "4 PCs given; the reference needs 5"), "%s", err.text);
    double bad[10];
    memcpy(bad, PCS, sizeof bad);
    bad[2] = NAN;
    cr_assert_eq(gr_reference_classify(r, bad, 10, &a, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "PC3 is not a finite number"), "%s", err.text);
    gr_reference_free(r);
}

Test(reference, a_placed_sample_is_classified_on_its_projected_pcs)
{
    gr_reference *r = load_demo();
    gr_reference_ws *ws = gr_reference_ws_new(r);
    double dosage[300];
    for (size_t j = 0; j < 300; j++)
        dosage[j] = j % 11 == 5 ? NAN : (double)(j % 3);
    gr_ancestry a, b;
    gr_error err;
    cr_assert_eq(gr_reference_place(r, ws, dosage, &a, &err), GR_OK, "%s", err.text);
    cr_assert_eq(a.n_pcs, 10);
    cr_assert_eq(gr_reference_classify(r, a.pcs, a.n_pcs, &b, &err), GR_OK);
    cr_assert_eq(memcmp(a.prob, b.prob, sizeof a.prob), 0);
    cr_assert_eq(a.most_similar, b.most_similar);
    gr_reference_ws_free(ws);
    gr_reference_free(r);
}

/* ---- adjusting: docs/population.md's formulas over the bundle's JSON ---- */

/* scipy.stats.percentileofscore(a, x, kind='rank'), by counting. */
static double rank_percentile(const json_t *scores, double x)
{
    size_t n = json_array_size(scores), left = 0, right = 0;
    for (size_t i = 0; i < n; i++) {
        double v = json_number_value(json_array_get(scores, i));
        left += v < x;
        right += v <= x;
    }
    return (double)(left + right + (right > left ? 1 : 0)) * 50.0 / (double)n;
}

Test(reference, adjust_follows_the_formulas_of_docs_population)
{
    gr_reference *r = load_demo();
    json_t *doc = load_json(REF_JSON);
    json_t *sc = json_object_get(json_object_get(doc, "scores"), "cad-pgs-demo");
    json_t *norm = json_object_get(doc, "normalization");
    json_t *n1 = json_object_get(sc, "z_norm1"), *n2 = json_object_get(sc, "z_norm2");
    gr_ancestry a;
    gr_error err;
    cr_assert_eq(gr_reference_classify(r, PCS, 10, &a, &err), GR_OK);
    json_t *d = dist_of(doc, "POP-D"), *scores = json_object_get(d, "scores");
    double lo = json_num_at(d, "scores", 0),
           hi = json_num_at(d, "scores", json_array_size(scores) - 1);
    /* below everything, on a score (ties), between, above everything */
    const double xs[] = {
        lo - 1, lo,    json_num_at(d, "scores", 7), json_num_at(d, "scores", 64), 0.1234, -0.2,
        hi,     hi + 1
    };
    double offset = json_num(sc, "pgs_offset");
    double y1 = json_num(n1, "intercept"), mu = json_num(n2, "mu_intercept"),
           lv = json_num(n2, "var_intercept");
    for (size_t i = 0; i < 4; i++) {
        double pc = (PCS[i] - json_num_at(norm, "mean", i)) / json_num_at(norm, "sd", i);
        y1 += json_num_at(n1, "coef", i) * pc;
        mu += json_num_at(n2, "mu_coef", i) * pc;
        lv += json_num_at(n2, "var_coef", i) * pc;
    }
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        double x = xs[i];
        gr_adjusted got;
        cr_assert_eq(gr_reference_adjust(r, 0, &a, x, &got, &err), GR_OK, "%s", err.text);
        double pct = rank_percentile(scores, x);
        double z = (x - json_num(d, "mean")) / json_num(d, "sd");
        double z1 = (x - offset - y1) / json_num(n1, "resid_sd");
        double z2 = (x - offset - mu) / sqrt(exp(lv));
        cr_assert(fabs(got.percentile - pct) < 1e-12, "x=%g: percentile %.17g vs %.17g", x,
                  got.percentile, pct);
        cr_assert(fabs(got.z - z) <= 1e-12 * (1 + fabs(z)), "x=%g: z %.17g vs %.17g", x, got.z, z);
        cr_assert(fabs(got.z_norm1 - z1) <= 1e-12 * (1 + fabs(z1)), "x=%g: z_norm1 %.17g vs %.17g",
                  x, got.z_norm1, z1);
        cr_assert(fabs(got.z_norm2 - z2) <= 1e-12 * (1 + fabs(z2)), "x=%g: z_norm2 %.17g vs %.17g",
                  x, got.z_norm2, z2);
    }
    /* the ends: 0 below every score, 100 above */
    gr_adjusted e;
    gr_reference_adjust(r, 0, &a, lo - 1, &e, NULL);
    cr_assert_eq(e.percentile, 0);
    gr_reference_adjust(r, 0, &a, hi + 1, &e, NULL);
    cr_assert_eq(e.percentile, 100);
    json_decref(doc);
    gr_reference_free(r);
}

/* ---- a model naming a reference ---- */

/* A directory holding model/ (models/cad-pgs-demo's files, its manifest
 * edited by from -> to) and, when ref_doc is given, a reference bundle
 * ref_name beside it. */
static char *models_dir(const char *from, const char *to, const char *ref_name, json_t *ref_doc)
{
    char *parent = temp_bundle(NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/model", parent);
    cr_assert_eq(mkdir(path, 0700), 0);
    char *man = read_text("models/cad-pgs-demo/manifest.json");
    char *edited = from ? replace_once(man, from, to) : strdup(man);
    cr_assert_not_null(edited, "manifest lacks '%s'", from);
    write_file(path, "manifest.json", edited);
    char *art = read_text("models/cad-pgs-demo/cad_pgs_demo.txt");
    write_file(path, "cad_pgs_demo.txt", art);
    free(art);
    free(edited);
    free(man);
    if (ref_doc) {
        char *rdir = bundle_with(ref_doc, NULL);
        char dst[512];
        snprintf(dst, sizeof dst, "%s/%s", parent, ref_name);
        cr_assert_eq(rename(rdir, dst), 0);
        free(rdir);
    }
    return parent;
}

static void expect_model_error(const char *parent, const char *needle1, const char *needle2)
{
    char dir[512], buf[1500];
    snprintf(dir, sizeof dir, "%s/model", parent);
    gr_model *m = NULL;
    gr_error err;
    gr_status st = gr_model_load(dir, &m, &err);
    gr_error_format(&err, buf, sizeof buf);
    cr_assert_neq(st, GR_OK);
    cr_assert_null(m);
    cr_assert(strstr(buf, needle1), "error '%s' lacks '%s'", buf, needle1);
    if (needle2)
        cr_assert(strstr(buf, needle2), "error '%s' lacks '%s'", buf, needle2);
}

Test(reference, a_model_naming_a_missing_reference_says_which)
{
    char *parent = models_dir("\"demo-reference\"", "\"no-such-reference\"", NULL, NULL);
    expect_model_error(parent, "no-such-reference", NULL);
    temp_bundle_free(parent);
}

Test(reference, a_model_whose_reference_lacks_its_score_says_which)
{
    json_t *doc = load_json(REF_JSON), *scores = json_object_get(doc, "scores");
    json_object_set(scores, "other-score", json_object_get(scores, "cad-pgs-demo"));
    json_object_del(scores, "cad-pgs-demo");
    char *parent = models_dir(NULL, NULL, "demo-reference", doc);
    expect_model_error(parent, "holds no score cad-pgs-demo", "demo-reference");
    temp_bundle_free(parent);
    json_decref(doc);
}

Test(reference, a_model_naming_a_score_its_reference_lacks_says_which)
{
    json_t *doc = load_json(REF_JSON);
    char *parent = models_dir("\"reference\": \"demo-reference\",",
                              "\"reference\": \"demo-reference\", \"reference_score\": \"PGS9\",",
                              "demo-reference", doc);
    expect_model_error(parent, "holds no score PGS9", "demo-reference");
    temp_bundle_free(parent);
    json_decref(doc);
}

Test(reference, a_model_beside_its_reference_loads_with_it)
{
    json_t *doc = load_json(REF_JSON);
    char *parent = models_dir(NULL, NULL, "demo-reference", doc);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/model", parent);
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
    long k = -1;
    const struct gr_reference *r = gr_model_reference(m, &k);
    cr_assert_not_null(r);
    cr_assert_eq(k, 0);
    cr_assert_str_eq(gr_model_get_info(m)->reference, "demo-reference");
    cr_assert_str_eq(gr_model_get_info(m)->reference_score, "cad-pgs-demo");
    gr_model_free(m);
    temp_bundle_free(parent);
    json_decref(doc);
}

/* ---- SHA-256 ---- */

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    return 1;
}

/* docs/population.md's bundle_sha256, over the files of dir that exist. */
static void bundle_sha256(const char *dir, const char *const *files, size_t n, char hex[65])
{
    gr_sha256_ctx all;
    gr_sha256_init(&all);
    for (size_t i = 0; i < n; i++) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (stat(path, &st) != 0)
            continue;
        gr_sha256_ctx one;
        uint8_t d[GR_SHA256_SIZE];
        gr_error err;
        gr_sha256_init(&one);
        cr_assert_eq(gr_sha256_file(path, &one, &err), GR_OK, "%s", err.text);
        gr_sha256_final(&one, d);
        gr_sha256_update(&all, files[i], strlen(files[i]) + 1);
        gr_sha256_update(&all, d, sizeof d);
    }
    uint8_t d[GR_SHA256_SIZE];
    gr_sha256_final(&all, d);
    gr_sha256_hex(d, hex);
}

Test(reference, the_model_sha256_is_64_hex_digits_over_its_files)
{
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load("models/cad-pgs-demo", &m, &err), GR_OK, "%s", err.text);
    const char *got = gr_model_get_info(m)->sha256;
    cr_assert(is_hex64(got), "'%s'", got);
    static const char *const files[] = { "manifest.json", "cad_pgs_demo.txt" };
    char want[65];
    bundle_sha256("models/cad-pgs-demo", files, 2, want);
    cr_assert_str_eq(got, want);
    long k;
    const struct gr_reference *r = gr_model_reference(m, &k);
    static const char *const rfiles[] = { "reference.json", "classifier.json", "projection.json",
                                          "projection_variants.tsv" };
    bundle_sha256(REF, rfiles, 4, want);
    cr_assert_str_eq(gr_reference_get_info(r)->sha256, want);
    gr_model_free(m);
}

static void model_sha(const char *parent, char out[65])
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/model", parent);
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
    cr_assert(is_hex64(gr_model_get_info(m)->sha256));
    strcpy(out, gr_model_get_info(m)->sha256);
    gr_model_free(m);
}

Test(reference, the_sha256s_change_when_a_file_changes)
{
    json_t *doc = load_json(REF_JSON);
    char *parent = models_dir(NULL, NULL, "demo-reference", doc);
    char before[65], after[65], path[512];
    model_sha(parent, before);

    /* the artifact: one weight's last digit */
    snprintf(path, sizeof path, "%s/model/cad_pgs_demo.txt", parent);
    char *art = read_text(path);
    char *last_line = strrchr(art, '\n');
    cr_assert(last_line && last_line > art);
    char *p = last_line - 1;
    cr_assert(isdigit((unsigned char)*p), "the artifact's last byte is not a digit");
    *p = *p == '9' ? '8' : (char)(*p + 1);
    snprintf(path, sizeof path, "%s/model", parent);
    write_file(path, "cad_pgs_demo.txt", art);
    free(art);
    model_sha(parent, after);
    cr_assert_str_neq(before, after);

    /* the reference's reference.json: the model's digest stays, the
     * reference's moves */
    char rdir[512];
    snprintf(rdir, sizeof rdir, "%s/demo-reference", parent);
    gr_reference *r = NULL;
    gr_error err;
    cr_assert_eq(gr_reference_load(rdir, &r, &err), GR_OK);
    char ref_before[65];
    strcpy(ref_before, gr_reference_get_info(r)->sha256);
    gr_reference_free(r);
    json_object_set_new(doc, "description", json_string("another description"));
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    write_file(rdir, "reference.json", text);
    free(text);
    cr_assert_eq(gr_reference_load(rdir, &r, &err), GR_OK);
    cr_assert_str_neq(gr_reference_get_info(r)->sha256, ref_before);
    gr_reference_free(r);
    model_sha(parent, before);
    cr_assert_str_eq(before, after);

    temp_bundle_free(parent);
    json_decref(doc);
}
