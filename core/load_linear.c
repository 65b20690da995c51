/* load_linear.c - the genorisk-linear artifact (tools/export_sklearn.py):
 * intercept, one additive weight per feature, and the link. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_arrays.h"

gr_status gr_load_linear(gr_model *m, const char *path, gr_error *err)
{
    gr_status st = GR_OK;
    json_t *root = gr_json_load(path, JSON_REJECT_DUPLICATES, GR_MODEL_MAX_JSON, err);
    if (!root)
        return err->status;
    json_t *w = json_object_get(root, "weights");
    json_t *b = json_object_get(root, "intercept");
    const char *link = json_string_value(json_object_get(root, "link"));
    const char *est = json_string_value(json_object_get(root, "estimator"));
    if ((st = gr_json_check_format(root, "genorisk-linear", path, err)))
        goto fail;
    json_t *nf = json_object_get(root, "n_features");
    if (nf && (!json_is_integer(nf) || json_integer_value(nf) != (json_int_t)m->n_features)) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "n_features",
                          "must equal the %zu features of the features file", m->n_features);
        goto fail;
    }
    if (!json_is_array(w)) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "weights", "missing or not an array");
        goto fail;
    }
    if (json_array_size(w) != m->n_features) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "weights",
                          "%zu weights, but the features file lists %zu features",
                          json_array_size(w), m->n_features);
        goto fail;
    }
    if (!json_is_number(b) || !isfinite(json_number_value(b))) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "intercept", "missing or not a number");
        goto fail;
    }
    /* a linear classifier's identity output would not be a probability */
    if ((st = gr_model_set_link(m, link, 1, path, err)))
        goto fail;
    m->linear = gr_linear_new(m->n_features);
    if (!m->linear) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    m->linear->intercept = json_number_value(b);
    for (size_t i = 0; i < m->n_features; i++) {
        json_t *v = json_array_get(w, i);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            char f[48];
            snprintf(f, sizeof f, "weights[%zu]", i);
            st = gr_error_set(err, GR_EMODEL, path, 0, f, "not a finite number");
            goto fail;
        }
        double wi = json_number_value(v);
        m->linear->c[3 * i + 1] = wi;
        m->linear->c[3 * i + 2] = 2 * wi;
    }
    gr_linear_finish(m->linear, m->features);
    m->algorithm = malloc(160);
    if (!m->algorithm) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    snprintf(m->algorithm, 160, "scikit-learn %s (genorisk-linear, %s link)",
             est ? est : "linear model", link);
    gr_utf8_trim(m->algorithm); /* a long name may be cut inside a character */
    m->info.base_margin = m->linear->intercept;

fail:
    json_decref(root);
    return st;
}
