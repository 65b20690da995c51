/* predict.c - one sample through a model: range checks, imputation,
 * the ensemble or linear sum, the link, and SHAP when asked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct gr_workspace {
    const gr_model *m;
    gr_impute impute;
    const double *fill; /* borrowed; NULL: the impute rule's values */
    size_t lanes;       /* rows predicted together: gr_model_batch_width */
    double *xf;         /* lanes rows of dosages as the trees compare
                         * them: (double)(float) */
    uint8_t *mask;      /* per forest node: which rows of a batch go left */
};

gr_workspace *gr_workspace_new(const gr_model *m)
{
    gr_workspace *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->m = m;
    ws->impute = m->impute;
    ws->lanes = gr_model_batch_width(m);
    ws->xf = malloc((m->n_features ? m->n_features : 1) * ws->lanes * sizeof *ws->xf);
    ws->mask = malloc(m->forest && m->forest->n_nodes ? m->forest->n_nodes : 1);
    if (!ws->xf || !ws->mask) {
        gr_workspace_free(ws);
        return NULL;
    }
    return ws;
}

void gr_workspace_free(gr_workspace *ws)
{
    if (!ws)
        return;
    free(ws->xf);
    free(ws->mask);
    free(ws);
}

void gr_workspace_set_impute(gr_workspace *ws, gr_impute how)
{
    ws->impute = how;
}

void gr_workspace_set_fill(gr_workspace *ws, const double *fill)
{
    ws->fill = fill;
}

const char *gr_impute_name(gr_impute v)
{
    return v == GR_IMPUTE_MEAN ? "mean" : v == GR_IMPUTE_COHORT ? "cohort" : "none";
}

int gr_impute_parse(const char *s, gr_impute *out)
{
    if (!strcmp(s, "none"))
        *out = GR_IMPUTE_NONE;
    else if (!strcmp(s, "mean"))
        *out = GR_IMPUTE_MEAN;
    else if (!strcmp(s, "cohort"))
        *out = GR_IMPUTE_COHORT;
    else
        return 0;
    return 1;
}

int gr_coverage_ok(const gr_model *m, size_t observed)
{
    size_t n = m->n_features;
    return n == 0 || (double)observed / (double)n >= m->min_coverage;
}

int gr_call_dosage(int count, int ploidy, int chr_x)
{
    if (ploidy == 1 && chr_x)
        count *= 2;
    return count > 2 ? 2 : count;
}

/* Stage one of a row: checks x, imputes, counts into out, fills used and
 * (for a forest) xf, the row as the trees compare it. */
static gr_status prepare(const gr_model *m, const gr_workspace *ws, const double *x,
                         const double *fill, gr_prediction *out, double *used, double *xf,
                         gr_error *err)
{
    memset(out, 0, sizeof *out);
    const size_t n = m->n_features;
    out->n_expected = n;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (isnan(v)) {
            if (fill)
                v = fill[i];
            else if (ws->impute != GR_IMPUTE_NONE)
                v = m->features[i].mean;
            if (isnan(v))
                out->n_missing++;
            else
                out->n_imputed++;
        } else if (!(v >= 0 && v <= 2)) {
            return gr_error_set(err, GR_EINPUT, NULL, 0, m->features[i].id,
                                "dosage must be a number from 0 to 2");
        } else {
            out->n_observed++;
            out->observed_sum += v;
        }
        if (used)
            used[i] = v;
        /* Trees compare in single precision, as XGBoost and scikit-learn do. */
        if (m->forest)
            xf[i] = isnan(v) ? v : (double)(float)v;
    }
    return GR_OK;
}

/* Stage two, for rows [0, nb) of a batch whose first stage is done: the
 * forest's sum and, when phi is given, its attributions, all rows in one
 * pass over the trees. */
static void forest_rows(const gr_model *m, gr_workspace *ws, size_t nb, gr_prediction *out,
                        double *const *phi)
{
    const gr_forest *f = m->forest;
    const size_t n = m->n_features;
    const double *xf[GR_SHAP_LANES];
    for (size_t b = 0; b < nb; b++) {
        xf[b] = ws->xf + b * n;
        out[b].margin = m->info.base_margin + gr_forest_predict(f, xf[b]);
    }
    if (!phi)
        return;
    for (size_t b = 0; b < nb; b++) {
        memset(phi[b], 0, n * sizeof *phi[b]);
        out[b].base_value = m->info.base_margin + f->expected;
    }
    gr_forest_shap_batch(f, GR_SIMD_AUTO, nb, xf, ws->mask, phi);
}

static void link_rows(const gr_model *m, size_t nb, gr_prediction *out)
{
    for (size_t b = 0; b < nb; b++)
        out[b].score =
            m->link == GR_LINK_LOGISTIC ? 1.0 / (1.0 + exp(-out[b].margin)) : out[b].margin;
}

/* Rows [0, nb) of x, nb <= GR_SHAP_LANES: 0 and *bad = nb when all went
 * through, else the first failing row's status with *bad its index (rows
 * before it are complete). */
static gr_status batch(const gr_model *m, gr_workspace *ws, size_t nb, const double *const *x,
                       const double *const *fill, gr_prediction *out, double *const *phi,
                       double *const *used, size_t *bad, gr_error *err)
{
    gr_status st = GR_OK;
    size_t ok = 0;
    for (; ok < nb; ok++) {
        double *xf = ws->xf + ok * m->n_features;
        const double *fl = fill && fill[ok] ? fill[ok] : ws->fill;
        if ((st = prepare(m, ws, x[ok], fl, &out[ok], used ? used[ok] : NULL, xf, err)))
            break;
    }
    *bad = ok;
    if (m->forest) {
        if (ok)
            forest_rows(m, ws, ok, out, phi);
    } else {
        for (size_t b = 0; b < ok; b++)
            out[b].margin =
                gr_linear_predict(m->linear, x[b], ws->impute, fill && fill[b] ? fill[b] : ws->fill,
                                  phi ? phi[b] : NULL, &out[b].base_value);
    }
    link_rows(m, ok, out);
    return st;
}

size_t gr_model_batch_width(const gr_model *m)
{
    /* eight rows of a model's every feature, in each of a thread's
     * buffers: past GR_BATCH_MAX_FEATURES that memory outweighs the gain */
    return m && m->forest && m->n_features <= GR_BATCH_MAX_FEATURES ? GR_SHAP_LANES : 1;
}

gr_status gr_predict_batch(const gr_model *m, gr_workspace *ws, size_t n, const double *const *x,
                           const double *const *fill, gr_prediction *out, double *const *phi,
                           double *const *used, size_t *bad, gr_error *err)
{
    size_t done = 0;
    if (!m || !ws || ws->m != m || !x || !out) {
        if (bad)
            *bad = 0;
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL,
                            "gr_predict needs a model, its own workspace, input and output");
    }
    if (!m->forest && !m->linear) {
        if (bad)
            *bad = 0;
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL,
                            "model %s was loaded for its features only: it cannot predict",
                            m->name);
    }
    gr_status st = GR_OK;
    while (done < n) {
        size_t nb = n - done < ws->lanes ? n - done : ws->lanes, got;
        st = batch(m, ws, nb, x + done, fill ? fill + done : NULL, out + done,
                   phi ? phi + done : NULL, used ? used + done : NULL, &got, err);
        done += got;
        if (st)
            break;
    }
    if (bad)
        *bad = done;
    return st;
}

gr_status gr_predict(const gr_model *m, gr_workspace *ws, const double *x, gr_prediction *out,
                     double *phi, double *used, gr_error *err)
{
    return gr_predict_batch(m, ws, 1, &x, NULL, out, phi ? &phi : NULL, used ? &used : NULL, NULL,
                            err);
}
