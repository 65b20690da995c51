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

static gr_status load_tree(gr_forest *f, json_t *tree, size_t ti, gr_tree_arrays *a,
                           const char *path, const char *where, gr_error *err)
{
    char prefix[160];
    snprintf(prefix, sizeof prefix, "%s%strees[%zu]", where, *where ? "." : "", ti);
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
    return gr_forest_add_tree(f, &raw, ti, path, err);
}

/* A field name under where ("" at the top of a file). */
static const char *at(char *buf, size_t size, const char *where, const char *key)
{
    snprintf(buf, size, "%s%s%s", where, *where ? "." : "", key);
    return buf;
}

gr_status gr_trees_parse(json_t *root, size_t n_features, const char *path, const char *where,
                         gr_trees_doc *out, gr_error *err)
{
    gr_status st = GR_OK;
    gr_tree_arrays arrays = { 0 };
    char field[200];
    memset(out, 0, sizeof *out);
    out->scale = 1;
    const char *combine = json_string_value(json_object_get(root, "combine"));
    json_t *nfeat = json_object_get(root, "n_features");
    json_t *trees = json_object_get(root, "trees");
    json_t *lr = json_object_get(root, "learning_rate");
    json_t *bm = json_object_get(root, "base_margin");
    out->link = json_string_value(json_object_get(root, "link"));
    out->estimator = json_string_value(json_object_get(root, "estimator"));
    if ((st = gr_json_check_format(root, "genorisk-trees", path, err)))
        goto fail;
    if (!json_is_integer(nfeat) || json_integer_value(nfeat) != (json_int_t)n_features) {
        st = gr_error_set(err, GR_EMODEL, path, 0, at(field, sizeof field, where, "n_features"),
                          "must equal the %zu features of the features file", n_features);
        goto fail;
    }
    if (!combine || (strcmp(combine, "mean") && strcmp(combine, "sum"))) {
        st = gr_error_set(err, GR_EMODEL, path, 0, at(field, sizeof field, where, "combine"),
                          "must be \"mean\" or \"sum\"");
        goto fail;
    }
    out->combine = strcmp(combine, "sum") ? GR_COMBINE_MEAN : GR_COMBINE_SUM;
    if (lr && (!json_is_number(lr) || !isfinite(out->scale = json_number_value(lr)))) {
        st = gr_error_set(err, GR_EMODEL, path, 0, at(field, sizeof field, where, "learning_rate"),
                          "not a finite number");
        goto fail;
    }
    if (bm && (!json_is_number(bm) || !isfinite(out->base_margin = json_number_value(bm)))) {
        st = gr_error_set(err, GR_EMODEL, path, 0, at(field, sizeof field, where, "base_margin"),
                          "not a finite number");
        goto fail;
    }
    if (!json_is_array(trees) || json_array_size(trees) == 0) {
        st = gr_error_set(err, GR_EMODEL, path, 0, at(field, sizeof field, where, "trees"),
                          json_is_array(trees) ? "the forest is empty" : "missing or not an array");
        goto fail;
    }
    out->forest = gr_forest_new(n_features, out->combine, out->scale);
    if (!out->forest) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    for (size_t t = 0; t < json_array_size(trees); t++)
        if ((st = load_tree(out->forest, json_array_get(trees, t), t, &arrays, path, where, err)))
            goto fail;
    st = gr_forest_finish(out->forest, path, err);

fail:
    if (st) {
        gr_forest_free(out->forest);
        out->forest = NULL;
    }
    gr_tree_arrays_free(&arrays);
    return st;
}

gr_status gr_load_trees(gr_model *m, const char *path, gr_error *err)
{
    gr_status st = GR_OK;
    gr_trees_doc doc;
    json_t *root = gr_json_load(path, JSON_REJECT_DUPLICATES, GR_MODEL_MAX_JSON, err);
    if (!root)
        return err->status;
    if ((st = gr_trees_parse(root, m->n_features, path, "", &doc, err)))
        goto fail;
    m->forest = doc.forest;
    m->info.base_margin = doc.base_margin;
    /* identity suits classifier forests too: they average probabilities */
    if ((st = gr_model_set_link(m, doc.link, 0, path, err)))
        goto fail;
    m->algorithm = malloc(160);
    if (!m->algorithm) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    char name[61]; /* the estimator's name, cut to 60 bytes on a character boundary */
    snprintf(name, sizeof name, "%s", doc.estimator ? doc.estimator : "tree ensemble");
    gr_utf8_trim(name);
    snprintf(m->algorithm, 160, "scikit-learn %s (genorisk-trees, %s of %zu tree%s)", name,
             doc.combine == GR_COMBINE_SUM ? "sum" : "mean", m->forest->n_trees,
             m->forest->n_trees == 1 ? "" : "s");

fail:
    json_decref(root);
    return st;
}
