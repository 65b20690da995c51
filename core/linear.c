/* linear.c - linear and polygenic models: prediction and exact SHAP under
 * feature independence (phi_i = c_i(x_i) - E[c_i]). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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

/* A term's expectation under Hardy-Weinberg genotype frequencies at mean
 * dosage m (allele frequency m/2); for an additive term exactly w * m. */
static double expectation(const double *c, double m)
{
    double p = m / 2, r = 1 - p;
    return r * r * c[0] + 2 * p * r * c[1] + p * p * c[2];
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
        l->expected[i] = expectation(c, m);
        l->missing_term[i] = l->expected[i]; /* imputed: its expectation */
    }
}

static double contribution(const double *c, double d)
{
    return d <= 1 ? c[0] + d * (c[1] - c[0]) : c[1] + (d - 1) * (c[2] - c[1]);
}

double gr_linear_predict(const gr_linear *l, const double *x, gr_impute impute, const double *fill,
                         double *phi, double *base)
{
    double sum = l->intercept, b = l->intercept;
    for (size_t i = 0; i < l->n; i++) {
        const double *c = l->c + 3 * i;
        double term;
        if (isnan(x[i]) && fill) /* the caller's mean dosages: NaN adds nothing */
            term = isnan(fill[i]) ? 0 : expectation(c, fill[i]);
        else if (isnan(x[i]))
            term = impute != GR_IMPUTE_NONE ? l->missing_term[i] : 0;
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
