/* load_trees.c - reads the genorisk-trees artifact written by
 * tools/export_sklearn.py (scikit-learn forests, boosting and single trees).
 * scikit-learn sends x <= threshold left, comparing the float32 input with a
 * double threshold; nextafter() turns that into the "x < thr" form the
 * forest uses everywhere, exactly. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_arrays.h"

static gr_status load_tree(gr_model *m, json_t *tree, size_t ti, gr_tree_arrays *a,
                           const char *path, gr_error *err)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "trees[%zu]", ti);
    json_t *cl = json_object_get(tree, "children_left");
    if (!json_is_object(tree) || !json_is_array(cl) || json_array_size(cl) == 0)
        return gr_error_set(err, GR_EMODEL, path, 0, prefix,
                            "a tree needs a non-empty children_left array");
    size_t n = json_array_size(cl);
    static const gr_tree_keys keys = { "children_left", "children_right", "feature",
                                       "threshold",     "value",          "cover",
                                       "default_left" };
    gr_status st = gr_tree_arrays_read(tree, n, &keys, a, path, prefix, err);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++)
        a->thr[i] = nextafter(a->thr[i], INFINITY);
    gr_raw_tree raw = { n,      a->left,  a->right, a->feature,
                        a->thr, a->value, a->cover, a->default_left };
    return gr_forest_add_tree(m->forest, &raw, ti, path, err);
}

gr_status gr_load_trees(gr_model *m, const char *path, gr_error *err)
{
    gr_status st = GR_OK;
    gr_tree_arrays arrays = { 0 };
    json_t *root = gr_json_load(path, JSON_REJECT_DUPLICATES, GR_MODEL_MAX_JSON, err);
    if (!root)
        return err->status;
    const char *combine = json_string_value(json_object_get(root, "combine"));
    const char *link = json_string_value(json_object_get(root, "link"));
    const char *est = json_string_value(json_object_get(root, "estimator"));
    json_t *nfeat = json_object_get(root, "n_features");
    json_t *trees = json_object_get(root, "trees");
    json_t *lr = json_object_get(root, "learning_rate");
    json_t *bm = json_object_get(root, "base_margin");
    if ((st = gr_json_check_format(root, "genorisk-trees", path, err)))
        goto fail;
    if (!json_is_integer(nfeat) || json_integer_value(nfeat) != (json_int_t)m->n_features) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "n_features",
                          "must equal the %zu features of the features file", m->n_features);
        goto fail;
    }
    if (!combine || (strcmp(combine, "mean") && strcmp(combine, "sum"))) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "combine", "must be \"mean\" or \"sum\"");
        goto fail;
    }
    /* identity suits classifier forests too: they average probabilities */
    if ((st = gr_model_set_link(m, link, 0, path, err)))
        goto fail;
    double scale = 1, base = 0;
    if (lr && (!json_is_number(lr) || !isfinite(scale = json_number_value(lr)))) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "learning_rate", "not a finite number");
        goto fail;
    }
    if (bm && (!json_is_number(bm) || !isfinite(base = json_number_value(bm)))) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "base_margin", "not a finite number");
        goto fail;
    }
    m->info.base_margin = base;
    if (!json_is_array(trees) || json_array_size(trees) == 0) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "trees",
                          json_is_array(trees) ? "the forest is empty" : "missing or not an array");
        goto fail;
    }
    m->forest = gr_forest_new(m->n_features,
                              strcmp(combine, "sum") ? GR_COMBINE_MEAN : GR_COMBINE_SUM, scale);
    if (!m->forest) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    for (size_t t = 0; t < json_array_size(trees); t++)
        if ((st = load_tree(m, json_array_get(trees, t), t, &arrays, path, err)))
            goto fail;
    if ((st = gr_forest_finish(m->forest, path, err)))
        goto fail;
    m->algorithm = malloc(160);
    if (!m->algorithm) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    char name[61]; /* the estimator's name, cut to 60 bytes on a character boundary */
    snprintf(name, sizeof name, "%s", est ? est : "tree ensemble");
    gr_utf8_trim(name);
    snprintf(m->algorithm, 160, "scikit-learn %s (genorisk-trees, %s of %zu tree%s)", name, combine,
             m->forest->n_trees, m->forest->n_trees == 1 ? "" : "s");

fail:
    gr_tree_arrays_free(&arrays);
    json_decref(root);
    return st;
}
