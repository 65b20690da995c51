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
    double *xf;         /* dosages as the trees compare them: (double)(float) */
    uint8_t *dir;       /* per forest node: does this row go left */
};

gr_workspace *gr_workspace_new(const gr_model *m)
{
    gr_workspace *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->m = m;
    ws->impute = m->impute;
    ws->xf = malloc((m->n_features ? m->n_features : 1) * sizeof *ws->xf);
    ws->dir = malloc(m->forest && m->forest->n_nodes ? m->forest->n_nodes : 1);
    if (!ws->xf || !ws->dir) {
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
    free(ws->dir);
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

gr_status gr_predict(const gr_model *m, gr_workspace *ws, const double *x, gr_prediction *out,
                     double *phi, double *used, gr_error *err)
{
    if (!m || !ws || ws->m != m || !x || !out)
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL,
                            "gr_predict needs a model, its own workspace, input and output");
    memset(out, 0, sizeof *out);
    const size_t n = m->n_features;
    out->n_expected = n;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (isnan(v)) {
            if (ws->fill)
                v = ws->fill[i];
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
            ws->xf[i] = isnan(v) ? v : (double)(float)v;
    }
    if (m->forest) {
        out->margin = m->info.base_margin + gr_forest_predict(m->forest, ws->xf);
        if (phi) {
            memset(phi, 0, n * sizeof *phi);
            gr_forest_shap(m->forest, ws->xf, ws->dir, phi);
            out->base_value = m->info.base_margin + m->forest->expected;
        }
    } else {
        out->margin = gr_linear_predict(m->linear, x, ws->impute, ws->fill, phi, &out->base_value);
    }
    out->score = m->link == GR_LINK_LOGISTIC ? 1.0 / (1.0 + exp(-out->margin)) : out->margin;
    return GR_OK;
}
