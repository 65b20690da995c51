/* linear.c - linear and polygenic models: prediction and exact SHAP under
 * feature independence (phi_i = c_i(x_i) - E[c_i]), plus the genorisk-linear
 * artifact loader. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_arrays.h"

gr_linear *gr_linear_new(size_t n)
{
    gr_linear *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->n = n;
    l->c = calloc(n ? 3 * n : 1, sizeof *l->c);
    l->expected = calloc(n ? n : 1, sizeof *l->expected);
    l->missing_term = calloc(n ? n : 1, sizeof *l->missing_term);
    if (!l->c || !l->expected || !l->missing_term) {
        gr_linear_free(l);
        return NULL;
    }
    return l;
}

void gr_linear_free(gr_linear *l)
{
    if (!l)
        return;
    free(l->c);
    free(l->expected);
    free(l->missing_term);
    free(l);
}

void gr_linear_finish(gr_linear *l, const gr_feature *features)
{
    for (size_t i = 0; i < l->n; i++) {
        const double *c = l->c + 3 * i;
        double m = features[i].mean;
        if (isnan(m)) {
            l->expected[i] = c[0];
            l->missing_term[i] = 0; /* no mean: a missing term adds nothing */
            continue;
        }
        /* Hardy-Weinberg genotype frequencies at allele frequency m/2; for an
         * additive term this is exactly w * m whatever the true distribution. */
        double p = m / 2, r = 1 - p;
        l->expected[i] = r * r * c[0] + 2 * p * r * c[1] + p * p * c[2];
        l->missing_term[i] = l->expected[i]; /* imputed: its expectation */
    }
}

static double contribution(const double *c, double d)
{
    return d <= 1 ? c[0] + d * (c[1] - c[0]) : c[1] + (d - 1) * (c[2] - c[1]);
}

double gr_linear_predict(const gr_linear *l, const double *x, gr_impute impute, double *phi,
                         double *base)
{
    double sum = l->intercept, b = l->intercept;
    for (size_t i = 0; i < l->n; i++) {
        const double *c = l->c + 3 * i;
        double term;
        if (isnan(x[i]))
            term = impute == GR_IMPUTE_MEAN ? l->missing_term[i] : 0;
        else
            term = contribution(c, x[i]);
        sum += term;
        if (phi) {
            phi[i] = term - l->expected[i];
            b += l->expected[i];
        }
    }
    if (base)
        *base = b;
    return sum;
}

/* ---- genorisk-linear artifact ---- */

gr_status gr_load_linear(gr_model *m, const char *path, gr_error *err)
{
    gr_status st = GR_OK;
    json_t *root = gr_json_load(path, JSON_REJECT_DUPLICATES, err);
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
