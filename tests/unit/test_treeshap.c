/* test_treeshap.c - the quadrature TreeSHAP against brute-force Shapley
 * enumeration on random trees built to hit the hard cases: a feature split
 * several times on one path, zero-cover nodes, missing values with either
 * default, single-leaf trees, paths deeper than the feature count, and
 * sixteen distinct features on one path; and the batched kernels against
 * one row at a time, bit for bit, on every instruction set the CPU has. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "helpers.h"

#define NF_MAX 16
static int nf = 9;          /* features of the test models */
static int distinct_levels; /* 1: level k of a tree splits on feature k */

static unsigned long long rng = 88172645463325252ULL;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Appends a random subtree of at most depth levels to the arrays in t;
 * returns its root index. */
typedef struct {
    json_t *left, *right, *feat, *thr, *val, *cover, *dl;
    int n, level;
} jtree;

static int grow_node(jtree *t, int depth, double cover, double zero_cover_p)
{
    int id = t->n++;
    json_array_append_new(t->left, json_integer(-1));
    json_array_append_new(t->right, json_integer(-1));
    json_array_append_new(t->feat, json_integer(-2));
    json_array_append_new(t->thr, json_real(-2));
    json_array_append_new(t->val, json_real(urand() * 4 - 2));
    json_array_append_new(t->cover, json_real(cover));
    json_array_append_new(t->dl, json_integer(urand() < 0.5));
    if (depth == 0 || urand() < 0.15)
        return id;
    /* few features, so deep paths repeat them */
    int f = distinct_levels ? t->level : (int)(urand() * nf);
    double thr = (double)(int)(urand() * 3) + 0.5 * (urand() < 0.8); /* 0, .5, 1, 1.5, 2 */
    double share = urand();
    if (urand() < zero_cover_p)
        share = 0; /* an empty left child: zero-cover subtree */
    double lc = cover * share, rc = cover - lc;
    t->level++;
    int l = grow_node(t, depth - 1, lc, zero_cover_p);
    int r = grow_node(t, depth - 1, rc, zero_cover_p);
    t->level--;
    json_array_set_new(t->left, (size_t)id, json_integer(l));
    json_array_set_new(t->right, (size_t)id, json_integer(r));
    json_array_set_new(t->feat, (size_t)id, json_integer(f));
    json_array_set_new(t->thr, (size_t)id, json_real(thr));
    return id;
}

static char *random_forest_json(int n_trees, int depth, double zero_cover_p, const char *combine)
{
    json_t *trees = json_array();
    for (int k = 0; k < n_trees; k++) {
        jtree t = { json_array(),
                    json_array(),
                    json_array(),
                    json_array(),
                    json_array(),
                    json_array(),
                    json_array(),
                    0,
                    0 };
        grow_node(&t, depth, 100.0, zero_cover_p);
        json_array_append_new(trees, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "children_left",
                                               t.left, "children_right", t.right, "feature", t.feat,
                                               "threshold", t.thr, "value", t.val, "cover", t.cover,
                                               "default_left", t.dl));
    }
    json_t *root = json_pack("{s:s,s:i,s:s,s:i,s:s,s:f,s:f,s:s,s:o}", "format", "genorisk-trees",
                             "format_version", 1, "estimator", "random test forest", "n_features",
                             nf, "combine", combine, "learning_rate", 0.3, "base_margin", 0.25,
                             "link", "identity", "trees", trees);
    char *s = json_dumps(root, JSON_REAL_PRECISION(17));
    json_decref(root);
    return s;
}

static const char manifest[] =
    "{\"name\":\"random\",\"version\":\"1\",\"task\":\"regression\",\"format\":\"genorisk-trees\","
    "\"artifact\":\"model.json\",\"features\":\"features.tsv\",\"genome_build\":\"GRCh38\"}";

static char *features_tsv(int with_means)
{
    static char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "feature_id\tchrom\tpos\tref\talt\tmean\n");
    for (int i = 0; i < nf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "f%d\t1\t%d\tA\tG\t%s\n", i, 1000 + i,
                              with_means ? (i % 2 ? "0.7" : "") : "");
    return buf;
}

static void compare(int n_trees, int depth, double zero_cover_p, const char *combine, int rows,
                    int with_means)
{
    char *model = random_forest_json(n_trees, depth, zero_cover_p, combine);
    char *dir = temp_bundle("manifest.json", manifest, "features.tsv", features_tsv(with_means),
                            "model.json", model, NULL);
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
    gr_workspace *ws = gr_workspace_new(m);
    double x[NF_MAX], phi[NF_MAX], bf[NF_MAX];
    for (int r = 0; r < rows; r++) {
        for (int i = 0; i < nf; i++) {
            double u = urand();
            x[i] = u < 0.15 ? NAN : u < 0.4 ? 0 : u < 0.6 ? 1 : u < 0.8 ? 2 : urand() * 2;
        }
        gr_prediction p;
        cr_assert_eq(gr_predict(m, ws, x, &p, phi, NULL, NULL), GR_OK);
        double base = brute_force_tree_shap(m, x, bf);
        cr_assert(fabs(base - p.base_value) <= 1e-9 * fmax(1, fabs(base)), "base %.17g vs %.17g",
                  p.base_value, base);
        double sum = p.base_value;
        for (int j = 0; j < nf; j++) {
            cr_assert(fabs(phi[j] - bf[j]) <= 1e-9 * fmax(1, fabs(bf[j])),
                      "depth %d row %d feature %d: %.17g vs brute %.17g", depth, r, j, phi[j],
                      bf[j]);
            sum += phi[j];
        }
        cr_assert(fabs(sum - p.margin) <= 1e-9 * fmax(1, fabs(p.margin)),
                  "additivity: %.17g vs %.17g", sum, p.margin);
    }
    gr_workspace_free(ws);
    gr_model_free(m);
    temp_bundle_free(dir);
    free(model);
}

Test(treeshap, shallow_trees_sum)
{
    compare(8, 3, 0, "sum", 30, 0);
}
Test(treeshap, repeated_features_on_deep_paths)
{
    compare(4, 12, 0, "sum", 20, 0);
}
Test(treeshap, zero_cover_subtrees)
{
    compare(6, 6, 0.3, "mean", 30, 0);
}
Test(treeshap, imputed_means_and_missing)
{
    compare(6, 6, 0.1, "mean", 30, 1);
}

Test(treeshap, single_leaf_tree_moves_only_the_base)
{
    const char *model =
        "{\"format\":\"genorisk-trees\",\"n_features\":9,\"combine\":\"sum\",\"link\":\"identity\","
        "\"base_margin\":1,\"trees\":[{\"children_left\":[-1],\"children_right\":[-1],"
        "\"feature\":[-2],\"threshold\":[-2],\"value\":[0.75],\"cover\":[5],\"default_left\":[0]}]"
        "}";
    char *dir = temp_bundle("manifest.json", manifest, "features.tsv", features_tsv(0),
                            "model.json", model, NULL);
    gr_model *m = NULL;
    cr_assert_eq(gr_model_load(dir, &m, NULL), GR_OK);
    gr_workspace *ws = gr_workspace_new(m);
    double x[NF_MAX] = { 0 }, phi[NF_MAX];
    gr_prediction p;
    cr_assert_eq(gr_predict(m, ws, x, &p, phi, NULL, NULL), GR_OK);
    cr_assert_float_eq(p.margin, 1.75, 1e-15);
    cr_assert_float_eq(p.base_value, 1.75, 1e-15);
    for (int j = 0; j < nf; j++)
        cr_assert_eq(phi[j], 0);
    gr_workspace_free(ws);
    gr_model_free(m);
    temp_bundle_free(dir);
}

/* Sixteen levels, each splitting on its own feature: entries of up to
 * seventeen distinct features, integrated by rules of up to nine points
 * (beyond the shapes compiled for fixed depths). */
Test(treeshap, sixteen_distinct_features_on_one_path)
{
    nf = 16;
    distinct_levels = 1;
    compare(1, 15, 0.05, "sum", 2, 1);
}

/* n random rows (some missing) of the model in dir's forest. */
static double *random_rows(int n)
{
    double *x = malloc((size_t)n * nf * sizeof *x);
    for (int i = 0; i < n * nf; i++) {
        double u = urand();
        x[i] = u < 0.15 ? NAN : u < 0.4 ? 0 : u < 0.6 ? 1 : u < 0.8 ? 2 : urand() * 2;
    }
    return x;
}

/* gr_predict_batch gives every row the bits gr_predict gives it alone,
 * whatever the batch size (partial groups of lanes included), and every
 * kernel of gr_forest_shap_batch gives the baseline kernel's bits. */
Test(treeshap, batches_and_kernels_give_the_same_bits)
{
    char *model = random_forest_json(20, 7, 0.1, "sum");
    char *dir = temp_bundle("manifest.json", manifest, "features.tsv", features_tsv(1),
                            "model.json", model, NULL);
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
    gr_workspace *ws = gr_workspace_new(m);
    const int n = 19;
    double *x = random_rows(n), one[NF_MAX], phis[19][NF_MAX], used[19][NF_MAX];
    const double *xp[19];
    double *pp[19], *up[19];
    gr_prediction out[19], p;
    for (int i = 0; i < n; i++) {
        xp[i] = x + i * nf;
        pp[i] = phis[i];
        up[i] = used[i];
    }
    for (int size = 1; size <= n; size += 3) {
        size_t bad = 99;
        cr_assert_eq(gr_predict_batch(m, ws, (size_t)size, xp, NULL, out, pp, up, &bad, &err),
                     GR_OK);
        cr_assert_eq(bad, (size_t)size);
        for (int i = 0; i < size; i++) {
            cr_assert_eq(gr_predict(m, ws, xp[i], &p, one, NULL, NULL), GR_OK);
            cr_assert(!memcmp(one, phis[i], (size_t)nf * sizeof *one), "batch of %d, row %d", size,
                      i);
            cr_assert(!memcmp(&p, &out[i], sizeof p), "batch of %d, row %d: prediction", size, i);
        }
    }

    const gr_forest *f = m->forest;
    uint8_t *mask = malloc(f->n_nodes);
    double xf[8][NF_MAX], want[8][NF_MAX], got[8][NF_MAX];
    const double *xfp[8];
    double *wp[8], *gp[8];
    for (int b = 0; b < 8; b++) {
        for (int i = 0; i < nf; i++)
            xf[b][i] = isnan(x[b * nf + i]) ? NAN : (double)(float)x[b * nf + i];
        xfp[b] = xf[b];
        wp[b] = want[b];
        gp[b] = got[b];
    }
    const gr_simd kinds[] = { GR_SIMD_AVX2, GR_SIMD_AVX512, GR_SIMD_AUTO };
    for (size_t nb = 1; nb <= 8; nb++) {
        memset(want, 0, sizeof want);
        cr_assert(gr_forest_shap_batch(f, GR_SIMD_BASE, nb, xfp, mask, wp));
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
            memset(got, 0, sizeof got);
            if (!gr_forest_shap_batch(f, kinds[k], nb, xfp, mask, gp)) {
                cr_assert(kinds[k] > gr_simd_best(), "%s refused", gr_simd_name(kinds[k]));
                continue; /* this CPU lacks it */
            }
            cr_assert(!memcmp(want, got, sizeof want), "%s, %zu rows", gr_simd_name(kinds[k]), nb);
        }
    }
    cr_assert(!gr_forest_shap_batch(f, GR_SIMD_BASE, 0, xfp, mask, wp));
    cr_assert(!gr_forest_shap_batch(f, GR_SIMD_BASE, 9, xfp, mask, wp));
    free(mask);
    free(x);
    gr_workspace_free(ws);
    gr_model_free(m);
    temp_bundle_free(dir);
    free(model);
}

/* A bad dosage in row 5 of 12: rows 0-4 are complete, *bad names row 5. */
Test(treeshap, a_bad_row_stops_the_batch_there)
{
    char *model = random_forest_json(5, 5, 0, "sum");
    char *dir = temp_bundle("manifest.json", manifest, "features.tsv", features_tsv(0),
                            "model.json", model, NULL);
    gr_model *m = NULL;
    cr_assert_eq(gr_model_load(dir, &m, NULL), GR_OK);
    gr_workspace *ws = gr_workspace_new(m);
    double *x = random_rows(12), phis[12][NF_MAX], one[NF_MAX];
    x[5 * nf + 3] = 2.5;
    const double *xp[12];
    double *pp[12];
    gr_prediction out[12], p;
    for (int i = 0; i < 12; i++) {
        xp[i] = x + i * nf;
        pp[i] = phis[i];
    }
    size_t bad = 0;
    gr_error err;
    cr_assert_eq(gr_predict_batch(m, ws, 12, xp, NULL, out, pp, NULL, &bad, &err), GR_EINPUT);
    cr_assert_eq(bad, 5);
    cr_assert_str_eq(err.field, "f3");
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(gr_predict(m, ws, xp[i], &p, one, NULL, NULL), GR_OK);
        cr_assert(!memcmp(one, phis[i], (size_t)nf * sizeof *one), "row %d", i);
        cr_assert_eq(p.margin, out[i].margin);
    }
    free(x);
    gr_workspace_free(ws);
    gr_model_free(m);
    temp_bundle_free(dir);
    free(model);
}

/* A forest over more than GR_BATCH_MAX_FEATURES features explains one row
 * per pass (eight copies of each buffer would outweigh the gain), with the
 * same bits. */
Test(treeshap, a_forest_of_many_features_is_explained_a_row_at_a_time)
{
    char *model = random_forest_json(6, 5, 0, "sum");
    const size_t wide = GR_BATCH_MAX_FEATURES + 1;
    size_t cap = 64 + wide * 40, n = 0;
    char *tsv = malloc(cap), *json = malloc(strlen(model) + 64);
    n += (size_t)snprintf(tsv + n, cap - n, "feature_id\tchrom\tpos\tref\talt\tmean\n");
    for (size_t i = 0; i < wide; i++)
        n += (size_t)snprintf(tsv + n, cap - n, "f%zu\t1\t%zu\tA\tG\t\n", i, 1000 + i);
    /* the same trees, over the wider feature count */
    char *at = strstr(model, "\"n_features\":");
    cr_assert(at);
    size_t head = (size_t)(at - model);
    char *rest = strchr(at, ',');
    sprintf(json, "%.*s\"n_features\":%zu%s", (int)head, model, wide, rest);
    char *dir =
        temp_bundle("manifest.json", manifest, "features.tsv", tsv, "model.json", json, NULL);
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
    cr_assert_eq(gr_model_batch_width(m), 1);
    gr_workspace *ws = gr_workspace_new(m);
    double *x = calloc(3 * wide, sizeof *x), *phis = calloc(3 * wide, sizeof *phis);
    double *one = calloc(wide, sizeof *one);
    const double *xp[3];
    double *pp[3];
    gr_prediction out[3], p;
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < nf; i++)
            x[(size_t)r * wide + (size_t)i] = (double)((r + i) % 3);
        xp[r] = x + (size_t)r * wide;
        pp[r] = phis + (size_t)r * wide;
    }
    cr_assert_eq(gr_predict_batch(m, ws, 3, xp, NULL, out, pp, NULL, NULL, &err), GR_OK, "%s",
                 err.text);
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(gr_predict(m, ws, xp[r], &p, one, NULL, NULL), GR_OK);
        cr_assert(!memcmp(one, pp[r], wide * sizeof *one), "row %d", r);
        cr_assert_eq(p.margin, out[r].margin);
    }
    free(x);
    free(phis);
    free(one);
    free(tsv);
    free(json);
    gr_workspace_free(ws);
    gr_model_free(m);
    temp_bundle_free(dir);
    free(model);
}
