/* load_xgboost.c - reads the JSON written by XGBoost's Booster.save_model
 * (1.x and 2.x schema) into a gr_forest. Splits send (float)x < threshold
 * left and missing values to default_left, as XGBoost does. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_arrays.h"

static json_t *obj_path(json_t *root, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(root, a);
    if (v && b)
        v = json_object_get(v, b);
    if (v && c)
        v = json_object_get(v, c);
    return v;
}

/* XGBoost writes parameters as strings, e.g. "5E-1" or, in 3.x, "[5E-1]". */
static int param_double(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out);
    }
    const char *s = json_string_value(v);
    if (!s)
        return 0;
    char buf[64];
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        if (n - 2 >= sizeof buf || memchr(s + 1, ',', n - 2))
            return 0;
        memcpy(buf, s + 1, n - 2);
        buf[n - 2] = '\0';
        s = buf;
    }
    return gr_parse_double(s, out);
}

/* The per-node arrays of a tree that are read, by json_arrays.c's scanner,
 * not as a json_t per number; and those that are not read at all, checked
 * and left out (a third of the numbers, most of them long reals). */
static const char *const node_arrays[] = { "left_children", "right_children",
                                           "split_indices", "split_conditions",
                                           "sum_hessian",   "default_left",
                                           "split_type",    NULL };
static const char *const unread_arrays[] = { "base_weights", "loss_changes", "parents", NULL };

/* split_type[i] as json_integer_value(json_array_get(...)) gives it: 0 for
 * a missing entry or one that is not an integer. */
static long long split_type_at(const gr_json_side *side, json_t *stype, size_t i)
{
    size_t n;
    const gr_json_num *nums = gr_json_side_array(side, stype, &n);
    if (!nums)
        return json_integer_value(json_array_get(stype, i));
    return i < n && nums[i].kind == GR_JNUM_INT ? nums[i].v.i : 0;
}

static gr_status load_tree(gr_model *m, const gr_json_side *side, json_t *tree, size_t ti,
                           gr_tree_arrays *a, const char *path, gr_error *err)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "trees[%zu]", ti);
    double nn;
    if (!json_is_object(tree) ||
        !param_double(obj_path(tree, "tree_param", "num_nodes", NULL), &nn) || nn < 1 || nn > 1e9 ||
        nn != floor(nn))
        return gr_error_set(err, GR_EMODEL, path, 0, prefix,
                            "missing or invalid tree_param.num_nodes");
    size_t n = (size_t)nn;
    static const gr_tree_keys keys = {
        "left_children", "right_children", "split_indices", "split_conditions", NULL,
        "sum_hessian",   "default_left"
    };
    gr_status st = gr_tree_arrays_read_side(side, tree, n, &keys, a, path, prefix, err);
    if (st)
        return st;
    json_t *stype = json_object_get(tree, "split_type");
    for (size_t i = 0; i < n; i++) {
        if (split_type_at(side, stype, i) != 0)
            return gr_error_set(err, GR_EUNSUPPORTED, path, 0, prefix,
                                "node %zu is a categorical split; only numeric splits are "
                                "supported",
                                i);
        /* XGBoost keeps leaf values in split_conditions and computes in float. */
        a->thr[i] = a->value[i] = (double)(float)a->thr[i];
        a->cover[i] = (double)(float)a->cover[i];
    }
    gr_raw_tree raw = { n,      a->left,  a->right, a->feature,
                        a->thr, a->value, a->cover, a->default_left };
    return gr_forest_add_tree(m->forest, &raw, ti, path, err);
}

gr_status gr_load_xgboost(gr_model *m, const char *path, gr_error *err)
{
    gr_status st = GR_OK;
    gr_tree_arrays arrays = { 0 };
    gr_json_side *side = NULL;
    json_t *root = gr_json_load_lean(path, 0, GR_MODEL_MAX_JSON, node_arrays, unread_arrays,
                                     m->load_threads, &side, err);
    if (!root)
        return err->status;
    json_t *learner = json_object_get(root, "learner");
    if (!json_is_object(learner)) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "learner",
                          "missing; is this a file from XGBoost's save_model(\"model.json\")?");
        goto fail;
    }
    const char *objective = json_string_value(obj_path(learner, "objective", "name", NULL));
    const char *booster = json_string_value(obj_path(learner, "gradient_booster", "name", NULL));
    json_t *trees = obj_path(learner, "gradient_booster", "model", "trees");
    json_t *tree_info = obj_path(learner, "gradient_booster", "model", "tree_info");
    json_t *lmp = json_object_get(learner, "learner_model_param");
    double base_score, num_feature, num_class = 0, num_target = 1;
    if (!booster || strcmp(booster, "gbtree")) {
        st = gr_error_set(err, GR_EUNSUPPORTED, path, 0, "learner.gradient_booster.name",
                          "booster '%.40s' is not supported; only gbtree",
                          booster ? booster : "(missing)");
        goto fail;
    }
    if (!objective) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "learner.objective.name", "missing");
        goto fail;
    }
    if (!param_double(json_object_get(lmp, "base_score"), &base_score)) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "learner.learner_model_param.base_score",
                          "missing or not a single number");
        goto fail;
    }
    if (!param_double(json_object_get(lmp, "num_feature"), &num_feature)) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "learner.learner_model_param.num_feature",
                          "missing or not a number");
        goto fail;
    }
    if (json_object_get(lmp, "num_class") &&
        !param_double(json_object_get(lmp, "num_class"), &num_class))
        num_class = -1;
    if (json_object_get(lmp, "num_target") &&
        !param_double(json_object_get(lmp, "num_target"), &num_target))
        num_target = -1;
    if (num_class > 1 || num_class < 0 || num_target != 1) {
        st = gr_error_set(err, GR_EUNSUPPORTED, path, 0, "learner.learner_model_param",
                          "multi-class and multi-target models are not supported");
        goto fail;
    }
    if (num_feature != (double)m->n_features) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "learner.learner_model_param.num_feature",
                          "the model has %.0f features, but the features file lists %zu",
                          num_feature, m->n_features);
        goto fail;
    }
    json_t *names = json_object_get(learner, "feature_names");
    if (json_is_array(names) && json_array_size(names) > 0) {
        if (json_array_size(names) != m->n_features) {
            st = gr_error_set(err, GR_EMODEL, path, 0, "learner.feature_names",
                              "%zu names, but the features file lists %zu", json_array_size(names),
                              m->n_features);
            goto fail;
        }
        for (size_t i = 0; i < m->n_features; i++) {
            const char *nm = json_string_value(json_array_get(names, i));
            if (!nm || strcmp(nm, m->features[i].id)) {
                st = gr_error_set(err, GR_EMODEL, path, 0, "learner.feature_names",
                                  "feature %zu is named '%.60s' in the model but '%.60s' in "
                                  "the features file; the column order must match",
                                  i, nm ? nm : "?", m->features[i].id);
                goto fail;
            }
        }
    }

    int logistic = 0;
    if (!strcmp(objective, "binary:logistic") || !strcmp(objective, "reg:logistic") ||
        !strcmp(objective, "binary:logitraw"))
        logistic = 1;
    else if (strcmp(objective, "reg:squarederror") && strcmp(objective, "reg:linear")) {
        st = gr_error_set(err, GR_EUNSUPPORTED, path, 0, "learner.objective.name",
                          "objective '%.60s' is not supported; expected binary:logistic, "
                          "reg:logistic, binary:logitraw, reg:squarederror or reg:linear",
                          objective);
        goto fail;
    }
    if (!strncmp(objective, "binary:", 7) && m->info.task != GR_TASK_CLASSIFICATION) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "learner.objective.name",
                          "objective %s needs task \"classification\" in the manifest", objective);
        goto fail;
    }
    if (!logistic && m->info.task != GR_TASK_REGRESSION) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "learner.objective.name",
                          "objective %s needs task \"regression\" in the manifest", objective);
        goto fail;
    }
    if (!strcmp(objective, "binary:logitraw")) {
        /* XGBoost 1.7 takes a logitraw base_score as a margin, untransformed. */
        m->info.base_margin = (double)(float)base_score;
        m->link = GR_LINK_LOGISTIC;
    } else if (logistic) {
        if (!(base_score > 0 && base_score < 1)) {
            st = gr_error_set(err, GR_EMODEL, path, 0, "learner.learner_model_param.base_score",
                              "must lie strictly between 0 and 1 for a logistic objective");
            goto fail;
        }
        /* XGBoost's ProbToMargin, in single precision as XGBoost computes it */
        m->info.base_margin = (double)(-logf(1.0f / (float)base_score - 1.0f)) + 0.0;
        m->link = GR_LINK_LOGISTIC;
    } else {
        m->info.base_margin = (double)(float)base_score;
        m->link = GR_LINK_IDENTITY;
    }

    if (!json_is_array(trees)) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "learner.gradient_booster.model.trees",
                          "missing or not an array");
        goto fail;
    }
    size_t nt = json_array_size(trees);
    if (nt == 0) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "learner.gradient_booster.model.trees",
                          "the forest is empty");
        goto fail;
    }
    for (size_t t = 0; tree_info && t < json_array_size(tree_info); t++)
        if (json_integer_value(json_array_get(tree_info, t)) != 0) {
            st = gr_error_set(err, GR_EUNSUPPORTED, path, 0,
                              "learner.gradient_booster.model.tree_info",
                              "trees of several output groups: multi-class is not supported");
            goto fail;
        }
    m->forest = gr_forest_new(m->n_features, GR_COMBINE_SUM, 1.0);
    if (!m->forest) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    for (size_t t = 0; t < nt; t++)
        if ((st = load_tree(m, side, json_array_get(trees, t), t, &arrays, path, err)))
            goto fail;
    if ((st = gr_forest_finish(m->forest, path, err)))
        goto fail;

    json_t *ver = json_object_get(root, "version");
    char vs[48] = "";
    if (json_is_array(ver) && json_array_size(ver) == 3)
        snprintf(vs, sizeof vs, " %lld.%lld.%lld",
                 (long long)json_integer_value(json_array_get(ver, 0)),
                 (long long)json_integer_value(json_array_get(ver, 1)),
                 (long long)json_integer_value(json_array_get(ver, 2)));
    m->algorithm = malloc(160);
    if (!m->algorithm) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    snprintf(m->algorithm, 160, "xgboost%s gbtree %s", vs, objective);

fail:
    gr_tree_arrays_free(&arrays);
    gr_json_side_free(side);
    json_decref(root);
    return st;
}
